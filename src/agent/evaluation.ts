import type { DrivingEnvironment, DrivingInfo, DrivingObservation, InterventionReason } from '../core/env.js';
import { Rng } from '../core/rng.js';
import type { DrivingAgent } from './agent.js';
import { ActionShaper } from './actions.js';
import type { AgentConfig } from './config.js';

/**
 * Table I of Kendall et al. 2019, in simulation: each policy drives whole routes; at every
 * intervention the car is put back at the lane centre where it happened and drives on, until the
 * route is complete. Metres per disengagement = distance driven / disengagements.
 */

/** A policy driven episode by episode (the trained agent in test mode, or a baseline). */
export interface EpisodePolicy {
  readonly name: string;
  begin(obs: DrivingObservation): Promise<void>;
  act(): Float32Array;
  observe(reward: number, next: DrivingObservation, terminated: boolean): Promise<void>;
  end(): void;
}

/** Uniformly random commands, through the same action shaping as the agent (the car's limits). */
export function randomPolicy(agent: AgentConfig, seed: number): EpisodePolicy {
  const rng = Rng.fromSeed(seed);
  const shaper = new ActionShaper(agent.maxSteeringChangePerStep, agent.speedFractionRange);
  return {
    name: 'random',
    begin: async () => shaper.reset(0),
    act: () => shaper.shape([rng.range(-1, 1), rng.range(-1, 1)]).world,
    observe: async () => {},
    end: () => {},
  };
}

/** Straight ahead at a constant speed (the middle of the agent's speed range). */
export function zeroPolicy(agent: AgentConfig): EpisodePolicy {
  const shaper = new ActionShaper(agent.maxSteeringChangePerStep, agent.speedFractionRange);
  return {
    name: 'zero',
    begin: async () => shaper.reset(0),
    act: () => shaper.shape([0, 0]).world,
    observe: async () => {},
    end: () => {},
  };
}

/** The trained agent's plain policy (a 'test' task: no noise, no optimisation). */
export function agentPolicy(agent: DrivingAgent, name = 'agent'): EpisodePolicy {
  return {
    name,
    begin: async (obs) => {
      const step = agent.command('test');
      if (step.refused) throw new Error(`cannot test: ${step.refused}`);
      await agent.begin(obs);
    },
    act: () => agent.act(),
    observe: (reward, next, terminated) => agent.observe(reward, next, terminated),
    end: () => void agent.endEpisode(),
  };
}

export interface RouteResult {
  readonly routeSeed: number;
  readonly distanceM: number;
  readonly disengagements: number;
  readonly reasons: Partial<Record<InterventionReason, number>>;
  /** False when the drive was given up (maxDisengagements reached) before the route's end. */
  readonly completed: boolean;
}

/**
 * Drives the whole route of `routeSeed` with `policy`, counting interventions. `onStep` sees
 * each step's info before any reset (the world is still where it ended: pictures of a failure).
 */
export async function driveRoute(
  env: DrivingEnvironment,
  policy: EpisodePolicy,
  routeSeed: number,
  maxDisengagements: number,
  onStep?: (info: DrivingInfo) => void,
): Promise<RouteResult> {
  let distanceM = 0;
  let disengagements = 0;
  const reasons: Partial<Record<InterventionReason, number>> = {};
  let obs = await env.reset({ seed: routeSeed });
  // Episodes cut by the step limit are not disengagements; a policy that never gets anywhere is given up too.
  for (let episode = 0; ; episode++) {
    await policy.begin(obs);
    let done = false;
    let completed = false;
    while (!done) {
      const step = await env.step(policy.act());
      await policy.observe(step.reward, step.observation, step.terminated);
      onStep?.(step.info);
      distanceM += step.reward;
      done = step.terminated || step.truncated;
      if (step.info.intervention) {
        disengagements += 1;
        reasons[step.info.intervention] = (reasons[step.info.intervention] ?? 0) + 1;
      }
      completed = step.info.routeCompletion >= 1 && step.info.intervention === null;
    }
    policy.end();
    if (completed) return { routeSeed, distanceM, disengagements, reasons, completed: true };
    if (disengagements >= maxDisengagements || episode >= 2 * maxDisengagements)
      return { routeSeed, distanceM, disengagements, reasons, completed: false };
    obs = await env.reset({ continueRoute: true });
  }
}

export interface PolicyReport {
  readonly policy: string;
  readonly routes: readonly RouteResult[];
  readonly distanceM: number;
  readonly disengagements: number;
  /** Distance / disengagements; with none, the whole distance (a lower bound, as the paper reads it). */
  readonly metresPerDisengagement: number;
}

export function summariseRoutes(policy: string, routes: readonly RouteResult[]): PolicyReport {
  const distanceM = routes.reduce((s, r) => s + r.distanceM, 0);
  const disengagements = routes.reduce((s, r) => s + r.disengagements, 0);
  return { policy, routes, distanceM, disengagements, metresPerDisengagement: distanceM / Math.max(1, disengagements) };
}

