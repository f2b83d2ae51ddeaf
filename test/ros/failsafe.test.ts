/**
 * The drive node against the rclnodejs stand-in: the policy loop, the safety driver, task
 * commands, and every fail-safe of issue 6 (stale or missing frames, bad frames, non-finite
 * actions, SIGINT/SIGTERM).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import type { DriveStatus } from '../../src/ros/node.js';
import { CONTROL_MODE, nsToTimeMsg } from '../../src/ros/messages.js';
import type {
  AckermannDriveStampedMsg,
  DiagnosticArrayMsg,
  StringMsg,
  TriggerResponseMsg,
} from '../../src/ros/rclnodejs-types.js';
import { runDrive } from '../../src/ros/run.js';
import { takeOverSignals } from '../../src/ros/signals.js';
import { FakeRcl } from './fake-rclnodejs.js';
import {
  compressedMsg,
  jpegBytes,
  makeHarness,
  odometryMsg,
  rawImageMsg,
  ScriptedController,
  testImage,
  type Harness,
} from './helpers.js';

const W = 64;
const H = 48;
const PERIOD_MS = 100;
const MAX_STEER = 0.45;
const MAX_SPEED = 10 / 3.6;
const FRAME = testImage(W, H);

const BASE = { camera_width_px: W, camera_height_px: H, max_frame_age_s: 0.3, max_consecutive_bad_frames: 5 };

/** Camera frame (stamped now) and speed, then one policy period. */
async function period(h: Harness, opts: { frame?: boolean; stampAgeMs?: number } = {}): Promise<void> {
  const now = h.nowNs();
  if (opts.frame ?? true)
    h.ros.deliver(h.params.camera_topic, rawImageMsg(FRAME, now - BigInt((opts.stampAgeMs ?? 0) * 1e6)));
  h.ros.deliver(h.params.speed_topic, odometryMsg(1.5, now));
  h.ros.advance(PERIOD_MS);
  await h.drive.idle();
}

function driverReleases(h: Harness): void {
  h.driver(false);
}

async function startDriving(h: Harness, command: 'train' | 'test' = 'train'): Promise<void> {
  driverReleases(h);
  const answer = h.ros.call<TriggerResponseMsg>(`~/${command}`);
  assert.equal(answer.success, true, answer.message);
  await period(h);
}

const speeds = (msgs: AckermannDriveStampedMsg[]): number[] => msgs.map((m) => m.drive.speed);
const status = (h: Harness): DriveStatus => h.drive.status();

test('drives: one command per policy period on the newest frame, action mapped to rad and m/s, stamped', async () => {
  const ctrl = new ScriptedController(() => [0.2, 0.5]);
  const h = makeHarness(ctrl, BASE);
  // Camera on the sensor-data QoS profile; the safety signal best-effort too, so that reliable and
  // best-effort publishers are both heard.
  assert.equal(h.ros.subscriptions.get(h.params.camera_topic)?.options.qos, 'qos_profile_sensor_data');
  assert.equal(h.ros.subscriptions.get(h.params.safety_driver_topic)?.options.qos, 'qos_profile_sensor_data');
  // Before the safety driver has said anything the node assumes the driver has the car: no commands.
  await period(h);
  assert.equal(h.commands().length, 0);
  await startDriving(h);
  for (let i = 0; i < 5; i++) await period(h);
  const cmds = h.commands();
  assert.equal(cmds.length, 6);
  for (const c of cmds) {
    assert.ok(Math.abs(c.drive.steering_angle - 0.2 * MAX_STEER) < 1e-6);
    assert.ok(Math.abs(c.drive.speed - 0.75 * MAX_SPEED) < 1e-6);
    assert.equal(c.header.frame_id, 'base_link');
  }
  assert.ok(
    cmds[1]!.header.stamp.sec * 1e9 + cmds[1]!.header.stamp.nanosec >
      cmds[0]!.header.stamp.sec * 1e9 + cmds[0]!.header.stamp.nanosec,
  );
  // Rewards: measured speed x elapsed time (1.5 m/s x 0.1 s).
  assert.ok(ctrl.observed.every((o) => Math.abs(o.reward - 0.15) < 1e-9 && !o.terminated));
  // The control loop's latency is measured.
  const lat = status(h).latency.processing;
  assert.equal(lat.count, 6);
  assert.ok(Number.isFinite(lat.p99Ms) && lat.p99Ms >= 0);
});

