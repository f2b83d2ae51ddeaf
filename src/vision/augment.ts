import type { Rng } from '../core/rng.js';

/**
 * Photometric augmentation for the denoising VAE (araffin's aae-train-donkeycar trains the
 * encoder on changed frames and the decoder to give the clean one back): the look changes, the
 * road's geometry does not. On an RGB image in [0, 1], HWC, per pixel and channel c:
 *   y = clamp( (gain_c * brightness * x^gamma - m) * contrast + m, 0, 1 ),
 * m the image's mean after gain and brightness. Ranges cover the simulator's own look ranges and
 * more (brightness 0.75-1.25 and contrast 0.8-1.2 there), as light and cameras differ on a car.
 */
export interface PhotometricChange {
  readonly brightness: number;
  readonly contrast: number;
  readonly gamma: number;
  readonly gain: readonly [number, number, number];
}

export function drawPhotometricChange(rng: Rng): PhotometricChange {
  return {
    brightness: rng.range(0.6, 1.4),
    contrast: rng.range(0.6, 1.4),
    // Log-uniform in [0.7, 1.43]: darker and lighter mid-tones equally likely.
    gamma: Math.exp(rng.range(Math.log(0.7), Math.log(1 / 0.7))),
    gain: [rng.range(0.85, 1.15), rng.range(0.85, 1.15), rng.range(0.85, 1.15)],
  };
}

/** Writes the changed copy of `src[offset, offset + length)` (RGB triples) into `dst` at the same offset. */
export function applyPhotometricChange(
  src: Float32Array,
  dst: Float32Array,
  offset: number,
  length: number,
  p: PhotometricChange,
): void {
  let sum = 0;
  for (let i = 0; i < length; i++) {
    const v = p.gain[i % 3]! * p.brightness * Math.pow(src[offset + i]!, p.gamma);
    dst[offset + i] = v;
    sum += v;
  }
  const m = sum / Math.max(1, length);
  for (let i = 0; i < length; i++) {
    const v = (dst[offset + i]! - m) * p.contrast + m;
    dst[offset + i] = v < 0 ? 0 : v > 1 ? 1 : v;
  }
}
