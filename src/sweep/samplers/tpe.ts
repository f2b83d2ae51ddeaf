import { fromInternal, internalBounds, isActive, toInternal, type Params, type SearchSpace } from '../space.js';
import { categoricalEstimator, numericalEstimator, type Estimator } from './parzen.js';
import type { ObservedTrial, Sampler, SampleContext } from './sampler.js';

/** Optuna's TPESampler defaults: 10 random start-up trials, 24 expected-improvement candidates. */
export const TPE_DEFAULTS = { startupTrials: 10, candidates: 24 } as const;

/** The number of "good" trials among n: gamma(n) = min(ceil(0.1 n), 25) (Optuna's default_gamma). */
export function goodCount(n: number): number {
  return Math.min(Math.ceil(0.1 * n), 25);
}

/**
 * Univariate TPE (Bergstra et al. 2011; as Optuna's TPESampler with multivariate=False): after
 * `startupTrials` random trials, each parameter is drawn independently: the finished trials are
 * split into the gamma(n) best and the rest, a Parzen estimator l(x) is fitted to the best and
 * g(x) to the rest, `candidates` draws from l(x) are made and the one maximising
 * log l(x) - log g(x) (the expected improvement's ordering) is taken. A conditional parameter
 * learns from the trials where it was active. Ranking needs only the order of trials, so the
 * sweep's lexicographic objective needs no scalarisation here.
 */
export class TpeSampler implements Sampler {
  readonly name = 'tpe' as const;

  constructor(private readonly opts: { startupTrials: number; candidates: number } = TPE_DEFAULTS) {}

  sample(space: SearchSpace, ctx: SampleContext): Params {
    const params: Params = {};
    const useModel = ctx.ranked.length >= this.opts.startupTrials;
    for (const p of space.parameters) {
      if (!isActive(p, params)) continue;
      const d = p.distribution;
      if (d.kind === 'fixed') {
        params[p.path] = d.value;
        continue;
      }
      const observed = ctx.ranked.filter((t) => p.path in t.params);
      if (!useModel || observed.length < 2) {
        const [lo, hi] = internalBounds(d);
        params[p.path] =
          d.kind === 'categorical' ? d.choices[ctx.rng.int(d.choices.length)] : fromInternal(d, ctx.rng.range(lo, hi));
        continue;
      }
      const nGood = goodCount(observed.length);
      const values = (trials: readonly ObservedTrial[]) =>
        [...trials].sort((a, b) => a.id - b.id).map((t) => toInternal(d, t.params[p.path]));
      const good = values(observed.slice(0, nGood));
      const bad = values(observed.slice(nGood));
      const [lo, hi] = internalBounds(d);
      const fit = (obs: number[]): Estimator =>
        d.kind === 'categorical' ? categoricalEstimator(obs, d.choices.length) : numericalEstimator(obs, lo, hi);
      const l = fit(good);
      const g = fit(bad);
      let best = l.sample(ctx.rng);
      let bestScore = -Infinity;
      for (let i = 0; i < this.opts.candidates; i++) {
        const x = i === 0 ? best : l.sample(ctx.rng);
        const score = l.logPdf(x) - g.logPdf(x);
        if (score > bestScore) [best, bestScore] = [x, score];
      }
      params[p.path] = fromInternal(d, best);
    }
    return params;
  }
}
