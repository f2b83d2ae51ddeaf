import type { VectorEnvironment } from '../core/env.js';
import { Rng } from '../core/rng.js';
import type { Exploration, Learner } from './types.js';

/**
 * The off-policy training loop for vector-state tasks (classic control), as Stable-Baselines3 runs
 * it: uniform random actions for the first `learningStarts` steps, then the exploration policy;
 * after every environment step past `learningStarts`, `gradientSteps` updates. Time-limit
 * truncation ends the episode but keeps the bootstrap (only `terminated` zeroes it).
 * The learner sees transitions, not the task: any VectorEnvironment works.
 */

export interface VectorTrainOptions {
  readonly steps: number;
  readonly learningStarts: number;
  /** Updates after each environment step once learning started (SB3 train_freq 1). */
  readonly gradientSteps: number;
  /** Evaluate every this many environment steps (0: only at the end). */
  readonly evalEvery: number;
  readonly evalEpisodes: number;
  readonly seed: number;
  readonly onProgress?: (progress: TrainProgress) => void;
}

export interface TrainProgress {
  readonly step: number;
  readonly episodes: number;
  readonly lastEpisodeReturn: number | null;
  readonly lastEval: number | null;
}

export interface EvalPoint {
  readonly step: number;
  readonly meanReturn: number;
  readonly stdReturn: number;
}

export interface TrainReport {
  readonly steps: number;
  readonly episodes: number;
  readonly updates: number;
  readonly skippedUpdates: number;
  readonly episodeReturns: number[];
  readonly evaluations: EvalPoint[];
  /** The last evaluation. */
  readonly final: EvalPoint;
  readonly seconds: number;
}

/** Mean and population std of the undiscounted returns of `episodes` plain-policy episodes. */
export async function evaluatePolicy(
  env: VectorEnvironment,
  act: (state: Float32Array) => Float32Array,
  episodes: number,
  seed: number,
): Promise<{ meanReturn: number; stdReturn: number; returns: number[] }> {
  const returns: number[] = [];
  for (let e = 0; e < episodes; e++) {
    let obs = await env.reset({ seed: seed + e });
    let total = 0;
    for (;;) {
      const r = await env.step(act(obs));
      total += r.reward;
      obs = r.observation;
      if (r.terminated || r.truncated) break;
    }
    returns.push(total);
  }
  const mean = returns.reduce((a, b) => a + b, 0) / returns.length;
  const std = Math.sqrt(returns.reduce((a, b) => a + (b - mean) ** 2, 0) / returns.length);
  return { meanReturn: mean, stdReturn: std, returns };
}

export async function trainOnVectorEnv(
  env: VectorEnvironment,
  evalEnv: VectorEnvironment,
  learner: Learner,
  exploration: Exploration,
  options: VectorTrainOptions,
): Promise<TrainReport> {
  const started = Date.now();
  const rng = Rng.fromSeed(options.seed);
  const episodeReturns: number[] = [];
  const evaluations: EvalPoint[] = [];
  let updates = 0;
  let skippedUpdates = 0;
  let episodeReturn = 0;
  let obs = await env.reset({ seed: options.seed });
  const evaluate = async (step: number): Promise<EvalPoint> => {
    // Evaluation seeds are disjoint from training seeds (which count up from options.seed).
    const e = await evaluatePolicy(evalEnv, (s) => learner.act(s), options.evalEpisodes, options.seed + 1_000_000);
    const point = { step, meanReturn: e.meanReturn, stdReturn: e.stdReturn };
    evaluations.push(point);
    return point;
  };
  for (let step = 1; step <= options.steps; step++) {
    const action =
      step <= options.learningStarts
        ? Float32Array.from({ length: learner.actionSize }, () => rng.range(-1, 1))
        : exploration.action(learner, obs);
    const r = await env.step(action);
    learner.observe({ state: obs, action, reward: r.reward, nextState: r.observation, terminated: r.terminated });
    episodeReturn += r.reward;
    obs = r.observation;
    if (r.terminated || r.truncated) {
      learner.endEpisode();
      exploration.endEpisode();
      episodeReturns.push(episodeReturn);
      episodeReturn = 0;
      obs = await env.reset({ seed: options.seed + episodeReturns.length });
    }
    if (step > options.learningStarts && options.gradientSteps > 0) {
      const stats = await learner.update(options.gradientSteps);
      updates += stats.updates;
      skippedUpdates += stats.skipped;
    }
    if (options.evalEvery > 0 && step % options.evalEvery === 0 && step < options.steps) await evaluate(step);
    if (options.onProgress && (step % 100 === 0 || step === options.steps)) {
      options.onProgress({
        step,
        episodes: episodeReturns.length,
        lastEpisodeReturn: episodeReturns.at(-1) ?? null,
        lastEval: evaluations.at(-1)?.meanReturn ?? null,
      });
    }
  }
  const final = await evaluate(options.steps);
  return {
    steps: options.steps,
    episodes: episodeReturns.length,
    updates,
    skippedUpdates,
    episodeReturns,
    evaluations,
    final,
    seconds: (Date.now() - started) / 1000,
  };
}
