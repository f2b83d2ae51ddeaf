import { log } from '../core/logger.js';
import type { DdpgLearner } from '../rl/learner.js';
import type { LearnerSnapshot, Transition, UpdateOptions, UpdateStats } from '../rl/types.js';
import type { ActorLink } from './actor-link.js';
import type { DownlinkMessage } from './codec.js';
import type { LearnerEvent, LearnerHeartbeat } from './protocol.js';
import { RemoteLearner } from './remote-learner.js';

/**
 * The car's Learner when the learner runs in another process (`daydrive drive` with learner_mode
 * child-process or external): the control loop acts with a local copy of the actor that the
 * learner's broadcasts keep current (applied as they arrive: the latest weights received), every
 * transition goes to the learner over the link, and each episode's end is sent as an `episode`
 * message, which the learner checkpoints and optimises on. The node's event loop never runs an
 * update: `update()` only waits.
 *
 * - optimise 'between-episodes' (the paper): update() waits for the learner's `learned` event of
 *   the episode just sent (its progress from the learner's heartbeats), so the task machine stays
 *   in 'optimising' and a command given meanwhile is queued, while the driver resets the car.
 * - optimise 'continuous': update() returns at once; the learner optimises while the car drives
 *   the next episode, whose actions use the weights broadcast meanwhile.
 *
 * The learner is *lost* when no word (heartbeat, weights, event) has come for `learnerTimeoutMs`,
 * or when none has come since the link started ('connecting'); then update() stops waiting and
 * returns no updates (learning stops), transitions keep queueing in the PUSH socket for a learner
 * that comes back (send high-water mark 10,000 messages), and `health()` says so for the node's
 * fail-safe and /diagnostics. Undo restores the local actor at once and sends `undo` to the learner.
 */

export const CAR_OPTIMISE_MODES = ['between-episodes', 'continuous'] as const;
export type CarOptimiseMode = (typeof CAR_OPTIMISE_MODES)[number];

export interface CarLearnerOptions {
  readonly optimise: CarOptimiseMode;
  /** No word from the learner for this long: lost. */
  readonly learnerTimeoutMs: number;
  /** Transitions per uplink message (the last, partial one goes at the episode's end). */
  readonly transitionsPerMessage: number;
  /** The mode of the episode that is ending (the agent's task state when it calls endEpisode()). */
  readonly episodeMode: () => 'explore' | 'train' | 'test' | null;
  /** Wall-clock ms (tests may pass their own). */
  readonly nowMs?: () => number;
}

export type LearnerLinkState = 'connecting' | 'ok' | 'lost';

/** What the node shows of the learner (status, /diagnostics) and what its fail-safe reads. */
export interface LearnerHealth {
  readonly state: LearnerLinkState;
  /** ms since the learner was last heard from (null: never). */
  readonly silentMs: number | null;
  /** Since when (wall-clock ms) it has been heard from without a silence over the timeout; null while lost or never heard. */
  readonly okSinceMs: number | null;
  readonly incarnation: string | null;
  /** Learner incarnations seen: more than one means it was restarted. */
  readonly incarnations: number;
  readonly learningEpisodes: number;
  readonly replaySize: number;
  readonly updates: number;
  readonly optimising: boolean;
  /** Weights broadcasts applied to the local actor. */
  readonly weightsReceived: number;
  /** Learning episodes sent whose optimisation the car stopped waiting for (the learner was lost). */
  readonly optimisationsMissed: number;
  /** Transitions sent (queued for the learner while it is away). */
  readonly transitionsSent: number;
  /** Messages from the learner dropped as invalid. */
  readonly dropped: number;
  /** The last undo's outcome at the learner, if any. */
  readonly lastUndo: string | null;
}

interface SentEpisode {
  readonly steps: number;
  readonly distanceM: number;
  readonly worldS: number;
}

const NO_UPDATES: UpdateStats = {
  updates: 0,
  criticLoss: Number.NaN,
  actorLoss: Number.NaN,
  meanQ: Number.NaN,
  skipped: 0,
};

export class CarLearner extends RemoteLearner {
  private readonly now: () => number;
  private readonly startedAtMs: number;
  private lastHeardMs: number | null = null;
  private heardSinceMs: number | null = null;
  private heartbeat: LearnerHeartbeat | null = null;
  private readonly incarnationsSeen = new Set<string>();
  private episodeSteps = 0;
  private episodeReturn = 0;
  private episodeTerminated = false;
  private episodeStartedAtMs: number | null = null;
  /** The last learning episode sent, while its optimisation is awaited (between-episodes). */
  private awaiting: SentEpisode | null = null;
  private learned: LearnerEvent | null = null;
  private wake: (() => void) | null = null;
  private missed = 0;
  private sent = 0;
  private undoRequest: number | null = null;
  private lastUndo: string | null = null;

  constructor(
    local: DdpgLearner,
    private readonly carLink: ActorLink,
    private readonly opts: CarLearnerOptions,
  ) {
    super(local, carLink, opts.transitionsPerMessage);
    this.now = opts.nowMs ?? Date.now;
    this.startedAtMs = this.now();
  }

