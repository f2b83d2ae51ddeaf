/**
 * Camera in -> command out through a real ROS 2 (rcl, Cyclone DDS on loopback), beside the same
 * figure on the in-process stand-in (one JSON object, bench/report.ts). Needs a sourced ROS 2 and
 * rclnodejs built against it (docs/ros.md, Testing against a real ROS 2).
 *
 * The drive node runs in this process on a real rclnodejs node with policy_trigger 'frame' and a
 * scripted controller (no learner: this measures ROS, serialisation and the node's frame path, not
 * the VAE); a second node publishes 640x480 rgb8 sensor_msgs/Image at 30 Hz, odometry and the
 * safety driver, and subscribes to the commands. Each frame carries its number in its first pixel
 * and the controller steers by that pixel, so every command names the frame it was computed on:
 * the latency is the command's arrival at the subscriber minus its frame's publish(), both on
 * this process's clock. The stand-in run feeds the same frames straight into the subscription.
 *
 * Run: node --import tsx bench/ros-dds.bench.ts   (ROS_DDS_BENCH_S: seconds per run, default 20)
 */
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import type { RgbImage } from '../src/core/env.js';
import { loadRclnodejs } from '../src/ros/load.js';
import { MSG, nsToTimeMsg } from '../src/ros/messages.js';
import { DriveNode } from '../src/ros/node.js';
import { declareDriveParams } from '../src/ros/params.js';
import type {
  AckermannDriveStampedMsg,
  BoolMsg,
  ImageMsg,
  OdometryMsg,
  RclModule,
  RclNode,
} from '../src/ros/rclnodejs-types.js';
import { FakeRcl } from '../test/ros/fake-rclnodejs.js';
import { odometryMsg, rawImageMsg, ScriptedController, testImage } from '../test/ros/helpers.js';
import { figure, printReport } from './report.js';
import { roundTo } from '../src/core/math.js';

const RUN_S = Number(process.env.ROS_DDS_BENCH_S ?? 20);
const CAMERA_PERIOD_MS = 1000 / 30;
const GOAL_P99_MS = 15;
const MAX_STEER = 0.45;

interface Link {
  publishImage(msg: ImageMsg): void;
  publishOdometry(msg: OdometryMsg): void;
  publishDriver(msg: BoolMsg): void;
  onCommand(callback: (msg: AckermannDriveStampedMsg) => void): void;
  now(): bigint;
  close(): void;
}

/** Frame `n` of the run: the test image with n mod 200 in its first pixel's red. */
function numbered(base: RgbImage, n: number): RgbImage {
  const data = base.data.slice();
  data[0] = n % 200;
  return { width: base.width, height: base.height, data };
}

async function measure(
  rcl: RclModule,
  node: RclNode,
  link: Link,
): Promise<{ latenciesMs: number[]; commandsPerS: number }> {
  const params = declareDriveParams(
    rcl,
    node,
    new Map<string, unknown>([
      ['policy_trigger', 'frame'],
      ['latency_log_period_s', 0],
      ['max_steering_rad', MAX_STEER],
      ['max_frame_age_s', 1.0],
    ]),
  );
  // Steering = the frame's number / 200, so the command says which frame it was computed on.
  const controller = new ScriptedController((obs) => [obs.image.data[0]! / 200, 0]);
  const drive = new DriveNode({ rcl, node, params, controller });
  drive.start();
  const sentAtMs = new Map<number, number>();
  const latenciesMs: number[] = [];
  let measuring = false;
  let commands = 0;
  link.onCommand((msg) => {
    const at = performance.now();
    if (!measuring || msg.drive.speed === 0) return;
    commands += 1;
    const frame = Math.round((msg.drive.steering_angle / MAX_STEER) * 200);
    const sent = sentAtMs.get(frame);
    if (sent !== undefined) latenciesMs.push(at - sent);
  });
  const base = testImage(640, 480);
  // Built before the run: the camera's own cost is not the node's.
  const frames = Array.from({ length: 200 }, (_, n) => rawImageMsg(numbered(base, n), 0n));
  let n = 0;
  const camera = setInterval(() => {
    const now = link.now();
    const msg: ImageMsg = { ...frames[n % 200]!, header: { stamp: nsToTimeMsg(now), frame_id: 'camera' } };
    sentAtMs.set(n % 200, performance.now());
    link.publishImage(msg);
    link.publishOdometry(odometryMsg(1, now));
    link.publishDriver({ data: false });
    n += 1;
  }, CAMERA_PERIOD_MS);
  await new Promise((r) => setTimeout(r, 500));
  // The safety driver's side: a new episode whenever one has ended (a fail-safe on a busy machine).
  const restart = setInterval(() => {
    if (drive.status().episode === null && drive.status().task.phase === 'waiting') drive.command('train');
  }, 200);
  await new Promise((r) => setTimeout(r, 1000));
  measuring = true;
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, RUN_S * 1000));
  measuring = false;
  const seconds = (performance.now() - t0) / 1000;
  clearInterval(camera);
  clearInterval(restart);
  if (process.env.ROS_DDS_BENCH_DEBUG === '1') process.stderr.write(JSON.stringify(drive.status()) + '\n');
  drive.shutdown('bench over');
  link.close();
  return { latenciesMs, commandsPerS: commands / seconds };
}

