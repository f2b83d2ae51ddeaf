import { clamp } from './math.js';
/**
 * The environment API: the seam between the world (simulator or vehicle) and the agent.
 * Gymnasium-shaped (reset / step with terminated and truncated), asynchronous because on the
 * vehicle a step waits for the next camera frame.
 */

/** An 8-bit RGB image, row-major, interleaved channels (HWC), no row padding. */
export interface RgbImage {
  readonly width: number;
  readonly height: number;
  /** length = width * height * 3 */
  readonly data: Uint8Array;
}

export interface ResetOptions {
  /** New route / new random episode from this seed (simulator only). */
  readonly seed?: number;
  /**
   * Continue on the same route from where the last episode ended, back at the lane centre
   * (what the paper's safety driver did). Default false: start of a new route.
   */
  readonly continueRoute?: boolean;
}

export interface StepResult<Obs, Info> {
  readonly observation: Obs;
  readonly reward: number;
  /** The episode ended inside the MDP (intervention, goal reached, ...). */
  readonly terminated: boolean;
  /** The episode was cut by a time or route limit; bootstrapping is still valid. */
  readonly truncated: boolean;
  readonly info: Info;
}

export interface Environment<Obs, Info> {
  /** Number of action components; every component lies in [-1, 1]. */
  readonly actionSize: number;
  reset(options?: ResetOptions): Promise<Obs>;
  step(action: ArrayLike<number>): Promise<StepResult<Obs, Info>>;
  close?(): Promise<void>;
}

// ---- Driving: what both the simulator and the ROS node present ----

/**
 * What a model reads of a frame: the top `skyCropFraction` of the rows cropped off (the sky),
 * the rest resized to width x height (src/vision/preprocess.ts does it to camera frames).
 */
export interface ModelInputSpec {
  readonly skyCropFraction: number;
  readonly width: number;
  readonly height: number;
}

/** A frame already made model input by the world: HWC floats in [0, 1], width * height * 3 of them. */
export interface ModelInputFrame extends ModelInputSpec {
  readonly data: Float32Array;
}

/** Rows removed from the top of an image of this height by a sky crop (the one rounding every path uses). */
export function skyCropRows(heightPx: number, skyCropFraction: number): number {
  return Math.round(heightPx * skyCropFraction);
}

/** Whether two model input specs describe the same crop and size. */
export function sameModelInput(a: ModelInputSpec, b: ModelInputSpec): boolean {
  return a.width === b.width && a.height === b.height && Math.abs(a.skyCropFraction - b.skyCropFraction) < 1e-9;
}

/**
 * One camera frame plus what the car measures about itself. A world that can draw the model
 * input itself (the simulator, asked to by its composer) sends it as `modelInput` and may send an
 * empty (0x0) `image`; the vehicle sends camera images, which the agent preprocesses.
 */
export interface DrivingObservation {
  readonly image: RgbImage;
  readonly modelInput?: ModelInputFrame;
  readonly speedMps: number;
  readonly steeringRad: number;
}

/**
 * Why the simulated safety driver took over (sim/safety-driver.ts). The ROS node reports the
 * human driver's takeovers and its own fail-safes in its episode reports (src/ros/node.ts).
 */
export type InterventionReason = 'off-lane' | 'heading' | 'overspeed';

export interface DrivingInfo {
  readonly intervention: InterventionReason | null;
  /** Distance along the road centre line since the route start, metres. */
  readonly distanceAlongRouteM: number;
  /** Fraction of the route completed, 0..1 (NaN on the vehicle when no route is known). */
  readonly routeCompletion: number;
  /** Signed lateral offset from the lane centre, metres (NaN where not measured). */
  readonly crossTrackErrorM: number;
  /** Car heading minus road heading, radians in (-pi, pi] (NaN where not measured). */
  readonly headingErrorRad: number;
}

/**
 * Driving action, both components in [-1, 1]:
 *  [0] steering: +1 = the maximum steering angle to the left, -1 to the right
 *      (ROS REP 103: a positive angle turns counter-clockwise, i.e. left).
 *  [1] speed set-point: -1 -> 0 m/s, +1 -> the world's maximum set-point.
 */
export const DRIVING_ACTION_SIZE = 2;

/** What a driving action asks of the car: steering angle (rad, + left) and speed set-point (m/s). */
export interface DrivingCommand {
  readonly steeringRad: number;
  readonly speedMps: number;
}

/**
 * The one mapping from a driving action to the car's command (the simulator's vehicle and the ROS
 * node both use it): each component clipped to [-1, 1], steering scaled to +-maxSteeringRad,
 * speed from -1 -> 0 to +1 -> maxSpeedMps.
 */
export function drivingCommand(
  action: ArrayLike<number>,
  limits: { readonly maxSteeringRad: number; readonly maxSpeedMps: number },
): DrivingCommand {
  return {
    steeringRad: clamp(action[0]!, -1, 1) * limits.maxSteeringRad,
    speedMps: ((clamp(action[1]!, -1, 1) + 1) / 2) * limits.maxSpeedMps,
  };
}

/**
 * The one reward of a driving step, both worlds' (the paper's forward-speed reward, Kendall et al.
 * 2019 sec. III-C, summed over the step): the metres driven forward between two readings of the
 * world's odometer. The simulator's odometer is the distance along the lane centre line (it knows
 * the lane); the car's integrates its measured speed over time (src/ros/odometer.ts).
 */
export function forwardRewardM(odometerBeforeM: number, odometerAfterM: number): number {
  return odometerAfterM - odometerBeforeM;
}

export type DrivingEnvironment = Environment<DrivingObservation, DrivingInfo>;

// ---- Vector tasks (classic control) ----

export type VectorEnvironment = Environment<Float32Array, Record<string, number>>;

/** Checks an action before it touches any state: right length, finite values. */
export function validateAction(action: ArrayLike<number>, actionSize: number): void {
  if (action.length !== actionSize) {
    throw new RangeError(`action has ${action.length} components, expected ${actionSize}`);
  }
  for (let i = 0; i < action.length; i++) {
    if (!Number.isFinite(action[i])) {
      throw new RangeError(`action[${i}] is ${action[i]}: actions must be finite numbers`);
    }
  }
}
