import type { ChildProcess } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { initBackend } from '../core/backend.js';
import { UserError } from '../core/errors.js';
import { writeJsonSafely } from '../core/files.js';
import { log } from '../core/logger.js';
import { episodeRoadsFor } from '../jobs/episode-roads.js';
import { driveEpisode, episodeReset, passed, type EpisodeRecord, type TrainingProgress } from '../agent/training.js';
import {
  buildAgent,
  loadEncoderFor,
  simEnvFor,
  summarise,
  TestDriveRecorder,
  type TrainSummary,
} from '../jobs/training.js';
import { runWorlds } from '../jobs/run-worlds.js';
import type { TrainConfig } from '../jobs/train-config.js';
import {
  readCheckpoint,
  RUN_FILES,
  writeCheckpoint,
  LearningCurveWriter,
  writeMetrics,
  writeOverview,
} from '../jobs/run-dir.js';
import { ActorLink } from './actor-link.js';
import { childExit, childMessage, startChild } from './children.js';
import type { WeightsMessage } from './codec.js';
import { LOOPBACK_ANY_PORT, type LinkEndpoints } from './endpoint.js';
import type { LearnerProcessOptions } from './learner-runner.js';
import type { ActorProcessOptions } from './actor-process.js';
import type { LearnerEvent } from './protocol.js';
import { RemoteLearner } from './remote-learner.js';
import { EventLoopYield, YIELD_EVERY_MS } from './event-loop-yield.js';
import { clientSecurity, readCurveKeys, serverSecurity } from './security.js';
import { HEARTBEAT_MS, PEER_TIMEOUT_MS } from './protocol.js';

/**
 * `daydrive train --actors N` (Ape-X's layout, Acme's actor/learner/replay separation): one
 * learner process (learner-process.ts: the learner, its prioritized replay, its checkpoints), N
 * simulator actor processes (sim-actor.ts: own roads, own noise scale) and this process, which
 * drives the test episodes with the learner's weights and keeps the run directory as the single
 * process does. A test passed starts a streak of tests on new roads with the same weights
 * (frozen), so "testsToPass in a row" means what it means in the single process.
 */

export const LEARNER_CHECKPOINT_DIR = 'learner-checkpoint';

export interface DistributedTrainingOptions {
  readonly config: TrainConfig;
  readonly out: string;
  readonly resume: boolean;
  readonly actors: number;
  /** Where the learner binds (default: free loopback ports). */
  readonly endpoints?: LinkEndpoints;
  /** The CURVE keys file (needed for any non-loopback endpoint). */
  readonly curveKeys?: string;
  /** Ape-X's noise alpha (actor-noise.ts). */
  readonly noiseAlpha?: number;
  readonly transitionsPerMessage?: number;
  /** Episodes an actor may drive ahead of the learner's optimisation of its episodes. */
  readonly lead?: number;
  readonly onEpisode?: (record: EpisodeRecord) => void;
  readonly shouldStop?: () => boolean;
  /** Called with the pid of every learner process started (tests kill it). */
  readonly onLearnerProcess?: (pid: number) => void;
}

export interface DistributedSummary extends TrainSummary {
  readonly actors: number;
  /** Environment steps per second of wall-clock, all actors' learning episodes together. */
  readonly learningStepsPerS: number;
  /** Messages the learner dropped as invalid. */
  readonly droppedMessages: number;
}

const MAX_ACTOR_RESTARTS = 3;
const MAX_LEARNER_RESTARTS = 3;

