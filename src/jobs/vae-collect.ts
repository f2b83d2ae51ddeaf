import {
  DrivingSimEnv,
  maxSetpointMps,
  purePursuitForEnv,
  type CarPose,
  type SimConfig,
  type SimDrivingInfo,
} from '../../sim/index.js';
import type { DrivingInfo, RgbImage } from '../core/env.js';
import { Rng } from '../core/rng.js';
import { isReservedRoadSeed } from '../agent/road-seeds.js';
import type { BagWriter } from '../vision/bag-writer.js';
import type { FrameRecord } from '../vision/dataset.js';
import { clamp } from '../core/math.js';

/**
 * Frames for VAE pretraining from the simulator (`daydrive vae collect --episodes N --seed S`).
 * Lives with the CLI because it composes the simulator and the vision dataset (src/vision does
 * not import the simulator).
 *
 * The driver must show the VAE the poses an RL agent will visit, or the latent cannot carry
 * cross-track and heading error there. Each episode is one new road; on it a pure-pursuit driver
 * follows a line offset from the lane centre by a target that jumps every few seconds (covering
 * the whole lane and a little beyond), with Ornstein-Uhlenbeck steering noise, and bursts of a
 * uniformly random policy (the agent's first episodes) that swing the heading until the
 * simulated safety driver intervenes; then the car is put back at the lane centre (the paper's
 * reset) and driving goes on until the episode's step budget is spent.
 */

export interface SimCollectOptions {
  readonly episodes: number;
  readonly seed: number;
  /** Policy steps (0.1 s) driven per episode (road). */
  readonly stepsPerEpisode: number;
  /** Keep one frame every this many steps. */
  readonly frameEvery: number;
  /** Probability per step of starting a burst of random actions. */
  readonly randomBurstProbability: number;
  /** Standard deviation of the OU steering noise, in action units. */
  readonly steeringNoise: number;
}

export const DEFAULT_SIM_COLLECT: Omit<SimCollectOptions, 'episodes' | 'seed'> = {
  stepsPerEpisode: 300,
  frameEvery: 2,
  randomBurstProbability: 0.03,
  steeringNoise: 0.25,
};

export interface CollectedFrame {
  readonly image: RgbImage;
  readonly record: Omit<FrameRecord, 'file'>;
}

function recordOf(
  episode: number,
  step: number,
  info: DrivingInfo & Pick<SimDrivingInfo, 'roadSeed' | 'speedMps'>,
  steeringRad: number,
): Omit<FrameRecord, 'file'> {
  return {
    episode,
    step,
    roadSeed: info.roadSeed,
    crossTrackErrorM: info.crossTrackErrorM,
    headingErrorRad: info.headingErrorRad,
    speedMps: info.speedMps,
    steeringRad,
  };
}

/**
 * Drives `episodes` roads and calls `onFrame` for every kept frame (rendered with the config's
 * camera). Road seeds come from `seed`, never a training, test or evaluation road
 * (src/agent/road-seeds.ts), so a different seed gives unseen roads.
 */
/** One policy step of the collection drive, for recorders of what a car logs (odometry, commands). */
export interface CollectedStep {
  readonly episode: number;
  readonly step: number;
  /** The car after the step (or after a reset). */
  readonly pose: CarPose;
  /** The action applied in this step ([steering, speed] in [-1, 1]); null for the pose of a reset. */
  readonly action: readonly [number, number] | null;
  /** 'road': a new road begins; 'reset': the safety driver put the car back in its lane. */
  readonly reset: 'road' | 'reset' | null;
}

