import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { log } from '../core/logger.js';
import type { ChildReply, ChildRequest } from './child-protocol.js';
import type { SeedResult } from './objective.js';
import { BadConfigurationError, type SeedTask } from './trial-seed.js';

/** The trial process's entry: trial-child.ts beside this file (trial-child.js once built). */
const CHILD_ENTRY = fileURLToPath(
  new URL(`./trial-child${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url),
);

/** A trial process that crashed or was killed: the seed may be retried. */
export class TrialProcessError extends Error {
  override name = 'TrialProcessError';
}

interface Slot {
  child: ChildProcess | null;
  ready: Promise<void> | null;
  busy: boolean;
}

/**
 * A pool of long-lived trial processes (one trial seed at a time each), so the process start
 * and TensorFlow.js start-up are paid once per process, not per seed. Each process is the
 * leader of its own process group: close() and kill() signal the group, so anything a trial
 * started dies with it.
 */
export class ChildPool {
  private readonly slots: Slot[];

  constructor(
    readonly size: number,
    private readonly env: NodeJS.ProcessEnv = {},
  ) {
    this.slots = Array.from({ length: size }, () => ({ child: null, ready: null, busy: false }));
  }

  get idle(): number {
    return this.slots.filter((s) => !s.busy).length;
  }

  /** Process ids of the live trial processes. */
  get pids(): number[] {
    return this.slots.flatMap((s) => (s.child?.pid !== undefined && s.child.exitCode === null ? [s.child.pid] : []));
  }

  private spawn(slot: Slot): void {
    const child = fork(CHILD_ENTRY, [], {
      detached: true,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      // Keep tsx (or other loaders) when running from source; drop the test runner's flags.
      execArgv: process.execArgv.filter((a) => !a.startsWith('--test')),
      env: { ...process.env, DAYDRIVE_LOG_LEVEL: process.env.DAYDRIVE_SWEEP_TRIAL_LOG_LEVEL ?? 'warn', ...this.env },
    });
    slot.child = child;
    slot.ready = new Promise((resolve, reject) => {
      const onMessage = (m: ChildReply) => {
        if (m.type !== 'ready') return;
        child.off('message', onMessage);
        child.off('exit', onExit);
        resolve();
      };
      const onExit = (code: number | null, signal: NodeJS.Signals | null) =>
        reject(new TrialProcessError(`trial process exited at start (${signal ?? `code ${String(code)}`})`));
      child.on('message', onMessage);
      child.once('exit', onExit);
    });
    child.once('exit', () => {
      if (slot.child === child) {
        slot.child = null;
        slot.ready = null;
      }
    });
  }

  /** Runs one trial seed on an idle process (the caller keeps at most `size` running). */
  async run(task: SeedTask): Promise<SeedResult> {
    const slot = this.slots.find((s) => !s.busy);
    if (!slot) throw new Error('no idle trial process');
    slot.busy = true;
    try {
      if (!slot.child) this.spawn(slot);
      await slot.ready;
      const child = slot.child!;
      return await new Promise<SeedResult>((resolve, reject) => {
        const done = () => {
          child.off('message', onMessage);
          child.off('exit', onExit);
        };
        const onMessage = (m: ChildReply) => {
          if (m.type === 'result') {
            done();
            resolve(m.result);
          } else if (m.type === 'failed') {
            done();
            reject(m.badConfiguration ? new BadConfigurationError(m.message) : new Error(m.message));
          }
        };
        const onExit = (code: number | null, signal: NodeJS.Signals | null) => {
          done();
          reject(
            new TrialProcessError(
              `trial process ended during trial ${task.trialId} seed ${task.seedIndex} (${signal ?? `code ${String(code)}`})`,
            ),
          );
        };
        child.on('message', onMessage);
        child.once('exit', onExit);
        child.send({ type: 'run', task } satisfies ChildRequest);
      });
    } finally {
      slot.busy = false;
    }
  }

  /** Kills every trial process's group (SIGKILL: a trial's state is not worth keeping half-way) and waits for them to exit. */
  async close(): Promise<void> {
    await Promise.all(
      this.slots.map(async (slot) => {
        const child = slot.child;
        if (!child || child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch (err) {
          log.debug({ err }, 'trial process group already gone');
        }
        await exited;
      }),
    );
  }
}

/** Kills every trial process group of `pool` at once, synchronously (for process 'exit' handlers). */
export function killPoolNow(pool: ChildPool): void {
  for (const pid of pool.pids) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}
