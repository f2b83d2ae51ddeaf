import { z } from 'zod';
import { parseWith, readConfigFile } from '../core/config.js';
import { checkLearnerOverrides, drivingLearningShape } from '../agent/config.js';

/**
 * The learning side of the drive node, from the config_file parameter: the same sections as a
 * `daydrive train` configuration (seed, algo, vaeModel, agent, learner, exploration), so the
 * settings tuned in simulation carry over; the simulator's sections (sim, schedule, ...) are
 * ignored. `{}` (no file) is the defaults.
 */
export const driveAgentConfigSchema = z.object(drivingLearningShape).superRefine(checkLearnerOverrides);

export type DriveAgentConfig = z.output<typeof driveAgentConfigSchema>;

export async function readDriveAgentConfig(path: string): Promise<DriveAgentConfig> {
  if (path === '') return parseWith(driveAgentConfigSchema, {}, 'agent config');
  return parseWith(driveAgentConfigSchema, await readConfigFile(path), `config_file ${path}`);
}
