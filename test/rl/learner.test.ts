import { strict as assert } from 'node:assert';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/core/backend.js';
import { log } from '../../src/core/logger.js';
import { Rng } from '../../src/core/rng.js';
import { learnerConfigFor, type LearnerConfigInput } from '../../src/rl/config.js';
import { createLearner, type DdpgLearner } from '../../src/rl/learner.js';
import type { Transition } from '../../src/rl/types.js';

const backend = await initBackend();

const S = 4;
const A = 2;

function randomTransition(rng: Rng, stateSize = S, reward?: number): Transition {
  const state = Float32Array.from({ length: stateSize }, () => rng.range(-1, 1));
  return {
    state,
    action: Float32Array.from({ length: A }, () => rng.range(-1, 1)),
    reward: reward ?? state[0]! - Math.abs(state[1]!),
    nextState: state.map((v) => 0.9 * v),
    terminated: rng.uniform() < 0.05,
  };
}

function small(algo: 'ddpg' | 'td3' | 'd4pg', overrides: LearnerConfigInput = {}, seed = 1): DdpgLearner {
  return createLearner(
    learnerConfigFor(algo, { batchSize: 16, actorHidden: [16], criticHidden: [16, 16], replay: { capacity: 500 }, ...overrides }),
    S,
    A,
    Rng.fromSeed(seed),
  );
}

function fill(learner: DdpgLearner, n: number, seed: number): void {
  const rng = Rng.fromSeed(seed);
  for (let i = 0; i < n; i++) {
    const t = randomTransition(rng);
    learner.observe(t);
    if (t.terminated) learner.endEpisode();
  }
}

const probe = Float32Array.of(0.1, -0.2, 0.3, -0.4);

test('observe refuses NaN, Inf and wrong sizes with a RangeError naming the field', () => {
  const learner = small('ddpg');
  const t = randomTransition(Rng.fromSeed(1));
  assert.throws(() => learner.observe({ ...t, reward: Number.NaN }), (e: unknown) => e instanceof RangeError && /reward\[0\] is NaN/.test(e.message));
  assert.throws(() => learner.observe({ ...t, state: Float32Array.of(0, Infinity, 0, 0) }), /state\[1\] is Infinity/);
  assert.throws(() => learner.observe({ ...t, nextState: Float32Array.of(0, 0, 0, -Infinity) }), /nextState\[3\] is -Infinity/);
  assert.throws(() => learner.observe({ ...t, action: Float32Array.of(Number.NaN, 0) }), /action\[0\] is NaN/);
  assert.throws(() => learner.observe({ ...t, action: Float32Array.of(0, 1.5) }), /action\[1\] is 1.5: actions must lie in \[-1, 1\]/);
  assert.throws(() => learner.observe({ ...t, state: new Float32Array(3) }), /state has 3 components, expected 4/);
  assert.throws(() => learner.act(Float32Array.of(0, 0, Number.NaN, 0)), /state\[2\] is NaN/);
  assert.equal(learner.replaySize(), 0, 'nothing stored');
  learner.dispose();
});

test('a non-finite loss skips the update, keeps the last good weights and says so', async () => {
  const learner = small('ddpg', { replay: { kind: 'uniform', capacity: 100 } });
  fill(learner, 40, 2);
  await learner.update(3);
  const before = learner.act(probe);
  const snapshotUpdates = learner.updateCount;
  // A finite reward whose square overflows float32: the critic loss becomes Infinity.
  const rng = Rng.fromSeed(3);
  for (let i = 0; i < 100; i++) learner.observe(randomTransition(rng, S, 3e38));
  const warnings: string[] = [];
  const warn = log.warn;
  log.warn = ((obj: unknown, msg?: string) => void warnings.push(`${JSON.stringify(obj)} ${msg ?? ''}`)) as typeof log.warn;
  const stats = await learner.update(4).finally(() => {
    log.warn = warn;
  });
  assert.equal(stats.updates, 0);
  assert.equal(stats.skipped, 4);
  assert.equal(warnings.length, 4, 'each skipped update is logged');
  assert.match(warnings[0] ?? '', /"criticLoss":null.*non-finite critic loss or gradient: update skipped, last good weights kept/);
  assert.deepEqual([...learner.act(probe)], [...before], 'weights unchanged');
  assert.equal(learner.updateCount, snapshotUpdates);
  learner.dispose();
});

for (const algo of ['ddpg', 'td3', 'd4pg'] as const) {
  test(`${algo}: save and load round trip resumes exactly (networks, targets, optimiser, replay, rng)`, async () => {
    const a = small(algo);
    fill(a, 120, 5);
    await a.update(6);
    const dir = await mkdtemp(join(tmpdir(), `dd-learner-${algo}-`));
    await a.save(dir);
    const b = small(algo, {}, 99); // different initial weights
    assert.notDeepEqual([...b.act(probe)], [...a.act(probe)]);
    await b.load(dir);
    assert.deepEqual([...b.act(probe)], [...a.act(probe)]);
    assert.equal(b.replaySize(), a.replaySize());
    const sa = await a.update(5);
    const sb = await b.update(5);
    assert.deepEqual(sb, sa, 'the same updates after resuming');
    assert.deepEqual([...b.act(probe)], [...a.act(probe)]);
    a.dispose();
    b.dispose();
  });
}

