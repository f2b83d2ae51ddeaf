import { z } from 'zod';

/**
 * Learner and exploration settings: zod schemas with a default for every field, so `{}` parses to
 * a complete configuration and a bad value is reported with its field path (core/config parseWith).
 *
 * Defaults: the paper's where it gives them (Kendall et al. 2019: discount 0.9, batch 64, gradient
 * clipping 0.005, OU theta 0.6 / sigma 0.4 with a 250-episode half-life, prioritized replay);
 * Stable-Baselines3 / the TD3 paper for the rest (tau 0.005, Adam 1e-3, policy delay 2, target
 * noise 0.2 clipped at 0.5, PER alpha 0.6 / beta 0.4 -> 1 / eps 1e-6); D4PG: 51 atoms, n-step 5.
 */

const hiddenSizes = (sizes: number[]) => z.array(z.number().int().min(1).max(4096)).min(1).max(8).default(sizes);

export const replayConfigSchema = z
  .object({
    /** 'prioritized': proportional PER (Schaul et al. 2016); 'uniform': a plain ring buffer. */
    kind: z.enum(['prioritized', 'uniform']).default('prioritized'),
    /** Transitions kept (the oldest are overwritten). */
    capacity: z.number().int().min(1).max(50_000_000).default(100_000),
    /** Priority exponent: P(i) = p_i^alpha / sum_k p_k^alpha. */
    alpha: z.number().min(0).max(1).default(0.6),
    /** Importance-sampling exponent at the first update, annealed linearly to 1. */
    beta0: z.number().min(0).max(1).default(0.4),
    /** Updates over which beta reaches 1. */
    betaAnnealUpdates: z.number().int().min(1).default(100_000),
    /** Added to |TD error| so no transition has zero priority. */
    epsilon: z.number().positive().default(1e-6),
  })
  .strict();

export const encoderConfigSchema = z
  .object({
    /** Conv layers (3x3, stride 2, 'same' padding, relu), as the paper's VAE encoder. */
    convLayers: z.number().int().min(1).max(6).default(4),
    filters: z.number().int().min(1).max(256).default(16),
    /** Size of the tanh feature vector fed to actor and critic. */
    featureSize: z.number().int().min(1).max(1024).default(32),
  })
  .strict();

