import { Worker, UnrecoverableError } from 'bullmq';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { oneLine } from '../core/errors.js';
import { log } from '../core/logger.js';
import { ChildPool, killPoolNow } from './child-pool.js';
import { BAD_CONFIGURATION_PREFIX, jobId, QUEUE_NAME } from './queue-executor.js';
import { checkRedisReachable, connectionOptions, parseRedisUrl } from './redis-url.js';
import { BadConfigurationError, type SeedTask } from './trial-seed.js';

export interface WorkerOptions {
  /** The queue's Redis URL (checked: a remote one needs a password; it must answer). */
  readonly queue: string;
  readonly concurrency: number;
  /** Where trial runs are trained (each removed after its evaluation). */
  readonly workDir: string;
  /**
   * Job lock, ms: a worker that stops renewing it (killed, machine lost) has its trial seeds
   * taken over by another worker within about twice this (BullMQ's stalled-job check runs as often).
   */
  readonly lockMs: number;
  readonly stopRequested: Promise<void>;
  readonly killRequested: Promise<void>;
  readonly onJob?: (event: { id: string; state: 'started' | 'completed' | 'failed'; detail?: string }) => void;
}

/**
 * `daydrive sweep worker`: takes trial seeds from the queue and runs each in a trial process of
 * its own (training blocks an event loop; this one must keep renewing the job locks). A stop
 * lets the running trial seeds finish; a second one kills their process groups (their jobs then
 * stall and another worker takes them over).
 */
export async function runQueueWorker(
  opts: WorkerOptions,
): Promise<{ completed: number; failed: number; worker: string }> {
  const target = parseRedisUrl(opts.queue);
  await checkRedisReachable(target);
  const name = `${hostname()}:${process.pid}`;
  const pool = new ChildPool(opts.concurrency, { DAYDRIVE_SWEEP_WORKER: name });
  const onExit = () => killPoolNow(pool);
  process.on('exit', onExit);
  let completed = 0;
  let failed = 0;
  const worker = new Worker<SeedTask>(
    QUEUE_NAME,
    async (job) => {
      const task: SeedTask = { ...job.data, runDir: join(resolve(opts.workDir), jobId(job.data)), keepRun: false };
      opts.onJob?.({ id: job.id ?? '', state: 'started' });
      try {
        return await pool.run(task);
      } catch (err) {
        if (err instanceof BadConfigurationError) throw new UnrecoverableError(BAD_CONFIGURATION_PREFIX + err.message);
        throw err;
      }
    },
    {
      connection: connectionOptions(target) as never,
      concurrency: opts.concurrency,
      lockDuration: opts.lockMs,
      stalledInterval: opts.lockMs,
      maxStalledCount: 2,
    },
  );
  worker.on('completed', (job) => {
    completed += 1;
    opts.onJob?.({ id: job.id ?? '', state: 'completed' });
  });
  worker.on('failed', (job, err) => {
    failed += 1;
    opts.onJob?.({ id: job?.id ?? '', state: 'failed', detail: oneLine(err) });
  });
  let lastError = '';
  worker.on('error', (err) => {
    const line = oneLine(err);
    if (line !== lastError) log.warn({ err: line }, 'queue connection');
    lastError = line;
  });
  log.info(
    { worker: name, queue: target.display, concurrency: opts.concurrency },
    'sweep worker waiting for trial seeds',
  );
  await opts.stopRequested;
  log.warn('stopping: running trial seeds finish first; interrupt again to kill them');
  await Promise.race([worker.close(), opts.killRequested.then(() => pool.close()).then(() => worker.close(true))]);
  await pool.close();
  process.off('exit', onExit);
  return { completed, failed, worker: name };
}
