import { strict as assert } from 'node:assert';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { CLI as cli, run } from '../helpers/cli.js';

const env = { ...process.env, DAYDRIVE_LOG_LEVEL: 'warn' };

test('gym: a short run prints evaluation returns as one JSON line and writes a checkpoint', async () => {
  const out = join(await mkdtemp(join(tmpdir(), 'gymcli-')), 'run');
  const config = `${out}-config.json`;
  await writeFile(config, JSON.stringify({ learningStarts: 100, evalEpisodes: 2, learner: { batchSize: 16 } }));
  const { stdout } = await run(
    process.execPath,
    [
      ...cli,
      'gym',
      'pendulum',
      '--algo',
      'd4pg',
      '--steps',
      '300',
      '--seed',
      '3',
      '--config',
      config,
      '--out',
      out,
      '--json',
    ],
    { env },
  );
  const last = JSON.parse(stdout.trim().split('\n').pop() as string) as Record<string, unknown>;
  assert.equal(last.ok, true);
  assert.equal(last.env, 'pendulum');
  assert.equal(last.algo, 'd4pg');
  assert.equal(last.steps, 300);
  assert.equal(last.episodes, 1);
  assert.equal(last.evalEpisodes, 2);
  assert.equal(last.updates, 200);
  assert.ok(Number.isFinite(last.evalMeanReturn) && (last.evalMeanReturn as number) < 0);
  const report = JSON.parse(await readFile(join(out, 'report.json'), 'utf8')) as { final: { meanReturn: number } };
  assert.equal(report.final.meanReturn, last.evalMeanReturn);
  const learner = JSON.parse(await readFile(join(out, 'learner', 'learner.json'), 'utf8')) as {
    format: string;
    updates: number;
  };
  assert.deepEqual([learner.format, learner.updates], ['daydrive-learner-v1', 200]);
});

for (const [what, args, message] of [
  ['an unknown task', ['gym', 'cartpole'], /unknown env 'cartpole': use pendulum or mountaincar/],
  ['an unknown algorithm', ['gym', 'pendulum', '--algo', 'sac'], /argument 'sac' is invalid/],
  ['a bad step count', ['gym', 'pendulum', '--steps', '0'], /0 is outside \[1, /],
  ['a bad config value', ['gym', 'pendulum', '--steps', '10', '--config', 'BAD_CONFIG'], /discount/],
] as const) {
  test(`gym: ${what} is a one-line error and a non-zero exit`, async () => {
    const badConfig = join(await mkdtemp(join(tmpdir(), 'gymcli-bad-')), 'bad.json');
    await writeFile(badConfig, JSON.stringify({ learner: { discount: 2 } }));
    const argv = args.map((a) => (a === 'BAD_CONFIG' ? badConfig : a));
    await assert.rejects(
      run(process.execPath, [...cli, ...argv, '--json'], { env }),
      (e: { code: number; stderr: string; stdout: string }) => {
        assert.notEqual(e.code, 0);
        assert.match(e.stderr, message);
        assert.equal(e.stderr.trim().split('\n').length, 1, `one line: ${e.stderr}`);
        return true;
      },
    );
  });
}

test('gym --out: a non-empty directory of other files is refused before training and left as it was', async () => {
  const out = await mkdtemp(join(tmpdir(), 'gymcli-out-'));
  await writeFile(join(out, 'results.csv'), 'mine');
  await assert.rejects(
    run(process.execPath, [...cli, 'gym', 'pendulum', '--steps', '100000', '--out', out], { env }),
    (e: { code: number; stderr: string }) => {
      assert.equal(e.code, 2);
      assert.match(e.stderr, /is not empty and holds files `daydrive gym` did not write \(results\.csv\).*--force/);
      return true;
    },
  );
  assert.equal(await readFile(join(out, 'results.csv'), 'utf8'), 'mine');
});
