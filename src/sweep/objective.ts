import type { ObjectiveKey } from './space.js';

/**
 * What one trial seed measured (train + evaluate one configuration under one seed), and the
 * objective's per-seed quantities. The default objective (docs/sweep.md): the share of unseen
 * evaluation roads driven without a disengagement, then metres per disengagement, then training
 * episodes; each is estimated with a bootstrap interval over seeds and roads (statistics.ts).
 */

/** One unseen road driven to its end by the trained policy (the driver puts it back after each disengagement). */
export interface RoadOutcome {
  readonly roadSeed: number;
  readonly distanceM: number;
  readonly disengagements: number;
  readonly completed: boolean;
}

export interface SeedResult {
  /** The train config's seed of this trial seed. */
  readonly seed: number;
  /** Learning episodes to the stop rule; null when the run did not solve within its episodes. */
  readonly trainingEpisodes: number | null;
  readonly learningEpisodes: number;
  readonly solved: boolean;
  readonly roads: readonly RoadOutcome[];
  readonly routeLengthM: number;
  /** Where the trial seed's time went, seconds: child start-up (model load), training, evaluation, the whole. */
  readonly seconds: {
    readonly startup: number;
    readonly train: number;
    readonly evaluate: number;
    readonly total: number;
  };
  /** Training's own split (simulation, agent, optimisation), seconds. */
  readonly trainSeconds: { readonly world: number; readonly agent: number; readonly optimise: number };
  /** Who ran it: host:pid of the worker (or the local pool). */
  readonly worker: string;
}

/** Keys where smaller is better. */
export const MINIMISED: ReadonlySet<ObjectiveKey> = new Set(['trainingEpisodes']);

export const OBJECTIVE_LABELS: Record<ObjectiveKey, string> = {
  cleanShare: 'share of unseen roads driven clean',
  metresPerDisengagement: 'metres per disengagement',
  trainingEpisodes: 'training episodes',
};

/** Episodes a seed counts: to its stop rule, or every learning episode it drove when unsolved. */
export function episodesOf(r: SeedResult): number {
  return r.trainingEpisodes ?? r.learningEpisodes;
}

/** The objective's quantities pooled over some seeds' roads (the bootstrap's statistic). */
export function pooledMetrics(results: readonly SeedResult[]): Record<ObjectiveKey, number> {
  const roads = results.flatMap((r) => r.roads);
  const distanceM = roads.reduce((s, r) => s + r.distanceM, 0);
  const disengagements = roads.reduce((s, r) => s + r.disengagements, 0);
  return {
    cleanShare: roads.length === 0 ? 0 : roads.filter((r) => r.disengagements === 0).length / roads.length,
    // As Table I: the whole distance when there was no disengagement (a lower bound).
    metresPerDisengagement: distanceM / Math.max(1, disengagements),
    trainingEpisodes: results.length === 0 ? 0 : results.reduce((s, r) => s + episodesOf(r), 0) / results.length,
  };
}

/**
 * One number per configuration for the pruners (higher is better): the objective's keys in
 * order, each mapped into [0, 1] (metres per disengagement m as m / (m + route length), episodes
 * e as 10 / (e + 10)) and weighted 1, 1e-3, 1e-6, so the first key decides unless it ties.
 */
export function scalarObjective(results: readonly SeedResult[], objective: readonly ObjectiveKey[]): number {
  const m = pooledMetrics(results);
  const routeLengthM = results[0]?.routeLengthM ?? 250;
  const unit: Record<ObjectiveKey, number> = {
    cleanShare: m.cleanShare,
    metresPerDisengagement: m.metresPerDisengagement / (m.metresPerDisengagement + routeLengthM),
    trainingEpisodes: 10 / (m.trainingEpisodes + 10),
  };
  return objective.reduce((s, key, i) => s + unit[key] * 1e-3 ** i, 0);
}
