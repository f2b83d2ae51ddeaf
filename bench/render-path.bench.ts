/**
 * The simulator's two roads to the encoder, on the same frames: the car's path (a full
 * 160x120 frame, then sharp's sky crop and Lanczos resize: src/vision/preprocess.ts) and the
 * simulator's own (the cropped view drawn at the model input, supersampled:
 * DrivingSimEnvOptions.modelInput). Per-pixel statistics of both, their difference, and what
 * the shipped VAE makes of them: the latent probes' R^2 for cross-track and heading error (as
 * test/vision/probe.test.ts: probes fitted on two thirds of the roads, scored on the rest; and
 * the model's stored probes) and how far the latents of the two paths lie apart.
 *
 * Run: node --import tsx bench/render-path.bench.ts
 * RENDER_BENCH_ROADS=N roads (default 36, ~1,500 frames); RENDER_BENCH_SUPERSAMPLE=2x1 the
 * supersampling tried (default: the config's).
 */
import { Camera, DrivingSimEnv, modelInputWindow, parseSimConfig, purePursuitForEnv } from '../sim/index.js';
import { initBackend } from '../src/core/backend.js';
import { Rng } from '../src/core/rng.js';
import { DEFAULT_VAE_MODEL_DIR, loadVaeEncoder } from '../src/vision/encoder.js';
import { normalise, preprocessRgb } from '../src/vision/preprocess.js';
import { groupCrossValidatedR2, predictLinear, rSquared } from '../src/vision/regression.js';
import { figure, printReport, type BenchFigure } from './report.js';
import { clamp } from '../src/core/math.js';

const ROADS = Number(process.env.RENDER_BENCH_ROADS ?? 36);
const SEED = 4242; // not the shipped model's collection seed (31)
const ssText = process.env.RENDER_BENCH_SUPERSAMPLE;
const supersample = ssText ? (ssText.split('x').map(Number) as [number, number]) : undefined;

await initBackend('wasm');
const encoder = await loadVaeEncoder(DEFAULT_VAE_MODEL_DIR);
const spec = encoder.preprocess;
const config = parseSimConfig(supersample ? { camera: { modelInputSupersample: supersample } } : {});
const env = new DrivingSimEnv({ ...config, camera: { ...config.camera, render: false } });
const modelCamera = Camera.fromConfig(config.camera, undefined, undefined, modelInputWindow(config.camera, spec));
const size = spec.width * spec.height * 3;

// A noisy driver (as vae collect's): pure pursuit towards a lateral offset that changes now
// and then, with OU steering noise, so frames span the cross-track and heading errors.
const rng = Rng.fromSeed(SEED);
const carInputs: Float32Array[] = [];
const simInputs: Float32Array[] = [];
const ys: { cte: number; heading: number; road: number }[] = [];
let sharpMs = 0;
let directMs = 0;
for (let road = 0; road < ROADS; road++) {
  env.resetSync({ seed: rng.int(0x7fffffff) });
  let offsetM = 0;
  let noise = 0;
  for (let step = 0; step <= 120; step++) {
    if (step > 0) {
      if (rng.uniform() < 0.04) offsetM = rng.range(-1.1, 1.1) * (env.road.laneWidthM / 2);
      noise += -0.3 * noise + 0.25 * Math.sqrt(0.6) * rng.normal();
      const [steer] = purePursuitForEnv(env, { offsetM, speedAction: 0.6 });
      const r = env.stepSync([clamp(steer + noise, -1, 1), 0.6]);
      if (r.terminated || r.truncated) {
        env.resetSync({ continueRoute: true });
        noise = 0;
      }
    }
    if (step % 3 !== 0) continue;
    let t = performance.now();
    const full = env.renderAt(config.camera.widthPx, config.camera.heightPx);
    carInputs.push(normalise(await preprocessRgb(full, spec)));
    sharpMs += performance.now() - t;
    t = performance.now();
    simInputs.push(modelCamera.renderModelInput(env.road, env.appearance, env.pose));
    directMs += performance.now() - t;
    const info = env.currentInfo();
    ys.push({ cte: info.crossTrackErrorM, heading: info.headingErrorRad, road });
  }
}
const n = carInputs.length;

