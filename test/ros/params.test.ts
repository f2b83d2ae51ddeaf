/**
 * Parameters (declared with types, defaults and descriptions; overrides; clear errors), the
 * launch package (every parameter in the YAML with its default), `daydrive drive` without
 * rclnodejs, and the whole composition (runDrive) on the rclnodejs stand-in.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mock, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { rosArgsOf } from '../../src/cli/drive.js';
import { UserError } from '../../src/core/errors.js';
import { DEFAULT_DRIVE_PARAMS, DRIVE_PARAMETERS, DRIVE_PARAM_NAMES, declareDriveParams } from '../../src/ros/params.js';
import { nodeMatches, resolveParameterOverrides } from '../../src/ros/param-overrides.js';
import { RCL_PARAMETER_TYPE, type TriggerResponseMsg } from '../../src/ros/rclnodejs-types.js';
import { buildDriveAgent, runDrive } from '../../src/ros/run.js';
import { log } from '../../src/core/logger.js';
import { parseAgentConfig } from '../../src/agent/index.js';
import { FakeRcl } from './fake-rclnodejs.js';

const repo = new URL('../../', import.meta.url).pathname;

test('every parameter is declared with its ROS type, default and description, read-only', () => {
  const rcl = new FakeRcl();
  const node = new rcl.Node('daydrive');
  const params = declareDriveParams(rcl, node, new Map());
  assert.deepEqual(params, DEFAULT_DRIVE_PARAMS);
  assert.deepEqual([...node.declared.keys()], DRIVE_PARAM_NAMES);
  for (const [name, { parameter, descriptor }] of node.declared) {
    const spec = DRIVE_PARAMETERS[name as keyof typeof DRIVE_PARAMETERS];
    assert.equal(parameter.type, RCL_PARAMETER_TYPE[spec.kind], name);
    assert.equal(descriptor?.description, spec.description);
    assert.equal(descriptor?.readOnly, true, name);
    if (spec.kind === 'integer')
      assert.equal(typeof parameter.value, 'bigint', `${name}: rclnodejs integers are bigint`);
  }
  assert.equal(params.policy_rate_hz, 10);
  assert.equal(params.camera_type, 'sensor_msgs/msg/Image');
  // `ros2 param set` (the ~/set_parameters service, rclnodejs setParameters) is refused, not "successful" and ignored.
  assert.deepEqual(node.setParameters([new rcl.Parameter('policy_rate_hz', RCL_PARAMETER_TYPE.double, 20)]), [
    { successful: false, reason: 'Parameter policy_rate_hz is readonly' },
  ]);
  // Default topics are relative: under the node's namespace (__ns:=/car gives /car/ackermann_cmd).
  for (const name of ['camera_topic', 'speed_topic', 'safety_driver_topic', 'command_topic'] as const)
    assert.doesNotMatch(params[name], /^\//, name);
});

test('overrides apply; a bad value or type is one error naming the parameter', () => {
  const declare = (overrides: Record<string, unknown>) => {
    const rcl = new FakeRcl();
    return declareDriveParams(rcl, new rcl.Node('daydrive'), new Map(Object.entries(overrides)));
  };
  const p = declare({
    policy_rate_hz: 15.0,
    max_consecutive_bad_frames: 3,
    camera_type: 'sensor_msgs/msg/CompressedImage',
    task_services: false,
  });
  assert.equal(p.policy_rate_hz, 15);
  assert.equal(p.max_consecutive_bad_frames, 3);
  assert.equal(p.task_services, false);
  assert.throws(
    () => declare({ policy_rate_hz: 0.5 }),
    (e: Error) => e instanceof UserError && /field policy_rate_hz/.test(e.message),
  );
  assert.throws(() => declare({ camera_type: 'sensor_msgs/msg/PointCloud2' }), /field camera_type/);
  assert.throws(() => declare({ camera_width_px: 640 }), /camera_width_px and camera_height_px/);
  assert.throws(
    () => declare({ max_speed_mps: 'fast' }),
    /invalid drive parameter max_speed_mps: expected a double, got "fast"/,
  );
  assert.throws(
    () => declare({ camera_width_px: 640.5, camera_height_px: 480 }),
    /camera_width_px: expected an integer/,
  );
  // An integer for a double (`policy_rate_hz: 15`, `-p policy_rate_hz:=15`) is the double it means.
  assert.equal(declare({ policy_rate_hz: 15 }).policy_rate_hz, 15);
});

test('the stand-in refuses an integer for a double as rclnodejs does; the node declares its own resolved values', () => {
  // rclnodejs 2.2 applies its own override unless ignoreOverride, and refuses the type mismatch.
  const rcl = new FakeRcl({ overrides: { policy_rate_hz: 15 } });
  const node = new rcl.Node('daydrive');
  assert.throws(
    () => node.declareParameter(new rcl.Parameter('policy_rate_hz', RCL_PARAMETER_TYPE.double, 10), undefined),
    /Parameter policy_rate_hz does not {2}readonly/,
  );
  const other = new rcl.Node('daydrive');
  assert.equal(declareDriveParams(rcl, other, new Map([['policy_rate_hz', 15]])).policy_rate_hz, 15);
});

test('params files and -p rules as rcl and rclcpp apply them: /**, daydrive, /daydrive, namespaces, wildcards, later wins', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'daydrive-params-'));
  const file = join(dir, 'p.yaml');
  await writeFile(
    file,
    [
      '/**:',
      '  ros__parameters: {policy_rate_hz: 5, camera_topic: all}',
      'daydrive:',
      '  ros__parameters: {camera_topic: bare}',
      '/daydrive:',
      '  ros__parameters: {status_rate_hz: 2.0}',
      '/car/daydrive:',
      '  ros__parameters: {command_topic: car_cmd}',
      '/*/daydrive:',
      '  ros__parameters: {command_frame_id: one_level}',
      '/other:',
      '  ros__parameters: {camera_topic: not_ours}',
      '',
    ].join('\n'),
  );
  const root = await resolveParameterOverrides(['--params-file', file], '/daydrive');
  assert.deepEqual(Object.fromEntries(root), { policy_rate_hz: 5, camera_topic: 'bare', status_rate_hz: 2 });
  const car = await resolveParameterOverrides(
    ['--params-file', file, '-p', 'policy_rate_hz:=15', '-p', 'other:camera_topic:=x'],
    '/car/daydrive',
  );
  assert.deepEqual(Object.fromEntries(car), {
    policy_rate_hz: 15,
    camera_topic: 'all',
    command_topic: 'car_cmd',
    command_frame_id: 'one_level',
  });
  // A -p before the file is overridden by it (rcl's order).
  assert.equal(
    (await resolveParameterOverrides(['-p', 'policy_rate_hz:=20.0', '--params-file', file], '/daydrive')).get(
      'policy_rate_hz',
    ),
    5,
  );
  assert.equal(nodeMatches('/**', '/a/b/daydrive'), true);
  assert.equal(nodeMatches('/*', '/a/daydrive'), false);
  await writeFile(file, '/**:\n  policy_rate_hz: 5\n');
  await assert.rejects(
    resolveParameterOverrides(['--params-file', file], '/daydrive'),
    /'\/\*\*' has no ros__parameters mapping/,
  );
});

