import { performance } from 'node:perf_hooks';
import { log } from '../core/logger.js';
import { Rng } from '../core/rng.js';
import { withTensorOps } from './with-tensor-ops.js';
import { batchTensors, stateBatch, type StateShape } from './batch-tensors.js';
import { learnerConfigSchema, type LearnerConfig, type LearnerConfigInput } from './config.js';
import { createDdpgModel, ddpgStep, policy, type DdpgModel, type StepResult } from './ddpg.js';
import { readLearnerCheckpoint, writeLearnerCheckpoint, type LearnerCheckpointParts } from './learner-checkpoint.js';
import { NStepAdder } from './n-step.js';
import {
  disposeActorCritic,
  sampleMlpNoise,
  uploadMlpNoise,
  stateLayout,
  type HostNoiseLayer,
  type ActorCritic,
} from './networks.js';
import type { AdamState } from './optimizer.js';
import { actionDistance, PerturbedActors } from './param-noise.js';
import { ReplayBuffer, type ReplayMark } from './replay.js';
import { checkFinite, checkTransition } from './transition-checks.js';
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
 * The learner: DDPG with the TD3 and D4PG switches (see ddpg.ts) over a replay buffer. `update`
 * reads as the algorithm does: sample, update, priorities, statistics. Around it, in files of
 * their own: the n-step adder per actor (n-step.ts), the minibatch as tensors (batch-tensors.ts),
 * parameter-noise copies (param-noise.ts), checkpoints (learner-checkpoint.ts). Snapshots for undo
 * are here. Construct with createLearner.
 */
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

