import { z } from 'zod';
import { parseWith } from '../core/config.js';
import { checkLearnerOverrides, drivingLearningShape } from '../agent/config.js';
import { TRAINING_ROADS } from '../agent/training.js';
import { ROAD_LOOKS } from '../agent/episode-roads.js';
import { roadConfigSchema, simConfigSchema } from '../../sim/config.js';

/**
 * The main job's configuration: one validated file (YAML or JSON) holding every setting, each
 * part owned by its module's schema. `{}` is a complete configuration (the defaults); a bad value
 * is reported with its field path. Learner fields are overrides on top of the algorithm's preset.
 */
export const trainConfigSchema = z
  .object({
    ...drivingLearningShape,
    /** Seed of the training road (the paper trained and tested on one 250 m route). */
    routeSeed: z.number().int().min(0).max(0x7fffffff).default(1),
    schedule: z
      .object({
        maxEpisodes: z.number().int().min(1).max(10_000).default(40),
        testEvery: z.number().int().min(1).max(1000).default(1),
        stopWhenTestCompletesRoute: z.boolean().default(true),
        testsToPass: z.number().int().min(1).max(100).default(6),
        undoBelowFractionOfBestTest: z.number().min(0).max(1).nullable().default(null),
        trainingRoads: z.enum(TRAINING_ROADS).default('varied'),
        testRoads: z.enum(['route', 'new']).default('new'),
        /**
         * Test roads only: each has a bend of at most this radius (sim.road.tightestBendAtMostM
         * of the test world), so passed tests cannot be a run of gentle roads; null: any road.
         * Half of the simulator's roads have no bend of 30 m or less in 250 m; with any road,
         * three gentle ones in a row passed agents that failed most roads (docs/agent.md, round 6).
         */
        testRoadTightestBendAtMostM: z.number().positive().nullable().default(30),
        /**
         * New training roads only: each has a bend of at most this radius (sim.road.tightestBendAtMostM
         * of the training world), as the test roads have; null: any road. With any road, the seeds
         * whose tests failed on tight bends trained 29 to 40 episodes; with 30 m, 7 to 21, and the
         * unseen roads were driven alike (docs/agent.md, "why these defaults").
         */
        trainingRoadTightestBendAtMostM: z.number().positive().nullable().default(30),
        /**
         * The looks of new training roads and of new test roads: 'drawn' as the simulator draws
         * them (grass verges 60%, gravel 25%, edge lines 70%), or 'balanced' over every level of
         * every look factor, as the evaluation roads are (src/jobs/episode-roads.ts). Balanced
         * training roads drove more unseen roads clean (docs/agent.md, "why these defaults").
         */
        trainingRoadLooks: z.enum(ROAD_LOOKS).default('balanced'),
        testRoadLooks: z.enum(ROAD_LOOKS).default('drawn'),
      })
      .strict()
      .prefault({}),
    /** Checkpoint after every this many episodes (and at the end). */
    checkpointEvery: z.number().int().min(1).default(1),
    sim: simConfigSchema,
  })
  .strict()
  .superRefine(checkLearnerOverrides)
  .superRefine(checkWorldRoads);

/** The training and test worlds' roads (sim.road with the schedule's tightest bends) must pass the simulator's own road checks. */
function checkWorldRoads(
  c: {
    schedule: { trainingRoadTightestBendAtMostM: number | null; testRoadTightestBendAtMostM: number | null };
    sim: { road: z.input<typeof roadConfigSchema> };
  },
  ctx: z.RefinementCtx,
): void {
  for (const field of ['trainingRoadTightestBendAtMostM', 'testRoadTightestBendAtMostM'] as const) {
    const tightestBendAtMostM = c.schedule[field];
    if (tightestBendAtMostM === null) continue;
    const road = roadConfigSchema.safeParse({ ...c.sim.road, tightestBendAtMostM });
    if (!road.success) for (const issue of road.error.issues) ctx.addIssue({ ...issue, path: ['schedule', field] });
  }
}

export type TrainConfig = z.output<typeof trainConfigSchema>;
export type TrainConfigInput = z.input<typeof trainConfigSchema>;

/**
 * Schedule settings whose default changed after runs were written, with the value such a run
 * trained with: before `trainingRoadLooks` existed training roads had drawn looks, and before
 * `trainingRoadTightestBendAtMostM` any bend.
 */
const SCHEDULE_OF_OLDER_RUNS = { trainingRoadLooks: 'drawn', trainingRoadTightestBendAtMostM: null } as const;

/**
 * A run's own config.json, parsed as the run was trained: a setting its file lacks takes the value
 * runs had before the setting existed (SCHEDULE_OF_OLDER_RUNS), not today's default, so an older
 * run resumes (and `daydrive eval` describes it) as it was.
 */
export function parseRunConfig(raw: unknown, source: string): TrainConfig {
  const schedule = (raw as { schedule?: unknown } | null)?.schedule;
  if (typeof schedule !== 'object' || schedule === null) return parseTrainConfig(raw, source);
  const lacking = Object.entries(SCHEDULE_OF_OLDER_RUNS).filter(([field]) => !(field in schedule));
  return parseTrainConfig({ ...(raw as object), schedule: { ...Object.fromEntries(lacking), ...schedule } }, source);
}

export function parseTrainConfig(raw: unknown, source: string): TrainConfig {
  return parseWith(trainConfigSchema, raw ?? {}, source);
}
