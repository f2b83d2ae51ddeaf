import { z } from 'zod';
import { parseWith } from '../core/config.js';
import { ALGORITHMS, explorationConfigSchema, learnerConfigSchema } from '../rl/config.js';

/**
 * The agent's settings (state, action shaping, the task schedule). Defaults follow Kendall et
 * al. 2019 where the paper gives them (random actions first; the driver's train / test / undo /
 * done tasks); the rest were measured in the simulator (see docs/agent.md).
 */
export const agentConfigSchema = z
  .object({
    /** 'vae': latent mean of the pretrained VAE; 'pixels': the image itself (the paper's baseline). */
    state: z.enum(['vae', 'pixels']).default('vae'),
    /** The last k executed commands appended to the state (Raffin's reproduction); 0 = none. */
    commandHistory: z.number().int().min(0).max(20).default(0),
    /** Largest steering change per policy step, in action units (the range is 2: -1..1). */
    maxSteeringChangePerStep: z.number().positive().max(2).default(0.3),
    /**
     * The policy's speed output [-1, 1] maps linearly onto this part of the world's set-point
     * range (0 = stop, 1 = the world's maximum set-point, 10 km/h on the paper's car).
     */
    speedFractionRange: z
      .tuple([z.number().min(0).max(1), z.number().min(0).max(1)])
      .default([0.3, 1])
      .refine(([lo, hi]) => lo < hi, { message: 'the lower bound must be below the upper bound' }),
    /** Episodes of uniformly random actions before the first training episode. */
    exploreEpisodes: z.number().int().min(0).max(1000).default(1),
    /**
     * Optimisation steps after every explore/train episode, while the car is reset. The paper
     * ran 250 (the time its car's reset took); in simulation 1000 learned more per episode
     * (58 against 38 m per disengagement, median of 5 seeds, docs/agent.md round 2), and the
     * simulator does not wait.
     */
    optimisationSteps: z.number().int().min(0).max(100_000).default(1000),
    /**
     * Test episodes' transitions go into the replay too (no optimisation follows a test; later
     * updates use them). Noisy training episodes end within metres, tests reach the bends where
     * the policy fails: their data shows the critic what the policy itself does there. The paper
     * learned from training episodes only; over 10 seeds in simulation, with any road as a test
     * road, this drove 71 m per disengagement on unseen roads against 58 (the median run 417
     * against 132), with a median of 10 training episodes (docs/agent.md, round 6).
     */
    replayTestEpisodes: z.boolean().default(true),
    /** Pixel state: the model input after the sky crop (square images keep the conv encoder simple). */
    pixels: z
      .object({
        widthPx: z.number().int().min(8).max(256).default(32),
        heightPx: z.number().int().min(8).max(256).default(32),
        skyCropFraction: z.number().min(0).max(0.9).default(0.4),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export type AgentConfig = z.output<typeof agentConfigSchema>;
export type AgentConfigInput = z.input<typeof agentConfigSchema>;

export function parseAgentConfig(raw: unknown = {}, source = 'agent config'): AgentConfig {
  return parseWith(agentConfigSchema, raw ?? {}, source);
}

/** What the world tells the agent about its units: speed and steering scale the state, the policy period sizes the return (D4PG's support). */
export interface VehicleScale {
  /** The world's maximum steering angle, rad. */
  readonly maxSteeringRad: number;
  /** The world's maximum speed set-point, m/s. */
  readonly maxSpeedMps: number;
  /** The world's policy period (one action per period), s: the time a step's reward is counted over. */
  readonly policyPeriodS: number;
}

/**
 * The learning part of a configuration, shared by `daydrive train` (src/jobs/train-config.ts) and
 * the drive node's config file (src/ros/agent-config.ts), so settings tuned in simulation carry
 * over to the car unchanged. Spread it into a z.object and add `checkLearnerOverrides`.
 */
export const drivingLearningShape = {
  seed: z.number().int().min(0).max(0x7fffffff).default(0),
  /**
   * TD3 (DDPG with twin critics, a delayed actor and target smoothing; prioritized replay as the
   * paper): in simulation it learned where plain DDPG oscillated (docs/agent.md).
   */
  algo: z.enum(ALGORITHMS).default('td3'),
  /** Directory of the VAE (default: the shipped models/vae-sim). */
  vaeModel: z.string().min(1).optional(),
  agent: agentConfigSchema.prefault({}),
  /** Overrides of the learner's settings (src/rl/config.ts) on top of the algorithm preset and the driving defaults (drivingLearnerDefaults, create.ts). */
  learner: z.record(z.string(), z.unknown()).default({}),
  exploration: explorationConfigSchema,
};

/** Checks the `learner` overrides against the learner's own schema, reporting their path. */
export function checkLearnerOverrides(c: { learner: Record<string, unknown> }, ctx: z.RefinementCtx): void {
  const learner = learnerConfigSchema.safeParse(c.learner);
  if (!learner.success)
    for (const issue of learner.error.issues) ctx.addIssue({ ...issue, path: ['learner', ...issue.path] });
}
