import { agentPolicy, driveRoute, zeroPolicy, type EpisodePolicy } from '../../src/agent/evaluation.js';
import { readCheckpoint } from '../../src/jobs/run-dir.js';
import type { TrainConfig } from '../../src/jobs/train-config.js';
import { buildAgent, loadEncoderFor, simEnvFor } from '../../src/jobs/training.js';

/** Two 250 m evaluation roads no training or test episode drives (src/agent/road-seeds.ts). */
export const UNSEEN_ROADS = [1_000_000, 1_000_001];

/**
 * The learning tests' check, as `daydrive eval` drives: the trained agent of the run in `runDir`
 * and the zero policy (straight ahead) on UNSEEN_ROADS, the safety driver resetting the car after
 * each disengagement (at most 40 a road); metres per disengagement of each.
 */
export async function trainedAgainstZero(
  runDir: string,
  config: TrainConfig,
): Promise<{ trained: number; zero: number }> {
  const encoder = await loadEncoderFor(config);
  const agent = buildAgent(config, encoder);
  try {
    await readCheckpoint(runDir, agent);
    const env = simEnvFor(config, 1);
    const metresPerDisengagement = async (policy: EpisodePolicy) => {
      let distanceM = 0;
      let disengagements = 0;
      for (const road of UNSEEN_ROADS) {
        const route = await driveRoute(env, policy, road, 40);
        distanceM += route.distanceM;
        disengagements += route.disengagements;
      }
      return distanceM / Math.max(1, disengagements);
    };
    return {
      trained: await metresPerDisengagement(agentPolicy(agent)),
      zero: await metresPerDisengagement(zeroPolicy(config.agent)),
    };
  } finally {
    agent.dispose();
    encoder?.dispose();
  }
}
