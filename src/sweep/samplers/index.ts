import type { SearchSpace } from '../space.js';
import { LatinHypercubeSampler } from './lhs.js';
import { RandomSampler } from './random.js';
import type { Sampler, SamplerName } from './sampler.js';
import { TpeSampler, TPE_DEFAULTS } from './tpe.js';

export type { ObservedTrial, Sampler, SampleContext, SamplerName } from './sampler.js';
export { SAMPLERS } from './sampler.js';

/** The sampler of a sweep: `trials` sizes the Latin hypercube design, `seed` draws it. */
export function createSampler(
  name: SamplerName,
  space: SearchSpace,
  opts: { trials: number; seed: number; startupTrials?: number },
): Sampler {
  switch (name) {
    case 'random':
      return new RandomSampler();
    case 'lhs':
      return new LatinHypercubeSampler(space, opts.trials, opts.seed);
    case 'tpe':
      return new TpeSampler({
        startupTrials: opts.startupTrials ?? TPE_DEFAULTS.startupTrials,
        candidates: TPE_DEFAULTS.candidates,
      });
  }
}
