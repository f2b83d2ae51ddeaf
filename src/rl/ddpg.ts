import * as tf from '@tensorflow/tfjs';
import type { LearnerConfig } from './config.js';
import type { Rng } from '../core/rng.js';
import {
  actorForward,
  actorVariables,
  allVariables,
  cloneActorCritic,
  createActorCritic,
  critic,
  criticVariables,
  criticForward,
  actionGradient,
  criticInputRequest,
  encoderBackward,
  featureGradient,
  featureParts,
  features,
  mlpBackward,
  mlpForwardTrace,
  type ActorCritic,
  type MlpNoise,
  type StateBatch,
} from './networks.js';
import type { TensorOps, Tensor } from './tensor-ops.js';
import { Adam, globalNorm, ParameterGroup, polyakUpdate } from './optimizer.js';
import {
  categoricalCrossEntropy,
  categoricalExpectation,
  categoricalProjection,
  categoricalSupport,
  smoothedTargetAction,
  td3Target,
  tdTarget,
} from './targets.js';

/**
 * One gradient update of the deterministic policy gradient family, written in the order of the
 * pseudo-code of DDPG (Lillicrap et al. 2016, Algorithm 1) with the TD3 switches (Fujimoto et al.
 * 2018, Algorithm 1: twin critics + min, delayed actor/target updates, target policy smoothing)
 * and the D4PG ones (Barth-Maron et al. 2018, Algorithm 1: n-step returns arrive in the batch,
 * categorical critic with the projected target and a cross-entropy loss, actor on its mean).
 *
 * The math runs on TensorOps (tensor-ops.ts: direct kernel calls on wasm and cpu, engine ops
 * elsewhere; withTensorOps' engine scope holds the pixel encoder's tensors); the only reads back
 * are one packed vector per network step (loss, gradients, ...), needed anyway to refuse a
 * non-finite step before it touches weights.
 */

export interface DdpgModel {
  readonly config: LearnerConfig;
  readonly online: ActorCritic;
  readonly target: ActorCritic;
  /** Host copies of the online actor, the online critics + encoder, and all target networks. */
  readonly actorParams: ParameterGroup;
  readonly criticParams: ParameterGroup;
  readonly targetParams: ParameterGroup;
  readonly actorOptimizer: Adam;
  readonly criticOptimizer: Adam;
  /** Categorical support z as [1, atoms] (distributional critics only). */
  readonly support: tf.Tensor2D | null;
}

/** Online and target networks (targets start as copies), their host parameters and optimisers. */
export function createDdpgModel(config: LearnerConfig, stateSize: number, actionSize: number, rng: Rng): DdpgModel {
  const online = createActorCritic(config, stateSize, actionSize, rng);
  const target = cloneActorCritic(online);
  const actorParams = new ParameterGroup(actorVariables(online));
  const criticParams = new ParameterGroup(criticVariables(online));
  return {
    config,
    online,
    target,
    actorParams,
    criticParams,
    targetParams: new ParameterGroup(allVariables(target)),
    actorOptimizer: new Adam(actorParams, { learningRate: config.actorLearningRate, clipNorm: config.gradClipNorm }),
    criticOptimizer: new Adam(criticParams, {
      learningRate: config.criticLearningRate,
      clipNorm: config.gradClipNorm,
      weightDecay: config.criticWeightDecay,
    }),
    support: config.distributional
      ? tf.tensor2d(categoricalSupport(config.vMin, config.vMax, config.atoms), [1, config.atoms])
      : null,
  };
}

/** A minibatch as tensors ([B] or [B, n]). `targetNoise` is eps ~ N(0, sigma) for target policy smoothing. */
export interface BatchTensors {
  readonly states: StateBatch;
  readonly actions: Tensor;
  readonly rewards: Tensor;
  /** gamma^m (1 - terminated) per transition. */
  readonly discounts: Tensor;
  readonly nextStates: StateBatch;
  /** Importance-sampling weights (ones for uniform replay). */
  readonly weights: Tensor;
  readonly targetNoise: Tensor | null;
  /** Host copies of rewards and discounts (the categorical projection runs on the host). */
  readonly host: { readonly rewards: Float32Array; readonly discounts: Float32Array };
  /**
   * Vector states only (no encoder): [s a 1]^T and [s 1]^T, [S + A + 1, B] and [S + 1, B]
   * (networks.ts withOnesTransposed), so that the first layers' weight and bias gradients of the
   * critics and of the actor are one matmul each (GradRequest.firstInputT). Optional: without
   * them the same gradients are computed op by op.
   */
  readonly stateActionOnesT?: Tensor | null;
  readonly stateOnesT?: Tensor | null;
  /** A NoisyNet actor's noise draw for this update's actor step (networks.ts MlpNoise); null: a plain actor. */
  readonly actorNoise?: MlpNoise | null;
}

