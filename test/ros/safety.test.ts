/**
 * The vehicle issue's safety items through the rclnodejs stand-in: a heartbeat per input (a stale
 * safety signal, control mode, speed or steering stops the car within one policy period of its
 * timeout, learns nothing from it, shows in the status and /diagnostics, clears when the input
 * returns), QoS, stopping limits, the takeover topic's polarity, no command at shutdown while the
 * driver has the car, and the older Autoware ControlModeReport type.
 */
import assert from 'node:assert/strict';
import { PerformanceObserver } from 'node:perf_hooks';
import { test } from 'node:test';
import { isHeartbeatTimeout } from '../../src/ros/heartbeat.js';
import { CONTROL_MODE, MSG, nsToTimeMsg } from '../../src/ros/messages.js';
import type { DiagnosticArrayMsg, TriggerResponseMsg } from '../../src/ros/rclnodejs-types.js';
import {
  isRequestedCollection,
  makeHarness,
  odometryMsg,
  rawImageMsg,
  ScriptedController,
  testImage,
  type Harness,
} from './helpers.js';

const FRAME = testImage(64, 48);
const PERIOD_MS = 100;

/** One policy period with a camera frame, and odometry unless told not to. */
async function period(h: Harness, opts: { odometry?: boolean; steering?: boolean } = {}): Promise<void> {
  const now = h.nowNs();
  h.ros.deliver(h.params.camera_topic, rawImageMsg(FRAME, now));
  if (opts.odometry ?? true) h.ros.deliver(h.params.speed_topic, odometryMsg(1.5, now));
  if (opts.steering && h.params.steering_topic !== '') h.ros.deliver(h.params.steering_topic, { data: 0.01 });
  h.ros.advance(PERIOD_MS);
  await h.drive.idle();
}

async function startDriving(h: Harness, opts: { steering?: boolean } = {}): Promise<void> {
  h.driver(false);
  assert.equal(h.ros.call<TriggerResponseMsg>('~/train').success, true);
  await period(h, opts);
  assert.ok(h.commands().at(-1)!.drive.speed > 0, 'driving');
}

test('isHeartbeatTimeout as Autoware vehicle_cmd_gate: 0 disables, never received is timed out, else older than the timeout', () => {
  assert.equal(isHeartbeatTimeout(null, 1000, 0), false);
  assert.equal(isHeartbeatTimeout(null, 1000, 500), true);
  assert.equal(isHeartbeatTimeout(600, 1000, 500), false);
  assert.equal(isHeartbeatTimeout(500, 1000, 500), false);
  assert.equal(isHeartbeatTimeout(499, 1000, 500), true);
});

test('odometry stops arriving: speed 0 within one policy period of speed_timeout_s, no transition learnt, status and diagnostics say which input; it clears when odometry returns', async () => {
  const ctrl = new ScriptedController(() => [0, 1]);
  const h = makeHarness(ctrl, { speed_timeout_s: 0.3 });
  await startDriving(h);
  await period(h);
  const observed = ctrl.observed.length;
  // The last odometry came at the start of the last period; 0.3 s later it is stale.
  const stopsAt: number[] = [];
  for (let i = 0; i < 6; i++) {
    await period(h, { odometry: false });
    stopsAt.push(h.commands().at(-1)!.drive.speed);
  }
  // Periods 1-2 still within 0.3 s (and driving); the step at 0.4 s stops the car: within one period of the limit.
  assert.deepEqual(
    stopsAt.map((s) => s > 0),
    [true, true, false, false, false, false],
  );
  assert.equal(h.episodes().at(-1)?.endedBy, 'stale-speed');
  assert.equal(ctrl.observed.at(-1)?.terminated, false, 'no terminal transition from stale data');
  assert.ok(ctrl.observed.length <= observed + 2);
  // A comfortable stop (a measurement, not the safety signal).
  assert.equal(h.commands().at(-1)!.drive.acceleration, h.params.stop_decel_mps2);
  const s = h.drive.status();
  assert.equal(s.failsafe?.reason, 'stale-speed');
  assert.equal(s.inputs.find((i) => i.input === 'speed')?.timedOut, true);
  h.ros.advance(1000); // the status timer publishes
  await h.drive.idle();
  const diag = h.ros.published<DiagnosticArrayMsg>('/diagnostics').at(-1)!;
  const inputs = diag.status.find((d) => d.name === 'daydrive: inputs')!;
  assert.equal(inputs.level, 3);
  assert.match(inputs.message, /stale: last speed message \d+ ms ago \(timeout 300 ms\)/);
  assert.equal(inputs.hardware_id, '/daydrive');
  await period(h);
  await period(h);
  assert.equal(h.drive.status().failsafe, null, 'odometry back: cleared');
});

test('the safety driver falls silent after "you may drive": an emergency stop within one policy period of safety_driver_timeout_s', async () => {
  const ctrl = new ScriptedController(() => [0, 1]);
  const h = makeHarness(ctrl, { safety_driver_timeout_s: 0.5 });
  await startDriving(h);
  // Its publisher dies: no more messages (the harness's heartbeat timer is the driver's publisher).
  h.ros.timers.at(-1)!.cancel();
  const speeds: number[] = [];
  for (let i = 0; i < 8; i++) {
    await period(h);
    speeds.push(h.commands().at(-1)!.drive.speed);
  }
  const firstStop = speeds.findIndex((s) => s === 0);
  // The last message came at most one heartbeat (100 ms) before the first of these periods.
  assert.ok(firstStop >= 3 && firstStop <= 5, `stopped after ${firstStop + 1} periods: ${speeds.join(', ')}`);
  assert.ok(speeds.slice(firstStop).every((s) => s === 0));
  assert.equal(h.drive.status().failsafe?.reason, 'stale-safety-driver');
  assert.equal(h.episodes().at(-1)?.endedBy, 'stale-safety-driver');
  // An emergency stop: emergency_decel_mps2 (0: as hard as the car can), no jerk limit.
  assert.deepEqual([h.commands().at(-1)!.drive.acceleration, h.commands().at(-1)!.drive.jerk], [0, 0]);
});

