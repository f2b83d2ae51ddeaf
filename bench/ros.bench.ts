/**
 * Drive node benchmark (one JSON object, bench/report.ts): camera message in -> Ackermann command
 * out, with 640x480 JPEG frames rendered by the simulator arriving at 30 Hz for a sustained run,
 * the real learning agent (DDPG, training mode: OU noise, every transition stored) on the wasm
 * backend, and the node on the in-process rclnodejs stand-in with a real clock and real timers
 * (10 Hz policy).
 *
 *  - processing latency per command: JPEG decode + state (crop, resize, VAE encoder) + policy +
 *    publish, p50 and p99, against the goal p99 < 20 ms;
 *  - frame age at command: from the frame's arrival to the command that used it (adds the wait
 *    for the policy timer, at most one camera period with a newer frame replacing it);
 *  - sustained 30 Hz: commands per second against the policy rate, skipped policy ticks, frames
 *    superseded before decoding, event-loop delay, and heap growth over the run (no queue grows:
 *    the node keeps one decode in flight and one message waiting).
 *
 * Run: nice -n 10 node --import tsx bench/ros.bench.ts   (ROS_BENCH_QUICK=1 for a 6 s run;
 * ROS_BENCH_SLOW=1 prints every command over 20 ms with its decode part on stderr)
 */
import { existsSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { DrivingSimEnv, maxSetpointMps, purePursuitForEnv } from '../sim/index.js';
import { initBackend } from '../src/core/backend.js';
import { createDrivingAgent, parseAgentConfig, type DrivingAgent } from '../src/agent/index.js';
import { DEFAULT_VAE_MODEL_DIR, loadVaeEncoder, VaeImageEncoder } from '../src/vision/encoder.js';
import { VAE_META_FILE } from '../src/vision/model-files.js';
import { buildEncoder, parseVaeConfig } from '../src/vision/vae.js';
import type { ImageEncoder } from '../src/vision/types.js';
import type { LatencySample } from '../src/ros/node.js';
import { compressedMsg, jpegBytes, makeHarness, odometryMsg, type Harness } from '../test/ros/helpers.js';
import { figure, printReport } from './report.js';

const quick = process.env.ROS_BENCH_QUICK === '1';
const RUN_S = quick ? 6 : 30;
const CAMERA_HZ = 30;
const POLICY_HZ = 10;
const P99_GOAL_MS = 20;
const DISTINCT_FRAMES = 60;

async function encoder(): Promise<{ encoder: ImageEncoder; which: string }> {
  if (existsSync(join(DEFAULT_VAE_MODEL_DIR, VAE_META_FILE))) return { encoder: await loadVaeEncoder(DEFAULT_VAE_MODEL_DIR), which: 'models/vae-sim' };
  // The shipped VAE is still being trained: the same network, randomly initialised, costs the same.
  const config = parseVaeConfig({});
  return { encoder: new VaeImageEncoder(buildEncoder(config, 1), config), which: 'randomly initialised VAE (models/vae-sim not present)' };
}

/** 640x480 JPEG camera frames along a pure-pursuit drive. */
async function cameraFrames(): Promise<Uint8Array[]> {
  const env = new DrivingSimEnv({ camera: { render: false } });
  env.resetSync({ seed: 21 });
  const frames: Uint8Array[] = [];
  for (let i = 0; i < DISTINCT_FRAMES; i++) {
    env.stepSync(purePursuitForEnv(env));
    frames.push(await jpegBytes(env.renderAt(640, 480), 90));
  }
  return frames;
}

const backend = await initBackend('wasm');
const { encoder: enc, which } = await encoder();
const vehicle = { maxSteeringRad: 0.45, maxSpeedMps: maxSetpointMps(new DrivingSimEnv({ camera: { render: false } }).config.vehicle) };
const frames = await cameraFrames();

/** A node with a fresh learning agent in a training episode, fed by a 30 Hz camera. */
function driving(seed: number, onLatency?: (sample: LatencySample) => void): { h: Harness; agent: DrivingAgent; stop: () => void; sent: () => number } {
  // No optimisation between episodes: it runs while the safety driver has the car, outside the
  // control loop measured here (and a fail-safe stop on a loaded machine would start one).
  const agent = createDrivingAgent({ agent: parseAgentConfig({ exploreEpisodes: 0, optimisationSteps: 0 }), algo: 'ddpg', learner: {}, exploration: { type: 'ou' }, encoder: enc, vehicle, seed });
  const h = makeHarness(
    agent,
    {
      camera_type: 'sensor_msgs/msg/CompressedImage',
      camera_topic: '/camera/image_raw/compressed',
      camera_width_px: 640,
      camera_height_px: 480,
      policy_rate_hz: POLICY_HZ,
      max_steering_rad: vehicle.maxSteeringRad,
      max_speed_mps: vehicle.maxSpeedMps,
    },
    'real',
    onLatency,
  );
  h.ros.deliver(h.params.safety_driver_topic, { data: false });
  let sent = 0;
  const timer = setInterval(() => {
    const stamp = h.nowNs();
    h.ros.deliver(h.params.camera_topic, compressedMsg(frames[sent % frames.length]!, stamp));
    h.ros.deliver(h.params.speed_topic, odometryMsg(2, stamp));
    sent += 1;
  }, 1000 / CAMERA_HZ);
  // The safety driver: whenever an episode has ended (a fail-safe), the next one is asked for.
  const driver = setInterval(() => {
    const st = h.drive.status();
    if (st.episode === null && st.startPending === null && st.task.phase === 'waiting') h.drive.command('train');
  }, 200);
  h.drive.command('train');
  return {
    h,
    agent,
    stop: () => {
      clearInterval(timer);
      clearInterval(driver);
    },
    sent: () => sent,
  };
}

// Warm-up on a throwaway node and agent of the same shapes (kernels, sharp, JIT): not measured.
const warm = driving(0);
await new Promise((r) => setTimeout(r, 3000));
warm.stop();
await warm.h.drive.idle({ optimisation: false });
warm.h.drive.shutdown('warm-up done');
warm.agent.dispose();

const heapBeforeMiB = process.memoryUsage().heapUsed / 2 ** 20;
const loopDelay = monitorEventLoopDelay({ resolution: 5 });
loopDelay.enable();
const t0 = performance.now();
const samples: (LatencySample & { atS: number })[] = [];
const run = driving(1, (sample) => samples.push({ ...sample, atS: (performance.now() - t0) / 1000 }));
await new Promise((r) => setTimeout(r, RUN_S * 1000));
run.stop();
const elapsedS = (performance.now() - t0) / 1000;
await run.h.drive.idle({ optimisation: false });
loopDelay.disable();
const heapAfterMiB = process.memoryUsage().heapUsed / 2 ** 20;
const h = run.h;
const s = h.drive.status();
h.drive.shutdown('benchmark finished');
run.agent.dispose();
enc.dispose();

const commands = h.commands().filter((c) => c.drive.speed > 0).length;
if (process.env.ROS_BENCH_SLOW === '1') for (const x of samples) if (x.processingMs > P99_GOAL_MS) process.stderr.write(`slow: ${JSON.stringify(x)}\n`);
const round = (x: number): number => Math.round(x * 100) / 100;
// Steady state: after the first second (a new agent's first calls build its networks' kernels).
const steady = samples.filter((x) => x.atS >= 1);
const pct = (values: number[], p: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return round(sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!);
};
const processing = steady.map((x) => x.processingMs);
const frameAge = steady.map((x) => x.frameAgeMs);
printReport(
  'ros',
  [
    figure('camera message in -> command out p99 (640x480 JPEG, wasm)', pct(processing, 0.99), 'ms', { name: 'goal p99', value: P99_GOAL_MS }, false,
      `p50 ${pct(processing, 0.5)} ms, max ${pct(processing, 1)} ms over ${processing.length} commands; decode + crop/resize + VAE encoder + DDPG actor (+ OU noise, transition stored) + publish`),
    figure('camera message in -> command out p50', pct(processing, 0.5), 'ms', { name: 'goal p99', value: P99_GOAL_MS }, false),
    figure('share of commands within 20 ms', Math.round((1000 * processing.filter((ms) => ms <= P99_GOAL_MS).length) / processing.length) / 1000, 'fraction', { name: 'goal (p99)', value: 0.99 }, true),
    figure('frame age at command p99 (includes waiting for the 10 Hz timer)', pct(frameAge, 0.99), 'ms', { name: 'camera period + goal', value: 1000 / CAMERA_HZ + P99_GOAL_MS }, false, `p50 ${pct(frameAge, 0.5)} ms`),
    figure('drive commands per second at 30 Hz input', round(commands / elapsedS), 'Hz', { name: 'policy rate', value: POLICY_HZ }, true),
    figure('event loop delay p99 during the run', round(loopDelay.percentile(99) / 1e6), 'ms', { name: 'policy period', value: 1000 / POLICY_HZ }, false),
  ],
  {
    backend: backend.name,
    // Other work on the machine shows up in p99: the 1-minute load average at the end of the run.
    loadAverage1m: round(loadavg()[0]!),
    encoder: which,
    runS: round(elapsedS),
    framesSent: run.sent(),
    framesDecoded: s.camera.received - s.camera.superseded - s.camera.bad,
    framesSupersededBeforeDecode: s.camera.superseded,
    skippedTicks: s.skippedTicks,
    badFrames: s.camera.bad,
    // Episodes ended by a fail-safe (stale or bad frames) during the run; the bench's driver restarts them.
    failsafeStops: h.episodes().length,
    failsafe: s.failsafe,
    heapGrowthMiB: round(heapAfterMiB - heapBeforeMiB),
    firstCommandMs: samples[0] ? round(samples[0].processingMs) : null,
  },
);
process.exit(0);
