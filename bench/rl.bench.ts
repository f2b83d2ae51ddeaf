/**
 * Learner benchmarks (issue 3), printed as one JSON object via bench/report.ts:
 *  - updates/s at batch 64 with 2x64 hidden layers for DDPG, TD3 and D4PG with prioritized replay,
 *    against a plain tfjs layers-API DDPG update measured in the same run
 *    (goal: >= 500 updates/s and >= 10x the layers-API figure);
 *  - prioritized sampling + priority update of a batch of 64 from 1,000,000 transitions (goal < 50 us);
 *  - memory of 1,000,000 transitions of a 34-dimensional state (goal < 400 MB).
 * Times are medians of 3 and figures are per CPU second of this process (the wall-clock figures are
 * in the notes): single-threaded work measured on a shared machine.
 * Run: node --import tsx bench/rl.bench.ts   (DAYDRIVE_BACKEND=wasm is the default choice here)
 */
import { loadavg } from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/core/backend.js';
import { Rng } from '../src/core/rng.js';
import { learnerConfigFor, replayConfigSchema, type Algorithm } from '../src/rl/config.js';
import { createLearner } from '../src/rl/learner.js';
import { ReplayBuffer } from '../src/rl/replay.js';
import { figure, printReport, type BenchFigure } from './report.js';

const STATE = 34; // the driving state: 32 latent components + speed + steering
const ACTION = 2;
const BATCH = 64;
const HIDDEN = [64, 64];
const UPDATES = Number(process.env.BENCH_UPDATES ?? 600);

const backend = await initBackend(process.env.DAYDRIVE_BACKEND === undefined ? 'wasm' : undefined);

function randomState(rng: Rng): Float32Array {
  return Float32Array.from({ length: STATE }, () => rng.normal());
}

interface Timing {
  /** Median wall-clock time, ms. */
  readonly wallMs: number;
  /** Median CPU time (user + system) of this process, ms. */
  readonly cpuMs: number;
}

function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

/**
 * Medians of `repeats` timings of `fn`. Both clocks: the work is single-threaded (JS and the wasm
 * backend), so on an idle machine CPU time equals wall time, and on a shared one (our 2-core
 * machines run other jobs) CPU time is the figure that does not depend on the neighbours.
 */
async function timeMs(repeats: number, fn: () => Promise<void>): Promise<Timing> {
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let r = 0; r < repeats; r++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await fn();
    wall.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
  }
  return { wallMs: median(wall), cpuMs: median(cpu) };
}

/** Operations per second from a timing of `count` operations: by CPU time, and by wall clock. */
function rates(count: number, t: Timing): { perCpuSecond: number; perWallSecond: number } {
  return { perCpuSecond: (count / t.cpuMs) * 1000, perWallSecond: (count / t.wallMs) * 1000 };
}

async function learnerUpdatesPerSecond(algo: Algorithm): Promise<{ perCpuSecond: number; perWallSecond: number }> {
  const rng = Rng.fromSeed(1);
  const learner = createLearner(
    learnerConfigFor(algo, {
      batchSize: BATCH,
      actorHidden: HIDDEN,
      criticHidden: HIDDEN,
      replay: { kind: 'prioritized', capacity: 100_000 },
    }),
    STATE,
    ACTION,
    rng,
  );
  for (let i = 0; i < 5000; i++) {
    const s = randomState(rng);
    learner.observe({
      state: s,
      action: Float32Array.from({ length: ACTION }, () => rng.range(-1, 1)),
      reward: rng.normal(),
      nextState: s.map((v) => 0.9 * v),
      terminated: rng.uniform() < 0.01,
    });
  }
  await learner.update(100); // warm-up: kernels, XNNPACK operators
  const t = await timeMs(3, async () => {
    await learner.update(UPDATES);
  });
  learner.dispose();
  return rates(UPDATES, t);
}

