import { join } from 'node:path';
import { lookOfRoad, rgbToPng, topDownMapPng, type MapPoint } from '../../sim/index.js';
import { initBackend } from '../core/backend.js';
import type { ModelInputSpec, RgbImage } from '../core/env.js';
import { readJson } from '../core/files.js';
import { log } from '../core/logger.js';
import {
  agentPolicy,
  driveRoute,
  randomPolicy,
  roadResult,
  zeroPolicy,
  type EpisodePolicy,
  type RoadResult,
} from '../agent/evaluation.js';
import type { DrivingAgent } from '../agent/agent.js';
import { readCheckpoint, RUN_FILES } from './run-dir.js';
import { parseRunConfig, type TrainConfig } from './train-config.js';
import { buildAgent, loadEncoderFor, simEnvFor } from './training.js';

/**
 * Drives one policy over a list of evaluation roads: the work of `daydrive eval`, done in the
 * CLI process or in a child (eval-worker.ts) with the same result. Lives with the CLI because it
 * composes the simulator, the agent and a run directory.
 */

/** A drive is given up after this many disengagements on one road (the random policy's worst case). */
export const MAX_DISENGAGEMENTS_PER_ROAD = 200;
/** Size of the camera frame kept of a failed road (4:3 like the simulator's camera). */
const FAILURE_FRAME = { widthPx: 320, heightPx: 240 } as const;

/**
 * How a trained policy sees each road: `sim`, the model input the simulator renders for the
 * encoder (what training sees); `car`, a full camera frame through the car's image pipeline
 * (sharp's crop and resize), about three times the cost per step. The two give the encoder the
 * same statistics (docs/sim.md); `car` is the check that a policy does not rely on the difference.
 */
export const CAMERA_PATHS = ['sim', 'car'] as const;
export type CameraPath = (typeof CAMERA_PATHS)[number];

export type PolicySpec =
  | { readonly kind: 'random'; readonly seed: number }
  | { readonly kind: 'zero' }
  | { readonly kind: 'run'; readonly dir: string; readonly name: string };

export interface DriveJob {
  /** The world: the first run's training config (its sim and agent sections). */
  readonly config: TrainConfig;
  readonly policy: PolicySpec;
  readonly roadSeeds: readonly number[];
  /** How a trained policy sees the road (the random and zero policies look at nothing). */
  readonly cameraPath: CameraPath;
  /** Keep a camera frame (at the first disengagement) and a map of each road with a disengagement. */
  readonly pictures: boolean;
}

/** What a failed road looked like, PNG bytes in base64 (they cross a process boundary). */
export interface FailurePictures {
  readonly roadSeed: number;
  readonly framePngBase64: string;
  readonly mapPngBase64: string;
}

export interface DrivenRoads {
  readonly roads: RoadResult[];
  readonly failures: FailurePictures[];
}

/** A run directory's training config, parsed (errors name the file). */
export async function readRunConfig(dir: string): Promise<TrainConfig> {
  const path = join(dir, RUN_FILES.config);
  return parseRunConfig(await readJson(path), `run config ${path}`);
}

/** Each road's own random stream, so a road's result does not depend on which worker drives it or in what order. */
function roadRandomSeed(seed: number, roadSeed: number): number {
  return (Math.imul(seed + 1, 0x9e3779b1) ^ roadSeed) | 0;
}

/**
 * The agent of the run in `dir` with its checkpoint, for driving only: evaluation drives test
 * episodes, so nothing of them is kept for learning. `release` frees its networks and encoder.
 */
export async function loadTrainedAgent(
  dir: string,
  config: TrainConfig,
): Promise<{ readonly agent: DrivingAgent; readonly release: () => void }> {
  const encoder = await loadEncoderFor(config);
  const agent = buildAgent({ ...config, agent: { ...config.agent, replayTestEpisodes: false } }, encoder);
  const release = (): void => {
    agent.dispose();
    encoder?.dispose();
  };
  try {
    await readCheckpoint(dir, agent);
  } catch (err) {
    release();
    throw err;
  }
  return { agent, release };
}

export async function driveJob(job: DriveJob): Promise<DrivenRoads> {
  let policyFor: (roadSeed: number) => EpisodePolicy;
  let modelInput: ModelInputSpec | undefined;
  let release = (): void => {};
  const policy = job.policy;
  if (policy.kind === 'random') policyFor = (road) => randomPolicy(job.config.agent, roadRandomSeed(policy.seed, road));
  else if (policy.kind === 'zero') policyFor = () => zeroPolicy(job.config.agent);
  else {
    await initBackend();
    const trained = await loadTrainedAgent(policy.dir, await readRunConfig(policy.dir));
    release = trained.release;
    if (job.cameraPath === 'sim') modelInput = trained.agent.modelInput;
    const plain = agentPolicy(trained.agent, policy.name);
    policyFor = () => plain;
  }
  const env = simEnvFor(job.config, 1, modelInput);
  const roads: RoadResult[] = [];
  const failures: FailurePictures[] = [];
  try {
    for (const seed of job.roadSeeds) {
      const interventions: MapPoint[] = [];
      const seen: { frame: RgbImage | null } = { frame: null };
      const route = await driveRoute(env, policyFor(seed), seed, MAX_DISENGAGEMENTS_PER_ROAD, (info) => {
        if (!job.pictures || info.intervention === null) return;
        interventions.push({ xM: env.pose.xM, yM: env.pose.yM });
        // The first failure, seen from the car before the safety driver puts it back.
        seen.frame ??= env.renderAt(FAILURE_FRAME.widthPx, FAILURE_FRAME.heightPx);
      });
      if (seen.frame !== null && route.disengagements > 0) {
        failures.push({
          roadSeed: seed,
          framePngBase64: Buffer.from(await rgbToPng(seen.frame)).toString('base64'),
          mapPngBase64: Buffer.from(
            await topDownMapPng(env.road, { path: env.drivenPath, interventions, sizePx: 240 }),
          ).toString('base64'),
        });
      }
      const look = lookOfRoad(seed, job.config.sim);
      roads.push(roadResult(route, look));
      log.info(
        {
          policy: policyName(policy),
          road: seed,
          distanceM: Math.round(route.distanceM),
          disengagements: route.disengagements,
        },
        'evaluation drive',
      );
    }
  } finally {
    release();
  }
  return { roads, failures };
}

export function policyName(policy: PolicySpec): string {
  return policy.kind === 'random' ? 'random policy' : policy.kind === 'zero' ? 'zero policy' : policy.name;
}
