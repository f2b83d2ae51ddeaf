import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { runGym } from '../../src/jobs/gym.js';

/**
 * The short learning check: DDPG with `daydrive gym`'s Pendulum settings (batch 128, 5,000 steps)
 * must clearly beat its own untrained policy on the same evaluation episodes. Fixed seed; the
 * untrained policy scores about -1250 here, this run about -330 (4,000 updates; -170 after 6,000),
 * a broken learner stays below -1000. The benchmark (bench/rl-learning.bench.ts) runs the full
 * 20,000 steps for DDPG, TD3 and D4PG over 3 seeds.
 */
test('DDPG clearly improves Pendulum-v1 in 5,000 steps (seed 0)', async () => {
  const { report } = await runGym({
    task: 'pendulum',
    algo: 'ddpg',
    steps: 5000,
    seed: 0,
    file: { learningStarts: 1000, evalEvery: 1000, evalEpisodes: 5, learner: { batchSize: 128 } },
  });
  const untrained = report.evaluations[0];
  assert.equal(untrained?.step, 1000, 'the first evaluation comes before the first update');
  const trained = report.final.meanReturn;
  assert.equal(report.skippedUpdates, 0);
  assert.ok(
    trained > -700 && trained > (untrained?.meanReturn ?? 0) + 400,
    `evaluation return ${trained.toFixed(0)} after 5,000 steps vs ${untrained?.meanReturn.toFixed(0)} untrained: ${report.evaluations.map((e) => e.meanReturn.toFixed(0)).join(', ')}`,
  );
});
