import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseTrainConfig, type TrainConfig } from '../../src/jobs/train-config.js';
import { DrivingSimEnv } from '../../sim/index.js';
import { tightestBendInRouteM } from '../../sim/road.js';
import { VARIED_ROAD_SEED_BASE } from '../../src/agent/road-seeds.js';
import { summarise } from '../../src/jobs/training.js';
import { runWorlds } from '../../src/jobs/run-worlds.js';
import type { EpisodeRecord } from '../../src/agent/training.js';
import { CLI as cli, lastJson, run, runCli } from '../helpers/cli.js';

/**
 * The main job end to end, through the CLI as a user runs it: a tiny configuration (short
 * route, few optimisation steps) trains, checkpoints, is interrupted and resumed, undoes an
 * episode, and is evaluated. The VAE is the shipped model (models/vae-sim).
 */

const env = { ...process.env, DAYDRIVE_LOG_LEVEL: 'info', DAYDRIVE_LOG_JSON: '1' };

const TINY = `
seed: 3
agent: { optimisationSteps: 20 }
learner: { batchSize: 16 }
schedule: { maxEpisodes: 6, testEvery: 1, stopWhenTestCompletesRoute: false, undoBelowFractionOfBestTest: 1.0 }
sim: { road: { routeLengthM: 60 } }
`;

