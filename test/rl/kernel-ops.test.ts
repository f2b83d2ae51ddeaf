import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/core/backend.js';
import { KernelOps, withKernelOps, type Tensor as KernelTensor } from '../../src/rl/kernel-ops.js';
import { close } from './close.js';

await initBackend();

/**
 * The learner's direct kernel calls: the same results as the engine's ops, and every buffer they
 * make is freed (the engine's tensor count cannot see them, the backend's buffer count can).
 */

test('matMul with bias and relu: act(a b + bias) by hand, on 3D views of 2D buffers', () => {
  // a [2, 3], b [3, 2], bias [2]
  const out = withKernelOps((ops) => {
    const a = ops.upload(Float32Array.of(1, 2, 3, -1, 0, 1), [2, 3]);
    const b = ops.upload(Float32Array.of(1, 0, 0, 1, 1, -1), [3, 2]);
    const bias = ops.upload(Float32Array.of(0.5, -4), [2]);
    const linear = ops.matMul(a, b, bias);
    assert.deepEqual(linear.shape, [2, 2]);
    return { linear: ops.read(linear), relu: ops.read(ops.matMul(a, b, bias, 'relu')) };
  });
  // a b = [[1 + 3, 2 - 3], [-1 + 1, -1]] = [[4, -1], [0, -1]]
  close(out.linear, [4.5, -5, 0.5, -5], 1e-6, 'a b + bias');
  close(out.relu, [4.5, 0, 0.5, 0], 1e-6, 'relu(a b + bias)');
});

/** Each kernel op beside the engine op it stands for, on x and y of shape [2, 3]. */
const cases: [string, (x: tf.Tensor2D, y: tf.Tensor2D) => tf.Tensor, (ops: KernelOps, x: KernelTensor, y: KernelTensor) => KernelTensor][] = [
  ['add', (x, y) => tf.add(x, y), (ops, x, y) => ops.add(x, y)],
  ['sub', (x, y) => tf.sub(x, y), (ops, x, y) => ops.sub(x, y)],
  ['mul', (x, y) => tf.mul(x, y), (ops, x, y) => ops.mul(x, y)],
  ['scale', (x) => tf.mul(x, 2.5), (ops, x) => ops.scale(x, 2.5)],
  ['minimum', (x, y) => tf.minimum(x, y), (ops, x, y) => ops.minimum(x, y)],
  ['clip', (x) => tf.clipByValue(x, -0.5, 0.5), (ops, x) => ops.clip(x, -0.5, 0.5)],
  ['relu', (x) => tf.relu(x), (ops, x) => ops.relu(x)],
  ['tanh', (x) => tf.tanh(x), (ops, x) => ops.tanh(x)],
  ['step', (x) => tf.step(x), (ops, x) => ops.step(x)],
  ['square', (x) => tf.square(x), (ops, x) => ops.square(x)],
  ['sum over rows', (x) => tf.sum(x, 0), (ops, x) => ops.sum(x, 0)],
  ['sum over columns, kept', (x) => tf.sum(x, 1, true), (ops, x) => ops.sum(x, 1, true)],
  ['max over columns, kept', (x) => tf.max(x, 1, true), (ops, x) => ops.max(x, 1, true)],
  ['mean', (x) => tf.mean(x), (ops, x) => ops.mean(x)],
  ['softmax', (x) => tf.softmax(x), (ops, x) => ops.softmax(x)],
  ['transpose', (x) => tf.transpose(x), (ops, x) => ops.transpose(x)],
  ['concat', (x, y) => tf.concat([x, y], 1), (ops, x, y) => ops.concat([x, y], 1)],
  ['columns', (x) => tf.slice(x, [0, 1], [2, 2]), (ops, x) => ops.columns(x, 1, 2)],
];

test('elementwise ops, reductions, softmax and slices match the engine ops', () => {
  const x = [0.3, -1.2, 2, 0.7, -0.1, 0.05];
  const y = [1, 2, -1, 0.5, 0.25, -3];
  for (const [name, engineOp, kernelOp] of cases) {
    const expected = tf.tidy(() => [...(engineOp(tf.tensor2d(x, [2, 3]), tf.tensor2d(y, [2, 3])).dataSync() as Float32Array)]);
    const ours = withKernelOps((ops) => [...ops.read(kernelOp(ops, ops.upload(Float32Array.from(x), [2, 3]), ops.upload(Float32Array.from(y), [2, 3])))]);
    close(ours, expected, 1e-6, name);
  }
});

test('release frees every output, upload and scalar; toTensor hands a buffer to the engine', () => {
  const backend = tf.backend();
  const buffers0 = backend.numDataIds();
  const tensors0 = tf.memory().numTensors;
  const ops = new KernelOps();
  const a = ops.upload(Float32Array.of(1, 2, 3, 4), [2, 2]);
  const sum = ops.add(ops.scale(a, 2), ops.scale(a, 2));
  const kept = ops.toTensor<tf.Rank.R2>(ops.relu(sum));
  assert.ok(backend.numDataIds() > buffers0);
  ops.release();
  // Only the handed-over tensor is left, and the engine owns it.
  assert.equal(backend.numDataIds(), buffers0 + 1);
  assert.equal(tf.memory().numTensors, tensors0 + 1);
  assert.deepEqual([...(kept.dataSync() as Float32Array)], [4, 8, 12, 16]);
  kept.dispose();
  assert.equal(backend.numDataIds(), buffers0);
  // A borrowed engine tensor is read, not freed.
  const v = tf.tensor1d([1, -1]);
  withKernelOps((o) => o.read(o.relu(o.borrow(v))));
  assert.deepEqual([...(v.dataSync() as Float32Array)], [1, -1]);
  v.dispose();
  assert.equal(backend.numDataIds(), buffers0);
});

test('withKernelOps frees its buffers when the work throws', () => {
  const buffers0 = tf.backend().numDataIds();
  assert.throws(
    () =>
      withKernelOps((ops) => {
        ops.upload(new Float32Array(6), [2, 3]);
        throw new Error('boom');
      }),
    /boom/,
  );
  assert.equal(tf.backend().numDataIds(), buffers0);
});

test('shape errors name the shapes', () => {
  withKernelOps((ops) => {
    const a = ops.upload(new Float32Array(6), [2, 3]);
    assert.throws(() => ops.matMul(a, ops.upload(new Float32Array(4), [2, 2])), /matMul: inner sizes differ, \[2, 3\] x \[2, 2\]/);
    assert.throws(() => ops.upload(new Float32Array(5), [2, 3]), /5 values do not fill shape \[2, 3\]/);
    assert.throws(() => ops.view(a, [4, 2]), /cannot view \[2, 3\] as \[4, 2\]/);
  });
});
