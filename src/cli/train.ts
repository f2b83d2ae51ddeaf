import type { Command } from 'commander';
import { constants as osConstants } from 'node:os';
import { join, resolve } from 'node:path';
import { initBackend } from '../core/backend.js';
import { readConfigFile } from '../core/config.js';
import { UserError } from '../core/errors.js';
import { ensureDirectory, exists, readJson, replaceDirectory, writeFileSafely, writeJsonSafely } from '../core/files.js';
import { checkOutputDir } from '../core/out-dir.js';
import { log } from '../core/logger.js';
import type { ModelInputSpec, RgbImage } from '../core/env.js';
import { createDrivingAgent, type DrivingAgent, type VehicleScale } from '../agent/index.js';
import { consecutivePasses, passed, trainAgent, type EpisodeRecord, type StepView, type TrainingProgress } from '../agent/training.js';
import { DEFAULT_VAE_MODEL_DIR, loadVaeEncoder } from '../vision/encoder.js';
import type { ImageEncoder } from '../vision/types.js';
import { ALGORITHMS, type Algorithm } from '../rl/config.js';
import { DrivingSimEnv, rgbToPng, topDownMapPng, type MapPoint } from '../../sim/index.js';
import { maxSetpointMps } from '../../sim/config.js';
import { addCommand, choiceOption, FORCE_HELP, invocation, OUT_RULE, parseIntArg, type CommonOptions } from './command.js';
import { hasCheckpoint, readCheckpoint, recoverCheckpoint, RUN_FILES, writeCheckpoint, writeLearningCurve, writeMetrics, writeOverview } from './run-dir.js';
import { parseTrainConfig, type TrainConfig } from './train-config.js';
import { trainConfigFromSweep } from '../sweep/from-sweep.js';

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
export class TestDriveRecorder {
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
    await ensureDirectory(out);
    let progress: TrainingProgress | undefined;
    if (opts.resume) {
      progress = await readCheckpoint(out, agent);
      log.info({ episodes: progress.records.length, out }, 'resuming from the last checkpoint');
    }
    // On resume too: the episode budget may have changed (the only setting that can).
    await writeJsonSafely(join(out, RUN_FILES.config), config);
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
  force?: boolean;
  resume?: boolean;
  fromSweep?: string;
  trial?: string;
  actors?: number;
  learnerEndpoints?: string;
  curveKeys?: string;
  actorNoiseAlpha?: number;
}

/** The configuration from the file and the flags (flags win). */
export async function resolveTrainConfig(opts: TrainOptions): Promise<TrainConfig> {
  if (opts.trial !== undefined && !opts.fromSweep) throw new UserError('--trial needs --from-sweep DIR');
  if (opts.fromSweep && opts.config) throw new UserError('--from-sweep and --config both give the configuration: choose one');
  const swept = opts.fromSweep ? await trainConfigFromSweep(opts.fromSweep, opts.trial ?? 'best') : null;
  const raw = swept ? swept.raw : ((opts.config ? await readConfigFile(opts.config) : {}) as Record<string, unknown>);
  const source = swept ? swept.source : opts.config ? `config ${opts.config}` : 'train config';
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

/** The first field (dotted path) where two plain values differ, or null when they are equal. */
export function firstDifference(a: unknown, b: unknown, path = ''): string | null {
  if (a === b) return null;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null || Array.isArray(a) !== Array.isArray(b)) return path || '(root)';
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  for (const key of keys) {
    const d = firstDifference((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key], path ? `${path}.${key}` : key);
    if (d !== null) return d;
  }
  return null;
}

/**
 * The configuration of a resumed run: the run's own (config.json), with the episode budget of
 * --episodes (or of a --config file that sets schedule.maxEpisodes). Anything else that would
 * change the run (another --seed, --algo, --state, or a --config that differs) is refused in one
 * line: a resumed run continues exactly as it started.
 */
