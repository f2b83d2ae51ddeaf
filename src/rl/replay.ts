import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { UserError } from '../core/errors.js';
import { readJson, writeFileSafely, writeJsonSafely } from '../core/files.js';
import type { Rng } from '../core/rng.js';
import type { ReplayConfig } from './config.js';
import { SumTree } from './sum-tree.js';

/**
 * Experience replay: a ring of transitions in typed arrays, sampled uniformly or by proportional
 * prioritization (Schaul et al. 2016). Transitions arrive already n-step accumulated, each with its
 * own bootstrap discount d = gamma^m (1 - terminated).
 *
 * Pixel states: the first `imageSize` components of a state are image values in [0, 1], kept as
 * bytes (round(v * 255)), 4x less memory than float32; the rest are float32.
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
  readonly vector: Float32Array;
  readonly nextVector: Float32Array;
  readonly action: Float32Array;
  readonly reward: number;
  readonly discount: number;
}

const FORMAT = 'daydrive-replay-v1';
/** 64-byte cache lines hold 16 float32 values. */
const FLOATS_PER_CACHE_LINE = 16;

export class ReplayBuffer {
  readonly capacity: number;
  readonly layout: ReplayLayout;
  private readonly vectorSize: number;
  private readonly images: Uint8Array;
  private readonly nextImages: Uint8Array;
  private readonly vectors: Float32Array;
  private readonly nextVectors: Float32Array;
  private readonly actions: Float32Array;
  private readonly rewards: Float32Array;
  private readonly discounts: Float32Array;
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
    this.vectors = new Float32Array(n * this.vectorSize);
    this.nextVectors = new Float32Array(n * this.vectorSize);
    this.actions = new Float32Array(n * actionSize);
    this.rewards = new Float32Array(n);
    this.discounts = new Float32Array(n);
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
      throw new RangeError(`transition sizes (state ${t.state.length}, action ${t.action.length}) do not match the replay (${stateSize}, ${actionSize})`);
    }
    const i = this.next;
    if (this.journal && i < this.count && !this.journal.saved.has(i)) this.journal.saved.set(i, this.readSlot(i));
    const vs = this.vectorSize;
    for (let k = 0; k < imageSize; k++) {
      this.images[i * imageSize + k] = Math.round((t.state[k] as number) * 255);
      this.nextImages[i * imageSize + k] = Math.round((t.nextState[k] as number) * 255);
    }
    this.vectors.set(t.state.subarray(imageSize), i * vs);
    this.nextVectors.set(t.nextState.subarray(imageSize), i * vs);
    this.actions.set(t.action, i * actionSize);
    this.rewards[i] = t.reward;
    this.discounts[i] = t.discount;
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
      this.tree.findMany(prefixes.subarray(0, batchSize), idx);
      for (let k = 0; k < batchSize; k++) idx[k] = Math.min(idx[k] as number, this.count - 1);
      // max_j w_j belongs to the smallest priority: w_i / w_max = (p_i / p_min)^-beta.
      const beta = this.beta();
      const pMin = this.tree.min();
      for (let k = 0; k < batchSize; k++) batch.weights[k] = Math.pow(this.tree.get(idx[k] as number) / pMin, -beta);
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
      const p = Math.pow(Math.abs(delta) + epsilon, alpha);
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
    if (mark !== this.journal) throw new RangeError('this replay snapshot is no longer current: only the most recent snapshot can be restored');
    const { actionSize, imageSize } = this.layout;
    const vs = this.vectorSize;
    for (const [i, slot] of mark.saved) {
      this.images.set(slot.image, i * imageSize);
      this.nextImages.set(slot.nextImage, i * imageSize);
      this.vectors.set(slot.vector, i * vs);
      this.nextVectors.set(slot.nextVector, i * vs);
      this.actions.set(slot.action, i * actionSize);
      this.rewards[i] = slot.reward;
      this.discounts[i] = slot.discount;
    }
    mark.saved.clear();
    this.next = mark.next;
    this.count = mark.size;
    this.added = mark.added;
    this.maxPriority = mark.maxPriority;
    this.samples = mark.samples;
    if (this.tree && mark.leaves) this.tree.setLeaves(mark.leaves, mark.size);
  }

  // ---- persistence ----

  async save(dir: string, name = 'replay'): Promise<void> {
    const n = this.count;
    const { stateSize, actionSize, imageSize } = this.layout;
    const vs = this.vectorSize;
    const files: Record<string, ArrayBufferView> = {
      images: this.images.subarray(0, n * imageSize),
      nextImages: this.nextImages.subarray(0, n * imageSize),
      vectors: this.vectors.subarray(0, n * vs),
      nextVectors: this.nextVectors.subarray(0, n * vs),
      actions: this.actions.subarray(0, n * actionSize),
      rewards: this.rewards.subarray(0, n),
      discounts: this.discounts.subarray(0, n),
      ...(this.tree ? { priorities: this.tree.leaves().subarray(0, n) } : {}),
    };
    for (const [field, data] of Object.entries(files)) {
      await writeFileSafely(join(dir, `${name}-${field}.bin`), new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    }
    await writeJsonSafely(join(dir, `${name}.json`), {
      format: FORMAT,
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
    });
  }

  async load(dir: string, name = 'replay'): Promise<void> {
    const metaPath = join(dir, `${name}.json`);
    const meta = (await readJson(metaPath)) as Record<string, unknown>;
    const { stateSize, actionSize, imageSize } = this.layout;
    if (meta.format !== FORMAT) throw new UserError(`${metaPath}: not a daydrive replay file (format ${String(meta.format)})`);
    for (const [key, want] of [['stateSize', stateSize], ['actionSize', actionSize], ['imageSize', imageSize], ['capacity', this.capacity]] as const) {
      if (meta[key] !== want) throw new UserError(`${metaPath}: ${key} is ${String(meta[key])}, this learner needs ${want}`);
    }
    if (meta.kind !== this.config.kind) throw new UserError(`${metaPath}: a ${String(meta.kind)} replay cannot be loaded into a ${this.config.kind} one`);
    const n = Number(meta.size);
    const vs = this.vectorSize;
    const read = async <T extends Uint8Array | Float32Array | Float64Array>(field: string, into: T, count: number): Promise<void> => {
      const path = join(dir, `${name}-${field}.bin`);
      let buf: Buffer;
      try {
        buf = await readFile(path);
      } catch (err) {
        throw new UserError(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
      }
      const bytes = count * into.BYTES_PER_ELEMENT;
      if (buf.byteLength !== bytes) throw new UserError(`${path} holds ${buf.byteLength} bytes, expected ${bytes}: truncated or corrupt`);
      new Uint8Array(into.buffer, into.byteOffset, bytes).set(buf);
    };
    await read('images', this.images, n * imageSize);
    await read('nextImages', this.nextImages, n * imageSize);
    await read('vectors', this.vectors, n * vs);
    await read('nextVectors', this.nextVectors, n * vs);
    await read('actions', this.actions, n * actionSize);
    await read('rewards', this.rewards, n);
    await read('discounts', this.discounts, n);
    if (this.tree) {
      const leaves = new Float64Array(n);
      await read('priorities', leaves, n);
      this.tree.setLeaves(leaves, n);
    }
    this.count = n;
    this.next = Number(meta.next);
    this.added = Number(meta.added);
    this.maxPriority = Number(meta.maxPriority);
    this.samples = Number(meta.samples);
    this.journal = null;
  }

  /** Bytes held by the storage arrays and trees. */
  byteLength(): number {
    return (
      this.images.byteLength +
      this.nextImages.byteLength +
      this.vectors.byteLength +
      this.nextVectors.byteLength +
      this.actions.byteLength +
      this.rewards.byteLength +
      this.discounts.byteLength +
      (this.tree?.byteLength() ?? 0)
    );
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
   * (no subarray objects). On 1,000,000 transitions this gathers a batch about 3x faster than
   * TypedArray.set per row did.
   */
  private gather(batch: SampledBatch): void {
    const { stateSize, actionSize } = this.layout;
    const { indices, states, nextStates, actions, rewards, discounts } = batch;
    // The sum doubles as a cheap check: add() stores what it is given (Learner.observe refuses non-finite values).
    if (Number.isNaN(this.touchRows(indices, batch.size))) throw new RangeError('a sampled transition holds NaN');
    for (let k = 0; k < batch.size; k++) {
      const i = indices[k] as number;
      this.readState(i, states, k * stateSize, false);
      this.readState(i, nextStates, k * stateSize, true);
      for (let c = 0; c < actionSize; c++) actions[k * actionSize + c] = this.actions[i * actionSize + c] as number;
      rewards[k] = this.rewards[i] as number;
      discounts[k] = this.discounts[i] as number;
    }
  }

  /**
   * Reads one value of every cache line the rows occupy, in a pass of its own: the loads are
   * independent, so their cache misses overlap, and the copy that follows hits the cache.
   * Returns the sum of the values read (which also keeps the reads from being optimised away).
   */
  private touchRows(indices: Int32Array, n: number): number {
    const vs = this.vectorSize;
    const as = this.layout.actionSize;
    let sum = 0;
    for (let k = 0; k < n; k++) {
      const i = indices[k] as number;
      const base = i * vs;
      for (let c = 0; c < vs; c += FLOATS_PER_CACHE_LINE) sum += (this.vectors[base + c] as number) + (this.nextVectors[base + c] as number);
      if (vs > 0) sum += (this.vectors[base + vs - 1] as number) + (this.nextVectors[base + vs - 1] as number);
      sum += (this.actions[i * as] as number) + (this.rewards[i] as number) + (this.discounts[i] as number);
    }
    return sum;
  }

  /** Writes state (or next state) `i` into out[offset, offset + stateSize), images back in [0, 1]. */
  private readState(i: number, out: Float32Array, offset: number, next: boolean): void {
    const { imageSize } = this.layout;
    const vs = this.vectorSize;
    const images = next ? this.nextImages : this.images;
    const vectors = next ? this.nextVectors : this.vectors;
    const imageBase = i * imageSize;
    for (let c = 0; c < imageSize; c++) out[offset + c] = (images[imageBase + c] as number) / 255;
    const vectorBase = i * vs;
    const vectorOut = offset + imageSize;
    for (let c = 0; c < vs; c++) out[vectorOut + c] = vectors[vectorBase + c] as number;
  }

  private readSlot(i: number): SavedSlot {
    const { actionSize, imageSize } = this.layout;
    const vs = this.vectorSize;
    return {
      image: this.images.slice(i * imageSize, (i + 1) * imageSize),
      nextImage: this.nextImages.slice(i * imageSize, (i + 1) * imageSize),
      vector: this.vectors.slice(i * vs, (i + 1) * vs),
      nextVector: this.nextVectors.slice(i * vs, (i + 1) * vs),
      action: this.actions.slice(i * actionSize, (i + 1) * actionSize),
      reward: this.rewards[i] as number,
      discount: this.discounts[i] as number,
    };
  }
}
