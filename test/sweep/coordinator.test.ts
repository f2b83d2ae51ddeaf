import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { SweepCoordinator } from '../../src/sweep/coordinator.js';
import { EventQueue, type Executor, type ExecutorEvent } from '../../src/sweep/executor.js';
import type { SeedResult } from '../../src/sweep/objective.js';
import type { SweepMeta, SweepSettings } from '../../src/sweep/record.js';
import { parseSpace } from '../../src/sweep/space.js';
import type { SeedTask } from '../../src/sweep/trial-seed.js';
import { tempDir } from './helpers.js';

/**
 * The sweep loop with a stand-in executor that answers at once (no training): pruning with seeds
 * as the resource, results gathered once, failures recorded with their reason.
 */
const space = parseSpace(
  { parameters: { 'learner.tau': { uniform: [0, 1] } }, evaluation: { roads: 4 } },
  'space test',
);

/** Road i of a trial seed is clean when tau > i / 4 (tau decides how good a configuration is). */
function fakeResult(task: SeedTask): SeedResult {
  const tau = (task.config.learner as { tau: number }).tau;
  return {
    seed: task.config.seed as number,
    trainingEpisodes: 5,
    learningEpisodes: 5,
    solved: true,
    roads: task.roadSeeds.map((roadSeed, i) => ({
      roadSeed,
      distanceM: 250,
      disengagements: tau > i / 4 ? 0 : 1,
      completed: true,
    })),
    routeLengthM: 250,
    seconds: { startup: 0, train: 0, evaluate: 0, total: 0 },
    trainSeconds: { world: 0, agent: 0, optimise: 0 },
    worker: 'fake',
  } as SeedResult;
}

class FakeExecutor implements Executor {
  readonly description = 'fake';
  readonly submitted: string[] = [];
  private readonly events = new EventQueue<ExecutorEvent>();
  constructor(
    readonly capacity: number,
    private readonly answer: (task: SeedTask) => ExecutorEvent[],
  ) {}
  submit(task: SeedTask): void {
    this.submitted.push(`${task.trialId}/${task.seedIndex}`);
    for (const e of this.answer(task)) this.events.push(e);
  }
  next(): Promise<ExecutorEvent> {
    return this.events.next();
  }
  async close(): Promise<void> {}
}

function meta(settings: Partial<SweepSettings>): SweepMeta {
  return {
    id: 'test',
    command: [],
    gitRevision: null,
    createdAt: '',
    settings: {
      trials: 12,
      seeds: 3,
      sampler: 'random',
      pruner: 'asha',
      seed: 1,
      reductionFactor: 2,
      startupTrials: 3,
      includeDefaults: false,
      ...settings,
    },
  };
}

async function sweep(settings: Partial<SweepSettings>, answer: (task: SeedTask) => ExecutorEvent[]) {
  const dir = await tempDir('coordinator');
  const executor = new FakeExecutor(2, answer);
  const outcome = await new SweepCoordinator({
    dir,
    space,
    meta: meta(settings),
    trials: [],
    executor,
    roadSeeds: [1_000_000, 1_000_001, 1_000_002, 1_000_003],
    keepRuns: false,
    shouldStop: () => false,
    stopRequested: new Promise(() => {}),
  }).run();
  return { dir, executor, outcome };
}

test('the defaults are trial 0: every seed runs though ASHA would prune them, and the sampled trials still number --trials', async () => {
  // Default tau 0.005: every road but the first fails, the worst configuration of this space.
  const { outcome } = await sweep({ pruner: 'asha', includeDefaults: true }, (task) => [
    { kind: 'result', task, result: fakeResult(task) },
  ]);
  const [defaults, ...sampled] = outcome.trials;
  assert.equal(defaults?.reference, 'defaults');
  assert.deepEqual(defaults?.params, { 'learner.tau': 0.005 });
  assert.equal(defaults?.state, 'done');
  assert.equal(defaults?.seeds.filter((s) => s.state === 'done').length, 3);
  assert.equal(sampled.length, 12);
  assert.ok(sampled.every((t) => t.reference === undefined));
  assert.ok(
    sampled.some((t) => t.state === 'pruned'),
    'ASHA still prunes the sampled configurations',
  );
  assert.notEqual(outcome.best?.id, defaults?.id);
});

test('ASHA over seeds: weak configurations stop after one or two seeds, the best finishes all three and is best.yaml', async () => {
  const { dir, executor, outcome } = await sweep({ pruner: 'asha' }, (task) => [
    { kind: 'result', task, result: fakeResult(task) },
  ]);
  const pruned = outcome.trials.filter((t) => t.state === 'pruned');
  const done = outcome.trials.filter((t) => t.state === 'done');
  assert.equal(outcome.trials.length, 12);
  assert.ok(pruned.length >= 4, `pruned ${pruned.length}`);
  for (const t of pruned) {
    assert.match(String(t.reason), /^pruned by asha after [12] seeds?$/);
    assert.ok(t.seeds.some((s) => s.state === 'skipped'));
  }
  // Seeds run one after another with a pruner; none is submitted twice.
  assert.equal(new Set(executor.submitted).size, executor.submitted.length);
  const best = done.reduce((a, b) =>
    (a.params['learner.tau'] as number) > (b.params['learner.tau'] as number) ? a : b,
  );
  assert.equal(outcome.best?.id, best.id);
  assert.match(
    await readFile(join(dir, 'best.yaml'), 'utf8'),
    new RegExp(`tau: ${String(best.params['learner.tau']).slice(0, 6)}`),
  );
});

test('a result delivered twice is counted once; a failure is recorded with its reason and the trial stops', async () => {
  const { outcome } = await sweep({ pruner: 'none', trials: 3, seeds: 2 }, (task) =>
    task.trialId === 1
      ? [{ kind: 'failed', task, reason: 'the learner refused it', badConfiguration: true }]
      : [
          { kind: 'result', task, result: fakeResult(task) },
          { kind: 'result', task, result: { ...fakeResult(task), worker: 'again' } },
        ],
  );
  const [a, b, c] = outcome.trials;
  assert.equal(b!.state, 'failed');
  assert.equal(b!.reason, 'bad configuration: the learner refused it');
  for (const t of [a!, c!]) {
    assert.equal(t.state, 'done');
    assert.deepEqual(
      t.seeds.map((s) => s.worker),
      ['fake', 'fake'],
    );
    assert.equal(t.score?.seeds, 2);
  }
});
