import { performance } from 'node:perf_hooks';
import type {
  DrivingEnvironment,
  DrivingInfo,
  DrivingObservation,
  InterventionReason,
  ResetOptions,
} from '../core/env.js';
import type { UpdateStats } from '../rl/types.js';
import type { DrivingAgent } from './agent.js';
import { EpisodeStepper, type DriveController } from './episode.js';
import { DRAWN_EPISODE_ROADS, type EpisodeRoads } from './episode-roads.js';
import type { EpisodeMode, TaskCommand } from './task.js';

/**
 * The simulated safety driver's side of training (Kendall et al. 2019): it gives the task
 * commands, ends episodes on interventions, and puts the car back at the lane centre where it
 * took over. This loop knows only the environment API, so any DrivingEnvironment can be used.
 */

export interface TrainingSchedule {
  /** Learning (explore + train) episodes at most; then a last test and done. */
  readonly maxEpisodes: number;
  /** A test episode after every this many training episodes (random exploration excluded). */
  readonly testEvery: number;
  /** Stop once tests drive the whole route without an intervention (`testsToPass` in a row). */
  readonly stopWhenTestCompletesRoute: boolean;
  /**
   * Tests in a row that must complete their route (with 'new' test roads: that many different
   * unseen roads). After a passed test the next test follows at once, without training between.
   */
  readonly testsToPass: number;
  /** Undo the last training episode when a test drives less than this fraction of the best test; null: never. */
  readonly undoBelowFractionOfBestTest: number | null;
  /**
   * 'route': training episodes continue along the one training route (the paper's protocol);
   * 'varied': each training episode starts a different road at its beginning (the run's
   * EpisodeRoads: by default seeds from VARIED_ROAD_SEED_BASE), so the policy sees more looks than
   * one route has;
   * 'varied-continued': one road after another, each driven to its end as the paper's route was:
   * after an intervention the next training episode continues where the driver took over, and a
   * new road begins once the current one is complete. Noisy training episodes end within metres,
   * so with 'varied' most training data comes from the first metres of roads, never their bends.
   * 'failed-tests': after a failed test the next training episode continues that test's road
   * from where the driver took over (as the paper's driver put the car back where it
   * intervened), so the noisy policy explores the bend the policy failed; else as 'varied'.
   */
  readonly trainingRoads: TrainingRoads;
  /**
   * 'route': every test drives the training route from its start (the paper's protocol);
   * 'new': every test drives a road no episode has used (the run's EpisodeRoads: by default
   * seeds from `TEST_ROAD_SEED_BASE`), so passing a test means the policy generalises rather than
   * knowing one route.
   */
  readonly testRoads: 'route' | 'new';
}

export const TRAINING_ROADS = ['route', 'varied', 'varied-continued', 'failed-tests'] as const;
export type TrainingRoads = (typeof TRAINING_ROADS)[number];

export interface EpisodeRecord {
  readonly episode: number;
  readonly mode: EpisodeMode;
  readonly steps: number;
  /** Metres along the road centre line (the sum of rewards). */
  readonly distanceM: number;
  readonly intervention: InterventionReason | null;
  readonly routeCompleted: boolean;
  /** Explore + train episodes finished so far (after undo: minus the undone ones). */
  readonly learningEpisodes: number;
  /** Metres driven in learning episodes so far (the paper's "training distance"). */
  readonly trainingDistanceM: number;
  /** Wall-clock seconds since the run began, resumes included. */
  readonly elapsedS: number;
  /** Where this episode's time went, seconds. */
  readonly seconds: { readonly world: number; readonly agent: number; readonly optimise: number };
  readonly update: UpdateStats | null;
  /** (Tests) this result made the driver undo the training episode before it. */
  readonly undid: boolean;
}

/** Everything the loop needs to continue after a restart. */
export interface TrainingProgress {
  readonly records: readonly EpisodeRecord[];
  readonly elapsedS: number;
}

export const NO_PROGRESS: TrainingProgress = { records: [], elapsedS: 0 };

/** A test that drove its whole route without an intervention. */
export function passed(r: EpisodeRecord): boolean {
  return r.mode === 'test' && r.routeCompleted && r.intervention === null;
}

/** Passed tests at the end of the records, with no training episode between them. */
export function consecutivePasses(records: readonly EpisodeRecord[]): number {
  let n = 0;
  for (let i = records.length - 1; i >= 0 && passed(records[i]!); i--) n++;
  return n;
}