  /** Hands every downlink message here (the client's receive loop calls it). */
  onDownlink(m: DownlinkMessage): void {
    const now = this.now();
    if (this.lastHeardMs === null || now - this.lastHeardMs > this.opts.learnerTimeoutMs) this.heardSinceMs = now;
    this.lastHeardMs = now;
    if ('weights' in m) {
      this.incarnationsSeen.add(m.header.incarnation);
      this.applyWeights(m);
    } else if (m.header.kind === 'heartbeat') {
      this.incarnationsSeen.add(m.header.incarnation);
      this.heartbeat = m.header;
    } else {
      const e = m.header;
      if (e.name === 'learned' && e.episode?.actorId === this.carLink.actorId && this.awaiting) {
        const a = this.awaiting;
        // The car's episodes are told apart by their figures (a restarted learner may repeat an older one).
        if (e.episode.steps === a.steps && e.episode.distanceM === a.distanceM && e.episode.worldS === a.worldS)
          this.learned = e;
      } else if ((e.name === 'task-done' || e.name === 'task-refused') && e.requestId === this.undoRequest) {
        this.undoRequest = null;
        this.lastUndo = e.name === 'task-done' ? 'done' : `refused: ${e.detail ?? ''}`;
        if (e.name === 'task-refused')
          log.warn(
            { detail: e.detail },
            "the learner refused 'undo' (restarted since the episode?): the car's actor is undone, the learner's replay and networks are not",
          );
      }
    }
    this.wake?.();
  }

  health(): LearnerHealth {
    const now = this.now();
    const silentMs = this.lastHeardMs === null ? null : now - this.lastHeardMs;
    const state: LearnerLinkState =
      silentMs === null ? 'connecting' : silentMs > this.opts.learnerTimeoutMs ? 'lost' : 'ok';
    const h = this.heartbeat;
    return {
      state,
      silentMs,
      okSinceMs: state === 'ok' ? this.heardSinceMs : null,
      incarnation: h?.incarnation ?? null,
      incarnations: this.incarnationsSeen.size,
      learningEpisodes: h?.learningEpisodes ?? 0,
      replaySize: h?.replaySize ?? 0,
      updates: h?.updates ?? 0,
      optimising: h?.optimising ?? false,
      weightsReceived: this.weightsReceived,
      optimisationsMissed: this.missed,
      transitionsSent: this.sent,
      dropped: this.carLink.dropped.total,
      lastUndo: this.lastUndo,
    };
  }

  /** ms since the link started without a word yet (the learner is starting). */
  get connectingForMs(): number {
    return this.lastHeardMs === null ? this.now() - this.startedAtMs : 0;
  }

  override observe(transition: Transition): void {
    this.episodeStartedAtMs ??= this.now();
    super.observe(transition);
    this.sent += 1;
    this.episodeSteps += 1;
    this.episodeReturn += transition.reward;
    this.episodeTerminated = transition.terminated;
  }

  /** Sends the episode's last transitions, then its end: the learner checkpoints and (for a learning episode) optimises on it. */
  override endEpisode(): void {
    super.endEpisode();
    const mode = this.opts.episodeMode() ?? 'train';
    const episode: SentEpisode = {
      steps: this.episodeSteps,
      distanceM: this.episodeReturn,
      worldS: this.episodeStartedAtMs === null ? 0 : (this.now() - this.episodeStartedAtMs) / 1000,
    };
    this.carLink.sendEpisode({
      mode,
      ...episode,
      intervention: this.episodeTerminated ? 'driver' : null,
      routeCompleted: false,
      agentS: 0,
    });
    if (mode !== 'test') {
      this.awaiting = episode;
      this.learned = null;
    }
    this.episodeSteps = 0;
    this.episodeReturn = 0;
    this.episodeTerminated = false;
    this.episodeStartedAtMs = null;
  }

  /** The learner's replay as its last heartbeat said, or at least what this car has sent it (so the agent asks for its optimisation). */
  override replaySize(): number {
    return Math.max(this.heartbeat?.replaySize ?? 0, this.sent);
  }

  /**
   * The optimisation runs in the learner process. Between episodes: waits for its `learned`
   * event of the episode just sent (progress from its heartbeats), or until the learner is lost
   * or `signal` aborts; continuous: returns at once. The count asked for is the learner's own
   * (agent.optimisationSteps of the same configuration).
   */
  override async update(_steps: number, options: UpdateOptions = {}): Promise<UpdateStats> {
    const awaiting = this.awaiting;
    if (this.opts.optimise === 'continuous' || awaiting === null) return NO_UPDATES;
    const updatesAtStart = this.heartbeat?.updates ?? 0;
    let reported = 0;
    try {
      for (;;) {
        if (this.learned) {
          const stats = this.learned.update ?? null;
          return stats ?? NO_UPDATES;
        }
        if (options.signal?.aborted) return NO_UPDATES;
        const health = this.health();
        if (health.state !== 'ok' && (health.state === 'lost' || this.connectingForMs > this.opts.learnerTimeoutMs)) {
          this.missed += 1;
          log.warn(
            { state: health.state, silentMs: health.silentMs },
            'the learner is lost: not waiting for its optimisation (learning stops until it is back)',
          );
          return NO_UPDATES;
        }
        const h = this.heartbeat;
        if (h?.optimising) {
          const done = Math.max(0, h.updates - updatesAtStart);
          if (done > reported) {
            reported = done;
            options.onProgress?.(done);
          }
        }
        await new Promise<void>((resolve) => {
          const timer = setTimeout(done, 50);
          const onAbort = () => done();
          options.signal?.addEventListener('abort', onAbort, { once: true });
          function done(): void {
            clearTimeout(timer);
            options.signal?.removeEventListener('abort', onAbort);
            resolve();
          }
          this.wake = done;
        });
        this.wake = null;
      }
    } finally {
      this.awaiting = null;
      this.learned = null;
    }
  }

  /** Undo: the local actor now, the learner (networks, optimisers, replay) by its 'undo' task. */
  override restore(snapshot: LearnerSnapshot): void {
    super.restore(snapshot);
    this.undoRequest = this.carLink.sendTask('undo');
    this.lastUndo = 'sent';
  }
}
