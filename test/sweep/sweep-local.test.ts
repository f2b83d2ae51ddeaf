import assert from 'node:assert/strict';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { parseTrainConfig } from '../../src/jobs/train-config.js';
import { resolveTrainConfig } from '../../src/cli/train.js';
import { readDriveAgentConfig } from '../../src/ros/agent-config.js';
import {
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

/**
 * The sweep on one machine, through the CLI as a user runs it: a tiny space (4 configurations,
 * 2 seeds, 2 workers, two short episodes each) whose best configuration the space makes clearly
 * best; then a sweep interrupted with Ctrl-C and resumed, which runs no finished trial seed again.
 */

test(
  'a tiny sweep completes, writes every file, and picks the configuration made clearly best',
  { timeout: 150_000 },
  async () => {
    const out = join(await tempDir('sweep'), 'sweep');
    const result = await finished(
      daydrive(
        [
          'sweep',
          '--space',
          TINY_SPACE,
          '--trials',
          '4',
          '--seeds',
          '2',
          '--workers',
          '2',
          '--sampler',
          'lhs',
          '--pruner',
          'none',
          '--no-defaults',
          '--out',
          out,
          '--json',
        ],
        cliEnv(),
      ),
    );
    assert.equal(result.code, 0, result.stderr);
    const summary = lastJson(result.stdout) as {
      ok: boolean;
      done: number;
      best: { trial: number; params: Record<string, unknown>; score: { cleanShare: { low: number } } };
    };
    assert.equal(summary.ok, true);
    assert.equal(summary.done, 4);
    // The Latin hypercube gives each of the 4 choices one trial; 90 degrees is the clearly best.
    assert.deepEqual(summary.best.params, { 'sim.safety.maxHeadingErrorDeg': 90 });
    for (const f of [
      'space.yaml',
      'sweep.json',
      'trials.jsonl',
      'results.csv',
      'best.yaml',
      'charts/objective.png',
      'charts/parameters.png',
      'charts/importance.png',
    ]) {
      assert.ok((await stat(join(out, f))).size > 0, f);
    }
    const trials = await readTrialsOf(out);
    assert.equal(trials.length, 4);
    assert.deepEqual(
      trials.map((t) => t.params['sim.safety.maxHeadingErrorDeg']).sort((a, b) => Number(a) - Number(b)),
      [2, 3, 4, 90],
    );
    for (const t of trials) {
      assert.equal(t.state, 'done');
      assert.deepEqual(
        t.seeds.map((s) => [s.seed, s.state, s.result?.roads.length]),
        [
          [0, 'done', 2],
          [1, 'done', 2],
        ],
      );
      // Evaluation roads are the unseen ones, disjoint from training (500,000+) and test (700,000+) roads.
      for (const s of t.seeds) assert.ok(s.result!.roads.every((r) => r.roadSeed >= 1_000_000));
    }
    const csv = (await readFile(join(out, 'results.csv'), 'utf8')).trim().split('\n');
    assert.equal(csv.length, 5);
    assert.match(
      csv[0]!,
      /^trial,reference,state,seeds_done,sim\.safety\.maxHeadingErrorDeg,cleanShare,cleanShare_low,cleanShare_high/,
    );
    const meta = JSON.parse(await readFile(join(out, 'sweep.json'), 'utf8')) as {
      command: string[];
      gitRevision: string | null;
    };
    assert.deepEqual(meta.command.slice(0, 2), ['daydrive', 'sweep']);
    assert.match(String(meta.gitRevision), /^[0-9a-f]{40}$/);
    // best.yaml is a train config; --from-sweep gives the same configuration, a trial by number its own.
    const best = parseTrainConfig(parseYaml(await readFile(join(out, 'best.yaml'), 'utf8')), 'best.yaml');
    assert.equal(best.sim.safety.maxHeadingErrorDeg, 90);
    // The vehicle node takes it too (its learning sections; the simulator's are ignored there).
    assert.equal((await readDriveAgentConfig(join(out, 'best.yaml'))).learner.batchSize, 16);
    assert.equal((await resolveTrainConfig({ fromSweep: out })).sim.safety.maxHeadingErrorDeg, 90);
    const other = trials.find((t) => t.params['sim.safety.maxHeadingErrorDeg'] === 3)!;
    assert.equal(
      (await resolveTrainConfig({ fromSweep: out, trial: String(other.id), seed: 5 })).sim.safety.maxHeadingErrorDeg,
      3,
    );
    await assert.rejects(resolveTrainConfig({ fromSweep: out, trial: '99' }), /no trial 99/);
    // A second sweep into the same directory is refused: nothing of the first is lost.
    const again = await finished(daydrive(['sweep', '--space', TINY_SPACE, '--out', out], cliEnv()));
    assert.equal(again.code, 2);
    assert.match(again.stderr, /already holds a sweep: use --resume/);
    // A bad space file: one line on stderr, exit 2, no sweep directory made.
    const badSpace = join(out, '..', 'bad.yaml');
    await writeFile(badSpace, 'parameters:\n  learner.discount: { uniform: [0.9, 2] }\n');
    const bad = await finished(
      daydrive(['sweep', '--space', badSpace, '--out', join(out, '..', 'bad-sweep')], cliEnv()),
    );
    assert.equal(bad.code, 2);
    assert.match(
      bad.stderr,
      /^daydrive: error: space .*bad\.yaml: parameter learner\.discount \(value 2\): field learner\.discount: Too big: expected number to be <=1\n$/,
    );
    await assert.rejects(stat(join(out, '..', 'bad-sweep')));
  },
);

test(
  'a sweep interrupted with Ctrl-C and resumed runs no finished trial seed again',
  { timeout: 150_000 },
  async () => {
    const dir = await tempDir('sweep-resume');
    const out = join(dir, 'sweep');
    const trace = join(dir, 'trace.jsonl');
    const args = [
      '--space',
      TINY_SPACE,
      '--trials',
      '3',
      '--seeds',
      '1',
      '--workers',
      '1',
      '--sampler',
      'random',
      '--pruner',
      'none',
      '--no-defaults',
      '--out',
      out,
      '--json',
    ];
    const first = daydrive(['sweep', ...args], cliEnv(trace));
    const firstDone = finished(first);
    await waitFor('a finished trial seed', async () => doneSeeds(await readTrialsOf(out)).length >= 1, 100_000);
    first.kill('SIGINT');
    const stopped = await firstDone;
    assert.equal(stopped.code, 0, stopped.stderr);
    assert.equal((lastJson(stopped.stdout) as { stopped: boolean }).stopped, true);
    const before = await readTrialsOf(out);
    const finishedBefore = doneSeeds(before);
    assert.ok(finishedBefore.length >= 1 && finishedBefore.length < 3, `finished before: ${finishedBefore.join(' ')}`);

    const second = await finished(daydrive(['sweep', '--resume', '--out', out, '--json'], cliEnv(trace)));
    assert.equal(second.code, 0, second.stderr);
    const after = await readTrialsOf(out);
    assert.deepEqual(doneSeeds(after).sort(), ['0/0', '1/0', '2/0']);
    const starts = await readTrace(trace);
    for (const key of finishedBefore) {
      assert.equal(starts.filter((s) => `${s.trialId}/${s.seedIndex}` === key).length, 1, `${key} ran again`);
      const [trial, seed] = key.split('/').map(Number);
      assert.deepEqual(after[trial!]!.seeds[seed!], before[trial!]!.seeds[seed!], `${key} changed`);
    }
  },
);
