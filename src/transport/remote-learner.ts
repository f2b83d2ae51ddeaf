import type { DdpgLearner } from '../rl/learner.js';
import type {
  Learner,
  LearnerSnapshot,
  PerturbablePolicy,
  PolicyWeights,
  Transition,
  UpdateOptions,
  UpdateStats,
} from '../rl/types.js';
import type { Rng } from '../core/rng.js';
import type { TransitionBatch, WeightsMessage } from './codec.js';
import { TransitionBatcher } from './transition-batcher.js';

/** Where an actor's transition batches go (its ActorLink). */
export interface TransitionSink {
  readonly actorId: number;
  sendTransitions(batch: TransitionBatch): void;
}

/**
 * An actor process's learner: it acts with a local copy of the policy, which the learner's
 * broadcasts keep current, and sends its transitions to the learner in batches instead of
 * storing them. The driving agent (src/agent) uses it as any Learner, so an actor process drives
 * exactly as the single process does; the replay and the updates are the learner process's.
 */
export class RemoteLearner implements Learner, PerturbablePolicy, PolicyWeights {
  private readonly batcher: TransitionBatcher;
  private incarnation: string | null = null;
  private version = -1;
  /** Learning episodes behind the weights in use (the learner's count when it published them). */
  weightsLearningEpisodes = 0;
  weightsReceived = 0;

  constructor(
    private readonly local: DdpgLearner,
    private readonly link: TransitionSink,
    transitionsPerMessage: number,
  ) {
    this.batcher = new TransitionBatcher(link.actorId, local.stateSize, local.actionSize, transitionsPerMessage);
  }

  get stateSize(): number {
    return this.local.stateSize;
  }

  get actionSize(): number {
    return this.local.actionSize;
  }

  /** Takes broadcast weights newer than those in use (or any from a restarted learner); returns whether it did. */
  applyWeights(message: WeightsMessage): boolean {
    const { incarnation, version, learningEpisodes } = message.header;
    if (incarnation === this.incarnation && version <= this.version) return false;
    this.local.setPolicyWeights(message.weights);
    this.incarnation = incarnation;
    this.version = version;
    this.weightsLearningEpisodes = learningEpisodes;
    this.weightsReceived += 1;
    return true;
  }

  act(state: Float32Array): Float32Array {
    return this.local.act(state);
  }

  observe(transition: Transition): void {
    const batch = this.batcher.add(transition);
    if (batch) this.link.sendTransitions(batch);
  }

  /** Sends the episode's last, partial batch (the caller then sends the episode message, in order behind it). */
  endEpisode(): void {
    const batch = this.batcher.flush();
    if (batch) this.link.sendTransitions(batch);
  }

  /** The replay is the learner process's: nothing here to update from. */
  replaySize(): number {
    return 0;
  }

  update(_steps?: number, _options?: UpdateOptions): Promise<UpdateStats> {
    return Promise.resolve({
      updates: 0,
      criticLoss: Number.NaN,
      actorLoss: Number.NaN,
      meanQ: Number.NaN,
      skipped: 0,
    });
  }

  snapshot(): LearnerSnapshot {
    return this.local.snapshot();
  }

  restore(snapshot: LearnerSnapshot): void {
    this.local.restore(snapshot);
  }

  save(dir: string): Promise<void> {
    return this.local.save(dir);
  }

  load(dir: string): Promise<void> {
    return this.local.load(dir);
  }

  policyWeights(): Float32Array {
    return this.local.policyWeights();
  }

  setPolicyWeights(values: Float32Array): void {
    this.local.setPolicyWeights(values);
  }

  perturbPolicy(stddev: number, rng: Rng): void {
    this.local.perturbPolicy(stddev, rng);
  }

  actPerturbed(state: Float32Array): Float32Array {
    return this.local.actPerturbed(state);
  }

  /** Measured on the learner's replay in the single process; an actor has none, so NaN (the adaptation keeps its std). */
  perturbationDistance(stddev: number, batchSize: number, rng: Rng): number {
    return this.local.perturbationDistance(stddev, batchSize, rng);
  }

  dispose(): void {
    this.local.dispose();
  }
}
