import { Queue } from 'bullmq';
import { oneLine } from '../core/errors.js';
import { log } from '../core/logger.js';
import { EventQueue, type Executor, type ExecutorEvent } from './executor.js';
import type { SeedResult } from './objective.js';
import { connectionOptions, type RedisTarget } from './redis-url.js';
import type { SeedTask } from './trial-seed.js';

/** The one queue every `daydrive sweep worker` takes trial seeds from (jobs carry their sweep's id). */
export const QUEUE_NAME = 'daydrive-sweep';
/** A worker's failure reason for a configuration at fault (not retried). */
export const BAD_CONFIGURATION_PREFIX = 'bad configuration: ';
/** Attempts of a trial seed whose process or machine fails, with exponential backoff from 2 s. */
export const JOB_ATTEMPTS = 3;
const POLL_MS = 500;

export function jobId(task: Pick<SeedTask, 'sweepId' | 'trialId' | 'seedIndex'>): string {
  return `${task.sweepId}-t${task.trialId}-s${task.seedIndex}`;
}

/**
 * Many machines: trial seeds become BullMQ jobs (one job id per trial seed, so adding one twice
 * adds nothing); the coordinator gathers each finished job by polling its state, which survives
 * a Redis restart or a coordinator restart where pushed events would be lost.
 */
export class QueueExecutor implements Executor {
  readonly description: string;
  private readonly queue: Queue;
  private readonly events = new EventQueue<ExecutorEvent>();
  private readonly outstanding = new Map<string, SeedTask>();
  private readonly timer: NodeJS.Timeout;
  private polling = false;
  private redisDown = false;

  constructor(
    target: RedisTarget,
    readonly capacity: number,
  ) {
    this.queue = new Queue(QUEUE_NAME, { connection: connectionOptions(target) as never });
    this.queue.on('error', () => {}); // the poll reports outages once
    this.description = `queue ${QUEUE_NAME} on ${target.display} (${capacity} trial seeds outstanding at most)`;
    this.timer = setInterval(() => void this.poll(), POLL_MS);
  }

  private add(task: SeedTask): Promise<unknown> {
    return this.queue.add('trial-seed', task, {
      jobId: jobId(task),
      attempts: JOB_ATTEMPTS,
      backoff: { type: 'exponential', delay: 2000 },
      removeOnComplete: false,
      removeOnFail: false,
    });
  }

  submit(task: SeedTask): void {
    this.outstanding.set(jobId(task), task);
    this.add(task).catch((err: unknown) =>
      log.warn({ err: oneLine(err) }, 'could not enqueue a trial seed yet; the poll retries'),
    );
  }

  private async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      for (const [id, task] of [...this.outstanding]) {
        const job = await this.queue.getJob(id);
        if (!job) {
          // Lost (a Redis without persistence restarted, or an add that failed): add it again.
          await this.add(task);
          continue;
        }
        const state = await job.getState();
        if (state === 'completed') {
          this.outstanding.delete(id);
          this.events.push({ kind: 'result', task, result: job.returnvalue as SeedResult });
          await job.remove().catch(() => {});
        } else if (state === 'failed') {
          this.outstanding.delete(id);
          const reason = job.failedReason ?? 'failed';
          const badConfiguration = reason.startsWith(BAD_CONFIGURATION_PREFIX);
          this.events.push({
            kind: 'failed',
            task,
            reason: badConfiguration
              ? reason.slice(BAD_CONFIGURATION_PREFIX.length)
              : `${reason} (after ${job.attemptsMade} attempts)`,
            badConfiguration,
          });
          await job.remove().catch(() => {});
        }
      }
      if (this.redisDown) log.warn('Redis is back');
      this.redisDown = false;
    } catch (err) {
      if (!this.redisDown) log.warn({ err: oneLine(err) }, 'Redis unreachable; the sweep waits for it');
      this.redisDown = true;
    } finally {
      this.polling = false;
    }
  }

  next(): Promise<ExecutorEvent> {
    return this.events.next();
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    while (this.polling) await new Promise((r) => setTimeout(r, 20));
    await this.queue.close();
  }
}