/** A statistic with its bootstrap percentile interval. */
export interface Interval {
  readonly estimate: number;
  readonly lo: number;
  readonly hi: number;
}

export interface BootstrapOptions {
  readonly seed: number;
  /** Resamples (default 2000). */
  readonly resamples?: number;
  /** Coverage of the interval (default 0.95). */
  readonly level?: number;
}

/**
 * Percentile bootstrap (Efron & Tibshirani 1993, ch. 13): `statistic` on `resamples` samples of
 * `items` drawn with replacement; the interval is the (1-level)/2 and (1+level)/2 quantiles of
 * those values (lower order statistics, so a value the statistic can take). Roads are the unit
 * resampled, since drives on one road are not independent. Pure: the same seed gives the same interval.
 */
export function bootstrapInterval<T>(
  items: readonly T[],
  statistic: (sample: readonly T[]) => number,
  opts: BootstrapOptions,
): Interval {
  const estimate = statistic(items);
  if (items.length === 0) return { estimate, lo: estimate, hi: estimate };
  const resamples = opts.resamples ?? 2000;
  const level = opts.level ?? 0.95;
  const rng = Rng.fromSeed(opts.seed);
  const values = new Float64Array(resamples);
  const sample: T[] = new Array<T>(items.length);
  for (let b = 0; b < resamples; b++) {
    for (let i = 0; i < items.length; i++) sample[i] = items[rng.int(items.length)]!;
    values[b] = statistic(sample);
  }
  values.sort();
  const at = (q: number): number => values[Math.min(resamples - 1, Math.max(0, Math.ceil(q * resamples) - 1))]!;
  return { estimate, lo: at((1 - level) / 2), hi: at((1 + level) / 2) };
}

/** Share of routes driven without a disengagement. */
export function cleanShare(routes: readonly RouteResult[]): number {
  return routes.length === 0 ? 0 : routes.filter((r) => r.disengagements === 0 && r.completed).length / routes.length;
}

/** Pooled metres per disengagement: all distance / all disengagements (the whole distance when there are none). */
export function pooledMetresPerDisengagement(routes: readonly RouteResult[]): number {
  let distanceM = 0;
  let disengagements = 0;
  for (const r of routes) {
    distanceM += r.distanceM;
    disengagements += r.disengagements;
  }
  return distanceM / Math.max(1, disengagements);
}

/** One road of an evaluation, with its look (factor -> level, from the world that drew it). */
export interface RoadResult extends RouteResult {
  readonly look: Readonly<Record<string, string>>;
  /** This road's distance / disengagements (the whole distance when there are none). */
  readonly metresPerDisengagement: number;
}

export function roadResult(route: RouteResult, look: Readonly<Record<string, string>>): RoadResult {
  return { ...route, look, metresPerDisengagement: route.distanceM / Math.max(1, route.disengagements) };
}

/** The figures of one policy on one road set, with bootstrap 95% intervals over roads. */
export interface RoadSetSummary {
  readonly roads: number;
  readonly cleanRoads: number;
  readonly cleanShare: Interval;
  readonly metresPerDisengagement: Interval;
  readonly distanceM: number;
  readonly disengagements: number;
}

export function summariseRoadSet(routes: readonly RouteResult[], seed: number): RoadSetSummary {
  return {
    roads: routes.length,
    cleanRoads: routes.filter((r) => r.disengagements === 0 && r.completed).length,
    cleanShare: bootstrapInterval(routes, cleanShare, { seed }),
    metresPerDisengagement: bootstrapInterval(routes, pooledMetresPerDisengagement, { seed: seed + 1 }),
    distanceM: routes.reduce((s, r) => s + r.distanceM, 0),
    disengagements: routes.reduce((s, r) => s + r.disengagements, 0),
  };
}

/** One level of one look factor (e.g. verge: gravel): the roads that have it, summarised. */
export interface LookRow extends RoadSetSummary {
  readonly factor: string;
  readonly level: string;
}

/**
 * The breakdown by look: for every factor and level present, the summary of its roads. Marginal
 * (one factor at a time): the road sets are balanced per factor, not per combination.
 */
export function breakdownByLook(
  roads: readonly RoadResult[],
  seed: number,
  order?: Readonly<Record<string, readonly string[]>>,
): LookRow[] {
  const groups = new Map<string, { factor: string; level: string; roads: RoadResult[] }>();
  // Factors and levels in the given order first (all of them, so a level no road has is not silently absent), then any other.
  for (const [factor, levels] of Object.entries(order ?? {}))
    for (const level of levels) groups.set(`${factor}\u0000${level}`, { factor, level, roads: [] });
  for (const road of roads) {
    for (const [factor, level] of Object.entries(road.look)) {
      const key = `${factor}\u0000${level}`;
      const g = groups.get(key) ?? { factor, level, roads: [] };
      g.roads.push(road);
      groups.set(key, g);
    }
  }
  return [...groups.values()].map((g, i) => ({
    factor: g.factor,
    level: g.level,
    ...summariseRoadSet(g.roads, seed + 10 * (i + 1)),
  }));
}
