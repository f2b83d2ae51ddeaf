import type { ExplorationConfig } from '../rl/config.js';

/**
 * Each actor explores with its own noise scale (Ape-X, Horgan et al. 2018, eq. 1:
 * eps_i = eps^(1 + alpha * i / (N - 1)) with eps = 0.4, alpha = 7). Here the scale multiplies the
 * configured noise: scale_i = 0.4^(alpha * i / (N - 1)), so actor 0 explores as a single process
 * does and the last one with 0.4^alpha of it. Ape-X's alpha = 7 leaves the last of few actors
 * nearly greedy; the default alpha = 1 (last actor: 0.4x) keeps every actor exploring.
 */
export function actorNoiseScale(actorIndex: number, actors: number, alpha: number): number {
  if (!Number.isInteger(actors) || actors < 1) throw new RangeError(`actors must be a positive integer, got ${actors}`);
  if (!Number.isInteger(actorIndex) || actorIndex < 0 || actorIndex >= actors)
    throw new RangeError(`actor index ${actorIndex} is outside 0..${actors - 1}`);
  if (!(alpha >= 0) || !Number.isFinite(alpha))
    throw new RangeError(`noise alpha must be finite and >= 0, got ${alpha}`);
  return actors === 1 ? 1 : 0.4 ** ((alpha * actorIndex) / (actors - 1));
}

/**
 * The exploration config with its noise magnitude multiplied by `scale`. NoisyNet's noise is the
 * actor's learned sigma, which travels with the weights: every actor explores with it unscaled.
 */
export function scaledExploration(config: ExplorationConfig, scale: number): ExplorationConfig {
  switch (config.type) {
    case 'ou':
    case 'gaussian':
      return { ...config, sigma: config.sigma * scale };
    case 'param':
      return { ...config, initialStd: config.initialStd * scale, targetActionStd: config.targetActionStd * scale };
    case 'noisy':
      return config;
  }
}
