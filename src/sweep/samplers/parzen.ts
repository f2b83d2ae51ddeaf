import type { Rng } from '../../core/rng.js';

/**
 * The Parzen estimators of univariate TPE (Bergstra et al. 2011, "Algorithms for
 * Hyper-Parameter Optimization"; the form of Optuna's `_ParzenEstimator`, univariate, with the
 * prior and the "magic clip"): a mixture of truncated Gaussians, one per observation plus a wide
 * prior, for numbers; a mixture of smoothed one-hot distributions for choices.
 */

/** Optuna's default_weights: equal weights up to 25 observations, then a linear ramp for older ones (oldest first). */
export function observationWeights(n: number): number[] {
  if (n < 25) return Array.from({ length: n }, () => 1);
  const ramp = Array.from({ length: n - 25 }, (_, i) => (n - 25 === 1 ? 1 / n : 1 / n + ((1 - 1 / n) * i) / (n - 26)));
  return [...ramp, ...Array.from({ length: 25 }, () => 1)];
}

/** Standard normal CDF via erf (Abramowitz & Stegun 7.1.26, |error| < 1.5e-7). */
export function normalCdf(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const erf =
    1 -
    ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-x * x);
  return z >= 0 ? 0.5 * (1 + erf) : 0.5 * (1 - erf);
}

export interface Estimator {
  sample(rng: Rng): number;
  logPdf(x: number): number;
}

/**
 * Truncated-Gaussian mixture on [low, high] from observations (in time order, oldest first).
 * Sigma of each kernel: the larger gap to its sorted neighbours (the end kernels: their inner
 * gap), clipped to [(high - low) / min(100, 1 + n + 1), high - low]; the prior sits at the
 * centre with sigma high - low and weight 1.
 */
export function numericalEstimator(observations: readonly number[], low: number, high: number): Estimator {
  const range = high - low;
  const prior = 0.5 * (low + high);
  const withPrior = [...observations, prior];
  const order = withPrior.map((_, i) => i).sort((a, b) => withPrior[a]! - withPrior[b]!);
  const sorted = [low, ...order.map((i) => withPrior[i]!), high];
  const sortedSigmas = order.map((_, k) => Math.max(sorted[k + 1]! - sorted[k]!, sorted[k + 2]! - sorted[k + 1]!));
  if (sorted.length >= 4) {
    sortedSigmas[0] = sorted[2]! - sorted[1]!;
    sortedSigmas[sortedSigmas.length - 1] = sorted[sorted.length - 2]! - sorted[sorted.length - 3]!;
  }
  const sigmaOf = new Array<number>(withPrior.length);
  order.forEach((i, k) => (sigmaOf[i] = sortedSigmas[k]!));
  const minSigma = range / Math.min(100, 1 + observations.length + 1);
  const mus = withPrior;
  const sigmas = mus.map((_, i) =>
    i === observations.length ? range : Math.min(range, Math.max(minSigma, sigmaOf[i]!)),
  );
  const weights = normalise([...observationWeights(observations.length), 1]);
  const mass = mus.map((mu, i) =>
    Math.max(1e-12, normalCdf((high - mu) / sigmas[i]!) - normalCdf((low - mu) / sigmas[i]!)),
  );
  return {
    sample(rng: Rng): number {
      const k = pickWeighted(weights, rng.uniform());
      // Rejection from the kernel's Gaussian; a kernel with little mass inside falls back to a uniform draw.
      for (let tries = 0; tries < 100; tries++) {
        const x = mus[k]! + sigmas[k]! * rng.normal();
        if (x >= low && x <= high) return x;
      }
      return rng.range(low, high);
    },
    logPdf(x: number): number {
      let p = 0;
      for (let i = 0; i < mus.length; i++) {
        const z = (x - mus[i]!) / sigmas[i]!;
        p += (weights[i]! * Math.exp(-0.5 * z * z)) / (sigmas[i]! * Math.sqrt(2 * Math.PI) * mass[i]!);
      }
      return Math.log(Math.max(p, 1e-300));
    },
  };
}

/** Mixture over choices: each observation's row is prior/(n+1) everywhere plus 1 on its choice, normalised (Optuna). */
export function categoricalEstimator(observations: readonly number[], choices: number): Estimator {
  const rows = observations.length + 1;
  const table = Array.from({ length: rows }, (_, r) => {
    const row = Array.from({ length: choices }, () => 1 / rows);
    if (r < observations.length) row[observations[r]!]! += 1;
    return normalise(row);
  });
  const weights = normalise([...observationWeights(observations.length), 1]);
  const probabilities = Array.from({ length: choices }, (_, c) =>
    table.reduce((s, row, r) => s + weights[r]! * row[c]!, 0),
  );
  return {
    sample: (rng) => pickWeighted(probabilities, rng.uniform()),
    logPdf: (x) => Math.log(Math.max(probabilities[Math.round(x)] ?? 0, 1e-300)),
  };
}

function normalise(values: readonly number[]): number[] {
  const total = values.reduce((s, v) => s + v, 0);
  return values.map((v) => v / total);
}

function pickWeighted(weights: readonly number[], u: number): number {
  let acc = 0;
  for (let i = 0; i < weights.length; i++) {
    acc += weights[i]!;
    if (u < acc) return i;
  }
  return weights.length - 1;
}
