import type { Command } from 'commander';
import { constants as osConstants } from 'node:os';
import { join, resolve } from 'node:path';
import { readConfigFile } from '../core/config.js';
import { UserError } from '../core/errors.js';
import { ensureDirectory, exists, readJson } from '../core/files.js';
import { checkOutputDir } from '../core/out-dir.js';
import { log } from '../core/logger.js';
import { type EpisodeRecord } from '../agent/training.js';
import { ALGORITHMS, type Algorithm } from '../rl/config.js';
import {
  addCommand,
  choiceOption,
  FORCE_HELP,
  invocation,
  OUT_RULE,
  parseIntArg,
  type CommonOptions,
} from './command.js';
import { hasCheckpoint, recoverCheckpoint, RUN_FILES } from '../jobs/run-dir.js';
import { parseRunConfig, parseTrainConfig, type TrainConfig } from '../jobs/train-config.js';
import { trainConfigFromSweep } from '../sweep/from-sweep.js';
import { TrainSummary, runTraining } from '../jobs/training.js';

/** `daydrive train`: its flags and what it prints; the job itself is src/jobs/training.ts. */

function passedTests(n: number): string {
  return n === 1 ? 'a test drive' : `${String(n)} test drives in a row`;
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
  if (opts.fromSweep && opts.config)
    throw new UserError('--from-sweep and --config both give the configuration: choose one');
  const swept = opts.fromSweep ? await trainConfigFromSweep(opts.fromSweep, opts.trial ?? 'best') : null;
  const raw = swept ? swept.raw : ((opts.config ? await readConfigFile(opts.config) : {}) as Record<string, unknown>);
  const source = swept ? swept.source : opts.config ? `config ${opts.config}` : 'train config';
  return parseTrainConfig(
    {
      ...raw,
      ...(opts.algo ? { algo: opts.algo } : {}),
      ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
      agent: { ...(raw.agent as object | undefined), ...(opts.state ? { state: opts.state } : {}) },
      schedule: {
        ...(raw.schedule as object | undefined),
        ...(opts.episodes !== undefined ? { maxEpisodes: opts.episodes } : {}),
      },
    },
    source,
  );
}

