/**
 * The drive node's parameters as a real rcl reads them (each case in its own rcl context, with
 * the arguments ros2 launch / ros2 run pass): params files keyed `/**`, `daydrive:`,
 * `/daydrive:` and under a namespace, `-p` overrides, an integer for a double, and a set request
 * through the parameter service (what `ros2 param set` sends), refused, never "successful" and
 * ignored. Skipped with the reason where ROS 2 is missing (not under CI=true: see real-ros.ts).
 */
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fullyQualifiedName } from '../../src/ros/messages.js';
import { resolveParameterOverrides } from '../../src/ros/param-overrides.js';
import { declareDriveParams, type DriveParams } from '../../src/ros/params.js';
import { RCL_PARAMETER_TYPE } from '../../src/ros/rclnodejs-types.js';
import { realRcl, rosTest, uniqueNamespace, type RealNode } from './real-ros.js';

/** rcl init with `rosArgs` in a fresh context, the node as runDrive makes it, its parameters. */
async function paramsUnder(rosArgs: string[]): Promise<{ params: DriveParams; fqn: string; rclnodejsOwn: unknown }> {
  const rcl = await realRcl();
  const context = new rcl.Context();
  await rcl.init(context, ['node', 'daydrive', '--ros-args', ...rosArgs]);
  try {
    const node = new rcl.Node('daydrive', '', context) as RealNode & {
      getParameterOverrides(): { name: string; value: unknown }[];
    };
    const fqn = fullyQualifiedName(node);
    // What rclnodejs itself would have applied (only `/**` and the bare node name).
    const rclnodejsOwn = Object.fromEntries(node.getParameterOverrides().map((p) => [p.name, p.value]));
    const params = declareDriveParams(rcl, node, await resolveParameterOverrides(rosArgs, fqn));
    node.destroy();
    return { params, fqn, rclnodejsOwn };
  } finally {
    context.shutdown();
  }
}

async function paramsFile(text: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'daydrive-ros2-params-'));
  const file = join(dir, 'params.yaml');
  await writeFile(file, text);
  return file;
}

rosTest(
  'params files keyed /**, daydrive:, /daydrive: and /car/daydrive reach the node; -p wins over the file; an integer for a double',
  async () => {
    const file = await paramsFile(
      [
        '/**:',
        '  ros__parameters:',
        '    policy_rate_hz: 15', // an integer to rcl
        'daydrive:',
        '  ros__parameters:',
        '    camera_topic: front/image_raw',
        '/daydrive:', // what `ros2 param dump` writes
        '  ros__parameters:',
        '    max_speed_mps: 2.0',
        '/car/daydrive:', // launch's PushRosNamespace('car')
        '  ros__parameters:',
        '    command_topic: cmd',
        '',
      ].join('\n'),
    );
    const root = await paramsUnder(['--params-file', file]);
    assert.equal(root.fqn, '/daydrive');
    assert.equal(root.params.policy_rate_hz, 15);
    assert.equal(root.params.camera_topic, 'front/image_raw');
    assert.equal(root.params.max_speed_mps, 2);
    assert.equal(root.params.command_topic, 'ackermann_cmd', '/car/daydrive is not this node');
    // rclnodejs alone would drop /daydrive's entry (and refuse the integer for the double).
    assert.equal((root.rclnodejsOwn as Record<string, unknown>).max_speed_mps, undefined);
    assert.equal(typeof (root.rclnodejsOwn as Record<string, unknown>).policy_rate_hz, 'bigint');

    const car = await paramsUnder([
      '-r',
      '__ns:=/car',
      '--params-file',
      file,
      '-p',
      'policy_rate_hz:=20',
      '-p',
      'daydrive:max_steering_rad:=0.3',
    ]);
    assert.equal(car.fqn, '/car/daydrive');
    assert.equal(car.params.command_topic, 'cmd');
    assert.equal(car.params.policy_rate_hz, 20);
    assert.equal(
      car.params.max_steering_rad,
      0.45,
      "a -p rule for the node daydrive (= /daydrive) is not /car/daydrive's",
    );
    assert.equal(car.params.max_speed_mps, 10 / 3.6, '/daydrive is not /car/daydrive');
  },
);

rosTest('a parameter of the wrong type is one error naming it', async () => {
  await assert.rejects(
    paramsUnder(['-p', 'max_speed_mps:=fast']),
    /invalid drive parameter max_speed_mps: expected a double, got "fast"/,
  );
  await assert.rejects(paramsUnder(['-p', 'camera_width_px:=640.5']), /camera_width_px: expected an integer/);
});

rosTest(
  'a set request through the parameter service (ros2 param set) is refused with the reason; the value stays',
  async () => {
    const rcl = await realRcl();
    const ns = uniqueNamespace('params');
    const node = new rcl.Node('daydrive', ns) as RealNode;
    declareDriveParams(rcl, node, new Map());
    node.spin();
    const client = new rcl.Node('param_client', ns) as RealNode;
    client.spin();
    try {
      const set = client.createClient<unknown, { results: { successful: boolean; reason: string }[] }>(
        'rcl_interfaces/srv/SetParameters',
        `${ns}/daydrive/set_parameters`,
      );
      assert.equal(await set.waitForService(5000), true, 'no set_parameters service');
      const response = await new Promise<{ results: { successful: boolean; reason: string }[] }>((resolve) =>
        set.sendRequest(
          { parameters: [{ name: 'policy_rate_hz', value: { type: RCL_PARAMETER_TYPE.double, double_value: 20.0 } }] },
          resolve,
        ),
      );
      assert.equal(response.results.length, 1);
      assert.equal(response.results[0]!.successful, false);
      assert.match(response.results[0]!.reason, /policy_rate_hz is readonly/);
      const get = client.createClient<unknown, { values: { type: number; double_value: number }[] }>(
        'rcl_interfaces/srv/GetParameters',
        `${ns}/daydrive/get_parameters`,
      );
      assert.equal(await get.waitForService(5000), true);
      const values = await new Promise<{ values: { double_value: number }[] }>((resolve) =>
        get.sendRequest({ names: ['policy_rate_hz'] }, resolve),
      );
      assert.equal(values.values[0]!.double_value, 10);
    } finally {
      client.destroy();
      node.destroy();
    }
  },
);
