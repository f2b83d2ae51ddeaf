import type { Rng } from '../core/rng.js';

/**
 * The learner's interfaces: what the agent (src/agent) and the transports rely on. The learner
 * knows transitions, not worlds: nothing here imports the simulator, ROS or vision.
 */

/** One step of experience. States are flat Float32Arrays (see LearnerConfig for the layout). */
export interface Transition {
  readonly state: Float32Array;
  /** The action actually executed, each component in [-1, 1]. */
  readonly action: Float32Array;
  readonly reward: number;
  readonly nextState: Float32Array;
  /** The episode ended inside the MDP: the target does not bootstrap from nextState. */
  readonly terminated: boolean;
}

/** Averages over the updates of one `update` call. */
export interface UpdateStats {
  readonly updates: number;
  readonly criticLoss: number;
  readonly actorLoss: number;
  readonly meanQ: number;
  /** Updates skipped because a loss or gradient was not finite (weights kept). */
  readonly skipped: number;
}

/** How an `update` call runs (all optional). */
export interface UpdateOptions {
  /** Called after every update with the number done so far (applied or skipped). */
  onProgress?(done: number): void;
  /**
   * Work between two yields to the event loop, ms (default UPDATE_SLICE_MS in learner.ts): the
   * loop yields whenever more than this has passed since the last yield, so timers and sockets
   * (the ROS node's callbacks) wait at most one slice plus one update.
   */
  sliceMs?: number;
  /** Stops the loop early, between two updates: the updates done stay applied and the stats cover them. */
  signal?: AbortSignal;
}

/** An opaque in-memory copy of everything an `undo` must restore. */
export interface LearnerSnapshot {
  readonly kind: 'learner-snapshot';
}

export interface Learner {
  readonly stateSize: number;
  readonly actionSize: number;
  /** The deterministic policy mu(s), each component in [-1, 1]. */
  act(state: Float32Array): Float32Array;
  /**
   * Stores a transition (refuses non-finite values with a RangeError naming the field).
   * `actorId` (default 0) keeps the n-step windows of concurrent actors (D4PG) apart.
   */
  observe(transition: Transition, actorId?: number): void;
  /** Marks the end of an episode of `actorId` (all actors when omitted): flushes n-step windows. */
  endEpisode(actorId?: number): void;
  /** Transitions currently in replay. */
  replaySize(): number;
  /** Runs `steps` gradient updates (fewer when `options.signal` aborts), yielding to the event loop every `options.sliceMs`. */
  update(steps: number, options?: UpdateOptions): Promise<UpdateStats>;
  /** Networks, targets, optimiser state and replay, for undoing an episode. */
  snapshot(): LearnerSnapshot;
  restore(snapshot: LearnerSnapshot): void;
  /** Checkpoint in TF.js formats plus replay, to a directory (written atomically by the caller). */
  save(dir: string): Promise<void>;
  load(dir: string): Promise<void>;
  dispose(): void;
}

/** Behaviour policy: how exploration turns the learner's policy into an executed action. */
export interface Exploration {
  /** A noisy action for `state`, each component clipped to [-1, 1]. */
  action(learner: Learner, state: Float32Array): Float32Array;
  /** Called at the end of every training episode (resets OU state, applies half-life decay). */
  endEpisode(): void;
  /** Serialisable state, so a resumed run continues the same noise schedule. */
  toJSON(): Record<string, unknown>;
}

/**
 * Implemented by learners whose policy weights can be perturbed, for parameter-space noise
 * (Plappert et al. 2018): the behaviour policy is mu with weights theta + N(0, stddev^2).
 */
export interface PerturbablePolicy {
  /** Draws a new perturbed copy of the actor (the behaviour policy) from the current weights. */
  perturbPolicy(stddev: number, rng: Rng): void;
  /** The perturbed policy's action (the plain policy until `perturbPolicy` was called). */
  actPerturbed(state: Float32Array): Float32Array;
  /**
   * The distance that adapts the perturbation std (Plappert et al. 2018, section 3; OpenAI
   * baselines `adapt_param_noise`): perturbs a separate copy of the *current* actor by
   * N(0, stddev^2) and returns the RMS distance between its actions and mu's over `batchSize`
   * replay states (NaN if replay is empty). The behaviour policy is left as it is, so training
   * since `perturbPolicy` does not count as noise.
   */
  perturbationDistance(stddev: number, batchSize: number, rng: Rng): number;
}

export function isPerturbablePolicy(learner: Learner): learner is Learner & PerturbablePolicy {
  const l = learner as Partial<PerturbablePolicy>;
  return (
    typeof l.perturbPolicy === 'function' &&
    typeof l.actPerturbed === 'function' &&
    typeof l.perturbationDistance === 'function'
  );
}

/**
 * Implemented by learners whose policy can be copied to another process (src/transport): the
 * actor's parameters as one flat Float32Array, in a fixed order.
 */
export interface PolicyWeights {
  policyWeights(): Float32Array;
  /** Replaces the policy's parameters (the critics, targets and optimisers are untouched). */
  setPolicyWeights(values: Float32Array): void;
}

export function hasPolicyWeights(learner: Learner): learner is Learner & PolicyWeights {
  const l = learner as Partial<PolicyWeights>;
  return typeof l.policyWeights === 'function' && typeof l.setPolicyWeights === 'function';
}

/**
 * Implemented by learners with a NoisyNet actor (Fortunato et al. 2018): the behaviour policy is
 * the actor under a draw of its learned factorised noise; the plain policy (act) is its mean.
 */
export interface NoisyPolicy {
  /** Whether the actor has noisy layers (LearnerConfig.noisyActorSigma0). */
  readonly hasNoisyActor: boolean;
  /** Draws new acting noise. */
  resampleActingNoise(rng: Rng): void;
  /** The actor's action under the current acting noise (the mean until the first draw). */
  actNoisy(state: Float32Array): Float32Array;
}

export function isNoisyPolicy(learner: Learner): learner is Learner & NoisyPolicy {
  const l = learner as Partial<NoisyPolicy>;
  return l.hasNoisyActor === true && typeof l.resampleActingNoise === 'function' && typeof l.actNoisy === 'function';
}
