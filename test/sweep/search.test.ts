import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Rng } from '../../src/core/rng.js';
import { UserError } from '../../src/core/errors.js';
import { parseSpace, validateConfiguration, type Params, type SearchSpace } from '../../src/sweep/space.js';
import { latinHypercube } from '../../src/sweep/samplers/lhs.js';
import { RandomSampler } from '../../src/sweep/samplers/random.js';
import { goodCount, TpeSampler } from '../../src/sweep/samplers/tpe.js';
import {
  categoricalEstimator,
  normalCdf,
  numericalEstimator,
  observationWeights,
} from '../../src/sweep/samplers/parzen.js';
import { AshaPruner, ashaRungs } from '../../src/sweep/pruners/asha.js';
import { MedianPruner } from '../../src/sweep/pruners/median.js';
import { percentile } from '../../src/sweep/pruners/pruner.js';
import { bootstrapScore, compareScores } from '../../src/sweep/statistics.js';
import type { SeedResult } from '../../src/sweep/objective.js';
import type { Sampler } from '../../src/sweep/samplers/sampler.js';

const space = (parameters: Record<string, unknown>, extra: Record<string, unknown> = {}): SearchSpace =>
  parseSpace({ parameters, ...extra }, 'space test.yaml');
const error = (fn: () => unknown): string => {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof UserError, `not a UserError: ${String(err)}`);
    assert.ok(!err.message.includes('\n'), 'one line');
    return err.message;
  }
  assert.fail('no error');
};

describe('search space', () => {
  it('reads every entry kind and builds valid train configs', () => {
    const s = space({
      'learner.discount': { loguniform: [1e-4, 0.03], oneMinus: true },
      'learner.tau': { uniform: [0.001, 0.08] },
      'learner.batchSize': { int: [16, 256], log: true },
      'exploration.type': { choice: ['ou', 'gaussian'] },
      'exploration.theta': { uniform: [0.1, 1], when: { 'exploration.type': 'ou' } },
      'exploration.sigma': { uniform: [0, 0.5] },
      'schedule.testsToPass': 3,
    });
    const rng = Rng.fromSeed(1);
    for (let i = 0; i < 50; i++) {
      const params = new RandomSampler().sample(s, { trialIndex: i, ranked: [], rng });
      const d = params['learner.discount'] as number;
      assert.ok(d >= 0.97 && d <= 0.9999, `discount ${d}`);
      assert.ok(
        Number.isInteger(params['learner.batchSize']) &&
          (params['learner.batchSize'] as number) >= 16 &&
          (params['learner.batchSize'] as number) <= 256,
      );
      assert.equal('exploration.theta' in params, params['exploration.type'] === 'ou');
      assert.equal(params['schedule.testsToPass'], 3);
      const check = validateConfiguration(s, params);
      assert.ok(check.ok, check.ok ? '' : check.reason);
    }
  });

  it('names a wrong path, an impossible value, a bad entry and a bad condition in one line', () => {
    assert.match(
      error(() => space({ 'learner.discountt': { uniform: [0.9, 0.99] } })),
      /parameter learner\.discountt.*discountt/,
    );
    assert.match(
      error(() => space({ 'agent.optimisationStep': 5 })),
      /parameter agent\.optimisationStep.*Unrecognized key/,
    );
    assert.match(
      error(() => space({ 'learner.discount': { uniform: [0.9, 1.5] } })),
      /parameter learner\.discount \(value 1\.5\).*field learner\.discount/,
    );
    assert.match(
      error(() => space({ 'learner.tau': { uniform: [0.5, 0.1] } })),
      /lower bound is above the upper bound/,
    );
    assert.match(
      error(() => space({ 'learner.tau': { loguniform: [0, 0.1] } })),
      /loguniform bounds must be positive/,
    );
    assert.match(
      error(() => space({ 'learner.tau': { gaussian: [0, 0.1] } })),
      /invalid space test\.yaml/,
    );
    assert.match(
      error(() => space({ 'exploration.theta': { uniform: [0, 1], when: { 'exploration.type': 'ou' } } })),
      /'when' names exploration\.type, which is not an earlier parameter/,
    );
    assert.match(
      error(() => space({})),
      /no parameter/,
    );
  });

  it('the shipped presets in sweeps/ are valid spaces', async () => {
    const { readSpaceFile } = await import('../../src/sweep/space.js');
    const zoo = (await readSpaceFile('sweeps/td3-zoo.yaml')).space;
    assert.equal(zoo.parameters.length, 10);
    const ours = (await readSpaceFile('sweeps/daydrive.yaml')).space;
    assert.deepEqual(ours.parameters.map((p) => p.path).sort(), [
      'agent.commandHistory',
      'agent.optimisationSteps',
      'learner.actorPreActivationPenalty',
      'learner.nStep',
      'learner.replay.alpha',
      'learner.replay.beta0',
      'schedule.testRoadLooks',
      'schedule.testsToPass',
      'schedule.trainingRoadLooks',
      'schedule.trainingRoadTightestBendAtMostM',
    ]);
  });

  it('refuses a space with no valid configuration', () => {
    // Each value fits the schema; every combination breaks the learner's vMin < vMax rule.
    assert.match(
      error(() => space({ 'learner.vMin': { uniform: [0, 10] }, 'learner.vMax': { uniform: [-10, 0] } })),
      /no valid configuration: 200 sampled configurations are all invalid, e\.g\. field learner\.vMax: vMin must be below vMax/,
    );
  });
});

