import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { z } from 'zod';
import { parseWith } from '../core/config.js';
import { exists, readJson, replaceDirectory, writeJsonSafely } from '../core/files.js';
import { log } from '../core/logger.js';
import type { Learner, LearnerSnapshot, PolicyWeights, UpdateStats } from '../rl/types.js';
import type { UplinkMessage } from './codec.js';
import type { LearnerLink } from './learner-link.js';
import type { EpisodeMessage, LearnerEvent, TaskCommandName, WeightsHeader } from './protocol.js';
import { transitionAt } from './transition-batcher.js';

/**
 * The learner process's work (Ape-X / Acme's separation: actors act, one learner owns the replay
 * and the updates): transitions from any number of actors go into the one prioritized replay
 * (n-step windows kept per actor); each learning episode an actor finishes is checkpointed and
 * then optimised on (`optimisationSteps` updates, as the single process does between episodes);
 * weights are broadcast during and after every optimisation; heartbeats say it is alive.
 * Checkpointing before optimising means a learner killed mid-optimisation loses nothing in the
 * replay but the episodes still in flight: restarted on its checkpoint it redoes the optimisation.
 */

export interface LearnerServiceOptions {
  readonly learner: Learner & PolicyWeights;
  readonly link: LearnerLink;
  /** Updates per learning episode received. */
  readonly optimisationSteps: number;
  /** Checkpoint directory (written through a temp dir and a rename); null: no checkpoints. */
  readonly checkpointDir: string | null;
  /** Checkpoint after every this many learning episodes (1: nothing but the episodes in flight is lost). */
  readonly checkpointEveryEpisodes: number;
  /** Broadcast weights every this many updates during an optimisation (and at its end). */
  readonly weightsEveryUpdates: number;
  readonly heartbeatMs: number;
  /** An actor not heard from for this long counts as gone (it rejoins with its next message). */
  readonly actorTimeoutMs: number;
  /** Work between two yields of an update loop, ms (the learner's default when omitted). */
  readonly sliceMs?: number;
  /** Told every event the service publishes (`daydrive learner` prints its status lines from them). */
  readonly onEvent?: (event: LearnerServiceEvent) => void;
}

/** An event as the service publishes it on the downlink. */
export type LearnerServiceEvent = Omit<LearnerEvent, 'v' | 'kind'>;

/** How often the last weights are broadcast again for actors that joined after them. */
export const WEIGHTS_REFRESH_MS = 1000;

const SERVICE_FILE = 'service.json';
const LEARNER_DIR = 'learner';
const serviceStateSchema = z.object({
  format: z.literal('daydrive-learner-service-v1'),
  learningEpisodes: z.number().int().min(0),
  /** Optimisations owed for episodes received but not yet optimised on when the checkpoint was written. */
  owed: z.array(
    z.object({
      steps: z.number().int().min(0),
      learningEpisodes: z.number().int().min(0),
      episode: z.record(z.string(), z.unknown()),
    }),
  ),
});

/** An optimisation owed for one learning episode; `steps` counts down when a checkpoint interrupts it. */
interface Optimisation {
  readonly kind: 'optimise';
  steps: number;
  readonly episode: Omit<EpisodeMessage, 'v' | 'kind'>;
  readonly learningEpisodes: number;
  /** Stats of the parts done before an interruption (sums; averaged when it finishes). */
  done: { updates: number; criticLoss: number; actorLoss: number; meanQ: number; skipped: number; seconds: number };
}

const NOTHING_DONE = () => ({ updates: 0, criticLoss: 0, actorLoss: 0, meanQ: 0, skipped: 0, seconds: 0 });

type Work = Optimisation | { readonly kind: 'task'; readonly command: TaskCommandName; readonly requestId: number };

export class LearnerService {
  /** Names this process's life in weights and events (a restarted learner has another). */
  readonly incarnation = randomUUID().slice(0, 8);
  learningEpisodes = 0;
  /** Transitions received (all actors), episodes ended. */
  readonly received = { transitions: 0, episodes: 0, batches: 0 };
  private version = 0;
  private readonly work: Work[] = [];
  private working: Promise<void> | null = null;
  private optimising = false;
  private checkpointing = false;
  private readonly deferred: UplinkMessage[] = [];
  private readonly actorsLastSeenMs = new Map<number, number>();
  private readonly actorsGone = new Set<number>();
  private sinceCheckpoint = 0;
  private snapshot: LearnerSnapshot | null = null;
  /** Actors whose next transitions open a new episode. */
  private readonly episodeOpen = new Set<number>();
  private heartbeat: NodeJS.Timeout | null = null;
  private interrupt: AbortController | null = null;
  private lastWeights: { header: Omit<WeightsHeader, 'v' | 'kind' | 'size'>; weights: Float32Array } | null = null;
  private lastWeightsAtMs = 0;
  private stopRequested: number | null = null;
  private stopped = false;
  private resolveStopped!: () => void;
  /** Resolves when a 'stop' task (or stop()) has checkpointed and closed the link. */
  readonly finished: Promise<void> = new Promise((resolve) => (this.resolveStopped = resolve));

