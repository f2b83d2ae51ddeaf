import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify as toYaml } from 'yaml';
import { UserError } from '../core/errors.js';
import { readJson, writeFileSafely, writeJsonSafely } from '../core/files.js';
import type { SeedResult } from './objective.js';
import type { PrunerName } from './pruners/index.js';
import type { SamplerName } from './samplers/index.js';
import type { Params, SearchSpace } from './space.js';
import type { Score } from './statistics.js';
import { roundTo } from '../core/math.js';

/**
 * The sweep directory is the sweep's record (docs/sweep.md): every file written to a temporary
 * file and renamed, so a crash leaves the previous version whole, and `--resume` continues from it.
 */
export const SWEEP_FILES = {
  meta: 'sweep.json',
  space: 'space.yaml',
  trials: 'trials.jsonl',
  results: 'results.csv',
  best: 'best.yaml',
  charts: 'charts',
  runs: 'runs',
} as const;

export type TrialState = 'running' | 'done' | 'pruned' | 'failed';
export type SeedState = 'pending' | 'running' | 'done' | 'failed' | 'skipped';

export interface SeedRecord {
  readonly index: number;
  /** The train config's seed. */
  readonly seed: number;
  state: SeedState;
  result?: SeedResult;
  worker?: string;
  startedAt?: string;
  finishedAt?: string;
  reason?: string;
}

export interface TrialRecord {
  readonly id: number;
  readonly params: Params;
  /** The train config input of the configuration (base + parameters), without the seed. */
  readonly config: Record<string, unknown>;
  /** The train config's defaults (the reference trial): never pruned, not modelled by the sampler. */
  readonly reference?: 'defaults';
  state: TrialState;
  reason?: string;
  seeds: SeedRecord[];
  readonly createdAt: string;
  finishedAt?: string;
  score?: Score;
}

export interface SweepSettings {
  readonly trials: number;
  readonly seeds: number;
  readonly sampler: SamplerName;
  readonly pruner: PrunerName;
  /** The sweep's seed: draws the configurations (not the trials' own seeds, which are 0..seeds-1 for every configuration). */
  readonly seed: number;
  readonly reductionFactor: number;
  readonly startupTrials: number;
  /** Trial 0 is the defaults (all seeds, never pruned), the reference "beats the defaults" is judged against. */
  readonly includeDefaults: boolean;
}

export interface SweepMeta {
  readonly id: string;
  readonly command: readonly string[];
  readonly gitRevision: string | null;
  readonly createdAt: string;
  readonly settings: SweepSettings;
}

export function gitRevision(): string | null {
  try {
    return (
      execFileSync('git', ['rev-parse', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() ||
      null
    );
  } catch {
    return null;
  }
}

export async function writeMeta(dir: string, meta: SweepMeta): Promise<void> {
  await writeJsonSafely(join(dir, SWEEP_FILES.meta), meta);
}

export async function readMeta(dir: string): Promise<SweepMeta> {
  const meta = (await readJson(join(dir, SWEEP_FILES.meta))) as Partial<SweepMeta>;
  if (typeof meta.id !== 'string' || typeof meta.settings !== 'object' || meta.settings === null)
    throw new UserError(`${join(dir, SWEEP_FILES.meta)} is not a sweep record`);
  return meta as SweepMeta;
}

export async function writeTrials(dir: string, trials: readonly TrialRecord[]): Promise<void> {
  await writeFileSafely(
    join(dir, SWEEP_FILES.trials),
    trials.map((t) => JSON.stringify(t)).join('\n') + (trials.length > 0 ? '\n' : ''),
  );
}

export async function readTrials(dir: string): Promise<TrialRecord[]> {
  const path = join(dir, SWEEP_FILES.trials);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new UserError(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line, i) => {
      try {
        return JSON.parse(line) as TrialRecord;
      } catch (err) {
        throw new UserError(`${path} line ${i + 1} is not valid JSON: ${(err as Error).message}`);
      }
    });
}

function csvCell(value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value ?? '');
  return /[",\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** results.csv: one row per trial, its parameters and each objective key's estimate and 95% interval. */
export async function writeResults(dir: string, space: SearchSpace, trials: readonly TrialRecord[]): Promise<void> {
  const keys = ['cleanShare', 'metresPerDisengagement', 'trainingEpisodes'] as const;
  const header = [
    'trial',
    'reference',
    'state',
    'seeds_done',
    ...space.parameters.map((p) => p.path),
    ...keys.flatMap((k) => [k, `${k}_low`, `${k}_high`]),
    'reason',
  ];
  const rows = trials.map((t): unknown[] => [
    t.id,
    t.reference ?? '',
    t.state,
    t.seeds.filter((s) => s.state === 'done').length,
    ...space.parameters.map((p) => (p.path in t.params ? t.params[p.path] : '')),
    ...keys.flatMap((k): unknown[] =>
      t.score ? [t.score[k].estimate, t.score[k].low, t.score[k].high].map((x) => roundTo(x, 4)) : ['', '', ''],
    ),
    t.reason ?? '',
  ]);
  await writeFileSafely(
    join(dir, SWEEP_FILES.results),
    [header, ...rows].map((r) => r.map(csvCell).join(',')).join('\n') + '\n',
  );
}

/** best.yaml: the best configuration as a train config file (`daydrive train --config best.yaml`). */
export async function writeBest(dir: string, best: TrialRecord): Promise<void> {
  const comment = `# daydrive sweep: trial ${best.id}, the best configuration of this sweep (see results.csv)\n`;
  await writeFileSafely(join(dir, SWEEP_FILES.best), comment + toYaml(best.config));
}
