import { strict as assert } from 'node:assert';
import { cp, mkdtemp, readFile, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/core/backend.js';
import { UserError } from '../../src/core/errors.js';
import { log } from '../../src/core/logger.js';
import { Rng } from '../../src/core/rng.js';
import { learnerConfigFor, type LearnerConfigInput } from '../../src/rl/config.js';
import { createLearner, type DdpgLearner } from '../../src/rl/learner.js';
import type { Transition } from '../../src/rl/types.js';
import { close } from './close.js';

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
    learnerConfigFor(algo, {
      batchSize: 16,
      actorHidden: [16],
      criticHidden: [16, 16],
      replay: { capacity: 500 },
      ...overrides,
    }),
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
  assert.throws(
    () => learner.observe({ ...t, reward: Number.NaN }),
    (e: unknown) => e instanceof RangeError && /reward\[0\] is NaN/.test(e.message),
  );
  assert.throws(() => learner.observe({ ...t, state: Float32Array.of(0, Infinity, 0, 0) }), /state\[1\] is Infinity/);
  assert.throws(
    () => learner.observe({ ...t, nextState: Float32Array.of(0, 0, 0, -Infinity) }),
    /nextState\[3\] is -Infinity/,
  );
  assert.throws(() => learner.observe({ ...t, action: Float32Array.of(Number.NaN, 0) }), /action\[0\] is NaN/);
  assert.throws(
    () => learner.observe({ ...t, action: Float32Array.of(0, 1.5) }),
    /action\[1\] is 1.5: actions must lie in \[-1, 1\]/,
  );
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
  // Every parameter (online actor and critic, all targets) and the Adam state, before and after.
  const parameters = async (): Promise<{ networks: Buffer; optimizer: Buffer; steps: unknown[] }> => {
    const dir = await mkdtemp(join(tmpdir(), 'dd-learner-nonfinite-'));
    await learner.save(dir);
    const meta = JSON.parse(await readFile(join(dir, 'learner.json'), 'utf8')) as Record<string, unknown>;
    return {
      networks: await readFile(join(dir, 'networks.bin')),
      optimizer: await readFile(join(dir, 'optimizer.bin')),
      steps: [meta.updates, meta.actorOptimizerStep, meta.criticOptimizerStep],
    };
  };
  const paramsBefore = await parameters();
  const warnings: string[] = [];
  const warn = log.warn;
  log.warn = ((obj: unknown, msg?: string) =>
    void warnings.push(`${JSON.stringify(obj)} ${msg ?? ''}`)) as typeof log.warn;
  const stats = await learner.update(4).finally(() => {
    log.warn = warn;
  });
  assert.equal(stats.updates, 0);
  assert.equal(stats.skipped, 4);
  assert.equal(warnings.length, 4, 'each skipped update is logged');
  assert.match(
    warnings[0] ?? '',
    /"criticLoss":null.*non-finite critic loss or gradient: update skipped, last good weights kept/,
  );
  assert.deepEqual([...learner.act(probe)], [...before], 'weights unchanged');
  assert.equal(learner.updateCount, snapshotUpdates);
  const paramsAfter = await parameters();
  assert.ok(
    paramsAfter.networks.equals(paramsBefore.networks),
    'online critic, actor and every target network bit for bit unchanged',
  );
  assert.ok(paramsAfter.optimizer.equals(paramsBefore.optimizer), 'Adam moments unchanged');
  assert.deepEqual(paramsAfter.steps, paramsBefore.steps, 'update count and Adam steps unchanged');
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
  await assert.rejects(
    small('ddpg').load(join(dir, 'missing')),
    /cannot read .*learner\.json: no such file or directory \(ENOENT\)/,
  );
  a.dispose();
  wider.dispose();
});

