import type { Command } from 'commander';
import { resolve } from 'node:path';
import { EVALUATION_SEED_SETS } from '../agent/road-seeds.js';
import { addCommand, choiceOption, parseIntArg, type CommonOptions } from './command.js';
import { CAMERA_PATHS, type CameraPath } from '../jobs/eval-drive.js';
import { defaultWorkers } from '../jobs/eval-parallel.js';
import { DEFAULT_EVALUATION_ROADS, EVAL_FILES, formatLooks, formatTable, runEvaluation } from '../jobs/evaluation.js';

/** `daydrive eval`: its flags and what it prints; the job itself is src/jobs/evaluation.ts. */

interface EvalCliOptions extends CommonOptions {
  run: string[];
  roads: number;
  seed: number;
  workers: number;
  cameraPath: CameraPath;
  out?: string;
  baselineCache: boolean;
}

export function registerEval(program: Command): void {
  addCommand<EvalCliOptions>(
    program,
    'eval',
    "the paper's Table I on unseen roads covering every look: random policy, zero policy and each trained run",
    (cmd) =>
      cmd
        .requiredOption(
          '--run <dir...>',
          'run directories of daydrive train (several: one row each; same simulator config)',
        )
        .option(
          '--roads <n>',
          'unseen roads, one route each, balanced over every look (lines, verge, light, haze, low sun)',
          parseIntArg(1, 1000),
          DEFAULT_EVALUATION_ROADS,
        )
        .option(
          '--seed <n>',
          'picks the road set (each seed its own roads) and the random policy',
          parseIntArg(0, EVALUATION_SEED_SETS - 1),
          0,
        )
        .option(
          '--workers <n>',
          'child processes driving roads in parallel (default: cores - 1)',
          parseIntArg(1, 256),
          defaultWorkers(),
        )
        .addOption(
          choiceOption(
            '--camera-path <path>',
            "how the trained runs see the road: sim, the simulator's model input (what training sees); car, full frames through the car's image pipeline (sharp), about 3x slower",
            CAMERA_PATHS,
          ).default('sim'),
        )
        .option(
          '--out <dir>',
          `evaluation.json, ${EVAL_FILES.looks} and ${EVAL_FILES.failedRoads} (default: RUN/evaluation of the first run; replaced only when it holds an evaluation)`,
        )
        .option(
          '--no-baseline-cache',
          'drive the random and zero policies again instead of reading them from the cache',
        ),
    async (_args, opts) => {
      const result = await runEvaluation({
        runs: opts.run.map((d) => resolve(d)),
        roads: opts.roads,
        seed: opts.seed,
        workers: opts.workers,
        cameraPath: opts.cameraPath,
        baselineCache: opts.baselineCache,
        ...(opts.out !== undefined ? { out: resolve(opts.out) } : {}),
      });
      const looks = result.policies.slice(2).map((p) => formatLooks(p.policy, p.looks));
      return { ...result, table: formatTable(result.rows), looksTable: looks.join('\n\n') };
    },
    (r) =>
      `Table I on ${(r.roadSeeds as number[]).length} unseen roads of ${String(r.routeLengthM)} m (camera path: ${String(r.cameraPath)}; baselines: cache ${String(r.baselineCache)}):\n${String(r.table)}\n\n${String(r.looksTable)}\n\npictures: ${(r.pictures as string[]).join(', ')}`,
  );
}
