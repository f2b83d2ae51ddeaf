import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { angleNormalize, MountainCarContinuousEnv, PendulumEnv } from '../../sim/classic/index.js';

const f32 = Math.fround;

function near(actual: number, expected: number, tol = 1e-12, what = 'value'): void {
  assert.ok(Math.abs(actual - expected) <= tol, `${what}: ${actual} vs ${expected}`);
}

test('Pendulum-v1: one step by hand (g = 10, dt = 0.05, torque = 2 a)', () => {
  const env = new PendulumEnv();
  env.setState(1, 0.5);
  const r = env.stepSync([0.25]); // torque 0.5
  // cost = angle^2 + 0.1 thdot^2 + 0.001 u^2
  near(r.reward, -(1 + 0.1 * 0.25 + 0.001 * 0.25), 1e-12, 'reward');
  // thdot' = thdot + (3 g / (2 l) sin(th) + 3 / (m l^2) u) dt ; th' = th + thdot' dt
  const thdot = 0.5 + (15 * Math.sin(1) + 3 * 0.5) * 0.05;
  const th = 1 + thdot * 0.05;
  near(env.thetaDot, thdot, 1e-12, 'theta dot');
  near(env.theta, th, 1e-12, 'theta');
  assert.deepEqual([...r.observation], [f32(Math.cos(th)), f32(Math.sin(th)), f32(thdot)]);
  assert.equal(r.observation instanceof Float32Array, true);
  assert.equal(r.terminated, false);
  assert.equal(r.truncated, false);
});

test('Pendulum-v1: speed clipped at 8, torque at 2, angle normalised into [-pi, pi)', () => {
  const env = new PendulumEnv();
  env.setState(Math.PI / 2, 7.9);
  env.stepSync([3]); // torque clipped to 2: 7.9 + (15 + 6) * 0.05 = 8.95 -> 8
  near(env.thetaDot, 8, 0, 'clipped speed');
  near(env.theta, Math.PI / 2 + 8 * 0.05, 1e-12, 'theta with clipped speed');
  env.setState((3 * Math.PI) / 2, 0);
  const r = env.stepSync([0]);
  near(r.reward, -((Math.PI / 2) ** 2), 1e-12, 'cost of 3pi/2 is that of -pi/2');
  near(angleNormalize(-3 * Math.PI + 0.1), -Math.PI + 0.1, 1e-12, 'floored modulo');
  assert.throws(() => env.stepSync([Number.NaN]), /action\[0\] is NaN/);
});

test('Pendulum-v1: 200-step time limit, reset in [-pi, pi] x [-1, 1], seeded', async () => {
  const env = new PendulumEnv({ seed: 3 });
  const obs = await env.reset({ seed: 11 });
  assert.ok(Math.abs(env.theta) <= Math.PI && Math.abs(env.thetaDot) <= 1);
  near(obs[2] as number, f32(env.thetaDot), 0);
  const again = await new PendulumEnv().reset({ seed: 11 });
  assert.deepEqual([...again], [...obs]);
  let last = null;
  for (let i = 0; i < 200; i++) last = await env.step([0]);
  assert.equal(last?.truncated, true);
  assert.equal(last?.terminated, false);
  await assert.rejects(env.step([0]), /after the episode ended/);
});

test('MountainCarContinuous-v0: one step by hand, state kept in float32', () => {
  const env = new MountainCarContinuousEnv();
  env.setState(-0.5, 0);
  const r = env.stepSync([1]);
  // v' = v + a * 0.0015 - 0.0025 cos(3 x); x' = x + v'
  const v = 0 + 0.0015 - 0.0025 * Math.cos(-1.5);
  const x = -0.5 + v;
  assert.deepEqual([...r.observation], [f32(x), f32(v)]);
  assert.equal(env.position, f32(x));
  near(r.reward, -0.1, 1e-12, 'reward -0.1 a^2');
  assert.equal(r.terminated, false);
  // The next step starts from the float32 state.
  const r2 = env.stepSync([0.5]);
  const v2 = f32(v) + f32(0.5) * 0.0015 - 0.0025 * Math.cos(3 * f32(x));
  assert.deepEqual([...r2.observation], [f32(f32(x) + v2), f32(v2)]);
  near(r2.reward, -0.1 * 0.25, 1e-12, 'reward of a = 0.5');
});

test('MountainCarContinuous-v0: goal, left wall, speed limit, unclipped action in the reward', () => {
  const env = new MountainCarContinuousEnv();
  env.setState(0.44, 0.02);
  const goal = env.stepSync([0]);
  const v = f32(0.02) - 0.0025 * Math.cos(3 * f32(0.44));
  near(goal.observation[0] as number, f32(f32(0.44) + v), 0, 'goal position');
  assert.equal(goal.terminated, true, 'x >= 0.45 and v >= 0 terminates');
  near(goal.reward, 100, 0, 'goal reward');
  assert.throws(() => env.stepSync([0]), /after the episode ended/);

  env.setState(-1.19, -0.05);
  const wall = env.stepSync([-1]);
  assert.deepEqual([...wall.observation], [f32(-1.2), 0], 'clipped at -1.2 with the velocity zeroed');

  env.setState(-Math.PI / 6, 0.0699); // cos(3x) = 0 here
  const fast = env.stepSync([1]);
  near(fast.observation[1] as number, f32(0.07), 0, 'speed clipped at 0.07');

  env.setState(-0.5, 0);
  const big = env.stepSync([2]);
  near(big.reward, -0.4, 1e-12, 'the reward uses the unclipped action');
  near(big.observation[1] as number, f32(0.0015 - 0.0025 * Math.cos(-1.5)), 0, 'the force uses the clipped one');
});

test('MountainCarContinuous-v0: reset in [-0.6, -0.4] with zero velocity, 999-step time limit', async () => {
  const env = new MountainCarContinuousEnv({ seed: 1 });
  const obs = await env.reset({ seed: 5 });
  assert.ok((obs[0] as number) >= -0.6 && (obs[0] as number) <= -0.4);
  assert.equal(obs[1], 0);
  let last = null;
  let steps = 0;
  do {
    last = await env.step([0]);
    steps++;
  } while (!last.truncated && !last.terminated);
  assert.equal(steps, 999);
  assert.equal(last.truncated, true);
});

test('MountainCarContinuous-v0: the goal reached on the last step is terminated and truncated (TimeLimit)', () => {
  // Gymnasium's TimeLimit: truncated = elapsed_steps >= max_episode_steps, independent of terminated.
  // From (0.44, 0.02) one step reaches the goal (see the goal test): with a 1-step limit it is
  // also the last step.
  const limited = new MountainCarContinuousEnv({ maxEpisodeSteps: 1 });
  limited.setState(0.44, 0.02);
  const last = limited.stepSync([0]);
  assert.equal(last.terminated, true, 'goal reached');
  assert.equal(last.truncated, true, 'and the time limit hit on the same step');
  near(last.reward, 100, 0, 'goal reward');
  assert.throws(() => limited.stepSync([0]), /after the episode ended/);
  // The goal one step before the limit is terminated only.
  const early = new MountainCarContinuousEnv({ maxEpisodeSteps: 2 });
  early.setState(0.44, 0.02);
  const r = early.stepSync([0]);
  assert.equal(r.terminated, true);
  assert.equal(r.truncated, false);
});
