import { z } from 'zod';
import { parseWith } from '../core/config.js';
import { UserError } from '../core/errors.js';
import { Rng } from '../core/rng.js';
import {
  explorationConfigSchema,
  rngStateSchema,
  type ExplorationConfig,
  type ExplorationConfigInput,
  type GaussianNoiseConfig,
  type NoisyNetConfig,
  type OuNoiseConfig,
  type ParamNoiseConfig,
} from './config.js';
import { isNoisyPolicy, isPerturbablePolicy, type Exploration, type Learner } from './types.js';
import { clamp } from '../core/math.js';

/**
 * Exploration: how the behaviour policy departs from mu(s). Action-space noise (Ornstein-Uhlenbeck,
 * Gaussian) is added to mu(s) and clipped to [-1, 1]; parameter-space noise acts with a perturbed
 * copy of the actor. Each keeps its own Rng, and its state (toJSON) resumes the same schedule.
 */

// Saved states (toJSON), validated by restore: a NaN or negative count or std would silently
// poison every later action. Unknown keys (derived values such as `sigma`) are ignored.
const episodesSchema = z.number().int().min(0);
const ouStateSchema = z.object({
  type: z.literal('ou'),
  episodes: episodesSchema,
  x: z.array(z.number()),
  rng: rngStateSchema,
});
const gaussianStateSchema = z.object({ type: z.literal('gaussian'), episodes: episodesSchema, rng: rngStateSchema });
const paramStateSchema = z.object({
  type: z.literal('param'),
  episodes: episodesSchema,
  /** > 0: the adaptation is multiplicative, a std of 0 would never recover. */
  stddev: z.number().positive(),
  /** null until the first adaptation (JSON has no NaN). */
  lastDistance: z.number().min(0).nullable().default(null),
  rng: rngStateSchema,
});
const noisyStateSchema = z.object({ type: z.literal('noisy'), episodes: episodesSchema, rng: rngStateSchema });
const STATE_SOURCE = 'exploration state';

/** sigma_k = sigma_0 * 2^(-k / halfLife) after k episodes (the paper's noise half-life). */
export function decayedSigma(sigma0: number, episodes: number, halfLifeEpisodes: number | null): number {
  return halfLifeEpisodes === null ? sigma0 : sigma0 * Math.pow(0.5, episodes / halfLifeEpisodes);
}

/**
 * Ornstein-Uhlenbeck process dx = theta (mu - x) dt + sigma dW (Uhlenbeck & Ornstein 1930, as in
 * DDPG), Euler-Maruyama: x <- x + theta (mu - x) dt + sigma sqrt(dt) N(0, 1). Reset to mu at the
 * start of each episode; sigma decays with the half-life.
 */
export class OrnsteinUhlenbeckNoise implements Exploration {
  private readonly x: Float64Array;
  private episodes = 0;

  constructor(
    readonly config: OuNoiseConfig,
    readonly actionSize: number,
    private rng: Rng,
  ) {
    this.x = new Float64Array(actionSize).fill(config.mu);
  }

  get sigma(): number {
    return decayedSigma(this.config.sigma, this.episodes, this.config.halfLifeEpisodes);
  }

  /** Advances the process one step and returns x. */
  sample(): Float64Array {
    const { theta, mu, dt } = this.config;
    const s = this.sigma * Math.sqrt(dt);
    for (let i = 0; i < this.x.length; i++) {
      const xi = this.x[i] as number;
      this.x[i] = xi + theta * (mu - xi) * dt + s * this.rng.normal();
    }
    return this.x;
  }

  action(learner: Learner, state: Float32Array): Float32Array {
    const a = learner.act(state);
    const x = this.sample();
    return a.map((ai, i) => clamp(ai + (x[i] as number), -1, 1));
  }

  endEpisode(): void {
    this.episodes += 1;
    this.x.fill(this.config.mu);
  }

  toJSON(): Record<string, unknown> {
    return { type: 'ou', episodes: this.episodes, x: [...this.x], sigma: this.sigma, rng: this.rng.state() };
  }

