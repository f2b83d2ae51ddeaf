import { DRIVING_ACTION_SIZE, forwardRewardM, validateAction } from '../src/core/env.js';
import {
  skyCropRows,
  type DrivingEnvironment,
  type DrivingInfo,
  type DrivingObservation,
  type ModelInputSpec,
  type ResetOptions,
  type RgbImage,
  type StepResult,
} from '../src/core/env.js';
import { Rng } from '../src/core/rng.js';
import { drawAppearance, type Appearance } from './appearance.js';
import { Camera, type CameraWindow } from './camera.js';
import { parseSimConfig, type CameraConfig, type SimConfig, type SimConfigInput } from './config.js';
import { generateRoad, newProjection, wrapAngle, type Pose2D, type Road } from './road.js';
import { SafetyDriver } from './safety-driver.js';
import { Vehicle } from './vehicle.js';
import { clamp } from '../src/core/math.js';

/** What the simulator reports each step: the shared DrivingInfo plus simulator-only extras. */
export interface SimDrivingInfo extends DrivingInfo {
  /** Seed of the current road. */
  readonly roadSeed: number;
  /** Steps since the last reset. */
  readonly episodeStep: number;
  /** True speed of the car, m/s. */
  readonly speedMps: number;
  /** Route length, metres. */
  readonly routeLengthM: number;
  /** True when this step reached the end of the route. */
  readonly routeComplete: boolean;
  /** The action as applied (after clipping to [-1, 1]). */
  readonly appliedAction: readonly [number, number];
}

/** A snapshot of the car for maps and scripted drivers. */
export interface CarPose extends Pose2D {
  readonly speedMps: number;
  readonly steeringRad: number;
}

/** A camera pose on a road (DrivingSimEnv.viewpoint): renderAt() draws it again, bit for bit. */
export interface Viewpoint extends Pose2D {
  readonly roadSeed: number;
  /** The road polyline index near the car (where the renderer's projection starts). */
  readonly hintIndex: number;
}

export interface DrivingSimEnvOptions {
  /**
   * Render what the model reads (the sky-cropped view at the model input size, supersampled
   * `camera.modelInputSupersample`) into each observation's `modelInput`, and no full frame:
   * `image` is then empty (0x0); frames for people come from renderAt(). Absent: full frames.
   */
  readonly modelInput?: ModelInputSpec;
}

/**
 * The window of the camera that is the model input `spec`: the rows below the sky crop of the
 * configured camera image, drawn at the model's size with the configured supersampling.
 */
export function modelInputWindow(camera: CameraConfig, spec: ModelInputSpec): CameraWindow {
  const [supersampleX, supersampleY] = camera.modelInputSupersample;
  return {
    topRowsPx: skyCropRows(camera.heightPx, spec.skyCropFraction),
    outWidthPx: spec.width,
    outHeightPx: spec.height,
    supersampleX,
    supersampleY,
  };
}

/**
 * The simulated driving environment (implements DrivingEnvironment from src/core/env.ts).
 *
 * - reset({seed}) builds the road of that seed (same seed -> same road and look) and puts the
 *   car at the start, at the lane centre. reset() with no seed draws a new road seed from the
 *   env's own stream (config env.seed), or restarts the current road when env.newRoadEachReset
 *   is false. reset({continueRoute: true}) keeps the road and puts the car back at the lane
 *   centre, aligned with the road, at the distance where the last episode stopped (the paper's
 *   safety driver); after a completed route it restarts that road from the start.
 * - step([steering, speed]) — both in [-1, 1]; values outside are clipped (documented), NaN,
 *   infinities or a wrong length throw a RangeError before any state changes. Steering maps to
 *   +-maxSteeringRad (+ = left), speed to [0, maxSpeedSetpointMps]. One step = 1/policyHz s of
 *   physics at physicsHz.
 * - reward = distance gained along the road centre line in the step, metres (forwardRewardM, the
 *   reward the ROS node computes from the car's odometry too).
 * - terminated on a safety-driver intervention (info.intervention names the reason);
 *   truncated when the route is complete or maxEpisodeSteps is reached.
 */
export class DrivingSimEnv implements DrivingEnvironment {
  readonly actionSize = DRIVING_ACTION_SIZE;
  readonly config: SimConfig;
  private readonly rng: Rng;
  private readonly vehicle: Vehicle;
  private readonly safety: SafetyDriver;
  private readonly camera: Camera | null;
  private readonly modelInputCamera: Camera | null;
  /** renderAt's camera, for its last size. */
  private framesCamera: Camera | null = null;
  private readonly modelInputSpec: ModelInputSpec | null;
  private readonly proj = newProjection();
  private roadValue: Road | null = null;
  private lookValue: Appearance | null = null;
  private roadSeedValue = 0;
  private sM = 0;
  private stepCount = 0;
  private episodeOver = true;
  private routeDone = false;
  private readonly path: { xM: number; yM: number }[] = [];

