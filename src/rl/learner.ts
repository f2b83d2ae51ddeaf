import * as tf from '@tensorflow/tfjs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { z } from 'zod';
import { parseWith } from '../core/config.js';
import { UserError } from '../core/errors.js';
import { readJson, writeJsonSafely } from '../core/files.js';
import { log } from '../core/logger.js';
import { Rng } from '../core/rng.js';
import { loadNamedTensors, saveNamedTensors } from '../core/tfjs-io.js';
import { learnerConfigSchema, rngStateSchema, type LearnerConfig, type LearnerConfigInput } from './config.js';
import { createDdpgModel, ddpgStep, policy, type BatchTensors, type DdpgModel, type StepResult } from './ddpg.js';
import type { TensorOps, Tensor as OpsTensor } from './tensor-ops.js';
import { withTensorOps } from './with-tensor-ops.js';
import { NStepAccumulator } from './n-step.js';
import {
  disposeActorCritic,
  mlpMeanVariables,
  mlpVariables,
  sampleMlpNoise,
  uploadMlpNoise,
  type HostNoiseLayer,
  namedVariables,
  stateLayout,
  variableFrom,
  withOnesTransposed,
  type ActorCritic,
  type Mlp,
  type StateBatch,
} from './networks.js';
import type { AdamState } from './optimizer.js';
import { ReplayBuffer, type ReplayMark, type SampledBatch } from './replay.js';
import type {
  Learner,
  LearnerSnapshot,
  NoisyPolicy,
  PerturbablePolicy,
  PolicyWeights,
  Transition,
  UpdateOptions,
  UpdateStats,
} from './types.js';

/**
 * The learner: DDPG with the TD3 and D4PG switches (see ddpg.ts), replay, n-step windows per
 * actor, snapshots for undo and checkpoints for resuming. Construct with createLearner.
 */

const FORMAT = 'daydrive-learner-v1';
/**
 * Default work between two yields to the event loop inside `update`, ms: a tenth of the 100 ms
 * policy period, so a policy tick or a safety-driver message arriving during the ROS node's
 * between-episode optimisation waits about one command's compute time, not a policy period. A
 * fixed count of updates cannot promise that: 25 DDPG updates took 350 ms and more on a loaded
 * 2-core machine. A yield costs microseconds.
 */
export const UPDATE_SLICE_MS = 10;

interface Snapshot extends LearnerSnapshot {
  readonly owner: DeterministicPolicyGradientLearner;
  /** Host copies of the online actor, online critics + encoder, and the targets. */
  readonly actor: Float32Array;
  readonly critic: Float32Array;
  readonly target: Float32Array;
  readonly actorOptimizer: AdamState;
  readonly criticOptimizer: AdamState;
  readonly replay: ReplayMark;
  readonly updates: number;
  readonly rng: number[];
  disposed: boolean;
}

/** learner.json as save() writes it (`config` is informational: the tensors' shapes are what must match). */
const learnerMetaSchema = z.object({
  format: z.literal(FORMAT),
  stateSize: z.number().int().min(1),
  actionSize: z.number().int().min(1),
  config: z.record(z.string(), z.unknown()),
  updates: z.number().int().min(0),
  actorOptimizerStep: z.number().int().min(0),
  criticOptimizerStep: z.number().int().min(0),
  rng: rngStateSchema,
  pendingNStepTransitions: z.number().int().min(0).optional(),
});

/** A loaded tensor's values: finite (and >= 0 where asked), else a UserError naming `what` and the index. */
function checkFiniteValues(values: ArrayLike<number>, what: string, nonNegative = false): void {
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    if (!Number.isFinite(v) || (nonNegative && v < 0))
      throw new UserError(`${what}: value ${i} is ${v}: must be finite${nonNegative ? ' and >= 0' : ''}`);
  }
}

function checkFinite(values: ArrayLike<number>, field: string, expectedLength?: number): void {
  if (expectedLength !== undefined && values.length !== expectedLength) {
    throw new RangeError(`${field} has ${values.length} components, expected ${expectedLength}`);
  }
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i] as number))
      throw new RangeError(`${field}[${i}] is ${values[i]}: transitions must be finite`);
  }
}

