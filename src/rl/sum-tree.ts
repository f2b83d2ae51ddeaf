/**
 * Sum tree plus min tree over `capacity` leaf priorities (Schaul et al. 2016, appendix B.2.1):
 * O(log n) update, O(1) total and minimum, O(log n) prefix-sum search for proportional sampling.
 *
 * Layout: one implicit binary tree (node k has children 2k and 2k+1, leaves at [size, 2 size)) in
 * one Float64Array with node k's sum at [2k] and its minimum at [2k+1], so the sums and minima of
 * a node's two children share one 32-byte block: one cache miss per level for a search or an
 * update, where separate sum and min arrays cost two. Float64 so the sums of a million small
 * priorities stay exact enough.
 *
 * Batches (findMany, setMany) walk the tree level by level over all their queries: the queries of
 * one level are independent, so their cache misses overlap instead of queueing. On a tree far
 * larger than the caches (1,000,000 leaves: 32 MB) that is what sampling costs.
 */
export class SumTree {
  readonly capacity: number;
  /** Leaves are padded to a power of two. */
  private readonly size: number;
  /** log2(size): levels between the root and the leaves. */
  private readonly depth: number;
  /** [sum, min] of every node; node 0 is unused. */
  private readonly nodes: Float64Array;
  /** Remaining prefix per query of findMany. */
  private scratch = new Float64Array(0);
  /** One-element buffers for set() and find(). */
  private readonly one = { index: new Int32Array(1), value: new Float64Array(1) };

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`sum tree capacity must be a positive integer, got ${capacity}`);
    this.capacity = capacity;
    let size = 1;
    let depth = 0;
    while (size < capacity) {
      size *= 2;
      depth += 1;
    }
    this.size = size;
    this.depth = depth;
    this.nodes = new Float64Array(4 * size);
    this.clear();
  }

  /** Sets leaf `index` to `priority` (>= 0, finite) and updates both trees up to the root. */
  set(index: number, priority: number): void {
    this.one.index[0] = index;
    this.one.value[0] = priority;
    this.setMany(this.one.index, this.one.value);
  }

  /**
   * set() for a batch: every leaf first, then each level of parents from the finished level below
   * (a parent shared by several leaves is recomputed, still correct). All priorities and indices
   * are checked before anything changes.
   */
  setMany(indices: ArrayLike<number>, priorities: ArrayLike<number>): void {
    const n = indices.length;
    if (priorities.length !== n) throw new RangeError(`${n} indices but ${priorities.length} priorities`);
    for (let q = 0; q < n; q++) {
      const p = priorities[q] as number;
      const index = indices[q] as number;
      if (!(p >= 0) || !Number.isFinite(p)) throw new RangeError(`priority must be finite and >= 0, got ${p}`);
      if (!(Number.isInteger(index) && index >= 0 && index < this.capacity)) throw new RangeError(`leaf ${index} outside [0, ${this.capacity})`);
    }
    const { nodes, size } = this;
    for (let q = 0; q < n; q++) {
      const k = 2 * ((indices[q] as number) + size);
      nodes[k] = priorities[q] as number;
      nodes[k + 1] = priorities[q] as number;
    }
    for (let level = 1; level <= this.depth; level++) {
      for (let q = 0; q < n; q++) this.refresh(((indices[q] as number) + size) >> level);
    }
  }

  get(index: number): number {
    return this.nodes[2 * (index + this.size)] as number;
  }

  /** Sum of all priorities. */
  total(): number {
    return this.nodes[2] as number;
  }

  /** Smallest priority among the leaves that were set (Infinity when none). */
  min(): number {
    return this.nodes[3] as number;
  }

  /**
   * The leaf i with cumsum(p_0..p_{i-1}) <= prefix < cumsum(p_0..p_i), for prefix in [0, total).
   * Never returns a zero-priority leaf: float rounding near `total` cannot step into empty leaves.
   */
  find(prefix: number): number {
    this.one.value[0] = prefix;
    this.findMany(this.one.value, this.one.index);
    return this.one.index[0] as number;
  }

  /** find() for each of `prefixes`, written to `out`. */
  findMany(prefixes: ArrayLike<number>, out: Int32Array): void {
    const n = prefixes.length;
    if (out.length < n) throw new RangeError(`out holds ${out.length} indices, ${n} needed`);
    if (this.scratch.length < n) this.scratch = new Float64Array(n);
    const rest = this.scratch;
    const nodes = this.nodes;
    for (let q = 0; q < n; q++) {
      out[q] = 1;
      rest[q] = prefixes[q] as number;
    }
    for (let level = 0; level < this.depth; level++) {
      for (let q = 0; q < n; q++) {
        const left = 2 * (out[q] as number);
        const leftSum = nodes[2 * left] as number;
        if ((rest[q] as number) < leftSum || (nodes[2 * left + 2] as number) <= 0) {
          out[q] = left;
        } else {
          rest[q] = (rest[q] as number) - leftSum;
          out[q] = left + 1;
        }
      }
    }
    for (let q = 0; q < n; q++) out[q] = (out[q] as number) - this.size;
  }

  /** Leaf priorities [0, capacity), a copy. */
  leaves(): Float64Array {
    const out = new Float64Array(this.capacity);
    for (let i = 0; i < this.capacity; i++) out[i] = this.get(i);
    return out;
  }

  /** Rebuilds both trees from leaf priorities in O(n) (load, restore). */
  setLeaves(priorities: ArrayLike<number>, count: number): void {
    if (count > this.capacity) throw new RangeError(`${count} priorities for a tree of capacity ${this.capacity}`);
    for (let i = 0; i < count; i++) {
      const p = priorities[i] as number;
      if (!(p >= 0) || !Number.isFinite(p)) throw new RangeError(`priority ${i} is ${p}: must be finite and >= 0`);
    }
    this.clear();
    for (let i = 0; i < count; i++) {
      const k = 2 * (this.size + i);
      this.nodes[k] = priorities[i] as number;
      this.nodes[k + 1] = priorities[i] as number;
    }
    for (let k = this.size - 1; k >= 1; k--) this.refresh(k);
  }

  /** Bytes held by the tree. */
  byteLength(): number {
    return this.nodes.byteLength;
  }

  /** Node k's sum and minimum from its children's (sum = p_left + p_right, min likewise). */
  private refresh(k: number): void {
    const nodes = this.nodes;
    const c = 4 * k;
    nodes[2 * k] = (nodes[c] as number) + (nodes[c + 2] as number);
    nodes[2 * k + 1] = Math.min(nodes[c + 1] as number, nodes[c + 3] as number);
  }

  /** Every sum 0, every minimum Infinity (no leaf set). */
  private clear(): void {
    for (let k = 0; k < this.nodes.length; k += 2) {
      this.nodes[k] = 0;
      this.nodes[k + 1] = Infinity;
    }
  }
}
