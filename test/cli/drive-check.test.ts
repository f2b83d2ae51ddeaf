import { strict as assert } from 'node:assert';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCli as daydrive } from '../helpers/cli.js';

/**
 * `daydrive drive --check`: the parameters and flags of the drive node are checked before
 * rclnodejs is loaded, so they are validated here, where ROS 2 is not installed. Each run is the
 * CLI in a child process (the exit code and stderr are the contract).
 */

const params = (body: string) => `/**:\n  ros__parameters:\n${body}`;

test('drive --check: the shipped parameters pass; -p overrides and a renamed node are understood; the JSON holds the values the node would use', async () => {
  const ok = await daydrive(['drive', '--check', '--params', 'launch/config/daydrive.params.yaml']);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /parameters OK/);
  const dir = await mkdtemp(join(tmpdir(), 'drive-check-'));
  const car = join(dir, 'car.yaml');
  await writeFile(
    car,
    'car:\n  ros__parameters:\n    max_speed_mps: 2.5\nother_node:\n  ros__parameters:\n    whatever: 1\n',
  );
  const r = await daydrive([
    'drive',
    '--check',
    '--ros-args',
    '-r',
    '__node:=car',
    '--params-file',
    car,
    '-p',
    'camera_topic:=/front/image_raw',
    '-p',
    'policy_rate_hz:=15',
    '--',
    '--json',
  ]);
  assert.equal(r.code, 0, r.stderr);
  const last = JSON.parse(r.stdout.trim().split('\n').pop()!) as {
    ok: boolean;
    params: { max_speed_mps: number; camera_topic: string; policy_rate_hz: number };
  };
  assert.equal(last.params.max_speed_mps, 2.5);
  assert.equal(last.params.camera_topic, '/front/image_raw');
  assert.equal(last.params.policy_rate_hz, 15, 'an integer given for a double parameter is the double it means');
});

test('drive: a bad parameter, a bad file or a mistyped flag is one line and exit 2, named before rclnodejs is looked for', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'drive-check-bad-'));
  const file = async (name: string, text: string) => {
    const path = join(dir, name);
    await writeFile(path, text);
    return path;
  };
  const badConfig = await file('agent.yaml', 'learner: { discount: 2 }\n');
  const cases: [string[], RegExp][] = [
    [
      ['--params', await file('neg.yaml', params('    max_speed_mps: -2.0\n'))],
      /invalid drive parameters .*field max_speed_mps: Too small/,
    ],
    [
      ['--params', await file('text.yaml', params('    max_speed_mps: fast\n'))],
      /invalid drive parameter max_speed_mps: expected a double, got "fast"/,
    ],
    [
      ['--params', await file('typo.yaml', params('    max_sped_mps: 3.0\n'))],
      /unknown parameter max_sped_mps \(did you mean max_speed_mps\?\)/,
    ],
    [['--params', await file('broken.yaml', '/**:\n  ros__parameters: [\n')], /broken\.yaml is not valid YAML/],
    [['--params', await file('flat.yaml', 'max_speed_mps: 2.0\n')], /flat\.yaml is not a ROS 2 parameters file/],
    [
      ['--params', await file('cfg.yaml', params(`    config_file: ${badConfig}\n`))],
      /config_file .*agent\.yaml: field learner\.discount/,
    ],
    [['--params', join(dir, 'missing.yaml')], /cannot read parameters .*missing\.yaml: no such file/],
    [['--parms', 'car.yaml'], /unknown option '--parms' \(Did you mean --params\?\)/],
    [['--ros-args', '-p', 'policy_rate_hz:=500.0'], /field policy_rate_hz: Too big/],
  ];
  // With --check and without: the node would start with the same check, before loading rclnodejs.
  const runs = cases.flatMap(([args, pattern]) => [
    { args: ['drive', '--check', ...args], pattern },
    { args: ['drive', ...args], pattern },
  ]);
  const results = await Promise.all(runs.map((c) => daydrive(c.args)));
  runs.forEach((c, i) => {
    const r = results[i]!;
    const what = c.args.join(' ');
    assert.equal(r.code, 2, `${what}: ${r.stderr}`);
    const lines = r.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 1, `${what}: one line: ${r.stderr}`);
    assert.match(lines[0]!, c.pattern, what);
    assert.doesNotMatch(lines[0]!, /rclnodejs/, what);
  });
});
