import assert from 'node:assert/strict';
import { test } from 'node:test';
import { initBackend } from '../../src/core/backend.js';
import type { RgbImage } from '../../src/core/env.js';
import { createDrivingAgent, parseAgentConfig, type VehicleScale } from '../../src/agent/index.js';
import { drivingLearnerDefaults, drivingReturnSupport } from '../../src/agent/create.js';
import type { DdpgLearner } from '../../src/rl/learner.js';
import { limitSteeringChange, worldSpeedAction } from '../../src/agent/actions.js';
import {
  driveEpisode,
  episodeReset,
  episodeWorld,
  nextCommand,
  type EpisodeRecord,
  type TrainingSchedule,
} from '../../src/agent/training.js';
import { TEST_ROAD_SEED_BASE, VARIED_ROAD_SEED_BASE } from '../../src/agent/road-seeds.js';
import type { ImageEncoder } from '../../src/vision/types.js';
import { DrivingSimEnv } from '../../sim/index.js';

await initBackend();

/** A stand-in for the VAE: mean colour of image quarters (deterministic, cheap). */
const quarterMeans: ImageEncoder = {
  latentSize: 12,
  inputWidth: 16,
  inputHeight: 12,
  async encode(image: RgbImage): Promise<Float32Array> {
    const out = new Float32Array(12);
    const counts = new Float32Array(4);
    for (let y = 0; y < image.height; y++) {
      for (let x = 0; x < image.width; x++) {
        const q = (y < image.height / 2 ? 0 : 2) + (x < image.width / 2 ? 0 : 1);
        counts[q]! += 1;
        for (let c = 0; c < 3; c++) out[q * 3 + c]! += image.data[(y * image.width + x) * 3 + c]! / 255;
      }
    }
    return out.map((v, i) => v / counts[Math.floor(i / 3)]!);
  },
  dispose() {},
};

const vehicle = { maxSteeringRad: 0.45, maxSpeedMps: 10 / 3.6, policyPeriodS: 0.1 };
const smallCamera = { camera: { widthPx: 32, heightPx: 24 }, road: { routeLengthM: 60 } };

function makeAgent(overrides: Record<string, unknown> = {}) {
  return createDrivingAgent({
    agent: parseAgentConfig({ exploreEpisodes: 0, optimisationSteps: 10, commandHistory: 2, ...overrides }),
    algo: 'ddpg',
    learner: { batchSize: 8 },
    exploration: { type: 'ou' },
    encoder: quarterMeans,
    vehicle,
    seed: 3,
  });
}

test('action shaping: steering moves at most the configured step; speed maps onto the configured range', () => {
  assert.equal(limitSteeringChange(1, 0, 0.3), 0.3);
  assert.ok(Math.abs(limitSteeringChange(-1, 0.2, 0.3) - -0.1) < 1e-12);
  assert.equal(limitSteeringChange(0.1, 0, 0.3), 0.1);
  // [-1, 1] onto [0.3, 1] of the set-point range; the world reads -1 as stop, +1 as full.
  assert.ok(Math.abs(worldSpeedAction(-1, [0.3, 1]) - -0.4) < 1e-12);
  assert.equal(worldSpeedAction(1, [0.3, 1]), 1);
});

test("driving learner defaults: 3-step returns where the preset has none; D4PG's support spans the driving return", () => {
  assert.equal(drivingLearnerDefaults('td3').nStep, 3);
  assert.equal(drivingLearnerDefaults('d4pg').nStep, undefined, 'D4PG keeps its own 5');
  // 10 km/h for 0.1 s is 0.28 m a step: with discount 0.9 the return lies in [0, 2.8].
  const support = drivingReturnSupport(vehicle, 0.9);
  assert.ok(Math.abs(support.vMax - (2.78 + 1)) < 0.01 && support.vMin === -1);
  const config = (learner: Record<string, unknown>, scale: VehicleScale = vehicle) =>
    (
      createDrivingAgent({
        agent: parseAgentConfig({}),
        algo: 'd4pg',
        learner,
        exploration: { type: 'ou' },
        encoder: quarterMeans,
        vehicle: scale,
        seed: 0,
      }).learner as DdpgLearner
    ).config;
  const d4pg = config({ discount: 0.95 });
  assert.equal(d4pg.vMin, -1);
  assert.ok(Math.abs(d4pg.vMax - ((10 / 3.6) * 0.1) / 0.05 - 1) < 1e-9, 'the support follows the discount');
  // A 5 Hz policy moves twice as far a step: the support doubles with it (the world's period, not the paper's).
  const slow = config({ discount: 0.95 }, { ...vehicle, policyPeriodS: 0.2 });
  assert.ok(Math.abs(slow.vMax - ((10 / 3.6) * 0.2) / 0.05 - 1) < 1e-9, 'the support follows the policy period');
  assert.deepEqual(
    [config({ vMin: -2, vMax: 9 }).vMin, config({ vMin: -2, vMax: 9 }).vMax],
    [-2, 9],
    "the user's support wins",
  );
});

