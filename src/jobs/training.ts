import { join } from 'node:path';
import { initBackend } from '../core/backend.js';
import { ensureDirectory, replaceDirectory, writeFileSafely, writeJsonSafely } from '../core/files.js';
import { log } from '../core/logger.js';
import type { ModelInputSpec } from '../core/env.js';
import { createAgentFromSettings, type DrivingAgent, type VehicleScale } from '../agent/index.js';
import type { DdpgLearner } from '../rl/learner.js';
import type { Learner } from '../rl/types.js';
import {
  consecutivePasses,
  passed,
  trainAgent,
  type EpisodeRecord,
  type StepView,
  type TrainingProgress,
} from '../agent/training.js';
import { DEFAULT_VAE_MODEL_DIR, loadVaeEncoder } from '../vision/encoder.js';
import type { ImageEncoder } from '../vision/types.js';
import { type Algorithm } from '../rl/config.js';
import { DrivingSimEnv, rgbToPng, topDownMapPng, type MapPoint, type Viewpoint } from '../../sim/index.js';
import { maxSetpointMps } from '../../sim/config.js';
import {
  readCheckpoint,
  RUN_FILES,
  writeCheckpoint,
  LearningCurveWriter,
  writeMetrics,
  writeOverview,
} from './run-dir.js';
import { type TrainConfig } from './train-config.js';
import { episodeRoadsFor } from './episode-roads.js';
import { runWorlds } from './run-worlds.js';
import { roundTo } from '../core/math.js';

/**
 * `daydrive train`: the main job. Builds the simulator, the VAE state and the learner from one
 * configuration and trains as the paper's safety driver did, until a test episode drives the
 * whole route without intervention (src/agent/training.ts), writing the run directory
 * (src/jobs/run-dir.ts) as it goes.
 */

/** Frames of the final test drive kept for people: one per second of driving. */
const FRAME_EVERY_STEPS = 10;

export interface TrainRunOptions {
  readonly config: TrainConfig;
  readonly out: string;
  /** Continue from the run's last checkpoint (`config`: the run's, see resumedConfig). */
  readonly resume: boolean;
  readonly onEpisode?: (record: EpisodeRecord) => void;
  readonly shouldStop?: () => boolean;
}

export interface TrainSummary extends Record<string, unknown> {
  readonly out: string;
  readonly algo: Algorithm;
  readonly state: 'vae' | 'pixels';
  readonly seed: number;
  /** Learning (explore + train) episodes before the passing test drive(s) of the whole route; null if not solved. */
  readonly trainingEpisodes: number | null;
  /**
   * Learning episodes before the first test drive of a whole route without an intervention (the
   * paper's measure: it stopped at its route's first pass); null if no test passed.
   */
  readonly firstPassEpisodes: number | null;
  /** Learning episodes the run drove, solved or not. */
  readonly learningEpisodes: number;
  /** The stop rule: this many passed tests in a row solve the run (`schedule.testsToPass`). */
  readonly testsToPass: number;
  readonly trainingDistanceM: number;
  readonly trainingTimeS: number;
  readonly solved: boolean;
  readonly episodes: number;
  readonly lastTestDistanceM: number | null;
  /** Where the wall-clock time went (seconds): simulation, agent (state encoding + policy), optimisation. */
  readonly seconds: {
    readonly world: number;
    readonly agent: number;
    readonly optimise: number;
    readonly total: number;
  };
  readonly stopped: boolean;
}

/** What the world's vehicle means for the agent's units. */
export function vehicleScaleOf(config: TrainConfig): VehicleScale {
  const { vehicle } = config.sim;
  return {
    maxSteeringRad: vehicle.maxSteeringRad,
    maxSpeedMps: maxSetpointMps(vehicle),
    policyPeriodS: 1 / vehicle.policyHz,
  };
}

export async function loadEncoderFor(config: TrainConfig): Promise<ImageEncoder | null> {
  if (config.agent.state !== 'vae') return null;
  const dir = config.vaeModel ?? DEFAULT_VAE_MODEL_DIR;
  // The simulator's camera: a VAE trained on frames of another aspect ratio is warned about at load.
  return loadVaeEncoder(dir, { cameraWidthPx: config.sim.camera.widthPx, cameraHeightPx: config.sim.camera.heightPx });
}

/**
 * The run's agent. `wrapLearner` puts its learner behind another (an actor process's or the
 * coordinator's link to the learner process, src/transport); the agent is otherwise the same.
 */
export function buildAgent(
  config: TrainConfig,
  encoder: ImageEncoder | null,
  wrapLearner?: (learner: DdpgLearner) => Learner,
): DrivingAgent {
  return createAgentFromSettings(config, encoder, vehicleScaleOf(config), wrapLearner);
}

/**
 * The simulator of a run. With `modelInput` (the agent's: DrivingAgent.modelInput) it renders
 * what the agent reads straight at the model input size, and no full frame (docs/sim.md).
 */
export function simEnvFor(config: TrainConfig, seedOffset = 0, modelInput?: ModelInputSpec): DrivingSimEnv {
  return new DrivingSimEnv(
    { ...config.sim, env: { ...config.sim.env, seed: config.seed + seedOffset } },
    modelInput ? { modelInput } : {},
  );
}

