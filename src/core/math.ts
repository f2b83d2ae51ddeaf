/** Small numeric helpers shared by every part: one clamp, one round. */

/** `x` limited to [lo, hi] (lo <= hi); NaN stays NaN. */
export function clamp(x: number, lo: number, hi: number): number {
  return Math.min(Math.max(x, lo), hi);
}

/** `x` rounded to `decimals` decimal places (reports, JSON summaries, logs). */
export function roundTo(x: number, decimals: number): number {
  const scale = 10 ** decimals;
  return Math.round(x * scale) / scale;
}
