import { z } from 'zod';
import { parseWith } from '../core/config.js';
import { agentConfigSchema } from '../agent/config.js';
import { ALGORITHMS, explorationConfigSchema, learnerConfigSchema } from '../rl/config.js';
import { simConfigSchema } from '../../sim/config.js';

/**
 * The main job's configuration: one validated file (YAML or JSON) holding every setting, each
 * part owned by its module's schema. `{}` is a complete configuration (the defaults); a bad value
 * is reported with its field path. Learner fields are overrides on top of the algorithm's preset.
 */
export const trainConfigSchema = z
  .object({
    seed: z.number().int().min(0).max(0x7fffffff).default(0),
    algo: z.enum(ALGORITHMS).default('ddpg'),
    /** Seed of the training road (the paper trained and tested on one 250 m route). */
    routeSeed: z.number().int().min(0).max(0x7fffffff).default(1),
    /** Directory of the VAE (default: the shipped models/vae-sim). */
    vaeModel: z.string().min(1).optional(),
    agent: agentConfigSchema.prefault({}),
    /** Overrides of the learner's settings (src/rl/config.ts); the algorithm preset is applied first. */
    learner: z.record(z.string(), z.unknown()).default({}),
    exploration: explorationConfigSchema,
    schedule: z
      .object({
        maxEpisodes: z.number().int().min(1).max(10_000).default(40),
        testEvery: z.number().int().min(1).max(1000).default(1),
        stopWhenTestCompletesRoute: z.boolean().default(true),
        testsToPass: z.number().int().min(1).max(100).default(1),
        undoBelowFractionOfBestTest: z.number().min(0).max(1).nullable().default(null),
        trainingRoads: z.enum(['route', 'varied']).default('varied'),
        testRoads: z.enum(['route', 'new']).default('new'),
      })
      .strict()
      .prefault({}),
    /** Checkpoint after every this many episodes (and at the end). */
    checkpointEvery: z.number().int().min(1).default(1),
    sim: simConfigSchema,
  })
  .strict()
  .superRefine((c, ctx) => {
    // The learner overrides are checked against the learner's own schema, with their path.
    const learner = learnerConfigSchema.safeParse(c.learner);
    if (!learner.success) for (const issue of learner.error.issues) ctx.addIssue({ ...issue, path: ['learner', ...issue.path] });
  });

/**
 * Learner settings of the driving task under the user's `learner` overrides (the algorithm
 * preset comes first): the actor learns at 1e-4, as in the DDPG paper; at 1e-3 the actor ran
 * to full steering lock within a few updates and tests ended after 3 m (docs/agent.md).
 */
export const DRIVING_LEARNER_DEFAULTS = { actorLearningRate: 1e-4 } as const;

export type TrainConfig = z.output<typeof trainConfigSchema>;
export type TrainConfigInput = z.input<typeof trainConfigSchema>;

export function parseTrainConfig(raw: unknown, source: string): TrainConfig {
  return parseWith(trainConfigSchema, raw ?? {}, source);
}