  constructor(private readonly opts: LearnerServiceOptions) {
    for (const [name, v] of [
      ['optimisationSteps', opts.optimisationSteps],
      ['checkpointEveryEpisodes', opts.checkpointEveryEpisodes],
      ['weightsEveryUpdates', opts.weightsEveryUpdates],
    ] as const) {
      if (!Number.isInteger(v) || v < (name === 'optimisationSteps' ? 0 : 1))
        throw new RangeError(`${name} must be a positive integer, got ${v}`);
    }
  }

  /** Resumes from the checkpoint in `checkpointDir` if there is one; returns whether it did. */
  async resume(): Promise<boolean> {
    const dir = this.opts.checkpointDir;
    if (!dir || !(await exists(join(dir, SERVICE_FILE)))) return false;
    const state = parseWith(
      serviceStateSchema,
      await readJson(join(dir, SERVICE_FILE)),
      `learner checkpoint ${join(dir, SERVICE_FILE)}`,
    );
    await this.opts.learner.load(join(dir, LEARNER_DIR));
    this.learningEpisodes = state.learningEpisodes;
    // The optimisations the checkpoint was written before are owed still: do them first.
    for (const w of state.owed)
      this.work.push({
        kind: 'optimise',
        steps: w.steps,
        learningEpisodes: w.learningEpisodes,
        episode: w.episode as Omit<EpisodeMessage, 'v' | 'kind'>,
        done: NOTHING_DONE(),
      });
    log.info(
      { dir, learningEpisodes: this.learningEpisodes, replay: this.opts.learner.replaySize(), owed: state.owed.length },
      'learner resumed from its checkpoint',
    );
    return true;
  }

  /** Starts receiving, heartbeats and the owed work; publishes the current weights. */
  start(): void {
    this.opts.link.receive((m) => this.handle(m));
    this.heartbeat = setInterval(() => this.beat(), this.opts.heartbeatMs);
    this.publishWeights();
    this.beat();
    this.kick();
  }

  get isOptimising(): boolean {
    return this.optimising;
  }

  private handle(message: UplinkMessage): void {
    if (this.stopped) return;
    if (this.checkpointing) {
      // The replay is being written: apply after the checkpoint (order kept).
      this.deferred.push(message);
      return;
    }
    const h = message.header;
    if (h.kind !== 'task') this.seen(h.actorId);
    switch (h.kind) {
      case 'hello':
        if (h.stateSize !== this.opts.learner.stateSize || h.actionSize !== this.opts.learner.actionSize) {
          throw new Error(
            `actor ${h.actorId} has state/action sizes ${h.stateSize}/${h.actionSize}, the learner ${this.opts.learner.stateSize}/${this.opts.learner.actionSize}`,
          );
        }
        log.info({ actorId: h.actorId, pid: h.pid }, `actor ${h.actorId} joined`);
        // A new or restarted actor starts a new episode; it gets the weights now rather than after the next update.
        this.opts.learner.endEpisode(h.actorId);
        this.episodeOpen.delete(h.actorId);
        this.publishWeights();
        return;
      case 'transitions': {
        if (!('batch' in message)) return;
        const batch = message.batch;
        if (batch.stateSize !== this.opts.learner.stateSize || batch.actionSize !== this.opts.learner.actionSize) {
          throw new Error(
            `transitions of sizes ${batch.stateSize}/${batch.actionSize}, the learner takes ${this.opts.learner.stateSize}/${this.opts.learner.actionSize}`,
          );
        }
        if (!this.episodeOpen.has(h.actorId)) {
          this.episodeOpen.add(h.actorId);
          // Undo goes back to before this episode (the car's one actor; the latest episode of any
          // actor otherwise), taken between two updates if an optimisation runs (the car's
          // continuous mode): undo then drops this episode's transitions and what was learnt since it began.
          this.snapshot = this.opts.learner.snapshot();
        }
        // A bad transition (non-finite, out of range) is refused alone; the batch's others are kept.
        let refused = 0;
        for (let i = 0; i < batch.count; i++) {
          try {
            this.opts.learner.observe(transitionAt(batch, i), h.actorId);
          } catch (err) {
            refused += 1;
            if (refused === 1) log.warn({ actorId: h.actorId, err: (err as Error).message }, 'refused a transition');
          }
        }
        this.received.transitions += batch.count - refused;
        this.received.batches += 1;
        return;
      }
      case 'episode': {
        this.opts.learner.endEpisode(h.actorId);
        this.episodeOpen.delete(h.actorId);
        this.received.episodes += 1;
        const { v: _v, kind: _k, ...episode } = h;
        if (h.mode === 'test') {
          this.publishEvent({
            name: 'learned',
            incarnation: this.incarnation,
            learningEpisodes: this.learningEpisodes,
            episode,
            update: null,
            optimiseS: 0,
          });
          return;
        }
        this.learningEpisodes += 1;
        this.sinceCheckpoint += 1;
        this.work.push({
          kind: 'optimise',
          steps: this.opts.optimisationSteps,
          episode,
          learningEpisodes: this.learningEpisodes,
          done: NOTHING_DONE(),
        });
        // Checkpoint now rather than after the running optimisation: it pauses, keeps its rest owed, and goes on after.
        if (this.optimising && this.sinceCheckpoint >= this.opts.checkpointEveryEpisodes) this.interrupt?.abort();
        this.kick();
        return;
      }
      case 'heartbeat':
        return;
      case 'task':
        if (h.command === 'stop') {
          // At once, not behind the owed optimisations (the checkpoint keeps them owed).
          this.stopRequested = h.requestId;
          this.interrupt?.abort();
        } else this.work.push({ kind: 'task', command: h.command, requestId: h.requestId });
        this.kick();
        return;
    }
  }

