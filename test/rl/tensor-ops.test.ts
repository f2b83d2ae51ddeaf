import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/core/backend.js';
import { UserError } from '../../src/core/errors.js';
import type { Tensor, TensorOps } from '../../src/rl/tensor-ops.js';
import { createTensorOps, tensorOpsKind, withTensorOps, type TensorOpsKind } from '../../src/rl/with-tensor-ops.js';
import { close } from './close.js';

await initBackend();

/**
 * The learner's tensor ops, both ways: direct kernel calls (KernelOps, wasm and cpu) and engine
 * ops (EngineOps, every other backend: tensorflow on the vehicle). Each gives the engine's results,
 * and every buffer it makes is freed (the engine's tensor count cannot see KernelOps' buffers, the
 * backend's buffer count can).
 */
const kinds: readonly TensorOpsKind[] = ['kernels', 'engine'];

test('matMul with bias and relu: act(a b + bias) by hand', () => {
  for (const name of kinds) {
    // a [2, 3], b [3, 2], bias [2]
    const out = withTensorOps((ops) => {
      const a = ops.upload(Float32Array.of(1, 2, 3, -1, 0, 1), [2, 3]);
      const b = ops.upload(Float32Array.of(1, 0, 0, 1, 1, -1), [3, 2]);
      const bias = ops.upload(Float32Array.of(0.5, -4), [2]);
      const linear = ops.matMul(a, b, bias);
      assert.deepEqual(linear.shape, [2, 2], name);
      return { linear: ops.read(linear), relu: ops.read(ops.matMul(a, b, bias, 'relu')) };
    }, name);
    // a b = [[1 + 3, 2 - 3], [-1 + 1, -1]] = [[4, -1], [0, -1]]
    close(out.linear, [4.5, -5, 0.5, -5], 1e-6, `${name}: a b + bias`);
    close(out.relu, [4.5, 0, 0.5, 0], 1e-6, `${name}: relu(a b + bias)`);
  }
});

/** Each op beside the engine op it stands for, on x and y of shape [2, 3]. */
const cases: [
  string,
  (x: tf.Tensor2D, y: tf.Tensor2D) => tf.Tensor,
  (ops: TensorOps, x: Tensor, y: Tensor) => Tensor,
][] = [
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
  ['exp', (x) => tf.exp(x), (ops, x) => ops.exp(x)],
  ['log', (x) => tf.log(tf.add(tf.square(x), 1)), (ops, x) => ops.log(ops.add(ops.square(x), ops.scalar(1)))],
  ['sum over rows', (x) => tf.sum(x, 0), (ops, x) => ops.sum(x, 0)],
  ['sum over columns, kept', (x) => tf.sum(x, 1, true), (ops, x) => ops.sum(x, 1, true)],
  ['max over columns, kept', (x) => tf.max(x, 1, true), (ops, x) => ops.max(x, 1, true)],
  ['mean', (x) => tf.mean(x), (ops, x) => ops.mean(x)],
  ['softmax', (x) => tf.softmax(x), (ops, x) => ops.softmax(x)],
  ['transpose', (x) => tf.transpose(x), (ops, x) => ops.transpose(x)],
  ['concat', (x, y) => tf.concat([x, y], 1), (ops, x, y) => ops.concat([x, y], 1)],
  ['columns', (x) => tf.slice(x, [0, 1], [2, 2]), (ops, x) => ops.columns(x, 1, 2)],
  // A view must change how the next op broadcasts: [6] -> [6, 1] against [6] is [6, 6].
  [
    'view, then broadcast',
    (x, y) => tf.mul(tf.reshape(x, [6, 1]), tf.reshape(y, [6])),
    (ops, x, y) => ops.mul(ops.view(x, [6, 1]), ops.view(y, [6])),
  ],
  [
    'readAll order',
    (x, y) => tf.concat([tf.reshape(tf.sum(x), [1]), tf.reshape(y, [6])]),
    (ops, x, y) => ops.upload(ops.readAll([ops.sum(ops.sum(x, 0), 0), y]), [7]),
  ],
];