test('state = latent, speed, steering, last k commands; executed steering respects the rate limit', async () => {
  const agent = makeAgent({ maxSteeringChangePerStep: 0.2 });
  assert.equal(agent.stateSize, 12 + 2 + 2 * 2);
  const env = new DrivingSimEnv(smallCamera);
  agent.command('train');
  await agent.begin(await env.reset({ seed: 1 }));
  let last = 0;
  for (let i = 0; i < 20; i++) {
    const action = agent.act();
    assert.ok(Math.abs(action[0]! - last) <= 0.2 + 1e-6, `steering jumped from ${last} to ${action[0]}`);
    last = action[0]!;
    const step = await env.step(action);
    await agent.observe(step.reward, step.observation, step.terminated);
    if (step.terminated || step.truncated) break;
  }
  agent.endEpisode();
  agent.dispose();
});

test('undo restores the policy and the replay to before the last training episode', async () => {
  const agent = makeAgent();
  const env = new DrivingSimEnv(smallCamera);
  // A first training episode so there is something learned to keep.
  agent.command('train');
  await driveEpisode(env, agent, { seed: 1 });
  await agent.optimise();
  const probe = new Float32Array(agent.stateSize).fill(0.5);
  const before = agent.learner.act(probe);
  const replayBefore = agent.learner.replaySize();
  // A "bad" training episode, then a test, then undo.
  agent.command('train');
  await driveEpisode(env, agent, { continueRoute: true });
  await agent.optimise();
  assert.ok(agent.learner.replaySize() > replayBefore);
  assert.notDeepEqual(agent.learner.act(probe), before);
  agent.command('test');
  await driveEpisode(env, agent, { seed: 1 });
  const step = agent.command('undo');
  assert.equal(step.refused, undefined);
  assert.deepEqual(agent.learner.act(probe), before);
  assert.equal(agent.learner.replaySize(), replayBefore);
  assert.equal(agent.taskState.learningEpisodes, 1);
  agent.dispose();
});

test('test episodes add to the replay only with replayTestEpisodes, and no optimisation follows them', async () => {
  for (const replayTestEpisodes of [false, true]) {
    const agent = makeAgent({ replayTestEpisodes });
    const env = new DrivingSimEnv(smallCamera);
    agent.command('test');
    const outcome = await driveEpisode(env, agent, { seed: 1 });
    assert.equal(agent.optimisationDue, false);
    // n-step accumulation flushes at the episode's end: every step of the test is in the replay.
    assert.equal(agent.learner.replaySize(), replayTestEpisodes ? outcome.steps : 0);
    assert.equal(agent.taskState.learningEpisodes, 0);
    agent.dispose();
  }
});

test('a non-finite measurement is refused with the field named', async () => {
  const agent = makeAgent();
  const env = new DrivingSimEnv(smallCamera);
  agent.command('test');
  const obs = await env.reset({ seed: 1 });
  await assert.rejects(agent.begin({ ...obs, speedMps: Number.NaN }), /measured speed is NaN/);
  agent.dispose();
});

function record(
  mode: EpisodeRecord['mode'],
  learningEpisodes: number,
  distanceM: number,
  extra: Partial<EpisodeRecord> = {},
): EpisodeRecord {
  return {
    episode: 0,
    mode,
    steps: 1,
    distanceM,
    intervention: 'off-lane',
    routeCompleted: false,
    learningEpisodes,
    trainingDistanceM: 0,
    elapsedS: 0,
    seconds: { world: 0, agent: 0, optimise: 0 },
    update: null,
    undid: false,
    ...extra,
  };
}

