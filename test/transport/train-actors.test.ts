import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { agentPolicy, driveRoute, zeroPolicy } from '../../src/agent/evaluation.js';
import { readCheckpoint } from '../../src/cli/run-dir.js';
import { parseTrainConfig } from '../../src/cli/train-config.js';
import { buildAgent, loadEncoderFor, simEnvFor } from '../../src/cli/train.js';
import { runDistributedTraining } from '../../src/transport/distributed-training.js';

/**
 * `daydrive train --actors 2` learns: two simulator actor processes (noise x1 and x0.4, roads of
 * their own) feed one learner process; this process drives the tests. With the defaults and
 * seed 0 but two passed tests to stop (the budget CI affords), the run must pass its tests and
 * its policy beat the zero policy (straight ahead) on two 250 m roads no episode drove, the
 * safety driver resetting the car after each disengagement as in `daydrive eval`.
 */
const UNSEEN_ROADS = [1_000_000, 1_000_001];
const cli = ['--import', 'tsx', 'src/cli/main.ts'];
const run = promisify(execFile);

test('daydrive train --actors 2 learns to keep the lane (seed 0): passes its tests and beats the zero policy on unseen roads', { timeout: 900_000 }, async (t) => {
  const config = parseTrainConfig({ seed: 0, schedule: { maxEpisodes: 16, testsToPass: 2 } }, 'actors learning test config');
  const out = await mkdtemp(join(tmpdir(), 'daydrive-actors-'));
  try {
    const summary = await runDistributedTraining({ config, out, resume: false, actors: 2 });
    const encoder = await loadEncoderFor(config);
    const agent = buildAgent(config, encoder);
    try {
      await readCheckpoint(out, agent);
      const env = simEnvFor(config, 1);
      const metresPerDisengagement = async (policy: Parameters<typeof driveRoute>[1]) => {
        let distanceM = 0;
        let disengagements = 0;
        for (const road of UNSEEN_ROADS) {
          const route = await driveRoute(env, policy, road, 40);
          distanceM += route.distanceM;
          disengagements += route.disengagements;
        }
        return distanceM / Math.max(1, disengagements);
      };
      const trained = await metresPerDisengagement(agentPolicy(agent));
      const zero = await metresPerDisengagement(zeroPolicy(config.agent));
      const detail = `trained ${trained.toFixed(1)} m vs zero policy ${zero.toFixed(1)} m per disengagement; run: ${JSON.stringify(summary)}`;
      t.diagnostic(detail);
      assert.equal(summary.actors, 2);
      assert.equal(summary.droppedMessages, 0);
      assert.ok(summary.solved, `the run did not pass its tests within 16 episodes; ${detail}`);
      assert.ok(trained >= 3 * zero, detail);
      // Both actors' episodes reached the learner (each actor's first is an exploration episode).
      const lines = (await readFile(join(out, 'metrics.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { mode: string });
      assert.equal(lines.filter((r) => r.mode === 'explore').length, 2);
    } finally {
      agent.dispose();
      encoder?.dispose();
    }
  } finally {
    await rm(out, { recursive: true, force: true });
  }
});

test('daydrive train --actors: a non-loopback learner endpoint without --curve-keys is refused with a one-line error, before anything starts', async () => {
  const out = await mkdtemp(join(tmpdir(), 'daydrive-actors-cli-'));
  try {
    for (const args of [
      ['--actors', '2', '--learner-endpoints', 'tcp://0.0.0.0:5755,tcp://0.0.0.0:5756'],
      ['--learner-endpoints', 'tcp://127.0.0.1:5755,tcp://127.0.0.1:5756'],
      ['--actors', '2', '--learner-endpoints', 'tcp://127.0.0.1:5755'],
    ]) {
      const err = (await run(process.execPath, [...cli, 'train', '--out', join(out, 'run'), ...args], { env: { ...process.env, DAYDRIVE_LOG_LEVEL: 'warn' } }).then(
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
