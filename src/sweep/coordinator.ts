import { join } from 'node:path';
import { Rng } from '../core/rng.js';
import { log } from '../core/logger.js';
import type { Executor, ExecutorEvent } from './executor.js';
import { scalarObjective, type SeedResult } from './objective.js';
import { createPruner, type Pruner } from './pruners/index.js';
import { SWEEP_FILES, writeBest, writeResults, writeTrials, type SweepMeta, type TrialRecord } from './record.js';
import { createSampler, type Sampler } from './samplers/index.js';
import { configInput, defaultParams, validateConfiguration, type Params, type SearchSpace } from './space.js';
import { bootstrapScore, compareScores } from './statistics.js';
import type { SeedTask } from './trial-seed.js';

/**
 * The sweep loop: samples configurations, hands their trial seeds to an executor (local pool or
 * queue), gathers each result once, scores trials with bootstrap intervals, prunes, and keeps the
 * sweep directory current. Finished trial seeds are never run again, resumed or not.
 */
export interface SweepRunOptions {
  readonly dir: string;
  readonly space: SearchSpace;
  readonly meta: SweepMeta;
  /** The records so far (a resumed sweep); running seeds among them are run again. */
  readonly trials: TrialRecord[];
  readonly executor: Executor;
  readonly roadSeeds: readonly number[];
  readonly keepRuns: boolean;
  readonly shouldStop: () => boolean;
  /** Resolves when a stop is asked for (Ctrl-C), so a wait for results can end. */
  readonly stopRequested: Promise<void>;
  readonly onUpdate?: (trials: readonly TrialRecord[]) => void;
}

export interface SweepOutcome {
  readonly trials: readonly TrialRecord[];
  readonly best: TrialRecord | null;
  readonly stopped: boolean;
}

function now(): string {
  return new Date().toISOString();
}

/** Trials with a score, best first: finished trials, then pruned ones (fewer seeds, and worse by the pruner's account). */
export function rankTrials(trials: readonly TrialRecord[], space: SearchSpace): TrialRecord[] {
  const scored = (state: TrialRecord['state']) =>
    trials
      .filter((t) => t.state === state && t.score)
      .sort((a, b) => compareScores(a.score!, b.score!, space.objective) || a.id - b.id);
  return [...scored('done'), ...scored('pruned')];
}

function doneResults(trial: TrialRecord): SeedResult[] {
  return trial.seeds.filter((s) => s.state === 'done' && s.result).map((s) => s.result!);
}

export class SweepCoordinator {
  private readonly trials: TrialRecord[];
  private readonly sampler: Sampler;
  private readonly pruner: Pruner;
  private readonly outstanding = new Set<string>();

  constructor(private readonly opts: SweepRunOptions) {
    const { settings } = opts.meta;
    this.trials = opts.trials;
    this.sampler = createSampler(settings.sampler, opts.space, {
      trials: settings.trials,
      seed: settings.seed,
      startupTrials: settings.startupTrials,
    });
    this.pruner = createPruner(settings.pruner, {
      seeds: settings.seeds,
      reductionFactor: settings.reductionFactor,
      startupTrials: settings.startupTrials,
    });
    // A resumed sweep: seeds that were running are run again; the pruner relearns what it saw.
    for (const t of this.trials) {
      for (const s of t.seeds) if (s.state === 'running') s.state = 'pending';
      const done = doneResults(t);
      for (let step = 1; step <= done.length; step++)
        this.pruner.report(t.id, step, scalarObjective(done.slice(0, step), opts.space.objective));
      if (t.state === 'done') this.pruner.complete(t.id);
    }
  }

  private get sequentialSeeds(): boolean {
    return this.opts.meta.settings.pruner !== 'none';
  }

  private taskKey(trialId: number, seedIndex: number): string {
    return `${trialId}/${seedIndex}`;
  }

  private makeTask(trial: TrialRecord, seedIndex: number): SeedTask {
    const seed = trial.seeds[seedIndex]!;
    seed.state = 'running';
    seed.startedAt = now();
    return {
      sweepId: this.opts.meta.id,
      trialId: trial.id,
      seedIndex,
      config: { ...trial.config, seed: seed.seed },
      roadSeeds: this.opts.roadSeeds,
      runDir: join(this.opts.dir, SWEEP_FILES.runs, `trial-${trial.id}-seed-${seedIndex}`),
      keepRun: this.opts.keepRuns,
    };
  }

  /** The next trial seed to run: a pending seed of a running trial first, else a new configuration. */
  private nextTask(): SeedTask | null {
    for (const t of this.trials) {
      if (t.state !== 'running') continue;
      for (const s of t.seeds) {
        if (s.state === 'pending') {
          if (this.sequentialSeeds && t.seeds.some((o) => o.index < s.index && o.state !== 'done')) break;
          return this.makeTask(t, s.index);
        }
      }
    }
    const { settings } = this.opts.meta;
    if (settings.includeDefaults && !this.trials.some((t) => t.reference === 'defaults'))
      return this.addTrial(defaultParams(this.opts.space), 'defaults');
    const sampled = () => this.trials.filter((t) => t.reference === undefined);
    while (sampled().length < settings.trials) {
      const index = sampled().length;
      // The reference trial is not modelled: its values may lie outside the space's ranges.
      const ranked = rankTrials(sampled(), this.opts.space).map((t) => ({ id: t.id, params: t.params }));
      const params = this.sampler.sample(this.opts.space, {
        trialIndex: index,
        ranked,
        rng: Rng.fromSeed((settings.seed * 1_000_003 + index) | 0),
      });
      const task = this.addTrial(params);
      if (task) return task;
    }
    return null;
  }

