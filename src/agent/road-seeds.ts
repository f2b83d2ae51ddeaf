import { UserError } from '../core/errors.js';

/**
 * Which road seeds each use of the simulator takes, as half-open ranges [start, end), and VAE
 * collection the seeds outside them. The ranges are disjoint, so an evaluation never drives a road
 * the agent trained or was tested on, or a road whose frames trained the VAE; `checkDisjointRanges`
 * (run by the tests) keeps them so, and
 * `checkEvaluationRoads` refuses an evaluation that would drive one of a run's own roads (a
 * configured training route seed can be anything).
 */
export interface SeedRange {
  readonly name: string;
  readonly start: number;
  readonly end: number;
}

/** Roads of 'varied' training (agent/training.ts): seeds from here, one per learning episode. */
export const VARIED_ROAD_SEED_BASE = 500_000;

/** Roads of 'new' tests (agent/training.ts): one seed per test episode. */
export const TEST_ROAD_SEED_BASE = 700_000;

/** Evaluation roads: seed set s takes EVALUATION_SEEDS_PER_SET candidates from start + s x that. */
export const EVALUATION_ROAD_SEED_BASE = 1_000_000;
export const EVALUATION_SEEDS_PER_SET = 10_000;
export const EVALUATION_SEED_SETS = 10_000;

export const ROAD_SEED_RANGES: readonly SeedRange[] = [
  { name: 'varied training roads', start: VARIED_ROAD_SEED_BASE, end: TEST_ROAD_SEED_BASE },
  { name: 'test roads', start: TEST_ROAD_SEED_BASE, end: EVALUATION_ROAD_SEED_BASE },
  {
    name: 'evaluation roads',
    start: EVALUATION_ROAD_SEED_BASE,
    end: EVALUATION_ROAD_SEED_BASE + EVALUATION_SEEDS_PER_SET * EVALUATION_SEED_SETS,
  },
];

/**
 * Whether a seed belongs to one of the reserved ranges above. `daydrive vae collect` draws its
 * roads from all seeds and redraws a reserved one, so its roads are never training, test or
 * evaluation roads (and the roads of earlier collections, drawn before the ranges existed, stay
 * the same unless they were reserved ones: about 1 in 21).
 */
export function isReservedRoadSeed(seed: number): boolean {
  return ROAD_SEED_RANGES.some((r) => inRange(seed, r));
}

export function seedRange(name: string): SeedRange {
  const range = ROAD_SEED_RANGES.find((r) => r.name === name);
  if (!range) throw new Error(`no road seed range '${name}'`);
  return range;
}

/** Throws when two ranges overlap or one leaves the seeds a road accepts (0 .. 2^31 - 1). */
export function checkDisjointRanges(ranges: readonly SeedRange[] = ROAD_SEED_RANGES): void {
  const sorted = [...ranges].sort((a, b) => a.start - b.start);
  sorted.forEach((r, i) => {
    if (!(r.start < r.end) || r.start < 0 || r.end > 0x80000000)
      throw new Error(`road seed range ${r.name} [${r.start}, ${r.end}) is empty or out of bounds`);
    const next = sorted[i + 1];
    if (next && next.start < r.end) throw new Error(`road seed ranges ${r.name} and ${next.name} overlap`);
  });
}

export function inRange(seed: number, range: SeedRange): boolean {
  return seed >= range.start && seed < range.end;
}

/** The roads a run used outside the fixed ranges: its training route. */
export interface RunRoads {
  readonly run: string;
  readonly routeSeed: number;
}

/** Refuses evaluation roads outside their range or equal to a run's training route. */
export function checkEvaluationRoads(roadSeeds: readonly number[], runs: readonly RunRoads[]): void {
  const evaluation = seedRange('evaluation roads');
  for (const seed of roadSeeds) {
    if (!inRange(seed, evaluation)) throw new Error(`evaluation road ${seed} is outside the evaluation seed range`);
  }
  const set = new Set(roadSeeds);
  for (const run of runs) {
    if (set.has(run.routeSeed)) {
      throw new UserError(
        `run ${run.run} trained on road ${run.routeSeed}, one of the evaluation roads: choose another --seed or a routeSeed outside [${evaluation.start}, ${evaluation.end})`,
      );
    }
  }
}
