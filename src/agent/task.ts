/**
 * The task state machine the paper's safety driver worked with (Kendall et al. 2019, Sec. III):
 * train (a noisy-policy episode, then optimisation while the car is reset), test (the plain
 * policy, no optimisation after it; the agent may keep its transitions for later updates),
 * undo (revert the model to before the last training episode) and done.
 * The first `exploreEpisodes` training episodes use random actions. The same machine serves the
 * simulator loop and the ROS node; it only decides, the agent and the node carry out its effects.
 *
 *   waiting --train/test--> driving --episode ended--> optimising (train) --finished--> waiting
 *                                                    \-> waiting (test)
 *   waiting --undo--> waiting (model restored)     any --done--> done
 */

export const TASK_COMMANDS = ['train', 'test', 'undo', 'done'] as const;
export type TaskCommand = (typeof TASK_COMMANDS)[number];
export type EpisodeMode = 'explore' | 'train' | 'test';
export type TaskPhase = 'waiting' | 'driving' | 'optimising' | 'done';

export interface TaskState {
  readonly phase: TaskPhase;
  /** Mode of the running episode, or of the last one. */
  readonly mode: EpisodeMode | null;
  /** Explore and train episodes finished and not undone. */
  readonly learningEpisodes: number;
  /** Whether the last learning episode can still be undone. */
  readonly undoable: boolean;
  /** A train/test command given while optimising: it starts when the optimisation has finished. */
  readonly pending: 'train' | 'test' | null;
}

export type TaskEvent =
  | { readonly kind: 'command'; readonly command: TaskCommand }
  | { readonly kind: 'episode-ended' }
  | { readonly kind: 'optimisation-finished' };

export type TaskEffect =
  | { readonly kind: 'start-episode'; readonly mode: EpisodeMode }
  | { readonly kind: 'optimise' }
  | { readonly kind: 'undo' }
  | { readonly kind: 'finish' };

export interface TaskStep {
  readonly state: TaskState;
  readonly effects: readonly TaskEffect[];
  /** Why the event was refused (the state is unchanged), for the driver's status display. */
  readonly refused?: string;
}

export const INITIAL_TASK_STATE: TaskState = {
  phase: 'waiting',
  mode: null,
  learningEpisodes: 0,
  undoable: false,
  pending: null,
};

export function isLearningMode(mode: EpisodeMode | null): boolean {
  return mode === 'explore' || mode === 'train';
}

function start(state: TaskState, command: 'train' | 'test', exploreEpisodes: number): TaskStep {
  const mode: EpisodeMode =
    command === 'test' ? 'test' : state.learningEpisodes < exploreEpisodes ? 'explore' : 'train';
  return { state: { ...state, phase: 'driving', mode, pending: null }, effects: [{ kind: 'start-episode', mode }] };
}

const refuse = (state: TaskState, refused: string): TaskStep => ({ state, effects: [], refused });
const finish = (state: TaskState): TaskStep => ({
  state: { ...state, phase: 'done', pending: null },
  effects: [{ kind: 'finish' }],
});

/** The pure transition function: the next state and what must be done. */
export function taskTransition(state: TaskState, event: TaskEvent, exploreEpisodes: number): TaskStep {
  if (state.phase === 'done') return refuse(state, 'the task is done');
  const command = event.kind === 'command' ? event.command : null;
  if (command === 'done') return finish(state);
  switch (state.phase) {
    case 'waiting':
      if (command === null) return refuse(state, `no episode is running (got ${event.kind})`);
      if (command === 'undo') {
        if (!state.undoable) return refuse(state, 'nothing to undo: no training episode since the last undo');
        return {
          state: { ...state, learningEpisodes: state.learningEpisodes - 1, undoable: false },
          effects: [{ kind: 'undo' }],
        };
      }
      return start(state, command, exploreEpisodes);
    case 'driving':
      if (event.kind === 'episode-ended') {
        if (isLearningMode(state.mode)) {
          return {
            state: { ...state, phase: 'optimising', learningEpisodes: state.learningEpisodes + 1, undoable: true },
            effects: [{ kind: 'optimise' }],
          };
        }
        return { state: { ...state, phase: 'waiting' }, effects: [] };
      }
      if (event.kind === 'command')
        return refuse(state, `an episode is running: '${event.command}' is taken once the safety driver has ended it`);
      return refuse(state, 'no optimisation is running');
    case 'optimising':
      if (event.kind === 'optimisation-finished') {
        const waiting: TaskState = { ...state, phase: 'waiting', pending: null };
        return state.pending ? start(waiting, state.pending, exploreEpisodes) : { state: waiting, effects: [] };
      }
      if (event.kind === 'command' && (event.command === 'train' || event.command === 'test')) {
        return { state: { ...state, pending: event.command }, effects: [] };
      }
      return refuse(
        state,
        event.kind === 'command'
          ? `optimising: '${event.command}' is taken once it has finished`
          : 'the episode has already ended',
      );
  }
}

/** The machine with its state, for callers that hold one. */
export class TaskStateMachine {
  private current: TaskState;

  constructor(
    private readonly exploreEpisodes: number,
    initial: TaskState = INITIAL_TASK_STATE,
  ) {
    this.current = initial;
  }

  get state(): TaskState {
    return this.current;
  }

  /** Puts the machine in a saved state (resuming a run). */
  restore(state: TaskState): void {
    this.current = state;
  }

  dispatch(event: TaskEvent): TaskStep {
    const step = taskTransition(this.current, event, this.exploreEpisodes);
    this.current = step.state;
    return step;
  }
}
