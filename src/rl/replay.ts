import type { Rng } from '../core/rng.js';
import type { ReplayConfig } from './config.js';
import { readReplayFiles, writeReplayFiles, type ReplayFileContents } from './replay-checkpoint.js';
import { SumTree } from './sum-tree.js';

/**
 * Experience replay: a ring of transitions in typed arrays, sampled uniformly or by proportional
 * prioritization (Schaul et al. 2016). Transitions arrive already n-step accumulated, each with its
 * own bootstrap discount d = gamma^m (1 - terminated).
 *
 * Pixel states: the first `imageSize` components of a state are image values in [0, 1], kept as
 * bytes (round(v * 255)), 4x less memory than float32; the rest are float32.
 *
 * Storage: one float32 row per transition, [vector | next vector | action | reward | discount],
 * so a sampled transition is one contiguous run of memory (a 34-dim state: 288 bytes, 5 cache
 * lines, mostly one page) instead of pieces of five arrays: sampling from a buffer far larger than
 * the caches costs its cache and TLB misses. Checkpoint files (replay-checkpoint.ts) stay one file
 * per field.
 */

export interface StoredTransition {
  readonly state: Float32Array;
  readonly action: Float32Array;
  /** The (n-step) return. */
  readonly reward: number;
  readonly nextState: Float32Array;
  /** gamma^m (1 - terminated): the weight of the bootstrap value. */
  readonly discount: number;
}

/** A sampled minibatch in flat row-major arrays (reused between calls of the same size). */
export interface SampledBatch {
  readonly size: number;
  readonly indices: Int32Array;
  readonly states: Float32Array;
  readonly actions: Float32Array;
  readonly rewards: Float32Array;
  readonly discounts: Float32Array;
  readonly nextStates: Float32Array;
  /** Importance-sampling weights, normalised by the largest possible weight (1 for uniform). */
  readonly weights: Float32Array;
}

export interface ReplayLayout {
  readonly stateSize: number;
  readonly actionSize: number;
  /** Leading state components stored as bytes (0: none). */
  readonly imageSize: number;
}

/** What `mark` remembers so `restoreMark` can undo every add and priority change since. */
export interface ReplayMark {
  readonly next: number;
  readonly size: number;
  readonly added: number;
  readonly maxPriority: number;
  readonly samples: number;
  readonly leaves: Float64Array | null;
  /** Slots overwritten since the mark, saved on their first overwrite. */
  readonly saved: Map<number, SavedSlot>;
}

interface SavedSlot {
  readonly image: Uint8Array;
  readonly nextImage: Uint8Array;
  /** The slot's float row. */
  readonly row: Float32Array;
}

/** A checked replay checkpoint (replay-checkpoint.ts), ready for commitLoad. */
export interface PreparedReplayLoad extends ReplayFileContents {
  readonly owner: ReplayBuffer;
}

/** 64-byte cache lines hold 16 float32 values. */
const FLOATS_PER_CACHE_LINE = 16;

export class ReplayBuffer {
  readonly capacity: number;
  readonly layout: ReplayLayout;
  private readonly vectorSize: number;
  private readonly images: Uint8Array;
  private readonly nextImages: Uint8Array;
  /** capacity rows of rowSize floats: vector at 0, next vector at vs, action at 2 vs, reward, discount. */
  private readonly rows: Float32Array;
  private readonly rowSize: number;
  private readonly actionAt: number;
  private readonly rewardAt: number;
  private readonly discountAt: number;
  private readonly tree: SumTree | null;
  private next = 0;
  private count = 0;
  /** Transitions ever added. */
  private added = 0;
  /** Largest p^alpha so far: new transitions enter with it, so each is sampled at least once (likely). */
  private maxPriority = 1;
  /** Minibatches drawn (drives the beta schedule). */
  private samples = 0;
  private batch: SampledBatch | null = null;
  private scratch = new Float64Array(0);
  private journal: ReplayMark | null = null;

  constructor(
    readonly config: ReplayConfig,
    layout: ReplayLayout,
  ) {
    const { stateSize, actionSize, imageSize } = layout;
    if (imageSize > stateSize) throw new RangeError(`imageSize ${imageSize} exceeds stateSize ${stateSize}`);
    this.layout = { ...layout };
    this.capacity = config.capacity;
    this.vectorSize = stateSize - imageSize;
    const n = this.capacity;
    this.images = new Uint8Array(n * imageSize);
    this.nextImages = new Uint8Array(n * imageSize);
    this.actionAt = 2 * this.vectorSize;
    this.rewardAt = this.actionAt + actionSize;
    this.discountAt = this.rewardAt + 1;
    this.rowSize = this.discountAt + 1;
    this.rows = new Float32Array(n * this.rowSize);
    this.tree = config.kind === 'prioritized' ? new SumTree(n) : null;
  }

