import { xoroshiro128plus, xoroshiro128plusFromState } from 'pure-rand/generator/xoroshiro128plus';
import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import type { JumpableRandomGenerator } from 'pure-rand/types/JumpableRandomGenerator';

/** SplitMix32 (Steele et al. 2014, 32-bit variant): the next state and a well-mixed output word. */
function splitMix32(state: number): [next: number, output: number] {
  const next = (state + 0x9e3779b9) | 0;
  let z = next ^ (next >>> 16);
  z = Math.imul(z, 0x21f0aaad);
  z ^= z >>> 15;
  z = Math.imul(z, 0x735a2d97);
  return [next, z ^ (z >>> 15)];
}

/** Four 32-bit state words of xoroshiro128+ from a seed (never all zero). */
function seedState(seed: number): number[] {
  let s = seed | 0;
  const words: number[] = [];
  for (let i = 0; i < 4; i++) {
    const [next, out] = splitMix32(s);
    s = next;
    words.push(out);
  }
  if (!words.some((w) => w !== 0)) words[3] = 1;
  return words;
}

/** How Rng.fromSeed turns a seed into the generator's state (see there). */
export type SeedDerivation = 'splitmix32' | 'world-v1';

/** The murmur3 32-bit finaliser (fmix32): every input bit moves every output bit. */
function murmur3Finalise(seed: number): number {
  let h = seed | 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  h ^= h >>> 16;
  return h | 0;
}

/**
 * Seeded random numbers (xoroshiro128+ from pure-rand). Every stochastic part of daydrive takes
 * an Rng so that a run is reproducible from its seed; `state()` / `Rng.fromState` let
 * checkpoints resume the exact stream.
 */
export class Rng {
  private spareNormal: number | null = null;

  private constructor(private readonly gen: JumpableRandomGenerator) {}

  /**
   * The generator for `seed`: the one way to seed one. `derivation` says how the seed becomes the
   * 128-bit state:
   * - 'splitmix32' (the default, for everything new): spread by SplitMix32. pure-rand's
   *   xoroshiro128plus(seed) starts from (-1, ~seed, seed, 0), so nearby seeds gave nearly equal
   *   first draws (seeds 0..3 all began with 0.99998...) and "different" seeds the same episodes.
   * - 'world-v1': the simulator's worlds (road layouts, looks, classic-control starts) and the
   *   classic-control job, kept as they were first drawn so that every road seed keeps its road and
   *   a seed its run: the seed scrambled by the murmur3 finaliser, pure-rand's own seeding, 8 draws
   *   discarded. Callers that need several streams of one seed XOR a salt into it.
   */
  static fromSeed(seed: number, derivation: SeedDerivation = 'splitmix32'): Rng {
    if (!Number.isInteger(seed)) throw new RangeError(`seed must be an integer, got ${seed}`);
    if (derivation === 'splitmix32') return new Rng(xoroshiro128plusFromState(seedState(seed)));
    const rng = new Rng(xoroshiro128plus(murmur3Finalise(seed)));
    for (let i = 0; i < 8; i++) rng.uniform();
    return rng;
  }

  static fromState(state: readonly number[]): Rng {
    return new Rng(xoroshiro128plusFromState(state));
  }

  state(): number[] {
    return [...this.gen.getState()];
  }

  /** Uniform in [0, 1). */
  uniform(): number {
    return uniformFloat64(this.gen);
  }

  /** Uniform in [lo, hi). */
  range(lo: number, hi: number): number {
    return lo + (hi - lo) * this.uniform();
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  /** Standard normal (Marsaglia polar method, caches the second value). */
  normal(): number {
    if (this.spareNormal !== null) {
      const v = this.spareNormal;
      this.spareNormal = null;
      return v;
    }
    let u = 0;
    let v = 0;
    let s = 0;
    do {
      u = 2 * this.uniform() - 1;
      v = 2 * this.uniform() - 1;
      s = u * u + v * v;
    } while (s >= 1 || s === 0);
    const m = Math.sqrt((-2 * Math.log(s)) / s);
    this.spareNormal = v * m;
    return u * m;
  }

  /** Picks one element uniformly. */
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('cannot pick from an empty list');
    return items[this.int(items.length)] as T;
  }

  /** A new independent generator derived from this one (for sub-systems). */
  fork(): Rng {
    return Rng.fromSeed(Math.floor(this.uniform() * 0x7fffffff));
  }
}