test('stale frames: speed 0 within one policy period of the limit, the episode ends, recovery when frames return', async () => {
  const ctrl = new ScriptedController(() => [0, 1]);
  const h = makeHarness(ctrl, BASE);
  await startDriving(h);
  await period(h);
  const lastFrameNs = h.nowNs() - BigInt(PERIOD_MS * 1e6);
  const before = h.commands().length;
  for (let i = 0; i < 6; i++) await period(h, { frame: false });
  const after = h.commands().slice(before);
  const firstStop = after.findIndex((c) => c.drive.speed === 0);
  assert.ok(firstStop >= 0, 'no speed-0 command');
  assert.ok(speeds(after.slice(0, firstStop)).every((s) => s > 0));
  const stopNs =
    BigInt(after[firstStop]!.header.stamp.sec) * 1_000_000_000n + BigInt(after[firstStop]!.header.stamp.nanosec);
  const ageAtStopMs = Number(stopNs - lastFrameNs) / 1e6;
  assert.ok(ageAtStopMs > 300 && ageAtStopMs <= 300 + PERIOD_MS, `stopped at frame age ${ageAtStopMs} ms`);
  // Held at zero afterwards, the reason reported, the episode ended.
  assert.ok(speeds(after.slice(firstStop)).every((s) => s === 0));
  assert.equal(status(h).failsafe?.reason, 'stale-camera');
  assert.equal(h.episodes().at(-1)?.endedBy, 'stale-camera');
  const diag = h.ros.published<DiagnosticArrayMsg>('/diagnostics');
  h.ros.advance(1000);
  await h.drive.idle();
  assert.ok(diag.length > 0);
  // Frames return: the fail-safe clears; the car stays stopped until the next task command.
  await period(h);
  assert.equal(status(h).failsafe, null);
  assert.equal(h.commands().at(-1)!.drive.speed, 0);
  assert.equal(h.ros.call<TriggerResponseMsg>('~/train').success, true);
  await period(h);
  assert.ok(h.commands().at(-1)!.drive.speed > 0);
  assert.equal(ctrl.begins, 2);
});

test('no frame at all, or frames whose header stamp is older than the limit: speed 0, no episode', async () => {
  const ctrl = new ScriptedController(() => [0, 1]);
  const h = makeHarness(ctrl, BASE);
  driverReleases(h);
  h.ros.call<TriggerResponseMsg>('~/train');
  await period(h, { frame: false });
  assert.deepEqual(speeds(h.commands()), [0]);
  assert.equal(status(h).camera.fault, 'no-frames');
  for (let i = 0; i < 3; i++) await period(h, { stampAgeMs: 1000 });
  assert.ok(speeds(h.commands()).every((s) => s === 0));
  assert.equal(status(h).failsafe?.reason, 'stale-camera');
  assert.equal(ctrl.begins, 0);
  await period(h);
  assert.equal(ctrl.begins, 1);
  assert.ok(h.commands().at(-1)!.drive.speed > 0);
});

test('bad raw frames are dropped and counted by problem; the node keeps driving; many in a row stop the car', async () => {
  const ctrl = new ScriptedController(() => [0, 1]);
  const h = makeHarness(ctrl, BASE);
  await startDriving(h);
  const now = (): bigint => h.nowNs();
  const good = rawImageMsg(FRAME, now());
  const bad = [
    { ...good, encoding: 'nv21' }, // unknown encoding
    { ...good, data: good.data.subarray(0, good.data.length - 7) }, // data length != step x height
    rawImageMsg(testImage(32, 24), now()), // wrong size
    { ...good, width: 0 }, // zero size
  ];
  for (const msg of bad) {
    h.ros.deliver(h.params.camera_topic, { ...msg, header: { stamp: nsToTimeMsg(now()), frame_id: 'camera' } });
    await period(h); // a good frame follows each bad one
  }
  const counts = status(h).camera;
  assert.equal(counts.bad, 4);
  assert.equal(counts.consecutiveBad, 0);
  assert.deepEqual(counts.badByProblem, { 'unknown-encoding': 1, 'size-mismatch': 2, 'zero-size': 1 });
  assert.ok(
    speeds(h.commands()).every((s) => s > 0),
    'bad frames interleaved with good ones must not stop the car',
  );
  // Five in a row (max_consecutive_bad_frames) stop it within the period, before the frame goes stale.
  for (let i = 0; i < 5; i++) h.ros.deliver(h.params.camera_topic, bad[i % bad.length]!);
  h.ros.advance(PERIOD_MS);
  await h.drive.idle();
  assert.equal(h.commands().at(-1)!.drive.speed, 0);
  assert.equal(status(h).failsafe?.reason, 'bad-frames');
  assert.equal(h.episodes().at(-1)?.endedBy, 'bad-frames');
  await period(h);
  assert.equal(status(h).failsafe, null, 'a good frame clears the fail-safe');
});