  get size(): number {
    return this.count;
  }

  /** Current importance-sampling exponent: beta0 annealed linearly to 1 over betaAnnealUpdates. */
  beta(): number {
    const { beta0, betaAnnealUpdates } = this.config;
    return Math.min(1, beta0 + ((1 - beta0) * this.samples) / betaAnnealUpdates);
  }

  /** Stores a transition (overwriting the oldest when full) at the maximal priority. */
  add(t: StoredTransition): number {
    const { stateSize, actionSize, imageSize } = this.layout;
    if (t.state.length !== stateSize || t.nextState.length !== stateSize || t.action.length !== actionSize) {
      throw new RangeError(
        `transition sizes (state ${t.state.length}, action ${t.action.length}) do not match the replay (${stateSize}, ${actionSize})`,
      );
    }
    const i = this.next;
    if (this.journal && i < this.count && !this.journal.saved.has(i)) this.journal.saved.set(i, this.readSlot(i));
    const vs = this.vectorSize;
    for (let k = 0; k < imageSize; k++) {
      this.images[i * imageSize + k] = Math.round((t.state[k] as number) * 255);
      this.nextImages[i * imageSize + k] = Math.round((t.nextState[k] as number) * 255);
    }
    const row = i * this.rowSize;
    this.rows.set(t.state.subarray(imageSize), row);
    this.rows.set(t.nextState.subarray(imageSize), row + vs);
    this.rows.set(t.action, row + this.actionAt);
    this.rows[row + this.rewardAt] = t.reward;
    this.rows[row + this.discountAt] = t.discount;
    this.tree?.set(i, this.maxPriority);
    this.next = (i + 1) % this.capacity;
    this.count = Math.min(this.count + 1, this.capacity);
    this.added += 1;
    return i;
  }

  /**
   * Draws `batchSize` transitions (with replacement). Prioritized: stratified, one draw from each of
   * `batchSize` equal slices of the priority mass; weights w_i = (N P(i))^-beta / max_j w_j.
   */
  sample(batchSize: number, rng: Rng): SampledBatch {
    if (this.count === 0) throw new RangeError('cannot sample from an empty replay buffer');
    const batch = this.batchBuffers(batchSize);
    const idx = batch.indices;
    if (this.tree) {
      const segment = this.tree.total() / batchSize;
      const prefixes = this.scratchFor(batchSize);
      for (let k = 0; k < batchSize; k++) prefixes[k] = (k + rng.uniform()) * segment;
      // The prefixes become the found leaves' priorities in place.
      this.tree.findMany(prefixes.subarray(0, batchSize), idx, prefixes);
      for (let k = 0; k < batchSize; k++) idx[k] = Math.min(idx[k] as number, this.count - 1);
      // max_j w_j belongs to the smallest priority: w_i / w_max = (p_i / p_min)^-beta, written
      // exp(-beta (ln p_i - ln p_min)): half the cost of Math.pow, and exactly 1 at p_min.
      const beta = this.beta();
      const logPMin = Math.log(this.tree.min());
      for (let k = 0; k < batchSize; k++)
        batch.weights[k] = Math.exp(-beta * (Math.log(prefixes[k] as number) - logPMin));
    } else {
      for (let k = 0; k < batchSize; k++) idx[k] = rng.int(this.count);
    }
    this.samples += 1;
    this.gather(batch);
    return batch;
  }

  /** p_i = (|delta_i| + eps)^alpha for the sampled indices (PER, section 3.3). Refuses non-finite errors before changing anything. */
  updatePriorities(indices: ArrayLike<number>, tdErrors: ArrayLike<number>): void {
    if (!this.tree) return;
    const { alpha, epsilon } = this.config;
    const priorities = this.scratchFor(indices.length);
    let max = this.maxPriority;
    for (let k = 0; k < indices.length; k++) {
      const delta = tdErrors[k] as number;
      if (!Number.isFinite(delta)) throw new RangeError(`TD error ${k} is ${delta}: priorities must be finite`);
      const p = Math.exp(alpha * Math.log(Math.abs(delta) + epsilon)); // (|delta| + eps)^alpha
      priorities[k] = p;
      if (p > max) max = p;
    }
    this.tree.setMany(indices, priorities.subarray(0, indices.length));
    this.maxPriority = max;
  }

  priority(index: number): number {
    return this.tree ? this.tree.get(index) : 1;
  }

  /** A uniformly drawn batch of states only (parameter-noise adaptation). */
  sampleStates(n: number, rng: Rng): Float32Array {
    const { stateSize } = this.layout;
    if (this.count === 0) return new Float32Array(0);
    const out = new Float32Array(n * stateSize);
    for (let k = 0; k < n; k++) this.readState(rng.int(this.count), out, k * stateSize, false);
    return out;
  }

