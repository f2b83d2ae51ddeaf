import type { ModelInputFrame, ModelInputSpec, RgbImage } from '../core/env.js';

/** Turns a camera image into the agent's latent state (the VAE's mean). */
export interface ImageEncoder {
  readonly latentSize: number;
  /** The model input after crop and resize. */
  readonly inputWidth: number;
  readonly inputHeight: number;
  /** The crop and size of the model input (what a world that renders it must draw); absent: frames only. */
  readonly preprocess?: ModelInputSpec;
  /** Preprocesses (crop, resize, normalise) and encodes one frame; returns the latent mean. */
  encode(image: RgbImage): Promise<Float32Array>;
  /** Encodes a frame the world already made model input (its crop and size must be `preprocess`). */
  encodeModelInput?(frame: ModelInputFrame): Promise<Float32Array>;
  /** The same for several frames in one model call (same results as encode, frame by frame). */
  encodeBatch?(images: readonly RgbImage[]): Promise<Float32Array[]>;
  dispose(): void;
}
