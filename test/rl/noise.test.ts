import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { initBackend } from '../../src/core/backend.js';
import { parseWith } from '../../src/core/config.js';
import { UserError } from '../../src/core/errors.js';
import { Rng } from '../../src/core/rng.js';
import { explorationConfigSchema, learnerConfigFor, learnerConfigSchema } from '../../src/rl/config.js';
import { createLearner } from '../../src/rl/learner.js';
import { adaptedStddev, createExploration, decayedSigma, OrnsteinUhlenbeckNoise } from '../../src/rl/noise.js';
import type { Learner, LearnerSnapshot, UpdateStats } from '../../src/rl/types.js';

await initBackend();

/** A learner whose policy is a constant action (the noise is what we look at). */
function constantPolicy(action: number[]): Learner {
  const stats: UpdateStats = { updates: 0, criticLoss: 0, actorLoss: 0, meanQ: 0, skipped: 0 };
  return {
    stateSize: 1,
    actionSize: action.length,
    act: () => Float32Array.from(action),
    observe: () => {},
    endEpisode: () => {},
    replaySize: () => 0,
    update: async () => stats,
    snapshot: () => ({ kind: 'learner-snapshot' }) as LearnerSnapshot,
    restore: () => {},
    save: async () => {},
    load: async () => {},
    dispose: () => {},
  };
}

test('OU noise: AR(1) variance and autocorrelation of dx = theta (mu - x) dt + sigma dW', () => {
  const noise = new OrnsteinUhlenbeckNoise(
    { type: 'ou', theta: 0.6, sigma: 0.4, dt: 0.1, mu: 0, halfLifeEpisodes: null },
    1,
    Rng.fromSeed(1),
  );
  const n = 60_000;
  const xs = new Float64Array(n);
  for (let i = 0; i < n; i++) xs[i] = noise.sample()[0] as number;
  const tail = xs.subarray(1000);
  const mean = tail.reduce((a, b) => a + b, 0) / tail.length;
  const variance = tail.reduce((a, b) => a + (b - mean) ** 2, 0) / tail.length;
  // x' = (1 - theta dt) x + sigma sqrt(dt) e  ->  var = sigma^2 dt / (1 - (1 - theta dt)^2)
  const expected = (0.16 * 0.1) / (1 - 0.94 ** 2);
  assert.ok(Math.abs(variance / expected - 1) < 0.1, `variance ${variance} vs ${expected}`);
  let cov = 0;
  for (let i = 1; i < tail.length; i++) cov += ((tail[i] as number) - mean) * ((tail[i - 1] as number) - mean);
  const rho = cov / (tail.length - 1) / variance;
  assert.ok(Math.abs(rho - 0.94) < 0.02, `lag-1 autocorrelation ${rho}`);
});

test('OU noise: reset to mu each episode, sigma halves every half-life, actions clipped to [-1, 1]', () => {
  const exploration = createExploration(
    { type: 'ou', theta: 0.6, sigma: 0.4, dt: 0.1, halfLifeEpisodes: 250 },
    2,
    Rng.fromSeed(2),
  );
  const learner = constantPolicy([0.95, -0.95]);
  let saturated = 0;
  for (let i = 0; i < 500; i++) {
    const a = exploration.action(learner, Float32Array.of(0));
    assert.ok(a.every((v) => v >= -1 && v <= 1));
    if (a[0] === 1 || a[1] === -1) saturated++;
  }
  assert.ok(saturated > 0, 'noise pushes past the bounds and is clipped');
  assert.ok(Math.abs(decayedSigma(0.4, 250, 250) - 0.2) < 1e-12);
  assert.ok(Math.abs(decayedSigma(0.4, 500, 250) - 0.1) < 1e-12);
  assert.equal(decayedSigma(0.4, 500, null), 0.4);
  for (let e = 0; e < 250; e++) exploration.endEpisode();
  const state = exploration.toJSON();
  assert.ok(Math.abs((state.sigma as number) - 0.2) < 1e-12);
  assert.deepEqual(state.x, [0, 0], 'process reset to mu at the episode end');
});

test('exploration state resumes the same noise stream (toJSON -> createExploration)', () => {
  for (const config of [{ type: 'ou' as const }, { type: 'gaussian' as const, sigma: 0.3, halfLifeEpisodes: 10 }]) {
    const a = createExploration(config, 2, Rng.fromSeed(3));
    const learner = constantPolicy([0, 0]);
    for (let i = 0; i < 7; i++) a.action(learner, Float32Array.of(0));
    a.endEpisode();
    a.action(learner, Float32Array.of(0));
    const b = createExploration(config, 2, Rng.fromSeed(999), a.toJSON());
    for (let i = 0; i < 5; i++)
      assert.deepEqual([...b.action(learner, Float32Array.of(0))], [...a.action(learner, Float32Array.of(0))]);
    assert.throws(
      () => createExploration({ type: 'param' }, 2, Rng.fromSeed(1), a.toJSON()),
      /saved exploration state is/,
    );
  }
});

