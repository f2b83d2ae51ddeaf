/**
 * The sweep's costs (docs/sweep.md): the overhead per trial seed (process start, model load,
 * IPC, result write) against the goal of 1 s; the trial-seed throughput of 2 local workers
 * against 1 (goal: 1.8x on 2 cores), on tiny trial seeds and on trial seeds of the driving defaults
 * (evaluated on the sweep presets' 10 roads); the cost of one trial seed of the driving defaults
 * (default training + evaluation on the 24 reporting roads, in this process, on one core) and
 * where its time goes.
 *
 * Run: nice -n 10 node --import tsx bench/sweep.bench.ts   (about 15 minutes on 2 cores; more loaded)
 *   SWEEP_BENCH_SEEDS=8        tiny trial seeds per pool run (test/sweep/fixtures/tiny-space.yaml)
 *   SWEEP_BENCH_REAL=4         trial seeds of the driving defaults per pool run (0: none; ~90 s each)
 *   SWEEP_BENCH_DEFAULT=1      0: leave out the trial seed of the driving defaults
 */
import { loadavg, tmpdir } from 'node:os';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { figure, printReport, type BenchFigure } from './report.js';
import { initBackend } from '../src/core/backend.js';
import { parseTrainConfig } from '../src/jobs/train-config.js';
import { loadEncoderFor } from '../src/jobs/training.js';
import { LocalExecutor } from '../src/sweep/local-executor.js';
import { evaluationRoadSeeds } from '../src/sweep/evaluation-adapter.js';
import { readSpaceFile, configInput, type Params } from '../src/sweep/space.js';
import { runTrialSeed, type SeedTask } from '../src/sweep/trial-seed.js';
import { writeResults, writeTrials, type TrialRecord } from '../src/sweep/record.js';
import type { SeedResult } from '../src/sweep/objective.js';
import { roundTo } from '../src/core/math.js';

const tinySeeds = Number(process.env.SWEEP_BENCH_SEEDS ?? 8);
const realSeeds = Number(process.env.SWEEP_BENCH_REAL ?? 4);
const withDefault = process.env.SWEEP_BENCH_DEFAULT !== '0';
const dir = await mkdtemp(join(tmpdir(), 'daydrive-sweep-bench-'));
const { space } = await readSpaceFile('test/sweep/fixtures/tiny-space.yaml');
const roads = evaluationRoadSeeds(space.evaluation.roads, 0, parseTrainConfig(space.base, 'tiny space base').sim);
const r2 = (x: number) => roundTo(x, 2);

function tasks(n: number, tag: string): SeedTask[] {
  return Array.from({ length: n }, (_, i) => {
    const params: Params = { 'sim.safety.maxHeadingErrorDeg': 90 };
    return {
      sweepId: tag,
      trialId: i,
      seedIndex: 0,
      config: { ...configInput(space, params), seed: i },
      roadSeeds: roads,
      runDir: join(dir, `${tag}-${i}`),
      keepRun: false,
    };
  });
}

/** Runs the trial seeds `queue` on a fresh local pool of `workers`; wall time and the seeds' results. */
async function pool(workers: number, queue: SeedTask[]): Promise<{ wallS: number; results: SeedResult[] }> {
  const executor = new LocalExecutor(workers);
  const n = queue.length;
  const results: SeedResult[] = [];
  const t0 = performance.now();
  let running = 0;
  while (results.length < n) {
    while (running < workers && queue.length > 0) {
      executor.submit(queue.shift()!);
      running += 1;
    }
    const event = await executor.next();
    running -= 1;
    if (event.kind !== 'result') throw new Error(event.reason);
    results.push(event.result);
  }
  const wallS = (performance.now() - t0) / 1000;
  await executor.close();
  return { wallS, results };
}

type PoolRun = Awaited<ReturnType<typeof pool>>;
/** The same trial seeds on 2 workers against 1 (goal: 1.8x on 2 cores). */
function throughputFigure(what: string, one: PoolRun, two: PoolRun, seeds: string, more = ''): BenchFigure {
  return figure(
    `${what}, 2 local workers / 1`,
    r2(one.wallS / two.wallS),
    'x',
    { name: 'goal', value: 1.8 },
    true,
    `${seeds} each: 1 worker ${r2(one.wallS)} s, 2 workers ${r2(two.wallS)} s${more}`,
  );
}

const load = { before: loadavg().map((x) => r2(x)) };
const one = await pool(1, tasks(tinySeeds, 'w1'));
const two = await pool(2, tasks(tinySeeds, 'w2'));
const work = (rs: readonly SeedResult[]) => rs.reduce((s, r) => s + r.seconds.train + r.seconds.evaluate, 0);
const startupS = one.results.reduce((s, r) => s + r.seconds.startup, 0);
const overheadPerSeedS = (one.wallS - work(one.results)) / tinySeeds;

