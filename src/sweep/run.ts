import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { readFile, rmdir } from 'node:fs/promises';
import { UserError } from '../core/errors.js';
import { exists, writeFileSafely } from '../core/files.js';
import { log } from '../core/logger.js';
import { writeSweepCharts } from './charts.js';
import { SweepCoordinator } from './coordinator.js';
import { evaluationRoadSeeds } from './evaluation-adapter.js';
import { parseTrainConfig } from '../jobs/train-config.js';
import type { Executor } from './executor.js';
import { LiveTable } from './live-table.js';
import { LocalExecutor } from './local-executor.js';
import { QueueExecutor } from './queue-executor.js';
import {
  gitRevision,
  readMeta,
  readTrials,
  SWEEP_FILES,
  writeMeta,
  type SweepMeta,
  type SweepSettings,
  type TrialRecord,
} from './record.js';
import { checkRedisReachable, parseRedisUrl } from './redis-url.js';
import { parseSpace, readSpaceFile, type SearchSpace } from './space.js';
import { beatsSeparated, type Score } from './statistics.js';

/** `daydrive sweep`'s application function (src/cli/sweep.ts parses and prints). */
export interface SweepCommandOptions {
  readonly spacePath?: string;
  readonly out: string;
  readonly resume: boolean;
  /** Settings given on the command line (a resumed sweep keeps its own, except trials). */
  readonly settings: Partial<SweepSettings>;
  /** Local trial processes, or trial seeds outstanding on the queue; default: the number of cores. */
  readonly workers?: number;
  readonly queue?: string;
  readonly keepRuns: boolean;
  readonly command: readonly string[];
  readonly live: boolean;
  readonly shouldStop: () => boolean;
  readonly stopRequested: Promise<void>;
}

export interface SweepSummary extends Record<string, unknown> {
  readonly out: string;
  readonly trials: number;
  readonly done: number;
  readonly pruned: number;
  readonly failed: number;
  readonly stopped: boolean;
  readonly best: {
    readonly trial: number;
    readonly params: Record<string, unknown>;
    readonly score: Score;
    readonly config: Record<string, unknown>;
  } | null;
  /** The defaults' trial (when the sweep ran one) and the trials that beat it with separated intervals on the first key. */
  readonly defaults: {
    readonly trial: number;
    readonly score: Score | null;
    readonly beatenBy: readonly number[];
  } | null;
  readonly charts: readonly string[];
}

export const DEFAULT_SETTINGS: SweepSettings = {
  trials: 20,
  seeds: 3,
  sampler: 'tpe',
  pruner: 'asha',
  seed: 0,
  reductionFactor: 2,
  startupTrials: 10,
  includeDefaults: true,
};

async function startSweep(
  opts: SweepCommandOptions,
): Promise<{ space: SearchSpace; meta: SweepMeta; trials: TrialRecord[] }> {
  if (await exists(join(opts.out, SWEEP_FILES.meta)))
    throw new UserError(`${opts.out} already holds a sweep: use --resume to continue it, or another --out`);
  if (!opts.spacePath) throw new UserError('--space FILE is required (a search space; see sweeps/ and docs/sweep.md)');
  const { space, text } = await readSpaceFile(opts.spacePath);
  const settings: SweepSettings = { ...DEFAULT_SETTINGS, ...opts.settings };
  if (settings.sampler === 'tpe' && opts.settings.startupTrials === undefined)
    Object.assign(settings, {
      startupTrials: Math.min(DEFAULT_SETTINGS.startupTrials, Math.max(1, Math.floor(settings.trials / 3))),
    });
  const meta: SweepMeta = {
    id: `s${Date.now().toString(36)}${process.pid.toString(36)}`,
    command: opts.command,
    gitRevision: gitRevision(),
    createdAt: new Date().toISOString(),
    settings,
  };
  await writeFileSafely(join(opts.out, SWEEP_FILES.space), text);
  await writeMeta(opts.out, meta);
  return { space, meta, trials: [] };
}

async function resumeSweep(
  opts: SweepCommandOptions,
): Promise<{ space: SearchSpace; meta: SweepMeta; trials: TrialRecord[] }> {
  if (!(await exists(join(opts.out, SWEEP_FILES.meta)))) throw new UserError(`cannot resume: no sweep in ${opts.out}`);
  const changed = (Object.keys(opts.settings) as (keyof SweepSettings)[]).filter((k) => k !== 'trials');
  if (changed.length > 0)
    throw new UserError(
      `--resume continues with the sweep's own settings: only --trials, --workers and --queue may be given (not ${changed.map((k) => `--${k}`).join(', ')})`,
    );
  const stored = await readMeta(opts.out);
  const spacePath = join(opts.out, SWEEP_FILES.space);
  const space = parseSpace(parseYaml(await readFile(spacePath, 'utf8')), `space ${spacePath}`);
  const meta: SweepMeta = {
    ...stored,
    settings: { ...stored.settings, ...(opts.settings.trials !== undefined ? { trials: opts.settings.trials } : {}) },
  };
  await writeMeta(opts.out, meta);
  return { space, meta, trials: await readTrials(opts.out) };
}

export async function runSweep(opts: SweepCommandOptions): Promise<SweepSummary> {
  const { space, meta, trials } = opts.resume ? await resumeSweep(opts) : await startSweep(opts);
  const workers = opts.workers ?? (opts.queue ? 4 : availableParallelism());
  let executor: Executor;
  if (opts.queue) {
    const target = parseRedisUrl(opts.queue);
    await checkRedisReachable(target);
    executor = new QueueExecutor(target, workers);
  } else {
    executor = new LocalExecutor(workers);
  }
  log.info(
    { out: opts.out, executor: executor.description, ...meta.settings },
    opts.resume ? 'resuming the sweep' : 'sweeping',
  );
  const table = opts.live ? new LiveTable(space) : null;
  const coordinator = new SweepCoordinator({
    dir: opts.out,
    space,
    meta,
    trials,
    executor,
    roadSeeds: evaluationRoadSeeds(
      space.evaluation.roads,
      space.evaluation.seed,
      parseTrainConfig(space.base, "the space's base configuration").sim,
    ),
    keepRuns: opts.keepRuns,
    shouldStop: opts.shouldStop,
    stopRequested: opts.stopRequested,
    ...(table ? { onUpdate: (t: readonly TrialRecord[]) => table.update(t) } : {}),
  });
  const outcome = await coordinator.run();
  // Trial runs are removed after their evaluation: drop their parent too when it is empty.
  if (!opts.keepRuns) await rmdir(join(opts.out, SWEEP_FILES.runs)).catch(() => {});
  const charts = outcome.stopped ? [] : await writeSweepCharts(opts.out, space, outcome.trials);
  const count = (s: TrialRecord['state']) => outcome.trials.filter((t) => t.state === s).length;
  const best = outcome.best;
  const reference = outcome.trials.find((t) => t.reference === 'defaults');
  const defaults = reference
    ? {
        trial: reference.id,
        score: reference.score ?? null,
        beatenBy:
          reference.state === 'done' && reference.score
            ? outcome.trials
                .filter(
                  (t) => t.state === 'done' && t.score && beatsSeparated(t.score, reference.score!, space.objective),
                )
                .map((t) => t.id)
            : [],
      }
    : null;
  return {
    out: opts.out,
    trials: outcome.trials.length,
    done: count('done'),
    pruned: count('pruned'),
    failed: count('failed'),
    stopped: outcome.stopped,
    best: best && best.score ? { trial: best.id, params: best.params, score: best.score, config: best.config } : null,
    defaults,
    charts,
  };
}
