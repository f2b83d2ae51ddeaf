import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/core/backend.js';
import { KernelOps, withKernelOps } from '../../src/rl/kernel-ops.js';
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

test('elementwise ops, reductions, softmax and slices match the engine ops', () => {
  const x = [0.3, -1.2, 2, 0.7, -0.1, 0.05];
  const y = [1, 2, -1, 0.5, 0.25, -3];
  const engine = tf.tidy(() => {
    const tx = tf.tensor2d(x, [2, 3]);
    const ty = tf.tensor2d(y, [2, 3]);
    return [
      tf.add(tx, ty),
      tf.sub(tx, ty),
      tf.mul(tx, ty),
      tf.mul(tx, 2.5),
      tf.minimum(tx, ty),
      tf.clipByValue(tx, -0.5, 0.5),
      tf.relu(tx),
      tf.tanh(tx),
      tf.step(tx),
      tf.square(tx),
      tf.sum(tx, 0),
      tf.sum(tx, 1, true),
      tf.max(tx, 1, true),
      tf.mean(tx),
      tf.softmax(tx),
      tf.transpose(tx),
      tf.concat([tx, ty], 1),
      tf.slice(tx, [0, 1], [2, 2]),
    ].map((t) => [...(t.dataSync() as Float32Array)]);
  });
  const ours = withKernelOps((ops) => {
    const tx = ops.upload(Float32Array.from(x), [2, 3]);
    const ty = ops.upload(Float32Array.from(y), [2, 3]);
    return [
      ops.add(tx, ty),
      ops.sub(tx, ty),
      ops.mul(tx, ty),
      ops.scale(tx, 2.5),
      ops.minimum(tx, ty),
      ops.clip(tx, -0.5, 0.5),
      ops.relu(tx),
      ops.tanh(tx),
      ops.step(tx),
      ops.square(tx),
      ops.sum(tx, 0),
      ops.sum(tx, 1, true),
      ops.max(tx, 1, true),
      ops.mean(tx),
      ops.softmax(tx),
      ops.transpose(tx),
      ops.concat([tx, ty], 1),
      ops.columns(tx, 1, 2),
    ].map((t) => [...ops.read(t)]);
  });
  engine.forEach((expected, i) => close(ours[i] as number[], expected, 1e-6, `op ${i}`));
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
