import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/core/backend.js';
import { Adam, globalNorm, ParameterGroup, polyakUpdate, type AdamOptions } from '../../src/rl/optimizer.js';
import { close } from './close.js';

await initBackend();

/**
 * The host-side update mechanics (src/rl/optimizer.ts) on tiny parameter groups, against hand
 * computation, a float64 reference written from the formulas, and tf.train.adam.
 */

function group(...values: number[][]): ParameterGroup {
  return new ParameterGroup(values.map((v) => tf.variable(tf.tensor1d(v))));
}

/** What the variables (not the host copy) hold. */
function variableValues(g: ParameterGroup): number[] {
  return g.variables.flatMap((v) => [...(v.dataSync() as Float32Array)]);
}

/**
 * Adam (Kingma & Ba 2015, Algorithm 1) in float64, PyTorch's order: clip the global norm
 * (g *= min(1, c / (||g|| + 1e-6))), add wd * theta, then m_t = b1 m + (1 - b1) g,
 * v_t = b2 v + (1 - b2) g^2, theta -= lr * m_hat / (sqrt(v_hat) + eps) with m_hat = m_t / (1 - b1^t),
 * v_hat = v_t / (1 - b2^t).
 */
function referenceAdam(
  theta0: readonly number[],
  grads: readonly (readonly number[])[],
  o: Required<AdamOptions>,
): number[] {
  const theta = [...theta0];
  const m = theta.map(() => 0);
  const v = theta.map(() => 0);
  grads.forEach((raw, k) => {
    const t = k + 1;
    const norm = Math.sqrt(raw.reduce((a, g) => a + g * g, 0));
    const scale = o.clipNorm > 0 ? Math.min(1, o.clipNorm / (norm + 1e-6)) : 1;
    for (let i = 0; i < theta.length; i++) {
      const g = (raw[i] as number) * scale + o.weightDecay * (theta[i] as number);
      m[i] = o.beta1 * (m[i] as number) + (1 - o.beta1) * g;
      v[i] = o.beta2 * (v[i] as number) + (1 - o.beta2) * g * g;
      const mHat = (m[i] as number) / (1 - o.beta1 ** t);
      const vHat = (v[i] as number) / (1 - o.beta2 ** t);
      theta[i] = (theta[i] as number) - (o.learningRate * mHat) / (Math.sqrt(vHat) + o.epsilon);
    }
  });
  return theta;
}

const defaults = { beta1: 0.9, beta2: 0.999, epsilon: 1e-8, clipNorm: 0, weightDecay: 0 };
const theta0 = [1, -2, 0.5, 0.25];
const grads = [
  [0.3, -0.4, 1.2, 0],
  [0.1, 0.2, -0.6, 0.05],
  [-0.5, 0.3, 0.9, -0.02],
  [2, -1, 0.1, 0.3],
  [0.2, 0.2, -0.2, 0.2],
];

function runAdam(options: AdamOptions, steps = grads): { g: ParameterGroup; adam: Adam } {
  const g = group(theta0.slice(0, 3), theta0.slice(3));
  const adam = new Adam(g, options);
  for (const grad of steps) adam.apply(Float32Array.from(grad));
  return { g, adam };
}

test('Adam: the first step is lr * g / (|g| + eps) (hand computation), later steps follow the reference and tf.train.adam', () => {
  const first = runAdam({ learningRate: 0.1 }, grads.slice(0, 1));
  // m_hat = g and v_hat = g^2 after one step: theta_1 = theta_0 - lr * sign(g) (and 0 where g = 0).
  close(first.g.values, [0.9, -1.9, 0.4, 0.25], 1e-6, 'theta_1 (host copy)');
  close(variableValues(first.g), [0.9, -1.9, 0.4, 0.25], 1e-6, 'theta_1 (variables)');
  assert.equal(first.adam.step, 1);

  const ours = runAdam({ learningRate: 0.05 });
  const reference = referenceAdam(theta0, grads, { ...defaults, learningRate: 0.05 });
  close(ours.g.values, reference, 1e-6, 'after 5 steps vs reference');
  close(variableValues(ours.g), reference, 1e-6, 'variables after 5 steps');

  // tfjs' own Adam (same epsilon placement: m_hat / (sqrt(v_hat) + eps)).
  const v = tf.variable(tf.tensor1d(theta0));
  const tfAdam = tf.train.adam(0.05, 0.9, 0.999, 1e-8);
  for (const grad of grads) tfAdam.applyGradients([{ name: v.name, tensor: tf.tensor1d(grad) }]);
  close(ours.g.values, [...(v.dataSync() as Float32Array)], 1e-5, 'vs tf.train.adam');
  tfAdam.dispose();
  v.dispose();

  // state() / setState() resume the same trajectory.
  const resumed = runAdam({ learningRate: 0.05 }, grads.slice(0, 2));
  const saved = resumed.adam.state();
  const other = new Adam(resumed.g, { learningRate: 0.05 });
  other.setState(saved);
  for (const grad of grads.slice(2)) other.apply(Float32Array.from(grad));
  close(resumed.g.values, reference, 1e-6, 'resumed from state()');
  assert.throws(() => other.apply(new Float32Array(3)), /gradient has 3 values, the group 4/);
});

