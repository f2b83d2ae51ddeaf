import { AshaPruner } from './asha.js';
import { MedianPruner } from './median.js';
import { NoPruner, type Pruner, type PrunerName } from './pruner.js';

export { PRUNERS, type PruneDecision, type Pruner, type PrunerName } from './pruner.js';

export function createPruner(
  name: PrunerName,
  opts: { seeds: number; reductionFactor?: number; startupTrials?: number },
): Pruner {
  switch (name) {
    case 'none':
      return new NoPruner();
    case 'median':
      return new MedianPruner(opts.startupTrials ?? 5);
    case 'asha':
      return new AshaPruner(opts.seeds, opts.reductionFactor ?? 2);
  }
}
