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
 *  - beside the broadcast, raw ZeroMQ PUB/SUB of a message of the same size in the same run (no
 *    codec, no apply): the floor the link's own work adds to;
 *  - the car (`daydrive drive`'s composition on the rclnodejs stand-in, real clock, 640x480 JPEG
 *    at 30 Hz, TD3 with the shipped VAE): the control loop's longest event-loop stall and the
 *    longest gap between speed-0 commands while the learner optimises TRANSPORT_BENCH_CAR_UPDATES
 *    (1000) updates between episodes (the first after the car's start, then TRANSPORT_BENCH_CAR_WINDOWS
 *    (3) - 1 more after 3 s train episodes), learner_mode in-process against child-process, the
 *    child at its default priority (learner_nice) and at the node's (goal: stall < 5 ms, no gap
 *    over one policy period), beside a bare Node process running the same 1 ms probe in the same
 *    windows (the machine's own stalls) and the node's garbage collections in them; and with
 *    learner_optimise continuous, the gaps
 *    between drive commands of an episode driven while the learner optimises, against the same
 *    car's episode without an optimisation alongside (TRANSPORT_BENCH_CAR=0 skips the car).
 * Both ends of the first two share this process and its one event loop, so the figures include
 * the other end's work. The load average is printed beside the figures.
 *
 * Run: nice -n 10 node --import tsx bench/transport.bench.ts   (TRANSPORT_BENCH_QUICK=1: 200
 * broadcasts, 50,000 transitions, 250 updates for the car, no training runs)
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { performance, PerformanceObserver } from 'node:perf_hooks';
import * as zmq from 'zeromq';
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
import { DriveLearnerClient } from '../src/ros/learner-client.js';
import { DEFAULT_DRIVE_PARAMS, parseDriveParams } from '../src/ros/params.js';
import type { AckermannDriveStampedMsg, TriggerResponseMsg } from '../src/ros/rclnodejs-types.js';
import { buildDriveAgent } from '../src/ros/run.js';
import {
  compressedMsg,
  isRequestedCollection,
  jpegBytes,
  makeHarness,
  odometryMsg,
  testImage,
} from '../test/ros/helpers.js';
import { figure, printReport, type BenchFigure } from './report.js';
import { roundTo } from '../src/core/math.js';

const QUICK = process.env.TRANSPORT_BENCH_QUICK === '1';
const BROADCASTS = Number(process.env.TRANSPORT_BENCH_BROADCASTS ?? (QUICK ? 200 : 1000));
const TRANSITIONS = Number(process.env.TRANSPORT_BENCH_TRANSITIONS ?? (QUICK ? 50_000 : 200_000));
const EPISODES = Number(process.env.TRANSPORT_BENCH_EPISODES ?? 6);
const STATE = 34;
const ACTION = 2;
const round = (x: number, d = 2) => roundTo(x, d);
const quantile = (xs: number[], q: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))] ?? Number.NaN;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Wall-clock ms since the epoch, comparable between processes. */
const epochMs = () => performance.timeOrigin + performance.now();

/**
 * A bare Node process beside the car, doing nothing but the same 1 ms probe: its gaps are the
 * machine's own stalls (scheduling, the hypervisor) at the same moments, the floor under the node's.
 */
class BareProbe {
  private readonly gaps: [number, number][] = [];
  private buffered = '';

