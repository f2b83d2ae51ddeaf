import { fork } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UserError } from '../core/errors.js';
import { driveJob, type DriveJob, type DrivenRoads } from './eval-drive.js';

/**
 * Evaluation roads driven in parallel child processes (one Node process each: the simulator and
 * the wasm backend are single-threaded). Each child takes a contiguous share of the roads; the
 * results come back in road order, identical to a drive in one process (every road starts from
 * its own seed and a random policy has a stream per road).
 */

/** Workers that fit the cores not already busy (the load average counts the other processes). */
export function defaultWorkers(): number {
  return Math.max(1, availableParallelism() - 1);
}

type WorkerReply = { ok: true; result: DrivenRoads } | { ok: false; error: string; user: boolean };

/** The worker script beside this file: .ts under tsx (tests, `node --import tsx`), .js when built. */
function workerPath(): string {
  const here = fileURLToPath(import.meta.url);
  return here.slice(0, -extname(here).length).replace(/eval-parallel$/, 'eval-worker') + extname(here);
}

function inChild(job: DriveJob): Promise<DrivenRoads> {
  return new Promise((resolvePromise, reject) => {
    // The parent's execArgv (e.g. --import tsx) and environment (backend, log level) carry over.
    const child = fork(workerPath(), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let reply: WorkerReply | null = null;
    child.once('message', (m: WorkerReply) => (reply = m));
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      const r = reply as WorkerReply | null;
      if (r?.ok) resolvePromise(r.result);
      else if (r) reject(r.user ? new UserError(r.error) : new Error(r.error));
      else reject(new Error(`evaluation worker exited with ${signal ?? `code ${String(code)}`} before replying`));
    });
    child.send(job);
  });
}

/** Drives `job` in up to `workers` processes (in this one when 1 or a single road). */
export async function driveInParallel(job: DriveJob, workers: number): Promise<DrivenRoads> {
  const n = Math.min(workers, job.roadSeeds.length);
  if (n <= 1) return driveJob(job);
  const per = Math.ceil(job.roadSeeds.length / n);
  const shares = Array.from({ length: n }, (_, i) => job.roadSeeds.slice(i * per, (i + 1) * per)).filter(
    (s) => s.length > 0,
  );
  const parts = await Promise.all(shares.map((roadSeeds) => inChild({ ...job, roadSeeds })));
  return { roads: parts.flatMap((p) => p.roads), failures: parts.flatMap((p) => p.failures) };
}
