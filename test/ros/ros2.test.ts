/**
 * `daydrive drive` in its own process under a real ROS 2 (rcl, Cyclone DDS on loopback), driven
 * through rclnodejs from this test, as ros2 run starts it (`--ros-args -r __ns:=...`): raw frames,
 * odometry and the safety driver's heartbeat in, a task command on the node's topic, Ackermann
 * commands out under the namespace; the driver's intervention stops the commands; SIGINT while
 * the driver has the car ends the node without a command and with exit status 0. Skipped with the
 * reason where ROS 2 is missing (not under CI=true: see real-ros.ts).
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { access, mkdir, mkdtemp, readFile, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { MSG } from '../../src/ros/messages.js';
import type {
  AckermannDriveStampedMsg,
  BoolMsg,
  ImageMsg,
  OdometryMsg,
  StringMsg,
} from '../../src/ros/rclnodejs-types.js';
import { odometryMsg, rawImageMsg, testImage } from './helpers.js';
import { realRcl, rosTest, sleep, uniqueNamespace, type RealNode } from './real-ros.js';

const repo = new URL('../../', import.meta.url).pathname;

rosTest(
  'daydrive drive under ROS 2: drives on frames, stops sending at an intervention, exit 0 on SIGINT without a command while the driver has the car',
  async () => {
    const rcl = await realRcl();
    const ns = uniqueNamespace('cli');
    const node = new rcl.Node('daydrive_test', ns) as RealNode;
    const dir = await mkdtemp(join(tmpdir(), 'daydrive-ros2-'));
    const config = join(dir, 'agent.yaml');
    await writeFile(config, 'agent:\n  state: pixels\n  pixels: {widthPx: 16, heightPx: 16}\n  exploreEpisodes: 0\n');
    const params = join(dir, 'params.yaml');
    // Keyed by the node's full name, as `ros2 param dump` writes it.
    await writeFile(
      params,
      `${ns}/daydrive:\n  ros__parameters:\n    config_file: ${config}\n    policy_rate_hz: 10\n`,
    );
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        join(repo, 'src/cli/main.ts'),
        'drive',
        '--params',
        params,
        '--ros-args',
        '-r',
        `__ns:=${ns}`,
      ],
      {
        stdio: ['ignore', 'inherit', 'inherit'],
      },
    );
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));

    const received: AckermannDriveStampedMsg[] = [];
    node.createSubscription<AckermannDriveStampedMsg>(MSG.ackermannStamped, `${ns}/ackermann_cmd`, {}, (m) =>
      received.push(m),
    );
    const camera = node.createPublisher<ImageMsg>(MSG.image, `${ns}/camera/image_raw`, {
      qos: rcl.QoS.profileSensorData,
    });
    const odom = node.createPublisher<OdometryMsg>(MSG.odometry, `${ns}/odom`, { qos: rcl.QoS.profileSensorData });
    const driver = node.createPublisher<BoolMsg>(MSG.bool, `${ns}/safety_driver/has_control`);
    const task = node.createPublisher<StringMsg>(MSG.string, `${ns}/daydrive/task`);
    node.spin();

    const frame = testImage(640, 480);
    let driverHasControl = false;
    const feed = setInterval(() => {
      const now = node.now().nanoseconds;
      camera.publish(rawImageMsg(frame, now));
      odom.publish(odometryMsg(1, now));
      driver.publish({ data: driverHasControl });
    }, 33);
    try {
      const deadline = Date.now() + 60_000;
      while (!received.some((c) => c.drive.speed > 0) && Date.now() < deadline) {
        task.publish({ data: 'train' });
        await sleep(500);
      }
      assert.ok(
        received.some((c) => c.drive.speed > 0),
        'no drive command within 60 s',
      );
      driverHasControl = true;
      await sleep(300);
      const afterIntervention = received.length;
      await sleep(1000);
      assert.equal(received.length, afterIntervention, 'commands after the intervention');
      child.kill('SIGINT');
      assert.equal(await exited, 0);
      await sleep(200);
      assert.equal(received.length, afterIntervention, 'a command at shutdown while the driver has the car');
    } finally {
      clearInterval(feed);
      child.kill('SIGKILL');
      node.destroy();
    }
  },
  120_000,
);

rosTest(
  'the launch package under colcon, symlinked into a workspace: the recorded root is the real checkout; lib/daydrive/drive exists',
  async () => {
    const ws = await mkdtemp(join(tmpdir(), 'daydrive-colcon-'));
    await mkdir(join(ws, 'src'));
    await symlink(join(repo, 'launch'), join(ws, 'src', 'daydrive'));
    await promisify(execFile)('colcon', ['build', '--packages-select', 'daydrive'], {
      cwd: ws,
      env: { ...process.env, PATH: `/usr/bin:${process.env.PATH ?? ''}` },
    });
    const root = (await readFile(join(ws, 'install/daydrive/share/daydrive/daydrive_root'), 'utf8')).trim();
    assert.equal(root, repo.replace(/\/$/, ''));
    await access(join(ws, 'install/daydrive/lib/daydrive/drive'), constants.X_OK);
    const script = await readFile(join(ws, 'install/daydrive/lib/daydrive/drive'), 'utf8');
    assert.match(script, new RegExp(`DAYDRIVE_HOME:-${root.replace(/[/.]/g, '\\$&')}`));
    assert.ok(
      (await readFile(join(ws, 'install/daydrive/share/daydrive/config/daydrive.params.yaml'), 'utf8')).includes(
        'ros__parameters',
      ),
    );
  },
  120_000,
);
