/**
 * Pools the trained runs of one `daydrive eval`, or of several on the same roads (seeds 0-9 in
 * one, 10-19 in another), into one figure per quantity, with the sweep's two-level bootstrap
 * (src/sweep/statistics.ts: seeds, then each drawn seed's roads): the share of drives without a
 * disengagement, metres per disengagement, training episodes (median and pooled; a run that never
 * reached the stop counts its learning episodes, as in the sweep), each look's clean share, and
 * the runs below a metres-per-disengagement floor.
 *
 *   node --import tsx scripts/pool-evaluation.ts EVAL_DIR/evaluation.json [EVAL_DIR2/evaluation.json ...] [--floor-m 250]
 */
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { oneLine } from '../src/core/errors.js';
import { readJson } from '../src/core/files.js';
import { roundTo } from '../src/core/math.js';
import { exitQuietlyWhenOutputCloses } from '../src/cli/command.js';
import { episodesOf, pooledMetrics, type SeedResult } from '../src/sweep/objective.js';
import { bootstrapScore } from '../src/sweep/statistics.js';

exitQuietlyWhenOutputCloses();

/** Bad input ends the script with one line on stderr and exit code 2, as daydrive's commands do. */
function fail(message: string): never {
  process.stderr.write(`pool-evaluation: error: ${message}\n`);
  process.exit(2);
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { 'floor-m': { type: 'string', default: '250' } },
});
if (positionals.length === 0)
  fail('usage: pool-evaluation.ts EVAL_DIR/evaluation.json [EVAL_DIR2/evaluation.json ...] [--floor-m M]');
const roadSchema = z.object({
  routeSeed: z.number(),
  distanceM: z.number(),
  disengagements: z.number(),
  look: z.record(z.string(), z.string()),
});
const evaluationSchema = z.object({
  routeLengthM: z.number(),
  rows: z.array(
    z.object({
      method: z.string(),
      trainingEpisodes: z.number().nullable(),
      // Evaluations from before 2026-12-05 lack it; their unsolved runs cannot be counted.
      learningEpisodes: z.number().nullable().optional(),
      trainingDistanceM: z.number().nullable(),
    }),
  ),
  policies: z.array(z.object({ policy: z.string(), roads: z.array(roadSchema) })),
});
const evaluations = await Promise.all(
  positionals.map(async (file) => {
    let json: unknown;
    try {
      json = await readJson(file);
    } catch (err) {
      fail(oneLine(err));
    }
    const parsed = evaluationSchema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      fail(`${file} is not a daydrive eval result: field ${issue.path.join('.') || '(top)'}: ${issue.message}`);
    }
    return { file, ...parsed.data };
  }),
);
// Pooling is over seeds on one road set: every evaluation must have driven the same routes.
const roadSetOf = (e: (typeof evaluations)[number]) =>
  `${e.routeLengthM} m: ${(e.policies[0]?.roads ?? []).map((r) => r.routeSeed).join(',')}`;
const firstRoadSet = roadSetOf(evaluations[0]!);
for (const e of evaluations.slice(1))
  if (roadSetOf(e) !== firstRoadSet)
    fail(`${e.file} drove other roads than ${evaluations[0]!.file}: only evaluations of one road set pool`);

/**
 * The trained runs' drives (the random and zero policies have no training), those that never
 * reached the stop included: as in the sweep, such a run counts every learning episode it drove.
 */
const trained = evaluations.flatMap((evaluation) =>
  evaluation.policies.flatMap((p) => {
    const row = evaluation.rows.find((r) => r.method === p.policy);
    if (!row || row.trainingDistanceM === null) return [];
    const learningEpisodes = row.learningEpisodes ?? row.trainingEpisodes;
    if (learningEpisodes === null)
      fail(`${p.policy} did not reach the stop and ${evaluation.file} does not say how long it trained`);
    return [{ ...p, trainingEpisodes: row.trainingEpisodes, learningEpisodes }];
  }),
);
const routeLengthM = evaluations[0]!.routeLengthM;
const runs: SeedResult[] = trained.map((p, i) => ({
  seed: i,
  trainingEpisodes: p.trainingEpisodes,
  learningEpisodes: p.learningEpisodes,
  solved: p.trainingEpisodes !== null,
  roads: p.roads.map((r) => ({
    roadSeed: r.routeSeed,
    distanceM: r.distanceM,
    disengagements: r.disengagements,
    completed: true,
  })),
  routeLengthM,
  seconds: { startup: 0, train: 0, evaluate: 0, total: 0 },
  trainSeconds: { world: 0, agent: 0, optimise: 0 },
  worker: '',
}));
const score = bootstrapScore(runs);
// Unsolved runs count at their learning episodes: a lower bound, so the median is one too when any are.
const episodes = runs.map(episodesOf).sort((a, b) => a - b);
const median = (episodes[(episodes.length - 1) >> 1]! + episodes[episodes.length >> 1]!) / 2;
const unsolved = trained.filter((p) => p.trainingEpisodes === null).map((p) => p.policy);
const floorM = Number(values['floor-m']);
const belowFloor = trained
  .map((p, i) => ({
    policy: p.policy,
    metresPerDisengagement: roundTo(pooledMetrics([runs[i]!]).metresPerDisengagement, 0),
  }))
  .filter((p) => p.metresPerDisengagement < floorM);
const looks = new Map<string, { clean: number; drives: number }>();
for (const r of trained.flatMap((p) => p.roads))
  for (const [factor, level] of Object.entries(r.look)) {
    const key = `${factor}: ${level}`;
    const l = looks.get(key) ?? { clean: 0, drives: 0 };
    l.drives++;
    if (r.disengagements === 0) l.clean++;
    looks.set(key, l);
  }
const fmt = (i: { estimate: number; low: number; high: number }, digits: number) =>
  `${roundTo(i.estimate, digits)} [${roundTo(i.low, digits)}, ${roundTo(i.high, digits)}]`;
console.log(`${runs.length} runs x ${score.roads / Math.max(1, runs.length)} roads (${score.roads} drives)`);
console.log(`drives clean: ${fmt(score.cleanShare, 3)}`);
console.log(`metres per disengagement, pooled: ${fmt(score.metresPerDisengagement, 0)}`);
console.log(
  `training episodes: median ${unsolved.length > 0 ? 'at least ' : ''}${median}, pooled mean ${fmt(score.trainingEpisodes, 1)}`,
);
console.log(`runs that did not reach the stop (counted at their learning episodes): ${unsolved.join(', ') || 'none'}`);
console.log(
  `runs under ${floorM} m per disengagement: ${belowFloor.map((p) => `${p.policy} ${p.metresPerDisengagement} m`).join('; ') || 'none'}`,
);
for (const [look, l] of [...looks].sort((a, b) => a[1].clean / a[1].drives - b[1].clean / b[1].drives))
  console.log(`  ${look}: ${l.clean}/${l.drives} clean (${Math.round((100 * l.clean) / l.drives)}%)`);
