import type { SeedResult } from './objective.js';
import type { SeedTask } from './trial-seed.js';

/** What happened to a submitted trial seed. */
export type ExecutorEvent =
  | { readonly kind: 'result'; readonly task: SeedTask; readonly result: SeedResult }
  | { readonly kind: 'failed'; readonly task: SeedTask; readonly reason: string; readonly badConfiguration: boolean };

/** Runs trial seeds somewhere (a local pool of processes, or a queue and its workers). */
export interface Executor {
  /** Trial seeds that may be outstanding at once. */
  readonly capacity: number;
  readonly description: string;
  submit(task: SeedTask): void;
  /** The next finished trial seed (in completion order). */
  next(): Promise<ExecutorEvent>;
  /** Stops: the local pool kills its trial processes; a queue leaves its jobs to the workers. */
  close(): Promise<void>;
}

/** A FIFO of events with waiting readers. */
export class EventQueue<T> {
  private readonly items: T[] = [];
  private readonly waiters: ((item: T) => void)[] = [];

  push(item: T): void {
    const waiter = this.waiters.shift();
    if (waiter) waiter(item);
    else this.items.push(item);
  }

  next(): Promise<T> {
    const item = this.items.shift();
    return item !== undefined ? Promise.resolve(item) : new Promise((resolve) => this.waiters.push(resolve));
  }
}
