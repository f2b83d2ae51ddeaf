import { initBackend } from '../core/backend.js';
import { log } from '../core/logger.js';
import { VARIED_ROAD_SEED_BASE } from '../agent/road-seeds.js';
import { driveEpisode, episodeReset, type EpisodeRecord } from '../agent/training.js';
import { buildAgent, loadEncoderFor, simEnvFor } from '../jobs/training.js';
import { runWorlds } from '../jobs/run-worlds.js';
import { episodeRoadsFor } from '../jobs/episode-roads.js';
import type { TrainConfig } from '../jobs/train-config.js';
import { ActorLink } from './actor-link.js';
import { actorNoiseScale, scaledExploration } from './actor-noise.js';
import type { LinkEndpoints } from './endpoint.js';
import { RemoteLearner } from './remote-learner.js';
import { EventLoopYield, YIELD_EVERY_MS } from './event-loop-yield.js';
import type { ClientCurve } from './security.js';

/**
 * One simulator actor of `daydrive train --actors N` (Ape-X): drives training episodes on roads
 * of its own with its own noise scale, acting with the learner's latest weights and sending its
 * transitions and episode ends to the learner. It drives at most `lead` episodes ahead of the
 * learner's optimisation of its own episodes, so N actors cannot bury one learner in data.
 */

/** Seeds of actor i's training roads: the single process's, shifted by i strides (actor 0 drives the single process's roads). */
export const ACTOR_ROAD_SEED_STRIDE = 20_000;

export interface SimActorOptions {
  readonly config: TrainConfig;
  readonly actorId: number;
  readonly actors: number;
  readonly endpoints: LinkEndpoints;
  readonly security: ClientCurve | null;
  /** Ape-X's alpha (actor-noise.ts). */
  readonly noiseAlpha: number;
  readonly transitionsPerMessage: number;
  /** Episodes an actor may drive beyond the learner's last optimisation of its episodes. */
  readonly lead: number;
  /** No weights or heartbeat from the learner for this long: the actor waits (and says so) before its next episode. */
  readonly learnerTimeoutMs: number;
  readonly heartbeatMs: number;
  /** Learning episodes the learner had when the run (re)started: a resumed run explores no more than the rest and drives new roads. */
  readonly episodeOffset?: number;
}