function p(sorted: readonly number[], q: number): number {
  return roundTo(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!, 2);
}

async function realRun(): Promise<Awaited<ReturnType<typeof measure>>> {
  const rcl = (await loadRclnodejs()) as RclModule & {
    Node: new (name: string, ns?: string) => RclNode & { spin(): void; destroy(): void };
  };
  await rcl.init();
  const ns = `/dd_bench_${process.pid}`;
  const node = new rcl.Node('daydrive', ns);
  node.spin();
  const world = new rcl.Node('world', ns) as unknown as RclNode & {
    createPublisher<M>(t: string, topic: string, o?: { qos?: string }): { publish(m: M): void };
  };
  const image = world.createPublisher<ImageMsg>(MSG.image, `${ns}/camera/image_raw`, {
    qos: rcl.QoS.profileSensorData,
  });
  const odom = world.createPublisher<OdometryMsg>(MSG.odometry, `${ns}/odom`, { qos: rcl.QoS.profileSensorData });
  const driver = world.createPublisher<BoolMsg>(MSG.bool, `${ns}/safety_driver/has_control`);
  let onCommand: (msg: AckermannDriveStampedMsg) => void = () => {};
  world.createSubscription<AckermannDriveStampedMsg>(MSG.ackermannStamped, `${ns}/ackermann_cmd`, {}, (m) =>
    onCommand(m),
  );
  world.spin();
  const result = await measure(rcl, node, {
    publishImage: (m) => image.publish(m),
    publishOdometry: (m) => odom.publish(m),
    publishDriver: (m) => driver.publish(m),
    onCommand: (cb) => (onCommand = cb),
    now: () => world.now().nanoseconds,
    close: () => {
      node.destroy();
      world.destroy();
    },
  });
  rcl.shutdown();
  return result;
}

async function standInRun(): Promise<Awaited<ReturnType<typeof measure>>> {
  const rcl = new FakeRcl({ clock: 'real' });
  const node = new rcl.Node('daydrive');
  let onCommand: (msg: AckermannDriveStampedMsg) => void = () => {};
  let seen = 0;
  // The stand-in records publishes: a 1 ms poll hands new commands to the subscriber side.
  const poll = setInterval(() => {
    const published = node.published<AckermannDriveStampedMsg>('ackermann_cmd');
    for (; seen < published.length; seen++) onCommand(published[seen]!);
  }, 1);
  return measure(rcl, node, {
    publishImage: (m) => node.deliver('camera/image_raw', m),
    publishOdometry: (m) => node.deliver('odom', m),
    publishDriver: (m) => node.deliver('safety_driver/has_control', m),
    onCommand: (cb) => (onCommand = cb),
    now: () => node.now().nanoseconds,
    close: () => {
      clearInterval(poll);
      node.destroy();
    },
  });
}

const standIn = process.env.ROS_DDS_BENCH_DEBUG === '1' ? { latenciesMs: [0], commandsPerS: 0 } : await standInRun();
const loadStandIn = loadavg()[0]!;
const real = await realRun();
const loadReal = loadavg()[0]!;
const sReal = [...real.latenciesMs].sort((a, b) => a - b);
const sStand = [...standIn.latenciesMs].sort((a, b) => a - b);
await printReport(
  'ros-dds',
  [
    figure(
      'camera in -> command out through DDS on loopback, p99 (640x480 rgb8, policy_trigger frame, no learner)',
      p(sReal, 0.99),
      'ms',
      { name: 'goal', value: GOAL_P99_MS },
      false,
      `p50 ${p(sReal, 0.5)} ms over ${sReal.length} commands`,
    ),
    figure(
      'the same on the in-process stand-in, p99',
      p(sStand, 0.99),
      'ms',
      { name: 'goal', value: GOAL_P99_MS },
      false,
      `p50 ${p(sStand, 0.5)} ms over ${sStand.length} commands (stand-in delivery polled every 1 ms)`,
    ),
    figure(
      'commands per second through DDS',
      roundTo(real.commandsPerS, 2),
      '1/s',
      { name: 'policy rate', value: 10 },
      true,
    ),
  ],
  { runS: RUN_S, loadAverage1m: { standIn: loadStandIn, real: loadReal } },
);
process.exit(0);