/** The schedule's decision after the episodes so far (a pure function of the records). */
export function nextCommand(
  records: readonly EpisodeRecord[],
  schedule: TrainingSchedule,
  exploreEpisodes: number,
): TaskCommand {
  const last = records.at(-1);
  if (!last) return 'train';
  if (last.mode === 'test') {
    if (passed(last) && schedule.stopWhenTestCompletesRoute) {
      return consecutivePasses(records) >= schedule.testsToPass ? 'done' : 'test';
    }
    if (last.learningEpisodes >= schedule.maxEpisodes) return 'done';
    const bestTest = Math.max(...records.filter((r) => r.mode === 'test' && r !== last).map((r) => r.distanceM), 0);
    const previous = records.at(-2);
    const undo = schedule.undoBelowFractionOfBestTest;
    if (undo !== null && previous?.mode === 'train' && !last.undid && last.distanceM < undo * bestTest) return 'undo';
    return 'train';
  }
  if (last.learningEpisodes >= schedule.maxEpisodes) return 'test';
  const trained = last.learningEpisodes - exploreEpisodes;
  return last.mode === 'train' && trained > 0 && trained % schedule.testEvery === 0 ? 'test' : 'train';
}

export interface StepView {
  readonly mode: EpisodeMode;
  readonly observation: DrivingObservation;
  readonly info: DrivingInfo | null;
}

export interface EpisodeOutcome {
  readonly mode: EpisodeMode;
  readonly steps: number;
  readonly distanceM: number;
  readonly intervention: InterventionReason | null;
  readonly routeCompleted: boolean;
  readonly worldS: number;
  readonly agentS: number;
}

/**
 * Drives one episode the agent has been told to start: reset, then decide / step / outcome until
 * it ends, through the EpisodeStepper the ROS node drives the agent with too.
 */
export async function driveEpisode(
  env: DrivingEnvironment,
  agent: DriveController,
  reset: ResetOptions,
  onStep?: (view: StepView) => void | Promise<void>,
): Promise<EpisodeOutcome> {
  const stepper = new EpisodeStepper(agent);
  let worldS = 0;
  let agentS = 0;
  let t = performance.now();
  let obs = await env.reset(reset);
  worldS += (performance.now() - t) / 1000;
  t = performance.now();
  const mode = await stepper.begin(obs);
  agentS += (performance.now() - t) / 1000;
  await onStep?.({ mode, observation: obs, info: null });
  let intervention: InterventionReason | null = null;
  let routeCompleted = false;
  for (;;) {
    t = performance.now();
    const action = stepper.decide();
    const tWorld = performance.now();
    const step = await env.step(action);
    const tAgent = performance.now();
    await stepper.outcome(step);
    worldS += (tAgent - tWorld) / 1000;
    agentS += (tWorld - t + performance.now() - tAgent) / 1000;
    obs = step.observation;
    await onStep?.({ mode, observation: obs, info: step.info });
    if (step.terminated || step.truncated) {
      intervention = step.info.intervention;
      routeCompleted = step.info.routeCompletion >= 1 && intervention === null;
      break;
    }
  }
  const summary = await stepper.end();
  return { mode, steps: summary.steps, distanceM: summary.return, intervention, routeCompleted, worldS, agentS };
}

/**
 * Where the next episode starts (a pure function of the schedule and the records): tests on the
 * training route or a new road; training episodes by `schedule.trainingRoads`. New roads are
 * `roads`' choice.
 */
export function episodeReset(
  mode: EpisodeMode,
  schedule: TrainingSchedule,
  records: readonly EpisodeRecord[],
  where: { readonly routeSeed: number; readonly firstEpisode: boolean; readonly separateTestWorld: boolean },
  roads: EpisodeRoads = DRAWN_EPISODE_ROADS,
): ResetOptions {
  if (mode === 'test') return schedule.testRoads === 'new' ? { seed: roads.test(records) } : { seed: where.routeSeed };
  const newRoad = (): ResetOptions => ({ seed: roads.training(records) });
  switch (schedule.trainingRoads) {
    case 'failed-tests':
      return episodeWorld(mode, schedule, records, where) === 'test' ? { continueRoute: true } : newRoad();
    case 'route':
      return where.firstEpisode ? { seed: where.routeSeed } : { continueRoute: true };
    case 'varied':
      return newRoad();
    case 'varied-continued': {
      // Continue the road of the last learning episode unless it was completed (or a test in the
      // same world drove another road since, or the world was rebuilt on resume).
      const last = records.at(-1);
      const lastLearning = records.findLast((r) => r.mode !== 'test');
      const worldKept = !where.firstEpisode && (where.separateTestWorld || last?.mode !== 'test');
      return worldKept && lastLearning && !lastLearning.routeCompleted ? { continueRoute: true } : newRoad();
    }
  }
}