  // ---- undo support ----

  /** Remembers the current contents; `restoreMark` returns to them. Only the latest mark is live. */
  mark(): ReplayMark {
    this.journal = {
      next: this.next,
      size: this.count,
      added: this.added,
      maxPriority: this.maxPriority,
      samples: this.samples,
      leaves: this.tree ? this.tree.leaves() : null,
      saved: new Map(),
    };
    return this.journal;
  }

  restoreMark(mark: ReplayMark): void {
    if (mark !== this.journal)
      throw new RangeError('this replay snapshot is no longer current: only the most recent snapshot can be restored');
    const { imageSize } = this.layout;
    for (const [i, slot] of mark.saved) {
      this.images.set(slot.image, i * imageSize);
      this.nextImages.set(slot.nextImage, i * imageSize);
      this.rows.set(slot.row, i * this.rowSize);
    }
    mark.saved.clear();
    this.next = mark.next;
    this.count = mark.size;
    this.added = mark.added;
    this.maxPriority = mark.maxPriority;
    this.samples = mark.samples;
    if (this.tree && mark.leaves) this.tree.setLeaves(mark.leaves, mark.size);
  }

  // ---- persistence (the files: replay-checkpoint.ts) ----

  async save(dir: string, name = 'replay'): Promise<void> {
    const n = this.count;
    const { stateSize, actionSize, imageSize } = this.layout;
    const vs = this.vectorSize;
    const tree = this.tree;
    await writeReplayFiles(
      dir,
      name,
      {
        kind: this.config.kind,
        capacity: this.capacity,
        stateSize,
        actionSize,
        imageSize,
        size: n,
        next: this.next,
        added: this.added,
        maxPriority: this.maxPriority,
        samples: this.samples,
      },
      {
        images: () => this.images.subarray(0, n * imageSize),
        nextImages: () => this.nextImages.subarray(0, n * imageSize),
        vectors: () => this.column(n, 0, vs),
        nextVectors: () => this.column(n, vs, vs),
        actions: () => this.column(n, this.actionAt, actionSize),
        rewards: () => this.column(n, this.rewardAt, 1),
        discounts: () => this.column(n, this.discountAt, 1),
        priorities: () => (tree ? tree.leaves().subarray(0, n) : null),
      },
    );
  }

  /**
   * Loads what save() wrote, all or nothing: prepareLoad reads and checks every file into
   * temporaries, then commitLoad copies them in. A refused checkpoint leaves the buffer as it was.
   */
  async load(dir: string, name = 'replay'): Promise<void> {
    this.commitLoad(await this.prepareLoad(dir, name));
  }

  /** Reads and checks a checkpoint against this buffer (readReplayFiles) without changing it. */
  async prepareLoad(dir: string, name = 'replay'): Promise<PreparedReplayLoad> {
    const contents = await readReplayFiles(dir, name, {
      kind: this.config.kind,
      capacity: this.capacity,
      ...this.layout,
    });
    return { owner: this, ...contents };
  }

  /** Replaces the contents by a prepareLoad result (checked there: nothing here throws on data). */
  commitLoad(prepared: PreparedReplayLoad): void {
    if (prepared.owner !== this) throw new RangeError('this replay load was prepared for another buffer');
    const { meta } = prepared;
    const n = meta.size;
    const { actionSize } = this.layout;
    const vs = this.vectorSize;
    this.images.set(prepared.images);
    this.nextImages.set(prepared.nextImages);
    this.setColumn(prepared.vectors, n, 0, vs);
    this.setColumn(prepared.nextVectors, n, vs, vs);
    this.setColumn(prepared.actions, n, this.actionAt, actionSize);
    this.setColumn(prepared.rewards, n, this.rewardAt, 1);
    this.setColumn(prepared.discounts, n, this.discountAt, 1);
    if (this.tree) this.tree.setLeaves(prepared.priorities ?? new Float64Array(0), n);
    this.count = n;
    this.next = meta.next;
    this.added = meta.added;
    this.maxPriority = meta.maxPriority;
    this.samples = meta.samples;
    this.journal = null;
  }

  /** Bytes held by the storage arrays and trees. */
  byteLength(): number {
    return this.images.byteLength + this.nextImages.byteLength + this.rows.byteLength + (this.tree?.byteLength() ?? 0);
  }

  // ---- internals ----

  /** A reused Float64Array of at least `n` values (prefix sums, priorities). */
  private scratchFor(n: number): Float64Array {
    if (this.scratch.length < n) this.scratch = new Float64Array(n);
    return this.scratch;
  }