test('elementwise ops, reductions, softmax, slices and views match the engine ops', () => {
  const x = [0.3, -1.2, 2, 0.7, -0.1, 0.05];
  const y = [1, 2, -1, 0.5, 0.25, -3];
  for (const impl of kinds) {
    for (const [name, engineOp, op] of cases) {
      const expected = tf.tidy(() => [
        ...(engineOp(tf.tensor2d(x, [2, 3]), tf.tensor2d(y, [2, 3])).dataSync() as Float32Array),
      ]);
      const ours = withTensorOps(
        (ops) => [
          ...ops.read(op(ops, ops.upload(Float32Array.from(x), [2, 3]), ops.upload(Float32Array.from(y), [2, 3]))),
        ],
        impl,
      );
      close(ours, expected, 1e-6, `${impl}: ${name}`);
    }
  }
});

test('release frees every output, upload and scalar; toTensor hands a tensor to the engine', () => {
  for (const name of kinds) {
    const backend = tf.backend();
    const buffers0 = backend.numDataIds();
    const tensors0 = tf.memory().numTensors;
    const ops = createTensorOps(name);
    const a = ops.upload(Float32Array.of(1, 2, 3, 4), [2, 2]);
    const sum = ops.add(ops.scale(a, 2), ops.view(ops.scale(ops.view(a, [4]), 2), [2, 2]));
    const kept = ops.toTensor<tf.Rank.R2>(ops.relu(sum));
    assert.ok(backend.numDataIds() > buffers0);
    ops.release();
    // Only the handed-over tensor is left, and the engine owns it.
    assert.equal(backend.numDataIds(), buffers0 + 1, name);
    assert.equal(tf.memory().numTensors, tensors0 + 1, name);
    assert.deepEqual([...(kept.dataSync() as Float32Array)], [4, 8, 12, 16], name);
    kept.dispose();
    assert.equal(backend.numDataIds(), buffers0, name);
    // A borrowed engine tensor is read, not freed.
    const v = tf.tensor1d([1, -1]);
    withTensorOps((o) => o.read(o.relu(o.borrow(v))), name);
    assert.deepEqual([...(v.dataSync() as Float32Array)], [1, -1], name);
    v.dispose();
    assert.equal(backend.numDataIds(), buffers0, name);
  }
});

test('withTensorOps frees its tensors when the work throws, both ways', () => {
  for (const kind of kinds) {
    const buffers0 = tf.backend().numDataIds();
    const tensors0 = tf.memory().numTensors;
    assert.throws(
      () =>
        withTensorOps((ops) => {
          ops.relu(ops.upload(new Float32Array(6), [2, 3]));
          throw new Error('boom');
        }, kind),
      /boom/,
    );
    assert.equal(tf.backend().numDataIds(), buffers0, kind);
    assert.equal(tf.memory().numTensors, tensors0, kind);
  }
});

test('shape errors name the shapes', () => {
  for (const kind of kinds) {
    withTensorOps((ops) => {
      const a = ops.upload(new Float32Array(6), [2, 3]);
      assert.throws(
        () => ops.matMul(a, ops.upload(new Float32Array(4), [2, 2])),
        /matMul: inner sizes differ, \[2, 3\] x \[2, 2\]/,
      );
      assert.throws(() => ops.upload(new Float32Array(5), [2, 3]), /5 values do not fill shape \[2, 3\]/);
      assert.throws(() => ops.view(a, [4, 2]), /cannot view \[2, 3\] as \[4, 2\]/);
    }, kind);
  }
  // A kernel-ops buffer is not an engine tensor: engine ops say so instead of computing garbage.
  withTensorOps((kernels) => {
    const buffer = kernels.upload(new Float32Array(2), [2]);
    withTensorOps((engine) => assert.throws(() => engine.relu(buffer), /not an engine tensor/), 'engine');
  }, 'kernels');
});

test('direct kernels on wasm and cpu only; every other backend, or DAYDRIVE_TENSOR_OPS=engine, gets engine ops', () => {
  assert.equal(tensorOpsKind('wasm', undefined), 'kernels');
  assert.equal(tensorOpsKind('cpu', 'auto'), 'kernels');
  // tfjs-node's buffers carry their own shapes and its _FusedMatMul calls engine ops on its inputs.
  assert.equal(tensorOpsKind('tensorflow', undefined), 'engine');
  assert.equal(tensorOpsKind('webgl', undefined), 'engine');
  assert.equal(tensorOpsKind('wasm', 'engine'), 'engine');
  assert.throws(
    () => tensorOpsKind('wasm', 'fast'),
    (e: unknown) =>
      e instanceof UserError && /DAYDRIVE_TENSOR_OPS must be 'auto' or 'engine', got 'fast'/.test(e.message),
  );
});
