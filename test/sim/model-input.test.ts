import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { Camera, DrivingSimEnv, modelInputWindow, parseSimConfig } from '../../sim/index.js';
import { initBackend } from '../../src/core/backend.js';
import { DEFAULT_VAE_MODEL_DIR, loadVaeEncoder } from '../../src/vision/encoder.js';
import { DEFAULT_PREPROCESS, normalise, preprocessRgb } from '../../src/vision/preprocess.js';

/**
 * The simulator's agent view: the sky-cropped field of view rendered straight at the model input
 * (DrivingSimEnvOptions.modelInput) must give the encoder what the car's path (a full frame
 * through sharp's crop and resize) gives it. bench/render-path.bench.ts measures the same on
 * ~1,500 frames with the latent probes; here a few roads, with bounds a regression would cross.
 */

const SPEC = DEFAULT_PREPROCESS;

function drive(env: DrivingSimEnv, steps: number): void {
  for (let i = 0; i < steps; i++) {
    const r = env.stepSync([0.15 * Math.sin(i / 6), 0.7]);
    if (r.terminated || r.truncated) env.resetSync({ continueRoute: true });
  }
}

test('a model-input env sends HWC floats in [0, 1] at the model size and an empty image, the same for the same seed', () => {
  const a = new DrivingSimEnv({}, { modelInput: SPEC });
  const b = new DrivingSimEnv({}, { modelInput: SPEC });
  const oa = a.resetSync({ seed: 24 });
  const ob = b.resetSync({ seed: 24 });
  assert.equal(oa.image.width, 0);
  assert.ok(oa.modelInput);
  assert.deepEqual([oa.modelInput.width, oa.modelInput.height, oa.modelInput.skyCropFraction], [64, 64, 0.4]);
  assert.equal(oa.modelInput.data.length, 64 * 64 * 3);
  assert.ok(oa.modelInput.data.every((v) => v >= 0 && v <= 1));
  assert.deepEqual(oa.modelInput.data, ob.modelInput?.data);
  const next = a.stepSync([0, 1]).observation.modelInput;
  assert.ok(next && next.data !== oa.modelInput.data, 'a fresh buffer per observation');
  // People still get full frames on demand.
  assert.equal(a.renderAt(160, 120).width, 160);
});

test('the agent view matches the car path (full frame + sharp crop and resize) on the same poses', async () => {
  let absDiff = 0;
  let count = 0;
  const meanCar = [0, 0, 0];
  const meanSim = [0, 0, 0];
  for (const seed of [23, 24, 123, 7]) {
    const env = new DrivingSimEnv({}, { modelInput: SPEC });
    env.resetSync({ seed });
    for (let k = 0; k < 3; k++) {
      drive(env, 15);
      const sim = env.stepSync([0, 0.7]).observation.modelInput!.data;
      const car = normalise(await preprocessRgb(env.renderAt(160, 120), SPEC));
      for (let i = 0; i < car.length; i++) {
        absDiff += Math.abs(car[i]! - sim[i]!);
        meanCar[i % 3]! += car[i]!;
        meanSim[i % 3]! += sim[i]!;
      }
      count += car.length;
    }
  }
  const levels = (absDiff / count) * 255;
  // Measured 1.9 levels on 492 frames (bench/render-path.bench.ts); a wrong crop line, a
  // stretched view or lines drawn without their footprint filter give 10 and more.
  assert.ok(levels < 4, `mean |difference| ${levels.toFixed(2)} levels of 255`);
  for (let c = 0; c < 3; c++) {
    const d = ((meanSim[c]! - meanCar[c]!) / (count / 3)) * 255;
    assert.ok(Math.abs(d) < 1.5, `channel ${c}: means differ by ${d.toFixed(2)} levels`);
  }
});

test('a camera window renders the rows below the crop: a 1x1-supersampled window of a full frame is its lower part', () => {
  const cfg = parseSimConfig({}).camera;
  const env = new DrivingSimEnv({ camera: { widthPx: 40, heightPx: 30 } });
  env.resetSync({ seed: 23 });
  drive(env, 10);
  const full = env.renderAt(40, 30);
  // A window with the full width and the rows below 12 at native resolution: the same pixels.
  const window = { topRowsPx: 12, outWidthPx: 40, outHeightPx: 18, supersampleX: 1, supersampleY: 1 };
  const cam = Camera.fromConfig({ ...cfg, widthPx: 40, heightPx: 30 }, 40, 30, window);
  const floats = cam.renderModelInput(env.road, env.appearance, env.pose);
  let worst = 0;
  for (let i = 0; i < floats.length; i++)
    worst = Math.max(worst, Math.abs(floats[i]! * 255 - full.data[12 * 40 * 3 + i]!));
  assert.ok(worst <= 0.5 + 1e-3, `largest difference ${worst} levels (bytes round, floats do not)`);
  assert.throws(() => Camera.fromConfig(cfg, 160, 120, { ...window, topRowsPx: 120 }), /does not fit/);
  assert.deepEqual(modelInputWindow(cfg, SPEC), {
    topRowsPx: 48,
    outWidthPx: 64,
    outHeightPx: 64,
    supersampleX: 2,
    supersampleY: 1,
  });
});

test('the VAE encodes a model-input frame like the car path, and refuses one of another crop or size', async () => {
  await initBackend('wasm');
  const encoder = await loadVaeEncoder(DEFAULT_VAE_MODEL_DIR);
  try {
    const env = new DrivingSimEnv({}, { modelInput: encoder.preprocess });
    env.resetSync({ seed: 123 });
    drive(env, 20);
    const obs = env.stepSync([0, 0.7]).observation;
    const zSim = await encoder.encodeModelInput(obs.modelInput!);
    const zCar = await encoder.encode(env.renderAt(160, 120));
    let d = 0;
    let n = 0;
    for (let i = 0; i < zSim.length; i++) {
      d += (zSim[i]! - zCar[i]!) ** 2;
      n += zCar[i]! ** 2;
    }
    // The latent spread is about 1 per component; measured RMS difference ~0.03 of it.
    assert.ok(
      Math.sqrt(d / zSim.length) < 0.2,
      `latent RMS difference ${Math.sqrt(d / zSim.length).toFixed(3)} (norm ${Math.sqrt(n).toFixed(2)})`,
    );
    await assert.rejects(
      encoder.encodeModelInput({ ...obs.modelInput!, skyCropFraction: 0.3 }),
      /sky crop 0.3 does not match/,
    );
  } finally {
    encoder.dispose();
  }
});
