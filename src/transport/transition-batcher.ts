import type { Transition } from '../rl/types.js';
import type { TransitionBatch } from './codec.js';

/**
 * Collects one actor's transitions into column arrays and hands out full batches (or the partial
 * one at an episode's end). Each batch gets fresh arrays, since the sent frames point at them.
 */
export class TransitionBatcher {
  private batch: {
    states: Float32Array;
    actions: Float32Array;
    rewards: Float64Array;
    nextStates: Float32Array;
    terminated: Uint8Array;
  } | null = null;
  private count = 0;
  private seq = 0;

  constructor(
    readonly actorId: number,
    readonly stateSize: number,
    readonly actionSize: number,
    /** Transitions per message. */
    readonly batchSize: number,
  ) {
    if (!Number.isInteger(batchSize) || batchSize < 1)
      throw new RangeError(`transition batch size must be a positive integer, got ${batchSize}`);
  }

  get pending(): number {
    return this.count;
  }

  /** Adds a transition; returns the batch when it is full. */
  add(t: Transition): TransitionBatch | null {
    if (t.state.length !== this.stateSize || t.nextState.length !== this.stateSize)
      throw new RangeError(`state has ${t.state.length} components, the link carries ${this.stateSize}`);
    if (t.action.length !== this.actionSize)
      throw new RangeError(`action has ${t.action.length} components, the link carries ${this.actionSize}`);
    const n = this.batchSize;
    this.batch ??= {
      states: new Float32Array(n * this.stateSize),
      actions: new Float32Array(n * this.actionSize),
      rewards: new Float64Array(n),
      nextStates: new Float32Array(n * this.stateSize),
      terminated: new Uint8Array(n),
    };
    const b = this.batch;
    const i = this.count;
    b.states.set(t.state, i * this.stateSize);
    b.actions.set(t.action, i * this.actionSize);
    b.rewards[i] = t.reward;
    b.nextStates.set(t.nextState, i * this.stateSize);
    b.terminated[i] = t.terminated ? 1 : 0;
    this.count += 1;
    return this.count === n ? this.flush() : null;
  }

  /** The transitions collected so far as a batch (null when none). */
  flush(): TransitionBatch | null {
    const b = this.batch;
    const count = this.count;
    if (!b || count === 0) return null;
    this.batch = null;
    this.count = 0;
    const s = this.stateSize;
    const a = this.actionSize;
    return {
      actorId: this.actorId,
      seq: this.seq++,
      count,
      stateSize: s,
      actionSize: a,
      states: b.states.subarray(0, count * s),
      actions: b.actions.subarray(0, count * a),
      rewards: b.rewards.subarray(0, count),
      nextStates: b.nextStates.subarray(0, count * s),
      terminated: b.terminated.subarray(0, count),
    };
  }
}

/** The i-th transition of a batch (views into its columns). */
export function transitionAt(batch: TransitionBatch, i: number): Transition {
  const s = batch.stateSize;
  const a = batch.actionSize;
  return {
    state: batch.states.subarray(i * s, (i + 1) * s),
    action: batch.actions.subarray(i * a, (i + 1) * a),
    reward: batch.rewards[i] as number,
    nextState: batch.nextStates.subarray(i * s, (i + 1) * s),
    terminated: batch.terminated[i] === 1,
  };
}
