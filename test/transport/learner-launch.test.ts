/**
 * The launch file's learner (launch/launch/daydrive.launch.py): evaluated by python3 with the
 * `launch` / `launch_ros` classes replaced by recorders (test/transport/fixtures/launch_actions.py;
 * no ROS 2 launch is installed on our machines), for each learner_mode: what the node is given,
 * whether `daydrive learner` is started and with which command line, and what happens when it
 * exits. The command line it builds is then run as `daydrive learner` (it must start and stop).
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { DEFAULT_LEARNER_ENDPOINTS } from '../../src/transport/endpoint.js';
import { CLI } from '../helpers/cli.js';
import { until } from './helpers.js';

const run = promisify(execFile);
const repo = resolve(import.meta.dirname, '../..');
const LAUNCH_FILE = join(repo, 'launch/launch/daydrive.launch.py');
const EVALUATE = join(repo, 'test/transport/fixtures/launch_actions.py');

interface Action {
  readonly kind: string;
  readonly [key: string]: unknown;
}
interface Evaluated {
  readonly error?: string;
  readonly defaults: Record<string, string>;
  readonly actions: Action[];
}

async function python(): Promise<string | null> {
  for (const exe of ['python3', 'python']) {
    try {
      const { stdout } = await run(exe, ['-c', 'import sys; print(sys.version_info[0])']);
      if (stdout.trim() === '3') return exe;
    } catch {
      // not this one
    }
  }
  return null;
}

test('the launch file: learner_mode unset changes nothing; external also starts `daydrive learner` (restarted when it dies, not after exit 2); the command it builds runs', async (t) => {
  const py = await python();
  if (py === null) {
    t.skip('no python3 on this machine');
    return;
  }
  const dir = await mkdtemp(join(tmpdir(), 'learner-launch-'));
  try {
    // A built daydrive (the launch file checks dist/src/cli/main.js), found through DAYDRIVE_HOME.
    const home = join(dir, 'daydrive');
    await mkdir(join(home, 'dist/src/cli'), { recursive: true });
    await writeFile(join(home, 'dist/src/cli/main.js'), '');
    const mainJs = join(home, 'dist/src/cli/main.js');
    const evaluate = async (args: Record<string, string>, env: Record<string, string> = { DAYDRIVE_HOME: home }) => {
      const { stdout } = await run(py, [EVALUATE, LAUNCH_FILE, JSON.stringify(args)], {
        env: { ...process.env, ...env },
      });
      return JSON.parse(stdout) as Evaluated;
    };
    const defaultParams = join(repo, 'launch/config/daydrive.params.yaml');
    const defaultEndpoints = `${DEFAULT_LEARNER_ENDPOINTS.uplink},${DEFAULT_LEARNER_ENDPOINTS.downlink}`;

    // Unset: the node alone, with the parameters file and use_sim_time only (as before).
    const plain = await evaluate({});
    assert.equal(plain.defaults.learner_mode, '');
    assert.equal(plain.defaults.learner_endpoints, defaultEndpoints, "the launch default is daydrive learner's");
    assert.deepEqual(
      plain.actions.map((a) => a.kind),
      ['Node'],
    );
    assert.deepEqual(plain.actions[0]!.parameters, [
      defaultParams,
      { use_sim_time: { LaunchConfiguration: 'use_sim_time' } },
    ]);
    assert.deepEqual(plain.actions[0]!.arguments, [mainJs, 'drive']);

    // child-process: only the node's learner_mode.
    const child = await evaluate({ learner_mode: 'child-process' });
    assert.deepEqual(
      child.actions.map((a) => a.kind),
      ['Node'],
    );
    assert.deepEqual((child.actions[0]!.parameters as unknown[])[1], {
      use_sim_time: { LaunchConfiguration: 'use_sim_time' },
      learner_mode: { ParameterValue: 'child-process', type: 'str' },
    });

    // external: the learner with the node's parameters file at the endpoints, and the node told where it is.
    const params = join(dir, 'car.params.yaml');
    await writeFile(params, `/**:\n  ros__parameters:\n    checkpoint_dir: ${join(dir, 'checkpoint')}\n`);
    const endpoints = 'tcp://127.0.0.1:*,tcp://127.0.0.1:*';
    const external = await evaluate({
      learner_mode: 'external',
      params_file: params,
      learner_endpoints: endpoints,
      ros_namespace: '/car',
    });
    assert.deepEqual(
      external.actions.map((a) => a.kind),
      ['ExecuteProcess', 'OnProcessExit', 'Node'],
    );
    const [learner, onExit, node] = external.actions as [Action, Action, Action];
    const cmd = learner.cmd as string[];
    assert.deepEqual(cmd, [
      'node',
      mainJs,
      'learner',
      '--params',
      params,
      '--endpoints',
      endpoints,
      '--ros-args',
      '-r',
      '__ns:=/car',
    ]);
    assert.equal(learner.cwd, home);
    assert.deepEqual((node.parameters as unknown[])[1], {
      use_sim_time: { LaunchConfiguration: 'use_sim_time' },
      learner_mode: { ParameterValue: 'external', type: 'str' },
      learner_endpoints: { ParameterValue: endpoints, type: 'str' },
    });
    const outcomes = onExit.outcomes as Record<string, Action[]>;
    assert.equal(onExit.target, 'daydrive_learner');
    assert.deepEqual(outcomes['exit 0'], [], 'a clean stop is not restarted');
    assert.deepEqual(outcomes['SIGKILL at shutdown'], [], 'nothing is started while launch shuts down');
    assert.deepEqual(
      outcomes['exit 2']!.map((a) => a.kind),
      ['LogInfo'],
      'bad settings: said, not restarted',
    );
    for (const died of ['exit 1', 'SIGKILL']) {
      const [said, timer] = outcomes[died]!;
      assert.equal(said!.kind, 'LogInfo');
      assert.equal(timer!.kind, 'TimerAction');
      assert.equal(timer!.period, 1.0);
      const again = timer!.actions as Action[];
      assert.deepEqual(
        again.map((a) => a.kind),
        ['ExecuteProcess', 'OnProcessExit'],
        `${died}: started again, supervised again`,
      );
      assert.deepEqual(again[0]!.cmd, cmd);
    }

    // Bad launch arguments and an unbuilt daydrive: launch's own error, one line.
    assert.match((await evaluate({ learner_mode: 'extrnal' })).error!, /learner_mode 'extrnal' is not one of/);
    assert.match(
      (await evaluate({ learner_mode: 'external' }, { DAYDRIVE_HOME: dir })).error!,
      /daydrive is not built at .*: run `npm ci && npm run build`/,
    );

    // The command line the launch file builds, run as `daydrive learner` (the sources in place of main.js).
    const proc = spawn(process.execPath, [...CLI, ...cmd.slice(2), '--', '--json'], {
      cwd: repo,
      env: { ...process.env, DAYDRIVE_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    proc.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    const exited = new Promise<number | null>((done) => proc.once('exit', (code) => done(code)));
    try {
      const ready = await until(
        () => {
          if (proc.exitCode !== null) throw new Error(`daydrive learner exited: ${stderr}`);
          const line = stdout.split('\n').find((l) => l.startsWith('{"event":"ready"'));
          return line ? (JSON.parse(line) as Record<string, unknown>) : undefined;
        },
        'the ready line',
        120_000,
      );
      assert.equal(ready.checkpointDir, join(dir, 'checkpoint', 'learner-process'));
      proc.kill('SIGINT');
      assert.equal(await exited, 0, stderr);
    } finally {
      proc.kill('SIGKILL');
      await exited;
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
