import { log } from '../core/logger.js';
import { oneLine } from '../core/errors.js';
import { ChildPool, killPoolNow, TrialProcessError } from './child-pool.js';
import { EventQueue, type Executor, type ExecutorEvent } from './executor.js';
import { BadConfigurationError, type SeedTask } from './trial-seed.js';

/** A trial process that dies is retried this many times before its trial is recorded as failed. */
const PROCESS_RETRIES = 2;

/** One machine: a pool of W trial processes (docs/sweep.md). */
export class LocalExecutor implements Executor {
  readonly description: string;
  private readonly pool: ChildPool;
  private readonly events = new EventQueue<ExecutorEvent>();
  private closing = false;
  private readonly onExit = () => killPoolNow(this.pool);

  constructor(readonly capacity: number) {
    this.pool = new ChildPool(capacity);
    this.description = `${capacity} local trial process${capacity === 1 ? '' : 'es'}`;
    process.on('exit', this.onExit);
  }

  submit(task: SeedTask, attempt = 0): void {
    this.pool.run(task).then(
      (result) => this.events.push({ kind: 'result', task, result }),
      (err: unknown) => {
        if (this.closing) return;
        if (err instanceof TrialProcessError && attempt < PROCESS_RETRIES) {
          log.warn(
            { trial: task.trialId, seed: task.seedIndex, err: oneLine(err) },
            'trial process died; retrying the trial seed',
          );
          this.submit(task, attempt + 1);
          return;
        }
        this.events.push({
          kind: 'failed',
          task,
          reason: oneLine(err),
          badConfiguration: err instanceof BadConfigurationError,
        });
      },
    );
  }

  next(): Promise<ExecutorEvent> {
    return this.events.next();
  }

  async close(): Promise<void> {
    this.closing = true;
    await this.pool.close();
    process.off('exit', this.onExit);
  }
}