  restore(state: Record<string, unknown>): void {
    const saved = parseWith(ouStateSchema, state, STATE_SOURCE);
    if (saved.x.length !== this.x.length) {
      throw new UserError(
        `invalid ${STATE_SOURCE}: field x: ${saved.x.length} components, the action has ${this.x.length}`,
      );
    }
    this.episodes = saved.episodes;
    this.x.set(saved.x);
    this.rng = Rng.fromState(saved.rng);
  }
}

/** a = clip(mu(s) + N(0, sigma_k^2)), independent per step and component. */
export class GaussianNoise implements Exploration {
  private episodes = 0;

  constructor(
    readonly config: GaussianNoiseConfig,
    readonly actionSize: number,
    private rng: Rng,
  ) {}

  get sigma(): number {
    return decayedSigma(this.config.sigma, this.episodes, this.config.halfLifeEpisodes);
  }

  action(learner: Learner, state: Float32Array): Float32Array {
    const a = learner.act(state);
    const sigma = this.sigma;
    return a.map((ai) => clamp(ai + sigma * this.rng.normal(), -1, 1));
  }

  endEpisode(): void {
    this.episodes += 1;
  }

  toJSON(): Record<string, unknown> {
    return { type: 'gaussian', episodes: this.episodes, sigma: this.sigma, rng: this.rng.state() };
  }

  restore(state: Record<string, unknown>): void {
    const saved = parseWith(gaussianStateSchema, state, STATE_SOURCE);
    this.episodes = saved.episodes;
    this.rng = Rng.fromState(saved.rng);
  }
}

/**
 * Adaptive parameter-space noise (Plappert et al. 2018, section 3): act with weights
 * theta + N(0, sigma^2), redrawn every episode from the weights of that moment. After each
 * episode sigma is adapted as OpenAI baselines does (`DDPG.adapt_param_noise`): a separate copy
 * of the *current* actor is perturbed with the current sigma and the RMS distance d between its
 * actions and mu's is measured on a replay batch; sigma <- sigma / alpha if d > delta (the
 * target action std), else sigma * alpha (`AdaptiveParamNoiseSpec.adapt`). Comparing with the
 * behaviour policy instead would count the training of the episode as noise and drive sigma down.
 */
export class ParameterNoise implements Exploration {
  private stddev: number;
  private episodes = 0;
  private lastDistance = Number.NaN;
  private learner: Learner | null = null;
  private perturbedFor: Learner | null = null;

  constructor(
    readonly config: ParamNoiseConfig,
    private rng: Rng,
  ) {
    this.stddev = config.initialStd;
  }

  get currentStddev(): number {
    return this.stddev;
  }

  /** The distance measured at the last adaptation (NaN before the first). */
  get lastAdaptationDistance(): number {
    return this.lastDistance;
  }

  action(learner: Learner, state: Float32Array): Float32Array {
    if (!isPerturbablePolicy(learner))
      throw new RangeError('parameter noise needs a learner that can perturb its policy (createLearner does)');
    this.learner = learner;
    if (this.perturbedFor !== learner) {
      learner.perturbPolicy(this.stddev, this.rng);
      this.perturbedFor = learner;
    }
    return learner.actPerturbed(state).map((a) => clamp(a, -1, 1));
  }

  endEpisode(): void {
    this.episodes += 1;
    const learner = this.learner;
    if (!learner || !isPerturbablePolicy(learner)) return;
    const d = learner.perturbationDistance(this.stddev, this.config.adaptationBatch, this.rng);
    if (Number.isFinite(d)) {
      this.lastDistance = d;
      this.stddev = adaptedStddev(this.stddev, d, this.config.targetActionStd, this.config.adaptation);
    }
    // The next episode's behaviour policy: the current weights, perturbed with the adapted std.
    learner.perturbPolicy(this.stddev, this.rng);
  }

