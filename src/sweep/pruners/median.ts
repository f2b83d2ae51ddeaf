import { percentile, type PruneDecision, type Pruner } from './pruner.js';

/**
 * Median stopping (Optuna's MedianPruner, rl-zoo3's default; Golovin et al. 2017): after
 * `startupTrials` completed trials, a trial whose value after step s is below the median of the
 * completed trials' values after step s is pruned. Optuna compares a trial's best value so far;
 * here a step's value is the mean over the seeds so far (an estimate, not a learning curve), so
 * its latest value is compared.
 */
export class MedianPruner implements Pruner {
  readonly name = 'median' as const;
  private readonly values = new Map<number, Map<number, number>>();
  private readonly completed = new Set<number>();

  constructor(private readonly startupTrials = 5) {}

  report(trialId: number, step: number, value: number): PruneDecision {
    let byTrial = this.values.get(step);
    if (!byTrial) this.values.set(step, (byTrial = new Map()));
    byTrial.set(trialId, value);
    if (this.completed.size < this.startupTrials) return 'continue';
    const others = [...byTrial].filter(([id]) => id !== trialId && this.completed.has(id)).map(([, v]) => v);
    if (others.length === 0) return 'continue';
    return value < percentile(others, 50) ? 'prune' : 'continue';
  }

  complete(trialId: number): void {
    this.completed.add(trialId);
  }
}