  constructor(config: SimConfigInput | SimConfig = {}, options: DrivingSimEnvOptions = {}) {
    this.config = parseSimConfig(config);
    this.rng = Rng.fromSeed(this.config.env.seed);
    this.vehicle = new Vehicle(this.config.vehicle);
    this.safety = new SafetyDriver(this.config.safety);
    const render = this.config.camera.render;
    this.modelInputSpec = render && options.modelInput ? { ...options.modelInput } : null;
    this.modelInputCamera = this.modelInputSpec
      ? Camera.fromConfig(
          this.config.camera,
          undefined,
          undefined,
          modelInputWindow(this.config.camera, this.modelInputSpec),
        )
      : null;
    this.camera = render && !this.modelInputCamera ? Camera.fromConfig(this.config.camera) : null;
  }

  /** The current road (after the first reset). */
  get road(): Road {
    if (!this.roadValue) throw new Error('no road yet: call reset() first');
    return this.roadValue;
  }

  get appearance(): Appearance {
    if (!this.lookValue) throw new Error('no road yet: call reset() first');
    return this.lookValue;
  }

  get roadSeed(): number {
    return this.roadSeedValue;
  }

  /** Route length of the current road, metres (the configured length before the first reset). */
  get routeLengthM(): number {
    return this.roadValue?.routeLengthM ?? this.config.road.routeLengthM;
  }

  get pose(): CarPose {
    const s = this.vehicle.state;
    return { xM: s.xM, yM: s.yM, yawRad: s.yawRad, speedMps: s.speedMps, steeringRad: s.steeringRad };
  }

  /** Distance along the route of the car, metres. */
  get distanceAlongRouteM(): number {
    return this.sM;
  }

  /** Positions of the rear axle since the last new road (for top-down maps). */
  get drivenPath(): readonly { xM: number; yM: number }[] {
    return this.path;
  }

  async reset(options: ResetOptions = {}): Promise<DrivingObservation> {
    return this.resetSync(options);
  }

  async step(action: ArrayLike<number>): Promise<StepResult<DrivingObservation, SimDrivingInfo>> {
    return this.stepSync(action);
  }

  /** Synchronous reset (the simulator never waits); same semantics as reset(). */
  resetSync(options: ResetOptions = {}): DrivingObservation {
    if (options.seed !== undefined && !Number.isInteger(options.seed))
      throw new RangeError(`reset seed must be an integer, got ${options.seed}`);
    let startS = 0;
    if (options.continueRoute && this.roadValue && options.seed === undefined) {
      startS = this.routeDone ? 0 : Math.min(this.sM, this.roadValue.routeLengthM);
    } else if (options.seed !== undefined) {
      this.loadRoad(options.seed);
    } else if (!this.roadValue || this.config.env.newRoadEachReset) {
      this.loadRoad(this.rng.int(0x7fffffff));
    }
    const road = this.road;
    const p = road.pointAt(startS, road.laneCentreOffsetM);
    this.vehicle.place(p.xM, p.yM, p.headingRad);
    road.projectPrecise(p.xM, p.yM, Math.round(startS / road.spacingM), this.proj);
    this.sM = this.proj.sM;
    this.stepCount = 0;
    this.episodeOver = false;
    this.routeDone = false;
    this.path.push({ xM: p.xM, yM: p.yM });
    return this.observe();
  }