export async function resumedConfig(run: TrainConfig, opts: TrainOptions, out: string): Promise<TrainConfig> {
  const refuse = (what: string, runs: string) =>
    new UserError(`cannot resume ${out} with ${what}: the run was trained with ${runs} (a resumed run keeps its settings, only --episodes may change; start a new run with another --out)`);
  if (opts.seed !== undefined && opts.seed !== run.seed) throw refuse(`--seed ${opts.seed}`, `seed ${run.seed}`);
  if (opts.algo !== undefined && opts.algo !== run.algo) throw refuse(`--algo ${opts.algo}`, `algo ${run.algo}`);
  if (opts.state !== undefined && opts.state !== run.agent.state) throw refuse(`--state ${opts.state}`, `state ${run.agent.state}`);
  let maxEpisodes = opts.episodes ?? run.schedule.maxEpisodes;
  if (opts.config !== undefined) {
    // The file with the flags given, as a new run would resolve them: the command that started the run, plus --resume, resumes it.
    const given = await resolveTrainConfig(opts);
    const field = firstDifference({ ...given, schedule: { ...given.schedule, maxEpisodes: 0 } }, { ...run, schedule: { ...run.schedule, maxEpisodes: 0 } });
    if (field !== null) throw refuse(`--config ${opts.config} (field ${field} differs)`, 'the settings in its config.json');
    const raw = (await readConfigFile(opts.config)) as { schedule?: { maxEpisodes?: unknown } } | null;
    if (opts.episodes === undefined && raw?.schedule?.maxEpisodes !== undefined) maxEpisodes = given.schedule.maxEpisodes;
  }
  if (maxEpisodes !== run.schedule.maxEpisodes) log.info({ was: run.schedule.maxEpisodes, now: maxEpisodes }, `episode budget changed to ${maxEpisodes} learning episodes`);
  return { ...run, schedule: { ...run.schedule, maxEpisodes } };
}

/** A new run directory under runs/, named by the local date and time (a suffix when that name is taken). */
async function newRunDir(): Promise<string> {
  const now = new Date();
  const two = (n: number) => String(n).padStart(2, '0');
  const name = `${now.getFullYear()}-${two(now.getMonth() + 1)}-${two(now.getDate())}-${two(now.getHours())}-${two(now.getMinutes())}-${two(now.getSeconds())}`;
  for (let k = 1; ; k++) {
    const dir = join('runs', k === 1 ? name : `${name}-${k}`);
    if (!(await exists(dir))) return dir;
  }
}

/** The exit status a shell gives a process the signal ended: 128 + its number (130 for SIGINT). */
export function signalExitCode(signal: NodeJS.Signals): number {
  return 128 + (osConstants.signals[signal] ?? 2);
}

