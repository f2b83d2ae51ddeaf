import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { parseTrainConfig } from '../../src/jobs/train-config.js';
import { trainedAgainstZero } from '../helpers/unseen-roads.js';
import { runDistributedTraining } from '../../src/transport/distributed-training.js';

/**
 * `daydrive train --actors 2` learns: two simulator actor processes (noise x1 and x0.4, roads of
 * their own) feed one learner process; this process drives the tests. With the defaults (six passed
 * tests in a row to stop) and seed 0, within 24 learning episodes the policy must pass a test and
 * beat the zero policy (straight ahead) twice over on two 250 m roads no episode drove, the safety
 * driver resetting the car after each disengagement as in `daydrive eval`. The actors run
 * asynchronously, so a run is not reproducible bit for bit. Eight runs of this test on 2026-12-05:
 * five drove both roads clean (23x the zero policy's 21.7 m), three drove 3.3-5.8x, and a CI run
 * 2.9x, which failed the test when it asked for 3x. With a stop of two passes a weak policy got
 * through once (17 m against 22), so the test trains to the default stop and checks the policy.
 * With each actor's training roads balanced over looks (the default since 2026-12-06), three runs
 * drove 11.5x, 23x and 23x the zero policy.
 */
const cli = ['--import', 'tsx', 'src/cli/main.ts'];
const run = promisify(execFile);

test(
  'daydrive train --actors 2 learns to keep the lane (seed 0): passes its tests and beats the zero policy on unseen roads',
  { timeout: 900_000 },
  async (t) => {
    const config = parseTrainConfig({ seed: 0, schedule: { maxEpisodes: 24 } }, 'actors learning test config');
    const out = await mkdtemp(join(tmpdir(), 'daydrive-actors-'));
    try {
      const summary = await runDistributedTraining({ config, out, resume: false, actors: 2 });
      const { trained, zero } = await trainedAgainstZero(out, config);
      const detail = `trained ${trained.toFixed(1)} m vs zero policy ${zero.toFixed(1)} m per disengagement; run: ${JSON.stringify(summary)}`;
      t.diagnostic(detail);
      assert.equal(summary.actors, 2);
      assert.equal(summary.droppedMessages, 0);
      assert.ok(summary.firstPassEpisodes !== null, `no test drive passed within 24 episodes; ${detail}`);
      assert.ok(trained >= 2 * zero, detail);
      // Both actors' episodes reached the learner (each actor's first is an exploration episode).
      const lines = (await readFile(join(out, 'metrics.jsonl'), 'utf8'))
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { mode: string });
      assert.equal(lines.filter((r) => r.mode === 'explore').length, 2);
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  },
);

test('daydrive train --actors: a non-loopback learner endpoint without --curve-keys is refused with a one-line error, before anything starts', async () => {
  const out = await mkdtemp(join(tmpdir(), 'daydrive-actors-cli-'));
  try {
    for (const args of [
      ['--actors', '2', '--learner-endpoints', 'tcp://0.0.0.0:5755,tcp://0.0.0.0:5756'],
      ['--learner-endpoints', 'tcp://127.0.0.1:5755,tcp://127.0.0.1:5756'],
      ['--actors', '2', '--learner-endpoints', 'tcp://127.0.0.1:5755'],
    ]) {
      const err = (await run(process.execPath, [...cli, 'train', '--out', join(out, 'run'), ...args], {
        env: { ...process.env, DAYDRIVE_LOG_LEVEL: 'warn' },
      }).then(
        () => assert.fail('accepted'),
        (e: unknown) => e,
      )) as { code: number; stderr: string };
      assert.equal(err.code, 2, err.stderr);
      const lines = err.stderr.trim().split('\n');
      assert.equal(lines.length, 1, err.stderr);
      assert.match(lines[0]!, /CURVE|need --actors|two endpoints/);
    }
  } finally {
    await rm(out, { recursive: true, force: true });
  }
});

test(
  'train --actors: a learner process killed mid-run is restarted, resumes from its checkpoint, and the run finishes with every learning episode recorded once',
  { timeout: 600_000 },
  async () => {
    const config = parseTrainConfig(
      {
        seed: 3,
        agent: { optimisationSteps: 300 },
        learner: { batchSize: 16 },
        schedule: { maxEpisodes: 5, testEvery: 2, stopWhenTestCompletesRoute: false },
        sim: { road: { routeLengthM: 60 } },
      },
      'learner restart test config',
    );
    const out = await mkdtemp(join(tmpdir(), 'daydrive-actors-restart-'));
    const pids: number[] = [];
    let killed = false;
    try {
      const summary = await runDistributedTraining({
        config,
        out,
        resume: false,
        actors: 2,
        onLearnerProcess: (pid) => pids.push(pid),
        onEpisode: (r) => {
          // Kill it once, right after it reported its first learning episode (it is optimising or checkpointing the next).
          if (!killed && r.mode !== 'test') {
            killed = true;
            process.kill(pids[0]!, 'SIGKILL');
          }
        },
      });
      assert.ok(killed);
      assert.equal(pids.length, 2, 'one restart');
      const lines = (await readFile(join(out, 'metrics.jsonl'), 'utf8'))
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { mode: string; learningEpisodes: number });
      const learning = lines.filter((r) => r.mode !== 'test').map((r) => r.learningEpisodes);
      // Every learning episode the learner counted has one record: none lost to the kill, none twice.
      assert.deepEqual(
        [...learning].sort((a, b) => a - b),
        Array.from({ length: summary.learningEpisodes }, (_, i) => i + 1),
        JSON.stringify(learning),
      );
      assert.ok(summary.learningEpisodes >= config.schedule.maxEpisodes);
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  },
);
