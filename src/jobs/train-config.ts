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
  .superRefine(checkTestWorldRoads);

/** The test world's roads (sim.road with the schedule's tightest bend) must pass the simulator's own road checks. */
function checkTestWorldRoads(
  c: { schedule: { testRoadTightestBendAtMostM: number | null }; sim: { road: z.input<typeof roadConfigSchema> } },
  ctx: z.RefinementCtx,
): void {
  const tightestBendAtMostM = c.schedule.testRoadTightestBendAtMostM;
  if (tightestBendAtMostM === null) return;
  const road = roadConfigSchema.safeParse({ ...c.sim.road, tightestBendAtMostM });
  if (!road.success)
    for (const issue of road.error.issues)
      ctx.addIssue({ ...issue, path: ['schedule', 'testRoadTightestBendAtMostM'] });
}

export type TrainConfig = z.output<typeof trainConfigSchema>;
export type TrainConfigInput = z.input<typeof trainConfigSchema>;

/**
 * A run's own config.json, parsed as the run was trained: runs written before
 * `schedule.trainingRoadLooks` existed drew their training roads' looks, so they resume so rather
 * than with today's default.
 */
export function parseRunConfig(raw: unknown, source: string): TrainConfig {
  const schedule = (raw as { schedule?: unknown } | null)?.schedule;
  const old = typeof schedule === 'object' && schedule !== null && !('trainingRoadLooks' in schedule);
  return parseTrainConfig(
    old ? { ...(raw as object), schedule: { ...schedule, trainingRoadLooks: 'drawn' } } : raw,
    source,
  );
}

export function parseTrainConfig(raw: unknown, source: string): TrainConfig {
  return parseWith(trainConfigSchema, raw ?? {}, source);
}
