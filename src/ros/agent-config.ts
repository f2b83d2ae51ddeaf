import { z } from 'zod';
import { parseWith, readConfigFile } from '../core/config.js';
import { agentConfigSchema } from '../agent/config.js';
import { ALGORITHMS, explorationConfigSchema, learnerConfigSchema } from '../rl/config.js';

/**
 * The learning side of the drive node, from the config_file parameter: the same sections as a
 * `daydrive train` configuration (seed, algo, vaeModel, agent, learner, exploration), so the
 * settings tuned in simulation carry over; the simulator's sections (sim, schedule, ...) are
 * ignored. `{}` (no file) is the defaults.
 */
export const driveAgentConfigSchema = z
  .object({
    seed: z.number().int().min(0).max(0x7fffffff).default(0),
    algo: z.enum(ALGORITHMS).default('ddpg'),
    vaeModel: z.string().min(1).optional(),
    agent: agentConfigSchema.prefault({}),
    learner: z.record(z.string(), z.unknown()).default({}),
    exploration: explorationConfigSchema,
  })
  .superRefine((c, ctx) => {
    const learner = learnerConfigSchema.safeParse(c.learner);
    if (!learner.success) for (const issue of learner.error.issues) ctx.addIssue({ ...issue, path: ['learner', ...issue.path] });
  });

export type DriveAgentConfig = z.output<typeof driveAgentConfigSchema>;

export async function readDriveAgentConfig(path: string): Promise<DriveAgentConfig> {
  if (path === '') return parseWith(driveAgentConfigSchema, {}, 'agent config');
  return parseWith(driveAgentConfigSchema, await readConfigFile(path), `config_file ${path}`);
}
