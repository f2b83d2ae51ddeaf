import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { LOOK_LEVELS, lookOfRoad, selectBalancedRoads } from '../../sim/index.js';
import { DRAWN_EPISODE_ROADS, sequencedRoads } from '../../src/agent/episode-roads.js';
import { inRange, seedRange, TEST_ROAD_SEED_BASE, VARIED_ROAD_SEED_BASE } from '../../src/agent/road-seeds.js';
import type { EpisodeRecord } from '../../src/agent/training.js';
import { episodeRoadsFor } from '../../src/jobs/episode-roads.js';
import { parseRunConfig, parseTrainConfig } from '../../src/jobs/train-config.js';
import { runWorlds } from '../../src/jobs/run-worlds.js';

const record = (mode: EpisodeRecord['mode']): EpisodeRecord =>
  ({ mode, episode: 0, steps: 1, distanceM: 1, intervention: null, routeCompleted: false }) as EpisodeRecord;

/** Records alternating training and test episodes, as the default schedule drives them (testEvery 1). */
const alternating = (n: number): EpisodeRecord[] =>
  Array.from({ length: n }, (_, i) => record(i % 2 === 0 ? 'train' : 'test'));

test('drawn roads: the next seed of each range per episode; sequenced roads count only their own kind', () => {
  const records = [record('explore'), record('train'), record('test')];
  assert.equal(DRAWN_EPISODE_ROADS.training(records), VARIED_ROAD_SEED_BASE + 3);
  assert.equal(DRAWN_EPISODE_ROADS.test(records), TEST_ROAD_SEED_BASE + 3);
  const seedAt = (i: number) => 100 + i;
  assert.equal(sequencedRoads('training', seedAt)(records), 102);
  assert.equal(sequencedRoads('test', seedAt)(records), 101);
});

test("balanced roads: the first six tests (the stop's six in a row) cover each verge and light level twice; training roads cover the rare looks", () => {
  const config = parseTrainConfig({ schedule: { trainingRoadLooks: 'balanced', testRoadLooks: 'balanced' } }, 'test');
  const worlds = runWorlds(config);
  const testSim = worlds.test.sim;
  const roads = episodeRoadsFor(config, worlds);
  const records = alternating(48);
  const testSeeds = records.flatMap((r, i) => (r.mode === 'test' ? [roads.test(records.slice(0, i))] : []));
  const trainingSeeds = records.flatMap((r, i) => (r.mode === 'train' ? [roads.training(records.slice(0, i))] : []));
  assert.equal(new Set(testSeeds).size, testSeeds.length);
  for (const seed of testSeeds) assert.ok(inRange(seed, seedRange('test roads')), `test road ${seed}`);
  for (const seed of trainingSeeds)
    assert.ok(inRange(seed, seedRange('varied training roads')), `training road ${seed}`);
  // The stop's six tests in a row (testsToPass) meet every verge and light level twice.
  const firstSix = testSeeds.slice(0, 6).map((s) => lookOfRoad(s, testSim));
  for (const factor of ['verge', 'light'] as const) {
    for (const level of LOOK_LEVELS[factor]) {
      assert.equal(firstSix.filter((l) => l[factor] === level).length, 2, `${factor}: ${level}`);
    }
  }
  // Drawn, one road in four has a gravel verge and one in six no lines; balanced, one in three.
  const trainingLooks = trainingSeeds.map((s) => lookOfRoad(s, config.sim));
  for (const [factor, level] of [
    ['verge', 'gravel'],
    ['lines', 'no lines'],
  ] as const) {
    const n = trainingLooks.filter((l) => l[factor] === level).length;
    assert.ok(Math.abs(n - trainingSeeds.length / 3) <= 2, `${factor}: ${level} on ${n} of ${trainingSeeds.length}`);
  }
  // A resumed run (a fresh sequence asked for a late index first) drives the same roads.
  const resumed = episodeRoadsFor(config, worlds);
  assert.equal(resumed.test(records.slice(0, 41)), testSeeds[20]);
  assert.equal(resumed.test(records.slice(0, 1)), testSeeds[0]);
  // The sequence is the balanced selection of the range's first candidates.
  const expected = selectBalancedRoads(
    24,
    1000,
    (i) => TEST_ROAD_SEED_BASE + i,
    (s) => lookOfRoad(s, testSim),
  ).map((p) => p.seed);
  assert.deepEqual(testSeeds, expected);
});

test('drawn looks keep the roads of runs before balanced looks; an actor moves its drawn training roads by its base', () => {
  const config = parseTrainConfig({ schedule: { trainingRoadLooks: 'drawn' } }, 'test');
  assert.equal(episodeRoadsFor(config, runWorlds(config)), DRAWN_EPISODE_ROADS);
  const actor = episodeRoadsFor(config, runWorlds(config), VARIED_ROAD_SEED_BASE + 20_000);
  assert.equal(actor.training(alternating(3)), VARIED_ROAD_SEED_BASE + 20_003);
  assert.equal(actor.test(alternating(3)), TEST_ROAD_SEED_BASE + 3);
});

test("a run written before a setting existed resumes with what it trained with; a new run gets today's defaults", () => {
  const fresh = parseTrainConfig({}, 'new run').schedule;
  assert.equal(fresh.trainingRoadLooks, 'balanced');
  assert.equal(fresh.trainingRoadTightestBendAtMostM, 30);
  const oldest = parseRunConfig({ schedule: { maxEpisodes: 9 } }, 'old run').schedule;
  assert.equal(oldest.trainingRoadLooks, 'drawn');
  assert.equal(oldest.trainingRoadTightestBendAtMostM, null);
  assert.equal(oldest.maxEpisodes, 9);
  // Written after balanced looks, before tight training bends.
  const older = parseRunConfig({ schedule: { trainingRoadLooks: 'balanced' } }, 'older run').schedule;
  assert.equal(older.trainingRoadLooks, 'balanced');
  assert.equal(older.trainingRoadTightestBendAtMostM, null);
  const written = parseTrainConfig({}, 'new run');
  assert.deepEqual(parseRunConfig(JSON.parse(JSON.stringify(written)), 'new run'), written);
});
