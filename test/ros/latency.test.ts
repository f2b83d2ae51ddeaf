/**
 * The control loop's latency (issue 6: "measured and logged"): every command's figures
 * (processing = decode + step; camera message in -> command out = the frame's age), the p50/p99/max
 * window in the status, and the log line every latency_log_period_s.
 */
import assert from 'node:assert/strict';
import { mock, test } from 'node:test';
import { log } from '../../src/core/logger.js';
import { LatencyWindow, type LatencySummary } from '../../src/ros/latency.js';
import type { LatencySample } from '../../src/ros/node.js';
import type { TriggerResponseMsg } from '../../src/ros/rclnodejs-types.js';
import { makeHarness, odometryMsg, rawImageMsg, ScriptedController, testImage, type Harness } from './helpers.js';

const FRAME = testImage(64, 48);
const BASE = { camera_width_px: 64, camera_height_px: 48 };

async function period(h: Harness): Promise<void> {
  h.ros.deliver(h.params.camera_topic, rawImageMsg(FRAME, h.nowNs()));
  h.ros.deliver(h.params.speed_topic, odometryMsg(1, h.nowNs()));
  h.ros.advance(100);
  await h.drive.idle();
}

interface Logged {
  readonly fields: { processing: LatencySummary; frameAge: LatencySummary; skippedTicks: number };
  readonly message: string;
}

test('LatencyWindow: percentiles over the last N samples', () => {
  const w = new LatencyWindow(100);
  assert.equal(w.summary().count, 0);
  for (let i = 1; i <= 250; i++) w.add(i);
  // The window keeps the last 100 samples: 151..250.
  assert.deepEqual(w.summary(), { count: 100, p50Ms: 201, p99Ms: 250, maxMs: 250 });
});

test('every command is measured, the status carries the window, and a log line goes out every latency_log_period_s', async (t) => {
  const lines: Logged[] = [];
  // Captures the node's info lines (the logger is silent in tests, the calls still happen).
  mock.method(log, 'info', (fields: unknown, message?: string) => {
    if (typeof message === 'string' && message.startsWith('control loop:'))
      lines.push({ fields: fields as Logged['fields'], message });
  });
  t.after(() => mock.restoreAll());
  const samples: LatencySample[] = [];
  const h = makeHarness(new ScriptedController(() => [0, 1]), { ...BASE, latency_log_period_s: 1.0 }, 'manual', {
    onLatency: (s) => samples.push(s),
  });
  h.driver(false);
  assert.equal(h.ros.call<TriggerResponseMsg>('~/train').success, true);
  for (let i = 0; i < 9; i++) await period(h);
  assert.equal(lines.length, 0, 'logged before latency_log_period_s had passed');
  for (let i = 0; i < 16; i++) await period(h);
  // 2.5 s of the node's clock: lines at 1 s and 2 s.
  assert.equal(lines.length, 2);

  assert.equal(samples.length, 25);
  for (const s of samples) {
    assert.ok(Number.isFinite(s.processingMs) && s.processingMs >= 0);
    assert.ok(Math.abs(s.processingMs - (s.decodeMs + s.stepMs)) < 1e-9, 'processing = decode + step');
    // The message came in before its command was computed: its age covers the step.
    assert.ok(s.frameAgeMs >= s.stepMs, JSON.stringify(s));
  }
  const last = lines.at(-1)!;
  assert.equal(last.fields.processing.count, 20);
  assert.ok(
    Number.isFinite(last.fields.processing.p99Ms) && last.fields.processing.p99Ms >= last.fields.processing.p50Ms,
  );
  assert.ok(Number.isFinite(last.fields.frameAge.p99Ms));
  assert.equal(last.fields.skippedTicks, 0);
  assert.match(
    last.message,
    /processing \(decode \+ step\) p50 [\d.]+ ms, p99 [\d.]+ ms; camera message in -> command out p50 [\d.]+ ms, p99 [\d.]+ ms/,
  );
  const status = h.drive.status().latency;
  assert.equal(status.processing.count, 25);
  assert.equal(status.frameAge.count, 25);
});

