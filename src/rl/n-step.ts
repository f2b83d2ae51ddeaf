import type { StoredTransition } from './replay.js';
import { nStepReturn } from './targets.js';
import type { Transition } from './types.js';

/**
 * Turns one actor's stream of one-step transitions into n-step transitions (D4PG): the transition
 * from s_t carries R = sum_{k<m} gamma^k r_{t+k}, bootstraps from s_{t+m} with gamma^m, and m < n
 * only at the end of an episode. A terminal step flushes the window with discount 0; `flush` (end
 * of an episode by a time limit or an intervention outside the MDP) keeps the bootstrap.
 * One accumulator per actor: windows must not mix steps of different actors.
 */
export class NStepAccumulator {
  private readonly window: Transition[] = [];

  constructor(
    readonly n: number,
    readonly gamma: number,
  ) {
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`n-step must be a positive integer, got ${n}`);
  }

  /** Adds a step; returns the n-step transitions it completes (0, 1, or the whole window at a terminal). */
  push(t: Transition): StoredTransition[] {
    this.window.push(t);
    if (t.terminated) return this.drain(true);
    if (this.window.length < this.n) return [];
    const out = this.emit(0, false);
    this.window.shift();
    return [out];
  }

  /** Emits what is left of the window, bootstrapping from the last next state. */
  flush(): StoredTransition[] {
    return this.drain(false);
  }

  get pending(): number {
    return this.window.length;
  }

  private drain(terminated: boolean): StoredTransition[] {
    const out = this.window.map((_, i) => this.emit(i, terminated));
    this.window.length = 0;
    return out;
  }

  /** The transition from window[start], summing rewards to the end of the window. */
  private emit(start: number, terminated: boolean): StoredTransition {
    const first = this.window[start] as Transition;
    const last = this.window[this.window.length - 1] as Transition;
    const { ret, discount } = nStepReturn(
      this.window.slice(start).map((t) => t.reward),
      this.gamma,
      terminated,
    );
    return { state: first.state, action: first.action, reward: ret, nextState: last.nextState, discount };
  }
}

/**
 * The n-step adder (Acme's NStepTransitionAdder): one NStepAccumulator per actor, each completed
 * n-step transition handed to `sink` (the replay) as it completes.
 */
export class NStepAdder {
  private readonly accumulators = new Map<number, NStepAccumulator>();

  constructor(
    readonly n: number,
    readonly gamma: number,
    private readonly sink: (t: StoredTransition) => void,
  ) {}

  /** Adds one step of actor `actorId` (a copy the adder may keep). */
  add(t: Transition, actorId: number): void {
    for (const stored of this.accumulator(actorId).push(t)) this.sink(stored);
  }

  /** Ends the episode of one actor, or of all: what is left of their windows goes to the sink. */
  endEpisode(actorId?: number): void {
    const ids = actorId === undefined ? [...this.accumulators.keys()] : [actorId];
    for (const id of ids) {
      const acc = this.accumulators.get(id);
      if (acc) for (const stored of acc.flush()) this.sink(stored);
    }
  }

  /** Drops every half-filled window without storing it (an undone episode). */
  dropPending(): void {
    for (const acc of this.accumulators.values()) acc.flush();
  }

  /** Forgets every actor (a loaded checkpoint starts afresh). */
  clear(): void {
    this.accumulators.clear();
  }

  /** Steps held in half-filled windows. */
  get pending(): number {
    return [...this.accumulators.values()].reduce((n, a) => n + a.pending, 0);
  }

  private accumulator(actorId: number): NStepAccumulator {
    let acc = this.accumulators.get(actorId);
    if (!acc) {
      acc = new NStepAccumulator(this.n, this.gamma);
      this.accumulators.set(actorId, acc);
    }
    return acc;
  }
}