test('Gaussian noise has the configured std', () => {
  const exploration = createExploration({ type: 'gaussian', sigma: 0.2 }, 1, Rng.fromSeed(4));
  const learner = constantPolicy([0]);
  let sq = 0;
  const n = 20_000;
  for (let i = 0; i < n; i++) sq += (exploration.action(learner, Float32Array.of(0))[0] as number) ** 2;
  assert.ok(Math.abs(Math.sqrt(sq / n) - 0.2) < 0.01);
});

test('adaptive parameter noise shrinks the perturbation when actions move too far, grows it otherwise', () => {
  const learner = createLearner(
    learnerConfigFor('ddpg', { actorHidden: [16], criticHidden: [16], replay: { capacity: 100 } }),
    3,
    1,
    Rng.fromSeed(5),
  );
  const rng = Rng.fromSeed(6);
  for (let i = 0; i < 50; i++) {
    const s = Float32Array.of(rng.normal(), rng.normal(), rng.normal());
    learner.observe({ state: s, action: Float32Array.of(0), reward: 0, nextState: s, terminated: false });
  }
  const strong = createExploration(
    { type: 'param', initialStd: 1, targetActionStd: 1e-4, adaptation: 1.5 },
    1,
    Rng.fromSeed(7),
  );
  strong.action(learner, Float32Array.of(0, 0, 0));
  strong.endEpisode();
  assert.ok(Math.abs((strong.toJSON().stddev as number) - 1 / 1.5) < 1e-12, 'distance above target: divide');
  const weak = createExploration(
    { type: 'param', initialStd: 1e-6, targetActionStd: 0.5, adaptation: 1.5 },
    1,
    Rng.fromSeed(7),
  );
  weak.action(learner, Float32Array.of(0, 0, 0));
  weak.endEpisode();
  assert.ok(Math.abs((weak.toJSON().stddev as number) - 1.5e-6) < 1e-15, 'distance below target: multiply');
  assert.throws(() => weak.action(constantPolicy([0]), Float32Array.of(0)), /needs a learner that can perturb/);
  learner.dispose();
});

test('adaptive parameter noise measures a fresh perturbation of the current actor: training drift does not shrink the std', async () => {
  // A fast-learning actor: between the perturbation (episode start) and the adaptation (episode
  // end) training moves its actions far more than the noise does.
  const learner = createLearner(
    learnerConfigFor('ddpg', {
      actorHidden: [16],
      criticHidden: [16],
      batchSize: 16,
      actorLearningRate: 0.005,
      criticLearningRate: 0.01,
      gradClipNorm: 0,
      replay: { kind: 'uniform', capacity: 200 },
    }),
    3,
    1,
    Rng.fromSeed(5),
  );
  const rng = Rng.fromSeed(6);
  const states: Float32Array[] = [];
  for (let i = 0; i < 100; i++) {
    const s = Float32Array.of(rng.normal(), rng.normal(), rng.normal());
    const a = rng.range(-1, 1);
    states.push(s);
    // Best action 0.5 s_0: the actor learns actions of RMS ~0.5, away from tanh saturation.
    learner.observe({
      state: s,
      action: Float32Array.of(a),
      reward: -((a - 0.5 * (s[0] as number)) ** 2),
      nextState: s,
      terminated: true,
    });
  }
  const exploration = createExploration(
    { type: 'param', initialStd: 0.01, targetActionStd: 0.05, adaptation: 1.5 },
    1,
    Rng.fromSeed(7),
  );
  exploration.action(learner, Float32Array.of(0, 0, 0)); // the episode's behaviour policy: perturbed from the weights of now
  await learner.update(50); // training during the episode
  const rms = (f: (s: Float32Array) => number) =>
    Math.sqrt(states.reduce((acc, s) => acc + f(s) ** 2, 0) / states.length);
  const drift = rms((s) => (learner.actPerturbed(s)[0] as number) - (learner.act(s)[0] as number));
  assert.ok(drift > 0.05 * 4, `behaviour policy vs current actor ${drift}: the drift alone would exceed the target`);
  exploration.endEpisode();
  const state = exploration.toJSON();
  assert.ok(
    typeof state.lastDistance === 'number' && state.lastDistance > 0.001 && state.lastDistance < 0.05,
    `adaptation distance ${String(state.lastDistance)} measures the noise only`,
  );
  assert.ok(
    Math.abs((state.stddev as number) - 0.01 * 1.5) < 1e-15,
    `std ${String(state.stddev)}: below the target it grows`,
  );
  assert.ok(
    Math.abs(adaptedStddev(0.2, 0.3, 0.25, 1.01) - 0.2 / 1.01) < 1e-15 &&
      adaptedStddev(0.2, 0.25, 0.25, 1.01) === 0.2 * 1.01,
  );
  learner.dispose();
});

