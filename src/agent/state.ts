import { sameModelInput, type DrivingObservation, type ModelInputSpec } from '../core/env.js';
import type { ImageEncoder } from '../vision/types.js';
import { preprocessToInput, type PreprocessOptions } from '../vision/preprocess.js';
import type { VehicleScale } from './config.js';

/**
 * The agent's state: what the camera shows (VAE latent mean, or the pixels themselves), then the
 * measured speed and steering angle (the paper's state), then optionally the last k commands
 * (Raffin's reproduction). The layout puts the image first because the learner's pixel encoder
 * reads the leading h*w*c components (LearnerConfig.imageShape).
 *
 *   [ frame features | speed / maxSpeed | steering / maxSteering | a_{t-k} ... a_{t-1} ]
 */

/** Turns one camera frame into the leading part of the state. */
export interface FrameFeatures {
  readonly size: number;
  /**
   * What the features are computed from, when known: a camera frame cropped and resized to this. A world
   * that can draw it directly (the simulator) is asked to, and sends it as `obs.modelInput`.
   */
  readonly modelInput?: ModelInputSpec;
  /** HWC shape when the features are pixels (the learner's conv encoder reads them). */
  readonly imageShape?: readonly [number, number, number];
  features(obs: DrivingObservation): Promise<Float32Array>;
}

/** The VAE latent mean of the frame (Kendall et al.: "deep RL from VAE"). */
export class LatentFeatures implements FrameFeatures {
  readonly size: number;
  readonly modelInput?: ModelInputSpec;
  constructor(private readonly encoder: ImageEncoder) {
    this.size = encoder.latentSize;
    if (encoder.preprocess && encoder.encodeModelInput) this.modelInput = encoder.preprocess;
  }
  features(obs: DrivingObservation): Promise<Float32Array> {
    if (!obs.modelInput) return this.encoder.encode(obs.image);
    if (!this.encoder.encodeModelInput)
      throw new RangeError('the observation carries a model input frame but the encoder reads only camera images');
    return this.encoder.encodeModelInput(obs.modelInput);
  }
}

/** The cropped, resized frame in [0, 1] (the paper's "deep RL from pixels" baseline). */
export class PixelFeatures implements FrameFeatures {
  readonly size: number;
  readonly imageShape: readonly [number, number, number];
  readonly modelInput: ModelInputSpec;
  constructor(private readonly preprocess: PreprocessOptions) {
    this.imageShape = [preprocess.height, preprocess.width, 3];
    this.size = preprocess.height * preprocess.width * 3;
    this.modelInput = preprocess;
  }
  async features(obs: DrivingObservation): Promise<Float32Array> {
    const frame = obs.modelInput;
    if (!frame) return preprocessToInput(obs.image, this.preprocess);
    if (!sameModelInput(frame, this.preprocess)) {
      throw new RangeError(
        `model input frame ${frame.width}x${frame.height} (sky crop ${frame.skyCropFraction}) is not the pixel state's ${this.preprocess.width}x${this.preprocess.height} (sky crop ${this.preprocess.skyCropFraction})`,
      );
    }
    return frame.data;
  }
}

/** The last k executed actions, oldest first; zeros at the start of an episode. */
export class CommandHistory {
  private readonly values: Float32Array;
  constructor(
    readonly length: number,
    readonly actionSize: number,
  ) {
    this.values = new Float32Array(length * actionSize);
  }
  clear(): void {
    this.values.fill(0);
  }
  push(action: ArrayLike<number>): void {
    if (this.length === 0) return;
    this.values.copyWithin(0, this.actionSize);
    for (let i = 0; i < this.actionSize; i++)
      this.values[this.values.length - this.actionSize + i] = action[i] as number;
  }
  get flat(): Float32Array {
    return this.values;
  }
}

/** Speed and steering scaled to about [0, 1] and [-1, 1], so no state component dwarfs the latent. */
export function vehicleFeatures(obs: DrivingObservation, scale: VehicleScale): [number, number] {
  return [obs.speedMps / scale.maxSpeedMps, obs.steeringRad / scale.maxSteeringRad];
}

export class StateBuilder {
  readonly stateSize: number;

  constructor(
    readonly frame: FrameFeatures,
    private readonly scale: VehicleScale,
    readonly history: CommandHistory,
  ) {
    this.stateSize = frame.size + 2 + history.flat.length;
  }

  /**
   * The state for `obs`. A non-finite measurement is refused here, before it reaches the
   * learner, with the field named (the caller treats it like a bad frame).
   */
  async build(obs: DrivingObservation): Promise<Float32Array> {
    if (!Number.isFinite(obs.speedMps)) throw new RangeError(`measured speed is ${obs.speedMps}`);
    if (!Number.isFinite(obs.steeringRad)) throw new RangeError(`measured steering angle is ${obs.steeringRad}`);
    const frame = await this.frame.features(obs);
    const state = new Float32Array(this.stateSize);
    state.set(frame, 0);
    const [speed, steering] = vehicleFeatures(obs, this.scale);
    state[frame.length] = speed;
    state[frame.length + 1] = steering;
    state.set(this.history.flat, frame.length + 2);
    return state;
  }

  /** The measured steering of a state this builder made, in action units (its place in the layout above). */
  steeringOf(state: Float32Array): number {
    return state[this.frame.size + 1]!;
  }
}
