import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { parseSimConfig } from '../../sim/index.js';
import { DEFAULT_SIM_COLLECT, collectSimFrames } from '../../src/jobs/vae-collect.js';
import { initBackend } from '../../src/core/backend.js';
import type { RgbImage } from '../../src/core/env.js';
import { DEFAULT_VAE_MODEL_DIR, loadVaeEncoder } from '../../src/vision/encoder.js';
import { groupCrossValidatedR2, predictLinear, rSquared } from '../../src/vision/regression.js';

/**
 * The latent carries the lane: on frames from road seeds the shipped model never saw, a linear
 * regression from the latent mean predicts cross-track error and heading error.
 *
 * The frames are collected here, with fresh seeds, by the same driver and protocol as the shipped
 * model's data (`daydrive vae collect --steps-per-episode 120 --frame-every 3`, the default noisy
 * driver), then encoded by the model; two scores per target:
 *  - fitted: least squares fitted on two thirds of the roads, scored on the other third (three
 *    folds, dealt by road, predictions pooled; src/vision/regression.ts groupCrossValidatedR2);
 *  - stored: the probes `vae train` fitted (vae.json training.probeModels: on the labelled
 *    `--probe-data` frames, for a model trained from a bag), applied unchanged: the card's
 *    figure, checked on new roads.
 *
 * The goal is R^2 >= 0.8 for both. The shipped model, trained from a bag with no simulator labels
 * (odometry targets), does not reach it on cross-track error: here fitted 0.62 / 0.80, stored
 * 0.69 / 0.79 (cross-track / heading; docs/vision.md). The test holds it to floors under those
 * figures, above what a plain VAE reaches (0.2 to 0.5): a model that loses the lane fails.
 * The simulator-only ablation models/vae-sim-ground-truth reaches the goal (0.81 / 0.84, 0.87 / 0.87).
 *
 * DAYDRIVE_VAE_PROBE_MODEL=DIR scores another model (e.g. a candidate) with the same frames;
 * the figures are printed as test diagnostics either way.
 */

const MODEL_DIR = process.env.DAYDRIVE_VAE_PROBE_MODEL ?? DEFAULT_VAE_MODEL_DIR;
const FLOOR = { crossTrackErrorM: 0.55, headingErrorRad: 0.7 } as const;
/** 36 roads x 41 frames: ~1,500 frames, enough for a 33-parameter fit on 24 roads; ~12 s here. */
const EPISODES = 36;
/** Not a collection seed of the shipped model's data (31) or its probe frames (22): other roads. */
const SEED = 4242;

interface Frame {
  readonly image: RgbImage;
  readonly road: number;
  readonly crossTrackErrorM: number;
  readonly headingErrorRad: number;
}

test('the latent is informative: linear probes of cross-track and heading error on unseen roads hold their floors', async (t) => {
  await initBackend('wasm');
  const frames: Frame[] = [];
  await collectSimFrames(
    parseSimConfig({}),
    { ...DEFAULT_SIM_COLLECT, episodes: EPISODES, seed: SEED, stepsPerEpisode: 120, frameEvery: 3 },
    async (f) => {
      frames.push({
        image: f.image,
        road: f.record.episode,
        crossTrackErrorM: f.record.crossTrackErrorM!,
        headingErrorRad: f.record.headingErrorRad!,
      });
    },
  );
  assert.equal(frames.length, EPISODES * 41);

  const encoder = await loadVaeEncoder(MODEL_DIR);
  const latents: Float32Array[] = [];
  try {
    for (let i = 0; i < frames.length; i += 128)
      latents.push(...(await encoder.encodeBatch(frames.slice(i, i + 128).map((f) => f.image))));
  } finally {
    encoder.dispose();
  }
  const stored = encoder.meta?.training?.probeModels;
  const roads = frames.map((f) => f.road);
  const scores: Record<string, { fitted: number; stored?: number; spread: number }> = {};
  for (const target of ['crossTrackErrorM', 'headingErrorRad'] as const) {
    const ys = frames.map((f) => f[target]);
    const mean = ys.reduce((a, b) => a + b, 0) / ys.length;
    const spread = Math.sqrt(ys.reduce((a, b) => a + (b - mean) ** 2, 0) / ys.length);
    const fitted = groupCrossValidatedR2(latents, ys, roads, 3);
    const probe = stored?.[target];
    const storedR2 = probe
      ? rSquared(
          ys,
          latents.map((z) => predictLinear({ weights: Float64Array.from(probe.weights), bias: probe.bias }, z)),
        )
      : undefined;
    scores[target] = { fitted, spread, ...(storedR2 !== undefined ? { stored: storedR2 } : {}) };
  }
  t.diagnostic(
    `model ${MODEL_DIR}, ${frames.length} frames from ${EPISODES} new roads (seed ${SEED}): ${JSON.stringify(scores)}`,
  );
  for (const [target, s] of Object.entries(scores)) {
    const floor = FLOOR[target as keyof typeof FLOOR];
    assert.ok(
      s.fitted >= floor,
      `${target}: R^2 ${s.fitted.toFixed(3)} of a probe fitted on other new roads, floor ${floor}`,
    );
    if (s.stored !== undefined)
      assert.ok(s.stored >= floor, `${target}: R^2 ${s.stored.toFixed(3)} of the model's stored probe, floor ${floor}`);
  }
});
