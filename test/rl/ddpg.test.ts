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
  ddpgStep,
  type BatchTensors,
  type DdpgModel,
} from '../../src/rl/ddpg.js';
import type { TensorOps, Tensor as OpsTensor } from '../../src/rl/tensor-ops.js';
import { withTensorOps } from '../../src/rl/with-tensor-ops.js';
import { actorVariables, criticVariables, withOnesTransposed, type Mlp } from '../../src/rl/networks.js';
import { categoricalProjection, categoricalSupport } from '../../src/rl/targets.js';
import { close } from './close.js';

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
  const config = learnerConfigFor(algo, {
    actorHidden: [4],
    criticHidden: [4, 3],
    atoms: 7,
    vMin: -3,
    vMax: 3,
    ...overrides,
  });
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
  const rows = (n: number, m: number, lo: number, hi: number) =>
    Array.from({ length: n }, () => Array.from({ length: m }, () => rng.range(lo, hi)));
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

const flat = (rows: number[][]) => Float32Array.from(rows.flat());

/** The batch as the learner makes it; `onesT` adds [s a 1]^T and [s 1]^T (one-matmul first-layer gradients). */
function tensors(ops: TensorOps, h: HostBatch, onesT = false): BatchTensors {
  return {
    stateActionOnesT: onesT
      ? ops.upload(withOnesTransposed([flat(h.states), flat(h.actions)], [S, A], B), [S + A + 1, B])
      : null,
    stateOnesT: onesT ? ops.upload(withOnesTransposed([flat(h.states)], [S], B), [S + 1, B]) : null,
    states: { images: null, vectors: ops.upload(flat(h.states), [B, S]) },
    actions: ops.upload(flat(h.actions), [B, A]),
    rewards: ops.upload(Float32Array.from(h.rewards), [B]),
    discounts: ops.upload(Float32Array.from(h.discounts), [B]),
    nextStates: { images: null, vectors: ops.upload(flat(h.nextStates), [B, S]) },
    weights: ops.upload(Float32Array.from(h.weights), [B]),
    targetNoise: h.noise ? ops.upload(flat(h.noise), [B, A]) : null,
    host: { rewards: Float32Array.from(h.rewards), discounts: Float32Array.from(h.discounts) },
  };
}

/** The batch as engine tensors, for the autodiff references. */
function engineTensors(h: HostBatch): { states: tf.Tensor2D; actions: tf.Tensor2D; weights: tf.Tensor1D } {
  return { states: tf.tensor2d(h.states), actions: tf.tensor2d(h.actions), weights: tf.tensor1d(h.weights) };
}

// ---- plain-JS forward pass of an MLP (relu hidden layers) ----

function jsMlp(mlp: Mlp, inputs: number[][]): number[] {
  let h: number[][] = inputs;
  mlp.layers.forEach((layer, li) => {
    const b = layer.b.arraySync() as number[];
    const z = b.map(
      (bj, j) =>
        bj +
        h.reduce(
          (acc, x, part) =>
            acc + x.reduce((s, xi, i) => s + xi * ((layer.ws[part]?.arraySync() as number[][])[i]?.[j] as number), 0),
          0,
        ),
    );
    const last = li === mlp.layers.length - 1;
    const act = last ? mlp.outputActivation : 'relu';
    h = [z.map((v) => (act === 'relu' ? Math.max(0, v) : act === 'tanh' ? Math.tanh(v) : v))];
  });
  return h[0] as number[];
}

test("DDPG target y = r + d Q'(s', mu'(s')) and critic loss match a direct computation", () => {
  const model = makeModel('ddpg');
  const h = hostBatch(false);
  const { y, loss, q1 } = withTensorOps((ops) => {
    const batch = tensors(ops, h);
    const targets = bellmanTargets(ops, model, batch);
    const critic = criticLossAndGradients(ops, model, batch, targets);
    return {
      y: targets.y ? ops.read(targets.y) : new Float32Array(),
      loss: ops.read(critic.loss)[0] as number,
      q1: ops.read(critic.q1),
    };
  });
  const target = model.target;
  const expectedY = h.nextStates.map((s2, i) => {
    const a2 = jsMlp(target.actor, [s2]);
    const q = jsMlp(target.critics[0] as Mlp, [s2, a2])[0] as number;
    return (h.rewards[i] as number) + (h.discounts[i] as number) * q;
  });
  close(y, expectedY, 1e-5, 'y');
  const expectedQ = h.states.map(
    (s, i) => jsMlp(model.online.critics[0] as Mlp, [s, h.actions[i] as number[]])[0] as number,
  );
  close(q1, expectedQ, 1e-5, 'Q(s, a)');
  const expectedLoss =
    expectedQ.reduce((acc, q, i) => acc + (h.weights[i] as number) * (q - (expectedY[i] as number)) ** 2, 0) / B;
  close([loss], [expectedLoss], 1e-5, 'critic loss');
});

