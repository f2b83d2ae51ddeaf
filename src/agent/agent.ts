import { join } from 'node:path';
import type { DrivingObservation, ModelInputSpec } from '../core/env.js';
import { z } from 'zod';
import { parseWith } from '../core/config.js';
import { readJson, writeJsonSafely } from '../core/files.js';
import { Rng } from '../core/rng.js';
import type { Exploration, Learner, LearnerSnapshot, UpdateOptions, UpdateStats } from '../rl/types.js';
import type { AgentConfig } from './config.js';
import { ActionShaper } from './actions.js';
import type { DriveController } from './episode.js';
import type { StateBuilder } from './state.js';
import {
  isLearningMode,
  TaskStateMachine,
  type EpisodeMode,
  type TaskCommand,
  type TaskState,
  type TaskStep,
} from './task.js';

/** What the agent is built from (composed by the CLI or the ROS node). */
export interface AgentParts {
  readonly config: AgentConfig;
  readonly learner: Learner;
  readonly exploration: Exploration & { restore(state: Record<string, unknown>): void };
  readonly state: StateBuilder;
  readonly rng: Rng;
}

const AGENT_STATE_FILE = 'agent.json';
const LEARNER_DIR = 'learner';

const savedAgentStateSchema = z.object({
  format: z.literal('daydrive-agent-v1'),
  task: z.object({
    phase: z.enum(['waiting', 'driving', 'optimising', 'done']),
    mode: z.enum(['explore', 'train', 'test']).nullable(),
    learningEpisodes: z.number().int().min(0),
    undoable: z.boolean(),
    pending: z.enum(['train', 'test']).nullable(),
  }),
  exploration: z.record(z.string(), z.unknown()),
  rng: z.array(z.number()),
});
type SavedAgentState = z.output<typeof savedAgentStateSchema>;

/**
 * The driving agent: observation -> state -> action, transitions into the learner, and the task
 * state machine around episodes. It sees the world only through DrivingObservation and the
 * [-1, 1] action, so the simulator loop and the ROS node drive it the same way, through one
 * EpisodeStepper (src/agent/episode.ts):
 *
 *   command('train') -> begin(obs) -> (act() -> world step -> observe(r, obs', terminated))*
 *   -> endEpisode() -> optimise() while the car is reset -> command(...)
 */
export class DrivingAgent implements DriveController {
  readonly config: AgentConfig;
  readonly learner: Learner;
  private readonly exploration: AgentParts['exploration'];
  private readonly stateBuilder: StateBuilder;
  private readonly shaper: ActionShaper;
  private readonly task: TaskStateMachine;
  private rng: Rng;
  private snapshot: LearnerSnapshot | null = null;
  private current: Float32Array | null = null;
  private lastExecuted: Float32Array | null = null;

  constructor(parts: AgentParts) {
    this.config = parts.config;
    this.learner = parts.learner;
    this.exploration = parts.exploration;
    this.stateBuilder = parts.state;
    this.rng = parts.rng;
    this.shaper = new ActionShaper(parts.config.maxSteeringChangePerStep, parts.config.speedFractionRange);
    this.task = new TaskStateMachine(parts.config.exploreEpisodes);
  }

  get taskState(): TaskState {
    return this.task.state;
  }

  get stateSize(): number {
    return this.stateBuilder.stateSize;
  }

  /** The crop and size of the frame the state is computed from (a simulator can render it directly). */
  get modelInput(): ModelInputSpec | undefined {
    return this.stateBuilder.frame.modelInput;
  }

  /** A driver's (or the schedule's) command. Undo is carried out here; the caller starts episodes. */
  command(command: TaskCommand): TaskStep {
    const step = this.task.dispatch({ kind: 'command', command });
    if (step.effects.some((e) => e.kind === 'undo')) this.undo();
    return step;
  }

  /** Starts the episode the last command asked for, from the world's first observation. */
  async begin(obs: DrivingObservation): Promise<EpisodeMode> {
    const { phase, mode } = this.task.state;
    if (phase !== 'driving' || mode === null || this.current !== null)
      throw new Error(`cannot begin an episode in phase '${phase}'`);
    if (isLearningMode(mode)) this.snapshot = this.learner.snapshot();
    this.stateBuilder.history.clear();
    this.current = await this.stateBuilder.build(obs);
    this.shaper.reset(this.stateBuilder.steeringOf(this.current));
    return mode;
  }

