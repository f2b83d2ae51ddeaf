import type { DrivingObservation } from '../core/env.js';
import type { EpisodeMode, EpisodeSummary, TaskCommand, TaskState, TaskStep } from '../agent/index.js';
import type { UpdateOptions, UpdateStats } from '../rl/types.js';

/**
 * What the drive node needs of whoever drives: the task state machine around episodes and one
 * action per policy step, in the environment API's terms ([-1, 1]^2 world actions). The learning
 * DrivingAgent (src/agent/agent.ts) satisfies it as it is; a scripted driver (the simulator
 * tests' pure pursuit) implements it around a TaskStateMachine.
 *
 *   command(...) -> begin(obs) -> act() (-> observe(r, obs', terminated) -> act())* -> endEpisode()
 *   -> optimise() when optimisationDue -> command(...)
 */
export interface DriveController {
  readonly taskState: TaskState;
  command(command: TaskCommand): TaskStep;
  begin(obs: DrivingObservation): Promise<EpisodeMode>;
  /** The world action [steering, speed] in [-1, 1]; the node checks it is finite. */
  act(): Float32Array;
  observe(reward: number, next: DrivingObservation, terminated: boolean): Promise<void>;
  endEpisode(): EpisodeSummary;
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