test('bad compressed frames (corrupt, truncated, not an image, wrong size) are dropped and counted', async () => {
  const ctrl = new ScriptedController(() => [0, 1]);
  const h = makeHarness(ctrl, {
    ...BASE,
    camera_type: 'sensor_msgs/msg/CompressedImage',
    camera_topic: '/camera/image_raw/compressed',
  });
  const jpeg = await jpegBytes(FRAME);
  const corrupt = jpeg.slice();
  for (let i = 200; i < corrupt.length - 2; i += 3) corrupt[i] = 0xff;
  const frames: Uint8Array[] = [
    jpeg.subarray(0, jpeg.length >> 1),
    corrupt,
    new Uint8Array([1, 2, 3, 4]),
    await jpegBytes(testImage(32, 24)),
  ];
  driverReleases(h);
  h.ros.call<TriggerResponseMsg>('~/train');
  for (const bytes of [jpeg, ...frames.flatMap((b) => [b, jpeg])]) {
    h.ros.deliver(h.params.camera_topic, compressedMsg(bytes, h.nowNs()));
    await h.drive.idle();
    h.ros.deliver(h.params.speed_topic, odometryMsg(1, h.nowNs()));
    h.ros.advance(PERIOD_MS / 2);
    await h.drive.idle();
  }
  const cam = status(h).camera;
  assert.equal(cam.bad, 4, JSON.stringify(cam));
  assert.equal((cam.badByProblem.truncated ?? 0) + (cam.badByProblem.corrupt ?? 0), 2);
  assert.equal(cam.badByProblem['unknown-encoding'], 1);
  assert.equal(cam.badByProblem['size-mismatch'], 1);
  assert.ok(h.commands().length > 0 && speeds(h.commands()).every((s) => s > 0));
});

test('a non-finite action is never published: an emergency stop instead, the episode ends', async () => {
  let step = 0;
  const ctrl = new ScriptedController(() => (++step >= 3 ? [Number.NaN, 0.3] : [0.1, 0.3]));
  const h = makeHarness(ctrl, BASE);
  await startDriving(h);
  for (let i = 0; i < 4; i++) await period(h);
  for (const c of h.commands()) assert.ok(Number.isFinite(c.drive.speed) && Number.isFinite(c.drive.steering_angle));
  assert.deepEqual(
    speeds(h.commands()).map((s) => s > 0),
    [true, true, false, false, false],
  );
  const s = status(h);
  assert.equal(s.failsafe?.reason, 'non-finite-action');
  // An emergency stop: emergency_decel_mps2 (default 0: as fast as the car can), no jerk limit,
  // and the holds after it keep those limits (a comfortable hold would ease the braking).
  for (const c of h.commands().slice(2)) assert.deepEqual([c.drive.acceleration, c.drive.jerk], [0, 0]);
  // Drive commands carry the comfortable limits.
  assert.deepEqual(
    [h.commands()[0]!.drive.acceleration, h.commands()[0]!.drive.jerk, h.commands()[0]!.drive.steering_angle_velocity],
    [1, 2, 1.5],
  );
  assert.equal(h.episodes().at(-1)?.endedBy, 'non-finite-action');
});

