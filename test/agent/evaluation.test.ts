import { strict as assert } from 'node:assert';
import { mkdtemp, readFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { LOOK_LEVELS, lookOfRoad, parseSimConfig } from '../../sim/index.js';
import { baselineKey, readBaselines, writeBaselines } from '../../src/agent/baseline-cache.js';
import {
  bootstrapInterval,
  breakdownByLook,
  cleanShare,
  pooledMetresPerDisengagement,
  roadResult,
  summariseRoadSet,
  type RouteResult,
} from '../../src/agent/evaluation.js';
import {
  checkDisjointRanges,
  checkEvaluationRoads,
  inRange,
  isReservedRoadSeed,
  ROAD_SEED_RANGES,
  TEST_ROAD_SEED_BASE,
  VARIED_ROAD_SEED_BASE,
  seedRange,
} from '../../src/agent/road-seeds.js';
import { DEFAULT_EVALUATION_ROADS, evaluationRoads, formatTable, type TableRow } from '../../src/jobs/evaluation.js';
import { driveJob } from '../../src/jobs/eval-drive.js';
import { driveInParallel } from '../../src/jobs/eval-parallel.js';
import { parseTrainConfig } from '../../src/jobs/train-config.js';
import { collectSimFrames, DEFAULT_SIM_COLLECT } from '../../src/jobs/vae-collect.js';

const route = (routeSeed: number, distanceM: number, disengagements: number): RouteResult => ({
  routeSeed,
  distanceM,
  disengagements,
  reasons: {},
  completed: true,
});

test('bootstrap: a fixed case with a known resampling distribution', () => {
  // Clean share of [clean, clean, clean, failed]: a resample holds k failed roads, k ~ Binomial(4, 1/4),
  // P(k >= 3) = 0.051 and P(k = 4) = 0.004, so the 2.5% quantile of the share 1 - k/4 is 0.25;
  // P(k = 0) = 0.316 > 0.025, so the 97.5% quantile is 1.
  const routes = [route(1, 100, 0), route(2, 100, 0), route(3, 100, 0), route(4, 100, 2)];
  const share = bootstrapInterval(routes, cleanShare, { seed: 7, resamples: 4000 });
  assert.equal(share.estimate, 0.75);
  assert.equal(share.lo, 0.25);
  assert.equal(share.hi, 1);
  // Two values: the mean resamples to 0, 5, 10 with 1/4, 1/2, 1/4: the 95% interval is [0, 10].
  const mean = (xs: readonly number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
  assert.deepEqual(bootstrapInterval([0, 10], mean, { seed: 1 }), { estimate: 5, lo: 0, hi: 10 });
  // Pure: the same seed gives the same interval; identical roads give a point.
  assert.deepEqual(
    bootstrapInterval(routes, pooledMetresPerDisengagement, { seed: 3 }),
    bootstrapInterval(routes, pooledMetresPerDisengagement, { seed: 3 }),
  );
  assert.deepEqual(bootstrapInterval([route(1, 50, 1), route(2, 50, 1)], pooledMetresPerDisengagement, { seed: 3 }), {
    estimate: 50,
    lo: 50,
    hi: 50,
  });
});

test('summary and breakdown by look on a small fixed case', () => {
  const roads = [
    roadResult(route(1, 250, 0), { lines: 'edge lines', verge: 'grass' }),
    roadResult(route(2, 250, 0), { lines: 'edge lines', verge: 'gravel' }),
    roadResult(route(3, 250, 5), { lines: 'no lines', verge: 'gravel' }),
    roadResult(route(4, 250, 0), { lines: 'no lines', verge: 'grass' }),
  ];
  assert.equal(roads[2]!.metresPerDisengagement, 50);
  const s = summariseRoadSet(roads, 0);
  assert.equal(s.cleanRoads, 3);
  assert.equal(s.cleanShare.estimate, 0.75);
  assert.equal(s.metresPerDisengagement.estimate, 200); // 1000 m / 5
  assert.ok(s.metresPerDisengagement.lo <= 200 && s.metresPerDisengagement.hi >= 200);
  assert.equal(s.metresPerDisengagement.hi, 1000); // a resample without road 3 has no disengagement: its whole distance
  const looks = breakdownByLook(roads, 0, {
    lines: ['edge lines', 'centre line only', 'no lines'],
    verge: ['grass', 'gravel', 'dirt'],
  });
  const get = (factor: string, level: string) => looks.find((l) => l.factor === factor && l.level === level)!;
  assert.deepEqual(
    looks.map((l) => `${l.factor}:${l.level}`),
    ['lines:edge lines', 'lines:centre line only', 'lines:no lines', 'verge:grass', 'verge:gravel', 'verge:dirt'],
  );
  assert.equal(get('lines', 'edge lines').cleanShare.estimate, 1);
  assert.deepEqual([get('lines', 'no lines').cleanRoads, get('lines', 'no lines').roads], [1, 2]);
  assert.equal(get('lines', 'no lines').metresPerDisengagement.estimate, 100);
  assert.equal(get('verge', 'dirt').roads, 0);
  assert.equal(get('verge', 'gravel').cleanShare.estimate, 0.5);
});

test('road seeds: training, test, evaluation and VAE-collection roads never meet', async () => {
  checkDisjointRanges();
  assert.throws(
    () => checkDisjointRanges([...ROAD_SEED_RANGES, { name: 'x', start: 1_500_000, end: 1_600_000 }]),
    /overlap/,
  );
  const evaluation = seedRange('evaluation roads');
  const sim = parseSimConfig({});
  // Every seed set's roads lie in the evaluation range, and two sets share no road.
  const sets = [0, 1, 9_999].map((s) => evaluationRoads(8, s, sim).map((r) => r.seed));
  for (const set of sets) for (const seed of set) assert.ok(inRange(seed, evaluation));
  assert.equal(new Set(sets.flat()).size, sets.flat().length);
  // The ranges the other road users draw from are others.
  assert.ok(!inRange(VARIED_ROAD_SEED_BASE, evaluation) && !inRange(TEST_ROAD_SEED_BASE, evaluation));
  const collected = await collectSimFrames(
    parseSimConfig({ camera: { widthPx: 16, heightPx: 12 } }),
    { ...DEFAULT_SIM_COLLECT, episodes: 200, seed: 4, stepsPerEpisode: 1 },
    async () => {},
  );
  for (const seed of collected.roadSeeds) assert.ok(!isReservedRoadSeed(seed), `collection road ${seed}`);
  assert.ok(
    isReservedRoadSeed(sets[0]![0]!) &&
      isReservedRoadSeed(VARIED_ROAD_SEED_BASE) &&
      isReservedRoadSeed(TEST_ROAD_SEED_BASE),
  );
  // A run whose configured training route is an evaluation road is refused.
  assert.throws(
    () => checkEvaluationRoads(sets[0]!, [{ run: 'r', routeSeed: sets[0]![3]! }]),
    /trained on road .* one of the evaluation roads/,
  );
  checkEvaluationRoads(sets[0]!, [{ run: 'r', routeSeed: 1 }]);
});

test('evaluation roads: deterministic, every look covered and balanced, a smaller set is a prefix', () => {
  const sim = parseSimConfig({});
  const roads = evaluationRoads(DEFAULT_EVALUATION_ROADS, 0, sim);
  assert.ok(DEFAULT_EVALUATION_ROADS >= 20);
  assert.deepEqual(evaluationRoads(DEFAULT_EVALUATION_ROADS, 0, sim), roads);
  for (const [factor, levels] of Object.entries(LOOK_LEVELS)) {
    for (const level of levels) {
      const n = roads.filter((r) => r.look[factor] === level).length;
      // Equal shares would be 24 / levels; the greedy balance keeps every level within 2 of it.
      assert.ok(Math.abs(n - DEFAULT_EVALUATION_ROADS / levels.length) <= 2, `${factor}: ${level} on ${n} roads`);
    }
  }
  for (const r of roads) assert.deepEqual(r.look, lookOfRoad(r.seed, sim));
  assert.deepEqual(evaluationRoads(10, 0, sim), roads.slice(0, 10));
});

test(
  'drives: parallel child processes give the same per-road results as one process',
  { timeout: 300_000 },
  async () => {
    const config = parseTrainConfig({ sim: { road: { routeLengthM: 30 } } }, 'test config');
    const roadSeeds = evaluationRoads(3, 5, config.sim).map((r) => r.seed);
    for (const policy of [{ kind: 'random', seed: 2 } as const, { kind: 'zero' } as const]) {
      const serial = await driveJob({ config, policy, roadSeeds, cameraPath: 'sim', pictures: false });
      const parallel = await driveInParallel({ config, policy, roadSeeds, cameraPath: 'sim', pictures: false }, 2);
      assert.deepEqual(parallel.roads, serial.roads);
      assert.deepEqual(
        serial.roads.map((r) => r.routeSeed),
        roadSeeds,
      );
    }
  },
);

test('baseline cache: keyed by roads and world, written whole, a damaged entry ignored', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'baselines-'));
  const inputs = { roadSeeds: [1, 2], sim: { a: 1 }, actionShaping: {}, randomSeed: 0, maxDisengagementsPerRoad: 200 };
  const key = baselineKey(inputs);
  assert.notEqual(baselineKey({ ...inputs, sim: { a: 2 } }), key);
  assert.notEqual(baselineKey({ ...inputs, roadSeeds: [1, 3] }), key);
  assert.equal(await readBaselines(key, 2, dir), null);
  const roads = [roadResult(route(1, 10, 1), {}), roadResult(route(2, 10, 0), {})];
  const path = await writeBaselines({ key, random: roads, zero: roads }, dir);
  assert.deepEqual((await readBaselines(key, 2, dir))?.zero, roads);
  assert.deepEqual(await readdir(join(dir, 'eval-baselines')), [`${key}.json`]); // no temporary file left
  assert.equal(await readBaselines(key, 3, dir), null); // another road count: not this entry
  const { writeFile } = await import('node:fs/promises');
  await writeFile(path, (await readFile(path, 'utf8')).slice(0, 20));
  assert.equal(await readBaselines(key, 2, dir), null);
});