test('load refuses a truncated replay file, a missing optimizer step and size > capacity, and leaves the learner unchanged', async () => {
  // Two identical learners: `a` is offered the bad checkpoints, `twin` is not; afterwards they must
  // still agree on everything (actions, replay, counters, and the updates that follow).
  const make = () => {
    const l = small('td3');
    fill(l, 80, 21);
    return l;
  };
  const a = make();
  const twin = make();
  await a.update(3);
  await twin.update(3);
  const source = small('td3', {}, 7); // another learner's checkpoint, other data and weights
  fill(source, 150, 22);
  await source.update(4);
  const dir = await mkdtemp(join(tmpdir(), 'dd-learner-bad-'));
  await source.save(dir);
  const variant = async (label: string, change: (d: string) => Promise<void>): Promise<string> => {
    const d = join(dir, '..', `${dir.split('/').pop()}-${label}`);
    await cp(dir, d, { recursive: true });
    await change(d);
    return d;
  };
  const editJson = (file: string, edit: (o: Record<string, unknown>) => void) => async (d: string) => {
    const o = JSON.parse(await readFile(join(d, file), 'utf8')) as Record<string, unknown>;
    edit(o);
    await writeFile(join(d, file), JSON.stringify(o));
  };
  const cases: [string, (d: string) => Promise<void>, RegExp][] = [
    // The last file load reads: the old load had replaced states, actions and rewards by then.
    [
      'truncated',
      async (d) => truncate(join(d, 'replay-priorities.bin'), 40),
      /replay-priorities\.bin holds 40 bytes, expected \d+: truncated or corrupt/,
    ],
    [
      'no-step',
      editJson('learner.json', (o) => delete o.actorOptimizerStep),
      /invalid learner checkpoint .*learner\.json: field actorOptimizerStep: .*expected number/,
    ],
    [
      'too-big',
      editJson('replay.json', (o) => (o.size = 501)),
      /replay\.json: field size: 501 transitions exceed the capacity 500/,
    ],
    ['bad-updates', editJson('learner.json', (o) => (o.updates = -2)), /learner\.json: field updates/],
    ['bad-rng', editJson('learner.json', (o) => (o.rng = [1, 2])), /learner\.json: field rng/],
    [
      'bad-next',
      editJson('replay.json', (o) => (o.next = 3)),
      /replay\.json: field next: 3, a ring of 150 transitions that is not full continues at 150/,
    ],
    [
      'nan-reward',
      async (d) => writeFile(join(d, 'replay-rewards.bin'), Buffer.from(new Float32Array(150).fill(Number.NaN).buffer)),
      /replay-rewards\.bin: value 0 is NaN/,
    ],
  ];
  for (const [label, change, message] of cases) {
    const d = await variant(label, change);
    await assert.rejects(
      a.load(d),
      (e: unknown) => e instanceof UserError && message.test(e.message) && !e.message.includes('\n'),
      label,
    );
  }
  assert.deepEqual([...a.act(probe)], [...twin.act(probe)]);
  assert.equal(a.replaySize(), twin.replaySize());
  assert.equal(a.updateCount, twin.updateCount);
  assert.deepEqual(
    await a.update(4),
    await twin.update(4),
    'the same updates follow: replay, priorities, optimiser and rng untouched',
  );
  assert.deepEqual([...a.act(probe)], [...twin.act(probe)]);
  await a.load(dir); // the intact checkpoint still loads
  assert.deepEqual([...a.act(probe)], [...source.act(probe)]);
  assert.equal(a.replaySize(), 150);
  for (const l of [a, twin, source]) l.dispose();
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
  assert.deepEqual(
    { s: await learner.update(3), a: [...learner.act(probe)] },
    expected,
    'identical continuation after the undo',
  );
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

test('parameter-space perturbation moves the actions and is measured on a copy of its own', () => {
  const learner = small('ddpg');
  fill(learner, 50, 9);
  learner.perturbPolicy(0.5, Rng.fromSeed(1));
  const behaviour = [...learner.actPerturbed(probe)];
  assert.notDeepEqual(behaviour, [...learner.act(probe)]);
  const d = learner.perturbationDistance(0.5, 32, Rng.fromSeed(2));
  assert.ok(d > 0.01, `distance ${d}`);
  assert.ok(
    learner.perturbationDistance(0, 32, Rng.fromSeed(2)) < 1e-6,
    'std 0: the measuring copy is the current actor',
  );
  assert.deepEqual([...learner.actPerturbed(probe)], behaviour, 'measuring leaves the behaviour policy as it was');
  assert.throws(() => learner.perturbationDistance(Number.NaN, 32, Rng.fromSeed(2)), /stddev must be finite/);
  learner.dispose();
});

/** Pixel states: an 8x8 grey image (64 components in [0, 1]) and 2 vector components. */
const PIXEL_STATE_SIZE = 64 + 2;

/** A DDPG learner with a conv encoder, its replay holding 20 pixel transitions. */
function pixelLearner(): DdpgLearner {
  const learner = createLearner(
    learnerConfigFor('ddpg', {
      batchSize: 8,
      actorHidden: [8],
      criticHidden: [8],
      imageShape: [8, 8, 1],
      encoder: { convLayers: 2, filters: 4, featureSize: 6 },
      replay: { capacity: 50 },
    }),
    PIXEL_STATE_SIZE,
    A,
    Rng.fromSeed(3),
  );
  const rng = Rng.fromSeed(4);
  for (let i = 0; i < 20; i++) {
    const state = Float32Array.from({ length: PIXEL_STATE_SIZE }, (_, k) =>
      k < 64 ? rng.uniform() : rng.range(-1, 1),
    );
    learner.observe({
      state,
      action: Float32Array.of(rng.range(-1, 1), 0),
      reward: rng.uniform(),
      nextState: state.slice(),
      terminated: false,
    });
  }
  return learner;
}

test(`pixel states: a conv encoder trained by the critic runs an update on ${backend.name}`, async () => {
  const stateSize = PIXEL_STATE_SIZE;
  const learner = pixelLearner();
  const before = learner.act(Float32Array.from({ length: stateSize }, () => 0.5));
  // A variable's first assign may allocate once (cpu); leaks grow after it.
  await learner.update(1);
  const n0 = tf.memory().numTensors;
  const buffers0 = tf.backend().numDataIds();
  const stats = await learner.update(3);
  assert.equal(stats.updates, 3);
  assert.ok(Number.isFinite(stats.criticLoss));
  assert.equal(tf.memory().numTensors, n0, 'no tensors leak');
  // Kernel-op buffers are invisible to the engine's count: the backend's own count catches them.
  assert.equal(
    tf.backend().numDataIds(),
    buffers0,
    'no backend buffers leak (encoder gradients crossing from kernel ops to the engine included)',
  );
  assert.notDeepEqual([...learner.act(Float32Array.from({ length: stateSize }, () => 0.5))], [...before]);
  assert.throws(
    () =>
      learner.observe({
        state: new Float32Array(stateSize).fill(2),
        action: Float32Array.of(0, 0),
        reward: 0,
        nextState: new Float32Array(stateSize),
        terminated: false,
      }),
    /state\[0\] is 2: image components must lie in \[0, 1\]/,
  );
  learner.dispose();
});

test(`engine ops (the tensorflow backend's way: the vehicle) train DDPG, TD3, D4PG and a pixel encoder as the direct kernels do on ${backend.name}`, async () => {
  const vectorLearner = (algo: 'ddpg' | 'td3' | 'd4pg') => (): DdpgLearner => {
    const learner = small(algo);
    fill(learner, 120, 5);
    return learner;
  };
  const subjects: [string, () => DdpgLearner, Float32Array][] = [
    ['ddpg', vectorLearner('ddpg'), probe],
    ['td3', vectorLearner('td3'), probe],
    ['d4pg', vectorLearner('d4pg'), probe],
    ['ddpg from pixels', pixelLearner, new Float32Array(PIXEL_STATE_SIZE).fill(0.5)],
  ];
  const saved = process.env.DAYDRIVE_TENSOR_OPS;
  try {
    for (const [name, make, state] of subjects) {
      const run = async (setting: string) => {
        process.env.DAYDRIVE_TENSOR_OPS = setting;
        const learner = make();
        // A variable's first assign may allocate once (cpu); TD3 assigns its actor first in update 2.
        await learner.update(2);
        const n0 = tf.memory().numTensors;
        const buffers0 = tf.backend().numDataIds();
        const stats = await learner.update(20);
        assert.equal(tf.memory().numTensors, n0, `${name}, ${setting}: no tensors leak`);
        assert.equal(tf.backend().numDataIds(), buffers0, `${name}, ${setting}: no backend buffers leak`);
        const result = { action: [...learner.act(state)], criticLoss: stats.criticLoss, actorLoss: stats.actorLoss };
        learner.dispose();
        return result;
      };
      const kernels = await run('auto');
      const engine = await run('engine');
      close(engine.action, kernels.action, 1e-5, `${name}: actions after 20 updates`);
      close(
        [engine.criticLoss, engine.actorLoss],
        [kernels.criticLoss, kernels.actorLoss],
        1e-5,
        `${name}: mean losses`,
      );
    }
  } finally {
    if (saved === undefined) delete process.env.DAYDRIVE_TENSOR_OPS;
    else process.env.DAYDRIVE_TENSOR_OPS = saved;
  }
});

test('update yields to the event loop whenever a slice has passed, and reports every update', async () => {
  const learner = small('ddpg');
  fill(learner, 100, 12);
  await learner.update(2); // warm-up: kernels
  // A setImmediate chain counts the loop's turns while an update runs; at every update the
  // learner reports, the time since the loop last turned is how long it was held.
  const probeTurns = async (
    steps: number,
    sliceMs: number,
  ): Promise<{ turns: number; progress: number[]; longestHoldMs: number; longestUpdateMs: number }> => {
    let turns = 0;
    let running = true;
    let lastTurn = performance.now();
    const turn = (): void => {
      if (!running) return;
      turns += 1;
      lastTurn = performance.now();
      setImmediate(turn);
    };
    setImmediate(turn);
    const progress: number[] = [];
    let longestHoldMs = 0;
    let longestUpdateMs = 0;
    let last = performance.now();
    await learner.update(steps, {
      sliceMs,
      onProgress: (done) => {
        const t = performance.now();
        progress.push(done);
        longestHoldMs = Math.max(longestHoldMs, t - lastTurn);
        longestUpdateMs = Math.max(longestUpdateMs, t - Math.max(last, lastTurn));
        last = t;
      },
    });
    running = false;
    return { turns, progress, longestHoldMs, longestUpdateMs };
  };
  // No slice: one turn between every two updates.
  const every = await probeTurns(10, 0);
  assert.deepEqual(every.progress, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  assert.ok(every.turns >= 9, `${every.turns} turns in 10 updates with sliceMs 0`);
  // A slice longer than the call: it never lets the loop turn.
  const never = await probeTurns(10, Number.POSITIVE_INFINITY);
  assert.equal(never.turns, 0);
  // 4 ms slices over ~60 updates: the loop is never held longer than a slice plus one update.
  const sliceMs = 4;
  const sliced = await probeTurns(60, sliceMs);
  assert.ok(sliced.turns >= 1, 'the loop never turned');
  assert.ok(sliced.longestHoldMs <= sliceMs + sliced.longestUpdateMs + 20, JSON.stringify(sliced));
  learner.dispose();
});

test('an aborted signal stops update between two updates: those done stay applied, the stats cover them', async () => {
  const a = small('td3');
  const twin = small('td3');
  fill(a, 100, 13);
  fill(twin, 100, 13);
  const stop = new AbortController();
  const stats = await a.update(50, {
    signal: stop.signal,
    onProgress: (done) => {
      if (done === 3) stop.abort();
    },
  });
  assert.equal(a.updateCount, 3);
  assert.deepEqual(stats, await twin.update(3), 'the stats of the 3 updates done, as a 3-update call gives them');
  assert.deepEqual([...a.act(probe)], [...twin.act(probe)], 'the same weights');
  // Already aborted: nothing runs.
  const none = await a.update(5, { signal: stop.signal });
  assert.equal(none.updates, 0);
  assert.ok(Number.isNaN(none.criticLoss));
  assert.equal(a.updateCount, 3);
  await assert.rejects(a.update(5, { sliceMs: Number.NaN }), /sliceMs must be >= 0/);
  a.dispose();
  twin.dispose();
});

test('updates leak no tensors and dispose frees everything', async () => {
  const n0 = tf.memory().numTensors;
  for (const algo of ['ddpg', 'td3', 'd4pg'] as const) {
    const learner = small(algo);
    fill(learner, 60, 10);
    await learner.update(2);
    const n1 = tf.memory().numTensors;
    const buffers1 = tf.backend().numDataIds();
    await learner.update(5);
    learner.act(probe);
    assert.equal(tf.memory().numTensors, n1, `${algo}: update and act leak nothing`);
    // The update's kernel ops bypass the engine: the backend's count sees their buffers.
    assert.equal(tf.backend().numDataIds(), buffers1, `${algo}: update and act leave no backend buffers behind`);
    learner.dispose();
  }
  assert.equal(tf.memory().numTensors, n0);
});