export const learnerConfigSchema = z
  .object({
    discount: z.number().min(0).max(1).default(0.9),
    batchSize: z.number().int().min(1).max(65_536).default(64),
    actorLearningRate: z.number().positive().max(1).default(1e-3),
    criticLearningRate: z.number().positive().max(1).default(1e-3),
    /** Polyak factor for the target networks: theta' <- tau theta + (1 - tau) theta'. */
    tau: z.number().min(0).max(1).default(0.005),
    /** Global-norm gradient clipping per network (actor; critics together); 0 disables it. */
    gradClipNorm: z.number().min(0).default(0.005),
    /** L2 weight decay on the critic parameters (DDPG paper: 1e-2); 0 disables it. */
    criticWeightDecay: z.number().min(0).default(0),
    actorHidden: hiddenSizes([64, 64]),
    criticHidden: hiddenSizes([64, 64]),
    /** Output layers start in U(-x, x) (DDPG paper: 3e-3) so the first actions and Q are near 0. */
    finalLayerInit: z.number().positive().default(3e-3),
    /**
     * Weight lambda of lambda * mean_i ||u_i||^2 on the actor's pre-tanh outputs u, added to the
     * actor loss (rlkit's policy_pre_activation_weight); 0 disables it. See ddpg.ts.
     */
    actorPreActivationPenalty: z.number().min(0).default(0),
    /**
     * Split-input networks (the Parkour D4PG's proprioceptive split): the last `lateInputSize`
     * state components (speed, steering, command history) join actor and critic at their second
     * layer, with the action in the critic; the rest (the latent) has the first layer to itself.
     * The driving agent sets lateInputSize from its state layout.
     */
    splitInput: z.boolean().default(false),
    lateInputSize: z.number().int().min(0).default(0),
    /**
     * NoisyNet actor (Fortunato et al. 2018): every actor layer has learned factorised Gaussian
     * noise, sigma starting at this / sqrt(fanIn) (the paper's 0.5). Set by exploration type
     * 'noisy'; null: a plain actor.
     */
    noisyActorSigma0: z.number().positive().nullable().default(null),
    // ---- TD3 switches (Fujimoto et al. 2018) ----
    /** Two critics, the minimum of their targets in the Bellman target. */
    twinCritics: z.boolean().default(false),
    /** Actor and target networks update once every `policyDelay` critic updates. */
    policyDelay: z.number().int().min(1).default(1),
    /** Std of the Gaussian noise on the target action (target policy smoothing); 0 disables it. */
    targetPolicyNoise: z.number().min(0).default(0),
    targetNoiseClip: z.number().min(0).default(0.5),
    // ---- D4PG switches (Barth-Maron et al. 2018) ----
    /** n-step returns, accumulated per actor. */
    nStep: z.number().int().min(1).max(100).default(1),
    /** Categorical (C51) critic over `atoms` returns in [vMin, vMax]; false: a scalar Q. */
    distributional: z.boolean().default(false),
    atoms: z.number().int().min(2).max(1001).default(51),
    vMin: z.number().default(-150),
    vMax: z.number().default(150),
    replay: replayConfigSchema.prefault({}),
    /**
     * Pixel states: the first h*w*c components of every state are an image (HWC, values in
     * [0, 1]) read by a conv encoder shared by actor and critic and trained by the critic loss;
     * the remaining components are vector features. Absent: every component is a vector feature.
     */
    imageShape: z.tuple([z.number().int().min(1), z.number().int().min(1), z.number().int().min(1)]).optional(),
    encoder: encoderConfigSchema.prefault({}),
  })
  .strict()
  .refine((c) => c.vMin < c.vMax, { message: 'vMin must be below vMax', path: ['vMax'] })
  .refine((c) => !(c.distributional && c.twinCritics), {
    message: 'twin critics with a distributional critic is not supported: choose one',
    path: ['twinCritics'],
  });

export type LearnerConfig = z.output<typeof learnerConfigSchema>;
export type LearnerConfigInput = z.input<typeof learnerConfigSchema>;
export type ReplayConfig = z.output<typeof replayConfigSchema>;
export type EncoderConfig = z.output<typeof encoderConfigSchema>;

export const ALGORITHMS = ['ddpg', 'td3', 'd4pg'] as const;
export type Algorithm = (typeof ALGORITHMS)[number];

/**
 * The switches that make each algorithm (merged under the user's settings): DDPG is the plain
 * schema; TD3 adds twin critics, delay 2 and target smoothing 0.2/0.5; D4PG a 51-atom critic
 * with 5-step returns and prioritized replay.
 */
export function algorithmPreset(algo: Algorithm): LearnerConfigInput {
  switch (algo) {
    case 'ddpg':
      return {};
    case 'td3':
      return { twinCritics: true, policyDelay: 2, targetPolicyNoise: 0.2, targetNoiseClip: 0.5 };
    case 'd4pg':
      return { distributional: true, atoms: 51, nStep: 5, replay: { kind: 'prioritized' } };
  }
}

/** `overrides` on top of `base`, the nested `replay` and `encoder` settings merged field by field. */
export function mergeLearnerConfig(base: LearnerConfigInput, overrides: LearnerConfigInput): LearnerConfigInput {
  return {
    ...base,
    ...overrides,
    replay: { ...(base.replay ?? {}), ...(overrides.replay ?? {}) },
    encoder: { ...(base.encoder ?? {}), ...(overrides.encoder ?? {}) },
  };
}

/** The preset of `algo` with `overrides` on top (nested `replay` / `encoder` merged), unparsed. */
export function withAlgorithmPreset(algo: Algorithm, overrides: LearnerConfigInput = {}): LearnerConfigInput {
  return mergeLearnerConfig(algorithmPreset(algo), overrides);
}