async function records(dir: string): Promise<Record<string, unknown>[]> {
  const text = await readFile(join(dir, 'metrics.jsonl'), 'utf8');
  return text
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

test(
  'daydrive train: interrupted, resumed, then evaluated; the run directory holds everything promised',
  { timeout: 240_000 },
  async () => {
    const root = await mkdtemp(join(tmpdir(), 'train-cli-'));
    const config = join(root, 'tiny.yaml');
    await writeFile(config, TINY);
    const out = join(root, 'run');

    // Interrupt after the first episode: the run stops at the end of the episode in progress.
    const child = spawn(process.execPath, [...cli, 'train', '--config', config, '--out', out, '--json'], { env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    while (!/"msg":"episode 1 /.test(stderr)) {
      assert.equal(child.exitCode, null, `train exited early: ${stderr}`);
      await sleep(50);
    }
    child.kill('SIGINT');
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    // Exit 130 as a shell reports Ctrl-C; the last line says the run was interrupted and how to resume it.
    assert.equal(code, 130, stderr);
    const stopped = lastJson(stdout);
    assert.equal(stopped.stopped, true);
    assert.equal(stopped.interrupted, true);
    assert.equal(stopped.resumeCommand, `daydrive train --resume --out ${out}`);
    const before = await records(out);
    assert.ok(before.length >= 1 && before.length < 6, `stopped after ${before.length} episodes`);

    // Resume: the episodes continue from the checkpoint, nothing before it is lost.
    const resumed = lastJson(
      (await run(process.execPath, [...cli, 'train', '--out', out, '--resume', '--json'], { env })).stdout,
    );
    assert.equal(resumed.ok, true);
    assert.equal(resumed.stopped, false);
    const all = await records(out);
    assert.deepEqual(all.slice(0, before.length), before);
    assert.deepEqual(
      all.map((r) => r.episode),
      all.map((_, i) => i + 1),
    );
    assert.equal(all[0]!.mode, 'explore');
    assert.ok(all.some((r) => r.mode === 'test'));
    // undoBelowFractionOfBestTest 1.0: a test worse than the best so far undoes the training episode
    // before it (with seed 3 a later test drives less than an earlier one; the undone episode does not count).
    const undone = all.filter((r) => r.undid === true);
    assert.ok(undone.length > 0, `no undo in ${JSON.stringify(all.map((r) => [r.mode, r.distanceM]))}`);
    assert.equal((all.filter((r) => r.mode !== 'test').at(-1)!.learningEpisodes as number) <= 6, true);
    // The summary says how far the run got and by which stop rule it would have been solved.
    assert.equal(resumed.learningEpisodes, all.at(-1)!.learningEpisodes);
    assert.equal(resumed.testsToPass, 6);
    assert.equal(resumed.solved, false);

    const files = await readdir(out);
    for (const f of ['config.json', 'metrics.jsonl', 'learning-curve.png', 'checkpoint', 'summary.json', 'final-test'])
      assert.ok(files.includes(f), `${f} missing`);
    const finalTest = await readdir(join(out, 'final-test'));
    assert.ok(finalTest.includes('map.png') && finalTest.some((f) => f.startsWith('frame_')));

    // Table I on one unseen road (the safety driver resets after each disengagement, so every row drives the route): random, zero, the agent.
    // The baselines are driven once, then read from the cache (a directory of this test's own).
    const evalEnv = { ...env, DAYDRIVE_CACHE_DIR: join(root, 'cache') };
    const evalArgs = [...cli, 'eval', '--run', out, '--roads', '1', '--workers', '1', '--json'];
    const table = lastJson((await run(process.execPath, evalArgs, { env: evalEnv })).stdout);
    const rows = table.rows as {
      method: string;
      disengagements: number;
      distanceM: number;
      trainingEpisodes: number | null;
      roads: number;
      cleanShare: { estimate: number };
    }[];
    assert.deepEqual(
      rows.map((r) => r.method.split(' ')[0]),
      ['random', 'zero', 'deep'],
    );
    for (const r of rows) assert.ok(r.distanceM >= 60, `${r.method} drove ${r.distanceM} m of a 60 m route`);
    for (const r of rows) assert.equal(r.cleanShare.estimate, r.disengagements === 0 ? 1 : 0);
    assert.match(String(table.table), /m per disengagement/);
    assert.equal(table.baselineCache, 'miss');
    const policies = table.policies as {
      policy: string;
      roads: { routeSeed: number; look: Record<string, string> }[];
    }[];
    assert.deepEqual(
      policies[2]!.roads.map((r) => r.routeSeed),
      table.roadSeeds,
    );
    assert.ok((await readdir(join(out, 'evaluation'))).includes('evaluation.json'));
    const again = lastJson((await run(process.execPath, evalArgs, { env: evalEnv })).stdout);
    assert.equal(again.baselineCache, 'hit');
    assert.deepEqual(again.rows, table.rows);
    // By default the agent sees the model input the simulator renders; --camera-path car drives full frames through sharp.
    assert.equal(table.cameraPath, 'sim');
    const carArgs = [...evalArgs, '--camera-path', 'car', '--out', join(root, 'eval-car')];
    const car = lastJson((await run(process.execPath, carArgs, { env: evalEnv })).stdout);
    assert.equal(car.cameraPath, 'car');
    assert.deepEqual((car.rows as unknown[]).slice(0, 2), rows.slice(0, 2)); // the baselines look at nothing
    assert.ok((car.rows as { distanceM: number }[])[2]!.distanceM >= 60);
    // An --out holding the user's own files is refused before anything drives, and the files stay.
    const mine = join(root, 'mine');
    await mkdir(mine);
    await writeFile(join(mine, 'notes.txt'), 'thesis');
    await assert.rejects(
      run(process.execPath, [...cli, 'eval', '--run', out, '--out', mine], { env: evalEnv }),
      (e: { code: number; stderr: string }) => {
        assert.equal(e.code, 2);
        assert.match(e.stderr, /holds files that are not an evaluation's/);
        assert.doesNotMatch(e.stderr, /evaluation drive/);
        return true;
      },
    );
    assert.equal(await readFile(join(mine, 'notes.txt'), 'utf8'), 'thesis');
  },
);

test('daydrive train: a bad config names the field; a damaged checkpoint is refused and left as it was', async () => {
  const root = await mkdtemp(join(tmpdir(), 'train-cli-bad-'));
  const config = join(root, 'bad.yaml');
  await writeFile(config, 'agent: { optimisationSteps: -5 }\n');
  await assert.rejects(
    run(process.execPath, [...cli, 'train', '--config', config, '--out', join(root, 'r')]),
    (e: { code: number; stderr: string }) => {
      assert.notEqual(e.code, 0);
      assert.match(e.stderr, /field agent\.optimisationSteps/);
      assert.equal(e.stderr.trim().split('\n').length, 1);
      return true;
    },
  );
  await writeFile(config, 'learner: { discount: 2 }\n');
  await assert.rejects(
    run(process.execPath, [...cli, 'train', '--config', config, '--out', join(root, 'r')]),
    /field learner\.discount/,
  );
  await writeFile(config, 'schedule: { testRoadTightestBendAtMostM: 5 }\n');
  await assert.rejects(
    run(process.execPath, [...cli, 'train', '--config', config, '--out', join(root, 'r')]),
    /field schedule\.testRoadTightestBendAtMostM: no bend can be that tight/,
  );
  await assert.rejects(
    run(process.execPath, [...cli, 'train', '--resume', '--out', join(root, 'none')]),
    /no checkpoint/,
  );

  // A run of one episode, then its checkpoint is damaged: resuming says what is wrong in one
  // line and leaves the damaged files as they were (nothing is overwritten).
  await writeFile(config, 'sim: { road: { routeLengthM: 10 } }\n');
  await assert.rejects(
    run(process.execPath, [...cli, 'train', '--config', config, '--out', join(root, 'r')]),
    /field schedule\.testRoadTightestBendAtMostM: no bend fits/,
  );
  await writeFile(
    config,
    'agent: { optimisationSteps: 2, exploreEpisodes: 1 }\nschedule: { maxEpisodes: 1, testRoadTightestBendAtMostM: null, trainingRoadTightestBendAtMostM: null }\nsim: { road: { routeLengthM: 10 } }\n',
  );
  const out = join(root, 'one');
  await run(process.execPath, [...cli, 'train', '--config', config, '--out', out]);
  const weights = join(out, 'checkpoint', 'agent', 'learner', 'networks.bin');
  const intact = await readFile(weights);
  await writeFile(weights, 'not weights');
  const damagedAt = (await stat(weights)).mtimeMs;
  const refused = async (pattern: RegExp): Promise<void> => {
    const r = await runCli(['train', '--resume', '--out', out]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, pattern);
    assert.equal(
      r.stderr
        .trim()
        .split('\n')
        .filter((l) => !l.startsWith('{')).length,
      1,
      r.stderr,
    );
  };
  await refused(/networks\.bin does not match its checksum/);
  assert.equal(await readFile(weights, 'utf8'), 'not weights');
  assert.equal((await stat(weights)).mtimeMs, damagedAt);
  // Zeroed weights of the right length would load as a valid network: the checksum refuses them.
  await writeFile(weights, Buffer.alloc(intact.byteLength));
  await refused(/networks\.bin does not match its checksum/);
  // A damaged manifest in a checkpoint without checksums (an older daydrive's): one line, not a TypeError.
  await writeFile(weights, intact);
  await rm(join(out, 'checkpoint', 'checksums.json'));
  await writeFile(join(out, 'checkpoint', 'agent', 'learner', 'networks.json'), '{}');
  await refused(/networks\.json is not a TF\.js weights manifest/);
});

/** The records of a run without their wall-clock fields (the only thing that differs between identical runs). */
async function episodesOf(dir: string): Promise<Record<string, unknown>[]> {
  return (await records(dir)).map(({ elapsedS: _e, seconds: _s, ...rest }) => rest);
}

const SHORT = `
agent: { optimisationSteps: 5, exploreEpisodes: 1 }
learner: { batchSize: 16 }
schedule: { maxEpisodes: 2, stopWhenTestCompletesRoute: false, testRoadTightestBendAtMostM: null, trainingRoadTightestBendAtMostM: null }
sim: { road: { routeLengthM: 20 } }
`;

test(
  'daydrive train --resume: --episodes raises the budget and the run goes on as an uninterrupted one; other settings are refused; a checkpoint swap cut short is recovered',
  { timeout: 240_000 },
  async () => {
    const root = await mkdtemp(join(tmpdir(), 'train-resume-'));
    const config = join(root, 'short.yaml');
    await writeFile(config, SHORT);
    const resumed = join(root, 'resumed');
    const straight = join(root, 'straight');
    const [first, whole] = await Promise.all([
      runCli(['train', '--config', config, '--out', resumed, '--json']),
      runCli(['train', '--config', config, '--episodes', '4', '--out', straight, '--json']),
    ]);
    assert.equal(first.code, 0, first.stderr);
    assert.equal(whole.code, 0, whole.stderr);
    assert.equal(lastJson(first.stdout).learningEpisodes, 2);

    // What cannot change on resume is refused in one line, and the run is left as it was.
    const before = await readFile(join(resumed, 'metrics.jsonl'), 'utf8');
    await writeFile(join(root, 'other.yaml'), SHORT.replace('optimisationSteps: 5', 'optimisationSteps: 6'));
    for (const [args, pattern] of [
      [['--seed', '9'], /cannot resume .* with --seed 9: the run was trained with seed 0/],
      [['--algo', 'ddpg'], /with --algo ddpg: the run was trained with algo td3/],
      [['--config', join(root, 'other.yaml')], /field agent\.optimisationSteps differs/],
    ] as const) {
      const r = await runCli(['train', '--resume', '--out', resumed, ...args]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, pattern);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    }
    assert.equal(await readFile(join(resumed, 'metrics.jsonl'), 'utf8'), before);

    // A crash between the swap's two renames: checkpoint/ moved aside, the complete new copy not yet
    // renamed in. Resume restores the newest complete copy and removes the leftovers.
    const checkpoint = join(resumed, 'checkpoint');
    const stamp = `${Date.now()}-12345`;
    await cp(checkpoint, `${checkpoint}.tmp-${stamp}`, { recursive: true });
    await rename(checkpoint, `${checkpoint}.old-${stamp}`);
    await mkdir(`${checkpoint}.tmp-${Date.now() + 1000}-999`); // a copy whose filling never finished: no checksums
    // The same config again (with the same seed) is accepted; --episodes raises the budget from 2 to 4.
    const more = await runCli([
      'train',
      '--resume',
      '--out',
      resumed,
      '--config',
      config,
      '--seed',
      '0',
      '--episodes',
      '4',
      '--json',
    ]);
    assert.equal(more.code, 0, more.stderr);
    assert.equal(lastJson(more.stdout).learningEpisodes, 4);
    assert.deepEqual(
      (await readdir(resumed)).filter((f) => f.startsWith('checkpoint')),
      ['checkpoint'],
    );
    assert.equal(
      (JSON.parse(await readFile(join(resumed, 'config.json'), 'utf8')) as { schedule: { maxEpisodes: number } })
        .schedule.maxEpisodes,
      4,
    );
    // Resumed after 2 episodes with a new budget of 4 = trained for 4 in one go.
    assert.deepEqual(await episodesOf(resumed), await episodesOf(straight));
  },
);

test('daydrive train refuses a non-empty --out that holds no run unless --force, and keeps the files there', async () => {
  const root = await mkdtemp(join(tmpdir(), 'train-out-'));
  const thesis = join(root, 'thesis');
  await mkdir(thesis);
  await writeFile(join(thesis, 'chapter1.tex'), 'my thesis');
  const r = await runCli(['train', '--out', thesis, '--episodes', '1']);
  assert.equal(r.code, 2);
  assert.match(
    r.stderr,
    /thesis is not empty and holds files `daydrive train` did not write \(chapter1\.tex\).*--force/,
  );
  assert.deepEqual(await readdir(thesis), ['chapter1.tex']);
  const file = join(root, 'a-file');
  await writeFile(file, 'x');
  for (const out of [file, join(file, 'run'), '/proc/daydrive-run']) {
    const bad = await runCli(['train', '--out', out, '--episodes', '1']);
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(
      bad.stderr,
      /^daydrive: error: cannot (use|create directory) .*(is a file|not a directory|does not allow it)/,
    );
    assert.equal(bad.stderr.trim().split('\n').length, 1, bad.stderr);
  }
});

test("schedule.testRoadTightestBendAtMostM and trainingRoadTightestBendAtMostM set their own world's roads, never the evaluation's", () => {
  const config = parseTrainConfig({ schedule: { testRoadTightestBendAtMostM: 40 } }, 'test config');
  assert.equal(runWorlds(config).test.sim.road.tightestBendAtMostM, 40);
  assert.equal(config.sim.road.tightestBendAtMostM, null, 'the evaluation world stays any road');
  const defaults = runWorlds(parseTrainConfig({}, 'test config'));
  assert.equal(defaults.test.sim.road.tightestBendAtMostM, 30, 'the default');
  const both = parseTrainConfig(
    { schedule: { testRoadTightestBendAtMostM: null, trainingRoadTightestBendAtMostM: 25 } },
    'test config',
  );
  assert.equal(runWorlds(both).test, both, 'any test road');
  assert.equal(runWorlds(both).training.sim.road.tightestBendAtMostM, 25);
  assert.equal(both.sim.road.tightestBendAtMostM, null);
  // The training world draws every road with such a bend; the evaluation's world does not.
  const tightestBendM = (env: DrivingSimEnv, seed: number) => {
    env.resetSync({ seed });
    return tightestBendInRouteM(env.road.segments, env.road.routeLengthM);
  };
  const world = (c: TrainConfig) => new DrivingSimEnv({ ...c.sim, camera: { ...c.sim.camera, render: false } });
  const seeds = Array.from({ length: 20 }, (_, i) => VARIED_ROAD_SEED_BASE + i);
  const trainingWorld = world(runWorlds(both).training);
  for (const seed of seeds) assert.ok(tightestBendM(trainingWorld, seed) <= 25, `training road ${seed}`);
  const evaluationWorld = world(both);
  assert.ok(
    seeds.some((seed) => tightestBendM(evaluationWorld, seed) > 25),
    'any road in the evaluation world',
  );
  // A bend tighter than any the simulator draws is refused, naming the schedule's field.
  assert.throws(
    () => parseTrainConfig({ schedule: { trainingRoadTightestBendAtMostM: 5 } }, 'tight.yaml'),
    /schedule\.trainingRoadTightestBendAtMostM: no bend can be that tight/,
  );
});

test("the summary counts learning episodes to the first passed test and to the stop rule's passes in a row", () => {
  const config = parseTrainConfig({ schedule: { testsToPass: 2 } }, 'test config');
  const rec = (mode: EpisodeRecord['mode'], learningEpisodes: number, pass = false): EpisodeRecord => ({
    episode: 0,
    mode,
    steps: 10,
    distanceM: pass ? 250 : 20,
    intervention: pass ? null : 'off-lane',
    routeCompleted: pass,
    learningEpisodes,
    trainingDistanceM: 10 * learningEpisodes,
    elapsedS: learningEpisodes,
    seconds: { world: 0, agent: 0, optimise: 0 },
    update: null,
    undid: false,
  });
  const firstPassThenFail = [
    rec('explore', 1),
    rec('train', 2),
    rec('test', 2, true),
    rec('test', 2),
    rec('train', 3),
    rec('test', 3),
  ];
  const unsolved = summarise('run', config, { records: firstPassThenFail, elapsedS: 9 }, false);
  assert.equal(unsolved.firstPassEpisodes, 2);
  assert.equal(unsolved.trainingEpisodes, null);
  assert.equal(unsolved.solved, false);
  const solved = summarise(
    'run',
    config,
    { records: [...firstPassThenFail, rec('train', 4), rec('test', 4, true), rec('test', 4, true)], elapsedS: 12 },
    false,
  );
  assert.equal(solved.firstPassEpisodes, 2);
  assert.equal(solved.trainingEpisodes, 4);
  assert.equal(
    summarise('run', config, { records: [rec('explore', 1), rec('test', 1)], elapsedS: 1 }, false).firstPassEpisodes,
    null,
  );
});