test('launch/config/daydrive.params.yaml lists every parameter with its default; doubles keep a decimal point', async () => {
  const text = await readFile(join(repo, 'launch/config/daydrive.params.yaml'), 'utf8');
  const yaml = parseYaml(text) as Record<string, { ros__parameters: Record<string, unknown> }>;
  const values = yaml['/**']!.ros__parameters;
  assert.deepEqual(Object.keys(values).sort(), [...DRIVE_PARAM_NAMES].sort());
  for (const name of DRIVE_PARAM_NAMES) {
    assert.deepEqual(values[name], DEFAULT_DRIVE_PARAMS[name], name);
    const line = text.split('\n').find((l) => l.trimStart().startsWith(`${name}:`))!;
    // rcl reads `10` as an integer, which a double parameter refuses.
    if (DRIVE_PARAMETERS[name].kind === 'double') assert.match(line, /:\s*-?\d+\.\d+\s*$/, line);
    const index = text.split('\n').indexOf(line);
    assert.match(text.split('\n')[index - 1]!, /^\s+#/, `${name} has no comment`);
  }
  const launch = await readFile(join(repo, 'launch/launch/daydrive.launch.py'), 'utf8');
  assert.match(launch, /daydrive\.params\.yaml/);
  assert.match(launch, /'drive'/);
  const manifest = await readFile(join(repo, 'launch/package.xml'), 'utf8');
  assert.match(manifest, /<name>daydrive<\/name>/);
  // rosdep must install Node.js (the node's runtime) and the message packages it uses.
  for (const dep of ['nodejs', 'sensor_msgs', 'ackermann_msgs', 'diagnostic_msgs', 'std_srvs', 'launch_ros'])
    assert.match(manifest, new RegExp(`<exec_depend>${dep}</exec_depend>`), dep);
});

test('ROS arguments after --ros-args go to rcl', () => {
  assert.deepEqual(
    rosArgsOf(['node', 'main.js', 'drive', '--ros-args', '-r', '__node:=car', '--params-file', 'p.yaml']),
    ['-r', '__node:=car', '--params-file', 'p.yaml'],
  );
  assert.deepEqual(rosArgsOf(['node', 'main.js', 'drive', '--ros-args', '-p', 'a:=1', '--', '--json']), ['-p', 'a:=1']);
  assert.deepEqual(rosArgsOf(['node', 'main.js', 'drive']), []);
});

test(
  'daydrive drive without rclnodejs: exit 2 and one line saying what to install and source',
  { skip: process.env.ROS_DISTRO ? 'ROS 2 is sourced here' : false },
  () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(repo, 'src/cli/main.ts'), 'drive', '--json'], {
      encoding: 'utf8',
      env: { ...process.env, DAYDRIVE_LOG_LEVEL: 'silent' },
    });
    assert.equal(r.status, 2);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, /rclnodejs is not installed.*source \/opt\/ros\/<distro>\/setup\.bash.*npm i rclnodejs/);
    assert.equal((JSON.parse(r.stdout.trim()) as { ok: boolean }).ok, false);
  },
);

