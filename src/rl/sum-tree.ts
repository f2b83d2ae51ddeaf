/**
 * Sum tree plus min tree over `capacity` leaf priorities (Schaul et al. 2016, appendix B.2.1):
 * O(log n) update, O(1) total and minimum, O(log n) prefix-sum search for proportional sampling.
 * Stored as implicit binary trees in Float64Arrays (node k has children 2k and 2k+1, leaves at
 * [size, 2 size)); float64 so the sums of a million small priorities stay exact enough.
 */
export class SumTree {
  readonly capacity: number;
  /** Leaves are padded to a power of two. */
  private readonly size: number;
  private readonly sums: Float64Array;
  private readonly mins: Float64Array;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`sum tree capacity must be a positive integer, got ${capacity}`);
    this.capacity = capacity;
    let size = 1;
    while (size < capacity) size *= 2;
    this.size = size;
    this.sums = new Float64Array(2 * size);
    this.mins = new Float64Array(2 * size).fill(Infinity);
  }

  /** Sets leaf `index` to `priority` (>= 0, finite) and updates both trees up to the root. */
  set(index: number, priority: number): void {
    if (!(priority >= 0) || !Number.isFinite(priority)) throw new RangeError(`priority must be finite and >= 0, got ${priority}`);
    if (index < 0 || index >= this.capacity) throw new RangeError(`leaf ${index} outside [0, ${this.capacity})`);
    let k = index + this.size;
    this.sums[k] = priority;
    this.mins[k] = priority;
    k >>= 1;
    while (k >= 1) {
      const l = 2 * k;
      this.sums[k] = (this.sums[l] as number) + (this.sums[l + 1] as number);
      this.mins[k] = Math.min(this.mins[l] as number, this.mins[l + 1] as number);
      k >>= 1;
    }
  }

  get(index: number): number {
    return this.sums[index + this.size] as number;
  }

  /** Sum of all priorities. */
  total(): number {
    return this.sums[1] as number;
  }

  /** Smallest priority among the leaves that were set (Infinity when none). */
  min(): number {
    return this.mins[1] as number;
  }

  /**
   * The leaf i with cumsum(p_0..p_{i-1}) <= prefix < cumsum(p_0..p_i), for prefix in [0, total).
   * Never returns a zero-priority leaf: float rounding near `total` cannot step into empty leaves.
   */
  find(prefix: number): number {
    let k = 1;
    let rest = prefix;
    while (k < this.size) {
      const left = 2 * k;
      const leftSum = this.sums[left] as number;
      if (rest < leftSum || (this.sums[left + 1] as number) <= 0) {
        k = left;
      } else {
        rest -= leftSum;
        k = left + 1;
      }
    }
    return k - this.size;
  }

  /** Leaf priorities [0, capacity), a copy. */
  leaves(): Float64Array {
    return this.sums.slice(this.size, this.size + this.capacity);
  }

  /** Rebuilds both trees from leaf priorities in O(n) (load, restore). */
  setLeaves(priorities: ArrayLike<number>, count: number): void {
    if (count > this.capacity) throw new RangeError(`${count} priorities for a tree of capacity ${this.capacity}`);
    this.sums.fill(0);
    this.mins.fill(Infinity);
    for (let i = 0; i < count; i++) {
      const p = priorities[i] as number;
      if (!(p >= 0) || !Number.isFinite(p)) throw new RangeError(`priority ${i} is ${p}: must be finite and >= 0`);
      this.sums[this.size + i] = p;
      this.mins[this.size + i] = p;
    }
    for (let k = this.size - 1; k >= 1; k--) {
      this.sums[k] = (this.sums[2 * k] as number) + (this.sums[2 * k + 1] as number);
      this.mins[k] = Math.min(this.mins[2 * k] as number, this.mins[2 * k + 1] as number);
    }
  }

  /** Bytes held by the two trees. */
  byteLength(): number {
    return this.sums.byteLength + this.mins.byteLength;
  }
}