describe('samplers', () => {
  it('Latin hypercube uses every stratum of every dimension once', () => {
    const design = latinHypercube(8, 3, Rng.fromSeed(4));
    for (let d = 0; d < 3; d++) {
      const strata = design.map((row) => Math.floor(row[d]! * 8)).sort((a, b) => a - b);
      assert.deepEqual(strata, [0, 1, 2, 3, 4, 5, 6, 7]);
    }
  });

  it("gamma and the weights are Optuna's", () => {
    assert.deepEqual([1, 9, 10, 11, 100, 300].map(goodCount), [1, 1, 1, 2, 10, 25]);
    assert.deepEqual(observationWeights(3), [1, 1, 1]);
    const w = observationWeights(30);
    assert.equal(w.length, 30);
    assert.ok(Math.abs(w[0]! - 1 / 30) < 1e-12 && Math.abs(w[4]! - 1) < 1e-12 && w[29] === 1);
  });

  it('Parzen estimator: hand-worked sigmas and densities', () => {
    // Observations 2 and 6 on [0, 10], prior at 5 (sigma 10). Sorted with the ends: 0, 2, 5, 6, 10.
    // Gaps: 2 -> max(2, 3) = 3, but the first kernel takes its inner gap 3; 6 (the last) its inner gap 1,
    // clipped up to the magic-clip minimum 10 / min(100, 1 + 2 + 1) = 2.5.
    const e = numericalEstimator([2, 6], 0, 10);
    const pdf = (x: number) => {
      const kernels: [number, number, number][] = [
        [2, 3, 1 / 3],
        [6, 2.5, 1 / 3],
        [5, 10, 1 / 3],
      ];
      return kernels.reduce(
        (s, [mu, sigma, w]) =>
          s +
          (w * Math.exp(-0.5 * ((x - mu) / sigma) ** 2)) /
            (sigma * Math.sqrt(2 * Math.PI) * (normalCdf((10 - mu) / sigma) - normalCdf((0 - mu) / sigma))),
        0,
      );
    };
    for (const x of [0, 2, 4.5, 9]) assert.ok(Math.abs(Math.exp(e.logPdf(x)) - pdf(x)) < 1e-9, `x=${x}`);
    // Choices: observations [0, 0] of 3; rows 1/3 each + 1 on the choice, normalised; prior row uniform.
    const c = categoricalEstimator([0, 0], 3);
    const row = [4 / 3, 1 / 3, 1 / 3].map((v) => v / 2);
    assert.ok(Math.abs(Math.exp(c.logPdf(0)) - ((2 / 3) * row[0]! + 1 / 9)) < 1e-12);
  });

  function optimise(sampler: Sampler, s: SearchSpace, f: (p: Params) => number, trials: number, seed: number): number {
    const done: { id: number; params: Params; value: number }[] = [];
    for (let i = 0; i < trials; i++) {
      const params = sampler.sample(s, {
        trialIndex: i,
        ranked: [...done].sort((a, b) => a.value - b.value),
        rng: Rng.fromSeed(seed * 1000 + i),
      });
      done.push({ id: i, params, value: f(params) });
    }
    return Math.min(...done.map((d) => d.value));
  }

  it('TPE beats random search on Branin and a sphere (fixed seeds)', () => {
    const braninSpace = space({ 'learner.vMin': { uniform: [-5, 10] }, 'learner.vMax': { uniform: [11, 26] } });
    const branin = (p: Params) => {
      const x1 = p['learner.vMin'] as number;
      const x2 = (p['learner.vMax'] as number) - 11;
      return (
        (x2 - (5.1 / (4 * Math.PI ** 2)) * x1 ** 2 + (5 / Math.PI) * x1 - 6) ** 2 +
        10 * (1 - 1 / (8 * Math.PI)) * Math.cos(x1) +
        10 -
        0.397887
      );
    };
    const sphereSpace = space({
      'learner.tau': { uniform: [0, 1] },
      'learner.gradClipNorm': { uniform: [0, 1] },
      'learner.finalLayerInit': { loguniform: [1e-4, 1] },
    });
    const sphere = (p: Params) =>
      ((p['learner.tau'] as number) - 0.3) ** 2 +
      ((p['learner.gradClipNorm'] as number) - 0.7) ** 2 +
      (Math.log10(p['learner.finalLayerInit'] as number) + 2) ** 2 / 16;
    for (const [s, f] of [
      [braninSpace, branin],
      [sphereSpace, sphere],
    ] as const) {
      let tpeWins = 0;
      let tpeTotal = 0;
      let randomTotal = 0;
      for (let seed = 0; seed < 6; seed++) {
        const tpe = optimise(new TpeSampler({ startupTrials: 10, candidates: 24 }), s, f, 60, seed);
        const random = optimise(new RandomSampler(), s, f, 60, seed + 100);
        tpeTotal += tpe;
        randomTotal += random;
        if (tpe < random) tpeWins += 1;
      }
      assert.ok(tpeWins >= 5, `TPE won ${tpeWins} of 6`);
      assert.ok(tpeTotal < randomTotal / 2, `TPE mean best ${tpeTotal / 6} against random ${randomTotal / 6}`);
    }
  });
});

