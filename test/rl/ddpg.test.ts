import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/core/backend.js';
import { Rng } from '../../src/core/rng.js';
import { learnerConfigFor, type Algorithm, type LearnerConfigInput } from '../../src/rl/config.js';
import {
  actorLossAndGradients,
  bellmanTargets,
  createDdpgModel,
  criticLossAndGradients,
  scoped,
  type BatchTensors,
  type DdpgModel,
} from '../../src/rl/ddpg.js';
import { actorVariables, criticVariables, type Mlp } from '../../src/rl/networks.js';
import { categoricalProjection, categoricalSupport } from '../../src/rl/targets.js';

await initBackend();

/**
 * The update checked against direct computations: targets and losses of a tiny network with fixed
 * weights against plain-JS arithmetic, and the hand-written backpropagation against tfjs' autodiff
 * of a straightforward tf.matMul implementation of the same losses.
 */

const S = 3;
const A = 2;
const B = 5;

function fixedWeights(model: DdpgModel): void {
  // Deterministic, distinct weights: theta_k = 0.3 sin(1.7 k + offset) for each network.
  const groups = [model.actorParams, model.criticParams, model.targetParams];
  groups.forEach((g, gi) => {
    for (let k = 0; k < g.values.length; k++) g.values[k] = 0.3 * Math.sin(1.7 * k + 0.9 * gi);
    g.push();
  });
}

function makeModel(algo: Algorithm, overrides: LearnerConfigInput = {}): DdpgModel {
  const config = learnerConfigFor(algo, { actorHidden: [4], criticHidden: [4, 3], atoms: 7, vMin: -3, vMax: 3, ...overrides });
  const model = createDdpgModel(config, S, A, Rng.fromSeed(1));
  fixedWeights(model);
  return model;
}

interface HostBatch {
  states: number[][];
  actions: number[][];
  rewards: number[];
  discounts: number[];
  nextStates: number[][];
  weights: number[];
  noise: number[][] | null;
}

function hostBatch(withNoise: boolean): HostBatch {
  const rng = Rng.fromSeed(4);
  const rows = (n: number, m: number, lo: number, hi: number) => Array.from({ length: n }, () => Array.from({ length: m }, () => rng.range(lo, hi)));
  return {
    states: rows(B, S, -1, 1),
    actions: rows(B, A, -1, 1),
    rewards: [0.5, -1, 0.25, 2, -0.5],
    discounts: [0.9, 0, 0.81, 0.9, 0.9],
    nextStates: rows(B, S, -1, 1),
    weights: [1, 0.5, 0.25, 1, 0.75],
    noise: withNoise ? rows(B, A, -0.8, 0.8) : null,
  };
}

function tensors(h: HostBatch): BatchTensors {
  return {
    states: { images: null, vectors: tf.tensor2d(h.states) },
    actions: tf.tensor2d(h.actions),
    rewards: tf.tensor1d(h.rewards),
    discounts: tf.tensor1d(h.discounts),
    nextStates: { images: null, vectors: tf.tensor2d(h.nextStates) },
    weights: tf.tensor1d(h.weights),
    targetNoise: h.noise ? tf.tensor2d(h.noise) : null,
    host: { rewards: Float32Array.from(h.rewards), discounts: Float32Array.from(h.discounts) },
  };
}

// ---- plain-JS forward pass of an MLP (relu hidden layers) ----

function jsMlp(mlp: Mlp, inputs: number[][]): number[] {
  let h: number[][] = inputs;
  mlp.layers.forEach((layer, li) => {
    const b = layer.b.arraySync() as number[];
    const z = b.map((bj, j) => bj + h.reduce((acc, x, part) => acc + x.reduce((s, xi, i) => s + xi * ((layer.ws[part]?.arraySync() as number[][])[i]?.[j] as number), 0), 0));
    const last = li === mlp.layers.length - 1;
    const act = last ? mlp.outputActivation : 'relu';
    h = [z.map((v) => (act === 'relu' ? Math.max(0, v) : act === 'tanh' ? Math.tanh(v) : v))];
  });
  return h[0] as number[];
}