/** The same DDPG update written the way most tfjs code is: layers models, optimizer.minimize, setWeights. */
async function layersApiUpdatesPerSecond(): Promise<{ perCpuSecond: number; perWallSecond: number }> {
  const rng = Rng.fromSeed(2);
  const makeActor = () =>
    tf.sequential({
      layers: [
        tf.layers.dense({ inputShape: [STATE], units: HIDDEN[0] as number, activation: 'relu' }),
        tf.layers.dense({ units: HIDDEN[1] as number, activation: 'relu' }),
        tf.layers.dense({ units: ACTION, activation: 'tanh' }),
      ],
    });
  const makeCritic = () => {
    const s = tf.input({ shape: [STATE] });
    const a = tf.input({ shape: [ACTION] });
    const x = tf.layers.concatenate().apply([s, a]) as tf.SymbolicTensor;
    const h1 = tf.layers.dense({ units: HIDDEN[0] as number, activation: 'relu' }).apply(x) as tf.SymbolicTensor;
    const h2 = tf.layers.dense({ units: HIDDEN[1] as number, activation: 'relu' }).apply(h1) as tf.SymbolicTensor;
    const q = tf.layers.dense({ units: 1 }).apply(h2) as tf.SymbolicTensor;
    return tf.model({ inputs: [s, a], outputs: q });
  };
  const actor = makeActor();
  const critic = makeCritic();
  const actorTarget = makeActor();
  const criticTarget = makeCritic();
  actorTarget.setWeights(actor.getWeights());
  criticTarget.setWeights(critic.getWeights());
  const actorOpt = tf.train.adam(1e-3);
  const criticOpt = tf.train.adam(1e-3);
  const tau = 0.005;
  const gamma = 0.99;
  const n = 5000;
  const states = Float32Array.from({ length: n * STATE }, () => rng.normal());
  const actions = Float32Array.from({ length: n * ACTION }, () => rng.range(-1, 1));
  const rewards = Float32Array.from({ length: n }, () => rng.normal());
  const softUpdate = (target: tf.LayersModel, source: tf.LayersModel) => {
    tf.tidy(() => {
      const tw = target.getWeights();
      const sw = source.getWeights();
      target.setWeights(tw.map((w, i) => tf.add(tf.mul(w, 1 - tau), tf.mul(sw[i] as tf.Tensor, tau))));
    });
  };
  const update = () => {
    const idx = Int32Array.from({ length: BATCH }, () => rng.int(n));
    const sb = new Float32Array(BATCH * STATE);
    const ab = new Float32Array(BATCH * ACTION);
    const rb = new Float32Array(BATCH);
    idx.forEach((i, k) => {
      sb.set(states.subarray(i * STATE, (i + 1) * STATE), k * STATE);
      ab.set(actions.subarray(i * ACTION, (i + 1) * ACTION), k * ACTION);
      rb[k] = rewards[i] as number;
    });
    tf.tidy(() => {
      const s = tf.tensor2d(sb, [BATCH, STATE]);
      const a = tf.tensor2d(ab, [BATCH, ACTION]);
      const r = tf.tensor2d(rb, [BATCH, 1]);
      const s2 = s;
      const y = tf.add(r, tf.mul(gamma, criticTarget.predict([s2, actorTarget.predict(s2) as tf.Tensor]) as tf.Tensor));
      criticOpt.minimize(
        () => tf.losses.meanSquaredError(y, critic.apply([s, a]) as tf.Tensor) as tf.Scalar,
        false,
        critic.trainableWeights.map((w) => w.read() as tf.Variable),
      );
      actorOpt.minimize(
        () => tf.neg(tf.mean(critic.apply([s, actor.apply(s) as tf.Tensor]) as tf.Tensor)) as tf.Scalar,
        false,
        actor.trainableWeights.map((w) => w.read() as tf.Variable),
      );
    });
    softUpdate(actorTarget, actor);
    softUpdate(criticTarget, critic);
  };
  for (let i = 0; i < 20; i++) update();
  const count = Math.max(30, Math.floor(UPDATES / 10));
  const t = await timeMs(3, async () => {
    for (let i = 0; i < count; i++) update();
  });
  for (const m of [actor, critic, actorTarget, criticTarget]) m.dispose();
  return rates(count, t);
}

