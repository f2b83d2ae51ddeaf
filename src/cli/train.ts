import type { Command } from 'commander';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { initBackend } from '../core/backend.js';
import { readConfigFile } from '../core/config.js';
import { UserError } from '../core/errors.js';
import { exists, readJson, replaceDirectory, writeFileSafely, writeJsonSafely } from '../core/files.js';
import { log } from '../core/logger.js';
import type { ModelInputSpec, RgbImage } from '../core/env.js';
import { createDrivingAgent, type DrivingAgent, type VehicleScale } from '../agent/index.js';
import { consecutivePasses, passed, trainAgent, type EpisodeRecord, type StepView, type TrainingProgress } from '../agent/training.js';
import { DEFAULT_VAE_MODEL_DIR, loadVaeEncoder } from '../vision/encoder.js';
import type { ImageEncoder } from '../vision/types.js';
import { ALGORITHMS, type Algorithm } from '../rl/config.js';
import { DrivingSimEnv, rgbToPng, topDownMapPng, type MapPoint } from '../../sim/index.js';
import { maxSetpointMps } from '../../sim/config.js';
import { addCommand, choiceOption, parseIntArg, type CommonOptions } from './command.js';
import { hasCheckpoint, readCheckpoint, RUN_FILES, writeCheckpoint, writeLearningCurve, writeMetrics, writeOverview } from './run-dir.js';
import { parseTrainConfig, type TrainConfig } from './train-config.js';

/**
 * `daydrive train`: the main job. Builds the simulator, the VAE state and the learner from one
 * configuration and trains as the paper's safety driver did, until a test episode drives the
 * whole route without intervention (src/agent/training.ts), writing the run directory
 * (src/cli/run-dir.ts) as it goes.
 */

/** Frames of the final test drive kept for people: one per second of driving. */
const FRAME_EVERY_STEPS = 10;

export interface TrainRunOptions {
  readonly config: TrainConfig;
  readonly out: string;
  /** Continue from the run's last checkpoint (the config is read from the run). */
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
  readonly seconds: { readonly world: number; readonly agent: number; readonly optimise: number; readonly total: number };
  readonly stopped: boolean;
}

/** What the world's vehicle means for the agent's units. */
export function vehicleScaleOf(config: TrainConfig): VehicleScale {
  const { vehicle } = config.sim;
  return { maxSteeringRad: vehicle.maxSteeringRad, maxSpeedMps: maxSetpointMps(vehicle), policyPeriodS: 1 / vehicle.policyHz };
}

export async function loadEncoderFor(config: TrainConfig): Promise<ImageEncoder | null> {
  if (config.agent.state !== 'vae') return null;
  const dir = config.vaeModel ?? DEFAULT_VAE_MODEL_DIR;
  // The simulator's camera: a VAE trained on frames of another aspect ratio is warned about at load.
  return loadVaeEncoder(dir, { cameraWidthPx: config.sim.camera.widthPx, cameraHeightPx: config.sim.camera.heightPx });
}

export function buildAgent(config: TrainConfig, encoder: ImageEncoder | null): DrivingAgent {
  return createDrivingAgent({
    agent: config.agent,
    algo: config.algo,
    learner: config.learner,
    exploration: config.exploration,
    encoder,
    vehicle: vehicleScaleOf(config),
    seed: config.seed,
  });
}

/**
 * The simulator of a run. With `modelInput` (the agent's: DrivingAgent.modelInput) it renders
 * what the agent reads straight at the model input size, and no full frame (docs/sim.md).
 */
export function simEnvFor(config: TrainConfig, seedOffset = 0, modelInput?: ModelInputSpec): DrivingSimEnv {
  return new DrivingSimEnv({ ...config.sim, env: { ...config.sim.env, seed: config.seed + seedOffset } }, modelInput ? { modelInput } : {});
}