  private constructor(private readonly child: ReturnType<typeof spawn>) {
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => {
      const lines = (this.buffered + chunk).split('\n');
      this.buffered = lines.pop()!;
      for (const line of lines) {
        const [atMs, ms] = line.split(' ').map(Number);
        if (Number.isFinite(atMs) && Number.isFinite(ms)) this.gaps.push([atMs!, ms!]);
      }
    });
  }

  /** Starts the probe (at this process's priority) and resolves once it runs. */
  static async start(): Promise<BareProbe> {
    const source = [
      "const { performance } = require('node:perf_hooks');",
      'let last = performance.now();',
      'setInterval(() => {',
      '  const t = performance.now();',
      '  if (t - last > 1.5) process.stdout.write(`${(performance.timeOrigin + t).toFixed(2)} ${(t - last).toFixed(3)}\\n`);',
      '  last = t;',
      '}, 1);',
      "process.stdout.write('0 0\\n');",
      // Gone with the bench, however it ends: its stdin closes.
      "process.stdin.on('end', () => process.exit(0)).resume();",
    ].join('\n');
    const probe = new BareProbe(spawn(process.execPath, ['-e', source], { stdio: ['pipe', 'pipe', 'inherit'] }));
    while (probe.gaps.length === 0) await sleep(10);
    return probe;
  }

  /** The longest gap in [fromMs, toMs] (epochMs). */
  longestMs(fromMs: number, toMs: number): number {
    return this.gaps.reduce((m, [atMs, ms]) => (atMs >= fromMs && atMs <= toMs ? Math.max(m, ms) : m), 0);
  }

  stop(): void {
    this.child.kill();
  }
}

/** Publish -> receive latency of raw ZeroMQ PUB/SUB on loopback, for a message of a 4-byte header and `bytes` of payload (ms). */
async function rawZeromqBroadcast(
  bytes: number,
  count: number,
): Promise<{ p50: number; p99: number; max: number; received: number }> {
  const pub = new zmq.Publisher({ linger: 0 });
  await pub.bind('tcp://127.0.0.1:*');
  const sub = new zmq.Subscriber({ linger: 0 });
  sub.connect(pub.lastEndpoint!);
  sub.subscribe();
  const sentAtMs: number[] = [];
  const latencies: number[] = [];
  let seen = 0;
  const receiving = (async () => {
    for await (const [header] of sub) {
      seen += 1;
      const t0 = sentAtMs[header!.readUInt32LE(0)];
      if (t0 !== undefined) latencies.push(performance.now() - t0);
    }
  })().catch(() => {});
  const message = (i: number): Buffer[] => {
    const header = Buffer.alloc(4);
    header.writeUInt32LE(i);
    return [header, Buffer.alloc(bytes)];
  };
  while (seen === 0) {
    await pub.send(message(0xffffffff));
    await sleep(20);
  }
  for (let i = 0; i < count; i++) {
    const m = message(i);
    sentAtMs[i] = performance.now();
    await pub.send(m);
    await sleep(5);
  }
  await sleep(200);
  pub.close();
  sub.close();
  await receiving;
  return {
    p50: quantile(latencies, 0.5),
    p99: quantile(latencies, 0.99),
    max: Math.max(...latencies),
    received: latencies.length,
  };
}

const CAR_UPDATES = Number(process.env.TRANSPORT_BENCH_CAR_UPDATES ?? (QUICK ? 250 : 1000));
const CAMERA_PERIOD_MS = 33;
const LATER_WINDOWS = Number(process.env.TRANSPORT_BENCH_CAR_WINDOWS ?? 3) - 1;

interface CarWindow {
  /** The window measured: the optimisation (between-episodes), or the episode driven while it runs (continuous). */
  readonly windowS: number;
  /** The first optimisation after the car's start. */
  readonly stallMaxMs: number;
  readonly stallP99Ms: number;
  /** The LATER_WINDOWS optimisations after it, together (between-episodes only; 0 / NaN otherwise). */
  readonly laterStallMaxMs: number;
  readonly laterStallP99Ms: number;
  readonly holds: number;
  readonly holdGapMaxMs: number;
  readonly driveCommands: number;
  readonly driveGapMaxMs: number;
  readonly driveGapMaxAloneMs: number;
  readonly processingP99Ms: number;
  readonly processingP99AloneMs: number;
  readonly optimisationS: number;
  /** The same car held for 3 s before its first episode, nothing optimising: the node's own floor at this load. */
  readonly idleStallMaxMs: number;
  readonly idleStallP99Ms: number;
  readonly idleHoldGapMaxMs: number;
  /** A bare Node process's longest stall in the same windows (first optimisation, later ones, held): the machine's floor. */
  readonly bareStallMaxMs: number;
  readonly bareLaterStallMaxMs: number;
  readonly bareIdleStallMaxMs: number;
  /** The node's garbage collections of over 1 ms in the optimisation windows: how many, the longest (ms). */
  readonly gcPausesInWindows: number;
  readonly gcLongestInWindowsMs: number;
  /** The collections the node asked for at the driver's takeovers (collect_garbage_on_takeover): how many, the longest (ms). */
  readonly takeoverCollections: number;
  readonly takeoverCollectionMaxMs: number;
}