test('the simulated driver: explore, train, test every N, undo a worse test, done on a full route or the budget', () => {
  const schedule: TrainingSchedule = {
    maxEpisodes: 10,
    testEvery: 2,
    stopWhenTestCompletesRoute: true,
    testsToPass: 1,
    undoBelowFractionOfBestTest: 0.5,
    trainingRoads: 'route',
    testRoads: 'route',
  };
  assert.equal(nextCommand([], schedule, 1), 'train');
  const explore = record('explore', 1, 5);
  assert.equal(nextCommand([explore], schedule, 1), 'train');
  const t1 = record('train', 2, 10);
  assert.equal(nextCommand([explore, t1], schedule, 1), 'train');
  const t2 = record('train', 3, 10);
  assert.equal(nextCommand([explore, t1, t2], schedule, 1), 'test');
  const good = record('test', 3, 100);
  const t3 = record('train', 4, 10);
  const t4 = record('train', 5, 10);
  const worse = record('test', 5, 20);
  assert.equal(nextCommand([explore, t1, t2, good, t3, t4, worse], schedule, 1), 'undo');
  assert.equal(nextCommand([explore, t1, t2, good, t3, t4, { ...worse, undid: true }], schedule, 1), 'train');
  assert.equal(nextCommand([explore, t1, t2, good, t3, t4, record('test', 10, 20)], schedule, 1), 'done');
  const full = record('test', 3, 250, { routeCompleted: true, intervention: null });
  assert.equal(nextCommand([explore, t1, t2, full], schedule, 1), 'done');
});

test('episode starts: tests on new roads or the route; training on the route continued, a new road each episode, each road continued to its end, or from where a test failed', () => {
  const base: TrainingSchedule = {
    maxEpisodes: 10,
    testEvery: 1,
    stopWhenTestCompletesRoute: true,
    testsToPass: 1,
    undoBelowFractionOfBestTest: null,
    trainingRoads: 'route',
    testRoads: 'new',
  };
  const where = { routeSeed: 7, firstEpisode: false, separateTestWorld: true };
  const stopped = record('train', 2, 30);
  const completed = record('train', 3, 250, { routeCompleted: true, intervention: null });
  const test1 = record('test', 3, 20);
  const records = [record('explore', 1, 5), stopped];
  // Tests: a new road per test (its seed from the record count), or the training route.
  assert.deepEqual(episodeReset('test', base, records, where), { seed: TEST_ROAD_SEED_BASE + 2 });
  assert.deepEqual(episodeReset('test', { ...base, testRoads: 'route' }, records, where), { seed: 7 });
  // 'route': the route from its start once, then continued where the driver took over.
  assert.deepEqual(episodeReset('train', base, [], { ...where, firstEpisode: true }), { seed: 7 });
  assert.deepEqual(episodeReset('train', base, records, where), { continueRoute: true });
  // 'varied': every training episode a road of its own.
  const varied = { ...base, trainingRoads: 'varied' as const };
  assert.deepEqual(episodeReset('train', varied, records, where), { seed: VARIED_ROAD_SEED_BASE + 2 });
  // 'varied-continued': continue after an intervention (tests in between drive their own world),
  // a new road after a completed one, after a rebuilt world, or after a test in the same world.
  const continued = { ...base, trainingRoads: 'varied-continued' as const };
  assert.deepEqual(episodeReset('train', continued, records, where), { continueRoute: true });
  assert.deepEqual(episodeReset('train', continued, [...records, test1], where), { continueRoute: true });
  assert.deepEqual(episodeReset('train', continued, [...records, completed], where), {
    seed: VARIED_ROAD_SEED_BASE + 3,
  });
  assert.deepEqual(episodeReset('train', continued, [...records, completed, test1], where), {
    seed: VARIED_ROAD_SEED_BASE + 4,
  });
  assert.deepEqual(episodeReset('train', continued, records, { ...where, firstEpisode: true }), {
    seed: VARIED_ROAD_SEED_BASE + 2,
  });
  assert.deepEqual(episodeReset('train', continued, [...records, test1], { ...where, separateTestWorld: false }), {
    seed: VARIED_ROAD_SEED_BASE + 3,
  });
  // 'failed-tests': after a failed test, train in the test world from where it failed; after a
  // passed test, a training episode, or a rebuilt world (resume), a new road in the training world.
  const failedTests = { ...base, trainingRoads: 'failed-tests' as const };
  const passedTest = record('test', 3, 250, { routeCompleted: true, intervention: null });
  const start = (recs: EpisodeRecord[], w = where) => [
    episodeWorld('train', failedTests, recs, w),
    episodeReset('train', failedTests, recs, w),
  ];
  assert.deepEqual(start([...records, test1]), ['test', { continueRoute: true }]);
  assert.deepEqual(start([...records, passedTest]), ['train', { seed: VARIED_ROAD_SEED_BASE + 3 }]);
  assert.deepEqual(start(records), ['train', { seed: VARIED_ROAD_SEED_BASE + 2 }]);
  assert.deepEqual(start([...records, test1], { ...where, firstEpisode: true }), [
    'train',
    { seed: VARIED_ROAD_SEED_BASE + 3 },
  ]);
  assert.equal(episodeWorld('test', base, records, where), 'test');
  assert.equal(episodeWorld('train', base, [...records, test1], where), 'train');
});
