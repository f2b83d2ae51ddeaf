import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { sameModelInput, type ModelInputFrame, type RgbImage } from '../core/env.js';
import { UserError } from '../core/errors.js';
import { log, type Logger } from '../core/logger.js';
import { loadLayersModel } from '../core/tfjs-io.js';
import { encoderForward, type EncoderForward } from './encoder-forward.js';
import { ENCODER_SUBDIR, readVaeMeta, type VaeMeta } from './model-files.js';
import {
  normalise,
  modelInputFromCompressed,
  preprocessRgb,
  warmUpPreprocessing,
  type PreprocessOptions,
} from './preprocess.js';
import { preprocessOptionsOf, type VaeConfig } from './vae.js';
import type { ImageEncoder } from './types.js';

export { DEFAULT_VAE_MODEL_DIR } from './model-files.js';

/** What the caller's configuration expects of a model; any field left out is not checked. */
export interface VaeExpectation {
  readonly latentSize?: number;
  readonly inputWidth?: number;
  readonly inputHeight?: number;
  readonly skyCropFraction?: number;
  /**
   * The camera the frames will come from, pixels. Not an error when its aspect ratio differs
   * from the camera the model was trained on (a cropped or letterboxed stream may still work),
   * but warned about at load, naming both sizes; see VaeImageEncoder.checkFrameSize.
   */
  readonly cameraWidthPx?: number;
  readonly cameraHeightPx?: number;
}

/** Relative aspect-ratio difference above which frames count as another camera's (1%: 160x120 vs 640x480 is 0, 640x360 is 33%). */
export const ASPECT_TOLERANCE = 0.01;

