import { strict as assert } from 'node:assert';
import { mkdtemp, readFile, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { UserError } from '../../src/core/errors.js';
import { Rng } from '../../src/core/rng.js';
import { replayConfigSchema } from '../../src/rl/config.js';
import { ReplayBuffer, type StoredTransition } from '../../src/rl/replay.js';
import { SumTree } from '../../src/rl/sum-tree.js';

/** Linear-scan inverse CDF: the brute-force reference for SumTree.find. */
function bruteFind(priorities: readonly number[], prefix: number): number {
  let acc = 0;
  for (let i = 0; i < priorities.length; i++) {
    acc += priorities[i] as number;
    if (prefix < acc) return i;
  }
  return priorities.length - 1;
}

test('sum tree: total, min and updates match hand computation', () => {
  const tree = new SumTree(5);
  assert.equal(tree.total(), 0);
  assert.equal(tree.min(), Infinity);
  [3, 1, 4, 1, 5].forEach((p, i) => tree.set(i, p));
  assert.equal(tree.total(), 14);
  assert.equal(tree.min(), 1);
  tree.set(1, 0.5);
  tree.set(3, 2);
  assert.equal(tree.total(), 3 + 0.5 + 4 + 2 + 5);
  assert.equal(tree.min(), 0.5);
  assert.equal(tree.get(3), 2);
  // prefix sums 3 | 3.5 | 7.5 | 9.5 | 14.5
  assert.equal(tree.find(0), 0);
  assert.equal(tree.find(2.999), 0);
  assert.equal(tree.find(3), 1);
  assert.equal(tree.find(3.6), 2);
  assert.equal(tree.find(9.4), 3);
  assert.equal(tree.find(14.49), 4);
  // rounding past the total never lands on an empty padding leaf
  assert.equal(tree.find(14.5 + 1e-9), 4);
  assert.throws(() => tree.set(5, 1), /outside \[0, 5\)/);
  assert.throws(() => tree.set(0, Number.NaN), /finite and >= 0/);
});

test('sum tree: batched updates and searches (level by level) equal one at a time, duplicates included', () => {
  const rng = Rng.fromSeed(11);
  const n = 1000;
  const one = new SumTree(n);
  const many = new SumTree(n);
  const indices = Int32Array.from({ length: 300 }, () => rng.int(n));
  indices[7] = indices[3] as number; // a leaf updated twice in one batch: the last value wins
  const priorities = Float64Array.from({ length: 300 }, () => rng.uniform() * 3);
  indices.forEach((i, k) => one.set(i, priorities[k] as number));
  many.setMany(indices, priorities);
  assert.equal(many.total(), one.total());
  assert.equal(many.min(), one.min());
  assert.deepEqual([...many.leaves()], [...one.leaves()]);
  const prefixes = Float64Array.from({ length: 64 }, () => rng.uniform() * one.total());
  const out = new Int32Array(64);
  const found = new Float64Array(64);
  many.findMany(prefixes, out, found);
  assert.deepEqual(
    [...out],
    [...prefixes].map((p) => one.find(p)),
  );
  assert.deepEqual(
    [...found],
    [...out].map((i) => one.get(i)),
    "the found leaves' priorities",
  );
  assert.throws(() => many.setMany([1, 2], [1, Number.NaN]), /finite and >= 0/);
  assert.equal(many.get(1), one.get(1), 'a refused batch changes nothing');
});

test('sum tree: random batches (duplicates, zeros, every level size) keep total, minimum and search exact', () => {
  const rng = Rng.fromSeed(12);
  for (const capacity of [1, 2, 15, 16, 17, 255, 256, 257, 5000]) {
    const tree = new SumTree(capacity);
    const leaves = new Float64Array(capacity);
    for (let round = 0; round < 40; round++) {
      const n = 1 + rng.int(70);
      const indices = Int32Array.from({ length: n }, () => rng.int(capacity));
      // Some zeros: a zero-priority leaf is never sampled and bounds no importance weight.
      const priorities = Float64Array.from({ length: n }, () => (rng.uniform() < 0.1 ? 0 : rng.uniform() ** 2 * 4));
      tree.setMany(indices, priorities);
      // The leaves are float32: the reference holds the rounded priorities.
      indices.forEach((i, k) => (leaves[i] = Math.fround(priorities[k] as number)));
      const total = leaves.reduce((a, b) => a + b, 0);
      const positive = [...leaves].filter((p) => p > 0);
      assert.ok(Math.abs(tree.total() - total) <= 1e-12 * Math.max(1, total), `capacity ${capacity}: total`);
      assert.equal(
        tree.min(),
        positive.length > 0 ? Math.min(...positive) : Infinity,
        `capacity ${capacity} round ${round}: minimum of the positive priorities`,
      );
      if (total > 0) {
        for (let k = 0; k < 8; k++) {
          const u = rng.uniform() * total;
          const i = tree.find(u);
          assert.ok((leaves[i] as number) > 0, 'never a zero-priority leaf');
          assert.equal(i, bruteFind([...leaves], u), `capacity ${capacity}: find(${u})`);
        }
      }
    }
    const rebuilt = new SumTree(capacity);
    rebuilt.setLeaves(leaves, capacity);
    assert.equal(rebuilt.total(), tree.total(), 'a rebuilt tree equals the updated one bit for bit');
    assert.equal(rebuilt.min(), tree.min());
  }
});

test('sum tree: sampling frequencies match the priorities (brute force and chi-square)', () => {
  const rng = Rng.fromSeed(7);
  const n = 50;
  const priorities = Array.from({ length: n }, () => Math.fround(0.05 + rng.uniform() ** 3)); // float32 leaves
  const tree = new SumTree(n);
  priorities.forEach((p, i) => tree.set(i, p));
  const total = priorities.reduce((a, b) => a + b, 0);
  assert.ok(Math.abs(tree.total() - total) < 1e-9);
  const draws = 100_000;
  const counts = new Array<number>(n).fill(0);
  for (let k = 0; k < draws; k++) {
    const u = rng.uniform() * total;
    const i = tree.find(u);
    assert.equal(i, bruteFind(priorities, u), `tree and brute force disagree at prefix ${u}`);
    counts[i] = (counts[i] as number) + 1;
  }
  let chi2 = 0;
  priorities.forEach((p, i) => {
    const expected = (draws * p) / total;
    chi2 += ((counts[i] as number) - expected) ** 2 / expected;
  });
  // chi-square with 49 degrees of freedom: P(chi2 > 85.35) = 0.001
  assert.ok(chi2 < 85.35, `chi-square ${chi2.toFixed(1)} too large for 49 dof`);
});

function transition(i: number, stateSize = 3, actionSize = 1): StoredTransition {
  return {
    state: Float32Array.from({ length: stateSize }, (_, k) => i + k / 10),
    action: Float32Array.from({ length: actionSize }, () => (i % 10) / 10),
    reward: i,
    nextState: Float32Array.from({ length: stateSize }, (_, k) => i + 1 + k / 10),
    discount: 0.9,
  };
}

function prioritized(capacity: number, extra: Record<string, unknown> = {}) {
  return new ReplayBuffer(
    replayConfigSchema.parse({
      kind: 'prioritized',
      capacity,
      alpha: 0.5,
      beta0: 0.4,
      betaAnnealUpdates: 10,
      epsilon: 1e-6,
      ...extra,
    }),
    {
      stateSize: 3,
      actionSize: 1,
      imageSize: 0,
    },
  );
}

test('prioritized replay: new transitions enter at the maximal priority, updates follow (|delta| + eps)^alpha', () => {
  const replay = prioritized(8);
  for (let i = 0; i < 4; i++) replay.add(transition(i));
  for (let i = 0; i < 4; i++) assert.equal(replay.priority(i), 1, 'first priority is 1');
  replay.updatePriorities([0, 1, 2, 3], [4, 0.25, 0, -9]);
  // Priorities are stored as float32: within one part in 2^23.
  const near = (actual: number, expected: number) => Math.abs(actual - expected) <= 2 ** -23 * expected;
  assert.ok(near(replay.priority(0), Math.sqrt(4 + 1e-6)));
  assert.ok(near(replay.priority(1), Math.sqrt(0.25 + 1e-6)));
  assert.ok(near(replay.priority(2), Math.sqrt(1e-6)), 'eps keeps zero errors sampleable');
  assert.ok(near(replay.priority(3), Math.sqrt(9 + 1e-6)), 'uses |delta|');
  const i = replay.add(transition(4));
  assert.equal(replay.priority(i), replay.priority(3), 'new transition gets the max priority seen');
  assert.throws(() => replay.updatePriorities([0], [Number.NaN]), /must be finite/);
});

test('prioritized replay: IS weights (N P(i))^-beta / max w and the beta schedule match hand computation', () => {
  const replay = prioritized(4);
  for (let i = 0; i < 4; i++) replay.add(transition(i));
  const errors = [1, 3, 0.5, 2];
  replay.updatePriorities([0, 1, 2, 3], errors);
  const p = errors.map((e) => Math.sqrt(e + 1e-6));
  const total = p.reduce((a, b) => a + b, 0);
  const rng = Rng.fromSeed(3);
  assert.equal(replay.beta(), 0.4);
  const batch = replay.sample(64, rng);
  const maxW = Math.pow((4 * Math.min(...p)) / total, -0.4);
  for (let k = 0; k < 64; k++) {
    const idx = batch.indices[k] as number;
    const w = Math.pow((4 * (p[idx] as number)) / total, -0.4) / maxW;
    assert.ok(Math.abs((batch.weights[k] as number) - w) < 1e-6, `weight of ${idx}`);
    assert.equal(batch.rewards[k], idx, 'rows gathered from the sampled slot');
  }
  assert.ok(Math.abs(replay.beta() - (0.4 + 0.6 / 10)) < 1e-12, 'beta anneals linearly per sampled batch');
  for (let k = 0; k < 20; k++) replay.sample(4, rng);
  assert.equal(replay.beta(), 1);
});

test('prioritized replay: stratified sampling draws one index per slice of the priority mass', () => {
  const replay = prioritized(4);
  for (let i = 0; i < 4; i++) replay.add(transition(i));
  const batch = replay.sample(4, Rng.fromSeed(1));
  assert.deepEqual([...batch.indices], [0, 1, 2, 3]);
});

test('uniform replay: a ring that overwrites the oldest, weights 1', () => {
  const replay = new ReplayBuffer(replayConfigSchema.parse({ kind: 'uniform', capacity: 3 }), {
    stateSize: 3,
    actionSize: 1,
    imageSize: 0,
  });
  for (let i = 0; i < 5; i++) replay.add(transition(i));
  assert.equal(replay.size, 3);
  const seen = new Set<number>();
  const rng = Rng.fromSeed(2);
  for (let k = 0; k < 50; k++) {
    const b = replay.sample(8, rng);
    b.rewards.forEach((r) => seen.add(r));
    assert.ok(b.weights.every((w) => w === 1));
  }
  assert.deepEqual([...seen].sort(), [2, 3, 4]);
  assert.throws(() => replay.add({ ...transition(0), action: new Float32Array(2) }), /do not match/);
});

test('replay: pixel states are stored as bytes and read back in [0, 1]', () => {
  const replay = new ReplayBuffer(replayConfigSchema.parse({ kind: 'uniform', capacity: 2 }), {
    stateSize: 5,
    actionSize: 1,
    imageSize: 3,
  });
  replay.add({
    state: Float32Array.of(0, 0.5, 1, 7, -2),
    action: Float32Array.of(0.1),
    reward: 1,
    nextState: Float32Array.of(1, 1, 0, 8, -3),
    discount: 0.9,
  });
  const b = replay.sample(1, Rng.fromSeed(0));
  assert.deepEqual(
    [...b.states],
    [0, 128 / 255, 1, 7, -2].map((v) => Math.fround(v)),
  );
  assert.deepEqual([...b.nextStates], [1, 1, 0, 8, -3]);
  assert.ok(replay.byteLength() < 2 * (5 * 4 * 2 + 12));
});

test('replay: save and load round trip, corrupt files are one-line errors', async () => {
  const replay = prioritized(16);
  for (let i = 0; i < 20; i++) replay.add(transition(i));
  replay.updatePriorities([0, 3, 5], [0.1, 5, 2]);
  replay.sample(8, Rng.fromSeed(1));
  const dir = await mkdtemp(join(tmpdir(), 'dd-replay-'));
  await replay.save(dir);
  const loaded = prioritized(16);
  await loaded.load(dir);
  assert.equal(loaded.size, 16);
  assert.equal(loaded.beta(), replay.beta());
  const a = replay.sample(32, Rng.fromSeed(9));
  const copyA = { idx: [...a.indices], r: [...a.rewards], w: [...a.weights], s: [...a.states] };
  const b = loaded.sample(32, Rng.fromSeed(9));
  assert.deepEqual({ idx: [...b.indices], r: [...b.rewards], w: [...b.weights], s: [...b.states] }, copyA);
  await assert.rejects(prioritized(8).load(dir), /capacity is 16, this learner needs 8/);
  await writeFile(join(dir, 'replay-rewards.bin'), Buffer.alloc(3));
  await assert.rejects(
    prioritized(16).load(dir),
    /replay-rewards\.bin holds 3 bytes, expected 64: truncated or corrupt/,
  );
});

test('replay: a refused load (late truncated file, size > capacity, bad counters) leaves the buffer as it was', async () => {
  const saved = prioritized(16);
  for (let i = 0; i < 12; i++) saved.add(transition(100 + i));
  const dir = await mkdtemp(join(tmpdir(), 'dd-replay-bad-'));
  await saved.save(dir);
  const target = prioritized(16);
  for (let i = 0; i < 5; i++) target.add(transition(i));
  target.updatePriorities([1, 2], [3, 0.5]);
  const view = (r: ReplayBuffer) => {
    const b = r.sample(8, Rng.fromSeed(4));
    return {
      size: r.size,
      idx: [...b.indices],
      r: [...b.rewards],
      s: [...b.states],
      w: [...b.weights],
      p: [0, 1, 2, 3, 4].map((i) => r.priority(i)),
    };
  };
  const mark = target.mark();
  const before = view(target);
  target.restoreMark(mark);
  const meta = JSON.parse(await readFile(join(dir, 'replay.json'), 'utf8')) as Record<string, unknown>;
  const attempts: [() => Promise<void>, RegExp][] = [
    [
      async () => truncate(join(dir, 'replay-priorities.bin'), 8),
      /replay-priorities\.bin holds 8 bytes, expected 96: truncated or corrupt/,
    ],
    [
      async () => writeFile(join(dir, 'replay.json'), JSON.stringify({ ...meta, size: 17 })),
      /replay\.json: field size: 17 transitions exceed the capacity 16/,
    ],
    [
      async () => writeFile(join(dir, 'replay.json'), JSON.stringify({ ...meta, maxPriority: -1 })),
      /invalid replay checkpoint .*replay\.json: field maxPriority/,
    ],
    [async () => writeFile(join(dir, 'replay.json'), JSON.stringify({ ...meta, samples: 'many' })), /field samples/],
    [
      async () => writeFile(join(dir, 'replay.json'), JSON.stringify({ ...meta, added: 3 })),
      /field added: 3 transitions ever added, fewer than the 12 held/,
    ],
  ];
  for (const [corrupt, message] of attempts) {
    await corrupt();
    await assert.rejects(target.load(dir), (e: unknown) => e instanceof UserError && message.test(e.message));
  }
  assert.deepEqual(view(target), before, 'contents, priorities and the beta schedule unchanged');
});

test('replay: restoring a mark undoes adds, overwrites and priority changes', () => {
  const replay = prioritized(6);
  for (let i = 0; i < 6; i++) replay.add(transition(i));
  replay.updatePriorities([1, 2], [3, 0.5]);
  const before = { size: replay.size, p: [0, 1, 2, 3, 4, 5].map((i) => replay.priority(i)), beta: replay.beta() };
  const sampleOf = (r: ReplayBuffer) => {
    const b = r.sample(12, Rng.fromSeed(5));
    return { idx: [...b.indices], r: [...b.rewards], s: [...b.nextStates], w: [...b.weights] };
  };
  const mark = replay.mark();
  const expected = (() => {
    // what sampling gives right now (then undo the beta step it took)
    const s = sampleOf(replay);
    replay.restoreMark(mark);
    return s;
  })();
  for (let i = 100; i < 104; i++) replay.add(transition(i)); // overwrites 4 slots
  replay.updatePriorities([0, 5], [10, 10]);
  replay.sample(4, Rng.fromSeed(1));
  replay.restoreMark(mark);
  assert.deepEqual(
    { size: replay.size, p: [0, 1, 2, 3, 4, 5].map((i) => replay.priority(i)), beta: replay.beta() },
    before,
  );
  assert.deepEqual(sampleOf(replay), expected);
  replay.mark();
  assert.throws(() => replay.restoreMark(mark), /only the most recent snapshot/);
});