/** The run's result from its records. */
export function summarise(
  out: string,
  config: TrainConfig,
  progress: TrainingProgress,
  stopped: boolean,
): TrainSummary {
  const records = progress.records;
  // Solved: the run ended on schedule.testsToPass passed tests in a row.
  const solvedAt = consecutivePasses(records) >= config.schedule.testsToPass ? records.at(-1) : undefined;
  const lastTest = [...records].reverse().find((r) => r.mode === 'test');
  const firstPass = records.find(passed);
  const sum = (key: 'world' | 'agent' | 'optimise') => records.reduce((s, r) => s + r.seconds[key], 0);
  const at = solvedAt ?? records.at(-1);
  return {
    out,
    algo: config.algo,
    state: config.agent.state,
    seed: config.seed,
    trainingEpisodes: solvedAt ? solvedAt.learningEpisodes : null,
    firstPassEpisodes: firstPass ? firstPass.learningEpisodes : null,
    learningEpisodes: records.at(-1)?.learningEpisodes ?? 0,
    testsToPass: config.schedule.testsToPass,
    trainingDistanceM: roundTo(at?.trainingDistanceM ?? 0, 1),
    trainingTimeS: roundTo(at?.elapsedS ?? 0, 1),
    solved: solvedAt !== undefined,
    episodes: records.length,
    lastTestDistanceM: lastTest ? roundTo(lastTest.distanceM, 1) : null,
    seconds: {
      world: roundTo(sum('world'), 1),
      agent: roundTo(sum('agent'), 1),
      optimise: roundTo(sum('optimise'), 1),
      total: roundTo(progress.elapsedS, 1),
    },
    stopped,
  };
}

/**
 * Keeps the frames and the path of the latest test episode, to write when the run ends. A frame is
 * kept as its viewpoint and drawn at write(): only the last test's frames are written, and drawing
 * every test's was a twentieth of a training run.
 */
export class TestDriveRecorder {
  private frames: Viewpoint[] = [];
  private interventions: MapPoint[] = [];
  private path: MapPoint[] = [];
  private step = 0;

  constructor(private readonly env: DrivingSimEnv) {}

  onStep(view: StepView): void {
    if (view.mode !== 'test') return;
    if (view.info === null) {
      this.frames = [];
      this.interventions = [];
      this.step = 0;
    }
    if (this.step % FRAME_EVERY_STEPS === 0 && this.env.config.camera.render) this.frames.push(this.env.viewpoint);
    if (view.info?.intervention) this.interventions.push({ xM: this.env.pose.xM, yM: this.env.pose.yM });
    this.path = [...this.env.drivenPath];
    this.step += 1;
  }

  async write(dir: string): Promise<number> {
    if (this.path.length === 0) return 0;
    const { widthPx, heightPx } = this.env.config.camera;
    await replaceDirectory(dir, async (tmp) => {
      for (const [i, at] of this.frames.entries()) {
        // For people at the camera's full size (the agent may see only its model input).
        const frame = this.env.renderAt(widthPx, heightPx, at);
        await writeFileSafely(join(tmp, `frame_${String(i).padStart(4, '0')}.png`), await rgbToPng(frame));
      }
      await writeFileSafely(
        join(tmp, 'map.png'),
        await topDownMapPng(this.env.road, { path: this.path, interventions: this.interventions }),
      );
    });
    return this.frames.length;
  }
}

export async function runTraining(opts: TrainRunOptions): Promise<TrainSummary> {
  const { out, config } = opts;
  await initBackend();
  const encoder = await loadEncoderFor(config);
  const agent = buildAgent(config, encoder);
  try {
    await ensureDirectory(out);
    let progress: TrainingProgress | undefined;
    if (opts.resume) {
      progress = await readCheckpoint(out, agent);
      log.info({ episodes: progress.records.length, out }, 'resuming from the last checkpoint');
    }
    // On resume too: the episode budget may have changed (the only setting that can).
    await writeJsonSafely(join(out, RUN_FILES.config), config);
    const worlds = runWorlds(config);
    const env = simEnvFor(worlds.training, 0, agent.modelInput);
    const testEnv = simEnvFor(worlds.test, 2, agent.modelInput);
    const recorder = new TestDriveRecorder(testEnv);
    const curve = new LearningCurveWriter(
      out,
      `daydrive train: ${config.algo} from ${config.agent.state}, seed ${config.seed}`,
    );
    let sinceCheckpoint = 0;
    const finalProgress = await trainAgent({
      env,
      testEnv,
      agent,
      schedule: config.schedule,
      routeSeed: config.routeSeed,
      roads: episodeRoadsFor(config, worlds),
      ...(progress ? { progress } : {}),
      hooks: {
        onStep: (view) => recorder.onStep(view),
        onEpisode: async (record, p) => {
          opts.onEpisode?.(record);
          await writeMetrics(out, p.records);
          await curve.update(p.records);
          if (++sinceCheckpoint >= config.checkpointEvery) {
            await writeCheckpoint(out, agent, p);
            sinceCheckpoint = 0;
          }
        },
        ...(opts.shouldStop ? { shouldStop: opts.shouldStop } : {}),
      },
    });
    await writeCheckpoint(out, agent, finalProgress);
    await curve.flush();
    await recorder.write(join(out, RUN_FILES.finalTest));
    await writeOverview(out);
    const stopped = opts.shouldStop?.() ?? false;
    const summary = summarise(out, config, finalProgress, stopped);
    await writeJsonSafely(join(out, RUN_FILES.summary), summary);
    return summary;
  } finally {
    agent.dispose();
    encoder?.dispose();
  }
}