  toJSON(): Record<string, unknown> {
    return {
      type: 'param',
      episodes: this.episodes,
      stddev: this.stddev,
      lastDistance: Number.isFinite(this.lastDistance) ? this.lastDistance : null,
      rng: this.rng.state(),
    };
  }

  restore(state: Record<string, unknown>): void {
    const saved = parseWith(paramStateSchema, state, STATE_SOURCE);
    this.episodes = saved.episodes;
    this.stddev = saved.stddev;
    this.lastDistance = saved.lastDistance ?? Number.NaN;
    this.rng = Rng.fromState(saved.rng);
    this.perturbedFor = null;
  }
}

/**
 * NoisyNet exploration (Fortunato et al. 2018): the actor's layers carry learned factorised
 * Gaussian noise (networks.ts, LearnerConfig.noisyActorSigma0; the learner trains sigma with the
 * means), and the behaviour policy is the actor under one draw of it, redrawn every step or once
 * per training episode (`resample`). No hand-set noise scale or decay: the actor learns how much
 * noise pays. Tests drive the mean (learner.act). The learner must have a noisy actor
 * (learnerSettingsForExploration gives the setting).
 */
export class NoisyNetExploration implements Exploration {
  private episodes = 0;
  private drawnFor: Learner | null = null;

  constructor(
    readonly config: NoisyNetConfig,
    private rng: Rng,
  ) {}

  action(learner: Learner, state: Float32Array): Float32Array {
    if (!isNoisyPolicy(learner))
      throw new RangeError(
        "exploration type 'noisy' needs a learner with a NoisyNet actor (learner setting noisyActorSigma0)",
      );
    if (this.config.resample === 'step' || this.drawnFor !== learner) {
      learner.resampleActingNoise(this.rng);
      this.drawnFor = learner;
    }
    return learner.actNoisy(state).map((a) => clamp(a, -1, 1));
  }

  endEpisode(): void {
    this.episodes += 1;
    this.drawnFor = null; // a new draw at the next episode's first step
  }

  toJSON(): Record<string, unknown> {
    return { type: 'noisy', episodes: this.episodes, rng: this.rng.state() };
  }

  restore(state: Record<string, unknown>): void {
    const saved = parseWith(noisyStateSchema, state, STATE_SOURCE);
    this.episodes = saved.episodes;
    this.rng = Rng.fromState(saved.rng);
    this.drawnFor = null;
  }
}

/**
 * The adaptation rule of Plappert et al. 2018, section 3.2:
 * sigma_{k+1} = sigma_k / alpha if d(pi, pi~) > delta, else alpha * sigma_k.
 */
export function adaptedStddev(stddev: number, distance: number, targetActionStd: number, adaptation: number): number {
  return distance > targetActionStd ? stddev / adaptation : stddev * adaptation;
}

export type RestorableExploration = Exploration & { restore(state: Record<string, unknown>): void };

/**
 * The exploration named by `config` (parsed with explorationConfigSchema: `{}` is not valid, a
 * `type` is required; undefined gives the paper's OU noise). `state` is a previous toJSON() to resume.
 */
export function createExploration(
  config: ExplorationConfigInput | ExplorationConfig | undefined,
  actionSize: number,
  rng: Rng,
  state?: Record<string, unknown>,
): RestorableExploration {
  const cfg = explorationConfigSchema.parse(config);
  let exploration: RestorableExploration;
  switch (cfg.type) {
    case 'ou':
      exploration = new OrnsteinUhlenbeckNoise(cfg, actionSize, rng);
      break;
    case 'gaussian':
      exploration = new GaussianNoise(cfg, actionSize, rng);
      break;
    case 'param':
      exploration = new ParameterNoise(cfg, rng);
      break;
    case 'noisy':
      exploration = new NoisyNetExploration(cfg, rng);
      break;
  }
  if (state) {
    if (state.type !== cfg.type)
      throw new RangeError(`saved exploration state is '${String(state.type)}', the config asks for '${cfg.type}'`);
    exploration.restore(state);
  }
  return exploration;
}