class DeterministicPolicyGradientLearner implements Learner, PerturbablePolicy, NoisyPolicy, PolicyWeights {
  readonly config: LearnerConfig;
  private readonly online: ActorCritic;
  private readonly target: ActorCritic;
  private readonly model: DdpgModel;
  private readonly replay: ReplayBuffer;
  private readonly accumulators = new Map<number, NStepAccumulator>();
  private readonly imageSize: number;
  private readonly vectorSize: number;
  private rng: Rng;
  /** Critic updates so far (drives the policy delay). */
  private updates = 0;
  /** The behaviour policy of parameter-space noise, redrawn by perturbPolicy. */
  private perturbed: Mlp | null = null;
  /** A second perturbed copy, redrawn to measure the distance that adapts the std. */
  private adaptive: Mlp | null = null;
  private latestSnapshot: Snapshot | null = null;
  private disposed = false;
  /** NoisyNet: the acting noise draw (null: act with the mean until the first draw). */
  private actingNoise: (HostNoiseLayer | null)[] | null = null;
  readonly hasNoisyActor: boolean;

  constructor(
    config: LearnerConfig,
    readonly stateSize: number,
    readonly actionSize: number,
    rng: Rng,
  ) {
    if (!Number.isInteger(stateSize) || stateSize < 1)
      throw new RangeError(`stateSize must be a positive integer, got ${stateSize}`);
    if (!Number.isInteger(actionSize) || actionSize < 1)
      throw new RangeError(`actionSize must be a positive integer, got ${actionSize}`);
    this.config = config;
    this.rng = rng;
    const layout = stateLayout(config, stateSize);
    this.imageSize = layout.imageSize;
    this.vectorSize = layout.vectorSize;
    this.model = createDdpgModel(config, stateSize, actionSize, rng);
    this.online = this.model.online;
    this.target = this.model.target;
    this.replay = new ReplayBuffer(config.replay, { stateSize, actionSize, imageSize: this.imageSize });
    this.hasNoisyActor = config.noisyActorSigma0 !== null;
  }

  // ---- acting ----

  act(state: Float32Array): Float32Array {
    checkFinite(state, 'state', this.stateSize);
    return this.actWith(this.online, state);
  }

  actPerturbed(state: Float32Array): Float32Array {
    checkFinite(state, 'state', this.stateSize);
    if (!this.perturbed) return this.actWith(this.online, state);
    return this.actWith({ ...this.online, actor: this.perturbed }, state);
  }

  resampleActingNoise(rng: Rng): void {
    this.assertAlive();
    this.actingNoise = sampleMlpNoise(this.online.actor, rng);
  }

  actNoisy(state: Float32Array): Float32Array {
    checkFinite(state, 'state', this.stateSize);
    const host = this.actingNoise;
    if (!host) return this.actWith(this.online, state);
    return withTensorOps((ops) =>
      ops.read(policy(ops, this.online, this.stateBatch(ops, state, 1), uploadMlpNoise(ops, this.online.actor, host))),
    );
  }

  private actWith(net: ActorCritic, state: Float32Array): Float32Array {
    return withTensorOps((ops) => ops.read(policy(ops, net, this.stateBatch(ops, state, 1))));
  }

  // ---- experience ----

  observe(t: Transition, actorId = 0): void {
    checkFinite(t.state, 'state', this.stateSize);
    checkFinite(t.action, 'action', this.actionSize);
    checkFinite([t.reward], 'reward');
    checkFinite(t.nextState, 'nextState', this.stateSize);
    if (this.imageSize > 0) {
      for (const [field, s] of [
        ['state', t.state],
        ['nextState', t.nextState],
      ] as const) {
        for (let i = 0; i < this.imageSize; i++) {
          const v = s[i] as number;
          if (v < 0 || v > 1) throw new RangeError(`${field}[${i}] is ${v}: image components must lie in [0, 1]`);
        }
      }
    }
    for (let i = 0; i < t.action.length; i++) {
      const a = t.action[i] as number;
      if (a < -1 || a > 1) throw new RangeError(`action[${i}] is ${a}: actions must lie in [-1, 1]`);
    }
    // Copies: callers may reuse their buffers.
    const copy: Transition = {
      state: Float32Array.from(t.state),
      action: Float32Array.from(t.action),
      reward: t.reward,
      nextState: Float32Array.from(t.nextState),
      terminated: t.terminated,
    };
    for (const stored of this.accumulator(actorId).push(copy)) this.replay.add(stored);
  }

  endEpisode(actorId?: number): void {
    const ids = actorId === undefined ? [...this.accumulators.keys()] : [actorId];
    for (const id of ids) {
      const acc = this.accumulators.get(id);
      if (acc) for (const stored of acc.flush()) this.replay.add(stored);
    }
  }

