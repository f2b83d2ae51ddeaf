import { Rng } from '../core/rng.js';
import { MINIMISED, pooledMetrics, type SeedResult } from './objective.js';
import { OBJECTIVE_KEYS, type ObjectiveKey } from './space.js';

/**
 * A configuration's score with 95% intervals: a two-level (hierarchical) percentile bootstrap
 * over seeds and roads (Efron & Tibshirani 1993; Davison & Hinkley 1997, sec. 3.8): each
 * resample draws the seeds with replacement, then each drawn seed's roads with replacement, and
 * pools them. Seeds vary more than roads in RL (Henderson et al. 2018), and both are sampled.
 * The leaderboard ranks by the pessimistic bound of each key (the lower bound of what is
 * maximised, the upper bound of training episodes), so a lucky configuration does not win.
 */
export interface Interval {
  readonly estimate: number;
  readonly low: number;
  readonly high: number;
}

export type Score = Record<ObjectiveKey, Interval> & { readonly seeds: number; readonly roads: number };

export const BOOTSTRAP_RESAMPLES = 2000;

export function bootstrapScore(
  results: readonly SeedResult[],
  opts: { resamples?: number; seed?: number } = {},
): Score {
  const resamples = opts.resamples ?? BOOTSTRAP_RESAMPLES;
  const rng = Rng.fromSeed(opts.seed ?? 0);
  const point = pooledMetrics(results);
  const draws: Record<ObjectiveKey, number[]> = { cleanShare: [], metresPerDisengagement: [], trainingEpisodes: [] };
  if (results.length > 0) {
    for (let b = 0; b < resamples; b++) {
      const sample: SeedResult[] = [];
      for (let s = 0; s < results.length; s++) {
        const seed = results[rng.int(results.length)]!;
        sample.push({ ...seed, roads: seed.roads.map(() => seed.roads[rng.int(seed.roads.length)]!) });
      }
      const m = pooledMetrics(sample);
      for (const key of OBJECTIVE_KEYS) draws[key].push(m[key]);
    }
  }
  const interval = (key: ObjectiveKey): Interval => {
    const sorted = draws[key].sort((a, b) => a - b);
    const at = (q: number) =>
      sorted[Math.min(sorted.length - 1, Math.max(0, Math.floor(q * sorted.length)))] ?? point[key];
    return { estimate: point[key], low: at(0.025), high: at(0.975) };
  };
  return {
    cleanShare: interval('cleanShare'),
    metresPerDisengagement: interval('metresPerDisengagement'),
    trainingEpisodes: interval('trainingEpisodes'),
    seeds: results.length,
    roads: results.reduce((s, r) => s + r.roads.length, 0),
  };
}

/** The bound a key is ranked by: the lower bound when more is better, the upper when less is. */
export function pessimisticBound(score: Score, key: ObjectiveKey): number {
  return MINIMISED.has(key) ? -score[key].high : score[key].low;
}

/** Negative when `a` ranks before `b`: keys in the objective's order, each by its pessimistic bound, then the estimates. */
export function compareScores(a: Score, b: Score, objective: readonly ObjectiveKey[]): number {
  for (const key of objective) {
    const d = pessimisticBound(b, key) - pessimisticBound(a, key);
    if (Math.abs(d) > 1e-12) return d;
  }
  for (const key of objective) {
    const sign = MINIMISED.has(key) ? -1 : 1;
    const d = sign * (b[key].estimate - a[key].estimate);
    if (Math.abs(d) > 1e-12) return d;
  }
  return 0;
}

/** `a` beats `b` with separated intervals on the first objective key (a difference worth acting on, as docs/sweep.md says). */
export function beatsSeparated(a: Score, b: Score, objective: readonly ObjectiveKey[]): boolean {
  const key = objective[0]!;
  return MINIMISED.has(key) ? a[key].high < b[key].low : a[key].low > b[key].high;
}