/** A path as a shell argument (quoted when it holds anything but safe characters). */
function quoteArg(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
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
        .option('--out <dir>', `run directory (default: runs/<local date>-<time>; ${OUT_RULE})`)
        .option('--force', FORCE_HELP)
        .option('--resume', 'continue the run in --out from its last checkpoint (its settings; --episodes may raise or lower the budget)')
        .option('--from-sweep <dir>', 'the configuration of a trial of `daydrive sweep` (docs/sweep.md)')
        .option('--trial <id>', "with --from-sweep: a trial number, or 'best' (default)")
        .option('--actors <n>', 'N simulator actor processes and one learner process over ZeroMQ (docs/transport.md); default: one process', parseIntArg(1, 64))
        .option('--learner-endpoints <uplink,downlink>', 'with --actors: where the learner binds (default: free ports on 127.0.0.1; any other address needs --curve-keys)')
        .option('--curve-keys <file>', 'with --actors: CURVE keys and the allowed client keys (JSON; docs/transport.md)')
        .option('--actor-noise-alpha <a>', "with --actors: actor i's noise is 0.4^(a*i/(N-1)) of the configured noise (Ape-X; default 1)", parseFloat),
    async (_args, opts) => {
      const out = resolve(opts.out ?? (await newRunDir()));
      let config: TrainConfig;
      if (opts.resume) {
        if (!opts.out) throw new UserError('--resume needs --out DIR (the run to continue)');
        const configPath = join(out, RUN_FILES.config);
        if (!(await exists(configPath))) throw new UserError(`cannot resume: no checkpoint in ${out} (it holds no run: no ${RUN_FILES.config})`);
        const runConfig = parseTrainConfig(await readJson(configPath), `run config ${configPath}`);
        config = await resumedConfig(runConfig, opts, out);
        await recoverCheckpoint(out);
        if (!(await hasCheckpoint(out))) throw new UserError(`cannot resume: no checkpoint in ${out}`);
        if (opts.actors === undefined && (await exists(join(out, 'learner-checkpoint')))) throw new UserError(`${out} was trained with --actors: resume it with --actors N`);
      } else {
        if (await exists(join(out, RUN_FILES.config))) throw new UserError(`${out} already holds a run: use --resume to continue it, or another --out`);
        await checkOutputDir(out, { command: 'train', force: opts.force === true });
        config = await resolveTrainConfig(opts);
        // Before the seconds of loading TensorFlow.js and the VAE: an --out that cannot be made fails now.
        await ensureDirectory(out);
      }
      let signal: NodeJS.Signals | null = null;
      const resumeCommand = `${invocation()} train --resume --out ${quoteArg(out)}`;
      const onSignal = (received: NodeJS.Signals) => {
        if (signal !== null) {
          // A second interrupt: quit now. The last complete checkpoint stays (a checkpoint being
          // replaced this instant is recovered by --resume).
          process.stderr.write(`daydrive: interrupted: quit during the episode; resume from the last checkpoint with: ${resumeCommand}\n`);
          process.exit(signalExitCode(received));
        }
        signal = received;
        log.warn('stopping after this episode (checkpoint kept); interrupt again to quit now');
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      log.info({ out, algo: config.algo, state: config.agent.state, seed: config.seed }, 'training in the simulator');
      if (opts.actors === undefined && (opts.learnerEndpoints || opts.curveKeys || opts.actorNoiseAlpha !== undefined)) {
        throw new UserError('--learner-endpoints, --curve-keys and --actor-noise-alpha need --actors N');
      }
      if (opts.actorNoiseAlpha !== undefined && !(opts.actorNoiseAlpha >= 0 && Number.isFinite(opts.actorNoiseAlpha))) throw new UserError('--actor-noise-alpha must be a number >= 0');
      try {
        const runOptions = { config, out, resume: opts.resume === true, onEpisode: (r: EpisodeRecord) => log.info(describeEpisode(r)), shouldStop: () => signal !== null };
        let summary: TrainSummary;
        if (opts.actors !== undefined) {
          // Loaded only here: the single-process path does not load the transport.
          const { runDistributedTraining } = await import('../transport/distributed-training.js');
          const { parseEndpoints } = await import('../transport/endpoint.js');
          summary = await runDistributedTraining({
            ...runOptions,
            actors: opts.actors,
            ...(opts.learnerEndpoints ? { endpoints: parseEndpoints(opts.learnerEndpoints, '--learner-endpoints') } : {}),
            ...(opts.curveKeys ? { curveKeys: opts.curveKeys } : {}),
            ...(opts.actorNoiseAlpha !== undefined ? { noiseAlpha: opts.actorNoiseAlpha } : {}),
          });
        } else summary = await runTraining(runOptions);
        if (signal === null) return summary;
        // What a shell reports for a process its signal ended (130 after Ctrl-C), so scripts see it.
        process.exitCode = signalExitCode(signal);
        return { ...summary, interrupted: true, resumeCommand };
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    },
    (r) =>
      r.interrupted === true
        ? `interrupted after episode ${String(r.episodes)} (${String(r.learningEpisodes)} training episode${r.learningEpisodes === 1 ? '' : 's'}; checkpoint kept): resume with: ${String(r.resumeCommand)}`
        : r.solved
        ? `solved: ${passedTests(Number(r.testsToPass))} completed the route after ${String(r.trainingEpisodes)} training episodes (${String(r.trainingDistanceM)} m, ${String(r.trainingTimeS)} s; the first passed test after ${String(r.firstPassEpisodes)}); run in ${String(r.out)}`
        : `not solved in ${String(r.learningEpisodes)} training episodes (${String(r.episodes)} with the tests; last test ${String(r.lastTestDistanceM)} m); run in ${String(r.out)}`,
  );
}