async function replayFigures(): Promise<BenchFigure[]> {
  const capacity = 1_000_000;
  const rssBefore = process.memoryUsage().rss;
  const replay = new ReplayBuffer(replayConfigSchema.parse({ kind: 'prioritized', capacity }), {
    stateSize: STATE,
    actionSize: ACTION,
    imageSize: 0,
  });
  const rng = Rng.fromSeed(3);
  const s = randomState(rng);
  const a = new Float32Array(ACTION);
  for (let i = 0; i < capacity; i++) {
    s[0] = i;
    replay.add({ state: s, action: a, reward: rng.normal(), nextState: s, discount: 0.9 });
  }
  const rssAfter = process.memoryUsage().rss;
  const errors = new Float32Array(BATCH);
  const rounds = 20_000;
  for (let k = 0; k < 1000; k++) {
    const b = replay.sample(BATCH, rng);
    for (let i = 0; i < BATCH; i++) errors[i] = Math.abs(rng.normal());
    replay.updatePriorities(b.indices, errors);
  }
  const t = await timeMs(3, async () => {
    for (let k = 0; k < rounds; k++) {
      const b = replay.sample(BATCH, rng);
      for (let i = 0; i < BATCH; i++) errors[i] = (i * 7919 + k) % 13;
      replay.updatePriorities(b.indices, errors);
    }
  });
  const cpuUs = (t.cpuMs / rounds) * 1000;
  const wallUs = (t.wallMs / rounds) * 1000;
  const mb = replay.byteLength() / 1e6;
  return [
    figure(
      'prioritized sample (indices, IS weights, the 64 rows gathered) + priority update, batch 64 of 1,000,000 transitions, CPU time',
      cpuUs,
      'us',
      { name: 'goal', value: 50 },
      false,
      `wall clock ${wallUs.toFixed(1)} us`,
    ),
    figure(
      'replay memory, 1,000,000 transitions of a 34-dim state (typed arrays + trees)',
      mb,
      'MB',
      { name: 'goal', value: 400 },
      false,
      `process RSS grew by ${((rssAfter - rssBefore) / 1e6).toFixed(0)} MB while filling`,
    ),
  ];
}

const GOAL_UPDATES_PER_S = 500;
const GOAL_SPEEDUP = 10;
const figures: BenchFigure[] = [];
const layers = await layersApiUpdatesPerSecond();
figures.push(
  figure(
    'tfjs layers-API DDPG update (baseline), batch 64, 2x64 hidden, per CPU second',
    layers.perCpuSecond,
    'updates/s',
    { name: 'learner goal', value: GOAL_UPDATES_PER_S },
    true,
    `wall clock ${layers.perWallSecond.toFixed(0)} updates/s; ${backend.name}`,
  ),
);
for (const algo of ['ddpg', 'td3', 'd4pg'] as const) {
  const ups = await learnerUpdatesPerSecond(algo);
  const ratio = ups.perCpuSecond / layers.perCpuSecond;
  const met = ups.perCpuSecond >= GOAL_UPDATES_PER_S && ratio >= GOAL_SPEEDUP;
  figures.push(
    figure(
      `${algo} learner updates, batch 64, 2x64 hidden, prioritized replay, per CPU second`,
      ups.perCpuSecond,
      'updates/s',
      { name: 'tfjs layers-API DDPG update, same run, per CPU second', value: layers.perCpuSecond },
      true,
      `goal >= ${GOAL_UPDATES_PER_S} updates/s and ratio >= ${GOAL_SPEEDUP}: ${met ? 'met' : 'missed'}; wall clock ${ups.perWallSecond.toFixed(0)} updates/s ` +
        `(ratio ${(ups.perWallSecond / layers.perWallSecond).toFixed(1)}); update(250), the paper's between-episode optimisation, takes ` +
        `${((250 / ups.perCpuSecond) * 1000).toFixed(0)} ms of CPU; ${backend.name}`,
    ),
  );
}
figures.push(...(await replayFigures()));
await printReport('rl', figures, {
  backend: backend.name,
  updatesPerMeasurement: UPDATES,
  loadAverage1m: loadavg()[0],
});
