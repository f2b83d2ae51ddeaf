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
    if (typeof message === 'string' && message.startsWith('control loop:')) lines.push({ fields: fields as Logged['fields'], message });
  });
  t.after(() => mock.restoreAll());
  const samples: LatencySample[] = [];
  const h = makeHarness(new ScriptedController(() => [0, 1]), { ...BASE, latency_log_period_s: 1.0 }, 'manual', { onLatency: (s) => samples.push(s) });
  h.ros.deliver(h.params.safety_driver_topic, { data: false });
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
  assert.ok(Number.isFinite(last.fields.processing.p99Ms) && last.fields.processing.p99Ms >= last.fields.processing.p50Ms);
  assert.ok(Number.isFinite(last.fields.frameAge.p99Ms));
  assert.equal(last.fields.skippedTicks, 0);
  assert.match(last.message, /processing \(decode \+ step\) p50 [\d.]+ ms, p99 [\d.]+ ms; camera message in -> command out p50 [\d.]+ ms, p99 [\d.]+ ms/);
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
  h.ros.deliver(h.params.safety_driver_topic, { data: false });
  h.ros.call<TriggerResponseMsg>('~/train');
  for (let i = 0; i < 30; i++) await period(h);
  assert.equal(logged, 0);
  assert.equal(h.drive.status().latency.processing.count, 30);
});
