import type { Rng } from '../../core/rng.js';
import type { Params, SearchSpace } from '../space.js';

/** A finished trial as the samplers see it: its configuration, in trial order. */
export interface ObservedTrial {
  readonly id: number;
  readonly params: Params;
}

export interface SampleContext {
  /** The new trial's index (0-based). */
  readonly trialIndex: number;
  /** Finished trials ranked best first by the sweep's objective. */
  readonly ranked: readonly ObservedTrial[];
  /** The stream of this trial (derived from the sweep seed and the trial index). */
  readonly rng: Rng;
}

/** Proposes the next configuration of a space. */
export interface Sampler {
  readonly name: SamplerName;
  sample(space: SearchSpace, ctx: SampleContext): Params;
}

export const SAMPLERS = ['random', 'lhs', 'tpe'] as const;
export type SamplerName = (typeof SAMPLERS)[number];
