import { Rng } from '../../core/rng.js';
import { paramsFromUnits, type Params, type SearchSpace } from '../space.js';
import type { Sampler, SampleContext } from './sampler.js';

/**
 * Latin hypercube design (McKay et al. 1979): for n trials each parameter's range is cut into n
 * equal strata and every stratum is used once, in an independent random order per parameter, at
 * a uniform point inside it. Trials beyond the design (a resumed sweep with more trials) are random.
 */
export function latinHypercube(n: number, dimensions: number, rng: Rng): number[][] {
  const design = Array.from({ length: n }, () => new Array<number>(dimensions).fill(0));
  for (let d = 0; d < dimensions; d++) {
    const strata = Array.from({ length: n }, (_, i) => i);
    for (let i = n - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [strata[i], strata[j]] = [strata[j]!, strata[i]!];
    }
    for (let i = 0; i < n; i++) design[i]![d] = (strata[i]! + rng.uniform()) / n;
  }
  return design;
}

export class LatinHypercubeSampler implements Sampler {
  readonly name = 'lhs' as const;
  private readonly design: number[][];

  constructor(space: SearchSpace, trials: number, seed: number) {
    this.design = latinHypercube(trials, space.parameters.length, Rng.fromSeed(seed));
  }

  sample(space: SearchSpace, ctx: SampleContext): Params {
    const row = this.design[ctx.trialIndex];
    return paramsFromUnits(space, (_, i) => (row ? row[i]! : ctx.rng.uniform()));
  }
}