  replaySize(): number {
    return this.replay.size;
  }

  private accumulator(actorId: number): NStepAccumulator {
    let acc = this.accumulators.get(actorId);
    if (!acc) {
      acc = new NStepAccumulator(this.config.nStep, this.config.discount);
      this.accumulators.set(actorId, acc);
    }
    return acc;
  }

  // ---- learning ----

  async update(steps: number, options: UpdateOptions = {}): Promise<UpdateStats> {
    this.assertAlive();
    if (!Number.isInteger(steps) || steps < 0)
      throw new RangeError(`update steps must be a non-negative integer, got ${steps}`);
    const sliceMs = options.sliceMs ?? UPDATE_SLICE_MS;
    if (!(sliceMs >= 0)) throw new RangeError(`sliceMs must be >= 0, got ${sliceMs}`);
    const { onProgress, signal } = options;
    let done = 0;
    let skipped = 0;
    let criticLoss = 0;
    let actorLoss = 0;
    let actorUpdates = 0;
    let meanQ = 0;
    if (this.replay.size === 0)
      return { updates: 0, criticLoss: Number.NaN, actorLoss: Number.NaN, meanQ: Number.NaN, skipped: 0 };
    let lastYield = performance.now();
    for (let i = 0; i < steps && !signal?.aborted; i++) {
      const sample = this.replay.sample(this.config.batchSize, this.rng);
      // Frees the batch, every intermediate and the engine's part (image batches, the encoder's tensors).
      const result: StepResult = withTensorOps((ops) =>
        ddpgStep(ops, this.model, this.batchTensors(ops, sample), this.updates),
      );
      if (result.skipped !== null) {
        skipped += 1;
        log.warn(
          {
            update: this.updates,
            criticLoss: result.criticLoss,
            actorLoss: result.actorLoss,
            criticGradNorm: result.criticGradNorm,
          },
          `non-finite ${result.skipped} loss or gradient: ${result.skipped === 'critic' ? 'update' : 'actor and target update'} skipped, last good weights kept`,
        );
      }
      if (result.skipped !== 'critic') {
        // The critic step was applied: priorities follow its TD errors, the update counts.
        this.replay.updatePriorities(sample.indices, result.tdErrors);
        this.updates += 1;
        done += 1;
        criticLoss += result.criticLoss;
        meanQ += result.meanQ;
        if (Number.isFinite(result.actorLoss)) {
          actorLoss += result.actorLoss;
          actorUpdates += 1;
        }
      }
      onProgress?.(i + 1);
      // Yield only with work left (the caller gets the loop back at the end anyway). setImmediate,
      // not a resolved promise: the loop goes round once (timers, then the poll phase that
      // delivers messages) before the next update.
      if (i + 1 < steps && performance.now() - lastYield > sliceMs) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        // Whoever ran meanwhile may have aborted (checked by the loop) or disposed the learner.
        if (!signal?.aborted) this.assertAlive();
        lastYield = performance.now();
      }
    }
    return {
      updates: done,
      criticLoss: done > 0 ? criticLoss / done : Number.NaN,
      actorLoss: actorUpdates > 0 ? actorLoss / actorUpdates : Number.NaN,
      meanQ: done > 0 ? meanQ / done : Number.NaN,
      skipped,
    };
  }

  /** Critic updates applied so far. */
  get updateCount(): number {
    return this.updates;
  }

  /** The sample as tensors of `ops` (images as engine tensors: the encoder reads them through tfjs autodiff). */
  private batchTensors(ops: TensorOps, sample: SampledBatch): BatchTensors {
    const b = sample.size;
    const { actionSize, config } = this;
    let targetNoise: OpsTensor | null = null;
    if (config.targetPolicyNoise > 0) {
      const noise = new Float32Array(b * actionSize);
      for (let i = 0; i < noise.length; i++) noise[i] = this.rng.normal() * config.targetPolicyNoise;
      targetNoise = ops.upload(noise, [b, actionSize]);
    }
    const vectorsOnly = !config.imageShape;
    const { stateSize } = this;
    return {
      states: this.stateBatch(ops, sample.states, b),
      actions: ops.upload(sample.actions, [b, actionSize]),
      stateActionOnesT: vectorsOnly
        ? ops.upload(withOnesTransposed([sample.states, sample.actions], [stateSize, actionSize], b), [
            stateSize + actionSize + 1,
            b,
          ])
        : null,
      stateOnesT: vectorsOnly
        ? ops.upload(withOnesTransposed([sample.states], [stateSize], b), [stateSize + 1, b])
        : null,
      rewards: ops.upload(sample.rewards, [b]),
      discounts: ops.upload(sample.discounts, [b]),
      nextStates: this.stateBatch(ops, sample.nextStates, b),
      weights: ops.upload(sample.weights, [b]),
      targetNoise,
      host: { rewards: sample.rewards, discounts: sample.discounts },
      // A fresh draw per update (Fortunato et al. 2018, Algorithm 1), only on updates that train the actor.
      actorNoise:
        this.hasNoisyActor && this.updates % config.policyDelay === config.policyDelay - 1
          ? uploadMlpNoise(ops, this.online.actor, sampleMlpNoise(this.online.actor, this.rng))
          : null,
    };
  }

  /** Flat rows [b * stateSize] -> images [b, h, w, c] (an engine tensor, for the encoder) + vectors [b, vectorSize]. */
  private stateBatch(ops: TensorOps, flat: Float32Array, b: number): StateBatch {
    const shape = this.config.imageShape;
    if (!shape) return { images: null, vectors: ops.upload(flat, [b, this.stateSize]) };
    const { imageSize, vectorSize, stateSize } = this;
    const images = new Float32Array(b * imageSize);
    const vectors = new Float32Array(b * vectorSize);
    for (let k = 0; k < b; k++) {
      images.set(flat.subarray(k * stateSize, k * stateSize + imageSize), k * imageSize);
      vectors.set(flat.subarray(k * stateSize + imageSize, (k + 1) * stateSize), k * vectorSize);
    }
    return {
      images: tf.tensor4d(images, [b, shape[0], shape[1], shape[2]]),
      vectors: ops.upload(vectors, [b, vectorSize]),
    };
  }

  // ---- parameter-space noise ----

  perturbPolicy(stddev: number, rng: Rng): void {
    this.assertAlive();
    this.perturbed = this.perturbedCopy(this.perturbed, stddev, rng);
  }

  perturbationDistance(stddev: number, batchSize: number, rng: Rng): number {
    this.assertAlive();
    if (!Number.isInteger(batchSize) || batchSize < 1)
      throw new RangeError(`perturbation batch size must be a positive integer, got ${batchSize}`);
    if (this.replay.size === 0) return Number.NaN;
    // A copy of its own, drawn from the weights as they are now (OpenAI baselines'
    // perturb_adaptive_policy_ops): the behaviour policy was drawn from older weights.
    this.adaptive = this.perturbedCopy(this.adaptive, stddev, rng);
    const adaptive = this.adaptive;
    const states = this.replay.sampleStates(batchSize, rng);
    const [plain, noisy] = withTensorOps((ops): [Float32Array, Float32Array] => {
      const batch = this.stateBatch(ops, states, batchSize);
      return [
        ops.read(policy(ops, this.online, batch)),
        ops.read(policy(ops, { ...this.online, actor: adaptive }, batch)),
      ];
    });
    // d(pi, pi~) = sqrt(E_s[ mean_k (pi(s)_k - pi~(s)_k)^2 ]) (Plappert et al. 2018, section 3.2).
    let sq = 0;
    for (let i = 0; i < plain.length; i++) sq += ((plain[i] as number) - (noisy[i] as number)) ** 2;
    return Math.sqrt(sq / plain.length);
  }

  /** `into` (created on first use) set to the online actor's current weights + N(0, stddev^2). */
  private perturbedCopy(into: Mlp | null, stddev: number, rng: Rng): Mlp {
    if (!(stddev >= 0) || !Number.isFinite(stddev))
      throw new RangeError(`perturbation stddev must be finite and >= 0, got ${stddev}`);
    const source = this.online.actor;
    const copy = into ?? {
      outputActivation: source.outputActivation,
      layers: source.layers.map((l) => ({
        ws: l.ws.map((w) => variableFrom(w.clone(), false)),
        b: variableFrom(l.b.clone(), false),
      })),
      ...(source.joinLayers ? { joinLayers: source.joinLayers } : {}),
    };
    const targets = mlpVariables(copy);
    mlpMeanVariables(source).forEach((v, i) => {
      const noise = new Float32Array(v.size);
      for (let k = 0; k < noise.length; k++) noise[k] = rng.normal() * stddev;
      tf.tidy(() => (targets[i] as tf.Variable).assign(tf.add(v, tf.tensor(noise, v.shape))));
    });
    return copy;
  }

  // ---- policy weights (the actor/learner link, src/transport) ----

  policyWeights(): Float32Array {
    this.assertAlive();
    return this.model.actorParams.values.slice();
  }

  setPolicyWeights(values: Float32Array): void {
    this.assertAlive();
    const params = this.model.actorParams;
    if (values.length !== params.size)
      throw new RangeError(`policy weights have ${values.length} values, this actor has ${params.size}`);
    checkFinite(values, 'policy weights');
    params.values.set(values);
    params.push();
  }

  // ---- undo ----

  snapshot(): LearnerSnapshot {
    this.assertAlive();
    if (this.latestSnapshot) this.latestSnapshot.disposed = true;
    const { actorParams, criticParams, targetParams } = this.model;
    const snap: Snapshot = {
      kind: 'learner-snapshot',
      owner: this,
      actor: actorParams.values.slice(),
      critic: criticParams.values.slice(),
      target: targetParams.values.slice(),
      actorOptimizer: this.model.actorOptimizer.state(),
      criticOptimizer: this.model.criticOptimizer.state(),
      replay: this.replay.mark(),
      updates: this.updates,
      rng: this.rng.state(),
      disposed: false,
    };
    this.latestSnapshot = snap;
    return snap;
  }

  restore(snapshot: LearnerSnapshot): void {
    this.assertAlive();
    const snap = snapshot as Snapshot;
    if (snap.owner !== this) throw new RangeError('this snapshot belongs to another learner');
    if (snap.disposed || snap !== this.latestSnapshot) {
      throw new RangeError('this snapshot is no longer current: only the most recent snapshot can be restored');
    }
    const { actorParams, criticParams, targetParams } = this.model;
    for (const [group, values] of [
      [actorParams, snap.actor],
      [criticParams, snap.critic],
      [targetParams, snap.target],
    ] as const) {
      group.values.set(values);
      group.push();
    }
    this.model.actorOptimizer.setState(snap.actorOptimizer);
    this.model.criticOptimizer.setState(snap.criticOptimizer);
    this.replay.restoreMark(snap.replay);
    this.updates = snap.updates;
    this.rng = Rng.fromState(snap.rng);
    for (const acc of this.accumulators.values()) acc.flush(); // drop half-filled windows of the undone episode
  }

  // ---- checkpoints ----

  async save(dir: string): Promise<void> {
    this.assertAlive();
    const tensors: Record<string, tf.Tensor> = {
      ...namedVariables(this.online, 'online/'),
      ...namedVariables(this.target, 'target/'),
    };
    await saveNamedTensors(dir, 'networks', tensors);
    const actorOpt = this.model.actorOptimizer.state();
    const criticOpt = this.model.criticOptimizer.state();
    const moments: Record<string, tf.Tensor> = {
      'actor/m': tf.tensor1d(actorOpt.m),
      'actor/v': tf.tensor1d(actorOpt.v),
      'critic/m': tf.tensor1d(criticOpt.m),
      'critic/v': tf.tensor1d(criticOpt.v),
    };
    try {
      await saveNamedTensors(dir, 'optimizer', moments);
    } finally {
      for (const t of Object.values(moments)) t.dispose();
    }
    await this.replay.save(dir);
    await writeJsonSafely(join(dir, 'learner.json'), {
      format: FORMAT,
      stateSize: this.stateSize,
      actionSize: this.actionSize,
      config: this.config,
      updates: this.updates,
      actorOptimizerStep: actorOpt.step,
      criticOptimizerStep: criticOpt.step,
      rng: this.rng.state(),
      pendingNStepTransitions: [...this.accumulators.values()].reduce((n, a) => n + a.pending, 0),
    });
  }

  /**
   * Resumes from a checkpoint written by save(), all or nothing: learner.json, the networks, the
   * optimiser moments and the replay files are all read and checked (format, sizes, counters,
   * every tensor's name and shape, file lengths, finite values) before anything changes, so a
   * refused checkpoint leaves the learner as it was. Problems are a one-line UserError naming the
   * file and the field.
   */
  async load(dir: string): Promise<void> {
    this.assertAlive();
    const metaPath = join(dir, 'learner.json');
    const raw = await readJson(metaPath);
    const format = (raw as { format?: unknown } | null)?.format;
    if (format !== FORMAT)
      throw new UserError(`${metaPath}: not a daydrive learner checkpoint (format ${String(format)})`);
    const meta = parseWith(learnerMetaSchema, raw, `learner checkpoint ${metaPath}`);
    if (meta.stateSize !== this.stateSize || meta.actionSize !== this.actionSize) {
      throw new UserError(
        `${metaPath}: state/action sizes ${meta.stateSize}/${meta.actionSize}, this learner has ${this.stateSize}/${this.actionSize}`,
      );
    }
    const ours: Record<string, tf.Variable> = {
      ...namedVariables(this.online, 'online/'),
      ...namedVariables(this.target, 'target/'),
    };
    const loaded = await loadNamedTensors(dir, 'networks');
    let optimizer: Record<string, tf.Tensor> = {};
    try {
      optimizer = await loadNamedTensors(dir, 'optimizer');
      const networksPath = join(dir, 'networks.bin');
      for (const [name, v] of Object.entries(ours)) {
        const t = loaded[name];
        if (!t) throw new UserError(`${dir}: checkpoint has no tensor ${name} (different network configuration?)`);
        if (t.shape.join('x') !== v.shape.join('x')) {
          throw new UserError(
            `${dir}: ${name} has shape [${t.shape.join(', ')}], this learner needs [${v.shape.join(', ')}]`,
          );
        }
        checkFiniteValues(t.dataSync(), `${networksPath}: ${name}`);
      }
      const extra = Object.keys(loaded).filter((k) => !(k in ours));
      if (extra.length > 0)
        throw new UserError(
          `${dir}: checkpoint has tensors this learner lacks (${extra.slice(0, 3).join(', ')}): different network configuration`,
        );
      const optimizerPath = join(dir, 'optimizer.bin');
      const get = (name: string, size: number, nonNegative: boolean): Float32Array => {
        const t = optimizer[name];
        if (!t) throw new UserError(`${dir}: optimizer state lacks ${name}`);
        if (t.size !== size)
          throw new UserError(`${dir}: optimizer ${name} has ${t.size} values, the networks need ${size}`);
        const values = t.dataSync() as Float32Array;
        checkFiniteValues(values, `${optimizerPath}: ${name}`, nonNegative);
        return values;
      };
      const actorSize = this.model.actorParams.size;
      const criticSize = this.model.criticParams.size;
      // Adam's second moments are averages of squares: never negative.
      const actorState = {
        m: get('actor/m', actorSize, false),
        v: get('actor/v', actorSize, true),
        step: meta.actorOptimizerStep,
      };
      const criticState = {
        m: get('critic/m', criticSize, false),
        v: get('critic/v', criticSize, true),
        step: meta.criticOptimizerStep,
      };
      const replay = await this.replay.prepareLoad(dir);

      // Everything is checked: commit (nothing below can fail on the checkpoint's content).
      for (const [name, v] of Object.entries(ours)) v.assign(loaded[name] as tf.Tensor);
      for (const group of [this.model.actorParams, this.model.criticParams, this.model.targetParams]) group.pull();
      this.model.actorOptimizer.setState(actorState);
      this.model.criticOptimizer.setState(criticState);
      this.replay.commitLoad(replay);
      this.updates = meta.updates;
      this.rng = Rng.fromState(meta.rng);
      this.accumulators.clear();
      if (this.latestSnapshot) this.latestSnapshot.disposed = true;
      this.latestSnapshot = null;
    } finally {
      for (const t of [...Object.values(loaded), ...Object.values(optimizer)]) t.dispose();
    }
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    disposeActorCritic(this.online);
    disposeActorCritic(this.target);
    for (const copy of [this.perturbed, this.adaptive]) if (copy) for (const v of mlpVariables(copy)) v.dispose();
    this.model.support?.dispose();
  }

  private assertAlive(): void {
    if (this.disposed) throw new Error('the learner was disposed');
  }
}

export type DdpgLearner = Learner &
  PerturbablePolicy &
  PolicyWeights & { readonly config: LearnerConfig; readonly updateCount: number };

/**
 * A DDPG/TD3/D4PG learner for states of `stateSize` components and actions of `actionSize`
 * components in [-1, 1]. `config` is parsed with learnerConfigSchema (defaults filled in; use
 * learnerConfigFor(algo, overrides) for the algorithm presets). Call initBackend() first.
 */
export function createLearner(
  config: LearnerConfigInput | LearnerConfig,
  stateSize: number,
  actionSize: number,
  rng: Rng,
): DdpgLearner {
  return new DeterministicPolicyGradientLearner(learnerConfigSchema.parse(config), stateSize, actionSize, rng);
}
