import type { DrivingObservation, ModelInputSpec } from '../core/env.js';
import type { UpdateOptions, UpdateStats } from '../rl/types.js';
import type { EpisodeMode, TaskCommand, TaskState, TaskStep } from './task.js';

/**
 * One episode, step by step: the one agent loop the simulator's training (driveEpisode,
 * src/agent/training.ts) and the vehicle's drive node (src/ros/node.ts) both run. The simulator
 * calls it synchronously, one world step after another; the node calls the same methods from its
 * policy timer, camera frames and the safety driver's signal:
 *
 *   begin(obs) -> decide() -> [the world executes the action] -> outcome(r, obs', terminated)
 *   -> decide() -> ... -> end()            (end(terminal) where the node records the takeover)
 *
 * Everything that decides lives here or below (the agent, the task state machine): the action,
 * a non-finite action refused before it reaches a car, each outcome recorded once, the episode's
 * steps and return. The worlds carry the action out and measure its reward through the one pair
 * of functions in src/core/env.ts: `drivingCommand` (action -> steering angle and speed; the
 * simulator's vehicle and the node) and `forwardRewardM` (metres driven forward between two
 * odometer readings; the simulator's along the lane centre line, the car's from its speed).
 */

export interface EpisodeSummary {
  readonly mode: EpisodeMode;
  readonly steps: number;
  /** Sum of rewards: metres driven along the road (the paper's forward-speed reward). */
  readonly return: number;
  /** Whether the episode ended by a termination (an intervention) rather than a time or route limit. */
  readonly terminated: boolean;
}

/**
 * Whoever drives an episode: the learning DrivingAgent (src/agent/agent.ts) satisfies it as it
 * is; a scripted driver (the tests' pure pursuit) implements it around a TaskStateMachine.
 *
 *   command(...) -> begin(obs) -> act() (-> observe(r, obs', terminated) -> act())* -> endEpisode()
 *   -> optimise() when optimisationDue -> command(...)
 */
export interface DriveController {
  readonly taskState: TaskState;
  /**
   * The crop and size the controller computes its state from, when it reads model input: a world
   * that can make it directly (the simulator's renderer, the node's frame path) sends it as
   * `obs.modelInput` instead of a full camera image.
   */
  readonly modelInput?: ModelInputSpec | undefined;
  command(command: TaskCommand): TaskStep;
  begin(obs: DrivingObservation): Promise<EpisodeMode>;
  /** The world action [steering, speed] in [-1, 1]. */
  act(): Float32Array;
  observe(reward: number, next: DrivingObservation, terminated: boolean): Promise<void>;
  endEpisode(): void;
  readonly optimisationDue: boolean;
  /**
   * The between-episode optimisation; `next` may start the episode a command queued meanwhile.
   * The node passes its progress callback (status) and a signal it aborts on shutdown; the
   * learning agent hands them to the learner, whose time slices keep the callbacks running.
   * `stats` (the learner's, for the log) is absent where nothing learns (a scripted driver).
   */
  optimise(
    options?: Pick<UpdateOptions, 'onProgress' | 'signal'>,
  ): Promise<{ readonly next: TaskStep; readonly stats?: UpdateStats | null }>;
  /** Checkpoint (after every optimisation and at done, where a checkpoint directory is set). */
  save?(dir: string): Promise<void>;
}

/** The world's answer to the last decision. */
export interface StepOutcome {
  /** Metres driven forward while the decision was in force (`forwardRewardM`). */
  readonly reward: number;
  readonly observation: DrivingObservation;
  /** An intervention: the episode ends without bootstrapping. */
  readonly terminated: boolean;
}

/** The policy gave an action with a non-finite or missing component: it must never reach a car. */
export class NonFiniteActionError extends Error {
  constructor(readonly action: readonly number[]) {
    super(`non-finite action [${action.join(', ')}]`);
    this.name = 'NonFiniteActionError';
  }
}

export class EpisodeStepper {
  private modeValue: EpisodeMode | null = null;
  private awaiting = false;
  private steps = 0;
  private returnM = 0;
  private terminated = false;

  constructor(readonly controller: DriveController) {}

  /** The running episode's mode, or null between episodes. */
  get mode(): EpisodeMode | null {
    return this.modeValue;
  }

  /** Whether a decision is in force whose outcome has not been recorded yet. */
  get awaitingOutcome(): boolean {
    return this.awaiting;
  }

  /** Starts the episode the last task command asked for, from the world's first observation. */
  async begin(obs: DrivingObservation): Promise<EpisodeMode> {
    if (this.modeValue !== null) throw new Error('an episode is already running');
    const mode = await this.controller.begin(obs);
    this.modeValue = mode;
    this.awaiting = false;
    this.steps = 0;
    this.returnM = 0;
    this.terminated = false;
    return mode;
  }

  /**
   * The next world action, [steering, speed] in [-1, 1]. A non-finite action throws
   * NonFiniteActionError (nothing is pending then: the caller stops the car and ends the episode).
   */
  decide(): Float32Array {
    if (this.modeValue === null) throw new Error('no episode is running');
    if (this.awaiting) throw new Error('decide() before the outcome of the last decision');
    const action = this.controller.act();
    if (action.length !== 2 || !Number.isFinite(action[0]) || !Number.isFinite(action[1]))
      throw new NonFiniteActionError(Array.from(action));
    this.awaiting = true;
    return action;
  }

  /** Records the world's answer to the last decision (once). */
  async outcome(o: StepOutcome): Promise<void> {
    if (!this.awaiting) throw new Error('outcome() without a decision in force');
    // Nothing is pending from the moment the answer is taken, even if the controller throws.
    this.awaiting = false;
    await this.controller.observe(o.reward, o.observation, o.terminated);
    this.steps += 1;
    this.returnM += o.reward;
    this.terminated = o.terminated;
  }

  /**
   * Ends the running episode. `terminal` (an intervention the world saw after the last decision)
   * is recorded first when a decision is in force; a recording that fails is logged by the
   * caller's `onTerminalError` and the episode still ends (else the task machine would refuse
   * every later command).
   */
  async end(terminal?: StepOutcome, onTerminalError?: (err: unknown) => void): Promise<EpisodeSummary> {
    const mode = this.modeValue;
    if (mode === null) throw new Error('no episode is running');
    if (terminal && this.awaiting) {
      try {
        await this.outcome(terminal);
      } catch (err) {
        if (!onTerminalError) throw err;
        onTerminalError(err);
      }
    }
    this.modeValue = null;
    this.awaiting = false;
    this.controller.endEpisode();
    return { mode, steps: this.steps, return: this.returnM, terminated: this.terminated };
  }

  /** Forgets the running episode without telling the controller ('done' meanwhile, or a controller in an unknown state). */
  abandon(): void {
    this.modeValue = null;
    this.awaiting = false;
  }
}
