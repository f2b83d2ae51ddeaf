import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import { z } from 'zod';
import { initBackend } from '../core/backend.js';
import { parseWith, readConfigFile } from '../core/config.js';
import { UserError } from '../core/errors.js';
import { writeJsonSafely } from '../core/files.js';
import { checkOutputDir, writeOutputDirectory } from '../core/out-dir.js';
import { log } from '../core/logger.js';
import { join } from 'node:path';
import { CLASSIC_TASKS, createClassicEnv, type ClassicTask } from '../../sim/classic/index.js';
import { seededStream } from '../../sim/road.js';
import {
  ALGORITHMS,
  explorationConfigSchema,
  learnerSettingsForExploration,
  learnerConfigSchema,
  mergeLearnerConfig,
  withAlgorithmPreset,
  type Algorithm,
  type LearnerConfig,
  type ExplorationConfigInput,
  type LearnerConfigInput,
} from '../rl/config.js';
import { createLearner } from '../rl/learner.js';
import { createExploration } from '../rl/noise.js';
import { trainOnVectorEnv, type TrainProgress, type TrainReport } from '../rl/vector-loop.js';
import { addCommand, choiceOption, FORCE_HELP, OUT_RULE, parseIntArg, type CommonOptions } from './command.js';

/**
 * `daydrive gym pendulum|mountaincar`: trains DDPG / TD3 / D4PG on a classic control task and
 * reports evaluation returns: the check that the learner learns, on tasks with known scores.
 */

/** Keeps the learner's and the noise's streams apart from the task's resets (which use the bare seed). */
const GYM_SEED_SALT = 0x67796d;

export const NOISE_KINDS = ['ou', 'gaussian', 'param', 'noisy'] as const;
export type NoiseKind = (typeof NOISE_KINDS)[number];

export interface GymLoopSettings {
  readonly learningStarts: number;
  readonly gradientSteps: number;
  readonly evalEpisodes: number;
  readonly evalEvery: number;
}

export interface GymSetup {
  readonly learner: LearnerConfigInput;
  readonly exploration: ExplorationConfigInput;
  readonly loop: GymLoopSettings;
}

/**
 * Per-task settings: Stable-Baselines3 zoo-like (Pendulum: gamma 0.98, Gaussian 0.1, Adam 1e-3;
 * MountainCarContinuous: SB3's OU noise, theta 0.15, sigma 0.5, dt 0.01), no gradient clipping
 * (SB3 clips nothing), uniform replay for DDPG/TD3, the paper's prioritized replay for D4PG.
 */
export function gymSetup(task: ClassicTask, algo: Algorithm, noise: NoiseKind | undefined): GymSetup {
  const common: LearnerConfigInput = {
    batchSize: 256,
    actorHidden: [64, 64],
    criticHidden: [64, 64],
    gradClipNorm: 0,
    tau: 0.005,
    actorLearningRate: 1e-3,
    criticLearningRate: 1e-3,
    replay: { kind: algo === 'd4pg' ? 'prioritized' : 'uniform', capacity: 200_000 },
  };
  if (task === 'pendulum') {
    const exploration: Record<NoiseKind, ExplorationConfigInput> = {
      gaussian: { type: 'gaussian', sigma: 0.1 },
      ou: { type: 'ou', theta: 0.6, sigma: 0.4, dt: 0.1, halfLifeEpisodes: null },
      param: { type: 'param', initialStd: 0.1, targetActionStd: 0.1 },
      noisy: { type: 'noisy', sigma0: 0.5, resample: 'step' },
    };
    return {
      learner: { ...common, discount: 0.98, ...(algo === 'd4pg' ? { vMin: -400, vMax: 0 } : {}) },
      exploration: exploration[noise ?? 'gaussian'],
      loop: { learningStarts: 1000, gradientSteps: 1, evalEpisodes: 10, evalEvery: 0 },
    };
  }
  const exploration: Record<NoiseKind, ExplorationConfigInput> = {
    ou: { type: 'ou', theta: 0.15, sigma: 0.5, dt: 0.01, halfLifeEpisodes: null },
    gaussian: { type: 'gaussian', sigma: 0.5 },
    param: { type: 'param', initialStd: 0.5, targetActionStd: 0.5 },
    noisy: { type: 'noisy', sigma0: 0.5, resample: 'episode' },
  };
  return {
    learner: { ...common, discount: 0.99, ...(algo === 'd4pg' ? { vMin: -50, vMax: 100 } : {}) },
    exploration: exploration[noise ?? 'ou'],
    loop: { learningStarts: 1000, gradientSteps: 1, evalEpisodes: 5, evalEvery: 0 },
  };
}

