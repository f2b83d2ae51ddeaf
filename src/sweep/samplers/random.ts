import { paramsFromUnits, type Params, type SearchSpace } from '../space.js';
import type { Sampler, SampleContext } from './sampler.js';

/** Independent uniform draws on each parameter's internal scale (log ranges uniform in log). */
export class RandomSampler implements Sampler {
  readonly name = 'random' as const;

  sample(space: SearchSpace, ctx: SampleContext): Params {
    return paramsFromUnits(space, () => ctx.rng.uniform());
  }
}
