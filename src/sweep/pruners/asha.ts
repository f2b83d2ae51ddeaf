import { percentile, type PruneDecision, type Pruner } from './pruner.js';

/**
 * Asynchronous successive halving (Li et al. 2018, arXiv:1810.05934; as Ray Tune's
 * AsyncHyperBandScheduler with one bracket): rungs at minResource * rf^k seeds below maxResource;
 * when a trial reaches a rung it has not been recorded at, the cutoff is the (1 - 1/rf)
 * percentile of the values recorded there before it, and the trial stops if below; its value is
 * recorded either way. Nothing waits for a rung to fill: early trials pass empty rungs.
 */
export function ashaRungs(maxResource: number, reductionFactor: number, minResource = 1): number[] {
  const rungs = Math.floor(Math.log(maxResource / minResource) / Math.log(reductionFactor) + 1 + 1e-9);
  return Array.from({ length: rungs }, (_, k) => minResource * reductionFactor ** k).filter((m) => m < maxResource);
}

export class AshaPruner implements Pruner {
  readonly name = 'asha' as const;
  /** Rung milestones, highest first (Ray checks the highest rung reached). */
  private readonly rungs: { milestone: number; recorded: Map<number, number> }[];

  constructor(
    maxResource: number,
    private readonly reductionFactor = 2,
    minResource = 1,
  ) {
    this.rungs = ashaRungs(maxResource, reductionFactor, minResource)
      .reverse()
      .map((milestone) => ({ milestone, recorded: new Map() }));
  }

  get milestones(): number[] {
    return this.rungs.map((r) => r.milestone).reverse();
  }

  report(trialId: number, step: number, value: number): PruneDecision {
    for (const rung of this.rungs) {
      if (step < rung.milestone || rung.recorded.has(trialId)) continue;
      const before = [...rung.recorded.values()];
      rung.recorded.set(trialId, value);
      if (before.length === 0) return 'continue';
      return value < percentile(before, (1 - 1 / this.reductionFactor) * 100) ? 'prune' : 'continue';
    }
    return 'continue';
  }

  complete(): void {}
}
