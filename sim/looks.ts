import type { Appearance } from './appearance.js';
import { drawAppearance } from './appearance.js';
import type { SimConfig } from './config.js';
import { generateRoad } from './road.js';

/**
 * A road's look in a few named factors, each with a handful of levels, so that an evaluation can
 * cover the simulator's whole appearance range and say which looks a policy fails on:
 *   lines  'edge lines' | 'centre line only' | 'no lines'
 *   verge  'grass' | 'gravel' | 'dirt'
 *   light  'dim' | 'mid' | 'bright'  (terciles of the configured brightness range)
 *   haze   'clear' | 'hazy'          (visibility below the range's geometric middle: hazy)
 *   sun    'high sun' | 'low sun'    (a sun under GLARE_BELOW_DEG glares near the horizon)
 */
export const LOOK_LEVELS = {
  lines: ['edge lines', 'centre line only', 'no lines'],
  verge: ['grass', 'gravel', 'dirt'],
  light: ['dim', 'mid', 'bright'],
  haze: ['clear', 'hazy'],
  sun: ['high sun', 'low sun'],
} as const;

export type LookFactor = keyof typeof LOOK_LEVELS;
export type Look = { readonly [F in LookFactor]: (typeof LOOK_LEVELS)[F][number] };

/** Sun elevation under which the sun is in the upper frame and glares (sim/camera.ts's sun disc and haze). */
export const GLARE_BELOW_DEG = 15;

/** The look factors of an appearance drawn with `cfg`. */
export function classifyLook(a: Appearance, cfg: SimConfig['appearance']): Look {
  const [bLo, bHi] = cfg.brightnessRange;
  const [hLo, hHi] = cfg.hazeVisibilityRangeM;
  const third = (bHi - bLo) / 3;
  return {
    lines: a.edgeLines ? 'edge lines' : a.centreMarking !== 'none' ? 'centre line only' : 'no lines',
    verge: a.verge,
    light: a.brightness < bLo + third ? 'dim' : a.brightness < bLo + 2 * third ? 'mid' : 'bright',
    haze: a.hazeVisibilityM < Math.sqrt(hLo * hHi) ? 'hazy' : 'clear',
    sun: a.sunElevationRad < (GLARE_BELOW_DEG * Math.PI) / 180 ? 'low sun' : 'high sun',
  };
}

/** The look of road `seed` under `config` (the road is generated for its lane count, as the environment does). */
export function lookOfRoad(seed: number, config: SimConfig): Look {
  const road = generateRoad(seed, config.road);
  return classifyLook(drawAppearance(seed, config.appearance, road.laneCount === 2), config.appearance);
}

/**
 * Candidates looked at per pick: wide enough to find a rare level (about 1 road in 10) every time.
 * The k-th pick is never beyond candidate k + BALANCED_LOOKAHEAD - 1.
 */
export const BALANCED_LOOKAHEAD = 64;

/**
 * `count` road seeds balanced over every level of every look factor: picks are made one at a
 * time, each the candidate (from the next LOOKAHEAD unpicked ones, in seed order) whose levels are
 * furthest behind their equal share so far; ties go to the lower seed. Deterministic; the first k
 * roads of a larger set are the k-road set. Balanced per factor (marginally): 3 x 3 x 3 x 2 x 2
 * combinations are more than a road set holds. `candidate(i)` is the i-th seed of the caller's range.
 */
export function selectBalancedRoads(
  count: number,
  candidates: number,
  candidate: (i: number) => number,
  lookOf: (seed: number) => Look,
): { seed: number; look: Look }[] {
  const factors = Object.keys(LOOK_LEVELS) as LookFactor[];
  const counts = new Map<string, number>();
  const pool: { seed: number; look: Look }[] = [];
  const picked: { seed: number; look: Look }[] = [];
  let next = 0;
  for (let k = 0; k < count; k++) {
    while (pool.length < BALANCED_LOOKAHEAD && next < candidates) {
      const seed = candidate(next++);
      pool.push({ seed, look: lookOf(seed) });
    }
    if (pool.length === 0) throw new Error(`only ${candidates} candidate roads for ${count} balanced roads`);
    let best = 0;
    let bestScore = -Infinity;
    pool.forEach((c, i) => {
      let score = 0;
      for (const f of factors) score += (k + 1) / LOOK_LEVELS[f].length - (counts.get(`${f}:${c.look[f]}`) ?? 0);
      if (score > bestScore) {
        bestScore = score;
        best = i;
      }
    });
    const [chosen] = pool.splice(best, 1);
    picked.push(chosen!);
    for (const f of factors) counts.set(`${f}:${chosen!.look[f]}`, (counts.get(`${f}:${chosen!.look[f]}`) ?? 0) + 1);
  }
  return picked;
}

/**
 * The picks of `selectBalancedRoads` one index at a time, for a caller that does not know how many
 * it will need (a training run's episodes): the picks are computed in growing blocks and, as the
 * first k of a larger set are the k-road set, `seedAt(i)` never changes once given.
 */
export class BalancedRoadSequence {
  private picks: number[] = [];
  private readonly looks = new Map<number, Look>();

  constructor(
    private readonly candidates: number,
    private readonly candidate: (i: number) => number,
    private readonly lookOf: (seed: number) => Look,
  ) {}

  seedAt(index: number): number {
    if (!Number.isInteger(index) || index < 0)
      throw new Error(`balanced road index ${index} is not a whole number >= 0`);
    if (index >= this.picks.length) {
      const count = Math.max(16, 2 * this.picks.length, index + 1);
      this.picks = selectBalancedRoads(count, this.candidates, this.candidate, (seed) => this.cachedLook(seed)).map(
        (p) => p.seed,
      );
    }
    return this.picks[index]!;
  }

  private cachedLook(seed: number): Look {
    let look = this.looks.get(seed);
    if (!look) this.looks.set(seed, (look = this.lookOf(seed)));
    return look;
  }
}