describe('pruners', () => {
  it('ASHA rungs and cutoffs, hand-worked (reduction factor 2, 4 seeds)', () => {
    assert.deepEqual(ashaRungs(4, 2), [1, 2]);
    assert.deepEqual(ashaRungs(3, 2), [1, 2]);
    assert.deepEqual(ashaRungs(3, 4), [1]);
    assert.deepEqual(ashaRungs(9, 3), [1, 3]);
    const asha = new AshaPruner(4, 2);
    // Rung 1: the first trial passes an empty rung; the cutoff is then the median of the values before.
    assert.equal(asha.report(0, 1, 0.5), 'continue');
    assert.equal(asha.report(1, 1, 0.4), 'prune'); // below 0.5
    assert.equal(asha.report(2, 1, 0.6), 'continue'); // median of [0.5, 0.4] = 0.45
    assert.equal(asha.report(3, 1, 0.45), 'prune'); // median of [0.5, 0.4, 0.6] = 0.5
    assert.equal(asha.report(4, 1, 0.5), 'continue'); // median of [0.5, 0.4, 0.6, 0.45] = 0.475
    // Rung 2: trial 0 first, then trial 2 against it.
    assert.equal(asha.report(0, 2, 0.55), 'continue');
    assert.equal(asha.report(2, 2, 0.5), 'prune');
    // Past the last rung nothing is pruned; a rung already recorded is not checked again.
    assert.equal(asha.report(0, 3, 0), 'continue');
    assert.equal(percentile([1, 2, 3, 4], 75), 3.25);
  });

  it('median pruning waits for its start-up trials, then compares with completed trials at the same step', () => {
    const median = new MedianPruner(2);
    assert.equal(median.report(0, 1, 0.2), 'continue');
    median.complete(0);
    assert.equal(median.report(1, 1, 0.6), 'continue');
    median.complete(1);
    assert.equal(median.report(2, 1, 0.3), 'prune'); // median of [0.2, 0.6] = 0.4
    assert.equal(median.report(3, 1, 0.5), 'continue');
  });
});