/** The optional --config file: any subset of these (learner and exploration fields as in docs/rl.md). */
export const gymFileSchema = z
  .object({
    learner: z.record(z.string(), z.unknown()).optional(),
    exploration: z.record(z.string(), z.unknown()).optional(),
    learningStarts: z.number().int().min(0).optional(),
    gradientSteps: z.number().int().min(0).optional(),
    evalEpisodes: z.number().int().min(1).optional(),
    evalEvery: z.number().int().min(0).optional(),
  })
  .strict();

export interface GymRunOptions {
  readonly task: ClassicTask;
  readonly algo: Algorithm;
  readonly steps: number;
  readonly seed: number;
  readonly noise?: NoiseKind;
  readonly file?: z.output<typeof gymFileSchema>;
  readonly out?: string;
  /** --force: write into a non-empty --out holding other files (src/core/out-dir.ts). */
  readonly force?: boolean;
  readonly onProgress?: (p: TrainProgress) => void;
}

export interface GymRunResult {
  readonly report: TrainReport;
  readonly learnerConfig: LearnerConfig;
  readonly exploration: Record<string, unknown>;
}

/** Builds task, learner and exploration from the presets (+ file overrides), trains, evaluates. */
export async function runGym(options: GymRunOptions): Promise<GymRunResult> {
  await initBackend();
  const setup = gymSetup(options.task, options.algo, options.noise);
  // File settings are validated by the schema below; nested replay / encoder fields merge.
  const explorationRaw = options.file?.exploration ?? setup.exploration;
  const explorationConfig = parseWith(explorationConfigSchema, explorationRaw, 'exploration config');
  const learnerOverrides = mergeLearnerConfig(
    { ...setup.learner, ...learnerSettingsForExploration(explorationConfig) },
    (options.file?.learner ?? {}) as LearnerConfigInput,
  );
  const learnerConfig = parseWith(learnerConfigSchema, withAlgorithmPreset(options.algo, learnerOverrides), 'learner config');
  const loop = {
    learningStarts: options.file?.learningStarts ?? setup.loop.learningStarts,
    gradientSteps: options.file?.gradientSteps ?? setup.loop.gradientSteps,
    evalEpisodes: options.file?.evalEpisodes ?? setup.loop.evalEpisodes,
    evalEvery: options.file?.evalEvery ?? setup.loop.evalEvery,
  };
  const rng = seededStream(options.seed, GYM_SEED_SALT);
  const env = createClassicEnv(options.task, options.seed);
  const evalEnv = createClassicEnv(options.task, options.seed + 1);
  const learner = createLearner(learnerConfig, env.observationSize, env.actionSize, rng.fork());
  const exploration = createExploration(explorationConfig, env.actionSize, rng.fork());
  try {
    const report = await trainOnVectorEnv(env, evalEnv, learner, exploration, {
      steps: options.steps,
      seed: options.seed,
      ...loop,
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    });
    if (options.out) {
      const out = options.out;
      await writeOutputDirectory(out, { command: 'gym', force: options.force === true }, async (tmp) => {
        await learner.save(join(tmp, 'learner'));
        await writeJsonSafely(join(tmp, 'report.json'), {
          task: options.task,
          algo: options.algo,
          seed: options.seed,
          exploration: exploration.toJSON(),
          ...report,
        });
      });
    }
    return { report, learnerConfig, exploration: exploration.toJSON() };
  } finally {
    learner.dispose();
  }
}

interface GymOptions extends CommonOptions {
  algo: Algorithm;
  steps: number;
  seed: number;
  noise?: NoiseKind;
  config?: string;
  out?: string;
  force?: boolean;
}