/** Whether a frame of this size has another aspect ratio than the camera the model was trained on. */
export function aspectDiffers(
  width: number,
  height: number,
  camera: { readonly widthPx: number; readonly heightPx: number },
): boolean {
  const trained = camera.widthPx / camera.heightPx;
  return Math.abs(width / height - trained) > ASPECT_TOLERANCE * trained;
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
  /** The camera the model was trained on (vae.json training data), when recorded. */
  readonly trainedCamera: { readonly widthPx: number; readonly heightPx: number } | undefined;
  private aspectWarned = false;
  /** The model's layers as fused ops (bit-identical to predict(), a fraction of its overhead); null: predict(). */
  private readonly forward: EncoderForward | null;

  constructor(
    private readonly model: tf.LayersModel,
    readonly config: VaeConfig,
    readonly meta?: VaeMeta,
    /** Where the model came from, for messages. */
    readonly source = 'VAE model',
    private readonly logger: Pick<Logger, 'warn'> = log,
  ) {
    this.latentSize = config.latentSize;
    this.inputWidth = config.inputWidth;
    this.inputHeight = config.inputHeight;
    this.preprocess = preprocessOptionsOf(config);
    this.trainedCamera = meta?.training?.data.camera;
    this.forward = encoderForward(model);
  }

  /**
   * Warns (once per encoder) when frames have another aspect ratio than the training camera's:
   * the resize to the model input is fit 'fill', so such frames are stretched, and the geometry
   * the latent encodes (where the lane edges are, their angle) no longer means what it did in
   * training. A warning, not an error: the frames are still usable, just off-distribution.
   * Returns whether the size differs.
   */
  checkFrameSize(width: number, height: number): boolean {
    const camera = this.trainedCamera;
    if (camera === undefined || width <= 0 || height <= 0 || !aspectDiffers(width, height, camera)) return false;
    if (!this.aspectWarned) {
      this.aspectWarned = true;
      this.logger.warn(
        { frame: `${width}x${height}`, trainedOn: `${camera.widthPx}x${camera.heightPx}`, model: this.source },
        `camera frames are ${width}x${height} (aspect ${(width / height).toFixed(3)}) but ${this.source} was trained on ${camera.widthPx}x${camera.heightPx} frames ` +
          `(aspect ${(camera.widthPx / camera.heightPx).toFixed(3)}): they are stretched to the ${this.inputWidth}x${this.inputHeight} input, so the latent is off-distribution; ` +
          'use a camera with the training aspect ratio or train a VAE on frames of this camera',
      );
    }
    return true;
  }

  async encode(image: RgbImage): Promise<Float32Array> {
    this.checkFrameSize(image.width, image.height);
    const input = normalise(await preprocessRgb(image, this.preprocess));
    return (await this.encodeInputs(input, 1))[0]!;
  }

  /**
   * The latent mean of a frame the world rendered as model input (the simulator's agent view:
   * no image library in between). A frame of another crop or size is refused, naming both.
   */
  async encodeModelInput(frame: ModelInputFrame): Promise<Float32Array> {
    if (!sameModelInput(frame, this.preprocess)) {
      throw new UserError(
        `model input frame ${frame.width}x${frame.height} with sky crop ${frame.skyCropFraction} does not match ${this.source}: ${this.inputWidth}x${this.inputHeight}, sky crop ${this.preprocess.skyCropFraction}`,
      );
    }
    return (await this.encodeInputs(frame.data, 1))[0]!;
  }

  /**
   * The latent mean of a JPEG/PNG frame (a CompressedImage's data) along the drive node's path:
   * modelInputFromCompressed (what the node makes of each camera message: a JPEG decoded at reduced
   * scale, cropped and resized in one sharp call, within about a level in 255 of
   * decodeCompressedImage + encode), then encodeModelInput (what the agent's state calls).
   */
  async encodeCompressed(bytes: Uint8Array, what?: string): Promise<Float32Array> {
    const { frame, source } = await modelInputFromCompressed(bytes, this.preprocess, what);
    this.checkFrameSize(source.width, source.height);
    return this.encodeModelInput(frame);
  }

  /** Latent means of several frames: each preprocessed as in encode, then one model call. */
  async encodeBatch(images: readonly RgbImage[]): Promise<Float32Array[]> {
    const size = this.inputWidth * this.inputHeight * 3;
    const batch = new Float32Array(images.length * size);
    for (let i = 0; i < images.length; i++) {
      const image = images[i]!;
      this.checkFrameSize(image.width, image.height);
      normalise(await preprocessRgb(image, this.preprocess), batch, i * size);
    }
    return this.encodeInputs(batch, images.length);
  }

  /**
   * Runs a blank frame through the preprocessing (sharp) and the network, so that the first camera
   * frame does not also pay for libvips' start and the backend's first use of each kernel
   * (~100 ms here, against a few ms for later frames; bench/vision.bench.ts). loadVaeEncoder calls it.
   */
  async warmUp(): Promise<void> {
    await warmUpPreprocessing(this.preprocess);
    await this.encodeInputs(new Float32Array(this.inputWidth * this.inputHeight * 3), 1);
  }

  /** Latent means of already preprocessed inputs: `count` HWC images in [0, 1], back to back. */
  async encodeInputs(inputs: Float32Array, count: number): Promise<Float32Array[]> {
    const size = this.inputWidth * this.inputHeight * 3;
    if (inputs.length !== count * size) {
      throw new UserError(
        `encoder input has ${inputs.length} values, expected ${count} x ${this.inputHeight}x${this.inputWidth}x3 = ${count * size}`,
      );
    }
    const out = tf.tidy(() => {
      const x = tf.tensor4d(inputs, [count, this.inputHeight, this.inputWidth, 3]);
      const muLogVar = this.forward ? this.forward(x) : (this.model.predict(x) as tf.Tensor2D);
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
  if (problems.length > 0)
    throw new UserError(`VAE model ${dir} does not match the configuration: ${problems.join('; ')}`);
  const model = await loadLayersModel(join(dir, ENCODER_SUBDIR));
  const inShape = model.inputs[0]?.shape ?? [];
  const outShape = model.outputs[0]?.shape ?? [];
  const wantIn = [config.inputHeight, config.inputWidth, 3];
  const inconsistent: string[] = [];
  if (inShape.length !== 4 || inShape.slice(1).some((d, i) => d !== wantIn[i])) {
    inconsistent.push(
      `encoder input shape [${inShape.slice(1).join(', ')}] vs ${config.inputHeight}x${config.inputWidth}x3 in vae.json`,
    );
  }
  if (outShape.length !== 2 || outShape[1] !== 2 * config.latentSize) {
    inconsistent.push(
      `encoder output width ${String(outShape[1])} vs 2 x latent size ${config.latentSize} in vae.json`,
    );
  }
  if (inconsistent.length > 0) {
    model.dispose();
    throw new UserError(`VAE model ${dir} is inconsistent: ${inconsistent.join('; ')}`);
  }
  const encoder = new VaeImageEncoder(model, config, meta, `VAE model ${dir}`);
  if (expected.cameraWidthPx !== undefined && expected.cameraHeightPx !== undefined)
    encoder.checkFrameSize(expected.cameraWidthPx, expected.cameraHeightPx);
  await encoder.warmUp();
  return encoder;
}