// Model load, measured alone (each trial seed loads the VAE twice: for training and for its evaluation).
await initBackend();
const tinyConfig = parseTrainConfig(tasks(1, 'x')[0]!.config, 'bench');
const m0 = performance.now();
(await loadEncoderFor(tinyConfig))?.dispose();
const modelLoadS = (performance.now() - m0) / 1000;
// Result write: the record of a 30-trial, 3-seed sweep rewritten (done after every finished trial seed).
const record: TrialRecord[] = Array.from({ length: 30 }, (_, id) => ({
  id,
  params: { 'sim.safety.maxHeadingErrorDeg': 90 },
  config: tasks(1, 'x')[0]!.config,
  state: 'done',
  seeds: [0, 1, 2].map((index) => ({
    index,
    seed: index,
    state: 'done' as const,
    result: one.results[index % one.results.length]!,
  })),
  createdAt: new Date().toISOString(),
}));
const w0 = performance.now();
await writeTrials(dir, record);
await writeResults(dir, space, record);
const writeS = (performance.now() - w0) / 1000;

const figures: BenchFigure[] = [
  figure(
    "overhead per trial seed, 1 local worker (wall minus the seeds' own train + evaluate, start-up amortised)",
    r2(overheadPerSeedS),
    's',
    { name: 'goal', value: 1 },
    false,
    `over ${tinySeeds} tiny trial seeds; the trial process's start-up (${r2(startupS)} s, paid once per process) included; model load ${r2(modelLoadS)} s per load (two per seed, inside train and evaluate); record write of a 30x3 sweep ${r2(writeS)} s`,
  ),
  figure(
    'overhead per trial seed in a warm trial process (start-up excluded)',
    r2(overheadPerSeedS - startupS / tinySeeds),
    's',
    { name: 'goal', value: 1 },
    false,
    'IPC, sampling, scoring and the sweep record per finished trial seed',
  ),
  throughputFigure('trial-seed throughput', one, two, `${tinySeeds} tiny trial seeds`),
];

// The same comparison on trial seeds of the driving defaults (seeds 0..N-1, each evaluated on the
// sweep presets' 10 roads of set 1): what a real sweep's throughput is. Training is deterministic
// for a seed, so both pools do the same work.
if (realSeeds > 0) {
  const presetRoads = evaluationRoadSeeds(10, 1, parseTrainConfig({}, 'defaults').sim);
  const realTasks = (tag: string): SeedTask[] =>
    Array.from({ length: realSeeds }, (_, seed) => ({
      sweepId: tag,
      trialId: seed,
      seedIndex: 0,
      config: { seed },
      roadSeeds: presetRoads,
      runDir: join(dir, `${tag}-${seed}`),
      keepRun: false,
    }));
  const realOne = await pool(1, realTasks('real-w1'));
  const realTwo = await pool(2, realTasks('real-w2'));
  const perSeed = (rs: readonly SeedResult[]) =>
    rs
      .map((r) => r2(r.seconds.train + r.seconds.evaluate))
      .sort((a, b) => a - b)
      .join(', ');
  figures.push(
    throughputFigure(
      'trial-seed throughput of the driving defaults',
      realOne,
      realTwo,
      `${realSeeds} trial seeds (seeds 0-${realSeeds - 1}, default training + evaluation on 10 roads)`,
      `; train + evaluate per seed, 1 worker: ${perSeed(realOne.results)} s; 2 workers: ${perSeed(realTwo.results)} s`,
    ),
  );
}

let defaultSeed: Record<string, unknown> | null = null;
if (withDefault) {
  const config = { seed: 0 };
  const defaultRoads = evaluationRoadSeeds(24, 0, parseTrainConfig(config, 'default config').sim);
  const result = await runTrialSeed(
    {
      sweepId: 'default',
      trialId: 0,
      seedIndex: 0,
      config,
      roadSeeds: defaultRoads,
      runDir: join(dir, 'default'),
      keepRun: false,
    },
    { worker: 'bench', startupS: 0, shouldStop: () => false },
  );
  const ts = result.trainSeconds;
  defaultSeed = {
    seconds: result.seconds,
    trainSplit: { ...ts, other: r2(result.seconds.train - ts.world - ts.agent - ts.optimise) },
    trainingEpisodes: result.trainingEpisodes,
    learningEpisodes: result.learningEpisodes,
    roads: result.roads,
  };
  figures.push(
    figure(
      `one trial seed of the driving defaults (train + evaluate on ${defaultRoads.length} unseen roads), one core`,
      result.seconds.total,
      's',
      { name: 'tiny trial seed (test space)', value: r2(work(one.results) / tinySeeds) },
      false,
      `train ${result.seconds.train} s (simulation ${ts.world}, agent ${ts.agent}, optimisation ${ts.optimise}, the rest: run-directory files and charts), evaluate ${result.seconds.evaluate} s`,
    ),
  );
}
await rm(dir, { recursive: true, force: true });
await printReport('sweep', figures, {
  load: { ...load, after: loadavg().map((x) => r2(x)) },
  runs: 'one run of each figure',
  defaultSeed,
});