  /** Records a new trial and returns its first seed's task, or null when its configuration is invalid (recorded as failed). */
  private addTrial(params: Params, reference?: 'defaults'): SeedTask | null {
    const check = validateConfiguration(this.opts.space, params);
    const config = configInput(this.opts.space, params);
    delete config.seed;
    const id = this.trials.length;
    const trial: TrialRecord = {
      id,
      params,
      config,
      ...(reference ? { reference } : {}),
      state: check.ok ? 'running' : 'failed',
      ...(check.ok ? {} : { reason: `invalid configuration: ${check.reason}`, finishedAt: now() }),
      seeds: Array.from({ length: this.opts.meta.settings.seeds }, (_, k) => ({
        index: k,
        seed: baseSeed(this.opts.space) + k,
        state: check.ok ? ('pending' as const) : ('skipped' as const),
      })),
      createdAt: now(),
    };
    this.trials.push(trial);
    if (check.ok) return this.makeTask(trial, 0);
    log.warn({ trial: id, reason: trial.reason }, 'configuration recorded as failed');
    return null;
  }

  private settle(event: ExecutorEvent): void {
    const { task } = event;
    this.outstanding.delete(this.taskKey(task.trialId, task.seedIndex));
    const trial = this.trials.find((t) => t.id === task.trialId);
    const seed = trial?.seeds[task.seedIndex];
    // Gathered once: a result for a seed already settled (a job run twice after a stall) is not counted again.
    if (!trial || !seed || seed.state === 'done' || seed.state === 'failed') return;
    seed.finishedAt = now();
    if (event.kind === 'failed') {
      seed.state = 'failed';
      seed.reason = event.reason;
      if (trial.state === 'running') {
        trial.state = 'failed';
        trial.reason = event.badConfiguration ? `bad configuration: ${event.reason}` : event.reason;
        trial.finishedAt = seed.finishedAt;
        for (const s of trial.seeds) if (s.state === 'pending') s.state = 'skipped';
      }
      return;
    }
    seed.state = 'done';
    seed.result = event.result;
    seed.worker = event.result.worker;
    const done = doneResults(trial);
    trial.score = bootstrapScore(done, { seed: trial.id });
    if (trial.state !== 'running') return;
    if (done.length === trial.seeds.length) {
      trial.state = 'done';
      trial.finishedAt = seed.finishedAt;
      this.pruner.complete(trial.id);
      return;
    }
    if (!this.sequentialSeeds) return;
    const decision = this.pruner.report(trial.id, done.length, scalarObjective(done, this.opts.space.objective));
    // The defaults are the bar, not a candidate: they run every seed, so "beats the defaults" has intervals on both sides.
    if (decision === 'prune' && trial.reference === undefined) {
      trial.state = 'pruned';
      trial.reason = `pruned by ${this.pruner.name} after ${done.length} seed${done.length === 1 ? '' : 's'}`;
      trial.finishedAt = seed.finishedAt;
      for (const s of trial.seeds) if (s.state === 'pending') s.state = 'skipped';
    }
  }

  private async save(): Promise<void> {
    const { dir, space } = this.opts;
    await writeTrials(dir, this.trials);
    await writeResults(dir, space, this.trials);
    const best = rankTrials(this.trials, space).find((t) => t.state === 'done');
    if (best) await writeBest(dir, best);
    this.opts.onUpdate?.(this.trials);
  }

  async run(): Promise<SweepOutcome> {
    const { executor } = this.opts;
    let stopped = false;
    await this.save();
    for (;;) {
      if (this.opts.shouldStop()) {
        stopped = true;
        break;
      }
      while (this.outstanding.size < executor.capacity) {
        const task = this.nextTask();
        if (!task) break;
        this.outstanding.add(this.taskKey(task.trialId, task.seedIndex));
        executor.submit(task);
      }
      await this.save();
      if (this.outstanding.size === 0) break;
      const event = await Promise.race([executor.next(), this.opts.stopRequested.then(() => null)]);
      if (event === null) {
        stopped = true;
        break;
      }
      this.settle(event);
    }
    if (stopped) {
      // Seeds in flight are run again on --resume (a queue may finish them meanwhile: gathered then).
      for (const t of this.trials) for (const s of t.seeds) if (s.state === 'running') s.state = 'pending';
    }
    await executor.close();
    await this.save();
    const best = rankTrials(this.trials, this.opts.space).find((t) => t.state === 'done') ?? null;
    return { trials: this.trials, best, stopped };
  }
}

/** The seed of a configuration's first trial seed: the base config's seed (default 0); then +1 per seed. */
export function baseSeed(space: SearchSpace): number {
  const s = space.base.seed;
  return typeof s === 'number' ? s : 0;
}
