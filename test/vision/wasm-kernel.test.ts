import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/core/backend.js';
import { maxAbsDiff } from '../helpers/compare.js';

/**
 * The kernels registered for wasm (src/core/wasm-kernels.ts: Conv2DBackpropFilter, the
 * sub-pixel Conv2DBackpropInput) against the cpu backend's reference kernels, and the full
 * conv / transposed-conv gradients through tf.grads.
 */

type Pad = 'valid' | 'same' | [[number, number], [number, number], [number, number], [number, number]];

async function onBackend<T>(name: 'cpu' | 'wasm', f: () => Promise<T>): Promise<T> {
  const before = tf.getBackend();
  await tf.setBackend(name);
  try {
    return await f();
  } finally {
    await tf.setBackend(before);
  }
}

function randomArray(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

const size = (s: readonly number[]): number => s.reduce((p, q) => p * q, 1);

async function backpropFilter(
  backend: 'cpu' | 'wasm',
  xShape: number[],
  filterShape: number[],
  stride: number | [number, number],
  pad: Pad,
  dyShape: number[],
): Promise<Float32Array> {
  return onBackend(backend, async () => {
    const x = tf.tensor4d(randomArray(size(xShape), 1), xShape as [number, number, number, number]);
    const dy = tf.tensor4d(randomArray(size(dyShape), 2), dyShape as [number, number, number, number]);
    const attrs = { strides: stride, pad, dataFormat: 'NHWC', filterShape } as unknown as tf.NamedAttrMap;
    const dw = tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, attrs) as tf.Tensor;
    assert.deepEqual(dw.shape, filterShape);
    const out = (await dw.data()) as Float32Array;
    tf.dispose([x, dy, dw]);
    return out;
  });
}

type Shape4 = [number, number, number, number];
const cases: { x: Shape4; f: Shape4; stride: number | [number, number]; pad: Pad }[] = [
  { x: [2, 9, 9, 3], f: [3, 3, 3, 4], stride: 1, pad: 'valid' },
  { x: [2, 9, 9, 3], f: [3, 3, 3, 4], stride: 1, pad: 'same' },
  { x: [2, 9, 9, 3], f: [3, 3, 3, 4], stride: 2, pad: 'valid' },
  { x: [2, 9, 9, 3], f: [3, 3, 3, 4], stride: 2, pad: 'same' },
  // Even sizes: a stride-2 'valid' conv drops the last row and column; 'same' pads bottom/right only.
  { x: [3, 10, 8, 2], f: [3, 3, 2, 5], stride: 2, pad: 'valid' },
  { x: [3, 10, 8, 2], f: [3, 3, 2, 5], stride: 2, pad: 'same' },
  { x: [1, 7, 11, 4], f: [2, 4, 4, 3], stride: [1, 2], pad: 'same' },
  {
    x: [2, 8, 8, 3],
    f: [3, 3, 3, 2],
    stride: 2,
    pad: [
      [0, 0],
      [1, 2],
      [2, 0],
      [0, 0],
    ],
  },
  // The VAE's first layer at the default input size.
  { x: [4, 64, 64, 3], f: [3, 3, 3, 16], stride: 2, pad: 'same' },
];

test('wasm Conv2DBackpropFilter matches the cpu backend (valid/same/explicit padding, strides 1 and 2)', async () => {
  const backend = await initBackend('wasm');
  assert.equal(backend.name, 'wasm');
  assert.ok(tf.getKernel('Conv2DBackpropFilter', 'wasm'), 'the kernel is registered for wasm');
  for (const c of cases) {
    const dyShape = await onBackend('cpu', async () => {
      const y = tf.conv2d(
        tf.zeros(c.x) as tf.Tensor4D,
        tf.zeros(c.f) as tf.Tensor4D,
        c.stride,
        c.pad as tf.backend_util.ExplicitPadding,
      );
      const s = y.shape;
      y.dispose();
      return s;
    });
    const want = await backpropFilter('cpu', c.x, c.f, c.stride, c.pad, dyShape);
    const got = await backpropFilter('wasm', c.x, c.f, c.stride, c.pad, dyShape);
    const scale = Math.max(1, ...Array.from(want, Math.abs));
    assert.ok(
      maxAbsDiff(got, want) <= 1e-5 * scale,
      `${JSON.stringify(c)}: max |wasm - cpu| = ${maxAbsDiff(got, want)}`,
    );
  }
});

