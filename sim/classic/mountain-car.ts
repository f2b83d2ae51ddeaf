import { validateAction, type ResetOptions, type StepResult, type VectorEnvironment } from '../../src/core/env.js';
import { Rng } from '../../src/core/rng.js';
import { clamp } from '../../src/core/math.js';

/**
 * MountainCarContinuous-v0, ported from Gymnasium
 * (gymnasium/envs/classic_control/continuous_mountain_car.py): same constants, update order,
 * reward (+100 at the goal, minus 0.1 a^2 of the unclipped action each step) and 999-step time
 * limit (TimeLimit semantics: truncated at step 999 even when the goal is reached on it). As in Gymnasium the state is stored as float32 after every step (float64 right after a
 * reset) and the arithmetic of a step is double precision. Reset draws from our seeded Rng
 * (Rng.fromSeed's 'world-v1' derivation: consecutive seeds give unrelated starts).
 */

export const MOUNTAIN_CAR = {
  minAction: -1.0,
  maxAction: 1.0,
  minPosition: -1.2,
  maxPosition: 0.6,
  maxSpeed: 0.07,
  goalPosition: 0.45,
  goalVelocity: 0,
  power: 0.0015,
  /** reset: position ~ U(-0.6, -0.4), velocity 0 */
  initPositionLow: -0.6,
  initPositionHigh: -0.4,
  maxEpisodeSteps: 999,
  /** Gymnasium's reward_threshold for "solved". */
  rewardThreshold: 90,
} as const;

export class MountainCarContinuousEnv implements VectorEnvironment {
  readonly actionSize = 1;
  readonly observationSize = 2;
  readonly maxEpisodeSteps: number;
  position = 0;
  velocity = 0;
  private steps = 0;
  private done = true;
  private rng: Rng;

  constructor(options: { seed?: number; maxEpisodeSteps?: number } = {}) {
    this.rng = Rng.fromSeed(options.seed ?? 0, 'world-v1');
    this.maxEpisodeSteps = options.maxEpisodeSteps ?? MOUNTAIN_CAR.maxEpisodeSteps;
  }

  async reset(options?: ResetOptions): Promise<Float32Array> {
    return this.resetSync(options);
  }

  async step(action: ArrayLike<number>): Promise<StepResult<Float32Array, Record<string, number>>> {
    return this.stepSync(action);
  }

  resetSync(options?: ResetOptions): Float32Array {
    if (options?.seed !== undefined) this.rng = Rng.fromSeed(options.seed, 'world-v1');
    this.position = this.rng.range(MOUNTAIN_CAR.initPositionLow, MOUNTAIN_CAR.initPositionHigh);
    this.velocity = 0;
    this.steps = 0;
    this.done = false;
    return Float32Array.of(this.position, this.velocity);
  }

  /** Sets the state directly (tests, hand-computed steps); stored as float32 like a stepped state. */
  setState(position: number, velocity: number): void {
    this.position = Math.fround(position);
    this.velocity = Math.fround(velocity);
    this.steps = 0;
    this.done = false;
  }

  stepSync(action: ArrayLike<number>): StepResult<Float32Array, Record<string, number>> {
    validateAction(action, this.actionSize);
    if (this.done) throw new Error('step() after the episode ended: call reset() first');
    const c = MOUNTAIN_CAR;
    const a = Math.fround(action[0] as number);
    let position = this.position;
    let velocity = this.velocity;
    const force = clamp(a, c.minAction, c.maxAction);
    velocity += force * c.power - 0.0025 * Math.cos(3 * position);
    if (velocity > c.maxSpeed) velocity = c.maxSpeed;
    if (velocity < -c.maxSpeed) velocity = -c.maxSpeed;
    position += velocity;
    if (position > c.maxPosition) position = c.maxPosition;
    if (position < c.minPosition) position = c.minPosition;
    if (position === c.minPosition && velocity < 0) velocity = 0;
    const terminated = position >= c.goalPosition && velocity >= c.goalVelocity;
    let reward = 0;
    if (terminated) reward = 100.0;
    reward -= Math.pow(a, 2) * 0.1;
    this.position = Math.fround(position);
    this.velocity = Math.fround(velocity);
    this.steps += 1;
    // Gymnasium's TimeLimit wrapper sets truncated = elapsed >= max_episode_steps on its own,
    // so reaching the goal on the last step reports both terminated and truncated.
    const truncated = this.steps >= this.maxEpisodeSteps;
    this.done = terminated || truncated;
    return { observation: Float32Array.of(this.position, this.velocity), reward, terminated, truncated, info: {} };
  }
}