/** The preset of `algo` with `overrides` on top, parsed (throws a ZodError on bad values). */
export function learnerConfigFor(algo: Algorithm, overrides: LearnerConfigInput = {}): LearnerConfig {
  return learnerConfigSchema.parse(withAlgorithmPreset(algo, overrides));
}

// ---- saved state (checkpoints, exploration) ----

/**
 * The state of a core/rng.ts Rng (xoroshiro128+ from pure-rand): four 32-bit words, not all zero
 * (an all-zero state only ever yields zeros). Checked before Rng.fromState, which trusts its input.
 */
export const rngStateSchema = z
  .array(
    z
      .number()
      .int()
      .min(-(2 ** 31))
      .max(2 ** 32 - 1),
  )
  .length(4)
  .refine((words) => words.some((w) => w !== 0), { message: 'an all-zero generator state is invalid' });

// ---- exploration ----

const halfLife = z.number().positive().nullable().default(null);

export const ouNoiseSchema = z
  .object({
    type: z.literal('ou'),
    /** Mean reversion rate, 1/s: dx = theta (mu - x) dt + sigma dW. */
    theta: z.number().min(0).default(0.6),
    sigma: z.number().min(0).default(0.4),
    /** Time step of the discretisation, seconds (the paper's policy ran at 10 Hz). */
    dt: z.number().positive().default(0.1),
    mu: z.number().default(0),
    /** sigma halves every this many episodes (paper: 250); null: no decay. */
    halfLifeEpisodes: z.number().positive().nullable().default(250),
  })
  .strict();

export const gaussianNoiseSchema = z
  .object({
    type: z.literal('gaussian'),
    /** Std of the noise added to each action component (SB3 zoo: 0.1). */
    sigma: z.number().min(0).default(0.1),
    halfLifeEpisodes: halfLife,
  })
  .strict();

export const paramNoiseSchema = z
  .object({
    type: z.literal('param'),
    /** Initial std of the Gaussian perturbation of the actor weights (Plappert et al. 2018: 0.1). */
    initialStd: z.number().positive().default(0.1),
    /** Target distance between perturbed and plain actions (RMS over a batch of states). */
    targetActionStd: z.number().positive().default(0.2),
    /** The perturbation std is multiplied or divided by this after each episode. */
    adaptation: z.number().min(1).default(1.01),
    /** States from replay used to measure the action distance. */
    adaptationBatch: z.number().int().min(1).default(64),
  })
  .strict();

export const noisyNetSchema = z
  .object({
    type: z.literal('noisy'),
    /** Initial noise scale: sigma = sigma0 / sqrt(fanIn) per layer (Fortunato et al. 2018: 0.5 for factorised noise). */
    sigma0: z.number().positive().default(0.5),
    /** A new noise draw for acting at every step, or once per training episode. */
    resample: z.enum(['step', 'episode']).default('step'),
  })
  .strict();

export const explorationConfigSchema = z
  .discriminatedUnion('type', [ouNoiseSchema, gaussianNoiseSchema, paramNoiseSchema, noisyNetSchema])
  .default({ type: 'ou', theta: 0.6, sigma: 0.4, dt: 0.1, mu: 0, halfLifeEpisodes: 250 });

export type ExplorationConfig = z.output<typeof explorationConfigSchema>;
export type OuNoiseConfig = z.output<typeof ouNoiseSchema>;
export type GaussianNoiseConfig = z.output<typeof gaussianNoiseSchema>;
export type ParamNoiseConfig = z.output<typeof paramNoiseSchema>;
export type NoisyNetConfig = z.output<typeof noisyNetSchema>;

/** The learner settings an exploration needs: a NoisyNet actor for type 'noisy' (its sigma0), nothing else for the others. */
export function learnerSettingsForExploration(exploration: ExplorationConfig): LearnerConfigInput {
  return exploration.type === 'noisy' ? { noisyActorSigma0: exploration.sigma0 } : {};
}
export type ExplorationConfigInput = z.input<typeof explorationConfigSchema>;
