import { strict as assert } from 'node:assert';
import { mkdtemp, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import { DrivingSimEnv, parseSimConfig } from '../../sim/index.js';
import { collectSimFrames } from '../../src/jobs/vae-collect.js';
import { initBackend } from '../../src/core/backend.js';
import { UserError } from '../../src/core/errors.js';
import { log } from '../../src/core/logger.js';
import { loadLayersModel } from '../../src/core/tfjs-io.js';
import { FrameWriter, readFrameIndex } from '../../src/vision/dataset.js';
import { DEFAULT_VAE_MODEL_DIR, aspectDiffers, loadVaeEncoder } from '../../src/vision/encoder.js';
import { readVaeMeta } from '../../src/vision/model-files.js';
import { decodeCompressedImage, normalise, preprocessRgb, readImageFile } from '../../src/vision/preprocess.js';
import { fitLinear, groupCrossValidatedR2, predictLinear, rSquared } from '../../src/vision/regression.js';
import { trainVae } from '../../src/vision/trainer.js';
import { Vae, parseVaeConfig } from '../../src/vision/vae.js';

test('one VAE training step on wasm (paper layer sizes, 64x64): finite losses, weights move, loss falls', async () => {
  assert.equal((await initBackend('wasm')).name, 'wasm');
  const config = parseVaeConfig({});
  assert.deepEqual(config.filters, [16, 16, 16, 16]);
  assert.equal(config.latentSize, 32);
  const vae = new Vae(config, { seed: 3, learningRate: 5e-3 });
  const batch = tf.tidy(() => {
    // Smooth images (vertical gradient plus a stripe) that a few steps can start to fit.
    const rows = tf.linspace(0, 1, 64).reshape([1, 64, 1, 1]);
    return tf
      .mul(tf.ones([8, 64, 64, 3]), rows)
      .add(tf.randomUniform([8, 1, 1, 3], 0, 0.3, 'float32', 1))
      .clipByValue(0, 1) as tf.Tensor4D;
  });
  const before = vae.encoder.getWeights().map((w) => w.dataSync().slice());
  const first = vae.trainStep(batch, 1);
  assert.ok(Number.isFinite(first.loss) && Number.isFinite(first.reconstruction) && Number.isFinite(first.kl));
  const after = vae.encoder.getWeights().map((w) => w.dataSync());
  assert.ok(
    before.some((w, i) => w.some((v, j) => v !== after[i]![j])),
    'the encoder weights changed',
  );
  let last = first;
  for (let i = 0; i < 20; i++) last = vae.trainStep(batch, 2 + i);
  assert.ok(
    last.reconstruction < first.reconstruction * 0.8,
    `reconstruction ${first.reconstruction} -> ${last.reconstruction}`,
  );
  const tensorsBefore = tf.memory().numTensors;
  vae.trainStep(batch, 99);
  assert.equal(tf.memory().numTensors, tensorsBefore, 'a training step leaks no tensors');
  batch.dispose();
  vae.dispose();
});

test('the auxiliary head: a linear map from the latent mean learns the targets; it needs targets and they need it', async () => {
  await initBackend('wasm');
  const config = parseVaeConfig({
    inputWidth: 16,
    inputHeight: 16,
    latentSize: 4,
    filters: [4, 4],
    auxiliaryWeight: 50,
  });
  const vae = new Vae(config, { seed: 2, learningRate: 1e-2, auxiliaryTargets: 1 });
  assert.ok(vae.head);
  // The target is the image brightness: the latent must carry it for the head to fit it.
  const levels = [0.1, 0.3, 0.5, 0.7, 0.9, 0.2, 0.6, 0.8];
  const batch = tf.tidy(() => tf.mul(tf.ones([8, 16, 16, 3]), tf.tensor4d(levels, [8, 1, 1, 1])) as tf.Tensor4D);
  const targets = tf.tensor2d(
    levels.map((v) => (v - 0.5) / 0.25),
    [8, 1],
  );
  const first = vae.trainStep(batch, 1, targets);
  let last = first;
  for (let i = 0; i < 60; i++) last = vae.trainStep(batch, 2 + i, targets);
  assert.ok(
    first.auxiliary > 0 && last.auxiliary < first.auxiliary * 0.3,
    `auxiliary ${first.auxiliary} -> ${last.auxiliary}`,
  );
  assert.equal(vae.evaluate(batch, targets).auxiliary >= 0, true);
  assert.throws(() => vae.trainStep(batch, 99), /give the targets/);
  const plain = new Vae(parseVaeConfig({ inputWidth: 16, inputHeight: 16, latentSize: 4, filters: [4, 4] }), {
    auxiliaryTargets: 1,
  });
  assert.equal(plain.head, null, 'auxiliaryWeight 0: no head');
  assert.throws(() => plain.evaluate(batch, targets), /without an auxiliary head/);
  tf.dispose([batch, targets]);
  vae.dispose();
  plain.dispose();
});

test('VAE config: bad values name the field', () => {
  assert.throws(() => parseVaeConfig({ inputWidth: 60 }), /divisible by 2\^/);
  assert.throws(() => parseVaeConfig({ latentSize: 0 }), /field latentSize/);
  assert.throws(() => parseVaeConfig({ skyCropFraction: 1 }), /field skyCropFraction/);
  assert.equal(parseVaeConfig({ inputWidth: 96, inputHeight: 48 }).inputWidth, 96);
});

test('least squares recovers a linear map; R^2 is 1 for a perfect fit and ~0 for the mean', () => {
  const xs = Array.from({ length: 50 }, (_, i) => [Math.sin(i), Math.cos(3 * i), i / 50]);
  const ys = xs.map(([a, b, c]) => 2 * a! - b! + 0.5 * c! + 3);
  const m = fitLinear(xs, ys);
  assert.ok(Math.abs(m.bias - 3) < 1e-4 && Math.abs(m.weights[0]! - 2) < 1e-4 && Math.abs(m.weights[1]! + 1) < 1e-4);
  assert.ok(
    rSquared(
      ys,
      xs.map((x) => predictLinear(m, x)),
    ) > 0.999999,
  );
  const mean = ys.reduce((a, b) => a + b, 0) / ys.length;
  assert.ok(
    Math.abs(
      rSquared(
        ys,
        ys.map(() => mean),
      ),
    ) < 1e-12,
  );
});

test('cross-validated R^2 by group: scores every row on a fit that never saw its group', () => {
  // y = 2 x0 + noise shared within a group: fitted across groups, the group noise is not learnable.
  const groups = Array.from({ length: 60 }, (_, i) => Math.floor(i / 10));
  const groupNoise = [0.3, -0.2, 0.5, -0.4, 0.1, -0.3];
  const xs = groups.map((_g, i) => [Math.sin(i * 1.7), Math.cos(i * 0.3)]);
  const ys = xs.map(([a], i) => 2 * a! + groupNoise[groups[i]!]!);
  const r2 = groupCrossValidatedR2(xs, ys, groups, 3);
  assert.ok(r2 > 0.7 && r2 < 0.99, `R^2 ${r2}: high, but below a fit that saw the group noise`);
  assert.ok(
    groupCrossValidatedR2(
      xs,
      xs.map(([a]) => 3 * a! - 1),
      groups,
      3,
    ) > 0.999999,
    'exact linear map',
  );
  assert.throws(
    () =>
      groupCrossValidatedR2(
        xs,
        ys,
        groups.map(() => 0),
        3,
      ),
    /at least 3 groups/,
  );
});

async function tinyDataset(dir: string): Promise<void> {
  const writer = new FrameWriter(dir);
  const config = parseSimConfig({});
  await collectSimFrames(
    config,
    { episodes: 3, seed: 5, stepsPerEpisode: 24, frameEvery: 2, randomBurstProbability: 0.05, steeringNoise: 0.25 },
    async (f) => {
      await writer.add(f.image, f.record);
    },
  );
  await writer.finish({
    source: 'sim',
    episodes: 3,
    camera: { widthPx: 160, heightPx: 120 },
    seed: 5,
    command: 'daydrive vae collect --episodes 3 --seed 5',
  });
}

test('vae train: checkpoint and resume, TF.js model + card + grid; the loader checks sizes and says what differs', async () => {
  await initBackend('wasm');
  const root = await mkdtemp(join(tmpdir(), 'vision-vae-'));
  const data = join(root, 'data');
  await tinyDataset(data);
  const index = await readFrameIndex(data);
  assert.equal(index.records.length, 3 * 13);
  assert.ok(index.records.every((r) => Number.isFinite(r.crossTrackErrorM) && Number.isFinite(r.headingErrorRad)));

  const out = join(root, 'model');
  const config = parseVaeConfig({
    inputWidth: 32,
    inputHeight: 32,
    latentSize: 8,
    filters: [8, 8],
    auxiliaryWeight: 1,
    auxiliaryTargets: 'ground-truth',
  });
  const first = await trainVae({
    dataDir: data,
    outDir: out,
    epochs: 1,
    config,
    batchSize: 16,
    seed: 1,
    validationFraction: 0.34,
    command: 'daydrive vae train --epochs 1',
  });
  assert.equal(first.summary.epochs, 1);
  assert.equal(first.summary.data.validationFrames, 13, 'one whole episode (road) held out');
  const resumed = await trainVae({ dataDir: data, outDir: out, epochs: 2, config, resume: true });
  assert.equal(resumed.resumedFromEpoch, 1);
  assert.equal(resumed.summary.history.length, 2);
  assert.deepEqual(resumed.summary.history[0], first.summary.history[0], 'the resumed run keeps the first epoch');
  assert.ok(
    resumed.summary.history.every((e) => e.train.auxiliary > 0),
    'the auxiliary head trained in both runs',
  );
  await assert.rejects(
    trainVae({ dataDir: data, outDir: out, epochs: 2, config, resume: true }),
    /already at epoch 2 of --epochs 2/,
  );

  for (const f of [
    'vae.json',
    'MODEL_CARD.md',
    'reconstructions.png',
    'encoder/model.json',
    'encoder/weights.bin',
    'decoder/model.json',
  ]) {
    assert.ok((await stat(join(out, f))).size > 0, f);
  }
  const card = await readFile(join(out, 'MODEL_CARD.md'), 'utf8');
  assert.match(card, /32x32/);
  assert.match(card, /epochs/);
  assert.match(card, /Auxiliary term \(weight 1, SIMULATOR-ONLY ABLATION\)/);
  assert.match(card, /collected with `daydrive vae collect --episodes 3 --seed 5`/);
  const meta = await readVaeMeta(out);
  assert.equal(meta.config.latentSize, 8);

  const encoder = await loadVaeEncoder(out, { latentSize: 8, inputWidth: 32, inputHeight: 32 });
  const image = await readImageFile(join(data, index.records[0]!.file));
  const z = await encoder.encode(image);
  assert.equal(z.length, 8);
  assert.ok(z.every(Number.isFinite));
  const again = await encoder.encodeInputs(normalise(await preprocessRgb(image, encoder.preprocess)), 1);
  assert.deepEqual(Array.from(again[0]!), Array.from(z), 'encode = preprocess + encodeInputs');
  const [z0, z1] = await encoder.encodeBatch([image, await readImageFile(join(data, index.records[1]!.file))]);
  assert.deepEqual(Array.from(z0!), Array.from(z), 'encodeBatch = encode, frame by frame');
  assert.deepEqual(
    Array.from(z1!),
    Array.from(await encoder.encode(await readImageFile(join(data, index.records[1]!.file)))),
  );
  encoder.dispose();

  await assert.rejects(loadVaeEncoder(out, { latentSize: 32, inputWidth: 64, inputHeight: 64 }), (err: unknown) => {
    assert.ok(err instanceof UserError);
    assert.match(err.message, /latent size 8 \(model\) vs 32 \(configuration\)/);
    assert.match(err.message, /input 32x32 \(model\) vs 64x64 \(configuration\)/);
    return true;
  });
  await assert.rejects(loadVaeEncoder(join(root, 'nowhere')), /no VAE model in .*vae\.json is missing/);
});

test('early stopping: patience 1 stops at the first epoch without a better validation loss, saves the best epoch, and resume refuses', async () => {
  await initBackend('wasm');
  const root = await mkdtemp(join(tmpdir(), 'vision-early-'));
  const data = join(root, 'data');
  await tinyDataset(data);
  const config = parseVaeConfig({ inputWidth: 32, inputHeight: 32, latentSize: 8, filters: [8, 8] });
  // Learning rate 1e-6: the weights move (visible in float32) but the validation loss stays well
  // within the 0.1% an epoch must gain to count, so the loss has stopped improving after epoch 1.
  const opts = {
    dataDir: data,
    epochs: 6,
    config,
    batchSize: 16,
    seed: 1,
    validationFraction: 0.34,
    learningRate: 1e-6,
    patience: 1,
  };
  const out = join(root, 'model');
  const { summary } = await trainVae({ ...opts, outDir: out });
  assert.equal(summary.stoppedEarly, true);
  assert.equal(summary.bestEpoch, 1);
  assert.equal(summary.epochs, 2, 'stopped after the first epoch without improvement, not at --epochs 6');
  assert.equal(summary.history.length, 2);
  const [first, second] = summary.history;
  assert.ok(
    second!.validation.loss > first!.validation.loss * (1 - 1e-3),
    `validation ${first!.validation.loss} -> ${second!.validation.loss}`,
  );
  assert.deepEqual(summary.validation, first!.validation, 'the card reports the best epoch');
  const meta = await readVaeMeta(out);
  assert.equal(meta.training?.stoppedEarly, true);
  assert.equal(meta.training?.bestEpoch, 1);
  assert.match(await readFile(join(out, 'MODEL_CARD.md'), 'utf8'), /2 epochs \(best: epoch 1, stopped early\)/);

  // The saved model is epoch 1's (the best), not the last epoch's (kept in the checkpoint):
  // a one-epoch run with the same settings gives the same weights.
  const one = join(root, 'one-epoch');
  await trainVae({ ...opts, outDir: one, epochs: 1 });
  const weights = async (dir: string): Promise<Float32Array[]> => {
    const model = await loadLayersModel(dir);
    const w = model.getWeights().map((t) => t.dataSync() as Float32Array);
    model.dispose();
    return w;
  };
  const saved = await weights(join(out, 'encoder'));
  assert.deepEqual(saved, await weights(join(one, 'encoder')), 'the saved encoder is the best epoch');
  assert.notDeepEqual(saved, await weights(join(out, 'checkpoint', 'encoder')), 'the checkpoint holds the last epoch');

  // Resuming a run that stopped early is refused (its settings, patience included, are the
  // checkpoint's), and leaves the model and the checkpoint as they were.
  const stateBefore = await readFile(join(out, 'checkpoint', 'state.json'), 'utf8');
  await assert.rejects(trainVae({ ...opts, outDir: out, epochs: 20, resume: true }), (err: unknown) => {
    assert.ok(err instanceof UserError);
    assert.match(
      err.message,
      /nothing to resume: training in .* stopped early at epoch 2 \(no validation improvement\)/,
    );
    return true;
  });
  assert.equal(await readFile(join(out, 'checkpoint', 'state.json'), 'utf8'), stateBefore);
  assert.deepEqual(await weights(join(out, 'encoder')), saved);
});

test('frames of another aspect ratio than the training camera: encoded, with one warning naming both sizes', async (t) => {
  await initBackend('wasm');
  const warn = t.mock.method(log, 'warn', () => undefined);
  const frame = (w: number, h: number) => {
    const env = new DrivingSimEnv({ camera: { widthPx: w, heightPx: h } });
    env.resetSync({ seed: 4 });
    return env.renderAt(w, h);
  };
  const encoder = await loadVaeEncoder(DEFAULT_VAE_MODEL_DIR);
  assert.deepEqual(encoder.trainedCamera, { widthPx: 160, heightPx: 120 }, 'vae.json records the training camera');
  await encoder.encode(frame(160, 120));
  await encoder.encode(frame(640, 480));
  assert.equal(warn.mock.callCount(), 0, 'same aspect ratio (4:3) at another resolution: no warning');
  assert.equal(aspectDiffers(161, 121, { widthPx: 160, heightPx: 120 }), false, 'within 1%');

  const wide = frame(320, 180);
  const z = await encoder.encode(wide);
  assert.equal(z.length, 32, 'still encoded');
  assert.equal(warn.mock.callCount(), 1);
  const [fields, message] = warn.mock.calls[0]!.arguments as unknown as [Record<string, unknown>, string];
  assert.equal(fields.frame, '320x180');
  assert.equal(fields.trainedOn, '160x120');
  assert.match(message, /camera frames are 320x180 .* was trained on 160x120 frames/);
  assert.match(message, /stretched to the 64x64 input/);
  const jpeg = await sharp(Buffer.from(wide.data), { raw: { width: 320, height: 180, channels: 3 } })
    .jpeg()
    .toBuffer();
  await encoder.encodeBatch([wide, wide]);
  const fromJpeg = await encoder.encodeCompressed(jpeg);
  assert.equal(warn.mock.callCount(), 1, 'once per encoder');
  const twoCalls = await encoder.encode(await decodeCompressedImage(jpeg));
  assert.deepEqual(Array.from(fromJpeg), Array.from(twoCalls), 'encodeCompressed = decode + encode');
  encoder.dispose();

  // Told the camera up front (VaeExpectation), the loader warns at load.
  const atLoad = await loadVaeEncoder(DEFAULT_VAE_MODEL_DIR, { cameraWidthPx: 1280, cameraHeightPx: 720 });
  assert.equal(warn.mock.callCount(), 2);
  assert.match(warn.mock.calls[1]!.arguments[1] as unknown as string, /camera frames are 1280x720/);
  await atLoad.encode(frame(320, 180));
  assert.equal(warn.mock.callCount(), 2, 'and not again per frame');
  atLoad.dispose();
  const sameCamera = await loadVaeEncoder(DEFAULT_VAE_MODEL_DIR, { cameraWidthPx: 640, cameraHeightPx: 480 });
  assert.equal(warn.mock.callCount(), 2);
  sameCamera.dispose();
});