test('steering measurements stop arriving: stale-steering stops the car (only with a steering_topic)', async () => {
  const ctrl = new ScriptedController(() => [0, 1]);
  const h = makeHarness(ctrl, { steering_topic: 'steering', steering_timeout_s: 0.2 });
  await startDriving(h, { steering: true });
  for (let i = 0; i < 4; i++) await period(h);
  assert.equal(h.commands().at(-1)!.drive.speed, 0);
  assert.equal(h.drive.status().failsafe?.reason, 'stale-steering');
});

test('QoS: the safety signal subscription hears a best-effort publisher (a reliable one would not: DDS matching, as the stand-in models)', () => {
  const h = makeHarness(new ScriptedController(() => [0, 1]));
  assert.equal(h.ros.deliver(h.params.safety_driver_topic, { data: false }, { reliability: 'best-effort' }), true);
  assert.equal(h.drive.status().driverHasControl, false);
  assert.equal(
    h.ros.deliver(h.params.task_topic, { data: 'train' }, { reliability: 'best-effort' }),
    false,
    'the task topic is reliable',
  );
});

test("safety_driver_true_means 'autonomy-enabled': true hands the car over, false is an intervention", async () => {
  const ctrl = new ScriptedController(() => [0, 1]);
  const h = makeHarness(ctrl, { safety_driver_true_means: 'autonomy-enabled' });
  h.driver(true); // "engaged"
  assert.equal(h.drive.status().driverHasControl, false);
  h.ros.call<TriggerResponseMsg>('~/train');
  await period(h);
  assert.ok(h.commands().at(-1)!.drive.speed > 0);
  const sent = h.commands().length;
  h.driver(false);
  await period(h);
  assert.equal(h.commands().length, sent, 'a command after the driver took over');
  assert.equal(h.episodes().at(-1)?.endedBy, 'driver');
});

/**
 * Runs `during` and counts the full collections requested from V8 meanwhile (a PerformanceObserver
 * on `gc`: the forced flag marks a collection asked for, not one V8 started by itself).
 */
async function forcedCollections(during: () => Promise<void>): Promise<number> {
  let forced = 0;
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) if (isRequestedCollection(e)) forced += 1;
  });
  observer.observe({ entryTypes: ['gc'] });
  try {
    await during();
    await new Promise((resolve) => setTimeout(resolve, 50)); // gc entries are delivered asynchronously
  } finally {
    observer.disconnect();
  }
  return forced;
}

test('collect_garbage_on_takeover: one full collection when the driver takes over and ends the episode, none while driving, none when false', async () => {
  for (const collect of [true, false]) {
    const h = makeHarness(new ScriptedController(() => [0, 1]), { collect_garbage_on_takeover: collect });
    await startDriving(h);
    assert.equal(await forcedCollections(() => period(h)), 0, 'a collection while driving');
    h.driver(true);
    const forced = await forcedCollections(() => period(h));
    assert.equal(h.episodes().at(-1)?.endedBy, 'driver');
    assert.equal(forced, collect ? 1 : 0, `collect_garbage_on_takeover ${collect}`);
  }
});

test('shutdown while the driver has the car publishes nothing; while the node has it, a comfortable speed 0', async () => {
  const driver = makeHarness(new ScriptedController(() => [0, 1]));
  await startDriving(driver);
  driver.driver(true);
  await period(driver);
  const sent = driver.commands().length;
  driver.drive.shutdown('SIGINT');
  assert.equal(driver.commands().length, sent);

  const node = makeHarness(new ScriptedController(() => [0, 1]));
  await startDriving(node);
  node.drive.shutdown('SIGINT');
  const last = node.commands().at(-1)!.drive;
  assert.equal(last.speed, 0);
  assert.equal(last.acceleration, node.params.stop_decel_mps2);
});

test('autoware_auto_vehicle_msgs ControlModeReport (older stacks) by control_mode_type; a silent control mode stops the car', async () => {
  const ctrl = new ScriptedController(() => [0, 1]);
  const h = makeHarness(ctrl, {
    control_mode_topic: 'control_mode',
    control_mode_type: MSG.autoControlModeReport,
    control_mode_timeout_s: 0.3,
  });
  assert.equal(h.ros.subscriptions.get('control_mode')?.type, 'autoware_auto_vehicle_msgs/msg/ControlModeReport');
  h.driver(false);
  h.ros.call<TriggerResponseMsg>('~/train');
  h.ros.deliver('control_mode', { stamp: nsToTimeMsg(h.nowNs()), mode: CONTROL_MODE.AUTONOMOUS });
  await period(h);
  assert.ok(h.commands().at(-1)!.drive.speed > 0);
  for (let i = 0; i < 5; i++) await period(h);
  assert.equal(h.commands().at(-1)!.drive.speed, 0);
  assert.equal(h.drive.status().failsafe?.reason, 'stale-control-mode');
});