export async function collectSimFrames(
  config: SimConfig,
  opts: SimCollectOptions,
  onFrame: (frame: CollectedFrame) => Promise<void>,
  onEpisode?: (episode: number) => void,
  onStep?: (step: CollectedStep) => Promise<void>,
): Promise<{ frames: number; interventions: number; roadSeeds: number[] }> {
  const env = new DrivingSimEnv({ ...config, camera: { ...config.camera, render: false } });
  const rng = Rng.fromSeed(opts.seed);
  const width = config.camera.widthPx;
  const height = config.camera.heightPx;
  let frames = 0;
  let interventions = 0;
  const roadSeeds: number[] = [];
  for (let episode = 0; episode < opts.episodes; episode++) {
    let roadSeed = rng.int(0x7fffffff);
    while (isReservedRoadSeed(roadSeed)) roadSeed = rng.int(0x7fffffff);
    roadSeeds.push(roadSeed);
    env.resetSync({ seed: roadSeed });
    await onStep?.({ episode, step: 0, pose: env.pose, action: null, reset: 'road' });
    const halfLaneM = env.road.laneWidthM / 2;
    let offsetM = 0;
    let steerNoise = 0;
    let speedAction = rng.range(0, 1);
    let burstLeft = 0;
    let burstSteer = 0;
    const emit = async (step: number, info: ReturnType<DrivingSimEnv['currentInfo']>): Promise<void> => {
      await onFrame({
        image: env.renderAt(width, height),
        record: recordOf(episode, step, info, env.pose.steeringRad),
      });
      frames++;
    };
    await emit(0, env.currentInfo());
    for (let step = 1; step <= opts.stepsPerEpisode; step++) {
      if (rng.uniform() < 0.04) offsetM = rng.range(-1.1, 1.1) * halfLaneM;
      if (rng.uniform() < 0.03) speedAction = rng.range(-0.2, 1);
      // OU steering noise, theta 0.3 per step: dx = -theta x + sigma sqrt(2 theta) N(0, 1).
      steerNoise += -0.3 * steerNoise + opts.steeringNoise * Math.sqrt(0.6) * rng.normal();
      if (burstLeft === 0 && rng.uniform() < opts.randomBurstProbability) burstLeft = 3 + rng.int(15);
      let action: [number, number];
      if (burstLeft > 0) {
        if (rng.uniform() < 0.4 || burstSteer === 0) burstSteer = rng.range(-1, 1);
        action = [burstSteer, rng.range(0, 1)];
        burstLeft--;
      } else {
        const [steer] = purePursuitForEnv(env, { offsetM, speedAction });
        action = [clamp(steer + steerNoise, -1, 1), speedAction];
      }
      const r = env.stepSync(action);
      await onStep?.({ episode, step, pose: env.pose, action, reset: null });
      if (step % opts.frameEvery === 0) await emit(step, r.info);
      if (r.terminated || r.truncated) {
        if (r.terminated) interventions++;
        burstLeft = 0;
        steerNoise = 0;
        env.resetSync({ continueRoute: true });
        await onStep?.({ episode, step, pose: env.pose, action: null, reset: 'reset' });
      }
    }
    onEpisode?.(episode + 1);
  }
  return { frames, interventions, roadSeeds };
}

/** Gaps in a recording's clock: the safety driver resetting the car, and driving to the next road. */
const RESET_GAP_NS = 2_000_000_000n;
const ROAD_GAP_NS = 10_000_000_000n;
/** The recording's first stamp (2026-01-01T00:00:00Z): a plausible clock for a drive. */
const RECORDING_START_NS = 1_767_225_600_000_000_000n;

/**
 * Records the collection drive as a car logs it (src/vision/bag-writer.ts): the camera frames as
 * JPEG, odometry every step (pose in the odom frame; across roads the odometry is continuous in
 * time but the pose starts at each road's start, as after re-localising), and the driver's
 * command every step. No simulator ground truth goes into the bag. A reset adds 2 s to the clock
 * and a new road 10 s, so a reader can split the recording where the car was put back.
 */
export async function recordSimBag(
  config: SimConfig,
  opts: SimCollectOptions,
  bag: BagWriter,
  onEpisode?: (episode: number) => void,
): Promise<{ frames: number; interventions: number; roadSeeds: number[] }> {
  const stepNs = BigInt(Math.round(1e9 / config.vehicle.policyHz));
  let clockNs = RECORDING_START_NS - ROAD_GAP_NS;
  const maxSetpoint = maxSetpointMps(config.vehicle);
  return collectSimFrames(
    config,
    opts,
    async (frame) => bag.addImage(clockNs, frame.image),
    onEpisode,
    async (s) => {
      clockNs += s.reset === 'road' ? ROAD_GAP_NS : s.reset === 'reset' ? RESET_GAP_NS : stepNs;
      const yawRateRadPerS = (s.pose.speedMps * Math.tan(s.pose.steeringRad)) / config.vehicle.wheelbaseM;
      await bag.addOdometry(clockNs, s.pose.xM, s.pose.yM, s.pose.yawRad, s.pose.speedMps, yawRateRadPerS);
      if (s.action)
        await bag.addCommand(
          clockNs,
          s.action[0] * config.vehicle.maxSteeringRad,
          ((s.action[1] + 1) / 2) * maxSetpoint,
        );
    },
  );
}