test('Adam: global-norm clipping scales the whole gradient by c / (||g|| + 1e-6) only above c', () => {
  assert.equal(globalNorm([3, 4]), 5);
  assert.equal(globalNorm([0.3, -0.4, 1.2, 0]), 1.3);
  // Step 1 is clipped (norm 50 > 1), step 2 is not (norm 0.5); Adam is scale-free within one step
  // only, so clipping shows from step 2 on.
  const steps = [
    [30, 40, 0, 0],
    [0.3, 0.4, 0, 0],
    [0, 0, 0.6, 0.8],
  ];
  const clipped = runAdam({ learningRate: 0.1, clipNorm: 1 }, steps);
  const plain = runAdam({ learningRate: 0.1 }, steps);
  close(
    clipped.g.values,
    referenceAdam(theta0, steps, { ...defaults, learningRate: 0.1, clipNorm: 1 }),
    1e-6,
    'clipped vs reference',
  );
  // By hand: the reference above with the clipped first gradient [0.6, 0.8] written out.
  const handClipped = steps.map((g, k) => (k === 0 ? g.map((x) => (x * 1) / (50 + 1e-6)) : g));
  close(
    clipped.g.values,
    referenceAdam(theta0, handClipped, { ...defaults, learningRate: 0.1 }),
    1e-6,
    'clipped = unclipped Adam on the scaled gradient',
  );
  assert.ok(
    Math.abs((clipped.g.values[0] as number) - (plain.g.values[0] as number)) > 1e-3,
    'clipping changes the trajectory',
  );
  // A norm below the threshold leaves the gradient as it is.
  const below = runAdam({ learningRate: 0.1, clipNorm: 100 }, steps.slice(1));
  close(below.g.values, [...runAdam({ learningRate: 0.1 }, steps.slice(1)).g.values], 0, 'no clipping below c');
});

test('Adam: coupled weight decay adds wd * theta to the gradient before the moments', () => {
  // Zero gradient: the step is driven by wd * theta alone, so theta_1 = theta_0 - lr * sign(theta_0).
  const zero = [0, 0, 0, 0];
  const decayed = runAdam({ learningRate: 0.01, weightDecay: 0.1 }, [zero]);
  close(decayed.g.values, [0.99, -1.99, 0.49, 0.24], 1e-6, 'theta_1 with decay only');
  const ours = runAdam({ learningRate: 0.05, weightDecay: 0.3, clipNorm: 0.5 });
  close(
    ours.g.values,
    referenceAdam(theta0, grads, { ...defaults, learningRate: 0.05, weightDecay: 0.3, clipNorm: 0.5 }),
    1e-6,
    'decay + clipping vs reference',
  );
});

test("Polyak averaging: theta' <- tau theta + (1 - tau) theta', sources laid end to end, variables written", () => {
  const target = group([1, 2, 3], [4]);
  const actor = group([2, 2, 2]);
  const critic = group([0]);
  polyakUpdate(target, [actor, critic], 0.25);
  const expected = [1 + 0.25 * (2 - 1), 2, 3 + 0.25 * (2 - 3), 4 + 0.25 * (0 - 4)];
  close(target.values, expected, 1e-7, 'host copy');
  close(variableValues(target), expected, 1e-7, 'variables');
  close(actor.values, [2, 2, 2], 0, 'sources untouched');
  polyakUpdate(target, [actor, critic], 0); // tau 0: targets frozen
  close(target.values, expected, 0, 'tau 0');
  polyakUpdate(target, [actor, critic], 1); // tau 1: a copy
  close(target.values, [2, 2, 2, 0], 0, 'tau 1');
  assert.throws(() => polyakUpdate(target, [actor], 0.5), /Polyak sources hold 3 values, the target 4/);
});