  private seen(actorId: number): void {
    this.actorsLastSeenMs.set(actorId, Date.now());
    if (this.actorsGone.delete(actorId)) log.info({ actorId }, `actor ${actorId} is back`);
  }

  private kick(): void {
    this.working ??= this.drain().finally(() => {
      this.working = null;
      if (this.work.length > 0 && !this.stopped) this.kick();
    });
  }

  private async drain(): Promise<void> {
    while (!this.stopped) {
      if (this.stopRequested !== null) {
        await this.task('stop', this.stopRequested);
        return;
      }
      const item = this.work[0];
      if (!item) return;
      if (item.kind === 'optimise') {
        // Checkpoint first (with this episode's transitions, and this optimisation owed).
        if (this.sinceCheckpoint >= this.opts.checkpointEveryEpisodes) await this.checkpoint();
        if (this.stopRequested !== null) continue;
        if (await this.optimise(item)) this.work.shift();
      } else {
        this.work.shift();
        await this.task(item.command, item.requestId);
      }
    }
  }

  /** Runs the item's owed updates; false when a checkpoint or a stop interrupted it (the rest stays owed). */
  private async optimise(item: Optimisation): Promise<boolean> {
    const { learner } = this.opts;
    const t = performance.now();
    const interrupt = new AbortController();
    this.interrupt = interrupt;
    this.optimising = true;
    try {
      if (item.steps > 0 && learner.replaySize() > 0) {
        let iterations = 0;
        const stats = await learner.update(item.steps, {
          ...(this.opts.sliceMs !== undefined ? { sliceMs: this.opts.sliceMs } : {}),
          signal: interrupt.signal,
          onProgress: (done) => {
            iterations = done;
            if (done % this.opts.weightsEveryUpdates === 0 && done < item.steps)
              this.publishWeights(item.learningEpisodes - 1);
          },
        });
        const d = item.done;
        d.updates += stats.updates;
        d.skipped += stats.skipped;
        if (stats.updates > 0) {
          d.criticLoss += stats.criticLoss * stats.updates;
          d.actorLoss += (Number.isFinite(stats.actorLoss) ? stats.actorLoss : 0) * stats.updates;
          d.meanQ += stats.meanQ * stats.updates;
        }
        item.steps -= iterations;
        if (interrupt.signal.aborted && item.steps > 0) {
          item.done.seconds += (performance.now() - t) / 1000;
          return false;
        }
      }
    } finally {
      this.optimising = false;
      this.interrupt = null;
    }
    const d = item.done;
    const optimiseS = d.seconds + (performance.now() - t) / 1000;
    const update: UpdateStats | null =
      d.updates > 0
        ? {
            updates: d.updates,
            criticLoss: d.criticLoss / d.updates,
            actorLoss: d.actorLoss / d.updates,
            meanQ: d.meanQ / d.updates,
            skipped: d.skipped,
          }
        : null;
    this.publishWeights(item.learningEpisodes);
    this.publishEvent({
      name: 'learned',
      incarnation: this.incarnation,
      learningEpisodes: item.learningEpisodes,
      episode: item.episode,
      update,
      optimiseS,
    });
    return true;
  }

