/**
 * Vision benchmarks (one JSON object, bench/report.ts):
 *  - encode latency of one 640x480 JPEG camera frame on wasm (decode, crop, resize, normalise,
 *    encoder forward pass, latent read back): p50 and p99 against the goal p99 < 10 ms;
 *  - VAE training throughput on wasm (images/s at the default 64x64 input, paper layer sizes,
 *    batch 64) against the goal of 250 images/s, and against the cpu backend in the same run.
 * Run: node --import tsx bench/vision.bench.ts   (VISION_BENCH_QUICK=1 for a short run)
 */
import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import { DrivingSimEnv } from '../sim/index.js';
import { initBackend } from '../src/core/backend.js';
import { VaeImageEncoder } from '../src/vision/encoder.js';
import { decodeCompressedImage, normalise, preprocessRgb } from '../src/vision/preprocess.js';
import { Vae, buildEncoder, parseVaeConfig, preprocessOptionsOf, type VaeConfig } from '../src/vision/vae.js';
import { figure, printReport } from './report.js';

const quick = process.env.VISION_BENCH_QUICK === '1';
const ENCODE_P99_GOAL_MS = 10;
const TRAIN_GOAL_IMAGES_PER_S = 250;

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

async function cameraJpeg(): Promise<Buffer> {
  const env = new DrivingSimEnv({ camera: { widthPx: 640, heightPx: 480 } });
  env.resetSync({ seed: 21 });
  for (let i = 0; i < 20; i++) env.stepSync([0.1, 1]);
  const img = env.renderAt(640, 480);
  return sharp(Buffer.from(img.data), { raw: { width: 640, height: 480, channels: 3 } }).jpeg({ quality: 90 }).toBuffer();
}

async function encodeLatency(config: VaeConfig, jpeg: Buffer, iterations: number): Promise<{ p50: number; p99: number; stages: Record<string, number> }> {
  const encoder = new VaeImageEncoder(buildEncoder(config, 1), config);
  const opts = preprocessOptionsOf(config);
  const total: number[] = [];
  const stage = { decodeMs: 0, cropResizeMs: 0, encoderMs: 0 };
  for (let i = 0; i < iterations + 20; i++) {
    const t0 = performance.now();
    const rgb = await decodeCompressedImage(jpeg);
    const t1 = performance.now();
    const input = normalise(await preprocessRgb(rgb, opts));
    const t2 = performance.now();
    const z = await encoder.encodeInputs(input, 1);
    const t3 = performance.now();
    if (z[0]!.length !== config.latentSize) throw new Error('bad latent');
    if (i >= 20) {
      total.push(t3 - t0);
      stage.decodeMs += t1 - t0;
      stage.cropResizeMs += t2 - t1;
      stage.encoderMs += t3 - t2;
    }
  }
  encoder.dispose();
  total.sort((a, b) => a - b);
  const mean = (x: number): number => x / iterations;
  return { p50: percentile(total, 0.5), p99: percentile(total, 0.99), stages: { decodeMs: mean(stage.decodeMs), cropResizeMs: mean(stage.cropResizeMs), encoderMs: mean(stage.encoderMs) } };
}

function trainImagesPerSecond(config: VaeConfig, batchSize: number, steps: number): number {
  const vae = new Vae(config, { seed: 1 });
  const x = tf.randomUniform([batchSize, config.inputHeight, config.inputWidth, 3], 0, 1, 'float32', 7) as tf.Tensor4D;
  vae.trainStep(x, 0); // warm-up: kernels, weight packing
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) vae.trainStep(x, i + 1);
  const seconds = (performance.now() - t0) / 1000;
  x.dispose();
  vae.dispose();
  return (steps * batchSize) / seconds;
}

const config = parseVaeConfig({});
await initBackend('wasm');
const jpeg = await cameraJpeg();
const latency = await encodeLatency(config, jpeg, quick ? 50 : 300);
const wasmRate = trainImagesPerSecond(config, 64, quick ? 4 : 20);
await initBackend('cpu');
// cpu is ~100x slower: a smaller batch keeps the run short; images/s barely depends on the batch there.
const cpuRate = trainImagesPerSecond(config, 8, 1);
await initBackend('wasm');

printReport(
  'vision',
  [
    figure('encode latency p99, 640x480 JPEG -> latent (wasm)', latency.p99, 'ms', { name: 'goal', value: ENCODE_P99_GOAL_MS }, false, `p50 ${latency.p50.toFixed(2)} ms`),
    figure('encode latency p50, 640x480 JPEG -> latent (wasm)', latency.p50, 'ms', { name: 'goal (p99)', value: ENCODE_P99_GOAL_MS }, false),
    figure('VAE training throughput, 64x64, 4x16 conv, batch 64 (wasm)', wasmRate, 'images/s', { name: 'goal', value: TRAIN_GOAL_IMAGES_PER_S }, true),
    figure('VAE training throughput, wasm vs the cpu backend (ratio = speed-up)', wasmRate, 'images/s', { name: 'cpu backend, same run (batch 8)', value: cpuRate }, true),
  ],
  { encodeStagesMeanMs: latency.stages, input: { width: config.inputWidth, height: config.inputHeight, skyCropFraction: config.skyCropFraction }, latentSize: config.latentSize },
);