test('runDrive composes rcl, parameters, agent and node; done ends it with speed 0', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'daydrive-ros-'));
  const config = join(dir, 'agent.yaml');
  // Pixel state: no VAE model needed; a `daydrive train` config's sim sections would be ignored.
  await writeFile(config, 'seed: 4\nagent:\n  state: pixels\n  pixels: {widthPx: 16, heightPx: 16}\nsim: {}\n');
  const paramsFile = join(dir, 'params.yaml');
  await writeFile(paramsFile, `/**:\n  ros__parameters:\n    config_file: ${config}\n`);
  const rcl = new FakeRcl();
  const run = runDrive({ rcl, rosArgs: ['-r', '__node:=car'], paramsFile });
  while (!rcl.nodes[0]?.services.has('~/done')) await new Promise((r) => setTimeout(r, 10));
  const node = rcl.nodes[0];
  assert.deepEqual(rcl.initArgv?.slice(2), ['--ros-args', '-r', '__node:=car', '--params-file', paramsFile]);
  // Signals taken over from rclnodejs before rcl init (and once more after it).
  assert.deepEqual(rcl.calls.slice(0, 3), ['removeSignalHandlers', 'init', 'removeSignalHandlers']);
  assert.equal(node.spinning, true);
  assert.equal(node.call<TriggerResponseMsg>('~/done').success, true);
  const summary = await run;
  assert.equal(summary.endedBy, 'done');
  assert.equal(summary.params?.config_file, config);
  const commands = node.published<{ drive: { speed: number } }>(summary.params!.command_topic);
  assert.equal(commands.at(-1)?.drive.speed, 0);
  assert.equal(node.destroyed, true);
  // The final speed-0 command had shutdown_flush_s (0.1 s) to leave before the node was destroyed.
  assert.ok(
    node.destroyedAtMs! - node.publishedAtMs.at(-1)! >= 95,
    `destroyed ${node.destroyedAtMs! - node.publishedAtMs.at(-1)!} ms after the last publish`,
  );
  assert.equal(rcl.isShutdown(), true);
});

test('the drive node loads the VAE with what its parameters know: a camera of another aspect ratio is warned about', async (t) => {
  const warnings: string[] = [];
  mock.method(log, 'warn', (_fields: unknown, message?: string) => {
    if (typeof message === 'string') warnings.push(message);
  });
  t.after(() => mock.restoreAll());
  // The shipped VAE (models/vae-sim) was trained on 160x120 frames (4:3).
  for (const [w, h, warned] of [
    [640, 480, false],
    [640, 360, true],
  ] as const) {
    warnings.length = 0;
    const rcl = new FakeRcl();
    const params = declareDriveParams(
      rcl,
      new rcl.Node('daydrive'),
      new Map([
        ['camera_width_px', w],
        ['camera_height_px', h],
      ]),
    );
    const parts = await buildDriveAgent(params);
    try {
      assert.equal(
        warnings.some((m) => m.includes(`${w}x${h}`) && /trained on 160x120/.test(m)),
        warned,
        warnings.join('\n'),
      );
      // The agent runs the configured updates itself (its learner yields in time slices).
      assert.equal(parts.agent.config.optimisationSteps, parseAgentConfig({}).optimisationSteps);
    } finally {
      parts.agent.dispose();
      parts.encoder?.dispose();
    }
  }
});