test("the table names a run that never reached the stop and how many learning episodes it drove, not a '-' as for the baselines", () => {
  const interval = { estimate: 0.5, lo: 0.25, hi: 0.75 };
  const base = {
    trainingDistanceM: 500,
    trainingTimeS: 60,
    metresPerDisengagement: 100,
    disengagements: 2,
    distanceM: 200,
    roads: 2,
    cleanRoads: 1,
    cleanShare: interval,
    metresPerDisengagementInterval: { estimate: 100, lo: 50, hi: 200 },
  };
  const rows: TableRow[] = [
    {
      ...base,
      method: 'zero',
      trainingEpisodes: null,
      learningEpisodes: null,
      trainingDistanceM: null,
      trainingTimeS: null,
    },
    { ...base, method: 'solved', trainingEpisodes: 12, learningEpisodes: 12 },
    { ...base, method: 'unsolved', trainingEpisodes: null, learningEpisodes: 40 },
  ];
  const lines = formatTable(rows).split('\n');
  assert.match(
    lines.find((l) => l.startsWith('zero'))!,
    /^zero\s+-\s+-\s+-/,
  );
  assert.match(
    lines.find((l) => l.startsWith('solved'))!,
    /^solved\s+12\s/,
  );
  assert.match(
    lines.find((l) => l.startsWith('unsolved'))!,
    /^unsolved\s+no stop in 40\s/,
  );
});
