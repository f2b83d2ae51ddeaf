/**
 * "Heavy work must not starve the callbacks" (issue 6), with real work: the learning agent's
 * between-episode optimisation (200 real DDPG updates on the TensorFlow.js backend) runs while
 * JPEG camera frames, the speed, the safety-driver topic and task commands keep arriving, on the
 * rclnodejs stand-in with a real clock and real timers, through the path `daydrive drive` runs:
 * the node calls the agent's optimise(), whose learner yields every UPDATE_SLICE_MS. What the node
 * promises meanwhile: the optimisation never holds the event loop longer than one slice plus one
 * update, so every callback gets its turn; every policy tick holds the car it has back from the
 * driver with a speed-0 command (never a drive command); status keeps going out; a task command
 * is answered (queued); every update is done; and a shutdown stops a running optimisation early.
 *
 * The bound is on what the node controls, the time it keeps the loop, measured with a 1 ms probe
 * timer: delays as a whole (event-loop delay, callback lag) are printed, not asserted, as the
 * scheduler of a loaded 2-core machine adds hundreds of ms of its own (bench/ros.bench.ts
 * compares them with an effectively unsliced optimisation).
 */
import assert from 'node:assert/strict';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { test } from 'node:test';
import { initBackend } from '../../src/core/backend.js';
import { createDrivingAgent, parseAgentConfig } from '../../src/agent/index.js';
import { UPDATE_SLICE_MS } from '../../src/rl/learner.js';
import type { DriveStatus } from '../../src/ros/node.js';
import type { StringMsg, TriggerResponseMsg } from '../../src/ros/rclnodejs-types.js';
import {
  compressedMsg,
  gridMeanEncoder,
  jpegBytes,
  makeHarness,
  odometryMsg,
  testImage,
  withOptimise,
} from './helpers.js';

const CAMERA_PERIOD_MS = 33;
const POLICY_PERIOD_MS = 100;
const UPDATES = 200;