function close(actual: ArrayLike<number>, expected: readonly number[], tol: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i] as number;
    const e = expected[i] as number;
    assert.ok(Math.abs(a - e) <= tol * Math.max(1, Math.abs(e)), `${what}[${i}]: ${a} vs ${e}`);
  }
}

test('DDPG target y = r + d Q\'(s\', mu\'(s\')) and critic loss match a direct computation', () => {
  const model = makeModel('ddpg');
  const h = hostBatch(false);
  const { y, loss, q1 } = scoped(() => {
    const batch = tensors(h);
    const targets = bellmanTargets(model, batch);
    const critic = criticLossAndGradients(model, batch, targets);
    return { y: targets.y?.dataSync().slice() ?? new Float32Array(), loss: critic.loss.dataSync()[0] as number, q1: critic.q1.dataSync().slice() };
  });
  const target = model.target;
  const expectedY = h.nextStates.map((s2, i) => {
    const a2 = jsMlp(target.actor, [s2]);
    const q = jsMlp(target.critics[0] as Mlp, [s2, a2])[0] as number;
    return (h.rewards[i] as number) + (h.discounts[i] as number) * q;
  });
  close(y, expectedY, 1e-5, 'y');
  const expectedQ = h.states.map((s, i) => jsMlp(model.online.critics[0] as Mlp, [s, h.actions[i] as number[]])[0] as number);
  close(q1, expectedQ, 1e-5, 'Q(s, a)');
  const expectedLoss = expectedQ.reduce((acc, q, i) => acc + (h.weights[i] as number) * (q - (expectedY[i] as number)) ** 2, 0) / B;
  close([loss], [expectedLoss], 1e-5, 'critic loss');
});

test('TD3 target: min of twin target critics at the smoothed target action', () => {
  const model = makeModel('td3');
  const h = hostBatch(true);
  const { y, loss } = scoped(() => {
    const batch = tensors(h);
    const targets = bellmanTargets(model, batch);
    return { y: targets.y?.dataSync().slice() ?? new Float32Array(), loss: criticLossAndGradients(model, batch, targets).loss.dataSync()[0] as number };
  });
  const target = model.target;
  const clip = (v: number, lo: number, hi: number) => Math.min(Math.max(v, lo), hi);
  const expectedY = h.nextStates.map((s2, i) => {
    const a2 = jsMlp(target.actor, [s2]).map((a, k) => clip(a + clip(h.noise?.[i]?.[k] as number, -0.5, 0.5), -1, 1));
    const q1 = jsMlp(target.critics[0] as Mlp, [s2, a2])[0] as number;
    const q2 = jsMlp(target.critics[1] as Mlp, [s2, a2])[0] as number;
    return (h.rewards[i] as number) + (h.discounts[i] as number) * Math.min(q1, q2);
  });
  close(y, expectedY, 1e-5, 'TD3 y');
  let expectedLoss = 0;
  for (const c of model.online.critics) {
    expectedLoss += h.states.reduce((acc, s, i) => acc + (h.weights[i] as number) * ((jsMlp(c, [s, h.actions[i] as number[]])[0] as number) - (expectedY[i] as number)) ** 2, 0) / B;
  }
  close([loss], [expectedLoss], 1e-5, 'sum of both critic losses');
});

test('D4PG target: the projected target distribution of Z\'(s\', mu\'(s\'))', () => {
  const model = makeModel('d4pg');
  const h = hostBatch(false);
  const m = scoped(() => bellmanTargets(model, tensors(h)).distribution?.dataSync().slice() ?? new Float32Array());
  const probs = h.nextStates.flatMap((s2) => {
    const logits = jsMlp(model.target.critics[0] as Mlp, [s2, jsMlp(model.target.actor, [s2])]);
    const mx = Math.max(...logits);
    const e = logits.map((l) => Math.exp(l - mx));
    const sum = e.reduce((a, b) => a + b, 0);
    return e.map((v) => v / sum);
  });
  close(m, [...categoricalProjection(probs, h.rewards, h.discounts, -3, 3, 7)], 1e-5, 'projected target');
});