test('intervention: no command after the driver takes over; terminal step, optimisation, queued command, resume on release', async () => {
  const ctrl = new ScriptedController(() => [0, 1]);
  let release: () => void = () => {};
  ctrl.optimiseGate = new Promise((r) => (release = r));
  const h = makeHarness(ctrl, BASE);
  await startDriving(h);
  await period(h);
  const sent = h.commands().length;
  h.driver(true);
  for (let i = 0; i < 3; i++) {
    h.ros.deliver(h.params.camera_topic, rawImageMsg(FRAME, h.nowNs()));
    h.ros.advance(PERIOD_MS);
    await new Promise((r) => setImmediate(r));
  }
  assert.equal(h.commands().length, sent, 'a command was sent after the intervention');
  assert.equal(ctrl.observed.at(-1)?.terminated, true);
  assert.equal(h.episodes().at(-1)?.endedBy, 'driver');
  assert.equal(ctrl.optimiseCalls, 1);
  assert.equal(status(h).optimising, true);
  // The driver asks for the next episode while the learner optimises: queued by the task machine.
  const queued = h.ros.call<TriggerResponseMsg>('~/train');
  assert.equal(queued.success, true);
  assert.match(queued.message, /queued/);
  release();
  await h.drive.idle();
  assert.equal(status(h).startPending, 'train');
  await period(h);
  assert.equal(h.commands().length, sent, 'must not drive before the driver hands the car back');
  driverReleases(h);
  await period(h);
  assert.equal(ctrl.begins, 2);
  assert.ok(h.commands().at(-1)!.drive.speed > 0);
});

test('the driver takes over while a step is encoding the state: that step sends nothing; the episode ends once', async () => {
  const ctrl = new ScriptedController(() => [0, 1]);
  const h = makeHarness(ctrl, BASE);
  await startDriving(h);
  await period(h);
  const sent = h.commands().length;
  let release: () => void = () => {};
  ctrl.observeGate = new Promise((r) => (release = r));
  h.ros.deliver(h.params.camera_topic, rawImageMsg(FRAME, h.nowNs()));
  h.ros.advance(PERIOD_MS); // the step is now waiting in observe()
  h.driver(true);
  release();
  await h.drive.idle();
  assert.equal(h.commands().length, sent);
  await period(h);
  assert.equal(h.commands().length, sent);
  assert.equal(h.episodes().length, 1);
  assert.equal(h.episodes()[0]!.endedBy, 'driver');
  // The step observed before the takeover was the last; no second (terminal) observation of it.
  assert.equal(ctrl.observed.filter((o) => o.terminated).length, 0);
  assert.equal(ctrl.optimiseCalls, 1);
  assert.equal(ctrl.taskState.phase, 'waiting');
});

test('Autoware ControlModeReport: any mode but AUTONOMOUS is an intervention', async () => {
  const ctrl = new ScriptedController(() => [0, 1]);
  const h = makeHarness(ctrl, { ...BASE, control_mode_topic: '/vehicle/status/control_mode' });
  driverReleases(h);
  h.ros.call<TriggerResponseMsg>('~/test');
  await period(h);
  assert.equal(h.commands().length, 0, 'no control mode yet: the node does not drive');
  h.ros.deliver('/vehicle/status/control_mode', { stamp: nsToTimeMsg(h.nowNs()), mode: CONTROL_MODE.AUTONOMOUS });
  await period(h);
  await period(h);
  const sent = h.commands().length;
  assert.ok(sent >= 2);
  h.ros.deliver('/vehicle/status/control_mode', { stamp: nsToTimeMsg(h.nowNs()), mode: CONTROL_MODE.MANUAL });
  await period(h);
  assert.equal(h.commands().length, sent);
  assert.equal(h.episodes().at(-1)?.endedBy, 'driver');
  assert.equal(ctrl.optimiseCalls, 0, 'test episodes do not optimise');
});

test('task commands from the topic and the services; bad ones refused with the reason; done stops the node', async () => {
  const ctrl = new ScriptedController(() => [0, 1]);
  const h = makeHarness(ctrl, BASE);
  assert.equal(h.drive.command('fly').success, false);
  assert.match(h.ros.call<TriggerResponseMsg>('~/undo').message, /nothing to undo/);
  driverReleases(h);
  h.ros.deliver(h.params.task_topic, { data: ' test\n' });
  await period(h);
  assert.equal(ctrl.begins, 1);
  assert.equal(status(h).task.mode, 'test');
  assert.match(h.ros.call<TriggerResponseMsg>('~/train').message, /episode is running/);
  const statusMsgs = h.ros.published<StringMsg>(h.params.status_topic);
  assert.ok(statusMsgs.length > 0);
  assert.equal((JSON.parse(statusMsgs.at(-1)!.data) as DriveStatus).episode, 1);
  assert.equal(h.ros.call<TriggerResponseMsg>('~/done').success, true);
  const summary = await h.drive.finished;
  assert.equal(summary.endedBy, 'done');
  assert.equal(h.commands().at(-1)!.drive.speed, 0);
  const n = h.commands().length;
  await period(h);
  assert.equal(h.commands().length, n, 'nothing after done');
});

