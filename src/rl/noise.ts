import { Rng } from '../core/rng.js';
import {
  explorationConfigSchema,
  type ExplorationConfig,
  type ExplorationConfigInput,
  type GaussianNoiseConfig,
  type OuNoiseConfig,
  type ParamNoiseConfig,
} from './config.js';
import { isPerturbablePolicy, type Exploration, type Learner } from './types.js';

/**
 * Exploration: how the behaviour policy departs from mu(s). Action-space noise (Ornstein-Uhlenbeck,
 * Gaussian) is added to mu(s) and clipped to [-1, 1]; parameter-space noise acts with a perturbed
 * copy of the actor. Each keeps its own Rng, and its state (toJSON) resumes the same schedule.
 */

function clip1(x: number): number {
  return x < -1 ? -1 : x > 1 ? 1 : x;
}

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
    return a.map((ai, i) => clip1(ai + (x[i] as number)));
  }

  endEpisode(): void {
    this.episodes += 1;
    this.x.fill(this.config.mu);
  }

  toJSON(): Record<string, unknown> {
    return { type: 'ou', episodes: this.episodes, x: [...this.x], sigma: this.sigma, rng: this.rng.state() };
  }

  restore(state: Record<string, unknown>): void {
    this.episodes = Number(state.episodes);
    const x = state.x as number[];
    if (!Array.isArray(x) || x.length !== this.x.length) throw new RangeError('OU state has the wrong action size');
    this.x.set(x);
    this.rng = Rng.fromState(state.rng as number[]);
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
    return a.map((ai) => clip1(ai + sigma * this.rng.normal()));
  }

  endEpisode(): void {
    this.episodes += 1;
  }

  toJSON(): Record<string, unknown> {
    return { type: 'gaussian', episodes: this.episodes, sigma: this.sigma, rng: this.rng.state() };
  }

  restore(state: Record<string, unknown>): void {
    this.episodes = Number(state.episodes);
    this.rng = Rng.fromState(state.rng as number[]);
  }
}

/**
 * Adaptive parameter-space noise (Plappert et al. 2018, section 3): act with weights
 * theta + N(0, sigma^2), redrawn every episode; after each episode sigma is divided by
 * `adaptation` if the RMS action distance to the plain policy (over replay states) exceeds
 * `targetActionStd`, else multiplied by it.
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

  action(learner: Learner, state: Float32Array): Float32Array {
    if (!isPerturbablePolicy(learner)) throw new RangeError('parameter noise needs a learner that can perturb its policy (createLearner does)');
    this.learner = learner;
    if (this.perturbedFor !== learner) {
      learner.perturbPolicy(this.stddev, this.rng);
      this.perturbedFor = learner;
    }
    return learner.actPerturbed(state).map(clip1);
  }

  endEpisode(): void {
    this.episodes += 1;
    const learner = this.learner;
    if (!learner || !isPerturbablePolicy(learner)) return;
    const d = learner.perturbationDistance(this.config.adaptationBatch, this.rng);
    if (Number.isFinite(d)) {
      this.lastDistance = d;
      this.stddev = d > this.config.targetActionStd ? this.stddev / this.config.adaptation : this.stddev * this.config.adaptation;
    }
    learner.perturbPolicy(this.stddev, this.rng);
  }

  toJSON(): Record<string, unknown> {
    return { type: 'param', episodes: this.episodes, stddev: this.stddev, lastDistance: this.lastDistance, rng: this.rng.state() };
  }

  restore(state: Record<string, unknown>): void {
    this.episodes = Number(state.episodes);
    this.stddev = Number(state.stddev);
    this.rng = Rng.fromState(state.rng as number[]);
    this.perturbedFor = null;
  }
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
  }
  if (state) {
    if (state.type !== cfg.type) throw new RangeError(`saved exploration state is '${String(state.type)}', the config asks for '${cfg.type}'`);
    exploration.restore(state);
  }
  return exploration;
}
