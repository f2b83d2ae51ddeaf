import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import {
  alive,
  cliEnv,
  daydrive,
  doneSeeds,
  finished,
  lastJson,
  readTrace,
  readTrialsOf,
  tempDir,
  TINY_SPACE,
  waitFor,
} from './helpers.js';
import { TestRedis } from './redis.js';

/**
 * Across machines, with a real Redis (Debian's redis-server, started here on 127.0.0.1 on a free
 * port): two workers share the trials, one is SIGKILLed mid-trial and the other finishes its
 * trial seed, no process is left behind, nothing is lost or counted twice; Redis restarted
 * mid-sweep (append-only file on) and the sweep completes; bad queue URLs are one-line errors.
 */
const hasRedis = (() => {
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

let redis: TestRedis;
let dir: string;
before(async () => {
  if (!hasRedis) return;
  dir = await tempDir('sweep-queue');
  redis = await TestRedis.start(dir);
});
after(async () => {
  if (hasRedis) await redis.down();
});

const sweepArgs = (out: string, trials: number, seeds: number) => [
  'sweep',
  '--space',
  TINY_SPACE,
  '--trials',
  String(trials),
  '--seeds',
  String(seeds),
  '--workers',
  '4',
  '--sampler',
  'random',
  '--pruner',
  'none',
  '--no-defaults',
  '--queue',
  redis.url,
  '--out',
  out,
  '--json',
];
const workerArgs = () => [
  'sweep',
  'worker',
  '--queue',
  redis.url,
  '--lock-ms',
  '2000',
  '--work-dir',
  join(dir, 'work'),
];

test(
  'two workers share the trials; one SIGKILLed mid-trial: its trial seed is finished by the other, no orphan, nothing lost or counted twice',
  { skip: !hasRedis && 'redis-server is not installed', timeout: 150_000 },
  async () => {
    const trace = join(dir, 'trace-kill.jsonl');
    const out = join(dir, 'kill');
    const a = daydrive(workerArgs(), cliEnv(trace));
    const b = daydrive(workerArgs(), cliEnv(trace));
    const bDone = finished(b);
    const coordinator = finished(daydrive(sweepArgs(out, 2, 2), cliEnv(trace)));
    const started = await waitFor(
      'worker A to start a trial seed',
      async () => (await readTrace(trace)).find((l) => l.ppid === a.pid),
      90_000,
    );
    a.kill('SIGKILL');
    // A's trial process notices its parent is gone and exits (it is in its own process group: the kill did not reach it).
    await waitFor("the killed worker's trial process to exit", async () => !alive(started.pid), 30_000);
    const result = await coordinator;
    assert.equal(result.code, 0, result.stderr);
    assert.equal((lastJson(result.stdout) as { done: number }).done, 2);
    const trials = await readTrialsOf(out);
    assert.deepEqual(doneSeeds(trials).sort(), ['0/0', '0/1', '1/0', '1/1']);
    // Counted once: one result per trial seed; the killed one was run again by B and recorded from B.
    const starts = await readTrace(trace);
    const killed = starts.filter((l) => l.trialId === started.trialId && l.seedIndex === started.seedIndex);
    assert.ok(killed.length >= 2 && killed.some((l) => l.ppid === b.pid), JSON.stringify(killed));
    assert.match(String(trials[started.trialId]!.seeds[started.seedIndex]!.worker), new RegExp(`:${b.pid}$`));
    // Both workers took trial seeds.
    assert.ok(starts.some((l) => l.ppid === b.pid) && starts.some((l) => l.ppid === a.pid));
    b.kill('SIGTERM');
    const bResult = await bDone;
    assert.equal(bResult.code, 0, bResult.stderr);
    for (const l of starts) assert.equal(alive(l.pid), false, `trial process ${l.pid} left running`);
  },
);

test(
  'Redis restarted mid-sweep (append-only file): the sweep completes; a bad configuration is a failed trial, not retried',
  { skip: !hasRedis && 'redis-server is not installed', timeout: 150_000 },
  async () => {
    const out = join(dir, 'restart');
    const worker = daydrive(workerArgs(), cliEnv());
    const workerDone = finished(worker);
    const coordinator = finished(daydrive(sweepArgs(out, 3, 1), cliEnv()));
    await waitFor('a finished trial seed', async () => doneSeeds(await readTrialsOf(out)).length >= 1, 90_000);
    await redis.down();
    await new Promise((r) => setTimeout(r, 1500));
    await redis.up();
    const result = await coordinator;
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(doneSeeds(await readTrialsOf(out)).sort(), ['0/0', '1/0', '2/0']);
    // A configuration at fault, found only by the worker: a failed trial with its reason, not retried.
    const badOut = join(dir, 'bad-config');
    const bad = await finished(
      daydrive(
        [
          'sweep',
          '--space',
          'test/sweep/fixtures/overlap-space.yaml',
          '--trials',
          '2',
          '--seeds',
          '2',
          '--pruner',
          'none',
          '--no-defaults',
          '--sampler',
          'lhs',
          '--queue',
          redis.url,
          '--out',
          badOut,
          '--json',
        ],
        cliEnv(),
      ),
    );
    assert.equal(bad.code, 0, bad.stderr);
    assert.deepEqual(lastJson(bad.stdout), { ...lastJson(bad.stdout), failed: 2, done: 0, best: null });
    for (const t of await readTrialsOf(badOut)) {
      assert.equal(t.state, 'failed');
      assert.match(
        String(t.reason),
        /^bad configuration: the training route 100000[01] \(routeSeed\) is in the evaluation roads' range \[1000000, 101000000\)$/,
      );
      assert.ok(!String(t.reason).includes('attempts'), 'not retried');
    }
    worker.kill('SIGTERM');
    assert.equal((await workerDone).code, 0);
  },
);

test(
  'queue errors are one line: unreachable Redis, a remote Redis without a password',
  { skip: !hasRedis && 'redis-server is not installed', timeout: 60_000 },
  async () => {
    const out = join(dir, 'bad');
    const unreachable = await finished(
      daydrive(['sweep', '--space', TINY_SPACE, '--queue', 'redis://127.0.0.1:1', '--out', out], cliEnv()),
    );
    assert.equal(unreachable.code, 2);
    assert.match(
      unreachable.stderr,
      /^daydrive: error: cannot reach Redis at redis:\/\/127\.0\.0\.1:1: ECONNREFUSED\n$/,
    );
    const open = await finished(daydrive(['sweep', 'worker', '--queue', 'redis://10.1.2.3:6379'], cliEnv()));
    assert.equal(open.code, 2);
    assert.match(
      open.stderr,
      /^daydrive: error: --queue redis:\/\/10\.1\.2\.3:6379: a Redis on another machine needs a password.*\n$/,
    );
  },
);
