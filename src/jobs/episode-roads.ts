import {
  DRAWN_EPISODE_ROADS,
  drawnRoads,
  sequencedRoads,
  type EpisodeRoads,
  type RoadPicker,
} from '../agent/episode-roads.js';
import { seedRange, TEST_ROAD_SEED_BASE, VARIED_ROAD_SEED_BASE } from '../agent/road-seeds.js';
import { BalancedRoadSequence, lookOfRoad } from '../../sim/index.js';
import type { TrainConfig } from './train-config.js';
import type { RunWorlds } from './run-worlds.js';

/**
 * The roads of a run's new training and test episodes, by `schedule.trainingRoadLooks` and
 * `schedule.testRoadLooks`: 'drawn' roads take the next seed of their range, 'balanced' ones the
 * next of a sequence balanced over every look (sim/looks.ts), each look judged in the world that
 * drives it (`worlds`: src/jobs/run-worlds.ts).
 *
 * `trainingBase` moves the training roads within their range (an actor of `train --actors`
 * drives its own); the candidates end where the range ends.
 */
export function episodeRoadsFor(
  config: TrainConfig,
  worlds: RunWorlds,
  trainingBase: number = VARIED_ROAD_SEED_BASE,
): EpisodeRoads {
  const { trainingRoadLooks, testRoadLooks } = config.schedule;
  if (trainingRoadLooks === 'drawn' && testRoadLooks === 'drawn' && trainingBase === VARIED_ROAD_SEED_BASE)
    return DRAWN_EPISODE_ROADS;
  const picker = (kind: 'training' | 'test', base: number, sim: TrainConfig['sim'], balanced: boolean): RoadPicker => {
    if (!balanced) return drawnRoads(base);
    const rangeEnd = seedRange(kind === 'test' ? 'test roads' : 'varied training roads').end;
    const sequence = new BalancedRoadSequence(
      rangeEnd - base,
      (i) => base + i,
      (seed) => lookOfRoad(seed, sim),
    );
    return sequencedRoads(kind, (i) => sequence.seedAt(i));
  };
  return {
    training: picker('training', trainingBase, worlds.training.sim, trainingRoadLooks === 'balanced'),
    test: picker('test', TEST_ROAD_SEED_BASE, worlds.test.sim, testRoadLooks === 'balanced'),
  };
}