/** Reference gradients: tfjs autodiff of the same loss written with tf.matMul + activations. */
function refForward(mlp: Mlp, inputs: tf.Tensor2D[]): tf.Tensor2D {
  let h = inputs;
  mlp.layers.forEach((layer, li) => {
    let z = tf.add(layer.b, h.map((x, p) => tf.matMul(x, layer.ws[p] as tf.Tensor2D)).reduce((a, b) => tf.add(a, b))) as tf.Tensor2D;
    const act = li === mlp.layers.length - 1 ? mlp.outputActivation : 'relu';
    z = act === 'relu' ? tf.relu(z) : act === 'tanh' ? tf.tanh(z) : z;
    h = [z];
  });
  return h[0] as tf.Tensor2D;
}

function referenceCriticGrads(model: DdpgModel, batch: BatchTensors, yOrM: tf.Tensor): tf.Tensor[] {
  const vars = criticVariables(model.online);
  const { grads } = tf.variableGrads(() => {
    const losses = model.online.critics.map((c) => {
      const out = refForward(c, [batch.states.vectors, batch.actions]);
      if (model.support) {
        const logp = tf.sub(out, tf.logSumExp(out, 1, true));
        return tf.mean(tf.mul(batch.weights, tf.neg(tf.sum(tf.mul(yOrM, logp), 1))));
      }
      return tf.mean(tf.mul(batch.weights, tf.square(tf.sub(tf.reshape(out, [-1]), yOrM))));
    });
    return losses.reduce((a, b) => tf.add(a, b)) as tf.Scalar;
  }, vars);
  return vars.map((v) => grads[v.name] as tf.Tensor);
}

function referenceActorGrads(model: DdpgModel, states: tf.Tensor2D): tf.Tensor[] {
  const vars = actorVariables(model.online);
  const { grads } = tf.variableGrads(() => {
    const a = refForward(model.online.actor, [states]);
    const out = refForward(model.online.critics[0] as Mlp, [states, a]);
    const q = model.support ? tf.sum(tf.mul(tf.softmax(out), model.support), 1) : out;
    return tf.neg(tf.mean(q)) as tf.Scalar;
  }, vars);
  return vars.map((v) => grads[v.name] as tf.Tensor);
}

for (const algo of ['ddpg', 'td3', 'd4pg'] as const) {
  test(`${algo}: hand-written critic and actor gradients match tfjs autodiff`, () => {
    const model = makeModel(algo);
    scoped(() => {
      const batch = tensors(hostBatch(algo === 'td3'));
      const targets = bellmanTargets(model, batch);
      const ours = criticLossAndGradients(model, batch, targets).grads;
      const ref = referenceCriticGrads(model, batch, (targets.distribution ?? targets.y) as tf.Tensor);
      assert.equal(ours.length, ref.length);
      ours.forEach((g, i) => close(g.dataSync(), [...(ref[i] as tf.Tensor).dataSync()], 1e-4, `critic grad ${i}`));
      const actorOurs = actorLossAndGradients(model, batch.states.vectors).grads;
      const actorRef = referenceActorGrads(model, batch.states.vectors);
      actorOurs.forEach((g, i) => close(g.dataSync(), [...(actorRef[i] as tf.Tensor).dataSync()], 1e-4, `actor grad ${i}`));
      // The gradients are not trivially zero.
      assert.ok(ours.some((g) => g.abs().max().dataSync()[0]! > 1e-4));
      assert.ok(actorOurs.some((g) => g.abs().max().dataSync()[0]! > 1e-4));
    });
  });
}

test('categorical support helper is consistent with the model support', () => {
  const model = makeModel('d4pg');
  close(model.support?.dataSync() ?? [], [...categoricalSupport(-3, 3, 7)], 0, 'support');
});