test('latency_log_period_s 0: never logged; still measured', async (t) => {
  let logged = 0;
  mock.method(log, 'info', (_fields: unknown, message?: string) => {
    if (typeof message === 'string' && message.startsWith('control loop:')) logged += 1;
  });
  t.after(() => mock.restoreAll());
  const h = makeHarness(new ScriptedController(() => [0, 1]), { ...BASE, latency_log_period_s: 0 });
  h.driver(false);
  h.ros.call<TriggerResponseMsg>('~/train');
  for (let i = 0; i < 30; i++) await period(h);
  assert.equal(logged, 0);
  assert.equal(h.drive.status().latency.processing.count, 30);
});

const CAMERA_PERIOD_MS = 1000 / 30;
const stampNs = (c: { header: { stamp: { sec: number; nanosec: number } } }): bigint =>
  BigInt(c.header.stamp.sec) * 1_000_000_000n + BigInt(c.header.stamp.nanosec);

/** A 30 Hz camera (and odometry) whose phase is 17 ms off the policy timer's, for `frames` frames; the arrival times. */
async function camera30Hz(h: Harness, frames: number): Promise<bigint[]> {
  const arrivals: bigint[] = [];
  h.ros.advance(17);
  for (let i = 0; i < frames; i++) {
    const now = h.nowNs();
    h.ros.deliver(h.params.speed_topic, odometryMsg(1, now));
    h.ros.deliver(h.params.camera_topic, rawImageMsg(FRAME, now));
    arrivals.push(now);
    await h.drive.idle();
    // In small steps, so that a step the timer starts ends (and is stamped) at the timer's instant.
    for (let k = 0; k < 10; k++) {
      h.ros.advance(CAMERA_PERIOD_MS / 10);
      await h.drive.idle();
    }
  }
  return arrivals;
}

async function drivingHarness(trigger: 'timer' | 'frame'): Promise<Harness> {
  const h = makeHarness(new ScriptedController(() => [0, 1]), { ...BASE, policy_trigger: trigger });
  h.driver(false);
  assert.equal(h.ros.call<TriggerResponseMsg>('~/train').success, true);
  return h;
}

test("policy_trigger 'frame': every command goes out as its frame arrives, at the policy rate; the timer still stops the car when frames stop", async () => {
  const h = await drivingHarness('frame');
  const arrivals = await camera30Hz(h, 90); // 3 s
  const drive = h.commands().filter((c) => c.drive.speed > 0);
  assert.equal(drive.length, 30, 'one command per 100 ms policy period');
  const arrived = new Set(arrivals);
  for (const c of drive) assert.ok(arrived.has(stampNs(c)), 'a command was not sent at a frame arrival');
  for (let i = 1; i < drive.length; i++) {
    const gapMs = Number(stampNs(drive[i]!) - stampNs(drive[i - 1]!)) / 1e6;
    assert.ok(Math.abs(gapMs - 100) < 1, `commands ${gapMs} ms apart`);
  }
  assert.equal(h.drive.status().skippedTicks, 0);

  // The camera stops: the timer takes over and the stale-camera fail-safe stops the car within one period of the limit.
  const lastFrameNs = arrivals.at(-1)!;
  for (let i = 0; i < 6; i++) {
    h.ros.deliver(h.params.speed_topic, odometryMsg(1, h.nowNs()));
    h.ros.advance(100);
    await h.drive.idle();
  }
  const stop = h.commands().find((c) => c.drive.speed === 0 && stampNs(c) > lastFrameNs);
  assert.ok(stop, 'no speed-0 command after the camera stopped');
  const ageAtStopMs = Number(stampNs(stop) - lastFrameNs) / 1e6;
  assert.ok(ageAtStopMs > 300 && ageAtStopMs <= 400, `stopped at frame age ${ageAtStopMs} ms`);
  assert.equal(h.drive.status().failsafe?.reason, 'stale-camera');
});

test("policy_trigger 'timer' (the default), same camera: commands at the timer's instants, not at the frames'", async () => {
  const h = await drivingHarness('timer');
  const arrivals = new Set(await camera30Hz(h, 90));
  const drive = h.commands().filter((c) => c.drive.speed > 0);
  assert.ok(drive.length >= 29 && drive.length <= 30, `${drive.length} commands`);
  assert.ok(drive.every((c) => !arrivals.has(stampNs(c))));
});
