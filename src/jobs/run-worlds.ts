import type { TrainConfig } from './train-config.js';

/**
 * The two simulated worlds of a training run: the one its training episodes drive and the one its
 * tests drive (a second world, so that a training road and the car's place on it survive the tests
 * in between). Each is the run's configuration with `sim.road.tightestBendAtMostM` set by the
 * schedule (`schedule.trainingRoadTightestBendAtMostM`, `schedule.testRoadTightestBendAtMostM`;
 * null keeps `sim.road`'s own). The evaluation drives `config.sim` itself.
 */
export interface RunWorlds {
  readonly training: TrainConfig;
  readonly test: TrainConfig;
}

export function runWorlds(config: TrainConfig): RunWorlds {
  const withTightestBend = (tightestBendAtMostM: number | null): TrainConfig =>
    tightestBendAtMostM === null
      ? config
      : { ...config, sim: { ...config.sim, road: { ...config.sim.road, tightestBendAtMostM } } };
  return {
    training: withTightestBend(config.schedule.trainingRoadTightestBendAtMostM),
    test: withTightestBend(config.schedule.testRoadTightestBendAtMostM),
  };
}
