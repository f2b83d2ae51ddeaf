import { appendFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { UserError } from '../core/errors.js';
import { parseTrainConfig } from '../jobs/train-config.js';
import { runTraining } from '../jobs/training.js';
import { evaluateTrainedRun, roadOverlap } from './evaluation-adapter.js';
import type { SeedResult } from './objective.js';
import { roundTo } from '../core/math.js';

/**
 * One trial seed: `daydrive train` of one configuration under one seed, then its evaluation on
 * the sweep's unseen roads, through the same functions the CLI calls (runTraining, the
 * evaluation adapter). Runs inside a trial process (trial-child.ts).
 */
export interface SeedTask {
  readonly sweepId: string;
  readonly trialId: number;
  readonly seedIndex: number;
  /** The train config input (base + parameters), seed included. */
  readonly config: Record<string, unknown>;
  readonly roadSeeds: readonly number[];
  /** Where the run is trained; removed after its evaluation unless keepRun. */
  readonly runDir: string;
  readonly keepRun: boolean;
}

/** The configuration itself is at fault: recorded as a failed trial with this reason, never retried. */
export class BadConfigurationError extends Error {
  override name = 'BadConfigurationError';
}

export class TrialInterruptedError extends Error {
  override name = 'TrialInterruptedError';
}

/** DAYDRIVE_SWEEP_TRACE=FILE appends one line per started trial seed (which process ran what: debugging, and the tests' proof that nothing ran twice). */
function trace(task: SeedTask): void {
  const file = process.env.DAYDRIVE_SWEEP_TRACE;
  if (file)
    appendFileSync(
      file,
      JSON.stringify({
        sweepId: task.sweepId,
        trialId: task.trialId,
        seedIndex: task.seedIndex,
        pid: process.pid,
        ppid: process.ppid,
      }) + '\n',
    );
}

export async function runTrialSeed(
  task: SeedTask,
  opts: { worker: string; startupS: number; shouldStop: () => boolean },
): Promise<SeedResult> {
  const t0 = performance.now();
  let config;
  try {
    config = parseTrainConfig(task.config, `trial ${task.trialId} config`);
  } catch (err) {
    throw new BadConfigurationError((err as Error).message);
  }
  const overlap = roadOverlap(config, task.roadSeeds);
  if (overlap) throw new BadConfigurationError(overlap);
  trace(task);
  await rm(task.runDir, { recursive: true, force: true });
  let summary;
  try {
    summary = await runTraining({ config, out: task.runDir, resume: false, shouldStop: opts.shouldStop });
  } catch (err) {
    // The learner or the world refusing a setting is the configuration's fault, not the machine's.
    if (err instanceof UserError) throw new BadConfigurationError(err.message);
    throw err;
  }
  if (summary.stopped) throw new TrialInterruptedError(`trial ${task.trialId} seed ${task.seedIndex} interrupted`);
  const t1 = performance.now();
  const roads = await evaluateTrainedRun(task.runDir, config, task.roadSeeds);
  const t2 = performance.now();
  if (!task.keepRun) await rm(task.runDir, { recursive: true, force: true });
  const total = (performance.now() - t0) / 1000 + opts.startupS;
  const r2 = (x: number) => roundTo(x, 2);
  return {
    seed: config.seed,
    trainingEpisodes: summary.trainingEpisodes,
    learningEpisodes: summary.learningEpisodes,
    solved: summary.solved,
    roads,
    routeLengthM: config.sim.road.routeLengthM,
    seconds: {
      startup: r2(opts.startupS),
      train: r2((t1 - t0) / 1000),
      evaluate: r2((t2 - t1) / 1000),
      total: r2(total),
    },
    trainSeconds: { world: summary.seconds.world, agent: summary.seconds.agent, optimise: summary.seconds.optimise },
    worker: opts.worker,
  };
}