test('exploration restore refuses NaN, negative or missing fields with one line naming the field', () => {
  const ou = createExploration({ type: 'ou' }, 2, Rng.fromSeed(1));
  const good = ou.toJSON();
  assert.throws(
    () => createExploration({ type: 'ou' }, 2, Rng.fromSeed(1), { ...good, episodes: Number.NaN }),
    (e: unknown) => e instanceof UserError && /invalid exploration state: field episodes/.test(e.message),
  );
  assert.throws(
    () => createExploration({ type: 'ou' }, 2, Rng.fromSeed(1), { ...good, x: [0, Number.NaN] }),
    /field x\.1/,
  );
  assert.throws(
    () => createExploration({ type: 'ou' }, 3, Rng.fromSeed(1), good),
    /field x: 2 components, the action has 3/,
  );
  assert.throws(
    () =>
      createExploration({ type: 'gaussian' }, 2, Rng.fromSeed(1), { type: 'gaussian', episodes: -1, rng: good.rng }),
    /field episodes/,
  );
  const param = createExploration({ type: 'param' }, 2, Rng.fromSeed(1));
  const saved = param.toJSON();
  assert.equal(saved.lastDistance, null, 'no NaN in the saved state (JSON has none)');
  for (const stddev of [Number.NaN, 0, -0.1, Infinity, '0.1']) {
    assert.throws(
      () => createExploration({ type: 'param' }, 2, Rng.fromSeed(1), { ...saved, stddev }),
      (e: unknown) => e instanceof UserError && /field stddev/.test(e.message),
      `stddev ${String(stddev)}`,
    );
  }
  assert.throws(
    () => createExploration({ type: 'param' }, 2, Rng.fromSeed(1), { ...saved, rng: [0, 0, 0, 0] }),
    /field rng: an all-zero generator state/,
  );
  const { episodes: _drop, ...withoutEpisodes } = saved;
  assert.throws(() => createExploration({ type: 'param' }, 2, Rng.fromSeed(1), withoutEpisodes), /field episodes/);
  const resumed = createExploration(
    { type: 'param' },
    2,
    Rng.fromSeed(9),
    JSON.parse(JSON.stringify(saved)) as Record<string, unknown>,
  );
  assert.deepEqual(resumed.toJSON(), saved, 'a JSON round trip resumes');
});

test("config schemas: defaults are the paper's, bad values name the field", () => {
  const c = learnerConfigSchema.parse({});
  assert.equal(c.discount, 0.9);
  assert.equal(c.batchSize, 64);
  assert.equal(c.gradClipNorm, 0.005);
  assert.equal(c.replay.kind, 'prioritized');
  assert.equal(c.replay.alpha, 0.6);
  assert.equal(c.replay.beta0, 0.4);
  const td3 = learnerConfigFor('td3');
  assert.deepEqual([td3.twinCritics, td3.policyDelay, td3.targetPolicyNoise, td3.targetNoiseClip], [true, 2, 0.2, 0.5]);
  const d4pg = learnerConfigFor('d4pg', { replay: { capacity: 10 } });
  assert.deepEqual(
    [d4pg.distributional, d4pg.atoms, d4pg.nStep, d4pg.replay.kind, d4pg.replay.capacity],
    [true, 51, 5, 'prioritized', 10],
  );
  const ou = explorationConfigSchema.parse(undefined);
  assert.deepEqual(ou, { type: 'ou', theta: 0.6, sigma: 0.4, dt: 0.1, mu: 0, halfLifeEpisodes: 250 });
  assert.throws(
    () => parseWith(learnerConfigSchema, { replay: { alpha: 2 } }, 'config x.yaml'),
    (e: unknown) => e instanceof UserError && /field replay\.alpha/.test(e.message),
  );
  assert.throws(
    () => parseWith(learnerConfigSchema, { distributional: true, twinCritics: true }, 'config'),
    /field twinCritics: twin critics with a distributional critic/,
  );
  assert.throws(() => parseWith(learnerConfigSchema, { discout: 0.9 }, 'config'), /Unrecognized key/);
  assert.throws(() => parseWith(explorationConfigSchema, { type: 'ou', sigma: -1 }, 'config'), /field sigma/);
});
