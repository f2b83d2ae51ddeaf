/**
 * Sum tree plus min tree over `capacity` leaf priorities (Schaul et al. 2016, appendix B.2.1):
 * O(log n) update, O(1) total and minimum, O(log n) prefix-sum search for proportional sampling.
 *
 * Layout: a 16-ary tree stored level by level, a node's 16 children contiguous at [16 i, 16 i + 16)
 * of the level below: 16 float64 sums are 128 bytes, two adjacent cache lines. On a tree far
 * larger than the caches (1,000,000 leaves) a search costs its cache misses; 16-ary it has 5
 * levels where a binary tree has 20 (about 8 of them outside the caches), and a search reads
 * only sums. Minima are kept from level 1 up: a leaf's minimum is its own priority, read from the
 * same lines as the sums. An update recomputes every parent from its children (no running deltas
 * that drift), and its minima only as far up as they change.
 *
 * Batches (findMany, setMany) walk the tree level by level over all their queries: the queries of
 * one level are independent, so their cache misses overlap instead of queueing. The leaves are
 * float32 (16 children: one 64-byte cache line, and 4 MB instead of 8 for a million leaves, so a
 * search misses half as often at the largest level); the sums above them are float64, so the sums
 * of a million small priorities stay exact enough.
 */

/** Children per node. */
const FANOUT = 16;