export async function runDistributedTraining(opts: DistributedTrainingOptions): Promise<DistributedSummary> {
  const { config, out } = opts;
  const actors = opts.actors;
  if (!Number.isInteger(actors) || actors < 1)
    throw new UserError(`--actors must be a positive integer, got ${actors}`);
  const bindAt = opts.endpoints ?? LOOPBACK_ANY_PORT;
  const keys = opts.curveKeys ? await readCurveKeys(opts.curveKeys) : null;
  serverSecurity(bindAt, keys); // refuses a non-loopback endpoint without keys before anything starts
  await initBackend();
  await mkdir(out, { recursive: true });
  const encoder = await loadEncoderFor(config);
  let remote: RemoteLearner | null = null;
  let link: ActorLink | null = null;
  const children: ChildProcess[] = [];
  let heartbeat: NodeJS.Timeout | undefined;
  let stopping = false;
  // The link is made once the learner's endpoints are known; the agent only acts in tests.
  const agent = buildAgent(
    config,
    encoder,
    (local) =>
      (remote = new RemoteLearner(
        local,
        { actorId: actors, sendTransitions: (b) => link?.sendTransitions(b) },
        opts.transitionsPerMessage ?? 256,
      )),
  );
  const tester = remote as RemoteLearner | null;
  if (!tester) throw new Error('the agent did not take the remote learner');
  try {
    let progress: TrainingProgress = { records: [], elapsedS: 0 };
    if (opts.resume) progress = await readCheckpoint(out, agent);
    else await writeJsonSafely(join(out, RUN_FILES.config), config);

    const learnerOptions: LearnerProcessOptions = {
      config,
      endpoints: bindAt,
      curveKeys: opts.curveKeys ?? null,
      checkpointDir: join(out, LEARNER_CHECKPOINT_DIR),
      weightsEveryUpdates: 50,
      heartbeatMs: HEARTBEAT_MS,
      actorTimeoutMs: PEER_TIMEOUT_MS,
    };
    let learnerProcess = startChild('learner-process', learnerOptions);
    children.push(learnerProcess);
    if (learnerProcess.pid !== undefined) opts.onLearnerProcess?.(learnerProcess.pid);
    const ready = await childMessage<{ endpoints: LinkEndpoints; learningEpisodes: number }>(
      learnerProcess,
      'ready',
      120_000,
    );
    const endpoints = ready.endpoints;
    // A supervisor for the learner too: one that dies is started again on the same endpoints and
    // resumes from its checkpoint (the actors reconnect by themselves), up to MAX_LEARNER_RESTARTS times.
    let learnerRestarts = 0;
    let learnerSeenMs = Date.now();
    let learnerFailed: string | null = null;
    const watchLearner = (child: ChildProcess): void => {
      child.once('exit', (code, signal) => {
        if (stopping) return;
        const how = signal ?? `code ${String(code)}`;
        if (learnerRestarts >= MAX_LEARNER_RESTARTS) {
          learnerFailed = `the learner process died (${how}) ${MAX_LEARNER_RESTARTS + 1} times`;
          return;
        }
        learnerRestarts += 1;
        log.warn(`the learner process died (${how}): restarting it from its checkpoint`);
        learnerSeenMs = Date.now() + 60_000; // its start-up (loading the backend and the VAE) is not silence
        learnerProcess = startChild('learner-process', { ...learnerOptions, endpoints });
        children.push(learnerProcess);
        if (learnerProcess.pid !== undefined) opts.onLearnerProcess?.(learnerProcess.pid);
        watchLearner(learnerProcess);
      });
    };
    watchLearner(learnerProcess);
    link = new ActorLink(endpoints, actors, clientSecurity(endpoints, keys));

    // What the learner says: weights (kept, the tests use them) and 'learned' events (the records).
    let latest: WeightsMessage | null = null;
    const events: LearnerEvent[] = [];
    let learnerStopped = false;
    let wake: (() => void) | null = null;
    link.receive((m) => {
      learnerSeenMs = Date.now();
      if ('weights' in m) latest = m;
      else if (m.header.kind === 'event') {
        if (m.header.name === 'learned' && m.header.episode && m.header.episode.mode !== 'test') events.push(m.header);
        if (m.header.name === 'stopping') learnerStopped = true;
      }
      wake?.();
    });
    link.hello(agent.stateSize, agent.learner.actionSize);

    heartbeat = setInterval(() => link?.sendHeartbeat(), HEARTBEAT_MS);
    const restarts = new Array<number>(actors).fill(0);
    const actorProcesses: ChildProcess[] = [];
    // A supervisor: an actor process that dies is started again (it rejoins the learner), up to MAX_ACTOR_RESTARTS times.
    const startActor = (i: number): void => {
      const actorOptions: ActorProcessOptions = {
        config,
        actorId: i,
        actors,
        endpoints,
        curveKeys: opts.curveKeys ?? null,
        noiseAlpha: opts.noiseAlpha ?? 1,
        transitionsPerMessage: opts.transitionsPerMessage ?? 256,
        lead: opts.lead ?? 1,
        learnerTimeoutMs: PEER_TIMEOUT_MS,
        heartbeatMs: HEARTBEAT_MS,
        episodeOffset: ready.learningEpisodes,
      };
      const child = startChild('actor-process', actorOptions);
      actorProcesses[i] = child;
      children.push(child);
      child.once('exit', (code, signal) => {
        if (stopping || code === 0) return;
        if (restarts[i]! >= MAX_ACTOR_RESTARTS) {
          log.error(`actor ${i} died (${signal ?? `code ${String(code)}`}) ${MAX_ACTOR_RESTARTS} times: not restarted`);
          return;
        }
        restarts[i] = restarts[i]! + 1;
        log.warn(`actor ${i} died (${signal ?? `code ${String(code)}`}): restarting it`);
        startActor(i);
      });
    };
    for (let i = 0; i < actors; i++) startActor(i);

    const worlds = runWorlds(config);
    const testEnv = simEnvFor(worlds.test, 2);
    const roads = episodeRoadsFor(config, worlds);
    const recorder = new TestDriveRecorder(testEnv);
    const curve = new LearningCurveWriter(
      out,
      `daydrive train --actors ${actors}: ${config.algo} from ${config.agent.state}, seed ${config.seed}`,
    );
    const startedAt = performance.now() - progress.elapsedS * 1000;
    const explore = config.agent.exploreEpisodes;
    const schedule = config.schedule;
    let records = [...progress.records];
    let lastTested = records.findLast((r) => r.mode === 'test')?.learningEpisodes ?? explore;
    /** Tests of the current pass streak, with the frozen weights they drive; appended to the records when the streak ends. */
    let streak: EpisodeRecord[] = [];
    let frozen: WeightsMessage | null = null;
    let sinceCheckpoint = 0;
    let solved = false;

    const commit = async () => {
      progress = { records, elapsedS: (performance.now() - startedAt) / 1000 };
      await writeMetrics(out, records);
      await curve.update(records);
      if (++sinceCheckpoint >= config.checkpointEvery) {
        await writeCheckpoint(out, agent, progress);
        sinceCheckpoint = 0;
      }
    };
    const record = (
      r: Omit<EpisodeRecord, 'episode' | 'trainingDistanceM' | 'elapsedS'>,
      list: EpisodeRecord[],
    ): EpisodeRecord => {
      const before = [...records, ...streak];
      const full: EpisodeRecord = {
        episode: before.length + 1,
        mode: r.mode,
        steps: r.steps,
        distanceM: r.distanceM,
        intervention: r.intervention,
        routeCompleted: r.routeCompleted,
        learningEpisodes: r.learningEpisodes,
        trainingDistanceM: (before.at(-1)?.trainingDistanceM ?? 0) + (r.mode === 'test' ? 0 : r.distanceM),
        elapsedS: (performance.now() - startedAt) / 1000,
        seconds: r.seconds,
        update: r.update,
        undid: false,
      };
      list.push(full);
      opts.onEpisode?.(full);
      return full;
    };

    const yieldEvery = new EventLoopYield(YIELD_EVERY_MS);
    /** Records of the episodes the learner has optimised on since the last call; returns how many. */
    // A learner killed after an optimisation but before its next checkpoint does that
    // optimisation again when restarted, and says 'learned' again: recorded once.
    const learnedKey = (r: { learningEpisodes: number; steps: number; distanceM: number }) =>
      `${r.learningEpisodes}:${r.steps}:${r.distanceM}`;
    const recorded = new Set(records.filter((r) => r.mode !== 'test').map(learnedKey));
    const takeLearned = (): number => {
      let taken = 0;
      for (const e of events.splice(0)) {
        const ep = e.episode!;
        const key = learnedKey({ learningEpisodes: e.learningEpisodes, steps: ep.steps, distanceM: ep.distanceM });
        if (recorded.has(key)) continue;
        recorded.add(key);
        taken += 1;
        record(
          {
            mode: ep.mode,
            steps: ep.steps,
            distanceM: ep.distanceM,
            intervention: ep.intervention as EpisodeRecord['intervention'],
            routeCompleted: ep.routeCompleted,
            learningEpisodes: e.learningEpisodes,
            seconds: { world: ep.worldS, agent: ep.agentS, optimise: e.optimiseS ?? 0 },
            update: e.update ?? null,
            undid: false,
          },
          records,
        );
      }
      return taken;
    };

    const runTest = async (weights: WeightsMessage): Promise<EpisodeRecord> => {
      tester.applyWeights(weights);
      tester.setPolicyWeights(weights.weights); // also when already applied: a streak's tests use exactly these
      const step = agent.command('test');
      if (step.refused) throw new Error(`the task machine refused 'test': ${step.refused}`);
      const all = [...records, ...streak];
      const reset = episodeReset(
        'test',
        schedule,
        all,
        { routeSeed: config.routeSeed, firstEpisode: false, separateTestWorld: true },
        roads,
      );
      const outcome = await driveEpisode(testEnv, agent, reset, async (v) => {
        recorder.onStep(v);
        await yieldEvery.maybe();
      });
      if (agent.optimisationDue) await agent.optimise();
      link?.sendEpisode({
        mode: 'test',
        steps: outcome.steps,
        distanceM: outcome.distanceM,
        intervention: outcome.intervention,
        routeCompleted: outcome.routeCompleted,
        worldS: outcome.worldS,
        agentS: outcome.agentS,
      });
      return {
        episode: 0,
        mode: 'test',
        steps: outcome.steps,
        distanceM: outcome.distanceM,
        intervention: outcome.intervention,
        routeCompleted: outcome.routeCompleted,
        learningEpisodes: weights.header.learningEpisodes,
        trainingDistanceM: 0,
        elapsedS: 0,
        seconds: { world: outcome.worldS, agent: outcome.agentS, optimise: 0 },
        update: null,
        undid: false,
      };
    };

    for (;;) {
      if (opts.shouldStop?.()) break;
      // Learned episodes become records (during a streak too: they were driven meanwhile).
      if (takeLearned() > 0) await commit();
      const weights = latest as WeightsMessage | null;
      const inStreak = streak.length > 0;
      const trainedSinceTest = (weights?.header.learningEpisodes ?? 0) - lastTested;
      const atMax = (weights?.header.learningEpisodes ?? 0) >= schedule.maxEpisodes;
      const due =
        weights !== null &&
        weights.header.learningEpisodes > explore &&
        (trainedSinceTest >= schedule.testEvery || (atMax && trainedSinceTest > 0));
      if (inStreak || due) {
        const tested: WeightsMessage = inStreak ? (frozen as WeightsMessage) : (weights as WeightsMessage);
        const result = await runTest(tested);
        lastTested = tested.header.learningEpisodes;
        if (passed(result) && schedule.stopWhenTestCompletesRoute) {
          frozen = tested;
          record({ ...result }, streak);
          if (streak.length >= schedule.testsToPass) {
            solved = true;
            break;
          }
          continue;
        }
        // The streak (if any) ends with this test: its records go in now, in the order driven.
        records = renumbered([...records, ...streak]);
        streak = [];
        frozen = null;
        record({ ...result }, records);
        await commit();
        if (atMax) break;
        continue;
      }
      if (atMax && trainedSinceTest <= 0 && lastTested >= schedule.maxEpisodes) break;
      if (learnerFailed) throw new Error(learnerFailed);
      if (learnerStopped) throw new Error('the learner stopped before the run ended');
      if (Date.now() - learnerSeenMs > PEER_TIMEOUT_MS * 6)
        throw new Error(`no word from the learner for ${PEER_TIMEOUT_MS * 6} ms`);
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, 250);
      });
      wake = null;
    }
    // Stop: the learner checkpoints and says 'stopping'; the actors stop on it.
    stopping = true;
    clearInterval(heartbeat);
    link.sendTask('stop');
    const learnerDone = await childMessage<{ dropped: Record<string, number> }>(learnerProcess, 'done', 120_000).catch(
      (err: Error) => {
        log.warn(`the learner did not stop cleanly: ${err.message}`);
        return { dropped: {} };
      },
    );
    await childExit(learnerProcess, 30_000);
    // The episodes it finished optimising meanwhile ('learned' comes before 'stopping' on the one socket).
    for (const t0 = Date.now(); !learnerStopped && Date.now() - t0 < 5000;) await new Promise((r) => setTimeout(r, 20));
    takeLearned();
    // A streak of passes (solved or cut short) ends the records.
    records = renumbered([...records, ...streak]);
    streak = [];
    sinceCheckpoint = config.checkpointEvery;
    await commit();
    await curve.flush();
    await recorder.write(join(out, RUN_FILES.finalTest));
    await writeOverview(out);
    await Promise.all(
      actorProcesses.map(async (c) => {
        const timer = setTimeout(() => c.kill('SIGTERM'), 10_000);
        await childExit(c, 30_000);
        clearTimeout(timer);
      }),
    );

    const stopped = !solved && (opts.shouldStop?.() ?? false);
    const base = summarise(out, config, progress, stopped);
    const summary: DistributedSummary = {
      ...base,
      actors,
      learningStepsPerS:
        Math.round(
          (progress.records.reduce((n, r) => n + (r.mode === 'test' ? 0 : r.steps), 0) /
            Math.max(progress.elapsedS, 1e-9)) *
            10,
        ) / 10,
      droppedMessages: Object.values(learnerDone.dropped).reduce((a, b) => a + b, 0),
    };
    await writeJsonSafely(join(out, RUN_FILES.summary), summary);
    return summary;
  } finally {
    stopping = true;
    clearInterval(heartbeat);
    link?.close();
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    agent.dispose();
    encoder?.dispose();
  }
}

/**
 * Records in the order they are kept, numbered 1.. and with the training distance summed again
 * in that order (a streak's tests were numbered when driven, before the learning episodes recorded
 * meanwhile).
 */
function renumbered(records: readonly EpisodeRecord[]): EpisodeRecord[] {
  let trainingDistanceM = 0;
  return records.map((r, i) => {
    if (r.mode !== 'test') trainingDistanceM += r.distanceM;
    return { ...r, episode: i + 1, trainingDistanceM };
  });
}
