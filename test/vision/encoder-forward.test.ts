import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/core/backend.js';
import { DEFAULT_VAE_MODEL_DIR, loadVaeEncoder, VaeImageEncoder } from '../../src/vision/encoder.js';
import { encoderForward } from '../../src/vision/encoder-forward.js';
import { buildEncoder, parseVaeConfig } from '../../src/vision/vae.js';

/** `count` HWC frames of a fixed pattern in [0, 1]. */
function frames(count: number, h: number, w: number): Float32Array {
  return Float32Array.from({ length: count * h * w * 3 }, (_, i) => ((i * 7919) % 251) / 250);
}

function predictMeans(
  model: tf.LayersModel,
  inputs: Float32Array,
  count: number,
  h: number,
  w: number,
  latent: number,
) {
  return tf.tidy(() => {
    const y = model.predict(tf.tensor4d(inputs, [count, h, w, 3])) as tf.Tensor2D;
    return tf.slice(y, [0, 0], [count, latent]).dataSync() as Float32Array;
  });
}

test("the encoder's fused forward pass gives predict()'s latent means bit for bit (shipped VAE and a fresh one, batches 1 and 3)", async () => {
  await initBackend('wasm');
  const shipped = await loadVaeEncoder(DEFAULT_VAE_MODEL_DIR);
  const cfg = parseVaeConfig({ inputWidth: 64, inputHeight: 32, latentSize: 8, filters: [8, 8, 8] });
  const fresh = new VaeImageEncoder(buildEncoder(cfg, 3), cfg);
  for (const encoder of [shipped, fresh]) {
    const model = (encoder as unknown as { model: tf.LayersModel }).model;
    assert.ok(encoderForward(model), 'a buildEncoder model runs through the fused forward pass');
    for (const count of [1, 3]) {
      const x = frames(count, encoder.inputHeight, encoder.inputWidth);
      const means = await encoder.encodeInputs(x, count);
      const expected = predictMeans(model, x, count, encoder.inputHeight, encoder.inputWidth, encoder.latentSize);
      assert.equal(means.length, count);
      assert.deepEqual(Float32Array.from(means.flatMap((m) => [...m])), expected);
      assert.ok(expected.some((v) => v !== 0));
    }
  }
});

test('a model the fused pass does not know (a sigmoid dense layer, a branch) runs through predict() instead', async () => {
  await initBackend('wasm');
  const cfg = parseVaeConfig({ inputWidth: 32, inputHeight: 32, latentSize: 4, filters: [4, 4] });
  const input = tf.input({ shape: [32, 32, 3] });
  const conv = tf.layers.conv2d({ filters: 4, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' });
  const flat = tf.layers.flatten().apply(conv.apply(input)) as tf.SymbolicTensor;
  const sigmoid = tf.layers.dense({ units: 8, activation: 'sigmoid' }).apply(flat) as tf.SymbolicTensor;
  const sigmoidModel = tf.model({ inputs: input, outputs: sigmoid });
  const left = tf.layers.dense({ units: 8 }).apply(flat) as tf.SymbolicTensor;
  const right = tf.layers.dense({ units: 8 }).apply(flat) as tf.SymbolicTensor;
  const branchModel = tf.model({ inputs: input, outputs: tf.layers.add().apply([left, right]) as tf.SymbolicTensor });
  for (const model of [sigmoidModel, branchModel]) {
    assert.equal(encoderForward(model), null);
    const encoder = new VaeImageEncoder(model, cfg);
    const x = frames(2, 32, 32);
    const means = await encoder.encodeInputs(x, 2);
    assert.deepEqual(Float32Array.from(means.flatMap((m) => [...m])), predictMeans(model, x, 2, 32, 32, 4));
  }
});