export class SumTree {
  readonly capacity: number;
  /** sums[0] are the leaves (float32); sums[l + 1][i] = sum of sums[l][16 i .. 16 i + 15]; the last level is the root. */
  private readonly sums: (Float32Array | Float64Array)[];
  /** mins[l][i] for l >= 1: the smallest positive priority under node i of level l (Infinity if none); mins[0] is unused. */
  private readonly mins: Float64Array[];
  /** Remaining prefix per query of findMany. */
  private scratch = new Float64Array(0);
  /** Node index and "its minimum changed" per query of setMany. */
  private nodeScratch = new Int32Array(0);
  private changedScratch = new Uint8Array(0);
  /** One-element buffers for set() and find(). */
  private readonly one = { index: new Int32Array(1), value: new Float64Array(1) };

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError(`sum tree capacity must be a positive integer, got ${capacity}`);
    this.capacity = capacity;
    this.sums = [];
    this.mins = [];
    let nodes = capacity;
    for (;;) {
      // Padded to whole blocks of children, so that a scan never leaves the array.
      const length = Math.ceil(nodes / FANOUT) * FANOUT;
      this.sums.push(this.sums.length === 0 ? new Float32Array(length) : new Float64Array(length));
      this.mins.push(this.sums.length === 1 ? new Float64Array(0) : new Float64Array(length).fill(Infinity));
      if (nodes === 1) break;
      nodes = Math.ceil(nodes / FANOUT);
    }
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
      if (!(Number.isInteger(index) && index >= 0 && index < this.capacity))
        throw new RangeError(`leaf ${index} outside [0, ${this.capacity})`);
    }
    if (this.nodeScratch.length < n) {
      this.nodeScratch = new Int32Array(n);
      this.changedScratch = new Uint8Array(n);
    }
    const node = this.nodeScratch;
    const changed = this.changedScratch;
    const leaves = this.sums[0] as Float32Array;
    for (let q = 0; q < n; q++) {
      const i = indices[q] as number;
      leaves[i] = priorities[q] as number;
      node[q] = i;
      changed[q] = 1;
    }
    for (let level = 1; level < this.sums.length; level++) {
      const sums = this.sums[level] as Float64Array;
      const mins = this.mins[level] as Float64Array;
      const childSums = this.sums[level - 1] as Float32Array | Float64Array;
      const childMins = level === 1 ? null : (this.mins[level - 1] as Float64Array);
      // Stratified batches arrive sorted, so a shared parent is usually the previous query's.
      let lastSum = -1;
      let lastMin = -1;
      for (let q = 0; q < n; q++) {
        const parent = ((node[q] as number) / FANOUT) | 0;
        node[q] = parent;
        if (parent !== lastSum) {
          sums[parent] = childSum(childSums, parent);
          lastSum = parent;
        }
        // The minimum moves up only while it changes; a recomputation sees every final child.
        if (changed[q] === 1 && parent !== lastMin) {
          const m = childMins === null ? positiveMin(leaves, parent) : childMin(childMins, parent);
          changed[q] = m !== mins[parent] ? 1 : 0;
          mins[parent] = m;
          lastMin = parent;
        } else {
          changed[q] = 0;
        }
      }
    }
  }

  get(index: number): number {
    return (this.sums[0] as Float32Array)[index] as number;
  }

  /** Sum of all priorities. */
  total(): number {
    return (this.sums[this.sums.length - 1] as Float64Array)[0] as number;
  }

  /**
   * Smallest positive priority (Infinity when there is none). Zero-priority leaves (never set, or
   * set to 0) are left out: they are never sampled, so they have no importance weight to bound.
   */
  min(): number {
    if (this.sums.length === 1) {
      const p = (this.sums[0] as Float32Array)[0] as number;
      return p > 0 ? p : Infinity;
    }
    return (this.mins[this.mins.length - 1] as Float64Array)[0] as number;
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

  /**
   * find() for each of `prefixes`, written to `out`; with `leafPriorities`, also each found leaf's
   * priority (read on the way down, so the caller need not go back to the leaves for it).
   */
  findMany(prefixes: ArrayLike<number>, out: Int32Array, leafPriorities?: Float64Array): void {
    const n = prefixes.length;
    if (out.length < n) throw new RangeError(`out holds ${out.length} indices, ${n} needed`);
    if (leafPriorities && leafPriorities.length < n)
      throw new RangeError(`leafPriorities holds ${leafPriorities.length} values, ${n} needed`);
    if (this.scratch.length < n) this.scratch = new Float64Array(n);
    const rest = this.scratch;
    for (let q = 0; q < n; q++) {
      out[q] = 0;
      rest[q] = prefixes[q] as number;
    }
    for (let level = this.sums.length - 2; level >= 0; level--) {
      const children = this.sums[level] as Float32Array | Float64Array;
      // A pass without branches that reads the cache lines of every query's children first (two
      // lines of float64 sums; the float32 leaves' one line is read twice, harmlessly): the
      // scan below breaks at a data-dependent child, and a mispredicted break would throw away the
      // next query's loads, so without it the misses on the large lower levels queue one by one.
      let touched = 0;
      for (let q = 0; q < n; q++) {
        const base = (out[q] as number) * FANOUT;
        touched += (children[base] as number) + (children[base + FANOUT / 2] as number);
      }
      if (Number.isNaN(touched)) throw new RangeError('sum tree holds NaN');
      for (let q = 0; q < n; q++) {
        // Walk the children, subtracting their mass, to the one the prefix falls in. A prefix
        // past the end (rounding: the children's running sum need not equal the parent's) takes
        // the last child with mass, and keeps doing so below: zero-priority leaves are never chosen.
        const base = (out[q] as number) * FANOUT;
        let r = rest[q] as number;
        let chosen = -1;
        let lastWithMass = base;
        for (let j = base; j < base + FANOUT; j++) {
          const s = children[j] as number;
          if (s > 0) {
            if (r < s) {
              chosen = j;
              break;
            }
            r -= s;
            lastWithMass = j;
          }
        }
        if (chosen < 0) {
          chosen = lastWithMass;
          r = Infinity;
        }
        out[q] = chosen;
        rest[q] = r;
      }
    }
    if (leafPriorities) {
      const leaves = this.sums[0] as Float32Array;
      for (let q = 0; q < n; q++) leafPriorities[q] = leaves[out[q] as number] as number;
    }
  }

  /** Leaf priorities [0, capacity), a copy (float64, the checkpoint format). */
  leaves(): Float64Array {
    return Float64Array.from((this.sums[0] as Float32Array).subarray(0, this.capacity));
  }

  /** Rebuilds both trees from leaf priorities in O(n) (load, restore); leaves from `count` on are 0. */
  setLeaves(priorities: ArrayLike<number>, count: number): void {
    if (count > this.capacity) throw new RangeError(`${count} priorities for a tree of capacity ${this.capacity}`);
    for (let i = 0; i < count; i++) {
      const p = priorities[i] as number;
      if (!(p >= 0) || !Number.isFinite(p)) throw new RangeError(`priority ${i} is ${p}: must be finite and >= 0`);
    }
    const leaves = this.sums[0] as Float32Array;
    leaves.fill(0);
    for (let i = 0; i < count; i++) leaves[i] = priorities[i] as number;
    for (let level = 1; level < this.sums.length; level++) {
      const sums = this.sums[level] as Float64Array;
      const mins = this.mins[level] as Float64Array;
      const childSums = this.sums[level - 1] as Float32Array | Float64Array;
      const childMins = this.mins[level - 1] as Float64Array;
      sums.fill(0);
      mins.fill(Infinity);
      const nodes = childSums.length / FANOUT;
      for (let k = 0; k < nodes; k++) {
        sums[k] = childSum(childSums, k);
        mins[k] = level === 1 ? positiveMin(childSums as Float32Array, k) : childMin(childMins, k);
      }
    }
  }

  /** Bytes held by the tree. */
  byteLength(): number {
    return this.sums.reduce((n, a) => n + a.byteLength, 0) + this.mins.reduce((n, a) => n + a.byteLength, 0);
  }
}

/** sum_k = sum_j s_{16k + j}, in index order (so a rebuilt tree equals an updated one bit for bit). */
function childSum(children: Float32Array | Float64Array, k: number): number {
  const base = k * FANOUT;
  let s = 0;
  for (let j = base; j < base + FANOUT; j++) s += children[j] as number;
  return s;
}

/** min_k = min_j m_{16k + j}. */
function childMin(children: Float64Array, k: number): number {
  const base = k * FANOUT;
  let m = Infinity;
  for (let j = base; j < base + FANOUT; j++) {
    const c = children[j] as number;
    if (c < m) m = c;
  }
  return m;
}

/** The smallest positive leaf priority under level-1 node k (Infinity if none). */
function positiveMin(leaves: Float32Array, k: number): number {
  const base = k * FANOUT;
  let m = Infinity;
  for (let j = base; j < base + FANOUT; j++) {
    const c = leaves[j] as number;
    if (c > 0 && c < m) m = c;
  }
  return m;
}