test('TD3 target: min of twin target critics at the smoothed target action', () => {
  const model = makeModel('td3');
  const h = hostBatch(true);
  const { y, loss } = withTensorOps((ops) => {
    const batch = tensors(ops, h);
    const targets = bellmanTargets(ops, model, batch);
    return {
      y: targets.y ? ops.read(targets.y) : new Float32Array(),
      loss: ops.read(criticLossAndGradients(ops, model, batch, targets).loss)[0] as number,
    };
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
    expectedLoss +=
      h.states.reduce(
        (acc, s, i) =>
          acc +
          (h.weights[i] as number) *
            ((jsMlp(c, [s, h.actions[i] as number[]])[0] as number) - (expectedY[i] as number)) ** 2,
        0,
      ) / B;
  }
  close([loss], [expectedLoss], 1e-5, 'sum of both critic losses');
});

test("D4PG target: the projected target distribution of Z'(s', mu'(s'))", () => {
  const model = makeModel('d4pg');
  const h = hostBatch(false);
  const m = withTensorOps((ops) => {
    const distribution = bellmanTargets(ops, model, tensors(ops, h)).distribution;
    return distribution ? ops.read(distribution) : new Float32Array();
  });
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
    let z = tf.add(
      layer.b,
      h.map((x, p) => tf.matMul(x, layer.ws[p] as tf.Tensor2D)).reduce((a, b) => tf.add(a, b)),
    ) as tf.Tensor2D;
    const act = li === mlp.layers.length - 1 ? mlp.outputActivation : 'relu';
    z = act === 'relu' ? tf.relu(z) : act === 'tanh' ? tf.tanh(z) : z;
    h = [z];
  });
  return h[0] as tf.Tensor2D;
}