/** Mean and std over every value of every frame, per channel; mean |horizontal / vertical gradient|. */
function pixelStats(inputs: readonly Float32Array[]): { mean: number[]; std: number[]; gradX: number; gradY: number } {
  const sum = [0, 0, 0];
  const sq = [0, 0, 0];
  let gx = 0;
  let gy = 0;
  const w = spec.width;
  for (const x of inputs) {
    for (let i = 0; i < size; i++) {
      sum[i % 3]! += x[i]!;
      sq[i % 3]! += x[i]! * x[i]!;
    }
    for (let r = 0; r < spec.height; r++) {
      for (let c = 0; c < w; c++) {
        const o = (r * w + c) * 3;
        for (let k = 0; k < 3; k++) {
          if (c + 1 < w) gx += Math.abs(x[o + 3 + k]! - x[o + k]!);
          if (r + 1 < spec.height) gy += Math.abs(x[o + 3 * w + k]! - x[o + k]!);
        }
      }
    }
  }
  const count = (inputs.length * size) / 3;
  const mean = sum.map((s) => s / count);
  const std = sq.map((s, k) => Math.sqrt(s / count - mean[k]! ** 2));
  return {
    mean,
    std,
    gradX: gx / (inputs.length * spec.height * (w - 1) * 3),
    gradY: gy / (inputs.length * (spec.height - 1) * w * 3),
  };
}

let absDiff = 0;
let maxDiff = 0;
for (let f = 0; f < n; f++) {
  for (let i = 0; i < size; i++) {
    const d = Math.abs(carInputs[f]![i]! - simInputs[f]![i]!);
    absDiff += d;
    if (d > maxDiff) maxDiff = d;
  }
}
const car = pixelStats(carInputs);
const sim = pixelStats(simInputs);

async function latents(inputs: readonly Float32Array[]): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  for (let i = 0; i < inputs.length; i += 128) {
    const chunk = inputs.slice(i, i + 128);
    const batch = new Float32Array(chunk.length * size);
    chunk.forEach((x, k) => batch.set(x, k * size));
    out.push(...(await encoder.encodeInputs(batch, chunk.length)));
  }
  return out;
}
const zCar = await latents(carInputs);
const zSim = await latents(simInputs);
const latentSize = encoder.latentSize;
let zDiff = 0;
let zSpread = 0;
for (let j = 0; j < latentSize; j++) {
  let m = 0;
  for (const z of zCar) m += z[j]!;
  m /= n;
  for (let f = 0; f < n; f++) {
    zDiff += (zCar[f]![j]! - zSim[f]![j]!) ** 2;
    zSpread += (zCar[f]![j]! - m) ** 2;
  }
}
const roads = ys.map((y) => y.road);
const stored = encoder.meta?.training?.probeModels;
const probe = (zs: Float32Array[], target: 'cte' | 'heading') => {
  const values = ys.map((y) => y[target]);
  const model = stored?.[target === 'cte' ? 'crossTrackErrorM' : 'headingErrorRad'];
  return {
    fitted: groupCrossValidatedR2(zs, values, roads, 3),
    stored: model
      ? rSquared(
          values,
          zs.map((z) => predictLinear({ weights: Float64Array.from(model.weights), bias: model.bias }, z)),
        )
      : Number.NaN,
  };
};
const r2 = {
  car: { cte: probe(zCar, 'cte'), heading: probe(zCar, 'heading') },
  sim: { cte: probe(zSim, 'cte'), heading: probe(zSim, 'heading') },
};
encoder.dispose();

const figures: BenchFigure[] = [];
for (const target of ['cte', 'heading'] as const) {
  for (const kind of ['fitted', 'stored'] as const) {
    figures.push(
      figure(
        `latent probe R^2, ${target}, ${kind} probe, simulator path`,
        r2.sim[target][kind],
        'R^2',
        { name: 'car path (sharp)', value: r2.car[target][kind] },
        true,
      ),
    );
  }
}
figures.push(
  figure(
    'mean |difference| per input value, simulator vs car path',
    (absDiff / (n * size)) * 255,
    'levels of 255',
    { name: 'largest difference', value: maxDiff * 255 },
    false,
  ),
);
figures.push(
  figure(
    'latent difference between the paths, relative to the latent spread',
    Math.sqrt(zDiff / zSpread),
    'RMS ratio',
    { name: 'none', value: 1 },
    false,
  ),
);
figures.push(
  figure(
    'mean |horizontal gradient|, simulator path',
    sim.gradX * 255,
    'levels of 255',
    { name: 'car path', value: car.gradX * 255 },
    true,
  ),
);
figures.push(
  figure(
    'mean |vertical gradient|, simulator path',
    sim.gradY * 255,
    'levels of 255',
    { name: 'car path', value: car.gradY * 255 },
    true,
  ),
);
figures.push(
  figure(
    'ms per frame to the model input, simulator path',
    directMs / n,
    'ms',
    { name: 'car path (render 160x120 + sharp)', value: sharpMs / n },
    false,
  ),
);
await printReport('render-path', figures, {
  frames: n,
  roads: ROADS,
  supersample: config.camera.modelInputSupersample,
  channelMean: { sim: sim.mean, car: car.mean },
  channelStd: { sim: sim.std, car: car.std },
});
