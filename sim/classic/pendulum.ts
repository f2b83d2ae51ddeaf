import { validateAction, type ResetOptions, type StepResult, type VectorEnvironment } from '../../src/core/env.js';
import { Rng } from '../../src/core/rng.js';
import { clamp } from '../../src/core/math.js';

/**
 * Pendulum-v1, ported from Gymnasium (gymnasium/envs/classic_control/pendulum.py): same constants,
 * dynamics, cost and update order, 200-step time limit (the registered TimeLimit). As in Gymnasium
 * the state (theta, theta_dot) is float64 and the observation [cos theta, sin theta, theta_dot]
 * float32. Differences: the action is in [-1, 1] (our VectorEnvironment contract) and scaled to a
 * torque of max_torque * a (rounded to float32, Gymnasium's action dtype); reset draws from our
 * seeded Rng (Rng.fromSeed's 'world-v1' derivation: consecutive seeds give unrelated starts), not NumPy's.
 */

export const PENDULUM = {
  maxSpeed: 8,
  maxTorque: 2.0,
  dt: 0.05,
  g: 10.0,
  m: 1.0,
  l: 1.0,
  /** reset: theta ~ U(-pi, pi), theta_dot ~ U(-1, 1) (DEFAULT_X, DEFAULT_Y) */
  initThetaMax: Math.PI,
  initThetaDotMax: 1.0,
  maxEpisodeSteps: 200,
} as const;

/** ((x + pi) mod 2 pi) - pi with Python's (floored) modulo. */
export function angleNormalize(x: number): number {
  const twoPi = 2 * Math.PI;
  const y = (x + Math.PI) % twoPi;
  return (y < 0 ? y + twoPi : y) - Math.PI;
}

export class PendulumEnv implements VectorEnvironment {
  readonly actionSize = 1;
  readonly observationSize = 3;
  readonly maxEpisodeSteps: number;
  /** theta (rad, 0 = upright) and theta_dot (rad/s), float64 as in Gymnasium. */
  theta = 0;
  thetaDot = 0;
  private steps = 0;
  private done = true;
  private rng: Rng;

  constructor(options: { seed?: number; g?: number; maxEpisodeSteps?: number } = {}) {
    this.rng = Rng.fromSeed(options.seed ?? 0, 'world-v1');
    this.g = options.g ?? PENDULUM.g;
    this.maxEpisodeSteps = options.maxEpisodeSteps ?? PENDULUM.maxEpisodeSteps;
  }

  readonly g: number;

  async reset(options?: ResetOptions): Promise<Float32Array> {
    return this.resetSync(options);
  }

  async step(action: ArrayLike<number>): Promise<StepResult<Float32Array, Record<string, number>>> {
    return this.stepSync(action);
  }

  resetSync(options?: ResetOptions): Float32Array {
    if (options?.seed !== undefined) this.rng = Rng.fromSeed(options.seed, 'world-v1');
    this.theta = this.rng.range(-PENDULUM.initThetaMax, PENDULUM.initThetaMax);
    this.thetaDot = this.rng.range(-PENDULUM.initThetaDotMax, PENDULUM.initThetaDotMax);
    this.steps = 0;
    this.done = false;
    return this.observation();
  }

  /** Sets the state directly (tests, hand-computed steps). */
  setState(theta: number, thetaDot: number): void {
    this.theta = theta;
    this.thetaDot = thetaDot;
    this.steps = 0;
    this.done = false;
  }

  stepSync(action: ArrayLike<number>): StepResult<Float32Array, Record<string, number>> {
    validateAction(action, this.actionSize);
    if (this.done) throw new Error('step() after the episode ended: call reset() first');
    const { maxSpeed, maxTorque, dt, m, l } = PENDULUM;
    const g = this.g;
    const th = this.theta;
    const thdot = this.thetaDot;
    // u = clip(u, -max_torque, max_torque)[0]   (float32 action)
    const u = Math.fround(clamp(Math.fround(maxTorque * (action[0] as number)), -maxTorque, maxTorque));
    const costs = angleNormalize(th) ** 2 + 0.1 * thdot ** 2 + 0.001 * u ** 2;
    let newThdot = thdot + (((3 * g) / (2 * l)) * Math.sin(th) + (3.0 / (m * l ** 2)) * u) * dt;
    newThdot = clamp(newThdot, -maxSpeed, maxSpeed);
    const newTh = th + newThdot * dt;
    this.theta = newTh;
    this.thetaDot = newThdot;
    this.steps += 1;
    const truncated = this.steps >= this.maxEpisodeSteps;
    this.done = truncated;
    return { observation: this.observation(), reward: -costs, terminated: false, truncated, info: {} };
  }

  private observation(): Float32Array {
    return Float32Array.of(Math.cos(this.theta), Math.sin(this.theta), this.thetaDot);
  }
}
