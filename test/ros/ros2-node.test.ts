/**
 * The drive node against a real ROS 2 (rcl, rmw_cyclonedds_cpp, the real message packages),
 * through DDS on loopback: the node runs in this process on a real rclnodejs node with a scripted
 * controller (no learner: these tests are about ROS), a second node plays the car, the camera and
 * the safety driver. What the stand-in cannot show: QoS matching, heartbeats of publishers that
 * go away, /diagnostics, the command rate on the subscriber's clock, and sensor_msgs/Image in each
 * accepted encoding through the real serialisation. Skipped with the reason where ROS 2 is missing
 * (not under CI=true: see real-ros.ts).
 */
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { DriveNode } from '../../src/ros/node.js';
import { FrameStore } from '../../src/ros/frames.js';
import { MSG } from '../../src/ros/messages.js';
import { declareDriveParams } from '../../src/ros/params.js';
import type {
  AckermannDriveStampedMsg,
  BoolMsg,
  DiagnosticArrayMsg,
  ImageMsg,
  OdometryMsg,
} from '../../src/ros/rclnodejs-types.js';
import { rawImageToRgb } from '../../src/vision/preprocess.js';
import { blockImage, odometryMsg, RAW_TEST_ENCODINGS, rawImageMsg, ScriptedController, testImage } from './helpers.js';
import { realRcl, rosTest, sleep, uniqueNamespace, until, type RealNode, type RealRcl } from './real-ros.js';

const PERIOD_MS = 100;
const FRAME = testImage(64, 48);

interface Rig {
  readonly rcl: RealRcl;
  readonly ns: string;
  readonly drive: DriveNode;
  readonly node: RealNode;
  readonly world: RealNode;
  /** Commands as the car receives them, with performance.now() at arrival. */
  readonly commands: { readonly msg: AckermannDriveStampedMsg; readonly atMs: number }[];
  readonly diagnostics: DiagnosticArrayMsg[];
  stop(): void;
}

/** The drive node under `ns` and a world node with a camera and odometry feed (30 Hz) running. */
async function rig(
  overrides: Record<string, unknown>,
  feeds: { camera?: boolean; odometry?: boolean } = {},
): Promise<Rig> {
  const rcl = await realRcl();
  const ns = uniqueNamespace('node');
  const node = new rcl.Node('daydrive', ns) as RealNode;
  const params = declareDriveParams(
    rcl,
    node,
    new Map(Object.entries({ latency_log_period_s: 0, status_rate_hz: 10.0, ...overrides })),
  );
  const drive = new DriveNode({ rcl, node, params, controller: new ScriptedController(() => [0.1, 0.5]) });
  drive.start();
  node.spin();
  const world = new rcl.Node('world', ns) as RealNode;
  const commands: Rig['commands'] = [];
  const diagnostics: DiagnosticArrayMsg[] = [];
  world.createSubscription<AckermannDriveStampedMsg>(MSG.ackermannStamped, `${ns}/ackermann_cmd`, {}, (msg) =>
    commands.push({ msg, atMs: performance.now() }),
  );
  world.createSubscription<DiagnosticArrayMsg>(MSG.diagnosticArray, '/diagnostics', {}, (msg) => {
    if (msg.status.some((s) => s.hardware_id === `${ns}/daydrive`)) diagnostics.push(msg);
  });
  const camera = world.createPublisher<ImageMsg>(MSG.image, `${ns}/camera/image_raw`, {
    qos: rcl.QoS.profileSensorData,
  });
  const odom = world.createPublisher<OdometryMsg>(MSG.odometry, `${ns}/odom`, { qos: rcl.QoS.profileSensorData });
  world.spin();
  const feed = setInterval(() => {
    const now = world.now().nanoseconds;
    if (feeds.camera ?? true) camera.publish(rawImageMsg(FRAME, now));
    if (feeds.odometry ?? true) odom.publish(odometryMsg(1, now));
  }, 33);
  return {
    rcl,
    ns,
    drive,
    node,
    world,
    commands,
    diagnostics,
    stop: () => {
      clearInterval(feed);
      drive.shutdown('test');
      node.destroy();
      world.destroy();
    },
  };
}