  /** The world action for the current state: random (explore), noisy policy (train) or the policy (test). */
  act(): Float32Array {
    const state = this.requireEpisode();
    const mode = this.task.state.mode;
    const policyAction =
      mode === 'explore'
        ? Float32Array.from({ length: this.learner.actionSize }, () => this.rng.range(-1, 1))
        : mode === 'train'
          ? this.exploration.action(this.learner, state)
          : this.learner.act(state);
    const shaped = this.shaper.shape(policyAction);
    this.lastExecuted = shaped.executed;
    this.stateBuilder.history.push(shaped.executed);
    return shaped.world;
  }

  /**
   * The world's answer to the last action. `terminated` (an intervention) ends the episode
   * without bootstrapping; a time or route limit is not a termination: call endEpisode() then.
   */
  async observe(reward: number, next: DrivingObservation, terminated: boolean): Promise<void> {
    const state = this.requireEpisode();
    if (!this.lastExecuted) throw new Error('observe() before act()');
    if (!Number.isFinite(reward)) throw new RangeError(`reward is ${reward}`);
    const nextState = await this.stateBuilder.build(next);
    if (this.replaysEpisode(this.task.state.mode)) {
      this.learner.observe({ state, action: this.lastExecuted, reward, nextState, terminated });
    }
    this.current = nextState;
    this.lastExecuted = null;
  }

  /** Ends the running episode (intervention, route end, time limit, or the driver); the steps and return are the EpisodeStepper's. */
  endEpisode(): void {
    const mode = this.task.state.mode;
    if (this.task.state.phase !== 'driving' || mode === null)
      throw new Error(`no episode to end in phase '${this.task.state.phase}'`);
    if (this.replaysEpisode(mode)) this.learner.endEpisode();
    if (isLearningMode(mode)) this.exploration.endEpisode();
    this.task.dispatch({ kind: 'episode-ended' });
    this.current = null;
    this.lastExecuted = null;
  }

  /** Whether optimise() is due (after a learning episode). */
  get optimisationDue(): boolean {
    return this.task.state.phase === 'optimising';
  }

  /**
   * The between-episode optimisation (250 steps at batch 64 in the paper), then back to waiting
   * (a train/test command given meanwhile starts at once: the returned step says so). `options`
   * go to the learner's update: progress, the time slice between yields to the event loop, and a
   * signal that stops it early (the ROS node's shutdown); an optimisation stopped early counts as
   * finished, with the updates done so far.
   */
  async optimise(options: UpdateOptions = {}): Promise<{ stats: UpdateStats | null; next: TaskStep }> {
    if (!this.optimisationDue) throw new Error(`no optimisation is due in phase '${this.task.state.phase}'`);
    const steps = this.learner.replaySize() > 0 ? this.config.optimisationSteps : 0;
    const stats = steps > 0 ? await this.learner.update(steps, options) : null;
    return { stats, next: this.task.dispatch({ kind: 'optimisation-finished' }) };
  }

  /** Whether this episode's transitions go into the replay: learning episodes, and tests with `replayTestEpisodes`. */
  private replaysEpisode(mode: EpisodeMode | null): boolean {
    return isLearningMode(mode) || (mode === 'test' && this.config.replayTestEpisodes);
  }

  private undo(): void {
    if (!this.snapshot) throw new Error('undo without a snapshot');
    this.learner.restore(this.snapshot);
    this.snapshot = null;
  }

  private requireEpisode(): Float32Array {
    if (this.current === null) throw new Error(`no episode is running (phase '${this.task.state.phase}')`);
    return this.current;
  }

  /** Checkpoint: the learner (networks, optimisers, replay) plus task, noise and random state. */
  async save(dir: string): Promise<void> {
    await this.learner.save(join(dir, LEARNER_DIR));
    const saved: SavedAgentState = {
      format: 'daydrive-agent-v1',
      task: this.task.state,
      exploration: this.exploration.toJSON(),
      rng: this.rng.state(),
    };
    await writeJsonSafely(join(dir, AGENT_STATE_FILE), saved);
  }

  /** Restores a checkpoint written by save(); an episode in progress when it was written is lost, undo starts afresh. */
  async load(dir: string): Promise<void> {
    await this.learner.load(join(dir, LEARNER_DIR));
    const file = join(dir, AGENT_STATE_FILE);
    const saved = parseWith(savedAgentStateSchema, await readJson(file), `agent checkpoint ${file}`);
    this.exploration.restore(saved.exploration);
    this.rng = Rng.fromState(saved.rng);
    // Back to waiting, even after 'done': whoever loads decides what comes next (resume, evaluate).
    this.task.restore({ ...saved.task, phase: 'waiting', undoable: false, pending: null });
    this.snapshot = null;
    this.current = null;
  }

  dispose(): void {
    this.learner.dispose();
  }
}