  private batchBuffers(batchSize: number): SampledBatch {
    if (this.batch && this.batch.size === batchSize) return this.batch;
    const { stateSize, actionSize } = this.layout;
    this.batch = {
      size: batchSize,
      indices: new Int32Array(batchSize),
      states: new Float32Array(batchSize * stateSize),
      actions: new Float32Array(batchSize * actionSize),
      rewards: new Float32Array(batchSize),
      discounts: new Float32Array(batchSize),
      nextStates: new Float32Array(batchSize * stateSize),
      weights: new Float32Array(batchSize).fill(1),
    };
    return this.batch;
  }

  /**
   * Copies the sampled rows into the batch. On a buffer far larger than the caches the cost is the
   * cache misses of 64 random rows: touchRows first makes them overlap, then plain loops copy
   * (no subarray objects).
   */
  private gather(batch: SampledBatch): void {
    const { stateSize, actionSize } = this.layout;
    const { indices, states, nextStates, actions, rewards, discounts } = batch;
    // The sum doubles as a cheap check: add() stores what it is given (Learner.observe refuses non-finite values).
    if (Number.isNaN(this.touchRows(indices, batch.size))) throw new RangeError('a sampled transition holds NaN');
    const rows = this.rows;
    const { rowSize, vectorSize, actionAt, rewardAt, discountAt } = this;
    const pixels = this.layout.imageSize > 0;
    for (let k = 0; k < batch.size; k++) {
      const i = indices[k] as number;
      const row = i * rowSize;
      if (pixels) {
        this.readState(i, states, k * stateSize, false);
        this.readState(i, nextStates, k * stateSize, true);
      } else {
        // Vector states (the common case) in one pass over the row: state, next state, action.
        const out = k * stateSize;
        for (let c = 0; c < vectorSize; c++) {
          states[out + c] = rows[row + c] as number;
          nextStates[out + c] = rows[row + vectorSize + c] as number;
        }
      }
      for (let c = 0; c < actionSize; c++) actions[k * actionSize + c] = rows[row + actionAt + c] as number;
      rewards[k] = rows[row + rewardAt] as number;
      discounts[k] = rows[row + discountAt] as number;
    }
  }

  /**
   * Reads one value of every cache line the rows occupy, in a pass of its own: the loads are
   * independent, so their cache misses overlap, and the copy that follows hits the cache.
   * Returns the sum of the values read (which also keeps the reads from being optimised away).
   */
  private touchRows(indices: Int32Array, n: number): number {
    const rows = this.rows;
    const size = this.rowSize;
    let sum = 0;
    for (let k = 0; k < n; k++) {
      const base = (indices[k] as number) * size;
      for (let c = 0; c < size; c += FLOATS_PER_CACHE_LINE) sum += rows[base + c] as number;
      sum += rows[base + size - 1] as number;
    }
    return sum;
  }

  /** Writes state (or next state) `i` into out[offset, offset + stateSize), images back in [0, 1]. */
  private readState(i: number, out: Float32Array, offset: number, next: boolean): void {
    const { imageSize } = this.layout;
    const vs = this.vectorSize;
    const images = next ? this.nextImages : this.images;
    const imageBase = i * imageSize;
    for (let c = 0; c < imageSize; c++) out[offset + c] = (images[imageBase + c] as number) / 255;
    const rows = this.rows;
    const vectorBase = i * this.rowSize + (next ? vs : 0);
    const vectorOut = offset + imageSize;
    for (let c = 0; c < vs; c++) out[vectorOut + c] = rows[vectorBase + c] as number;
  }

  /** Field [at, at + width) of the first n rows, as a dense array (save). */
  private column(n: number, at: number, width: number): Float32Array {
    const out = new Float32Array(n * width);
    const rows = this.rows;
    for (let i = 0; i < n; i++) {
      const row = i * this.rowSize + at;
      for (let c = 0; c < width; c++) out[i * width + c] = rows[row + c] as number;
    }
    return out;
  }

  /** The inverse of column (load). */
  private setColumn(values: Float32Array, n: number, at: number, width: number): void {
    const rows = this.rows;
    for (let i = 0; i < n; i++) {
      const row = i * this.rowSize + at;
      for (let c = 0; c < width; c++) rows[row + c] = values[i * width + c] as number;
    }
  }

  private readSlot(i: number): SavedSlot {
    const { imageSize } = this.layout;
    return {
      image: this.images.slice(i * imageSize, (i + 1) * imageSize),
      nextImage: this.nextImages.slice(i * imageSize, (i + 1) * imageSize),
      row: this.rows.slice(i * this.rowSize, (i + 1) * this.rowSize),
    };
  }
}
