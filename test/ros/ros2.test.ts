/**
 * With a real ROS 2 (run where ROS_DISTRO is set, rclnodejs is installed and ackermann_msgs and
 * diagnostic_msgs are available): `daydrive drive` in its own process, driven through rclnodejs
 * from this test: JPEG frames, odometry and the safety driver in, a task command on the topic,
 * Ackermann commands out; the driver's intervention stops the commands; SIGINT ends the node
 * with a speed-0 command. Elsewhere every test here is skipped with the reason.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadRclnodejs } from '../../src/ros/load.js';
import { MSG } from '../../src/ros/messages.js';
import type { AckermannDriveStampedMsg, BoolMsg, CompressedImageMsg, OdometryMsg, StringMsg } from '../../src/ros/rclnodejs-types.js';
import { compressedMsg, jpegBytes, odometryMsg, testImage } from './helpers.js';

const skip = process.env.ROS_DISTRO ? false : 'needs a sourced ROS 2 (ROS_DISTRO is not set) and rclnodejs; runs on the vehicle team machines';
const repo = new URL('../../', import.meta.url).pathname;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test('daydrive drive under ROS 2: drives on frames, stops sending at an intervention, speed 0 on SIGINT', { skip, timeout: 120_000 }, async () => {
  const rcl = await loadRclnodejs();
  await rcl.init();
  const node = new rcl.Node('daydrive_test');
  const dir = await mkdtemp(join(tmpdir(), 'daydrive-ros2-'));
  const config = join(dir, 'agent.yaml');
  await writeFile(config, 'agent:\n  state: pixels\n  pixels: {widthPx: 16, heightPx: 16}\n  exploreEpisodes: 0\n');
  const params = join(dir, 'params.yaml');
  await writeFile(
    params,
    [
      '/**:',
      '  ros__parameters:',
      '    camera_type: sensor_msgs/msg/CompressedImage',
      '    camera_topic: /daydrive_test/image/compressed',
      '    speed_topic: /daydrive_test/odom',
      '    safety_driver_topic: /daydrive_test/driver',
      '    command_topic: /daydrive_test/ackermann_cmd',
      `    config_file: ${config}`,
      '',
    ].join('\n'),
  );
  const child = spawn(process.execPath, ['--import', 'tsx', join(repo, 'src/cli/main.ts'), 'drive', '--params', params], { stdio: ['ignore', 'inherit', 'inherit'] });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));

  const received: AckermannDriveStampedMsg[] = [];
  node.createSubscription<AckermannDriveStampedMsg>(MSG.ackermannStamped, '/daydrive_test/ackermann_cmd', {}, (m) => received.push(m));
  const camera = node.createPublisher<CompressedImageMsg>(MSG.compressedImage, '/daydrive_test/image/compressed', { qos: rcl.QoS.profileSensorData });
  const odom = node.createPublisher<OdometryMsg>(MSG.odometry, '/daydrive_test/odom', { qos: rcl.QoS.profileSensorData });
  const driver = node.createPublisher<BoolMsg>(MSG.bool, '/daydrive_test/driver');
  const task = node.createPublisher<StringMsg>(MSG.string, '/daydrive/task');
  node.spin();

  const jpeg = await jpegBytes(testImage(640, 480));
  const feed = setInterval(() => {
    const now = node.now().nanoseconds;
    camera.publish(compressedMsg(jpeg, now));
    odom.publish(odometryMsg(1, now));
  }, 33);
  try {
    const deadline = Date.now() + 60_000;
    while (!received.some((c) => c.drive.speed > 0) && Date.now() < deadline) {
      driver.publish({ data: false });
      task.publish({ data: 'train' });
      await sleep(500);
    }
    assert.ok(received.some((c) => c.drive.speed > 0), 'no drive command within 60 s');
    driver.publish({ data: true });
    await sleep(300);
    const afterIntervention = received.length;
    await sleep(1000);
    assert.equal(received.length, afterIntervention, 'drive commands after the intervention');
    child.kill('SIGINT');
    // 128 + SIGINT: the node caught the signal to stop the car, then exits as a signalled process reports.
    assert.equal(await exited, 130);
    await sleep(200);
    assert.equal(received.at(-1)?.drive.speed, 0);
  } finally {
    clearInterval(feed);
    child.kill('SIGKILL');
    node.destroy();
    rcl.shutdown();
  }
});