test('load refuses a checkpoint of another shape with one clear line', async () => {
  const a = small('ddpg');
  fill(a, 20, 1);
  const dir = await mkdtemp(join(tmpdir(), 'dd-learner-shape-'));
  await a.save(dir);
  const wider = small('ddpg', { actorHidden: [32] });
  await assert.rejects(wider.load(dir), /online\/actor\/l0\/w0 has shape \[4, 16\], this learner needs \[4, 32\]/);
  await assert.rejects(small('ddpg').load(join(dir, 'missing')), /cannot read .*learner\.json: ENOENT/);
  a.dispose();
  wider.dispose();
});

test('snapshot / restore undoes an episode: weights, targets, optimiser, replay', async () => {
  const learner = small('td3');
  fill(learner, 100, 6);
  await learner.update(4);
  const snap = learner.snapshot();
  const action = learner.act(probe);
  const size = learner.replaySize();
  const expected = await (async () => {
    // what the next updates give from this state
    const s = await learner.update(3);
    const a = [...learner.act(probe)];
    learner.restore(snap);
    return { s, a };
  })();
  assert.deepEqual([...learner.act(probe)], [...action]);
  fill(learner, 30, 7); // the episode to undo
  await learner.update(5);
  assert.notDeepEqual([...learner.act(probe)], [...action]);
  learner.restore(snap);
  assert.deepEqual([...learner.act(probe)], [...action]);
  assert.equal(learner.replaySize(), size);
  assert.deepEqual({ s: await learner.update(3), a: [...learner.act(probe)] }, expected, 'identical continuation after the undo');
  learner.snapshot();
  assert.throws(() => learner.restore(snap), /only the most recent snapshot/);
  learner.dispose();
});

test('n-step windows are kept per actor (D4PG with many actors)', () => {
  const learner = small('d4pg', { nStep: 3, discount: 0.5 });
  const rng = Rng.fromSeed(8);
  const step = (): Transition => ({ ...randomTransition(rng), terminated: false }); // windows end only by endEpisode here
  for (let i = 0; i < 2; i++) {
    learner.observe(step(), 0);
    learner.observe(step(), 1);
  }
  assert.equal(learner.replaySize(), 0, 'no window of 3 yet in either actor');
  learner.observe(step(), 1);
  assert.equal(learner.replaySize(), 1);
  learner.endEpisode(0);
  assert.equal(learner.replaySize(), 3, 'actor 0 flushed its 2 partial windows');
  learner.endEpisode();
  assert.equal(learner.replaySize(), 5);
  learner.dispose();
});

test('parameter-space perturbation moves the actions and is measured', () => {
  const learner = small('ddpg');
  fill(learner, 50, 9);
  learner.perturbPolicy(0.5, Rng.fromSeed(1));
  const d = learner.perturbationDistance(32, Rng.fromSeed(2));
  assert.ok(d > 0.01, `distance ${d}`);
  assert.notDeepEqual([...learner.actPerturbed(probe)], [...learner.act(probe)]);
  learner.perturbPolicy(0, Rng.fromSeed(1));
  assert.ok(learner.perturbationDistance(32, Rng.fromSeed(2)) < 1e-6);
  learner.dispose();
});

test(`pixel states: a conv encoder trained by the critic runs an update on ${backend.name}`, async () => {
  const imageShape: [number, number, number] = [8, 8, 1];
  const stateSize = 64 + 2;
  const learner = createLearner(
    learnerConfigFor('ddpg', { batchSize: 8, actorHidden: [8], criticHidden: [8], imageShape, encoder: { convLayers: 2, filters: 4, featureSize: 6 }, replay: { capacity: 50 } }),
    stateSize,
    A,
    Rng.fromSeed(3),
  );
  const rng = Rng.fromSeed(4);
  for (let i = 0; i < 20; i++) {
    const state = Float32Array.from({ length: stateSize }, (_, k) => (k < 64 ? rng.uniform() : rng.range(-1, 1)));
    learner.observe({ state, action: Float32Array.of(rng.range(-1, 1), 0), reward: rng.uniform(), nextState: state.slice(), terminated: false });
  }
  const before = learner.act(Float32Array.from({ length: stateSize }, () => 0.5));
  const n0 = tf.memory().numTensors;
  const stats = await learner.update(3);
  assert.equal(stats.updates, 3);
  assert.ok(Number.isFinite(stats.criticLoss));
  assert.equal(tf.memory().numTensors, n0, 'no tensors leak');
  assert.notDeepEqual([...learner.act(Float32Array.from({ length: stateSize }, () => 0.5))], [...before]);
  assert.throws(
    () => learner.observe({ state: new Float32Array(stateSize).fill(2), action: Float32Array.of(0, 0), reward: 0, nextState: new Float32Array(stateSize), terminated: false }),
    /state\[0\] is 2: image components must lie in \[0, 1\]/,
  );
  learner.dispose();
});

test('updates leak no tensors and dispose frees everything', async () => {
  const n0 = tf.memory().numTensors;
  for (const algo of ['ddpg', 'td3', 'd4pg'] as const) {
    const learner = small(algo);
    fill(learner, 60, 10);
    await learner.update(2);
    const n1 = tf.memory().numTensors;
    await learner.update(5);
    learner.act(probe);
    assert.equal(tf.memory().numTensors, n1, `${algo}: update and act leak nothing`);
    learner.dispose();
  }
  assert.equal(tf.memory().numTensors, n0);
});
