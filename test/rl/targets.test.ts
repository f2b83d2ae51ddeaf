import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { initBackend } from '../../src/core/backend.js';
import { withTensorOps } from '../../src/rl/with-tensor-ops.js';
import { NStepAccumulator } from '../../src/rl/n-step.js';
import {
  categoricalProjection,
  categoricalSupport,
  nStepReturn,
  smoothedTargetAction,
  td3Target,
  tdTarget,
} from '../../src/rl/targets.js';
import type { Transition } from '../../src/rl/types.js';

await initBackend();

function close(actual: ArrayLike<number>, expected: readonly number[], tol = 1e-5, what = 'values'): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(
      Math.abs((actual[i] as number) - (expected[i] as number)) <= tol,
      `${what}[${i}]: ${actual[i]} vs ${expected[i]}`,
    );
  }
}

test('n-step return: sum of discounted rewards, gamma^m bootstrap, 0 at a terminal', () => {
  assert.deepEqual(nStepReturn([1, 2, 3], 0.5, false), { ret: 1 + 1 + 0.75, discount: 0.125 });
  assert.deepEqual(nStepReturn([1, 2, 3], 0.5, true), { ret: 2.75, discount: 0 });
  assert.deepEqual(nStepReturn([4], 0.9, false), { ret: 4, discount: 0.9 });
});

const step = (i: number, reward: number, terminated = false): Transition => ({
  state: Float32Array.of(i),
  action: Float32Array.of(0),
  reward,
  nextState: Float32Array.of(i + 1),
  terminated,
});

test('n-step accumulator: windows of n, flushed with partial sums at episode ends', () => {
  const acc = new NStepAccumulator(3, 0.5);
  assert.deepEqual(acc.push(step(0, 1)), []);
  assert.deepEqual(acc.push(step(1, 2)), []);
  const [t0] = acc.push(step(2, 4));
  // R_0 = 1 + 0.5*2 + 0.25*4 = 3, bootstrap from s_3 with 0.125
  assert.equal(t0?.reward, 3);
  assert.equal(t0?.discount, 0.125);
  assert.deepEqual([...(t0?.state ?? [])], [0]);
  assert.deepEqual([...(t0?.nextState ?? [])], [3]);
  const [t1] = acc.push(step(3, 8));
  assert.equal(t1?.reward, 2 + 2 + 2); // 2 + 0.5*4 + 0.25*8
  // Terminal at step 4: every pending window ends there without a bootstrap.
  const tail = acc.push(step(4, 16, true));
  assert.deepEqual(
    tail.map((t) => [t.state[0], t.reward, t.discount, t.nextState[0]]),
    [
      [2, 4 + 4 + 4, 0, 5],
      [3, 8 + 8, 0, 5],
      [4, 16, 0, 5],
    ],
  );
  assert.equal(acc.pending, 0);
  // Truncation (flush): partial windows keep the bootstrap gamma^m.
  acc.push(step(10, 1));
  acc.push(step(11, 1));
  const flushed = acc.flush();
  assert.deepEqual(
    flushed.map((t) => [t.state[0], t.reward, t.discount, t.nextState[0]]),
    [
      [10, 1.5, 0.25, 12],
      [11, 1, 0.5, 12],
    ],
  );
});

test('n-step accumulator with n = 1 is the one-step transition', () => {
  const acc = new NStepAccumulator(1, 0.9);
  const [t] = acc.push(step(0, 2));
  assert.equal(t?.reward, 2);
  assert.ok(Math.abs((t?.discount ?? 0) - 0.9) < 1e-12);
  const [u] = acc.push(step(1, 3, true));
  assert.equal(u?.discount, 0);
  assert.deepEqual(acc.flush(), []);
});

test('categorical projection matches hand-computed values (shift, split, clipping, terminal)', () => {
  // support z = [-2, -1, 0, 1, 2], dz = 1
  assert.deepEqual([...categoricalSupport(-2, 2, 5)], [-2, -1, 0, 1, 2]);
  const p = [0.1, 0.2, 0.3, 0.2, 0.2];
  // (a) r = 0.5, d = 1: Tz = [-1.5, -0.5, 0.5, 1.5, 2.5 -> 2]; each atom splits half/half
  //     m[-2] = .05, m[-1] = .05 + .1, m[0] = .1 + .15, m[1] = .15 + .1, m[2] = .1 + .2
  // (b) terminal, r = -0.25, d = 0: all mass at -0.25 -> 0.25 to -1, 0.75 to 0
  // (c) r = 1, d = 0.5: Tz = [0, 0.5, 1, 1.5, 2] exactly on or between atoms
  // (d) r = -10: everything clipped to vMin
  const probs = [...p, ...p, ...p, ...p];
  const m = categoricalProjection(probs, [0.5, -0.25, 1, -10], [1, 0, 0.5, 0.9], -2, 2, 5);
  close(m.subarray(0, 5), [0.05, 0.15, 0.25, 0.25, 0.3], 1e-6, 'shifted');
  close(m.subarray(5, 10), [0, 0.25, 0.75, 0, 0], 1e-6, 'terminal');
  close(m.subarray(10, 15), [0, 0, 0.1 + 0.1, 0.1 + 0.3 + 0.1, 0.1 + 0.2], 1e-6, 'on-atom');
  close(m.subarray(15, 20), [1, 0, 0, 0, 0], 1e-6, 'clipped');
  for (let k = 0; k < 4; k++) close([m.subarray(5 * k, 5 * k + 5).reduce((a, b) => a + b, 0)], [1], 1e-6, 'mass');
});

test('TD target and TD3 target (clipped double Q, smoothed target action) match direct computation', () => {
  const values = withTensorOps((ops) => {
    const vector = (...v: number[]) => ops.upload(Float32Array.from(v), [v.length]);
    const r = vector(1, -2, 0.5);
    const d = vector(0.9, 0, 0.81);
    const q1 = vector(10, 5, -4);
    const q2 = vector(8, 7, -6);
    const a = ops.upload(Float32Array.of(0.9, -0.2, 0.5), [3, 1]);
    const noise = ops.upload(Float32Array.of(0.7, -0.1, -2), [3, 1]);
    return {
      td: ops.read(tdTarget(ops, r, d, q1)),
      td3: ops.read(td3Target(ops, r, d, q1, q2)),
      smooth: ops.read(smoothedTargetAction(ops, a, noise, 0.5)),
    };
  });
  close(values.td, [1 + 9, -2, 0.5 - 0.81 * 4]);
  close(values.td3, [1 + 0.9 * 8, -2, 0.5 - 0.81 * 6]);
  // 0.9 + min(0.7, 0.5) = 1.4 -> 1; -0.2 - 0.1; 0.5 - 0.5
  close(values.smooth, [1, -0.3, 0]);
});
