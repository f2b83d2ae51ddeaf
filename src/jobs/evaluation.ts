import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { LOOK_LEVELS, lookOfRoad, selectBalancedRoads } from '../../sim/index.js';
import { initBackend } from '../core/backend.js';
import { UserError } from '../core/errors.js';
import { readJson, replaceDirectory, writeJsonSafely } from '../core/files.js';
import { log } from '../core/logger.js';
import { baselineKey, baselinePath, readBaselines, writeBaselines } from '../agent/baseline-cache.js';
import {
  breakdownByLook,
  summariseRoadSet,
  type Interval,
  type LookRow,
  type RoadResult,
  type RoadSetSummary,
} from '../agent/evaluation.js';
import { checkEvaluationRoads, EVALUATION_ROAD_SEED_BASE, EVALUATION_SEEDS_PER_SET } from '../agent/road-seeds.js';
import {
  loadTrainedAgent,
  MAX_DISENGAGEMENTS_PER_ROAD,
  readRunConfig,
  type CameraPath,
  type DriveJob,
  type FailurePictures,
  type PolicySpec,
} from './eval-drive.js';
import { driveInParallel } from './eval-parallel.js';
import { failedRoadsPng, looksChartPng } from './eval-pictures.js';
import { RUN_FILES } from './run-dir.js';
import type { TrainConfig } from './train-config.js';
import type { TrainSummary } from './training.js';
import { roundTo } from '../core/math.js';

/**
 * `daydrive eval`: Table I of Kendall et al. 2019 in simulation, on unseen roads chosen to cover
 * every look the simulator draws (sim/looks.ts: lines, verge, light, haze, low sun), balanced
 * per look and disjoint from every training, test and VAE-collection road (src/agent/road-seeds.ts).
 * Every input is checked before anything drives. The random and zero policies' drives come from
 * a cache when this road set and world were driven before (src/agent/baseline-cache.ts); roads
 * drive in parallel child processes (--workers). Writes evaluation.json and pictures to --out.
 */

/** Evaluation roads by default: 24 = 8 per level of the three-level look factors, 12 per two-level one. */
export const DEFAULT_EVALUATION_ROADS = 24;
/** Files of an evaluation directory; evaluation.json marks it as one (it may be replaced). */
export const EVAL_FILES = { result: 'evaluation.json', looks: 'looks.png', failedRoads: 'failed-roads.png' } as const;

export interface TableRow {
  readonly method: string;
  readonly trainingEpisodes: number | null;
  /** Learning episodes the run drove in all (its training episodes when it reached the stop). */
  readonly learningEpisodes: number | null;
  readonly trainingDistanceM: number | null;
  readonly trainingTimeS: number | null;
  readonly metresPerDisengagement: number;
  readonly disengagements: number;
  readonly distanceM: number;
  readonly roads: number;
  readonly cleanRoads: number;
  /** Share of roads driven without a disengagement, with its bootstrap 95% interval. */
  readonly cleanShare: Interval;
  /** Pooled metres per disengagement with its bootstrap 95% interval. */
  readonly metresPerDisengagementInterval: Interval;
}

/** One policy's drives: the per-road results (what a sweep scores), the summary and the look breakdown. */
export interface PolicyEvaluation {
  readonly policy: string;
  readonly roads: readonly RoadResult[];
  readonly summary: RoadSetSummary;
  readonly looks: readonly LookRow[];
}

export interface EvaluationResult {
  readonly roadSeeds: number[];
  readonly routeLengthM: number;
  /** How the trained policies saw the roads. */
  readonly cameraPath: CameraPath;
  readonly rows: TableRow[];
  readonly policies: PolicyEvaluation[];
  /** 'hit': the baselines came from the cache; 'miss': driven and stored; 'off': --no-baseline-cache. */
  readonly baselineCache: 'hit' | 'miss' | 'off';
  readonly baselineCachePath: string | null;
  readonly out: string;
  readonly pictures: string[];
}

/**
 * The evaluation roads of seed set `seed`: `roads` seeds from its own block of the evaluation
 * range, balanced over every level of every look factor of `sim` (sim/looks.ts).
 */
export function evaluationRoads(
  roads: number,
  seed: number,
  sim: TrainConfig['sim'],
): { seed: number; look: Record<string, string> }[] {
  const base = EVALUATION_ROAD_SEED_BASE + seed * EVALUATION_SEEDS_PER_SET;
  return selectBalancedRoads(
    roads,
    EVALUATION_SEEDS_PER_SET,
    (i) => base + i,
    (s) => lookOfRoad(s, sim),
  );
}