/** The first field (dotted path) where two plain values differ, or null when they are equal. */
export function firstDifference(a: unknown, b: unknown, path = ''): string | null {
  if (a === b) return null;
  if (
    typeof a !== 'object' ||
    typeof b !== 'object' ||
    a === null ||
    b === null ||
    Array.isArray(a) !== Array.isArray(b)
  )
    return path || '(root)';
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  for (const key of keys) {
    const d = firstDifference(
      (a as Record<string, unknown>)[key],
      (b as Record<string, unknown>)[key],
      path ? `${path}.${key}` : key,
    );
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
    new UserError(
      `cannot resume ${out} with ${what}: the run was trained with ${runs} (a resumed run keeps its settings, only --episodes may change; start a new run with another --out)`,
    );
  if (opts.seed !== undefined && opts.seed !== run.seed) throw refuse(`--seed ${opts.seed}`, `seed ${run.seed}`);
  if (opts.algo !== undefined && opts.algo !== run.algo) throw refuse(`--algo ${opts.algo}`, `algo ${run.algo}`);
  if (opts.state !== undefined && opts.state !== run.agent.state)
    throw refuse(`--state ${opts.state}`, `state ${run.agent.state}`);
  let maxEpisodes = opts.episodes ?? run.schedule.maxEpisodes;
  if (opts.config !== undefined) {
    // The file with the flags given, as a new run would resolve them: the command that started the run, plus --resume, resumes it.
    const given = await resolveTrainConfig(opts);
    const field = firstDifference(
      { ...given, schedule: { ...given.schedule, maxEpisodes: 0 } },
      { ...run, schedule: { ...run.schedule, maxEpisodes: 0 } },
    );
    if (field !== null)
      throw refuse(`--config ${opts.config} (field ${field} differs)`, 'the settings in its config.json');
    const raw = (await readConfigFile(opts.config)) as { schedule?: { maxEpisodes?: unknown } } | null;
    if (opts.episodes === undefined && raw?.schedule?.maxEpisodes !== undefined)
      maxEpisodes = given.schedule.maxEpisodes;
  }
  if (maxEpisodes !== run.schedule.maxEpisodes)
    log.info(
      { was: run.schedule.maxEpisodes, now: maxEpisodes },
      `episode budget changed to ${maxEpisodes} learning episodes`,
    );
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
        .addOption(
          choiceOption('--state <kind>', "state: the VAE latent ('vae') or the image itself ('pixels')", [
            'vae',
            'pixels',
          ] as const),
        )
        .option('--episodes <n>', 'most learning episodes', parseIntArg(1, 10_000))
        .option('--seed <n>', 'random seed', parseIntArg(0, 0x7fffffff))
        .option('--out <dir>', `run directory (default: runs/<local date>-<time>; ${OUT_RULE})`)
        .option('--force', FORCE_HELP)
        .option(
          '--resume',
          'continue the run in --out from its last checkpoint (its settings; --episodes may raise or lower the budget)',
        )
        .option('--from-sweep <dir>', 'the configuration of a trial of `daydrive sweep` (docs/sweep.md)')
        .option('--trial <id>', "with --from-sweep: a trial number, or 'best' (default)")
        .option(
          '--actors <n>',
          'N simulator actor processes and one learner process over ZeroMQ (docs/transport.md); default: one process',
          parseIntArg(1, 64),
        )
        .option(
          '--learner-endpoints <uplink,downlink>',
          'with --actors: where the learner binds (default: free ports on 127.0.0.1; any other address needs --curve-keys)',
        )
        .option(
          '--curve-keys <file>',
          'with --actors: CURVE keys and the allowed client keys (JSON; docs/transport.md)',
        )
        .option(
          '--actor-noise-alpha <a>',
          "with --actors: actor i's noise is 0.4^(a*i/(N-1)) of the configured noise (Ape-X; default 1)",
          parseFloat,
        ),
    async (_args, opts) => {
      const out = resolve(opts.out ?? (await newRunDir()));
      let config: TrainConfig;
      if (opts.resume) {
        if (!opts.out) throw new UserError('--resume needs --out DIR (the run to continue)');
        const configPath = join(out, RUN_FILES.config);
        if (!(await exists(configPath)))
          throw new UserError(`cannot resume: no checkpoint in ${out} (it holds no run: no ${RUN_FILES.config})`);
        const runConfig = parseRunConfig(await readJson(configPath), `run config ${configPath}`);
        config = await resumedConfig(runConfig, opts, out);
        await recoverCheckpoint(out);
        if (!(await hasCheckpoint(out))) throw new UserError(`cannot resume: no checkpoint in ${out}`);
        if (opts.actors === undefined && (await exists(join(out, 'learner-checkpoint'))))
          throw new UserError(`${out} was trained with --actors: resume it with --actors N`);
      } else {
        if (await exists(join(out, RUN_FILES.config)))
          throw new UserError(`${out} already holds a run: use --resume to continue it, or another --out`);
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
          process.stderr.write(
            `daydrive: interrupted: quit during the episode; resume from the last checkpoint with: ${resumeCommand}\n`,
          );
          process.exit(signalExitCode(received));
        }
        signal = received;
        log.warn('stopping after this episode (checkpoint kept); interrupt again to quit now');
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      log.info({ out, algo: config.algo, state: config.agent.state, seed: config.seed }, 'training in the simulator');
      if (
        opts.actors === undefined &&
        (opts.learnerEndpoints || opts.curveKeys || opts.actorNoiseAlpha !== undefined)
      ) {
        throw new UserError('--learner-endpoints, --curve-keys and --actor-noise-alpha need --actors N');
      }
      if (opts.actorNoiseAlpha !== undefined && !(opts.actorNoiseAlpha >= 0 && Number.isFinite(opts.actorNoiseAlpha)))
        throw new UserError('--actor-noise-alpha must be a number >= 0');
      try {
        const runOptions = {
          config,
          out,
          resume: opts.resume === true,
          onEpisode: (r: EpisodeRecord) => log.info(describeEpisode(r)),
          shouldStop: () => signal !== null,
        };
        let summary: TrainSummary;
        if (opts.actors !== undefined) {
          // Loaded only here: the single-process path does not load the transport.
          const { runDistributedTraining } = await import('../transport/distributed-training.js');
          const { parseEndpoints } = await import('../transport/endpoint.js');
          summary = await runDistributedTraining({
            ...runOptions,
            actors: opts.actors,
            ...(opts.learnerEndpoints
              ? { endpoints: parseEndpoints(opts.learnerEndpoints, '--learner-endpoints') }
              : {}),
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