export interface StepResult {
  /** 'critic': nothing was changed; 'actor': critics changed, actor and targets kept. */
  readonly skipped: 'critic' | 'actor' | null;
  readonly criticLoss: number;
  /** NaN when the actor was not updated this step (policy delay). */
  readonly actorLoss: number;
  readonly meanQ: number;
  readonly criticGradNorm: number;
  /** |TD error| per sample, for the priorities (for a categorical critic: of the means). */
  readonly tdErrors: Float32Array;
}

function allFinite(values: ArrayLike<number>): boolean {
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i] as number)) return false;
  return true;
}

/**
 * |delta_i| = |y_i - Q_1(s_i, a_i)| (the priorities' TD errors; for a categorical critic y and Q
 * are the means of the target and predicted distributions) and mean_i Q_1(s_i, a_i). The float32
 * difference of two float32 values computed in float64 rounds to the same float32.
 */
export function tdErrorsAndMean(
  targetMeans: ArrayLike<number>,
  q: ArrayLike<number>,
): { tdErrors: Float32Array; meanQ: number } {
  const tdErrors = new Float32Array(q.length);
  let sum = 0;
  for (let i = 0; i < q.length; i++) {
    tdErrors[i] = Math.abs((targetMeans[i] as number) - (q[i] as number));
    sum += q[i] as number;
  }
  return { tdErrors, meanQ: sum / q.length };
}

/** The Bellman target: y (scalar critics) or the projected distribution m (categorical). */
export interface BellmanTargets {
  readonly y: Tensor | null;
  readonly distribution: Tensor | null;
  /** y, or the mean of m: what TD errors are measured against. */
  readonly mean: Tensor;
}

/**
 * Targets from the target networks: y = r + d Q'(s', mu'(s')) (DDPG), with the min of twin
 * critics and a smoothed target action (TD3), or Phi T Z'(s', mu'(s')) (D4PG).
 */
export function bellmanTargets(ops: TensorOps, model: DdpgModel, batch: BatchTensors): BellmanTargets {
  const { config, target, support } = model;
  const batchSize = batch.rewards.shape[0] as number;
  const nextFeatures = features(ops, target, batch.nextStates);
  let nextActions = actorForward(ops, target, nextFeatures);
  if (batch.targetNoise)
    nextActions = smoothedTargetAction(ops, nextActions, batch.targetNoise, config.targetNoiseClip);
  if (support) {
    const nextProbs = ops.read(ops.softmax(criticForward(ops, target, 0, nextFeatures, nextActions)));
    const projected = categoricalProjection(
      nextProbs,
      batch.host.rewards,
      batch.host.discounts,
      config.vMin,
      config.vMax,
      config.atoms,
    );
    const distribution = ops.upload(projected, [batchSize, config.atoms]);
    return { y: null, distribution, mean: categoricalExpectation(ops, distribution, ops.borrow(support)) };
  }
  const nextQ = (k: number) => ops.view(criticForward(ops, target, k, nextFeatures, nextActions), [batchSize]);
  const y =
    target.critics.length === 2
      ? td3Target(ops, batch.rewards, batch.discounts, nextQ(0), nextQ(1))
      : tdTarget(ops, batch.rewards, batch.discounts, nextQ(0));
  return { y, distribution: null, mean: y };
}

export interface CriticGradients {
  /** sum over critics of mean_i w_i (Q_k(s_i, a_i) - y_i)^2, or mean_i w_i CE(m_i, Z(s_i, a_i)). */
  readonly loss: Tensor;
  /** Q_1(s, a) (the mean of Z for a categorical critic). */
  readonly q1: Tensor;
  /** dL/dtheta for the critics then the encoder: flattened and concatenated, in criticVariables order. */
  readonly grads: Tensor[];
}