class DeterministicPolicyGradientLearner implements Learner, PerturbablePolicy, NoisyPolicy, PolicyWeights {
  readonly config: LearnerConfig;
  private readonly online: ActorCritic;
  private readonly target: ActorCritic;
  private readonly model: DdpgModel;
  private readonly replay: ReplayBuffer;
  private readonly adder: NStepAdder;
  private readonly shape: StateShape;
  private rng: Rng;
  /** Critic updates so far (drives the policy delay). */
  private updates = 0;
  /** Parameter-space noise: the behaviour copy and the adaptive copy of the actor. */
  private readonly perturbed = new PerturbedActors();
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
    this.shape = { stateSize, ...layout, imageShape: config.imageShape ?? null };
    this.model = createDdpgModel(config, stateSize, actionSize, rng);
    this.online = this.model.online;
    this.target = this.model.target;
    this.replay = new ReplayBuffer(config.replay, { stateSize, actionSize, imageSize: layout.imageSize });
    this.adder = new NStepAdder(config.nStep, config.discount, (stored) => this.replay.add(stored));
    this.hasNoisyActor = config.noisyActorSigma0 !== null;
  }

  // ---- acting ----

  act(state: Float32Array): Float32Array {
    checkFinite(state, 'state', this.stateSize);
    return this.actWith(this.online, state);
  }

  actPerturbed(state: Float32Array): Float32Array {
    checkFinite(state, 'state', this.stateSize);
    const behaviour = this.perturbed.behaviour;
    if (!behaviour) return this.actWith(this.online, state);
    return this.actWith({ ...this.online, actor: behaviour }, state);
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
      ops.read(
        policy(ops, this.online, stateBatch(ops, this.shape, state, 1), uploadMlpNoise(ops, this.online.actor, host)),
      ),
    );
  }

  private actWith(net: ActorCritic, state: Float32Array): Float32Array {
    return withTensorOps((ops) => ops.read(policy(ops, net, stateBatch(ops, this.shape, state, 1))));
  }

  // ---- experience: the n-step adder fills the replay ----

  observe(t: Transition, actorId = 0): void {
    checkTransition(t, this.stateSize, this.actionSize, this.shape.imageSize);
    // Copies: callers may reuse their buffers.
    this.adder.add(
      {
        state: Float32Array.from(t.state),
        action: Float32Array.from(t.action),
        reward: t.reward,
        nextState: Float32Array.from(t.nextState),
        terminated: t.terminated,
      },
      actorId,
    );
  }

  endEpisode(actorId?: number): void {
    this.adder.endEpisode(actorId);
  }

  replaySize(): number {
    return this.replay.size;
  }

  // ---- learning ----

  async update(steps: number, options: UpdateOptions = {}): Promise<UpdateStats> {
    this.assertAlive();
    if (!Number.isInteger(steps) || steps < 0)
      throw new RangeError(`update steps must be a non-negative integer, got ${steps}`);
    const sliceMs = options.sliceMs ?? UPDATE_SLICE_MS;
    if (!(sliceMs >= 0)) throw new RangeError(`sliceMs must be >= 0, got ${sliceMs}`);
    const { onProgress, signal } = options;
    if (this.replay.size === 0)
      return { updates: 0, criticLoss: Number.NaN, actorLoss: Number.NaN, meanQ: Number.NaN, skipped: 0 };
    const stats = new UpdateStatistics();
    let lastYield = performance.now();
    for (let i = 0; i < steps && !signal?.aborted; i++) {
      // Sample.
      const sample = this.replay.sample(this.config.batchSize, this.rng);
      // Update (frees the batch, every intermediate and the engine's part: image batches, the encoder's tensors).
      const result: StepResult = withTensorOps((ops) =>
        ddpgStep(
          ops,
          this.model,
          batchTensors(ops, sample, {
            config: this.config,
            shape: this.shape,
            actionSize: this.actionSize,
            rng: this.rng,
            // NoisyNet: a fresh draw on the updates that train the actor (the policy delay's last).
            noisyActor:
              this.hasNoisyActor && this.updates % this.config.policyDelay === this.config.policyDelay - 1
                ? this.online.actor
                : null,
          }),
          this.updates,
        ),
      );
      if (result.skipped !== null) this.warnSkipped(result);
      if (result.skipped !== 'critic') {
        // Priorities: the critic step was applied, so they follow its TD errors, and the update counts.
        this.replay.updatePriorities(sample.indices, result.tdErrors);
        this.updates += 1;
      }
      // Statistics.
      stats.record(result);
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
    return stats.summary();
  }

  private warnSkipped(result: StepResult): void {
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

  /** Critic updates applied so far. */
  get updateCount(): number {
    return this.updates;
  }

  // ---- parameter-space noise (param-noise.ts) ----

  perturbPolicy(stddev: number, rng: Rng): void {
    this.assertAlive();
    this.perturbed.perturb(this.online.actor, stddev, rng);
  }

  perturbationDistance(stddev: number, batchSize: number, rng: Rng): number {
    this.assertAlive();
    if (!Number.isInteger(batchSize) || batchSize < 1)
      throw new RangeError(`perturbation batch size must be a positive integer, got ${batchSize}`);
    if (this.replay.size === 0) return Number.NaN;
    const adaptive = this.perturbed.redrawAdaptive(this.online.actor, stddev, rng);
    const states = this.replay.sampleStates(batchSize, rng);
    const [plain, noisy] = withTensorOps((ops): [Float32Array, Float32Array] => {
      const batch = stateBatch(ops, this.shape, states, batchSize);
      return [
        ops.read(policy(ops, this.online, batch)),
        ops.read(policy(ops, { ...this.online, actor: adaptive }, batch)),
      ];
    });
    return actionDistance(plain, noisy);
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
    this.adder.dropPending(); // drop half-filled windows of the undone episode
  }

  // ---- checkpoints (learner-checkpoint.ts) ----

  private get checkpointParts(): LearnerCheckpointParts {
    const { config, stateSize, actionSize, model, replay } = this;
    return { config, stateSize, actionSize, model, replay };
  }

  async save(dir: string): Promise<void> {
    this.assertAlive();
    await writeLearnerCheckpoint(dir, this.checkpointParts, {
      updates: this.updates,
      rng: this.rng.state(),
      pendingNStepTransitions: this.adder.pending,
    });
  }

  /**
   * Resumes from a checkpoint written by save(), all or nothing: everything is read and checked
   * before anything changes, so a refused checkpoint (a one-line UserError naming the file and the
   * field) leaves the learner as it was.
   */
  async load(dir: string): Promise<void> {
    this.assertAlive();
    const prepared = await readLearnerCheckpoint(dir, this.checkpointParts);
    try {
      // Everything is checked: commit (nothing below can fail on the checkpoint's content).
      prepared.commit();
      this.updates = prepared.updates;
      this.rng = Rng.fromState(prepared.rng);
      this.adder.clear();
      if (this.latestSnapshot) this.latestSnapshot.disposed = true;
      this.latestSnapshot = null;
    } finally {
      prepared.dispose();
    }
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    disposeActorCritic(this.online);
    disposeActorCritic(this.target);
    this.perturbed.dispose();
    this.model.support?.dispose();
  }

  private assertAlive(): void {
    if (this.disposed) throw new Error('the learner was disposed');
  }
}

/** Means of the losses and Q over the applied updates (the actor's over the updates that trained it). */
class UpdateStatistics {
  private applied = 0;
  private skipped = 0;
  private criticLoss = 0;
  private actorLoss = 0;
  private actorUpdates = 0;
  private meanQ = 0;

  /** One step's result: a refused critic step (non-finite) is counted as skipped, not averaged. */
  record(result: StepResult): void {
    if (result.skipped !== null) this.skipped += 1;
    if (result.skipped === 'critic') return;
    this.applied += 1;
    this.criticLoss += result.criticLoss;
    this.meanQ += result.meanQ;
    if (Number.isFinite(result.actorLoss)) {
      this.actorLoss += result.actorLoss;
      this.actorUpdates += 1;
    }
  }

  summary(): UpdateStats {
    const done = this.applied;
    return {
      updates: done,
      criticLoss: done > 0 ? this.criticLoss / done : Number.NaN,
      actorLoss: this.actorUpdates > 0 ? this.actorLoss / this.actorUpdates : Number.NaN,
      meanQ: done > 0 ? this.meanQ / done : Number.NaN,
      skipped: this.skipped,
    };
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
