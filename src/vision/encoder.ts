import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { RgbImage } from '../core/env.js';
import { UserError } from '../core/errors.js';
import { loadLayersModel } from '../core/tfjs-io.js';
import { ENCODER_SUBDIR, readVaeMeta, type VaeMeta } from './model-files.js';
import { normalise, preprocessRgb, type PreprocessOptions } from './preprocess.js';
import { preprocessOptionsOf, type VaeConfig } from './vae.js';
import type { ImageEncoder } from './types.js';

export { DEFAULT_VAE_MODEL_DIR } from './model-files.js';

/** What the caller's configuration expects of a model; any field left out is not checked. */
export interface VaeExpectation {
  readonly latentSize?: number;
  readonly inputWidth?: number;
  readonly inputHeight?: number;
  readonly skyCropFraction?: number;
}

/**
 * A trained VAE's encoder as the agent's ImageEncoder: preprocess (crop, resize, normalise;
 * src/vision/preprocess.ts) then the latent mean. Needs initBackend() to have run.
 */
export class VaeImageEncoder implements ImageEncoder {
  readonly latentSize: number;
  readonly inputWidth: number;
  readonly inputHeight: number;
  readonly preprocess: PreprocessOptions;

  constructor(
    private readonly model: tf.LayersModel,
    readonly config: VaeConfig,
    readonly meta?: VaeMeta,
  ) {
    this.latentSize = config.latentSize;
    this.inputWidth = config.inputWidth;
    this.inputHeight = config.inputHeight;
    this.preprocess = preprocessOptionsOf(config);
  }

  async encode(image: RgbImage): Promise<Float32Array> {
    const input = normalise(await preprocessRgb(image, this.preprocess));
    return (await this.encodeInputs(input, 1))[0]!;
  }

  /** Latent means of several frames: each preprocessed as in encode, then one model call. */
  async encodeBatch(images: readonly RgbImage[]): Promise<Float32Array[]> {
    const size = this.inputWidth * this.inputHeight * 3;
    const batch = new Float32Array(images.length * size);
    for (let i = 0; i < images.length; i++) normalise(await preprocessRgb(images[i]!, this.preprocess), batch, i * size);
    return this.encodeInputs(batch, images.length);
  }

  /** Latent means of already preprocessed inputs: `count` HWC images in [0, 1], back to back. */
  async encodeInputs(inputs: Float32Array, count: number): Promise<Float32Array[]> {
    const size = this.inputWidth * this.inputHeight * 3;
    if (inputs.length !== count * size) {
      throw new UserError(`encoder input has ${inputs.length} values, expected ${count} x ${this.inputHeight}x${this.inputWidth}x3 = ${count * size}`);
    }
    const out = tf.tidy(() => {
      const x = tf.tensor4d(inputs, [count, this.inputHeight, this.inputWidth, 3]);
      const muLogVar = this.model.predict(x) as tf.Tensor2D;
      return tf.slice(muLogVar, [0, 0], [count, this.latentSize]);
    });
    const flat = (await out.data()) as Float32Array;
    out.dispose();
    const result: Float32Array[] = [];
    for (let i = 0; i < count; i++) result.push(flat.slice(i * this.latentSize, (i + 1) * this.latentSize));
    return result;
  }

  dispose(): void {
    this.model.dispose();
  }
}

/** Lists every way the model differs from what the configuration expects. */
export function describeMismatch(config: VaeConfig, expected: VaeExpectation): string[] {
  const problems: string[] = [];
  if (expected.latentSize !== undefined && expected.latentSize !== config.latentSize) {
    problems.push(`latent size ${config.latentSize} (model) vs ${expected.latentSize} (configuration)`);
  }
  const w = expected.inputWidth ?? config.inputWidth;
  const h = expected.inputHeight ?? config.inputHeight;
  if (w !== config.inputWidth || h !== config.inputHeight) {
    problems.push(`input ${config.inputWidth}x${config.inputHeight} (model) vs ${w}x${h} (configuration)`);
  }
  if (expected.skyCropFraction !== undefined && Math.abs(expected.skyCropFraction - config.skyCropFraction) > 1e-9) {
    problems.push(`sky crop ${config.skyCropFraction} (model) vs ${expected.skyCropFraction} (configuration)`);
  }
  return problems;
}

/**
 * Loads the encoder of the VAE in `dir` (see model-files.ts for the layout) and checks it: the
 * saved network must match its own vae.json, and the model must match `expected` (the caller's
 * configuration). Every mismatch is named in one UserError.
 */
export async function loadVaeEncoder(dir: string, expected: VaeExpectation = {}): Promise<VaeImageEncoder> {
  const meta = await readVaeMeta(dir);
  const config = meta.config;
  const problems = describeMismatch(config, expected);
  if (problems.length > 0) throw new UserError(`VAE model ${dir} does not match the configuration: ${problems.join('; ')}`);
  const model = await loadLayersModel(join(dir, ENCODER_SUBDIR));
  const inShape = model.inputs[0]?.shape ?? [];
  const outShape = model.outputs[0]?.shape ?? [];
  const wantIn = [config.inputHeight, config.inputWidth, 3];
  const inconsistent: string[] = [];
  if (inShape.length !== 4 || inShape.slice(1).some((d, i) => d !== wantIn[i])) {
    inconsistent.push(`encoder input shape [${inShape.slice(1).join(', ')}] vs ${config.inputHeight}x${config.inputWidth}x3 in vae.json`);
  }
  if (outShape.length !== 2 || outShape[1] !== 2 * config.latentSize) {
    inconsistent.push(`encoder output width ${String(outShape[1])} vs 2 x latent size ${config.latentSize} in vae.json`);
  }
  if (inconsistent.length > 0) {
    model.dispose();
    throw new UserError(`VAE model ${dir} is inconsistent: ${inconsistent.join('; ')}`);
  }
  return new VaeImageEncoder(model, config, meta);
}
