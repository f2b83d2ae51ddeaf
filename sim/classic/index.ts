/**
 * Classic control tasks for checking the learners, ported from Gymnasium behind our
 * VectorEnvironment API (actions in [-1, 1]): Pendulum-v1 and MountainCarContinuous-v0.
 */
import { MountainCarContinuousEnv } from './mountain-car.js';
import { PendulumEnv } from './pendulum.js';

export { PendulumEnv, PENDULUM, angleNormalize } from './pendulum.js';
export { MountainCarContinuousEnv, MOUNTAIN_CAR } from './mountain-car.js';

export const CLASSIC_TASKS = ['pendulum', 'mountaincar'] as const;
export type ClassicTask = (typeof CLASSIC_TASKS)[number];

export type ClassicEnv = PendulumEnv | MountainCarContinuousEnv;

export function createClassicEnv(task: ClassicTask, seed: number): ClassicEnv {
  return task === 'pendulum' ? new PendulumEnv({ seed }) : new MountainCarContinuousEnv({ seed });
}