  private async task(command: TaskCommandName, requestId: number): Promise<void> {
    const done = (detail?: string) =>
      this.publishEvent({
        name: 'task-done',
        incarnation: this.incarnation,
        learningEpisodes: this.learningEpisodes,
        requestId,
        ...(detail ? { detail } : {}),
      });
    switch (command) {
      case 'checkpoint':
        await this.checkpoint();
        done();
        return;
      case 'undo': {
        if (!this.snapshot) {
          this.publishEvent({
            name: 'task-refused',
            incarnation: this.incarnation,
            learningEpisodes: this.learningEpisodes,
            requestId,
            detail: 'nothing to undo',
          });
          return;
        }
        this.opts.learner.restore(this.snapshot);
        this.snapshot = null;
        this.learningEpisodes = Math.max(0, this.learningEpisodes - 1);
        this.publishWeights();
        done('the last learning episode undone');
        return;
      }
      case 'stop':
        done();
        await this.stop();
        return;
    }
  }

  /**
   * Stops as a 'stop' task does (a signal, the parent gone): the running optimisation is
   * interrupted between two updates (its rest stays owed in the checkpoint), then stop().
   */
  requestStop(): void {
    if (this.stopped) return;
    this.stopRequested ??= 0;
    this.interrupt?.abort();
    this.kick();
  }

  /** Checkpoints (when configured), says so, and closes the link. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    if (this.heartbeat) clearInterval(this.heartbeat);
    // Owed optimisations are kept in the checkpoint (a resumed learner does them).
    if (this.opts.checkpointDir) await this.checkpoint();
    this.stopped = true;
    this.publishEvent({
      name: 'stopping',
      incarnation: this.incarnation,
      learningEpisodes: this.learningEpisodes,
    });
    await this.opts.link.flush();
    this.opts.link.close();
    this.resolveStopped();
  }

  /** Writes learner (networks, optimisers, replay) and service state; uplink messages wait meanwhile. */
  async checkpoint(): Promise<void> {
    const dir = this.opts.checkpointDir;
    if (!dir) return;
    this.checkpointing = true;
    try {
      const owed = this.work.filter((w): w is Optimisation => w.kind === 'optimise');
      await replaceDirectory(dir, async (tmp) => {
        await this.opts.learner.save(join(tmp, LEARNER_DIR));
        await writeJsonSafely(join(tmp, SERVICE_FILE), {
          format: 'daydrive-learner-service-v1',
          learningEpisodes: this.learningEpisodes,
          owed: owed.map((w) => ({ steps: w.steps, learningEpisodes: w.learningEpisodes, episode: w.episode })),
        });
      });
      this.sinceCheckpoint = 0;
      this.publishEvent({
        name: 'checkpointed',
        incarnation: this.incarnation,
        learningEpisodes: this.learningEpisodes,
      });
    } finally {
      this.checkpointing = false;
      for (const m of this.deferred.splice(0)) {
        try {
          this.handle(m);
        } catch (err) {
          log.warn({ err: (err as Error).message }, 'refused a message received during the checkpoint');
        }
      }
    }
  }

  private publishEvent(event: LearnerServiceEvent): void {
    this.opts.link.publishEvent(event);
    this.opts.onEvent?.(event);
  }

  private publishWeights(learningEpisodes = this.learningEpisodes): void {
    const learner = this.opts.learner as Learner & PolicyWeights & { updateCount?: number };
    this.lastWeights = {
      header: {
        incarnation: this.incarnation,
        version: ++this.version,
        updates: learner.updateCount ?? 0,
        learningEpisodes: Math.max(0, learningEpisodes),
      },
      weights: learner.policyWeights(),
    };
    this.lastWeightsAtMs = Date.now();
    this.opts.link.publishWeights(this.lastWeights.header, this.lastWeights.weights);
  }

  private beat(): void {
    const now = Date.now();
    // PUB/SUB loses what is sent before a subscriber's connection is up (a joining actor): the
    // last weights go out again every WEIGHTS_REFRESH_MS, same version, ignored by actors that have them.
    if (this.lastWeights && now - this.lastWeightsAtMs >= WEIGHTS_REFRESH_MS) {
      this.lastWeightsAtMs = now;
      this.opts.link.publishWeights(this.lastWeights.header, this.lastWeights.weights);
    }
    let alive = 0;
    for (const [id, last] of this.actorsLastSeenMs) {
      if (now - last <= this.opts.actorTimeoutMs) alive += 1;
      else if (!this.actorsGone.has(id)) {
        this.actorsGone.add(id);
        log.warn({ actorId: id, silentMs: now - last }, `actor ${id} went silent`);
      }
    }
    const learner = this.opts.learner as Learner & { updateCount?: number };
    this.opts.link.publishHeartbeat({
      incarnation: this.incarnation,
      sentAtMs: now,
      updates: learner.updateCount ?? 0,
      replaySize: learner.replaySize(),
      learningEpisodes: this.learningEpisodes,
      optimising: this.optimising,
      actorsAlive: alive,
    });
  }
}