function referenceCriticGrads(model: DdpgModel, batch: ReturnType<typeof engineTensors>, yOrM: tf.Tensor): tf.Tensor[] {
  const vars = criticVariables(model.online);
  const { grads } = tf.variableGrads(() => {
    const losses = model.online.critics.map((c) => {
      const out = refForward(c, [batch.states, batch.actions]);
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

/** A list of gradient tensors flattened end to end (the layout the optimiser reads). */
function flatGrads(grads: readonly tf.Tensor[]): number[] {
  return grads.flatMap((g) => [...(g.dataSync() as Float32Array)]);
}

/** The same for gradients from the learner's tensor ops. */
function flatOps(ops: TensorOps, grads: readonly OpsTensor[]): number[] {
  return [...ops.readAll(grads)];
}

for (const algo of ['ddpg', 'td3', 'd4pg'] as const) {
  for (const onesT of [false, true]) {
    test(`${algo}: hand-written critic and actor gradients match tfjs autodiff (${onesT ? 'first layers by one matmul with [x 1]^T' : 'op by op'})`, () => {
      const model = makeModel(algo);
      withTensorOps((ops) => {
        const h = hostBatch(algo === 'td3');
        const batch = tensors(ops, h, onesT);
        const reference = engineTensors(h);
        const targets = bellmanTargets(ops, model, batch);
        const ours = flatOps(ops, criticLossAndGradients(ops, model, batch, targets).grads);
        const yOrM = (targets.distribution ?? targets.y) as OpsTensor;
        const ref = referenceCriticGrads(model, reference, tf.tensor(ops.read(yOrM), yOrM.shape));
        close(ours, flatGrads(ref), 1e-4, 'critic gradient');
        const actorOurs = flatOps(
          ops,
          actorLossAndGradients(ops, model, batch.states.vectors, batch.stateOnesT ?? null).grads,
        );
        const actorRef = referenceActorGrads(model, reference.states);
        close(actorOurs, flatGrads(actorRef), 1e-4, 'actor gradient');
        // The gradients are not trivially zero.
        assert.ok(ours.some((g) => Math.abs(g) > 1e-4));
        assert.ok(actorOurs.some((g) => Math.abs(g) > 1e-4));
      });
    });
  }
}

test('actor pre-activation penalty: loss -mean Q + lambda mean_i ||u_i||^2 and its gradient match tfjs autodiff', () => {
  const lambda = 0.7;
  const model = makeModel('ddpg', { actorPreActivationPenalty: lambda });
  withTensorOps((ops) => {
    const h = hostBatch(false);
    const batch = tensors(ops, h);
    const states = engineTensors(h).states;
    const vars = actorVariables(model.online);
    const actor = model.online.actor;
    const reference = tf.variableGrads(() => {
      // u: the actor's last layer before tanh, written with plain ops.
      const hidden = refForward({ layers: actor.layers.slice(0, -1), outputActivation: 'relu' }, [states]);
      const last = actor.layers[actor.layers.length - 1] as Mlp['layers'][number];
      const u = tf.add(tf.matMul(hidden, last.ws[0] as tf.Tensor2D), last.b) as tf.Tensor2D;
      const q = refForward(model.online.critics[0] as Mlp, [states, tf.tanh(u)]);
      return tf.add(tf.neg(tf.mean(q)), tf.mul(lambda, tf.mean(tf.sum(tf.square(u), 1)))) as tf.Scalar;
    }, vars);
    const ours = actorLossAndGradients(ops, model, batch.states.vectors);
    close([ops.read(ours.loss)[0] as number], [reference.value.dataSync()[0] as number], 1e-5, 'penalised actor loss');
    const oursFlat = flatOps(ops, ours.grads);
    close(oursFlat, flatGrads(vars.map((v) => reference.grads[v.name] as tf.Tensor)), 1e-4, 'penalised actor gradient');
    // The penalty changes the gradient (the test would pass trivially with lambda ignored otherwise).
    const plain = flatOps(ops, actorLossAndGradients(ops, makeModel('ddpg'), batch.states.vectors).grads);
    assert.ok(oursFlat.some((g, i) => Math.abs(g - (plain[i] as number)) > 1e-4));
  });
});

test('withOnesTransposed: [x_1 x_2 1]^T by hand', () => {
  // x_1 = [[1, 2], [3, 4], [5, 6]] (B = 3, width 2), x_2 = [[7], [8], [9]]
  const out = withOnesTransposed([Float32Array.of(1, 2, 3, 4, 5, 6), Float32Array.of(7, 8, 9)], [2, 1], 3);
  assert.deepEqual([...out], [1, 3, 5, 2, 4, 6, 7, 8, 9, 1, 1, 1]);
  assert.throws(() => withOnesTransposed([new Float32Array(5)], [2], 3), /input part 0 has 5 values, expected 3 x 2/);
});

test('categorical support helper is consistent with the model support', () => {
  const model = makeModel('d4pg');
  close(model.support?.dataSync() ?? [], [...categoricalSupport(-3, 3, 7)], 0, 'support');
});

test('D4PG critic loss: mean_i w_i * -sum_j m_ij log softmax(Z(s_i, a_i))_j matches a direct computation', () => {
  const model = makeModel('d4pg');
  const h = hostBatch(false);
  const { loss, q1, m } = withTensorOps((ops) => {
    const batch = tensors(ops, h);
    const targets = bellmanTargets(ops, model, batch);
    const critic = criticLossAndGradients(ops, model, batch, targets);
    return {
      loss: ops.read(critic.loss)[0] as number,
      q1: ops.read(critic.q1),
      m: targets.distribution ? ops.read(targets.distribution) : new Float32Array(),
    };
  });
  const softmax = (logits: number[]) => {
    const mx = Math.max(...logits);
    const e = logits.map((l) => Math.exp(l - mx));
    const sum = e.reduce((a, b) => a + b, 0);
    return e.map((v) => v / sum);
  };
  // The projected target m, from the target networks in plain JS (checked against C51 in targets.test.ts).
  const nextProbs = h.nextStates.flatMap((s2) =>
    softmax(jsMlp(model.target.critics[0] as Mlp, [s2, jsMlp(model.target.actor, [s2])])),
  );
  const expectedM = [...categoricalProjection(nextProbs, h.rewards, h.discounts, -3, 3, 7)];
  close(m, expectedM, 1e-5, 'm');
  const z = [...categoricalSupport(-3, 3, 7)];
  let expectedLoss = 0;
  const expectedQ: number[] = [];
  h.states.forEach((s, i) => {
    const logits = jsMlp(model.online.critics[0] as Mlp, [s, h.actions[i] as number[]]);
    const logSumExp = Math.log(logits.reduce((a, l) => a + Math.exp(l), 0));
    const ce = -logits.reduce((acc, l, j) => acc + (expectedM[i * 7 + j] as number) * (l - logSumExp), 0);
    expectedLoss += ((h.weights[i] as number) * ce) / B;
    expectedQ.push(softmax(logits).reduce((acc, p, j) => acc + p * (z[j] as number), 0));
  });
  assert.ok(expectedLoss > 0.5, `a non-trivial loss (${expectedLoss})`);
  close([loss], [expectedLoss], 1e-5, 'cross-entropy loss');
  close(q1, expectedQ, 1e-5, 'Q = sum_j p_j z_j');
});

/** Host copies and the variables themselves, per group: what an update may or may not touch. */
function parameterState(model: DdpgModel): { actor: number[]; critic: number[]; target: number[] } {
  const read = (vars: readonly tf.Variable[]) => vars.flatMap((v) => [...(v.dataSync() as Float32Array)]);
  const { actorParams, criticParams, targetParams } = model;
  for (const g of [actorParams, criticParams, targetParams])
    assert.deepEqual([...g.values], read(g.variables), 'host copy = variables');
  return { actor: [...actorParams.values], critic: [...criticParams.values], target: [...targetParams.values] };
}

test('policy delay: actor and targets change only on every d-th update, the critic on every one', () => {
  const model = makeModel('td3', { policyDelay: 3, tau: 0.1 });
  const h = hostBatch(true);
  for (let update = 0; update < 6; update++) {
    const before = parameterState(model);
    const actorSteps = model.actorOptimizer.step;
    const result = withTensorOps((ops) => ddpgStep(ops, model, tensors(ops, h, true), update));
    const after = parameterState(model);
    assert.equal(result.skipped, null);
    assert.notDeepEqual(after.critic, before.critic, `update ${update}: the critics step every time`);
    if (update % 3 === 2) {
      assert.ok(Number.isFinite(result.actorLoss), `update ${update}: actor step`);
      assert.notDeepEqual(after.actor, before.actor, `update ${update}: the actor moves`);
      assert.notDeepEqual(after.target, before.target, `update ${update}: the targets move`);
      assert.equal(model.actorOptimizer.step, actorSteps + 1);
      // theta' <- tau theta + (1 - tau) theta', with theta the actor and critics after this update's steps.
      const online = [...after.actor, ...after.critic];
      close(
        after.target,
        before.target.map((t, i) => t + 0.1 * ((online[i] as number) - t)),
        1e-6,
        `update ${update}: Polyak`,
      );
    } else {
      assert.ok(Number.isNaN(result.actorLoss), `update ${update}: no actor loss on a delayed step`);
      assert.deepEqual(after.actor, before.actor, `update ${update}: actor unchanged`);
      assert.deepEqual(after.target, before.target, `update ${update}: targets unchanged`);
      assert.equal(model.actorOptimizer.step, actorSteps, `update ${update}: no actor Adam step`);
    }
  }
  assert.equal(model.criticOptimizer.step, 6);
  assert.equal(model.actorOptimizer.step, 2);
});

test('a non-finite actor step is skipped: the critic step stays, actor and targets are untouched', () => {
  const model = makeModel('ddpg');
  // A NaN in the online actor's output bias: mu(s) and the actor's gradient are NaN (the loss may
  // stay finite: relu in the critic maps NaN to 0 on some backends), while
  // the critic step reads only the online critic and the (finite) target networks.
  model.actorParams.values[model.actorParams.size - 1] = Number.NaN;
  model.actorParams.push();
  const before = parameterState(model);
  const steps = [model.actorOptimizer.step, model.criticOptimizer.step];
  const actorMoments = model.actorOptimizer.state();
  const result = withTensorOps((ops) => ddpgStep(ops, model, tensors(ops, hostBatch(false)), 0));
  const after = parameterState(model);
  assert.equal(result.skipped, 'actor');
  assert.ok(Number.isFinite(result.criticLoss) && Number.isFinite(result.criticGradNorm));
  assert.notDeepEqual(after.critic, before.critic, 'the critic step was applied');
  assert.deepEqual(after.actor, before.actor, 'actor unchanged (its NaN included)');
  assert.deepEqual(after.target, before.target, 'targets unchanged');
  assert.ok(after.target.every(Number.isFinite), 'no NaN reached the targets');
  assert.deepEqual([model.actorOptimizer.step, model.criticOptimizer.step], [steps[0], (steps[1] as number) + 1]);
  assert.deepEqual(model.actorOptimizer.state(), actorMoments, 'actor Adam moments unchanged');
});
