/**
 * The main job, over seeds: `daydrive train` with the default configuration (deep RL from VAE)
 * and with `--state pixels`, then the paper's Table I on unseen roads (`daydrive eval`).
 * Figures: median training episodes to a full test drive (paper: 11 from VAE, 35 from pixels),
 * median wall-clock per run (goal: under 3 minutes on 2 cores), where the time goes, and metres
 * per disengagement on unseen roads (goal: at least 250).
 * Run: node --import tsx bench/train.bench.ts   (TRAIN_BENCH_SEEDS=5 TRAIN_BENCH_ROADS=3 TRAIN_BENCH_PIXEL_SEEDS=3)
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { figure, printReport, type BenchFigure } from './report.js';
import { runTraining, type TrainSummary } from '../src/cli/train.js';
import { runEvaluation } from '../src/cli/eval.js';
import { parseTrainConfig } from '../src/cli/train-config.js';

const PAPER_VAE_EPISODES = 11;
const PAPER_PIXEL_EPISODES = 35;
const GOAL_WALL_CLOCK_S = 180;
const GOAL_METRES_PER_DISENGAGEMENT = 250;

const seeds = Number(process.env.TRAIN_BENCH_SEEDS ?? 5);
const pixelSeeds = Number(process.env.TRAIN_BENCH_PIXEL_SEEDS ?? 3);
const roads = Number(process.env.TRAIN_BENCH_ROADS ?? 3);

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

async function trainSeeds(state: 'vae' | 'pixels', n: number, root: string): Promise<{ dirs: string[]; runs: TrainSummary[] }> {
  const dirs: string[] = [];
  const runs: TrainSummary[] = [];
  for (let seed = 0; seed < n; seed++) {
    const out = join(root, `${state}-${seed}`);
    const summary = await runTraining({ config: parseTrainConfig({ seed, agent: { state } }, 'bench config'), out, resume: false });
    process.stderr.write(`${state} seed ${seed}: ${summary.solved ? `solved after ${summary.trainingEpisodes} episodes` : 'not solved'} in ${summary.seconds.total} s\n`);
    dirs.push(out);
    runs.push(summary);
  }
  return { dirs, runs };
}

/** Unsolved runs count as their whole budget (a lower bound on the episodes they would need). */
const episodesOf = (r: TrainSummary) => r.trainingEpisodes ?? r.episodes;

const root = await mkdtemp(join(tmpdir(), 'daydrive-train-bench-'));
try {
  const vae = await trainSeeds('vae', seeds, root);
  const pixels = await trainSeeds('pixels', pixelSeeds, root);
  const table = await runEvaluation({ runs: vae.dirs, roads, seed: 0 });
  const agentRows = table.rows.slice(2);
  const distanceM = agentRows.reduce((s, r) => s + r.distanceM, 0);
  const disengagements = agentRows.reduce((s, r) => s + r.disengagements, 0);
  const sum = (key: 'world' | 'agent' | 'optimise' | 'total') => vae.runs.reduce((s, r) => s + r.seconds[key], 0);
  const figures: BenchFigure[] = [
    figure('median training episodes to a full test drive (VAE)', median(vae.runs.map(episodesOf)), 'episodes', { name: 'paper (real car)', value: PAPER_VAE_EPISODES }, false),
    figure('median training episodes to a full test drive (pixels)', median(pixels.runs.map(episodesOf)), 'episodes', { name: 'paper (real car)', value: PAPER_PIXEL_EPISODES }, false),
    figure('median wall-clock of daydrive train (VAE)', median(vae.runs.map((r) => r.seconds.total)), 's', { name: 'goal', value: GOAL_WALL_CLOCK_S }, false),
    figure('metres per disengagement on unseen roads (VAE agents, pooled)', distanceM / Math.max(1, disengagements), 'm', { name: 'goal', value: GOAL_METRES_PER_DISENGAGEMENT }, true),
    figure('metres per disengagement on unseen roads (zero policy)', table.rows[1]!.metresPerDisengagement, 'm', { name: 'random policy', value: table.rows[0]!.metresPerDisengagement }, true),
  ];
  printReport('train', figures, {
    seeds,
    pixelSeeds,
    roads,
    solved: { vae: vae.runs.filter((r) => r.solved).length, pixels: pixels.runs.filter((r) => r.solved).length },
    episodes: { vae: vae.runs.map((r) => r.trainingEpisodes), pixels: pixels.runs.map((r) => r.trainingEpisodes) },
    timeShare: { world: sum('world') / sum('total'), agent: sum('agent') / sum('total'), optimise: sum('optimise') / sum('total') },
    table: table.rows,
  });
} finally {
  await rm(root, { recursive: true, force: true });
}