export async function runSimActor(opts: SimActorOptions): Promise<{ episodes: number; steps: number }> {
  const { config, actorId } = opts;
  await initBackend();
  const encoder = await loadEncoderFor(config);
  const link = new ActorLink(opts.endpoints, actorId, opts.security);
  let remote: RemoteLearner | null = null;
  const offset = opts.episodeOffset ?? 0;
  const noiseScale = actorNoiseScale(actorId, opts.actors, opts.noiseAlpha);
  // The run's agent, with this actor's share of the exploration, its noise scale and seed.
  const agent = buildAgent(
    {
      ...config,
      agent: {
        ...config.agent,
        exploreEpisodes: Math.ceil(Math.max(0, config.agent.exploreEpisodes - offset) / opts.actors),
      },
      exploration: scaledExploration(config.exploration, noiseScale),
      seed: config.seed + 1000 * (actorId + 1),
    },
    encoder,
    (local) => (remote = new RemoteLearner(local, link, opts.transitionsPerMessage)),
  );
  const learner = remote as RemoteLearner | null;
  if (!learner) throw new Error('the agent did not take the remote learner');
  let stop = false;
  let learnerSeenMs = Date.now();
  let learnerEpisodes = 0;
  let optimisedMine = 0;
  let wake: (() => void) | null = null;
  const notify = () => {
    wake?.();
    wake = null;
  };
  link.receive((m) => {
    learnerSeenMs = Date.now();
    if ('weights' in m) learner.applyWeights(m);
    else if (m.header.kind === 'heartbeat') learnerEpisodes = m.header.learningEpisodes;
    else if (m.header.kind === 'event') {
      learnerEpisodes = m.header.learningEpisodes;
      if (m.header.name === 'learned' && m.header.episode?.actorId === actorId) optimisedMine += 1;
      if (m.header.name === 'stopping') stop = true;
    }
    notify();
  });
  const onSignal = () => {
    stop = true;
    notify();
  };
  // Ctrl-C reaches the whole process group: with a parent (train --actors), it stops the actors through the learner's 'stopping'.
  const onInterrupt = () => {
    if (!process.connected) onSignal();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onInterrupt);
  const heartbeat = setInterval(() => link.sendHeartbeat(), opts.heartbeatMs);
  const waitFor = async (ready: () => boolean, what: string) => {
    let warned = false;
    while (!ready() && !stop) {
      if (!warned && Date.now() - learnerSeenMs > opts.learnerTimeoutMs) {
        warned = true;
        log.warn(
          { actorId },
          `actor ${actorId}: no word from the learner for ${opts.learnerTimeoutMs} ms, waiting for ${what}`,
        );
      }
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, 200);
      });
    }
  };
  link.hello(agent.stateSize, agent.learner.actionSize);
  await waitFor(() => learner.weightsReceived > 0, "the learner's weights");
  log.info({ actorId, noiseScale }, `actor ${actorId} driving (noise x${noiseScale.toFixed(3)})`);

  const worlds = runWorlds(config);
  const env = simEnvFor(worlds.training, actorId === 0 ? 0 : 10 + actorId);
  const records: EpisodeRecord[] = [];
  // New training roads from this actor's own part of the range (and past a resumed run's episodes).
  const roads = episodeRoadsFor(config, worlds, VARIED_ROAD_SEED_BASE + actorId * ACTOR_ROAD_SEED_STRIDE + offset);
  const yieldEvery = new EventLoopYield(YIELD_EVERY_MS);
  let sent = 0;
  let steps = 0;
  try {
    while (!stop) {
      await waitFor(() => sent - optimisedMine < opts.lead, 'the optimisation of its episodes');
      if (stop || learnerEpisodes >= config.schedule.maxEpisodes) break;
      const command = agent.command('train');
      if (command.refused) throw new Error(`actor ${actorId}: the task machine refused 'train': ${command.refused}`);
      const mode = command.effects.find((e) => e.kind === 'start-episode')?.mode ?? 'train';
      const where = {
        routeSeed: config.routeSeed + actorId * ACTOR_ROAD_SEED_STRIDE,
        firstEpisode: records.length === 0,
        separateTestWorld: true,
      };
      const reset = episodeReset(mode, config.schedule, records, where, roads);
      const outcome = await driveEpisode(env, agent, reset, () => yieldEvery.maybe());
      if (agent.optimisationDue) await agent.optimise();
      link.sendEpisode({
        mode: outcome.mode,
        steps: outcome.steps,
        distanceM: outcome.distanceM,
        intervention: outcome.intervention,
        routeCompleted: outcome.routeCompleted,
        worldS: outcome.worldS,
        agentS: outcome.agentS,
      });
      sent += 1;
      steps += outcome.steps;
      records.push({
        episode: records.length + 1,
        mode: outcome.mode,
        steps: outcome.steps,
        distanceM: outcome.distanceM,
        intervention: outcome.intervention,
        routeCompleted: outcome.routeCompleted,
        learningEpisodes: agent.taskState.learningEpisodes,
        trainingDistanceM: 0,
        elapsedS: 0,
        seconds: { world: outcome.worldS, agent: outcome.agentS, optimise: 0 },
        update: null,
        undid: false,
      });
    }
  } finally {
    clearInterval(heartbeat);
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onInterrupt);
    await Promise.race([link.flush(), new Promise((r) => setTimeout(r, 2000))]);
    link.close();
    agent.dispose();
    encoder?.dispose();
  }
  return { episodes: sent, steps };
}
