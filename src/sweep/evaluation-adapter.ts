import { agentPolicy, driveRoute } from '../agent/evaluation.js';
import {
  EVALUATION_ROAD_SEED_BASE as UNSEEN_ROAD_SEED_BASE,
  inRange,
  seedRange,
  TEST_ROAD_SEED_BASE,
  VARIED_ROAD_SEED_BASE,
} from '../agent/road-seeds.js';
import { evaluationRoads } from '../jobs/evaluation.js';
import type { TrainConfig } from '../jobs/train-config.js';
import { loadTrainedAgent } from '../jobs/eval-drive.js';
import { simEnvFor } from '../jobs/training.js';
import type { RoadOutcome } from './objective.js';
import { roundTo } from '../core/math.js';
import { BALANCED_LOOKAHEAD } from '../../sim/index.js';

/**
 * The sweep's only door into `daydrive eval`'s machinery: the per-road results of a trained run
 * on unseen roads, as `daydrive eval` drives them (the agent's plain policy, the driver putting
 * the car back after each disengagement). Whatever the evaluation grows into, a sweep needs only
 * these per-road outcomes; keep this adapter the one place that knows how they are produced.
 */

/** A sweep gives a road up after this many disengagements (it is far from clean by then; it bounds a bad trial's time). */
export const SWEEP_MAX_DISENGAGEMENTS_PER_ROAD = 20;

/** The unseen evaluation roads of a sweep: those of `daydrive eval --roads N --seed S` (every look covered). */
export function evaluationRoadSeeds(roads: number, seed: number, sim: TrainConfig['sim']): number[] {
  return evaluationRoads(roads, seed, sim).map((road) => road.seed);
}

/**
 * Evaluation roads must be disjoint from every road a trial trained or tested on: the training
 * route (routeSeed), the varied training roads (from VARIED_ROAD_SEED_BASE, one per episode) and
 * the test roads (from TEST_ROAD_SEED_BASE, one per episode; 'balanced' looks skip at most
 * BALANCED_LOOKAHEAD seeds further). Returns the reason when they are not.
 */
export function roadOverlap(config: TrainConfig, roadSeeds: readonly number[]): string | null {
  // The whole evaluation range is reserved (src/agent/road-seeds.ts), not only this sweep's roads.
  const evaluation = seedRange('evaluation roads');
  if (inRange(config.routeSeed, evaluation))
    return `the training route ${config.routeSeed} (routeSeed) is in the evaluation roads' range [${evaluation.start}, ${evaluation.end})`;
  const episodesAtMost = 2 * config.schedule.maxEpisodes + config.schedule.testsToPass + 2 + BALANCED_LOOKAHEAD;
  const used: [number, number, string][] = [
    [config.routeSeed, config.routeSeed, 'the training route (routeSeed)'],
    [VARIED_ROAD_SEED_BASE, VARIED_ROAD_SEED_BASE + episodesAtMost, 'the training roads'],
    [TEST_ROAD_SEED_BASE, TEST_ROAD_SEED_BASE + episodesAtMost, 'the test roads'],
  ];
  for (const seed of roadSeeds) {
    if (seed < UNSEEN_ROAD_SEED_BASE)
      return `evaluation road ${seed} is below the unseen roads (${UNSEEN_ROAD_SEED_BASE} and up)`;
    for (const [lo, hi, what] of used) if (seed >= lo && seed <= hi) return `evaluation road ${seed} is one of ${what}`;
  }
  return null;
}

/** Drives every road with the checkpoint of the run in `runDir`; one outcome per road, in order. */
export async function evaluateTrainedRun(
  runDir: string,
  config: TrainConfig,
  roadSeeds: readonly number[],
): Promise<RoadOutcome[]> {
  const { agent, release } = await loadTrainedAgent(runDir, config);
  try {
    // As `daydrive eval` drives by default: the model input the simulator renders (what training sees).
    const env = simEnvFor(config, 1, agent.modelInput);
    const policy = agentPolicy(agent, 'trial');
    const outcomes: RoadOutcome[] = [];
    for (const roadSeed of roadSeeds) {
      const r = await driveRoute(env, policy, roadSeed, SWEEP_MAX_DISENGAGEMENTS_PER_ROAD);
      outcomes.push({
        roadSeed,
        distanceM: roundTo(r.distanceM, 1),
        disengagements: r.disengagements,
        completed: r.completed,
      });
    }
    return outcomes;
  } finally {
    release();
  }
}