async function backpropInput(
  backend: 'cpu' | 'wasm',
  xShape: Shape4,
  filterShape: Shape4,
  stride: number | [number, number],
  pad: Pad,
  dyShape: number[],
): Promise<Float32Array> {
  return onBackend(backend, async () => {
    const dy = tf.tensor4d(randomArray(size(dyShape), 5), dyShape as Shape4);
    const filter = tf.tensor4d(randomArray(size(filterShape), 6), filterShape);
    const attrs = { strides: stride, pad, dataFormat: 'NHWC', inputShape: xShape } as unknown as tf.NamedAttrMap;
    const dx = tf.engine().runKernel('Conv2DBackpropInput', { dy, filter }, attrs) as tf.Tensor;
    assert.deepEqual(dx.shape, xShape);
    const out = (await dx.data()) as Float32Array;
    tf.dispose([dy, filter, dx]);
    return out;
  });
}

test('wasm Conv2DBackpropInput (sub-pixel on XNNPACK) matches the cpu backend', async () => {
  await initBackend('wasm');
  const extra: typeof cases = [
    { x: [2, 12, 12, 3], f: [5, 5, 3, 2], stride: 3, pad: 'same' },
    { x: [2, 12, 12, 3], f: [4, 4, 3, 2], stride: 2, pad: 'valid' },
    { x: [4, 32, 32, 16], f: [3, 3, 16, 16], stride: 2, pad: 'same' },
  ];
  for (const c of [...cases, ...extra]) {
    const dyShape = await onBackend('cpu', async () => {
      const y = tf.conv2d(
        tf.zeros(c.x) as tf.Tensor4D,
        tf.zeros(c.f) as tf.Tensor4D,
        c.stride,
        c.pad as tf.backend_util.ExplicitPadding,
      );
      const s = y.shape;
      y.dispose();
      return s;
    });
    const want = await backpropInput('cpu', c.x, c.f, c.stride, c.pad, dyShape);
    const before = tf.memory().numTensors;
    const got = await backpropInput('wasm', c.x, c.f, c.stride, c.pad, dyShape);
    assert.equal(tf.memory().numTensors, before, 'no tensors leak');
    const scale = Math.max(1, ...Array.from(want, Math.abs));
    assert.ok(
      maxAbsDiff(got, want) <= 1e-5 * scale,
      `${JSON.stringify(c)}: max |wasm - cpu| = ${maxAbsDiff(got, want)}`,
    );
  }
});

test('conv2d and conv2dTranspose filter gradients on wasm equal cpu', async () => {
  await initBackend('wasm');
  const grads = async (backend: 'cpu' | 'wasm'): Promise<Float32Array[]> =>
    onBackend(backend, async () => {
      const x = tf.tensor4d(randomArray(2 * 16 * 16 * 3, 3), [2, 16, 16, 3]);
      const w1 = tf.tensor4d(randomArray(3 * 3 * 3 * 8, 4), [3, 3, 3, 8]);
      const w2 = tf.tensor4d(randomArray(3 * 3 * 3 * 8, 5), [3, 3, 3, 8]);
      const g = tf.grads((a: tf.Tensor, b: tf.Tensor) => {
        const h = tf.relu(tf.conv2d(x, a as tf.Tensor4D, 2, 'same'));
        const y = tf.conv2dTranspose(h, b as tf.Tensor4D, [2, 16, 16, 3], 2, 'same');
        return tf.sum(tf.square(y));
      })([w1, w2]);
      const out = await Promise.all(g.map(async (t) => (await t.data()) as Float32Array));
      tf.dispose([x, w1, w2, ...g]);
      return out;
    });
  const want = await grads('cpu');
  const got = await grads('wasm');
  for (let i = 0; i < want.length; i++) {
    const scale = Math.max(1, ...Array.from(want[i]!, Math.abs));
    assert.ok(
      maxAbsDiff(got[i]!, want[i]!) <= 1e-4 * scale,
      `gradient ${i}: max diff ${maxAbsDiff(got[i]!, want[i]!)} (scale ${scale})`,
    );
  }
});