function row(method: string, s: RoadSetSummary, training: TrainSummary | null): TableRow {
  return {
    method,
    trainingEpisodes: training?.trainingEpisodes ?? null,
    learningEpisodes: training?.learningEpisodes ?? null,
    trainingDistanceM: training ? training.trainingDistanceM : null,
    trainingTimeS: training ? training.trainingTimeS : null,
    metresPerDisengagement: roundTo(s.metresPerDisengagement.estimate, 1),
    disengagements: s.disengagements,
    distanceM: roundTo(s.distanceM, 1),
    roads: s.roads,
    cleanRoads: s.cleanRoads,
    cleanShare: s.cleanShare,
    metresPerDisengagementInterval: s.metresPerDisengagement,
  };
}

const pct = (x: number): string => `${Math.round(100 * x)}%`;

function formatColumns(header: readonly string[], cells: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: readonly string[]) =>
    c.map((x, i) => (i === 0 ? x.padEnd(widths[i]!) : x.padStart(widths[i]!))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map(line)].join('\n');
}

/** A run's training episodes; one that never reached the stop shows how many it drove. */
function trainingEpisodesCell(r: TableRow): string {
  if (r.trainingEpisodes !== null) return String(r.trainingEpisodes);
  return r.learningEpisodes === null ? '-' : `no stop in ${r.learningEpisodes}`;
}

/** The table as text, in the paper's columns plus the clean-road share; intervals are bootstrap 95% over roads. */
export function formatTable(rows: readonly TableRow[]): string {
  const header = [
    'method',
    'training episodes',
    'training distance (m)',
    'training time (s)',
    'roads clean [95% CI]',
    'm per disengagement [95% CI]',
    'disengagements',
  ];
  const cells = rows.map((r) => [
    r.method,
    trainingEpisodesCell(r),
    r.trainingDistanceM === null ? '-' : r.trainingDistanceM.toFixed(1),
    r.trainingTimeS === null ? '-' : r.trainingTimeS.toFixed(0),
    `${r.cleanRoads}/${r.roads} ${pct(r.cleanShare.estimate)} [${pct(r.cleanShare.lo)}, ${pct(r.cleanShare.hi)}]`,
    `${r.metresPerDisengagement.toFixed(1)}${r.disengagements === 0 ? ' (none)' : ''} [${r.metresPerDisengagementInterval.lo.toFixed(0)}, ${r.metresPerDisengagementInterval.hi.toFixed(0)}]`,
    String(r.disengagements),
  ]);
  return formatColumns(header, cells);
}

/** One policy's breakdown by look as text. */
export function formatLooks(policy: string, looks: readonly LookRow[]): string {
  const cells = looks.map((l) => [
    `${l.factor}: ${l.level}`,
    String(l.roads),
    l.roads === 0
      ? '-'
      : `${l.cleanRoads} ${pct(l.cleanShare.estimate)} [${pct(l.cleanShare.lo)}, ${pct(l.cleanShare.hi)}]`,
    l.roads === 0
      ? '-'
      : `${l.metresPerDisengagement.estimate.toFixed(1)}${l.disengagements === 0 ? ' (none)' : ''} [${l.metresPerDisengagement.lo.toFixed(0)}, ${l.metresPerDisengagement.hi.toFixed(0)}]`,
  ]);
  return (
    `${policy}, by look:\n` + formatColumns(['look', 'roads', 'clean [95% CI]', 'm per disengagement [95% CI]'], cells)
  );
}

export interface EvalOptions {
  readonly runs: readonly string[];
  readonly roads: number;
  readonly seed: number;
  readonly workers: number;
  /** How the trained policies see the roads (eval-drive.ts). */
  readonly cameraPath: CameraPath;
  /** Directory for evaluation.json and the pictures (default: RUN/evaluation of the first run). */
  readonly out?: string;
  readonly baselineCache: boolean;
}

interface CheckedRun {
  readonly dir: string;
  readonly config: TrainConfig;
  readonly summary: TrainSummary;
  readonly name: string;
}

/** Every run readable (config, summary, checkpoint loadable into its agent), before anything drives. */
async function checkRun(dir: string): Promise<CheckedRun> {
  const info = await stat(dir).catch(() => null);
  if (!info?.isDirectory()) throw new UserError(`--run ${dir}: not a directory`);
  const config = await readRunConfig(dir);
  const summary = (await readJson(join(dir, RUN_FILES.summary))) as TrainSummary;
  if (typeof summary !== 'object' || summary === null)
    throw new UserError(`${join(dir, RUN_FILES.summary)} is not a run summary`);
  (await loadTrainedAgent(dir, config)).release();
  return {
    dir,
    config,
    summary,
    name: `deep RL from ${config.agent.state === 'vae' ? 'VAE' : 'pixels'} (${config.algo}, seed ${config.seed})`,
  };
}

/** --out must be a directory this command wrote (it holds evaluation.json), empty, or absent. */
async function checkOut(out: string): Promise<void> {
  const info = await stat(out).catch(() => null);
  if (info === null) return;
  if (!info.isDirectory()) throw new UserError(`--out ${out} is a file, not a directory`);
  const entries = await readdir(out);
  if (entries.length > 0 && !entries.includes(EVAL_FILES.result)) {
    throw new UserError(
      `--out ${out} holds files that are not an evaluation's (no ${EVAL_FILES.result}): choose another directory`,
    );
  }
}

