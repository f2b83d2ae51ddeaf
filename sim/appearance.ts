import { Rng } from '../src/core/rng.js';
import type { AppearanceConfig } from './config.js';
import { pickWeighted } from './road.js';

/**
 * The look of one road, drawn from the configured randomisation ranges. Colours are linear RGB
 * triples in 0..255 before brightness/contrast. Drawn from its own stream (derived from the road
 * seed) so that changing an appearance range never changes the road geometry of a seed.
 */
export type Rgb = readonly [number, number, number];

export interface Appearance {
  readonly centreMarking: 'dashed' | 'solid' | 'none';
  readonly edgeLines: boolean;
  readonly markingWidthM: number;
  readonly markingColour: Rgb;
  readonly centreColour: Rgb;
  /** Dash length and period along the road, metres. */
  readonly dashLengthM: number;
  readonly dashPeriodM: number;
  /** Edge lines are painted this far inside the asphalt edge, metres. */
  readonly edgeInsetM: number;
  readonly asphalt: Rgb;
  readonly asphaltNoise: number;
  readonly asphaltPatch: number;
  readonly verge: 'grass' | 'gravel' | 'dirt';
  readonly vergeColour: Rgb;
  readonly vergeNoise: number;
  readonly shoulderWidthM: number;
  readonly shoulderColour: Rgb;
  readonly skyZenith: Rgb;
  readonly skyHorizon: Rgb;
  readonly haze: Rgb;
  readonly hazeVisibilityM: number;
  readonly sunElevationRad: number;
  /** Sun azimuth in the world frame, radians (counter-clockwise from +x). */
  readonly sunAzimuthRad: number;
  readonly sunColour: Rgb;
  readonly brightness: number;
  readonly contrast: number;
  readonly treeline: boolean;
  readonly treelineHeightRad: number;
  readonly treelineColour: Rgb;
  /** Seed of the hashed texture noise. */
  readonly noiseSeed: number;
}

const DEG = Math.PI / 180;

function mix(a: Rgb, b: Rgb, t: number): Rgb {
  return [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t];
}

function jitter(rng: Rng, c: Rgb, amount: number): Rgb {
  return [c[0] + rng.range(-amount, amount), c[1] + rng.range(-amount, amount), c[2] + rng.range(-amount, amount)];
}

/** XORed into a road's seed: the look's stream is not the layout's. */
const APPEARANCE_SEED_SALT = 0x5bd1e995;

/**
 * The look of road `roadSeed`. The order of the random draws is part of the contract: the same
 * seed must give the same look as before any setting was added (a VAE was trained on it), so new
 * draws go at the end of the stream and values derived from several draws are assembled after
 * the draws.
 */
export function drawAppearance(roadSeed: number, cfg: AppearanceConfig, twoLanes: boolean): Appearance {
  const rng = Rng.fromSeed(roadSeed ^ APPEARANCE_SEED_SALT, 'world-v1');
  const r = (range: readonly [number, number]): number => rng.range(range[0], range[1]);
  const times = (v: number, t: Rgb): Rgb => [v * t[0], v * t[1], v * t[2]];
  const centreMarking = twoLanes ? pickWeighted(rng, cfg.centreMarkingWeights) : 'none';
  const edgeLines = rng.uniform() < cfg.edgeLineProbability;
  const markingWidthM = r(cfg.markingWidthRangeM);
  const white = r(cfg.markingBrightnessRange);
  const markingColour = times(white, cfg.markingTint);
  const yellow = rng.uniform() < cfg.yellowCentreProbability;
  const centreColour: Rgb = yellow ? times(white, cfg.yellowTint) : markingColour;
  const shade = r(cfg.asphaltShadeRange);
  const asphalt = jitter(rng, times(shade, cfg.asphaltTint), cfg.asphaltColourJitter);
  const verge = pickWeighted(rng, cfg.vergeWeights);
  const vergeColour: Rgb =
    verge === 'grass'
      ? mix(cfg.grassLushColour, cfg.grassDryColour, r(cfg.grassDrynessRange))
      : jitter(rng, verge === 'gravel' ? cfg.gravelColour : cfg.dirtColour, cfg.vergeColourJitter);
  const overcast = r(cfg.overcastRange);
  const sunElevationRad = r(cfg.sunElevationRangeDeg) * DEG;
  const dashLengthM = r(cfg.dashLengthRangeM);
  const dashPeriodM = r(cfg.dashPeriodRangeM);
  const edgeInsetM = r(cfg.edgeInsetRangeM);
  const asphaltNoise = r(cfg.asphaltNoiseRange);
  const asphaltPatch = r(cfg.asphaltPatchRange);
  const vergeNoise = r(cfg.vergeNoiseRange);
  const shoulderWidthM = r(cfg.shoulderWidthRangeM);
  const shoulderColour = jitter(rng, cfg.shoulderColour, cfg.shoulderColourJitter);
  // Log-uniform: thin and thick haze equally likely per octave.
  const hazeVisibilityM = Math.exp(
    rng.range(Math.log(cfg.hazeVisibilityRangeM[0]), Math.log(cfg.hazeVisibilityRangeM[1])),
  );
  const sunAzimuthRad = rng.range(cfg.sunAzimuthRangeDeg[0] * DEG, cfg.sunAzimuthRangeDeg[1] * DEG);
  const brightness = r(cfg.brightnessRange);
  const contrast = r(cfg.contrastRange);
  const treeline = rng.uniform() < cfg.treelineProbability;
  const treelineHeightRad = r(cfg.treelineHeightRangeDeg) * DEG;
  const treelineBase = jitter(rng, cfg.treelineColour, cfg.treelineColourJitter);
  const noiseSeed = rng.int(0x7fffffff);
  // Added after the original draws (see above); with the default jitter of 0 they add exactly 0.
  const skyZenith = jitter(rng, mix(cfg.clearZenithColour, cfg.overcastZenithColour, overcast), cfg.skyColourJitter);
  const skyHorizon = jitter(rng, mix(cfg.clearHorizonColour, cfg.overcastHorizonColour, overcast), cfg.skyColourJitter);
  // Low sun is warm.
  const warm = Math.max(0, 1 - sunElevationRad / (cfg.warmSunBelowDeg * DEG));
  return {
    centreMarking,
    edgeLines,
    markingWidthM,
    markingColour,
    centreColour,
    dashLengthM,
    dashPeriodM,
    edgeInsetM,
    asphalt,
    asphaltNoise,
    asphaltPatch,
    verge,
    vergeColour,
    vergeNoise,
    shoulderWidthM,
    shoulderColour,
    skyZenith,
    skyHorizon,
    haze: mix(skyHorizon, cfg.lowSunHazeColour, warm * cfg.lowSunHazeMix),
    hazeVisibilityM,
    sunElevationRad,
    sunAzimuthRad,
    sunColour: mix(cfg.sunColour, cfg.lowSunColour, warm),
    brightness,
    contrast,
    treeline,
    treelineHeightRad,
    treelineColour: mix(treelineBase, skyHorizon, cfg.treelineSkyMix),
    noiseSeed,
  };
}