export function registerGym(program: Command): void {
  addCommand<GymOptions>(
    program,
    'gym <env>',
    'train DDPG/TD3/D4PG on a classic control task (pendulum: Pendulum-v1, mountaincar: MountainCarContinuous-v0) and report evaluation returns',
    (cmd) =>
      cmd
        .addOption(choiceOption('--algo <algo>', 'algorithm', ALGORITHMS, 'td3'))
        .option('--steps <n>', 'environment steps', parseIntArg(1, 100_000_000), 20_000)
        .option('--seed <n>', 'random seed', parseIntArg(0, 0x7fffffff), 0)
        .addOption(choiceOption('--noise <kind>', 'exploration (default: gaussian for pendulum, ou for mountaincar)', NOISE_KINDS))
        .option('--config <file>', 'YAML/JSON overrides: learner, exploration, learningStarts, gradientSteps, evalEpisodes, evalEvery')
        .option('--out <dir>', `write the trained learner checkpoint and report.json here: created, or its own earlier output replaced (${OUT_RULE})`)
        .option('--force', FORCE_HELP),
    async (args, opts) => {
      const task = args[0] as ClassicTask;
      if (!(CLASSIC_TASKS as readonly string[]).includes(task)) {
        throw new UserError(`unknown env '${String(args[0])}': use ${CLASSIC_TASKS.join(' or ')}`);
      }
      // Before training: a refused --out must not cost the run.
      if (opts.out) await checkOutputDir(opts.out, { command: 'gym', force: opts.force === true });
      const file = opts.config ? parseWith(gymFileSchema, await readConfigFile(opts.config), `config ${opts.config}`) : undefined;
      const bar = process.stderr.isTTY
        ? new cliProgress.SingleBar(
            { format: `${task} ${opts.algo} [{bar}] {value}/{total} steps | episodes {episodes} | last return {ret}`, stream: process.stderr, hideCursor: true },
            cliProgress.Presets.shades_classic,
          )
        : null;
      bar?.start(opts.steps, 0, { episodes: 0, ret: '-' });
      let nextLog = 0;
      const result = await runGym({
        task,
        algo: opts.algo,
        steps: opts.steps,
        seed: opts.seed,
        ...(opts.noise ? { noise: opts.noise } : {}),
        ...(file ? { file } : {}),
        ...(opts.out ? { out: opts.out, force: opts.force === true } : {}),
        onProgress: (p) => {
          const ret = p.lastEpisodeReturn === null ? '-' : p.lastEpisodeReturn.toFixed(1);
          bar?.update(p.step, { episodes: p.episodes, ret });
          if (!bar && p.step >= nextLog) {
            log.info({ step: p.step, episodes: p.episodes, lastEpisodeReturn: p.lastEpisodeReturn }, `${task} ${opts.algo} training`);
            nextLog += Math.max(1, Math.floor(opts.steps / 10));
          }
        },
      }).finally(() => bar?.stop());
      const { report } = result;
      return {
        env: task,
        algo: opts.algo,
        seed: opts.seed,
        steps: report.steps,
        episodes: report.episodes,
        updates: report.updates,
        skippedUpdates: report.skippedUpdates,
        evalEpisodes: file?.evalEpisodes ?? gymSetup(task, opts.algo, opts.noise).loop.evalEpisodes,
        evalMeanReturn: report.final.meanReturn,
        evalStdReturn: report.final.stdReturn,
        evaluations: report.evaluations,
        lastTrainReturns: report.episodeReturns.slice(-5),
        exploration: result.exploration,
        seconds: report.seconds,
        ...(opts.out ? { out: opts.out } : {}),
      };
    },
    (r) =>
      `${String(r.env)} ${String(r.algo)} seed ${String(r.seed)}: mean evaluation return ${(r.evalMeanReturn as number).toFixed(1)} ± ${(r.evalStdReturn as number).toFixed(1)} over ${String(r.evalEpisodes)} episodes after ${String(r.steps)} steps (${(r.seconds as number).toFixed(0)} s)`,
  );
}
