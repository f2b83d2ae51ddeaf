import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import { parseWith, readConfigFile } from '../core/config.js';
import { UserError } from '../core/errors.js';
import { checkOutputDir } from '../core/out-dir.js';
import { log } from '../core/logger.js';
import { CLASSIC_TASKS, type ClassicTask } from '../../sim/classic/index.js';
import { ALGORITHMS, type Algorithm } from '../rl/config.js';
import { addCommand, choiceOption, FORCE_HELP, OUT_RULE, parseIntArg, type CommonOptions } from './command.js';
import { NOISE_KINDS, NoiseKind, gymFileSchema, gymSetup, runGym } from '../jobs/gym.js';

/** `daydrive gym`: its flags and what it prints; the job itself is src/jobs/gym.ts. */

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
        .addOption(
          choiceOption(
            '--noise <kind>',
            'exploration (default: gaussian for pendulum, ou for mountaincar)',
            NOISE_KINDS,
          ),
        )
        .option(
          '--config <file>',
          'YAML/JSON overrides: learner, exploration, learningStarts, gradientSteps, evalEpisodes, evalEvery',
        )
        .option(
          '--out <dir>',
          `write the trained learner checkpoint and report.json here: created, or its own earlier output replaced (${OUT_RULE})`,
        )
        .option('--force', FORCE_HELP),
    async (args, opts) => {
      const task = args[0] as ClassicTask;
      if (!(CLASSIC_TASKS as readonly string[]).includes(task)) {
        throw new UserError(`unknown env '${String(args[0])}': use ${CLASSIC_TASKS.join(' or ')}`);
      }
      // Before training: a refused --out must not cost the run.
      if (opts.out) await checkOutputDir(opts.out, { command: 'gym', force: opts.force === true });
      const file = opts.config
        ? parseWith(gymFileSchema, await readConfigFile(opts.config), `config ${opts.config}`)
        : undefined;
      const bar = process.stderr.isTTY
        ? new cliProgress.SingleBar(
            {
              format: `${task} ${opts.algo} [{bar}] {value}/{total} steps | episodes {episodes} | last return {ret}`,
              stream: process.stderr,
              hideCursor: true,
            },
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
            log.info(
              { step: p.step, episodes: p.episodes, lastEpisodeReturn: p.lastEpisodeReturn },
              `${task} ${opts.algo} training`,
            );
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