/**
 * Which world the next episode drives in: tests in the test world, and with 'failed-tests' the
 * training episode after a failed test too (the car is still where that test's driver took
 * over, unless the world was rebuilt on resume); other training episodes in the training world.
 */
export function episodeWorld(
  mode: EpisodeMode,
  schedule: TrainingSchedule,
  records: readonly EpisodeRecord[],
  where: { readonly firstEpisode: boolean },
): 'train' | 'test' {
  if (mode === 'test') return 'test';
  const last = records.at(-1);
  const afterFailedTest = last !== undefined && last.mode === 'test' && !passed(last) && !where.firstEpisode;
  return schedule.trainingRoads === 'failed-tests' && afterFailedTest ? 'test' : 'train';
}

export interface TrainingHooks {
  /** After every episode (and its optimisation): log, write metrics, checkpoint. */
  onEpisode?(record: EpisodeRecord, progress: TrainingProgress): Promise<void>;
  onStep?(view: StepView): void | Promise<void>;
  onOptimiseProgress?(done: number, total: number): void;
  /** Checked between episodes: true stops the run cleanly (e.g. after SIGINT). */
  shouldStop?(): boolean;
}

export interface TrainingOptions {
  readonly env: DrivingEnvironment;
  /**
   * Where test episodes drive (default: env). In simulation a second world keeps the training
   * road and the car's place on it across tests, so training resumes where it stopped.
   */
  readonly testEnv?: DrivingEnvironment;
  readonly agent: DrivingAgent;
  readonly schedule: TrainingSchedule;
  /** The training route (the paper's one road): tests start at its beginning. */
  readonly routeSeed: number;
  /** The roads of new training and test episodes (default: drawn, DRAWN_EPISODE_ROADS). */
  readonly roads?: EpisodeRoads;
  readonly progress?: TrainingProgress;
  readonly hooks?: TrainingHooks;
}

/**
 * Trains until tests drive their whole route without intervention (`testsToPass` in a row), or
 * maxEpisodes. Where each episode starts (the training route, a new road, or back at the lane
 * centre where the driver took over) is `episodeReset`'s choice.
 */
export async function trainAgent(opts: TrainingOptions): Promise<TrainingProgress> {
  const { env, agent, schedule, hooks = {} } = opts;
  let progress = opts.progress ?? NO_PROGRESS;
  const startedAt = performance.now() - progress.elapsedS * 1000;
  // The first episode of a run (or of a resumed run: the world was rebuilt) starts at the route's beginning.
  let firstEpisode = true;
  for (;;) {
    if (hooks.shouldStop?.()) return progress;
    const command = nextCommand(progress.records, schedule, agent.config.exploreEpisodes);
    const step = agent.command(command);
    if (step.refused) throw new Error(`the task machine refused '${command}': ${step.refused}`);
    if (command === 'done') return progress;
    if (command === 'undo') {
      const records = progress.records;
      progress = { ...progress, records: [...records.slice(0, -1), { ...records.at(-1)!, undid: true }] };
      continue;
    }
    const mode = step.effects.find((e) => e.kind === 'start-episode')?.mode ?? 'train';
    const where = { routeSeed: opts.routeSeed, firstEpisode, separateTestWorld: opts.testEnv !== undefined };
    const reset = episodeReset(mode, schedule, progress.records, where, opts.roads);
    const world = episodeWorld(mode, schedule, progress.records, where) === 'test' ? (opts.testEnv ?? env) : env;
    firstEpisode = false;
    const outcome = await driveEpisode(world, agent, reset, hooks.onStep);
    let update: UpdateStats | null = null;
    let optimiseS = 0;
    if (agent.optimisationDue) {
      const t = performance.now();
      const total = agent.config.optimisationSteps;
      update = (await agent.optimise({ onProgress: (done) => hooks.onOptimiseProgress?.(done, total) })).stats;
      optimiseS = (performance.now() - t) / 1000;
    }
    const previous = progress.records.at(-1);
    const learning = mode !== 'test';
    const record: EpisodeRecord = {
      episode: progress.records.length + 1,
      mode,
      steps: outcome.steps,
      distanceM: outcome.distanceM,
      intervention: outcome.intervention,
      routeCompleted: outcome.routeCompleted,
      learningEpisodes: agent.taskState.learningEpisodes,
      trainingDistanceM: (previous?.trainingDistanceM ?? 0) + (learning ? outcome.distanceM : 0),
      elapsedS: (performance.now() - startedAt) / 1000,
      seconds: { world: outcome.worldS, agent: outcome.agentS, optimise: optimiseS },
      update,
      undid: false,
    };
    progress = { records: [...progress.records, record], elapsedS: record.elapsedS };
    await hooks.onEpisode?.(record, progress);
  }
}
