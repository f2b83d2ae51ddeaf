/**
 * Pruning with seeds as the resource (docs/sweep.md): after each of a trial's seeds its
 * intermediate value is the mean objective scalar over the seeds done so far (higher is better);
 * a pruner may stop the trial there, so a configuration clearly worse after one seed gets no more.
 */
export type PruneDecision = 'continue' | 'prune';

export interface Pruner {
  readonly name: PrunerName;
  /** The trial's value after `step` seeds (1-based); records it and decides. */
  report(trialId: number, step: number, value: number): PruneDecision;
  /** The trial ran all its seeds (median pruning compares with completed trials only). */
  complete(trialId: number): void;
}

export const PRUNERS = ['none', 'median', 'asha'] as const;
export type PrunerName = (typeof PRUNERS)[number];

export class NoPruner implements Pruner {
  readonly name = 'none' as const;
  report(): PruneDecision {
    return 'continue';
  }
  complete(): void {}
}

/** The q-th percentile (0..100) with linear interpolation between order statistics (numpy's default). */
export function percentile(values: readonly number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const pos = ((sorted.length - 1) * q) / 100;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}
