import { strict as assert } from 'node:assert';
import { mkdir, mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseSimConfig } from '../../sim/index.js';
import { initBackend } from '../../src/core/backend.js';
import { Rng } from '../../src/core/rng.js';
import { collectSimFrames, DEFAULT_SIM_COLLECT, recordSimBag } from '../../src/jobs/vae-collect.js';
import { applyPhotometricChange, drawPhotometricChange } from '../../src/vision/augment.js';
import { BagWriter } from '../../src/vision/bag-writer.js';
import { FrameWriter } from '../../src/vision/dataset.js';
import { readMcapImages } from '../../src/vision/mcap.js';
import { BAG_TOPICS } from '../../src/vision/ros-schemas.js';
import { ODOMETRY_TARGET_NAMES } from '../../src/vision/odometry-targets.js';
import { trainVae } from '../../src/vision/trainer.js';
import { parseVaeConfig } from '../../src/vision/vae.js';

test('photometric change: identity parameters change nothing; brightness scales; values stay in [0, 1]', () => {
  const src = Float32Array.from({ length: 48 }, (_, i) => (i % 17) / 16);
  const dst = new Float32Array(48);
  applyPhotometricChange(src, dst, 0, 48, { brightness: 1, contrast: 1, gamma: 1, gain: [1, 1, 1] });
  for (let i = 0; i < 48; i++) assert.ok(Math.abs(dst[i]! - src[i]!) < 1e-6);
  applyPhotometricChange(src, dst, 0, 48, { brightness: 0.5, contrast: 1, gamma: 1, gain: [1, 1, 1] });
  for (let i = 0; i < 48; i++) assert.ok(Math.abs(dst[i]! - 0.5 * src[i]!) < 1e-6);
  const rng = Rng.fromSeed(3);
  for (let k = 0; k < 20; k++) {
    applyPhotometricChange(src, dst, 0, 48, drawPhotometricChange(rng));
    assert.ok(dst.every((v) => v >= 0 && v <= 1));
  }
});

test(
  'vae train from a bag: odometry targets and augmentation, probes on labelled frames of other roads; the ground-truth head refuses bag frames',
  { timeout: 180_000 },
  async () => {
    await initBackend('wasm');
    const root = await mkdtemp(join(tmpdir(), 'vae-bag-'));
    const sim = parseSimConfig({});
    const bagDir = join(root, 'bag');
    await mkdir(bagDir);
    const bag = await BagWriter.create(bagDir, { name: 'bag' });
    await recordSimBag(sim, { ...DEFAULT_SIM_COLLECT, episodes: 4, seed: 31, stepsPerEpisode: 40, frameEvery: 2 }, bag);
    await bag.finish();
    // The bag's frames as vae collect --bag writes them (odometry and command per frame, segments by pauses).
    const data = join(root, 'data');
    await mkdir(data);
    const writer = new FrameWriter(data);
    let episode = 0;
    let last: bigint | null = null;
    await readMcapImages(bagDir, BAG_TOPICS.camera, async (f) => {
      if (last !== null && f.logTimeNs - last > 1_000_000_000n) episode++;
      last = f.logTimeNs;
      await writer.add(f.image, {
        episode,
        step: f.messageIndex,
        timestampNs: f.logTimeNs.toString(),
        odomXM: f.odometry!.xM,
        odomYM: f.odometry!.yM,
        odomYawRad: f.odometry!.yawRad,
        speedMps: f.odometry!.speedMps,
        ...(f.command ? { commandSteeringRad: f.command.steeringRad } : {}),
      });
    });
    await writer.finish({ source: 'bag', episodes: episode + 1 });
    // Labelled frames of other roads, for the probes only.
    const probe = join(root, 'probe');
    await mkdir(probe);
    const probeWriter = new FrameWriter(probe);
    await collectSimFrames(
      sim,
      { ...DEFAULT_SIM_COLLECT, episodes: 4, seed: 32, stepsPerEpisode: 30, frameEvery: 2 },
      async (f) => void (await probeWriter.add(f.image, f.record)),
    );
    await probeWriter.finish({ source: 'sim', episodes: 4 });

    const out = join(root, 'model');
    const config = parseVaeConfig({
      inputWidth: 32,
      inputHeight: 32,
      latentSize: 6,
      filters: [8, 8],
      auxiliaryWeight: 5,
      augmentation: 'photometric',
    });
    assert.equal(config.auxiliaryTargets, 'odometry');
    const r = await trainVae({
      dataDir: data,
      outDir: out,
      epochs: 1,
      config,
      batchSize: 16,
      seed: 2,
      validationFraction: 0.3,
      probeDataDir: probe,
    });
    assert.deepEqual(r.summary.auxiliaryTargetNames, ODOMETRY_TARGET_NAMES);
    assert.ok(r.summary.history[0]!.train.auxiliary > 0, 'the odometry head trained');
    assert.ok(r.summary.probeData && r.summary.probeData.scoreFrames > 0);
    assert.deepEqual(Object.keys(r.summary.probes ?? {}).sort(), ['crossTrackErrorM', 'headingErrorRad']);
    const card = await readFile(join(out, 'MODEL_CARD.md'), 'utf8');
    assert.match(card, /No simulator ground truth/);
    assert.match(card, /denoising/);
    assert.match(card, /the probe may use ground truth, the VAE did not/);

    const gt = parseVaeConfig({
      inputWidth: 32,
      inputHeight: 32,
      latentSize: 6,
      filters: [8, 8],
      auxiliaryWeight: 5,
      auxiliaryTargets: 'ground-truth',
    });
    await assert.rejects(
      trainVae({ dataDir: data, outDir: join(root, 'gt'), epochs: 1, config: gt, batchSize: 16 }),
      /carry no simulator ground truth/,
    );
  },
);