function sameWorld(a: TrainConfig, b: TrainConfig): boolean {
  return JSON.stringify(a.sim) === JSON.stringify(b.sim);
}

export async function runEvaluation(opts: EvalOptions): Promise<EvaluationResult> {
  if (opts.runs.length === 0) throw new UserError('give at least one --run');
  await initBackend();
  // 1. Inputs first: every run, the output directory, the roads (issue: nothing drives before a bad input is found).
  const runs: CheckedRun[] = [];
  for (const dir of opts.runs) runs.push(await checkRun(dir));
  const first = runs[0]!;
  for (const run of runs.slice(1)) {
    if (!sameWorld(first.config, run.config))
      throw new UserError(
        `runs ${first.dir} and ${run.dir} were trained in different simulator configs: evaluate them separately`,
      );
  }
  const out = opts.out ?? join(first.dir, 'evaluation');
  await checkOut(out);
  const chosen = evaluationRoads(opts.roads, opts.seed, first.config.sim);
  const roadSeeds = chosen.map((c) => c.seed);
  checkEvaluationRoads(
    roadSeeds,
    runs.map((r) => ({ run: r.dir, routeSeed: r.config.routeSeed })),
  );

  const drive = (policy: PolicySpec, pictures: boolean) =>
    driveInParallel(
      { config: first.config, policy, roadSeeds, cameraPath: opts.cameraPath, pictures } satisfies DriveJob,
      opts.workers,
    );
  const evaluations: PolicyEvaluation[] = [];
  const failures = new Map<string, FailurePictures[]>();
  const summarise = (policy: string, roads: readonly RoadResult[], i: number): PolicyEvaluation => ({
    policy,
    roads,
    summary: summariseRoadSet(roads, opts.seed * 1000 + i * 100),
    looks: breakdownByLook(roads, opts.seed * 1000 + i * 100 + 2, LOOK_LEVELS),
  });

  // 2. The baselines, from the cache when this road set and world were driven before.
  const key = baselineKey({
    roadSeeds,
    sim: first.config.sim,
    actionShaping: {
      maxSteeringChangePerStep: first.config.agent.maxSteeringChangePerStep,
      speedFractionRange: first.config.agent.speedFractionRange,
    },
    randomSeed: opts.seed,
    maxDisengagementsPerRoad: MAX_DISENGAGEMENTS_PER_ROAD,
  });
  let cache: EvaluationResult['baselineCache'] = 'off';
  let baselines = opts.baselineCache ? await readBaselines(key, roadSeeds.length) : null;
  if (opts.baselineCache) cache = baselines ? 'hit' : 'miss';
  if (!baselines) {
    const random = (await drive({ kind: 'random', seed: opts.seed }, false)).roads;
    const zero = (await drive({ kind: 'zero' }, false)).roads;
    baselines = { key, random, zero };
    if (opts.baselineCache) log.info({ path: await writeBaselines(baselines) }, 'baseline drives cached');
  }
  evaluations.push(summarise('random policy', baselines.random, 0), summarise('zero policy', baselines.zero, 1));

  // 3. Each run.
  for (const [i, run] of runs.entries()) {
    const driven = await drive({ kind: 'run', dir: run.dir, name: run.name }, true);
    evaluations.push(summarise(run.name, driven.roads, i + 2));
    failures.set(run.name + '\u0000' + String(i), driven.failures);
  }

  const rows = evaluations.map((e, i) => row(e.policy, e.summary, i < 2 ? null : runs[i - 2]!.summary));
  const pictures: string[] = [];
  const result = {
    roadSeeds,
    routeLengthM: first.config.sim.road.routeLengthM,
    cameraPath: opts.cameraPath,
    rows,
    policies: evaluations,
    baselineCache: cache,
    baselineCachePath: opts.baselineCache ? baselinePath(key) : null,
    out,
    pictures,
  };
  await replaceDirectory(out, async (tmp) => {
    await looksChartPng(
      evaluations.flatMap((e) => e.looks.map((l) => ({ ...l, policy: e.policy }))),
      join(tmp, EVAL_FILES.looks),
    );
    pictures.push(join(out, EVAL_FILES.looks));
    for (const [i, run] of runs.entries()) {
      const name = runs.length === 1 ? EVAL_FILES.failedRoads : `failed-roads-${i + 1}.png`;
      if (
        await failedRoadsPng(
          run.name,
          failures.get(run.name + '\u0000' + String(i)) ?? [],
          evaluations[i + 2]!.roads,
          join(tmp, name),
        )
      )
        pictures.push(join(out, name));
    }
    await writeJsonSafely(join(tmp, EVAL_FILES.result), {
      ...result,
      runs: runs.map((r) => r.dir),
      seed: opts.seed,
      createdAt: new Date().toISOString(),
    });
  });
  return result;
}