  /** Synchronous step; same semantics as step(). */
  stepSync(action: ArrayLike<number>): StepResult<DrivingObservation, SimDrivingInfo> {
    validateAction(action, DRIVING_ACTION_SIZE);
    if (this.episodeOver) throw new Error('the episode is over: call reset() before step()');
    const steer = clamp(action[0]!, -1, 1);
    const speed = clamp(action[1]!, -1, 1);
    const road = this.road;
    const before = this.sM;
    this.vehicle.stepPolicyPeriod(this.vehicle.command(steer, speed));
    const st = this.vehicle.state;
    st.yawRad = wrapAngle(st.yawRad);
    road.projectPrecise(st.xM, st.yM, this.proj.index, this.proj);
    this.sM = this.proj.sM;
    this.stepCount++;
    this.path.push({ xM: st.xM, yM: st.yM });
    const crossTrackErrorM = this.proj.lateralM - road.laneCentreOffsetM;
    const headingErrorRad = wrapAngle(st.yawRad - this.proj.headingRad);
    const intervention = this.safety.check({
      crossTrackErrorM,
      headingErrorRad,
      speedMps: st.speedMps,
      laneWidthM: road.laneWidthM,
      speedCapMps: this.config.vehicle.speedCapMps,
    });
    const routeComplete = intervention === null && this.sM >= road.routeLengthM;
    if (routeComplete) this.routeDone = true;
    const terminated = intervention !== null;
    const truncated = !terminated && (routeComplete || this.stepCount >= this.config.env.maxEpisodeSteps);
    this.episodeOver = terminated || truncated;
    const info: SimDrivingInfo = {
      intervention,
      distanceAlongRouteM: this.sM,
      routeCompletion: clamp(this.sM / road.routeLengthM, 0, 1),
      crossTrackErrorM,
      headingErrorRad,
      roadSeed: this.roadSeedValue,
      episodeStep: this.stepCount,
      speedMps: st.speedMps,
      routeLengthM: road.routeLengthM,
      routeComplete,
      appliedAction: [steer, speed],
    };
    return { observation: this.observe(), reward: forwardRewardM(before, this.sM), terminated, truncated, info };
  }

  /**
   * The info of the car's current state (what step() would report with no intervention check),
   * e.g. for the frame returned by reset().
   */
  currentInfo(): SimDrivingInfo {
    const road = this.road;
    const st = this.vehicle.state;
    return {
      intervention: null,
      distanceAlongRouteM: this.sM,
      routeCompletion: clamp(this.sM / road.routeLengthM, 0, 1),
      crossTrackErrorM: this.proj.lateralM - road.laneCentreOffsetM,
      headingErrorRad: wrapAngle(st.yawRad - this.proj.headingRad),
      roadSeed: this.roadSeedValue,
      episodeStep: this.stepCount,
      speedMps: st.speedMps,
      routeLengthM: road.routeLengthM,
      routeComplete: this.routeDone,
      appliedAction: [0, 0],
    };
  }

  /**
   * Where the camera is now, on which road: enough to render this view later with renderAt()
   * while the env is on the same road (a frame depends only on road, look and pose).
   */
  get viewpoint(): Viewpoint {
    const s = this.vehicle.state;
    return { roadSeed: this.roadSeedValue, xM: s.xM, yM: s.yM, yawRad: s.yawRad, hintIndex: this.proj.index };
  }

  /**
   * Renders the current view, or an earlier `viewpoint` on the current road, at any resolution (a
   * new buffer; the env's own camera settings otherwise), e.g. 640x480 frames for people while
   * the agent sees 160x120.
   */
  renderAt(widthPx: number, heightPx: number, at: Viewpoint = this.viewpoint): RgbImage {
    if (at.roadSeed !== this.roadSeedValue)
      throw new RangeError(`a viewpoint on road ${at.roadSeed} cannot be rendered on road ${this.roadSeedValue}`);
    // The camera's per-sample tables cost about as much as a frame: kept for the next call.
    let cam = this.framesCamera;
    if (cam?.widthPx !== widthPx || cam.heightPx !== heightPx) {
      cam = Camera.fromConfig(this.config.camera, widthPx, heightPx);
      this.framesCamera = cam;
    }
    return cam.render(this.road, this.appearance, at, at.hintIndex);
  }

  private loadRoad(seed: number): void {
    this.roadValue = generateRoad(seed, this.config.road);
    this.lookValue = drawAppearance(seed, this.config.appearance, this.roadValue.laneCount === 2);
    this.roadSeedValue = seed;
    this.path.length = 0;
  }

  private observe(): DrivingObservation {
    const s = this.vehicle.state;
    // Fresh buffers per observation: callers may keep frames (replay buffers, datasets).
    if (this.modelInputCamera && this.modelInputSpec) {
      const data = this.modelInputCamera.renderModelInput(this.road, this.appearance, s, this.proj.index);
      return {
        image: EMPTY_IMAGE,
        modelInput: { ...this.modelInputSpec, data },
        speedMps: s.speedMps,
        steeringRad: s.steeringRad,
      };
    }
    const image = this.camera ? this.camera.render(this.road, this.appearance, s, this.proj.index) : EMPTY_IMAGE;
    return { image, speedMps: s.speedMps, steeringRad: s.steeringRad };
  }
}

const EMPTY_IMAGE: RgbImage = { width: 0, height: 0, data: new Uint8Array(0) };
