/**
 * Actor/learner link benchmark (one JSON object, bench/report.ts), real ZeroMQ sockets on
 * 127.0.0.1:
 *  - weight broadcast: the learner publishes the 2x64 TD3 actor of the 34-dimensional driving
 *    state (6530 float32) every 5 ms, an actor receives it and sets it into its policy; latency
 *    from publish to applied, p50/p99 over TRANSPORT_BENCH_BROADCASTS (1000), goal p99 < 5 ms;
 *  - transitions through the link: TRANSPORT_BENCH_TRANSITIONS (200,000) 34-dimensional
 *    transitions, batched 256 a message, from the actor's batcher to the learner's decoded batch,
 *    goal >= 50,000/s; and the same into the learner's prioritized replay (learner.observe);
 *  - environment steps per second of `daydrive train --actors` with 2 actors against 1 actor, in
 *    this run, one after the other (the learning steps recorded after the first learning episode
 *    over the wall-clock between the two, so process start-up is left out; the default
 *    configuration, TRANSPORT_BENCH_EPISODES (6) learning episodes each, no stop on passed tests).
 * Both ends of the first two share this process and its one event loop, so the figures include
 * the other end's work. The load average is printed beside the figures.
 *
 * Run: node --import tsx bench/transport.bench.ts   (TRANSPORT_BENCH_QUICK=1: 200 broadcasts,
 * 50,000 transitions, no training runs)
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { initBackend } from '../src/core/backend.js';
import { Rng } from '../src/core/rng.js';
import { parseTrainConfig } from '../src/jobs/train-config.js';
import { createLearner } from '../src/rl/learner.js';
import { ActorLink } from '../src/transport/actor-link.js';
import { LOOPBACK_ANY_PORT } from '../src/transport/endpoint.js';
import { LearnerLink } from '../src/transport/learner-link.js';
import { RemoteLearner } from '../src/transport/remote-learner.js';
import { runDistributedTraining } from '../src/transport/distributed-training.js';
import { TransitionBatcher, transitionAt } from '../src/transport/transition-batcher.js';
import { figure, printReport, type BenchFigure } from './report.js';

const QUICK = process.env.TRANSPORT_BENCH_QUICK === '1';
const BROADCASTS = Number(process.env.TRANSPORT_BENCH_BROADCASTS ?? (QUICK ? 200 : 1000));
const TRANSITIONS = Number(process.env.TRANSPORT_BENCH_TRANSITIONS ?? (QUICK ? 50_000 : 200_000));
const EPISODES = Number(process.env.TRANSPORT_BENCH_EPISODES ?? 6);
const STATE = 34;
const ACTION = 2;
const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;
const quantile = (xs: number[], q: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))] ?? Number.NaN;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

await initBackend();
const figures: BenchFigure[] = [];
const loads: Record<string, number> = { start: round(loadavg()[0]!) };

// ---- weight broadcast ----
{
  const learner = createLearner({ actorHidden: [64, 64], criticHidden: [64, 64] }, STATE, ACTION, Rng.fromSeed(1));
  const actorLocal = createLearner({ actorHidden: [64, 64], criticHidden: [64, 64] }, STATE, ACTION, Rng.fromSeed(2));
  const link = await LearnerLink.bind(LOOPBACK_ANY_PORT, null);
  const actor = new ActorLink(link.endpoints, 0, null);
  const remote = new RemoteLearner(actorLocal, actor, 256);
  const sentAt = new Map<number, number>();
  const latencies: number[] = [];
  actor.receive((m) => {
    if (!('weights' in m)) return;
    if (remote.applyWeights(m)) {
      const t0 = sentAt.get(m.header.version);
      if (t0 !== undefined) latencies.push(performance.now() - t0);
    }
  });
  const weights = learner.policyWeights();
  // Until the subscription is through.
  for (let v = 1; remote.weightsReceived === 0; v++) {
    link.publishWeights({ incarnation: 'bench', version: v, updates: 0, learningEpisodes: 0 }, weights);
    await sleep(20);
  }
  for (let i = 0; i < BROADCASTS; i++) {
    const version = 1_000_000 + i;
    weights[i % weights.length] = Math.fround(i * 1e-3);
    sentAt.set(version, performance.now());
    link.publishWeights({ incarnation: 'bench', version, updates: i, learningEpisodes: 0 }, weights);
    await sleep(5);
  }
  await sleep(200);
  const p50 = quantile(latencies, 0.5);
  const p99 = quantile(latencies, 0.99);
  figures.push(
    figure(
      'weight broadcast p99 (2x64 actor, 6530 float32, publish -> set in the actor)',
      round(p99, 3),
      'ms',
      { name: 'goal', value: 5 },
      false,
      `p50 ${round(p50, 3)} ms, max ${round(Math.max(...latencies), 3)} ms, ${latencies.length}/${BROADCASTS} received (PUB drops nothing here: HWM 1000)`,
    ),
  );
  actor.close();
  link.close();
  learner.dispose();
  actorLocal.dispose();
}
loads.afterBroadcast = round(loadavg()[0]!);

// ---- transitions through the link ----
for (const intoReplay of [false, true]) {
  const learner = intoReplay
    ? createLearner({ nStep: 3, replay: { capacity: TRANSITIONS } }, STATE, ACTION, Rng.fromSeed(3))
    : null;
  const link = await LearnerLink.bind(LOOPBACK_ANY_PORT, null);
  const actor = new ActorLink(link.endpoints, 0, null, { sendHighWaterMark: 100_000 });
  let received = 0;
  link.receive((m) => {
    if (!('batch' in m)) return;
    if (learner) for (let i = 0; i < m.batch.count; i++) learner.observe(transitionAt(m.batch, i), 0);
    received += m.batch.count;
  });
  actor.sendHeartbeat();
  while (received === 0 && link.dropped.total === 0) {
    // the connection is up once a first message has gone through
    const probe = new TransitionBatcher(0, STATE, ACTION, 1);
    actor.sendTransitions(
      probe.add({
        state: new Float32Array(STATE),
        action: new Float32Array(ACTION),
        reward: 0,
        nextState: new Float32Array(STATE),
        terminated: false,
      })!,
    );
    await sleep(20);
  }
  const batcher = new TransitionBatcher(0, STATE, ACTION, 256);
  const state = Float32Array.from({ length: STATE }, (_, k) => Math.sin(k) * 0.5);
  const action = new Float32Array([0.1, -0.2]);
  const pass = async (n: number): Promise<number> => {
    const base = received;
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      const b = batcher.add({ state, action, reward: 0.01, nextState: state, terminated: i % 500 === 499 });
      if (b) actor.sendTransitions(b);
      if (i % 25_600 === 0) await new Promise((r) => setImmediate(r));
    }
    const last = batcher.flush();
    if (last) actor.sendTransitions(last);
    while (received - base < n) await new Promise((r) => setImmediate(r));
    return n / ((performance.now() - t0) / 1000);
  };
  await pass(Math.min(20_000, TRANSITIONS)); // warm-up (the JIT), not counted
  const perS = await pass(TRANSITIONS);
  figures.push(
    figure(
      intoReplay
        ? "transitions/s into the learner's prioritized replay (34-dim, batches of 256, n-step 3)"
        : 'transitions/s through the link (34-dim state, batches of 256, batch -> decoded batch)',
      Math.round(perS),
      'transitions/s',
      { name: 'goal', value: 50_000 },
      true,
      `${TRANSITIONS} transitions after a 20,000 warm-up, both ends in one process`,
    ),
  );
  actor.close();
  link.close();
  learner?.dispose();
}
loads.afterTransitions = round(loadavg()[0]!);

// ---- steps/s, 2 actors against 1 ----
const runs: Record<string, unknown> = {};
if (!QUICK) {
  const stepsPerS: Record<number, number> = {};
  for (const actors of [1, 2]) {
    const out = await mkdtemp(join(tmpdir(), 'transport-bench-'));
    try {
      const config = parseTrainConfig(
        { seed: 0, schedule: { maxEpisodes: EPISODES, testsToPass: 100, testEvery: 1000 } },
        'bench config',
      );
      const summary = await runDistributedTraining({ config, out, resume: false, actors });
      // Steady state: the learning steps recorded after the first learning episode, over the time between the two (process start-up left out).
      const learning = (await readFile(join(out, 'metrics.jsonl'), 'utf8'))
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { mode: string; steps: number; elapsedS: number })
        .filter((r) => r.mode !== 'test');
      const first = learning[0]!;
      const last = learning.at(-1)!;
      const steps = learning.slice(1).reduce((n, r) => n + r.steps, 0);
      stepsPerS[actors] = round(steps / Math.max(1e-9, last.elapsedS - first.elapsedS), 1);
      runs[`actors${actors}`] = {
        learningEpisodes: summary.learningEpisodes,
        steadyStepsPerS: stepsPerS[actors],
        learningStepsPerSWithStartup: summary.learningStepsPerS,
        seconds: summary.seconds,
        load1m: round(loadavg()[0]!),
      };
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  }
  figures.push(
    figure(
      'environment steps/s, train --actors 2 (learning episodes)',
      stepsPerS[2]!,
      'steps/s',
      { name: 'train --actors 1, same run', value: stepsPerS[1]! },
      true,
      `${EPISODES} learning episodes each; 2 cores shared with the learner and the test driver`,
    ),
  );
}
loads.end = round(loadavg()[0]!);
await printReport('transport', figures, { loadAverage1m: loads, runs });
