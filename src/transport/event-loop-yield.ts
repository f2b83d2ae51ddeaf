import { performance } from 'node:perf_hooks';

/**
 * Lets the event loop go round during a long chain of awaits that never leaves the microtask
 * queue (a simulated episode): without it the link's sends, receives and heartbeat timers wait
 * for the episode's end, and the learner takes a driving actor for a dead one.
 */
export const YIELD_EVERY_MS = 20;

export class EventLoopYield {
  private last = performance.now();

  constructor(private readonly everyMs: number) {}

  /** Resolves at once, or after one turn of the event loop when `everyMs` have passed since the last. */
  maybe(): Promise<void> | void {
    if (performance.now() - this.last < this.everyMs) return;
    return new Promise<void>((resolve) =>
      setImmediate(() => {
        this.last = performance.now();
        resolve();
      }),
    );
  }
}