describe('statistics', () => {
  const seed = (roads: [number, number][], episodes: number): SeedResult => ({
    seed: 0,
    trainingEpisodes: episodes,
    learningEpisodes: episodes,
    solved: true,
    roads: roads.map(([distanceM, disengagements], i) => ({ roadSeed: i, distanceM, disengagements, completed: true })),
    routeLengthM: 250,
    seconds: { startup: 0, train: 0, evaluate: 0, total: 0 },
    trainSeconds: { world: 0, agent: 0, optimise: 0 },
    worker: 'test',
  });

  it('bootstrap intervals over seeds and roads: point estimates, zero width when nothing varies, the lower bound ranks', () => {
    const steady = bootstrapScore([
      seed(
        [
          [250, 0],
          [250, 0],
        ],
        6,
      ),
      seed(
        [
          [250, 0],
          [250, 0],
        ],
        6,
      ),
    ]);
    assert.deepEqual(steady.cleanShare, { estimate: 1, low: 1, high: 1 });
    assert.equal(steady.metresPerDisengagement.estimate, 1000);
    const mixed = bootstrapScore([
      seed(
        [
          [250, 0],
          [100, 2],
        ],
        8,
      ),
      seed(
        [
          [250, 0],
          [250, 0],
        ],
        12,
      ),
      seed(
        [
          [50, 5],
          [250, 0],
        ],
        20,
      ),
    ]);
    assert.ok(Math.abs(mixed.cleanShare.estimate - 4 / 6) < 1e-12);
    assert.ok(mixed.cleanShare.low < mixed.cleanShare.estimate && mixed.cleanShare.high >= mixed.cleanShare.estimate);
    assert.ok(Math.abs(mixed.trainingEpisodes.estimate - 40 / 3) < 1e-12);
    assert.ok(Math.abs(mixed.metresPerDisengagement.estimate - 1150 / 7) < 1e-9);
    const objective = ['cleanShare', 'metresPerDisengagement', 'trainingEpisodes'] as const;
    assert.ok(compareScores(steady, mixed, objective) < 0);
    // Equal on clean share and metres: fewer episodes (by the upper bound) ranks first.
    const faster = bootstrapScore([
      seed(
        [
          [250, 0],
          [250, 0],
        ],
        4,
      ),
      seed(
        [
          [250, 0],
          [250, 0],
        ],
        4,
      ),
    ]);
    assert.ok(compareScores(faster, steady, objective) < 0);
    // A lucky configuration: its estimate is higher than the steady one's, its lower bound is not.
    const lucky = bootstrapScore([
      seed(
        [
          [250, 0],
          [250, 0],
          [250, 0],
        ],
        6,
      ),
      seed(
        [
          [250, 0],
          [250, 0],
          [250, 0],
        ],
        6,
      ),
      seed(
        [
          [50, 1],
          [50, 1],
          [50, 1],
        ],
        6,
      ),
    ]);
    const solid = bootstrapScore([
      seed(
        [
          [250, 0],
          [250, 0],
          [50, 1],
        ],
        6,
      ),
      seed(
        [
          [250, 0],
          [250, 0],
          [50, 1],
        ],
        6,
      ),
      seed(
        [
          [250, 0],
          [250, 0],
          [50, 1],
        ],
        6,
      ),
    ]);
    assert.equal(lucky.cleanShare.estimate, solid.cleanShare.estimate);
    assert.ok(lucky.cleanShare.low < solid.cleanShare.low);
    assert.ok(compareScores(solid, lucky, objective) < 0);
  });
});