const until = async (what: string, ok: () => boolean, timeoutMs = 60_000): Promise<void> => {
  const t0 = performance.now();
  while (!ok()) {
    if (performance.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
};

test(`a real optimisation (${UPDATES} updates) between episodes does not starve the callbacks: speed 0 and status keep flowing`, async () => {
  await initBackend();
  // As run.ts composes it: the agent runs the updates, the node calls its optimise().
  const agent = createDrivingAgent({
    agent: parseAgentConfig({ exploreEpisodes: 1, optimisationSteps: UPDATES }),
    algo: 'ddpg',
    learner: {},
    exploration: { type: 'ou' },
    // The shipped VAE's latent size: the learner's networks and update cost are the real ones.
    encoder: gridMeanEncoder(32),
    vehicle: { maxSteeringRad: 0.45, maxSpeedMps: 10 / 3.6, policyPeriodS: 0.1 },
    seed: 4,
  });
  // Updates done by the optimisation running now (the learner reports each one).
  let updatesRun = 0;
  // When the loop last turned (a 1 ms timer runs whenever it does), and the longest the
  // optimisation kept it from turning: measured after every update (onProgress).
  let loopTurnedAt = performance.now();
  const probe = setInterval(() => (loopTurnedAt = performance.now()), 1);
  let longestHoldMs = 0;
  let longestUpdateMs = 0;
  let lastProgressAt = 0;
  // When the optimisation ended, on the node's clock: the window's end (a queued episode may start right after it).
  let optimisedAtNs: bigint | null = null;
  const controller = withOptimise(agent, (options) =>
    agent
      .optimise({
        ...options,
        onProgress: (done) => {
          const t = performance.now();
          // One update's time: since the previous one ended, or since the loop last turned where it
          // yielded in between (then an upper bound: it includes the turn's other callbacks).
          longestUpdateMs = Math.max(longestUpdateMs, t - Math.max(lastProgressAt, loopTurnedAt));
          longestHoldMs = Math.max(longestHoldMs, t - loopTurnedAt);
          lastProgressAt = t;
          updatesRun = done;
          options?.onProgress?.(done);
        },
      })
      .finally(() => (optimisedAtNs = h.nowNs())),
  );
  const h = makeHarness(
    controller,
    {
      camera_type: 'sensor_msgs/msg/CompressedImage',
      camera_topic: '/camera/image_raw/compressed',
      camera_width_px: 160,
      camera_height_px: 120,
      status_rate_hz: 10,
      // Not the stale-camera fail-safe's test: on a loaded machine it would end the explore
      // episode early (failsafe.test.ts covers it; the bench reports whether it fired).
      max_frame_age_s: 5.0,
    },
    'real',
  );
  const jpeg = await jpegBytes(testImage(160, 120));
  let driverEngaged = false;
  // Arrival times of the camera callbacks: their gaps beyond the camera period are callback lag.
  const cameraAt: number[] = [];
  const camera = setInterval(() => {
    cameraAt.push(performance.now());
    h.ros.deliver(h.params.camera_topic, compressedMsg(jpeg, h.nowNs()));
    h.ros.deliver(h.params.speed_topic, odometryMsg(1.5, h.nowNs()));
  }, CAMERA_PERIOD_MS);
  // The safety driver's Bool, republished at 10 Hz as a real driver node does.
  const driver = setInterval(() => h.driver(driverEngaged), 100);
  const loop = monitorEventLoopDelay({ resolution: 5 });
  try {
    h.driver(false);
    assert.equal(h.ros.call<TriggerResponseMsg>('~/train').success, true);
    await until('20 steps of the explore episode', () => agent.learner.replaySize() >= 20);

    // The driver takes over: the episode ends and the optimisation starts; the car is handed back
    // at once (a reset quicker than the optimisation), so the node holds it with speed 0 meanwhile.
    driverEngaged = true;
    h.driver(true);
    await until('the optimisation to start', () => h.drive.status().optimising);
    lastProgressAt = performance.now();
    const startNs = h.nowNs();
    const startMs = performance.now();
    const policyTimer = h.ros.timers[0]!;
    const ticksAtStart = policyTimer.fired;
    loop.enable();
    driverEngaged = false;
    h.driver(false);
    // A task command during the optimisation is answered at once: queued.
    let queued: TriggerResponseMsg | null = null;
    setTimeout(() => (queued = h.ros.call<TriggerResponseMsg>('~/train')), 2 * POLICY_PERIOD_MS);
    await until('the optimisation to finish', () => !h.drive.status().optimising);
    loop.disable();
    const ticks = policyTimer.fired - ticksAtStart;
    const endNs = optimisedAtNs ?? h.nowNs();
    const endMs = performance.now();
    const optimisedS = (endMs - startMs) / 1000;

    const inWindow = <M extends { header: { stamp: { sec: number; nanosec: number } } }>(m: M): boolean => {
      const ns = BigInt(m.header.stamp.sec) * 1_000_000_000n + BigInt(m.header.stamp.nanosec);
      return ns >= startNs && ns <= endNs;
    };
    const stampMs = (m: { header: { stamp: { sec: number; nanosec: number } } }): number =>
      m.header.stamp.sec * 1000 + m.header.stamp.nanosec / 1e6;
    const during = h.commands().filter(inWindow);
    const statusDuring = h.ros
      .published<StringMsg>(h.params.status_topic)
      .map((m) => JSON.parse(m.data) as DriveStatus)
      .filter((s) => s.optimising);
    const holdGapsMs = during.slice(1).map((m, i) => stampMs(m) - stampMs(during[i]!));
    const cameraLagMs = cameraAt
      .filter((t) => t >= startMs && t <= endMs)
      .map((t, i, a) => (i === 0 ? 0 : t - a[i - 1]! - CAMERA_PERIOD_MS));
    const figures = {
      optimisedS: Math.round(optimisedS * 1000) / 1000,
      updatesPerS: Math.round(UPDATES / optimisedS),
      loopDelayMaxMs: Math.round(loop.max / 1e6),
      loopDelayP99Ms: Math.round(loop.percentile(99) / 1e6),
      cameraLagMaxMs: Math.round(Math.max(0, ...cameraLagMs)),
      longestHoldMs: Math.round(longestHoldMs),
      longestUpdateMs: Math.round(longestUpdateMs),
      policyTicks: ticks,
      holdCommands: during.length,
      holdGapMaxMs: Math.round(Math.max(0, ...holdGapsMs)),
      statusWhileOptimising: statusDuring.length,
    };
    console.log(`# ${JSON.stringify(figures)}`);

    assert.equal(updatesRun, UPDATES, 'the optimisation did not run every update');
    assert.ok(
      statusDuring.some((s) => (s.optimisationUpdates ?? 0) > 0),
      'no optimisation progress in the status',
    );
    assert.equal(agent.taskState.learningEpisodes, 1);
    assert.equal(h.episodes().at(-1)?.endedBy, 'driver');
    assert.ok(
      during.every((c) => c.drive.speed === 0),
      'a drive command went out during the optimisation',
    );
    assert.ok(optimisedS > 0.1, `the optimisation took ${optimisedS} s: too short to say anything`);
    // The loop is held at most one slice plus one update (+ the other callbacks of the same turn):
    // the learner's former 25-update chunks held it 630 ms on this machine.
    assert.ok(longestHoldMs <= UPDATE_SLICE_MS + longestUpdateMs + 30, JSON.stringify(figures));
    // Every policy tick during the optimisation held the car (the last one may still be in flight).
    assert.ok(ticks >= 3, JSON.stringify(figures));
    assert.ok(during.length >= ticks - 1, JSON.stringify(figures));
    assert.ok(statusDuring.length >= 1, 'no status while optimising');
    assert.ok(queued !== null, 'the task command was not answered during the optimisation');
    assert.equal((queued as TriggerResponseMsg | null)?.success, true);
    assert.match((queued as TriggerResponseMsg | null)?.message ?? '', /queued/);

    // The queued command starts the next episode once the optimisation is over.
    await until(
      'the queued train episode to drive',
      () => h.drive.status().episode === 2 && h.commands().at(-1)!.drive.speed > 0,
      5000,
    );
    assert.equal(agent.taskState.mode, 'train');

    // A shutdown during the next optimisation stops it early, between two updates.
    updatesRun = 0;
    driverEngaged = true;
    h.driver(true);
    await until('the second optimisation to make progress', () => updatesRun > 0);
    const stopAt = performance.now();
    h.drive.shutdown('SIGINT');
    await h.drive.idle();
    const stoppedInMs = performance.now() - stopAt;
    assert.ok(updatesRun < UPDATES, `the optimisation ran all ${updatesRun} updates after the shutdown`);
    console.log(`# ${JSON.stringify({ stoppedAfterUpdates: updatesRun, stoppedInMs: Math.round(stoppedInMs) })}`);
    assert.ok(
      stoppedInMs < optimisedS * 1000,
      `stopped ${Math.round(stoppedInMs)} ms after the shutdown, a whole optimisation took ${optimisedS} s`,
    );
  } finally {
    clearInterval(probe);
    clearInterval(camera);
    clearInterval(driver);
    await h.drive.idle();
    h.drive.shutdown('test over');
    agent.dispose();
  }
});