/** The critic loss and its gradient by backpropagation (networks.ts mlpBackward). */
export function criticLossAndGradients(
  ops: TensorOps,
  model: DdpgModel,
  batch: BatchTensors,
  targets: BellmanTargets,
): CriticGradients {
  const { online, support } = model;
  const batchSize = batch.rewards.shape[0] as number;
  const pixels = online.encoder !== null && batch.states.images !== null;
  const feats = features(ops, online, batch.states);
  const weightsCol = ops.view(batch.weights, [batchSize, 1]);
  const grads: Tensor[] = [];
  const losses: Tensor[] = [];
  let q1: Tensor | null = null;
  let dFeatures: Tensor | null = null;
  for (const [k, net] of online.critics.entries()) {
    const trace = mlpForwardTrace(ops, net, [...featureParts(ops, online, feats), batch.actions]);
    const out = trace.output;
    let dOut: Tensor;
    if (support && targets.distribution) {
      // d CE / d logits = softmax(logits) - m  (m sums to 1)
      const probs = ops.softmax(out);
      if (k === 0) q1 = categoricalExpectation(ops, probs, ops.borrow(support));
      losses.push(ops.mean(ops.mul(batch.weights, categoricalCrossEntropy(ops, targets.distribution, out))));
      dOut = ops.mul(ops.sub(probs, targets.distribution), ops.scale(weightsCol, 1 / batchSize));
    } else {
      // d/dq of w (q - y)^2 / B = 2 w (q - y) / B
      const q = ops.view(out, [batchSize]);
      if (k === 0) q1 = q;
      const diff = ops.sub(q, targets.y as Tensor);
      losses.push(ops.mean(ops.mul(batch.weights, ops.square(diff))));
      dOut = ops.view(ops.mul(diff, ops.scale(batch.weights, 2 / batchSize)), [batchSize, 1]);
    }
    const g = mlpBackward(ops, net, trace, dOut, {
      params: true,
      inputs: criticInputRequest(online, pixels, false),
      firstInputT: pixels ? null : (batch.stateActionOnesT ?? null),
    });
    grads.push(...(g.params ?? []));
    const dFeat = featureGradient(ops, online, g.inputs);
    if (dFeat) dFeatures = dFeatures ? ops.add(dFeatures, dFeat) : dFeat;
  }
  if (pixels && online.encoder && batch.states.images && dFeatures) {
    // The encoder learns from the critic loss (SAC-AE / DrQ); its features lead the feature vector.
    // Its gradient is tfjs' autodiff on the engine: dL/dfeatures crosses over, the gradients come back.
    const size = online.encoder.head.layers[0]?.b.shape[0] ?? 0;
    const dEncoded = ops.toTensor<tf.Rank.R2>(ops.columns(dFeatures, 0, size));
    grads.push(...encoderBackward(online.encoder, batch.states.images, dEncoded).map((g) => ops.borrow(g)));
  }
  if (q1 === null) throw new RangeError('the model has no critic');
  const loss = losses.reduce((a, b) => ops.add(a, b));
  return { loss, q1, grads };
}

/**
 * The actor loss -mean_i Q_1(s_i, mu(s_i)) and its gradient, the deterministic policy gradient
 * grad J = mean_i grad_a Q_1(s_i, a)|a=mu(s_i) grad_theta mu(s_i) (Silver et al. 2014, eq. 9).
 * `feats` are constants: the actor's gradient stops at the encoder. `featsOnesT` is [feats 1]^T
 * when the host has it (GradRequest.firstInputT). `grads`: flattened and concatenated, in
 * actorVariables order.
 */
export function actorLossAndGradients(
  ops: TensorOps,
  model: DdpgModel,
  feats: Tensor,
  featsOnesT: Tensor | null = null,
  actorNoise: MlpNoise | null = null,
): { loss: Tensor; grads: Tensor[] } {
  const { online, support } = model;
  const batchSize = feats.shape[0] as number;
  const parts = featureParts(ops, online, feats);
  // A NoisyNet actor is trained through its noise draw (Fortunato et al. 2018: the loss of the
  // noisy network, so sigma learns how much noise pays).
  const actorTrace = mlpForwardTrace(ops, online.actor, parts, actorNoise);
  const critic1 = critic(online, 0);
  const criticTrace = mlpForwardTrace(ops, critic1, [...parts, actorTrace.output]);
  const out = criticTrace.output;
  let q: Tensor;
  let dOut: Tensor;
  if (support) {
    // Q = sum_j p_j z_j, dQ/dlogit_j = p_j (z_j - Q)
    const z = ops.borrow(support);
    const probs = ops.softmax(out);
    q = categoricalExpectation(ops, probs, z);
    dOut = ops.scale(ops.mul(probs, ops.sub(z, ops.view(q, [batchSize, 1]))), -1 / batchSize);
  } else {
    q = out;
    dOut = ops.upload(new Float32Array(batchSize).fill(-1 / batchSize), [batchSize, 1]);
  }
  const dAction = actionGradient(
    mlpBackward(ops, critic1, criticTrace, dOut, { params: false, inputs: criticInputRequest(online, false, true) })
      .inputs,
  ) as Tensor;
  let loss = ops.scale(ops.mean(q), -1);
  let dPreActivation: Tensor | null = null;
  const penalty = model.config.actorPreActivationPenalty;
  if (penalty > 0) {
    // + lambda mean_i sum_j u_ij^2 on the pre-tanh outputs u (rlkit's policy_pre_activation_weight):
    // dL/du = 2 lambda u / B. It keeps u where tanh still has a gradient, so an actor pushed to full
    // lock by an early, noisy critic can come back, and it makes the zero action the prior that
    // the critic must argue against.
    const u = actorTrace.outputPreActivation;
    loss = ops.add(loss, ops.scale(ops.mean(ops.sum(ops.square(u), 1)), penalty));
    dPreActivation = ops.scale(u, (2 * penalty) / batchSize);
  }
  const grads =
    mlpBackward(ops, online.actor, actorTrace, dAction, {
      params: true,
      inputs: [false],
      firstInputT: featsOnesT,
      dOutputPreActivation: dPreActivation,
    }).params ?? [];
  return { loss, grads };
}