/**
 * One car on the rclnodejs stand-in (real clock), `daydrive drive`'s composition (buildDriveAgent,
 * the learner link): an explore episode of 3 s, the driver takes over and hands the car back at
 * once, and the learner optimises CAR_UPDATES updates. Between episodes, the window is the
 * optimisation (the node holds the car); continuous, a train episode starts at once and the
 * window is the part of it driven while the learner optimises. Stalls: the longest time between
 * two turns of a 1 ms probe timer.
 */
async function carWindow(learnerParams: Record<string, string | number | boolean>): Promise<CarWindow> {
  const dir = await mkdtemp(join(tmpdir(), 'transport-bench-car-'));
  const configFile = join(dir, 'agent.json');
  await writeFile(
    configFile,
    JSON.stringify({ seed: 1, agent: { exploreEpisodes: 1, optimisationSteps: CAR_UPDATES } }),
  );
  const all = {
    config_file: configFile,
    camera_type: 'sensor_msgs/msg/CompressedImage',
    camera_topic: '/camera/image_raw/compressed',
    max_frame_age_s: 5.0,
    speed_timeout_s: 5.0,
    safety_driver_timeout_s: 5.0,
    latency_log_period_s: 0,
    ...learnerParams,
  };
  const params = parseDriveParams(all, 'bench parameters');
  const parts = await buildDriveAgent(params, (settings) => DriveLearnerClient.start(params, settings));
  const client = parts.learnerClient;
  const processing: { atMs: number; ms: number }[] = [];
  const h = makeHarness(parts.agent, all, 'real', {
    ...(client ? { learnerLink: client } : {}),
    onLatency: (sample) => processing.push({ atMs: performance.now(), ms: sample.processingMs }),
  });
  const jpeg = await jpegBytes(testImage(640, 480));
  const camera = setInterval(() => {
    h.ros.deliver(h.params.camera_topic, compressedMsg(jpeg, h.nowNs()));
    h.ros.deliver(h.params.speed_topic, odometryMsg(1.5, h.nowNs()));
  }, CAMERA_PERIOD_MS);
  const bare = await BareProbe.start();
  const gcPauses: [number, number][] = [];
  const takeoverCollectionsMs: number[] = [];
  const gcObserver = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      gcPauses.push([performance.timeOrigin + e.startTime + e.duration, e.duration]);
      if (isRequestedCollection(e)) takeoverCollectionsMs.push(e.duration);
    }
  });
  gcObserver.observe({ entryTypes: ['gc'] });
  const windows: [number, number][] = [];
  let lastTurn = performance.now();
  let gaps: number[] = [];
  let probing = false;
  const probe = setInterval(() => {
    const t = performance.now();
    if (probing) gaps.push(t - lastTurn);
    lastTurn = t;
  }, 1);
  const waitFor = async (ok: () => boolean, what: string): Promise<void> => {
    const t0 = performance.now();
    while (!ok()) {
      if (performance.now() - t0 > 300_000) throw new Error(`bench: timed out waiting for ${what}`);
      await sleep(2);
    }
  };
  const stampMs = (c: AckermannDriveStampedMsg) => c.header.stamp.sec * 1e3 + c.header.stamp.nanosec / 1e6;
  const nodeMs = () => Number(h.nowNs()) / 1e6;
  const maxGap = (cs: AckermannDriveStampedMsg[]) =>
    cs.slice(1).reduce((m, c, i) => Math.max(m, stampMs(c) - stampMs(cs[i]!)), 0);
  const p99Of = (xs: number[]) => round(quantile(xs, 0.99), 2);
  try {
    if (client) await waitFor(() => client.status().state === 'ok', 'the learner');
    h.driver(false);
    // The floor: the car held, no episode, nothing optimising, the camera running.
    await sleep(500);
    const idleFromMs = nodeMs();
    const idleFromEpochMs = epochMs();
    lastTurn = performance.now();
    probing = true;
    await sleep(3000);
    probing = false;
    const idleWindow = [idleFromEpochMs, epochMs()] as const;
    const idleGaps = gaps;
    gaps = [];
    const idleHolds = h.commands().filter((c) => stampMs(c) >= idleFromMs && c.drive.speed === 0);
    h.ros.call<TriggerResponseMsg>('~/train');
    await waitFor(() => h.drive.status().episode !== null, 'the explore episode');
    const episodeStartMs = nodeMs();
    const aloneFrom = performance.now();
    await sleep(3000);
    const alone = h.commands().filter((c) => stampMs(c) >= episodeStartMs && c.drive.speed > 0);
    const processingAlone = processing.filter((p) => p.atMs >= aloneFrom).map((p) => p.ms);
    const continuous = learnerParams.learner_optimise === 'continuous';
    // Between episodes the window is the node's: from the episode's end to the learner's `learned`
    // (it holds the car meanwhile); continuous, the learner's own optimisation, which the node does not wait for.
    const optimising = () => (client && continuous ? client.status().optimising : h.drive.status().optimising);
    /**
     * The driver takes over (the episode ends, the learner optimises) and hands the car back at
     * once (`afterHandBack` may start the next episode); the probe's gaps until the learner is done.
     */
    const optimisationWindow = async (afterHandBack: () => void = () => undefined) => {
      h.driver(true);
      await waitFor(optimising, 'the optimisation');
      const startedAt = performance.now();
      const fromMs = nodeMs();
      const fromEpochMs = epochMs();
      gaps = [];
      lastTurn = performance.now();
      probing = true;
      h.driver(false);
      afterHandBack();
      await waitFor(() => !optimising(), 'the end of the optimisation');
      probing = false;
      windows.push([fromEpochMs, epochMs()]);
      return { gaps, startedAt, fromMs, toMs: nodeMs() };
    };
    const first = await optimisationWindow(() => {
      if (continuous) h.ros.call<TriggerResponseMsg>('~/train');
    });
    const windowS = (performance.now() - first.startedAt) / 1000;
    const inWindow = h.commands().filter((c) => stampMs(c) >= first.fromMs && stampMs(c) <= first.toMs);
    const holds = inWindow.filter((c) => c.drive.speed === 0);
    const drives = inWindow.filter((c) => c.drive.speed > 0);
    const processingWith = processing.filter((p) => p.atMs >= first.startedAt).map((p) => p.ms);
    // Between episodes: LATER_WINDOWS more train episodes of 3 s, each followed by an optimisation
    // (the first after the start pays the link's first-time costs; these show the steady state).
    const laterGaps: number[] = [];
    for (let i = 0; i < (continuous ? 0 : LATER_WINDOWS); i++) {
      h.ros.call<TriggerResponseMsg>('~/train');
      await waitFor(() => h.drive.status().episode !== null, 'a train episode');
      await sleep(3000);
      laterGaps.push(...(await optimisationWindow()).gaps);
    }
    await sleep(100); // the bare probe's last lines
    const bareMaxMs = (w: readonly [number, number]) => bare.longestMs(w[0], w[1]);
    const gcInWindows = gcPauses.filter(([atMs, ms]) => ms > 1 && windows.some(([a, b]) => atMs >= a && atMs <= b));
    return {
      windowS: round(windowS, 2),
      stallMaxMs: round(Math.max(0, ...first.gaps), 2),
      stallP99Ms: p99Of(first.gaps),
      laterStallMaxMs: round(Math.max(0, ...laterGaps), 2),
      laterStallP99Ms: p99Of(laterGaps),
      holds: holds.length,
      holdGapMaxMs: round(maxGap(holds), 1),
      driveCommands: drives.length,
      driveGapMaxMs: round(maxGap(drives), 1),
      driveGapMaxAloneMs: round(maxGap(alone), 1),
      processingP99Ms: p99Of(processingWith),
      processingP99AloneMs: p99Of(processingAlone),
      optimisationS: round(windowS, 2),
      idleStallMaxMs: round(Math.max(0, ...idleGaps), 2),
      idleStallP99Ms: p99Of(idleGaps),
      idleHoldGapMaxMs: round(maxGap(idleHolds), 1),
      bareStallMaxMs: round(bareMaxMs(windows[0]!), 2),
      bareLaterStallMaxMs: round(Math.max(0, ...windows.slice(1).map(bareMaxMs)), 2),
      bareIdleStallMaxMs: round(bareMaxMs(idleWindow), 2),
      gcPausesInWindows: gcInWindows.length,
      gcLongestInWindowsMs: round(Math.max(0, ...gcInWindows.map(([, ms]) => ms)), 2),
      takeoverCollections: takeoverCollectionsMs.length,
      takeoverCollectionMaxMs: round(Math.max(0, ...takeoverCollectionsMs), 2),
    };
  } finally {
    clearInterval(camera);
    clearInterval(probe);
    gcObserver.disconnect();
    bare.stop();
    h.drive.shutdown('bench');
    await h.drive.idle({ optimisation: false });
    await client?.close();
    parts.agent.dispose();
    parts.encoder?.dispose();
    await rm(dir, { recursive: true, force: true });
  }
}

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
    // A fresh array per broadcast, as the learner's policyWeights() gives: a frame shares its array's memory.
    const fresh = weights.slice();
    fresh[i % fresh.length] = Math.fround(i * 1e-3);
    sentAt.set(version, performance.now());
    link.publishWeights({ incarnation: 'bench', version, updates: i, learningEpisodes: 0 }, fresh);
    await sleep(5);
  }
  await sleep(200);
  const p50 = quantile(latencies, 0.5);
  const p99 = quantile(latencies, 0.99);
  loads.afterBroadcastLink = round(loadavg()[0]!);
  const floor = await rawZeromqBroadcast(weights.byteLength, BROADCASTS);
  figures.push(
    figure(
      'weight broadcast p99 (2x64 actor, 6530 float32, publish -> set in the actor)',
      round(p99, 3),
      'ms',
      { name: 'goal', value: 5 },
      false,
      `p50 ${round(p50, 3)} ms, max ${round(Math.max(...latencies), 3)} ms, ${latencies.length}/${BROADCASTS} received (PUB drops nothing here: HWM 1000)`,
    ),
    figure(
      'the same through raw ZeroMQ PUB/SUB, same run (a 4-byte header + the same 26,120-byte frame, no codec, no apply): the floor',
      round(floor.p99, 3),
      'ms',
      { name: 'weight broadcast p99 above', value: round(p99, 3) },
      false,
      `p50 ${round(floor.p50, 3)} ms, max ${round(floor.max, 3)} ms, ${floor.received}/${BROADCASTS} received`,
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
// ---- the car: the control loop while the learner optimises ----
const car: Record<string, unknown> = {};
if (process.env.TRANSPORT_BENCH_CAR !== '0') {
  const modes = [
    { name: 'in-process', params: { learner_mode: 'in-process' } },
    { name: 'child-process', params: { learner_mode: 'child-process' } },
    { name: 'child-process, learner_nice 0', params: { learner_mode: 'child-process', learner_nice: 0 } },
    {
      name: 'child-process, collect_garbage_on_takeover false',
      params: { learner_mode: 'child-process', collect_garbage_on_takeover: false },
    },
    { name: 'child-process, continuous', params: { learner_mode: 'child-process', learner_optimise: 'continuous' } },
  ] as const;
  for (const mode of modes) {
    car[mode.name] = { ...(await carWindow(mode.params)), load1m: round(loadavg()[0]!) };
  }
  const inProcess = car['in-process'] as CarWindow;
  const child = car['child-process'] as CarWindow;
  const childSamePriority = car['child-process, learner_nice 0'] as CarWindow;
  const childV8Collects = car['child-process, collect_garbage_on_takeover false'] as CarWindow;
  const longestOverall = (w: CarWindow) => Math.max(w.stallMaxMs, w.laterStallMaxMs);
  const bareOverall = (w: CarWindow) => Math.max(w.bareStallMaxMs, w.bareLaterStallMaxMs);
  const continuous = car['child-process, continuous'] as CarWindow;
  figures.push(
    figure(
      `the car's control loop: longest event-loop stall during the learner's optimisation (${CAR_UPDATES} updates), learner_mode child-process`,
      child.stallMaxMs,
      'ms',
      { name: 'learner_mode in-process, same run', value: inProcess.stallMaxMs },
      false,
      `goal < 5 ms; the car's first optimisation after its start; the learner ${DEFAULT_DRIVE_PARAMS.learner_nice} nice steps below the node (learner_nice); at the same priority (learner_nice 0), same run: max ${childSamePriority.stallMaxMs} ms, p99 ${childSamePriority.stallP99Ms} ms; p99 of the 1 ms probe's gaps ${child.stallP99Ms} ms (in-process ${inProcess.stallP99Ms} ms); the same car held with nothing optimising (its floor at this load): max ${child.idleStallMaxMs} ms, p99 ${child.idleStallP99Ms} ms; a bare Node process's 1 ms probe in the same window: max ${child.bareStallMaxMs} ms (held: ${child.bareIdleStallMaxMs} ms); the node on the rclnodejs stand-in, 640x480 JPEG at 30 Hz, TD3 with the shipped VAE`,
    ),
    figure(
      `the car's control loop: longest event-loop stall over all ${LATER_WINDOWS + 1} optimisations, learner_mode child-process`,
      longestOverall(child),
      'ms',
      {
        name: 'a bare Node process (nothing but the same 1 ms probe) in the same windows: the machine',
        value: bareOverall(child),
      },
      false,
      `goal < 5 ms; the node's garbage collections of over 1 ms in these windows: ${child.gcPausesInWindows} (longest ${child.gcLongestInWindowsMs} ms), and ${child.takeoverCollections} full collections at the driver's takeovers before them (longest ${child.takeoverCollectionMaxMs} ms, no command due); the same car with collect_garbage_on_takeover false, same run: longest stall ${longestOverall(childV8Collects)} ms (bare process ${bareOverall(childV8Collects)} ms), ${childV8Collects.gcPausesInWindows} collections of over 1 ms (longest ${childV8Collects.gcLongestInWindowsMs} ms)`,
    ),
    figure(
      `the car's control loop: longest event-loop stall during the next ${LATER_WINDOWS} optimisations (${CAR_UPDATES} updates each, after 3 s train episodes), learner_mode child-process`,
      child.laterStallMaxMs,
      'ms',
      { name: 'learner_mode in-process, same run', value: inProcess.laterStallMaxMs },
      false,
      `goal < 5 ms; p99 ${child.laterStallP99Ms} ms (in-process ${inProcess.laterStallP99Ms} ms); at the same priority (learner_nice 0): max ${childSamePriority.laterStallMaxMs} ms, p99 ${childSamePriority.laterStallP99Ms} ms; a bare Node process in the same windows: max ${child.bareLaterStallMaxMs} ms; the first optimisation pays the link's first-time costs (figure above)`,
    ),
    figure(
      "the car: longest gap between speed-0 commands during the learner's optimisation, learner_mode child-process",
      child.holdGapMaxMs,
      'ms',
      { name: 'one policy period (goal: no gap longer)', value: 100 },
      false,
      `in-process, same run: ${inProcess.holdGapMaxMs} ms; ${child.holds} holds over ${child.windowS} s (in-process ${inProcess.holds} over ${inProcess.windowS} s); held with nothing optimising: ${child.idleHoldGapMaxMs} ms`,
    ),
    figure(
      'the car, learner_optimise continuous: longest gap between drive commands while the learner optimises during the episode',
      continuous.driveGapMaxMs,
      'ms',
      { name: 'the same car, episode without an optimisation alongside', value: continuous.driveGapMaxAloneMs },
      false,
      `processing p99 ${continuous.processingP99Ms} ms with, ${continuous.processingP99AloneMs} ms without; ${continuous.driveCommands} drive commands over ${continuous.windowS} s of optimisation`,
    ),
  );
}
loads.end = round(loadavg()[0]!);
await printReport('transport', figures, { loadAverage1m: loads, runs, car });