/** The test world's configuration: the training world's, with the schedule's choice of test roads. */
export function testWorldConfig(config: TrainConfig): TrainConfig {
  const tightestBendAtMostM = config.schedule.testRoadTightestBendAtMostM;
  return tightestBendAtMostM === null ? config : { ...config, sim: { ...config.sim, road: { ...config.sim.road, tightestBendAtMostM } } };
}

/** The run's result from its records. */
export function summarise(out: string, config: TrainConfig, progress: TrainingProgress, stopped: boolean): TrainSummary {
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
    trainingDistanceM: round(at?.trainingDistanceM ?? 0),
    trainingTimeS: round(at?.elapsedS ?? 0),
    solved: solvedAt !== undefined,
    episodes: records.length,
    lastTestDistanceM: lastTest ? round(lastTest.distanceM) : null,
    seconds: { world: round(sum('world')), agent: round(sum('agent')), optimise: round(sum('optimise')), total: round(progress.elapsedS) },
    stopped,
  };
}

function passedTests(n: number): string {
  return n === 1 ? 'a test drive' : `${String(n)} test drives in a row`;
}

function round(x: number): number {
  return Math.round(x * 10) / 10;
}

/** Keeps the frames and the path of the latest test episode, to write when the run ends. */
class TestDriveRecorder {
  private frames: RgbImage[] = [];
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
    // Frames for people at the camera's full size (the agent may see only its model input).
    if (this.step % FRAME_EVERY_STEPS === 0 && this.env.config.camera.render) this.frames.push(this.env.renderAt(this.env.config.camera.widthPx, this.env.config.camera.heightPx));
    if (view.info?.intervention) this.interventions.push({ xM: this.env.pose.xM, yM: this.env.pose.yM });
    this.path = [...this.env.drivenPath];
    this.step += 1;
  }

  async write(dir: string): Promise<number> {
    if (this.path.length === 0) return 0;
    await replaceDirectory(dir, async (tmp) => {
      for (const [i, frame] of this.frames.entries()) {
        await writeFileSafely(join(tmp, `frame_${String(i).padStart(4, '0')}.png`), await rgbToPng(frame));
      }
      await writeFileSafely(join(tmp, 'map.png'), await topDownMapPng(this.env.road, { path: this.path, interventions: this.interventions }));
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
    await mkdir(out, { recursive: true });
    let progress: TrainingProgress | undefined;
    if (opts.resume) {
      progress = await readCheckpoint(out, agent);
      log.info({ episodes: progress.records.length, out }, 'resuming from the last checkpoint');
    } else {
      await writeJsonSafely(join(out, RUN_FILES.config), config);
    }
    const env = simEnvFor(config, 0, agent.modelInput);
    const testEnv = simEnvFor(testWorldConfig(config), 2, agent.modelInput);
    const recorder = new TestDriveRecorder(testEnv);
    const title = `daydrive train: ${config.algo} from ${config.agent.state}, seed ${config.seed}`;
    let sinceCheckpoint = 0;
    const finalProgress = await trainAgent({
      env,
      testEnv,
      agent,
      schedule: config.schedule,
      routeSeed: config.routeSeed,
      ...(progress ? { progress } : {}),
      hooks: {
        onStep: (view) => recorder.onStep(view),
        onEpisode: async (record, p) => {
          opts.onEpisode?.(record);
          await writeMetrics(out, p.records);
          await writeLearningCurve(out, p.records, title);
          if (++sinceCheckpoint >= config.checkpointEvery) {
            await writeCheckpoint(out, agent, p);
            sinceCheckpoint = 0;
          }
        },
        ...(opts.shouldStop ? { shouldStop: opts.shouldStop } : {}),
      },
    });
    await writeCheckpoint(out, agent, finalProgress);
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

/** A one-line account of an episode for the terminal. */
export function describeEpisode(r: EpisodeRecord): string {
  const end = r.routeCompleted ? 'route complete' : r.intervention ? `intervention: ${r.intervention}` : 'step limit';
  const loss = r.update ? `, critic loss ${r.update.criticLoss.toPrecision(3)}, Q ${r.update.meanQ.toFixed(2)}` : '';
  return `episode ${r.episode} ${r.mode}: ${r.distanceM.toFixed(1)} m (${end})${loss}, ${r.elapsedS.toFixed(0)} s elapsed`;
}

interface TrainOptions extends CommonOptions {
  config?: string;
  algo?: Algorithm;
  state?: 'vae' | 'pixels';
  episodes?: number;
  seed?: number;
  out?: string;
  resume?: boolean;
}

/** The configuration from the file and the flags (flags win). */
export async function resolveTrainConfig(opts: TrainOptions): Promise<TrainConfig> {
  const raw = (opts.config ? await readConfigFile(opts.config) : {}) as Record<string, unknown>;
  const source = opts.config ? `config ${opts.config}` : 'train config';
  return parseTrainConfig(
    {
      ...raw,
      ...(opts.algo ? { algo: opts.algo } : {}),
      ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
      agent: { ...(raw.agent as object | undefined), ...(opts.state ? { state: opts.state } : {}) },
      schedule: { ...(raw.schedule as object | undefined), ...(opts.episodes !== undefined ? { maxEpisodes: opts.episodes } : {}) },
    },
    source,
  );
}

export function registerTrain(program: Command): void {
  addCommand<TrainOptions>(
    program,
    'train',
    'train an agent in the simulator until test drives complete their routes (the main job; runs with no flags)',
    (cmd) =>
      cmd
        .option('--config <file>', 'YAML/JSON configuration (every setting; see docs/agent.md)')
        .addOption(choiceOption('--algo <algo>', 'learner (default: the config, else td3)', ALGORITHMS))
        .addOption(choiceOption('--state <kind>', "state: the VAE latent ('vae') or the image itself ('pixels')", ['vae', 'pixels'] as const))
        .option('--episodes <n>', 'most learning episodes', parseIntArg(1, 10_000))
        .option('--seed <n>', 'random seed', parseIntArg(0, 0x7fffffff))
        .option('--out <dir>', 'run directory (default: runs/<date>-<time>)')
        .option('--resume', 'continue the run in --out from its last checkpoint'),
    async (_args, opts) => {
      const out = resolve(opts.out ?? join('runs', new Date().toISOString().replace(/[:T]/g, '-').slice(0, 19)));
      let config: TrainConfig;
      if (opts.resume) {
        if (!opts.out) throw new UserError('--resume needs --out DIR (the run to continue)');
        if (!(await hasCheckpoint(out))) throw new UserError(`cannot resume: no checkpoint in ${out}`);
        config = parseTrainConfig(await readJson(join(out, RUN_FILES.config)), `run config ${join(out, RUN_FILES.config)}`);
      } else {
        if (await exists(join(out, RUN_FILES.config))) throw new UserError(`${out} already holds a run: use --resume to continue it, or another --out`);
        config = await resolveTrainConfig(opts);
      }
      let interrupts = 0;
      const onSignal = () => {
        interrupts += 1;
        if (interrupts > 1) process.exit(130);
        log.warn('stopping after this episode (checkpoint kept); interrupt again to quit now');
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      log.info({ out, algo: config.algo, state: config.agent.state, seed: config.seed }, 'training in the simulator');
      try {
        return await runTraining({
          config,
          out,
          resume: opts.resume === true,
          onEpisode: (r) => log.info(describeEpisode(r)),
          shouldStop: () => interrupts > 0,
        });
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    },
    (r) =>
      r.solved
        ? `solved: ${passedTests(Number(r.testsToPass))} completed the route after ${String(r.trainingEpisodes)} training episodes (${String(r.trainingDistanceM)} m, ${String(r.trainingTimeS)} s; the first passed test after ${String(r.firstPassEpisodes)}); run in ${String(r.out)}`
        : `not solved in ${String(r.learningEpisodes)} training episodes (${String(r.episodes)} with the tests; last test ${String(r.lastTestDistanceM)} m); run in ${String(r.out)}`,
  );
}
