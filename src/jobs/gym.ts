import { z } from 'zod';
import { initBackend } from '../core/backend.js';
import { parseWith } from '../core/config.js';
import { writeJsonSafely } from '../core/files.js';
import { Rng } from '../core/rng.js';
import { writeOutputDirectory } from '../core/out-dir.js';
import { join } from 'node:path';
import { createClassicEnv, type ClassicTask } from '../../sim/classic/index.js';
import {
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
  const learnerConfig = parseWith(
    learnerConfigSchema,
    withAlgorithmPreset(options.algo, learnerOverrides),
    'learner config',
  );
  const loop = {
    learningStarts: options.file?.learningStarts ?? setup.loop.learningStarts,
    gradientSteps: options.file?.gradientSteps ?? setup.loop.gradientSteps,
    evalEpisodes: options.file?.evalEpisodes ?? setup.loop.evalEpisodes,
    evalEvery: options.file?.evalEvery ?? setup.loop.evalEvery,
  };
  const rng = Rng.fromSeed(options.seed ^ GYM_SEED_SALT, 'world-v1');
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