/** A safety-driver publisher sending `hasControl` at 20 Hz; returns it and a function that stops it. */
function driverFeed(r: Rig, qos: unknown): { publisher: unknown; stop: () => number } {
  const publisher = r.world.createPublisher<BoolMsg>(MSG.bool, `${r.ns}/safety_driver/has_control`, { qos });
  let lastAtMs = 0;
  const timer = setInterval(() => {
    (publisher as { publish(m: BoolMsg): void }).publish({ data: false });
    lastAtMs = performance.now();
  }, 50);
  return {
    publisher,
    stop: () => {
      clearInterval(timer);
      return lastAtMs;
    },
  };
}

const driving = (r: Rig): boolean => r.commands.some((c) => c.msg.drive.speed > 0);

rosTest(
  'QoS: a best-effort and a reliable safety-driver publisher are both heard; the camera on sensor-data QoS; a reliable subscription never hears best effort (as the stand-in models)',
  async () => {
    for (const reliability of ['best-effort', 'reliable'] as const) {
      const r = await rig({});
      const q = r.rcl.QoS;
      const qos = reliability === 'best-effort' ? q.profileSensorData : q.profileDefault;
      const driver = driverFeed(r, qos);
      try {
        await sleep(300);
        assert.equal(r.drive.command('train').success, true);
        await until(`drive commands with a ${reliability} safety driver`, () => driving(r));
        assert.ok(r.drive.status().camera.received > 0);
      } finally {
        driver.stop();
        r.stop();
      }
    }
    // DDS itself: a reliable subscription and a best-effort publisher do not match (what
    // test/ros/fake-rclnodejs.ts deliver() copies).
    const rcl = await realRcl();
    const ns = uniqueNamespace('qos');
    const node = new rcl.Node('qos', ns) as RealNode;
    const heard: boolean[] = [];
    node.createSubscription<BoolMsg>(MSG.bool, `${ns}/x`, { qos: rcl.QoS.profileDefault }, (m) => heard.push(m.data));
    const pub = node.createPublisher<BoolMsg>(MSG.bool, `${ns}/x`, { qos: rcl.QoS.profileSensorData });
    node.spin();
    for (let i = 0; i < 10; i++) {
      pub.publish({ data: true });
      await sleep(30);
    }
    node.destroy();
    assert.deepEqual(heard, []);
  },
);

for (const input of ['safety driver', 'odometry'] as const) {
  rosTest(
    `heartbeat: the ${input} publisher destroyed mid-drive stops the car within one policy period of its timeout`,
    async () => {
      const timeoutS = 0.3;
      const r = await rig({ safety_driver_timeout_s: timeoutS, speed_timeout_s: timeoutS }, { odometry: false });
      const driver = driverFeed(r, r.rcl.QoS.profileSensorData);
      const odom = r.world.createPublisher<OdometryMsg>(MSG.odometry, `${r.ns}/odom`, {
        qos: r.rcl.QoS.profileSensorData,
      });
      let odomLastAtMs = 0;
      const odomFeed = setInterval(() => {
        odom.publish(odometryMsg(1, r.world.now().nanoseconds));
        odomLastAtMs = performance.now();
      }, 20);
      try {
        await sleep(300);
        assert.equal(r.drive.command('train').success, true);
        await until('drive commands', () => driving(r));
        await sleep(300);
        let lastAtMs: number;
        if (input === 'safety driver') {
          lastAtMs = driver.stop();
          r.world.destroyPublisher(driver.publisher);
        } else {
          clearInterval(odomFeed);
          lastAtMs = odomLastAtMs;
          r.world.destroyPublisher(odom);
        }
        const reason = input === 'safety driver' ? 'stale-safety-driver' : 'stale-speed';
        await until(`the ${reason} fail-safe`, () => r.drive.status().failsafe?.reason === reason, 3000);
        await sleep(300);
        const stop = r.commands.find((c) => c.atMs > lastAtMs && c.msg.drive.speed === 0);
        assert.ok(stop, 'no speed-0 command after the publisher went');
        const afterMs = stop.atMs - lastAtMs;
        // The timeout, then at most one policy period (the next step), plus scheduling slack on a busy machine.
        assert.ok(
          afterMs <= timeoutS * 1000 + PERIOD_MS + 50,
          `stopped ${afterMs.toFixed(0)} ms after the last message (limit ${timeoutS * 1000} + ${PERIOD_MS} ms)`,
        );
        assert.ok(
          r.commands.filter((c) => c.atMs > stop.atMs).every((c) => c.msg.drive.speed === 0),
          'drove again without the input',
        );
        // The stop is an emergency one for the safety signal, comfortable for a measurement.
        assert.equal(stop.msg.drive.acceleration, input === 'safety driver' ? 0 : 2);
        // /diagnostics shows the stale input.
        await until(
          'a STALE diagnostic',
          () => r.diagnostics.some((d) => d.status.some((s) => s.name === 'daydrive: inputs' && s.level === 3)),
          3000,
        );
      } finally {
        clearInterval(odomFeed);
        driver.stop();
        r.stop();
      }
    },
  );
}