/**
 * One update. `updateIndex` counts critic updates from 0 (the actor and the targets move when
 * updateIndex % policyDelay === policyDelay - 1, as in TD3's "if t mod d then"). Run it with the
 * ops of withTensorOps, whose engine scope frees the pixel encoder's tensors.
 */
export function ddpgStep(ops: TensorOps, model: DdpgModel, batch: BatchTensors, updateIndex: number): StepResult {
  const { config, online } = model;
  const batchSize = batch.rewards.shape[0] as number;
  const pixels = online.encoder !== null && batch.states.images !== null;

  // 1. Bellman targets from the target networks.
  const targets = bellmanTargets(ops, model, batch);

  // 2. Critic step on the (importance-weighted) TD loss; refuse it if anything is not finite.
  const critic = criticLossAndGradients(ops, model, batch, targets);
  // The targets and Q_1 come back whole: |TD error| and mean Q are a few host operations (three ops fewer).
  const criticRead = ops.readAll([critic.loss, targets.mean, critic.q1, ...critic.grads]);
  const criticLoss = criticRead[0] as number;
  const { tdErrors, meanQ } = tdErrorsAndMean(
    criticRead.subarray(1, 1 + batchSize),
    criticRead.subarray(1 + batchSize, 1 + 2 * batchSize),
  );
  const criticGrad = criticRead.subarray(1 + 2 * batchSize);
  const criticNorm = globalNorm(criticGrad);
  if (!allFinite(criticRead) || !Number.isFinite(criticNorm)) {
    return { skipped: 'critic', criticLoss, actorLoss: Number.NaN, meanQ, criticGradNorm: criticNorm, tdErrors };
  }
  model.criticOptimizer.apply(criticGrad, criticNorm);

  // 3. Every d-th update: actor step by the deterministic policy gradient (on the updated critic) ...
  if (updateIndex % config.policyDelay !== config.policyDelay - 1) {
    return { skipped: null, criticLoss, actorLoss: Number.NaN, meanQ, criticGradNorm: criticNorm, tdErrors };
  }
  const feats = pixels ? features(ops, online, batch.states) : batch.states.vectors;
  const actor = actorLossAndGradients(
    ops,
    model,
    feats,
    pixels ? null : (batch.stateOnesT ?? null),
    batch.actorNoise ?? null,
  );
  const actorRead = ops.readAll([actor.loss, ...actor.grads]);
  const actorLoss = actorRead[0] as number;
  const actorGrad = actorRead.subarray(1);
  const actorNorm = globalNorm(actorGrad);
  if (!allFinite(actorRead) || !Number.isFinite(actorNorm)) {
    return { skipped: 'actor', criticLoss, actorLoss, meanQ, criticGradNorm: criticNorm, tdErrors };
  }
  model.actorOptimizer.apply(actorGrad, actorNorm);

  // 4. ... and the targets: theta' <- tau theta + (1 - tau) theta' (actor, critics, encoder).
  polyakUpdate(model.targetParams, [model.actorParams, model.criticParams], config.tau);
  return { skipped: null, criticLoss, actorLoss, meanQ, criticGradNorm: criticNorm, tdErrors };
}

/** mu(s) for a batch of states, [B, actionSize] (under a NoisyNet actor's noise draw when given). */
export function policy(
  ops: TensorOps,
  net: ActorCritic,
  states: StateBatch,
  actorNoise: MlpNoise | null = null,
): Tensor {
  return actorForward(ops, net, features(ops, net, states), actorNoise);
}