test('SIGINT/SIGTERM taken over from rclnodejs: speed 0 published before shutdown; a second signal exits', async () => {
  const ctrl = new ScriptedController(() => [0, 1]);
  const h = makeHarness(ctrl, BASE);
  await startDriving(h);
  const signals = new EventEmitter();
  const exits: number[] = [];
  const release = takeOverSignals(
    h.rcl,
    (s) => h.drive.shutdown(s),
    signals,
    (code) => exits.push(code),
  );
  assert.equal(h.rcl.signalHandlersRemoved, 1);
  assert.ok(h.commands().at(-1)!.drive.speed > 0);
  signals.emit('SIGTERM', 'SIGTERM');
  assert.equal(h.commands().at(-1)!.drive.speed, 0);
  assert.equal((await h.drive.finished).endedBy, 'SIGTERM');
  signals.emit('SIGINT', 'SIGINT');
  assert.deepEqual(exits, [130]);
  release();
  assert.equal(signals.listenerCount('SIGINT') + signals.listenerCount('SIGTERM'), 0);
});

test("a signal during the start (rcl init, the agent build) is ours, not rclnodejs's: taken over before init, the start stops, ROS shuts down", async () => {
  const rcl = new FakeRcl({ initDelayMs: 50 });
  const signals = new EventEmitter();
  const exits: number[] = [];
  const run = runDrive({ rcl, rosArgs: [], signals, exit: (code) => exits.push(code) });
  // runDrive has taken the signals over synchronously, before its first await.
  assert.deepEqual(rcl.calls, ['removeSignalHandlers', 'init']);
  assert.equal(signals.listenerCount('SIGINT'), 1);
  signals.emit('SIGINT', 'SIGINT');
  const summary = await run;
  assert.equal(summary.endedBy, 'SIGINT');
  assert.equal(summary.params, null);
  assert.equal(rcl.nodes.length, 0, 'no node after a signal during the start');
  assert.equal(rcl.calls.at(-1), 'shutdown');
  assert.deepEqual(exits, []);
  assert.equal(signals.listenerCount('SIGINT') + signals.listenerCount('SIGTERM'), 0);
});

interface ChildResult {
  readonly code: number | null;
  readonly out: string;
  readonly result: { speeds: number[]; endedBy: string; calls: string[]; nodes: number; flushMs: number | null };
}

/** Runs signal-child.ts and sends it `signal` once it prints `when`. */
async function signalChild(
  signal: NodeJS.Signals,
  when: 'starting' | 'driving',
  env: Record<string, string> = {},
): Promise<ChildResult> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', fileURLToPath(new URL('./signal-child.ts', import.meta.url))],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, DAYDRIVE_LOG_LEVEL: 'silent', ...env },
    },
  );
  let out = '';
  let signalled = false;
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    if (!signalled && out.includes(`${when}\n`)) {
      signalled = true;
      child.kill(signal);
    }
  });
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  return { code, out, result: JSON.parse(out.trim().split('\n').at(-1)!) as ChildResult['result'] };
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  test(`a real ${signal} to a driving node process: the last command is speed 0, the node lives on for the flush, exit 0`, async () => {
    const { code, out, result } = await signalChild(signal, 'driving');
    assert.equal(code, 0, out);
    assert.equal(result.endedBy, signal);
    assert.ok(
      result.speeds.some((s) => s > 0),
      'it was driving',
    );
    assert.equal(result.speeds.at(-1), 0);
    // shutdown_flush_s (0.1 s) between the final speed-0 command and destroy(); the timer may fire a little early.
    assert.ok(
      result.flushMs !== null && result.flushMs >= 95,
      `destroyed ${String(result.flushMs)} ms after the last publish`,
    );
    assert.deepEqual(result.calls.slice(0, 2), ['removeSignalHandlers', 'init']);
  });
}

test('a real SIGINT during a slow start: ours (taken over before rcl init), no node, exit 0', async () => {
  const { code, out, result } = await signalChild('SIGINT', 'starting', { DAYDRIVE_TEST_INIT_DELAY_MS: '1500' });
  assert.equal(code, 0, out);
  assert.equal(result.endedBy, 'SIGINT');
  assert.equal(result.nodes, 0);
  assert.deepEqual(result.speeds, []);
  assert.deepEqual(result.calls, ['removeSignalHandlers', 'init', 'removeSignalHandlers', 'shutdown']);
});
