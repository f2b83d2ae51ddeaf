import type { DrivingEnvironment, DrivingObservation, InterventionReason } from '../core/env.js';
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

/** Drives the whole route of `routeSeed` with `policy`, counting interventions. */
export async function driveRoute(env: DrivingEnvironment, policy: EpisodePolicy, routeSeed: number, maxDisengagements: number): Promise<RouteResult> {
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
    if (disengagements >= maxDisengagements || episode >= 2 * maxDisengagements) return { routeSeed, distanceM, disengagements, reasons, completed: false };
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
