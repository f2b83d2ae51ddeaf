import type { Rng } from '../src/core/rng.js';
import type { AppearanceConfig } from './config.js';
import { pickWeighted, seededStream } from './road.js';

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

export function drawAppearance(roadSeed: number, cfg: AppearanceConfig, twoLanes: boolean): Appearance {
  const rng = seededStream(roadSeed, 0x5bd1e995);
  const r = (range: readonly [number, number]): number => rng.range(range[0], range[1]);
  const centreMarking = twoLanes ? pickWeighted(rng, cfg.centreMarkingWeights) : 'none';
  const edgeLines = rng.uniform() < cfg.edgeLineProbability;
  const markingWidthM = r(cfg.markingWidthRangeM);
  const white = r(cfg.markingBrightnessRange);
  const markingColour: Rgb = [white, white, white * 0.97];
  const yellow = rng.uniform() < cfg.yellowCentreProbability;
  const centreColour: Rgb = yellow ? [white, white * 0.8, white * 0.25] : markingColour;
  const shade = r(cfg.asphaltShadeRange);
  const asphalt: Rgb = jitter(rng, [shade, shade, shade * 1.03], 4);
  const verge = pickWeighted(rng, cfg.vergeWeights);
  const vergeColour: Rgb =
    verge === 'grass'
      ? mix([62, 104, 40], [128, 128, 62], rng.uniform() * 0.6) // lush to dry
      : verge === 'gravel'
        ? jitter(rng, [118, 113, 104], 12)
        : jitter(rng, [118, 92, 64], 12);
  const overcast = r(cfg.overcastRange);
  const skyZenith = mix([60, 110, 200], [150, 155, 165], overcast);
  const skyHorizon = mix([175, 200, 230], [200, 202, 206], overcast);
  const sunElevationRad = r(cfg.sunElevationRangeDeg) * DEG;
  // Low sun is warm.
  const warm = Math.max(0, 1 - sunElevationRad / (20 * DEG));
  return {
    centreMarking,
    edgeLines,
    markingWidthM,
    markingColour,
    centreColour,
    dashLengthM: rng.range(1.5, 3),
    dashPeriodM: rng.range(5, 9),
    edgeInsetM: rng.range(0.05, 0.25),
    asphalt,
    asphaltNoise: r(cfg.asphaltNoiseRange),
    asphaltPatch: r(cfg.asphaltPatchRange),
    verge,
    vergeColour,
    vergeNoise: rng.range(10, 28),
    shoulderWidthM: r(cfg.shoulderWidthRangeM),
    shoulderColour: jitter(rng, [135, 128, 115], 10),
    skyZenith,
    skyHorizon,
    haze: mix(skyHorizon, [235, 215, 190], warm * 0.4),
    hazeVisibilityM: Math.exp(rng.range(Math.log(cfg.hazeVisibilityRangeM[0]), Math.log(cfg.hazeVisibilityRangeM[1]))),
    sunElevationRad,
    sunAzimuthRad: rng.range(-Math.PI, Math.PI),
    sunColour: mix([255, 250, 235], [255, 200, 130], warm),
    brightness: r(cfg.brightnessRange),
    contrast: r(cfg.contrastRange),
    treeline: rng.uniform() < cfg.treelineProbability,
    treelineHeightRad: r(cfg.treelineHeightRangeDeg) * DEG,
    treelineColour: mix(jitter(rng, [40, 62, 38], 8), skyHorizon, 0.25),
    noiseSeed: rng.int(0x7fffffff),
  };
}