rosTest(
  '/diagnostics received, named daydrive: <task> with the hardware_id; commands at 10 Hz on the subscriber clock',
  async () => {
    const r = await rig({});
    const driver = driverFeed(r, r.rcl.QoS.profileDefault);
    try {
      await sleep(300);
      assert.equal(r.drive.command('train').success, true);
      await until('drive commands', () => driving(r));
      const from = r.commands.length;
      await sleep(2100);
      const at = r.commands.slice(from).map((c) => c.atMs);
      const gaps = at.slice(1).map((t, i) => t - at[i]!);
      const meanMs = (at.at(-1)! - at[0]!) / gaps.length;
      assert.ok(at.length >= 19 && at.length <= 22, `${at.length} commands in 2.1 s`);
      assert.ok(Math.abs(meanMs - PERIOD_MS) < 5, `mean interval ${meanMs.toFixed(1)} ms`);
      assert.ok(Math.max(...gaps) < 1.5 * PERIOD_MS, `longest gap ${Math.max(...gaps).toFixed(0)} ms`);
      const names = new Set(r.diagnostics.flatMap((d) => d.status.map((s) => s.name)));
      assert.deepEqual([...names].sort(), ['daydrive: camera', 'daydrive: drive', 'daydrive: inputs']);
      const drive = r.diagnostics.at(-1)!.status.find((s) => s.name === 'daydrive: drive')!;
      assert.equal(drive.level, 0);
      assert.match(drive.message, /driving episode 1 \(explore\)|driving episode 1/);
    } finally {
      driver.stop();
      r.stop();
    }
  },
);

rosTest(
  'sensor_msgs/Image in every accepted encoding through the real serialisation: the frame the node drives on',
  async () => {
    const rcl = await realRcl();
    const ns = uniqueNamespace('enc');
    const node = new rcl.Node('enc', ns) as RealNode;
    const image = blockImage(64, 48);
    let clockMs = 0;
    const frames = new FrameStore({
      expectedWidthPx: 64,
      expectedHeightPx: 48,
      maxFrameAgeMs: 1e9,
      maxConsecutiveBad: 100,
      clockMs: () => clockMs,
    });
    node.createSubscription<ImageMsg>(MSG.image, `${ns}/image`, { qos: rcl.QoS.profileSensorData }, (m) =>
      frames.onRaw(m),
    );
    const pub = node.createPublisher<ImageMsg>(MSG.image, `${ns}/image`, { qos: rcl.QoS.profileSensorData });
    node.spin();
    try {
      await sleep(200);
      for (const encoding of RAW_TEST_ENCODINGS) {
        for (const bigEndian of encoding.endsWith('16') ? [false, true] : [false]) {
          const sent = rawImageMsg(image, 0n, encoding, 4, bigEndian);
          const before = frames.counts.received;
          pub.publish(sent);
          await until(`the ${encoding} frame`, () => frames.counts.received > before);
          clockMs += 1;
          assert.equal(frames.counts.bad, 0, `${encoding}: ${frames.counts.lastBad}`);
          // The node's frame equals the conversion of what was sent: nothing lost in serialisation.
          assert.deepEqual(
            (await frames.newest!.read()).image.data,
            rawImageToRgb(sent).data,
            `${encoding}${bigEndian ? ' big-endian' : ''}`,
          );
        }
      }
    } finally {
      node.destroy();
    }
  },
);
