import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { drawAppearance, DrivingSimEnv, parseSimConfig } from '../../sim/index.js';

/**
 * Golden hashes of the rendering with the default configuration. A shipped VAE was trained on
 * these frames, so a refactor of the simulator's look (e.g. moving constants into the config)
 * must keep them byte-identical. The hashes were recorded from the code before the appearance
 * settings moved into `appearanceConfigSchema`. If a change is meant to alter the look, the VAE
 * in models/ has to be retrained and these hashes re-recorded together.
 */

/** sha256 of the frames of a fixed drive on road `seed` (64x48 observations and one 160x120 view). */
function framesHash(seed: number): string {
  const h = createHash('sha256');
  const env = new DrivingSimEnv({ camera: { widthPx: 64, heightPx: 48 } });
  h.update(env.resetSync({ seed }).image.data);
  h.update(env.renderAt(160, 120).data);
  for (let i = 0; i < 30; i++) h.update(env.stepSync([0.2 * Math.sin(i / 5), 0.8]).observation.image.data);
  h.update(env.renderAt(160, 120).data);
  return h.digest('hex');
}

test('golden frames: the default look renders byte-identically to the recorded frames', () => {
  // 123: the determinism test's road; 24: low sun (glare), tree line, dashed centre, edge lines,
  // gravel verge and shoulder; 23: grass verge, yellow centre line.
  const recorded: Record<number, string> = {
    123: '9998bc27ce7139916844c6f3587cc7ac66ad939fe28978cc647c445206b99c79',
    24: '7a0c746783a94b9c8c080f971051a8030e9b88ff4dcfe21f5d57a58861c3ed5f',
    23: '5fcccd5a5afa85b74bbeacb15803725572d81901b83dadb04b4340139f50ae86',
  };
  for (const [seed, hash] of Object.entries(recorded))
    assert.equal(framesHash(Number(seed)), hash, `frames of seed ${seed} changed`);
});

test('golden looks: drawAppearance with the defaults gives the recorded looks of 200 seeds (one and two lanes)', () => {
  const cfg = parseSimConfig({}).appearance;
  const h = createHash('sha256');
  // JSON.stringify prints each double's shortest round-trip form, so equal text = equal bits.
  for (let seed = 0; seed < 200; seed++)
    for (const twoLanes of [false, true]) h.update(JSON.stringify(drawAppearance(seed, cfg, twoLanes)));
  assert.equal(h.digest('hex'), '1028ae1194aa7a470fc4d9f7fee98dffd6922d8d352838867fab77f8ca2a3f24');
});

test('appearance settings that were constants take effect; the sky jitter leaves the rest of the look alone', () => {
  const base = drawAppearance(24, parseSimConfig({}).appearance, true);
  const set = parseSimConfig({
    appearance: {
      dashLengthRangeM: [2, 2],
      dashPeriodRangeM: [4, 4],
      edgeInsetRangeM: [0.3, 0.3],
      vergeNoiseRange: [0, 0],
      sunAzimuthRangeDeg: [90, 90],
      shoulderColour: [10, 20, 30],
      shoulderColourJitter: 0,
      treelineColour: [0, 0, 0],
      treelineColourJitter: 0,
      treelineSkyMix: 0,
      lowSunColour: [255, 0, 0],
      sunColour: [255, 0, 0],
    },
  }).appearance;
  const a = drawAppearance(24, set, true);
  assert.equal(a.dashLengthM, 2);
  assert.equal(a.dashPeriodM, 4);
  assert.equal(a.edgeInsetM, 0.3);
  assert.equal(a.vergeNoise, 0);
  assert.ok(Math.abs(a.sunAzimuthRad - Math.PI / 2) < 1e-12);
  assert.deepEqual(a.shoulderColour, [10, 20, 30]);
  assert.deepEqual(a.treelineColour, [0, 0, 0]);
  assert.deepEqual(a.sunColour, [255, 0, 0]);
  // Same number of draws in the same order: the randomised values that were not set are unchanged.
  assert.equal(a.noiseSeed, base.noiseSeed);
  assert.equal(a.brightness, base.brightness);
  assert.equal(a.hazeVisibilityM, base.hazeVisibilityM);

  const gravel = drawAppearance(
    24,
    parseSimConfig({
      appearance: { vergeWeights: { grass: 0, gravel: 1, dirt: 0 }, gravelColour: [50, 60, 70], vergeColourJitter: 0 },
    }).appearance,
    true,
  );
  assert.deepEqual(gravel.vergeColour, [50, 60, 70]);
  const grass = drawAppearance(
    24,
    parseSimConfig({
      appearance: {
        vergeWeights: { grass: 1, gravel: 0, dirt: 0 },
        grassDrynessRange: [1, 1],
        grassDryColour: [1, 2, 3],
      },
    }).appearance,
    true,
  );
  assert.deepEqual(grass.vergeColour, [1, 2, 3]);

  // Sky jitter: drawn after everything else, so only the sky (and what mixes it in) changes.
  const sky = drawAppearance(24, parseSimConfig({ appearance: { skyColourJitter: 20 } }).appearance, true);
  assert.notDeepEqual(sky.skyZenith, base.skyZenith);
  assert.notDeepEqual(sky.skyHorizon, base.skyHorizon);
  for (const k of ['noiseSeed', 'asphalt', 'vergeColour', 'sunAzimuthRad', 'dashLengthM', 'treelineHeightRad'] as const)
    assert.deepEqual(sky[k], base[k], k);
});

test('appearance settings are validated with their field names', () => {
  assert.throws(
    () => parseSimConfig({ appearance: { dashLengthRangeM: [3, 6], dashPeriodRangeM: [5, 9] } }),
    /field appearance\.dashLengthRangeM: dash length upper bound is above the dash period/,
  );
  assert.throws(
    () => parseSimConfig({ appearance: { gravelColour: [0, 300, 0] } }),
    /field appearance\.gravelColour\.1/,
  );
  assert.throws(() => parseSimConfig({ appearance: { treelineSkyMix: 2 } }), /field appearance\.treelineSkyMix/);
  assert.throws(() => parseSimConfig({ appearance: { warmSunBelowDeg: 0 } }), /field appearance\.warmSunBelowDeg/);
});
