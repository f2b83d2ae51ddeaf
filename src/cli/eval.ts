import type { Command } from 'commander';
import { join, resolve } from 'node:path';
import { initBackend } from '../core/backend.js';
import { readJson } from '../core/files.js';
import { log } from '../core/logger.js';
import { agentPolicy, driveRoute, randomPolicy, summariseRoutes, zeroPolicy, type EpisodePolicy, type PolicyReport } from '../agent/evaluation.js';
import { addCommand, parseIntArg, type CommonOptions } from './command.js';
import { readCheckpoint, RUN_FILES } from './run-dir.js';
import { parseTrainConfig, type TrainConfig } from './train-config.js';
import { buildAgent, loadEncoderFor, simEnvFor, type TrainSummary } from './train.js';

/**
 * `daydrive eval`: Table I of Kendall et al. 2019 in simulation. Every policy drives the same
 * unseen roads (seeds from UNSEEN_ROAD_SEED_BASE up, disjoint from the training route and from
 * the VAE's collection seeds); the random and zero policies come first, then each trained run.
 */

/** Evaluation roads start here; training routes and VAE collection use small seeds. */
export const UNSEEN_ROAD_SEED_BASE = 1_000_000;
/** A drive is given up after this many disengagements on one road (the random policy's worst case). */
const MAX_DISENGAGEMENTS_PER_ROAD = 200;

export interface TableRow {
  readonly method: string;
  readonly trainingEpisodes: number | null;
  readonly trainingDistanceM: number | null;
  readonly trainingTimeS: number | null;
  readonly metresPerDisengagement: number;
  readonly disengagements: number;
  readonly distanceM: number;
}

export function unseenRoadSeeds(roads: number, seed: number): number[] {
  return Array.from({ length: roads }, (_, i) => UNSEEN_ROAD_SEED_BASE + seed * 10_000 + i);
}

async function evaluate(config: TrainConfig, policy: EpisodePolicy, roadSeeds: readonly number[]): Promise<PolicyReport> {
  const env = simEnvFor(config, 1);
  const routes = [];
  for (const seed of roadSeeds) {
    const route = await driveRoute(env, policy, seed, MAX_DISENGAGEMENTS_PER_ROAD);
    log.info({ policy: policy.name, road: seed, distanceM: Math.round(route.distanceM), disengagements: route.disengagements }, 'evaluation drive');
    routes.push(route);
  }
  return summariseRoutes(policy.name, routes);
}

function row(method: string, report: PolicyReport, training: TrainSummary | null): TableRow {
  const r1 = (x: number) => Math.round(x * 10) / 10;
  return {
    method,
    trainingEpisodes: training?.trainingEpisodes ?? null,
    trainingDistanceM: training ? training.trainingDistanceM : null,
    trainingTimeS: training ? training.trainingTimeS : null,
    metresPerDisengagement: r1(report.metresPerDisengagement),
    disengagements: report.disengagements,
    distanceM: r1(report.distanceM),
  };
}

/** The table as text, in the paper's columns. */
export function formatTable(rows: readonly TableRow[]): string {
  const header = ['method', 'training episodes', 'training distance (m)', 'training time (s)', 'm per disengagement', 'disengagements'];
  const cells = rows.map((r) => [
    r.method,
    r.trainingEpisodes === null ? '-' : String(r.trainingEpisodes),
    r.trainingDistanceM === null ? '-' : r.trainingDistanceM.toFixed(1),
    r.trainingTimeS === null ? '-' : r.trainingTimeS.toFixed(0),
    r.metresPerDisengagement.toFixed(1) + (r.disengagements === 0 ? ' (none)' : ''),
    String(r.disengagements),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: readonly string[]) => c.map((x, i) => (i === 0 ? x.padEnd(widths[i]!) : x.padStart(widths[i]!))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map(line)].join('\n');
}

export interface EvalOptions {
  readonly runs: readonly string[];
  readonly roads: number;
  readonly seed: number;
}

export async function runEvaluation(opts: EvalOptions): Promise<{ rows: TableRow[]; roadSeeds: number[]; routeLengthM: number }> {
  await initBackend();
  const roadSeeds = unseenRoadSeeds(opts.roads, opts.seed);
  const runs = await Promise.all(
    opts.runs.map(async (dir) => ({
      dir,
      config: parseTrainConfig(await readJson(join(dir, RUN_FILES.config)), `run config ${join(dir, RUN_FILES.config)}`),
      summary: (await readJson(join(dir, RUN_FILES.summary))) as TrainSummary,
    })),
  );
  const first = runs[0]!.config;
  const rows: TableRow[] = [];
  rows.push(row('random policy', await evaluate(first, randomPolicy(first.agent, opts.seed), roadSeeds), null));
  rows.push(row('zero policy', await evaluate(first, zeroPolicy(first.agent), roadSeeds), null));
  for (const run of runs) {
    const encoder = await loadEncoderFor(run.config);
    // Evaluation drives test episodes: nothing of them is kept for learning.
    const agent = buildAgent({ ...run.config, agent: { ...run.config.agent, replayTestEpisodes: false } }, encoder);
    try {
      await readCheckpoint(run.dir, agent);
      const name = `deep RL from ${run.config.agent.state === 'vae' ? 'VAE' : 'pixels'} (${run.config.algo})`;
      rows.push(row(name, await evaluate(run.config, agentPolicy(agent, name), roadSeeds), run.summary));
    } finally {
      agent.dispose();
      encoder?.dispose();
    }
  }
  return { rows, roadSeeds, routeLengthM: first.sim.road.routeLengthM };
}

interface EvalCliOptions extends CommonOptions {
  run: string[];
  roads: number;
  seed: number;
}

export function registerEval(program: Command): void {
  addCommand<EvalCliOptions>(
    program,
    'eval',
    "the paper's Table I on unseen roads: random policy, zero policy and each trained run",
    (cmd) =>
      cmd
        .requiredOption('--run <dir...>', 'run directories of daydrive train (several: one row each)')
        .option('--roads <n>', 'unseen roads, one route each', parseIntArg(1, 1000), 5)
        .option('--seed <n>', 'picks the unseen roads and the random policy', parseIntArg(0, 100_000), 0),
    async (_args, opts) => {
      const result = await runEvaluation({ runs: opts.run.map((d) => resolve(d)), roads: opts.roads, seed: opts.seed });
      return { ...result, table: formatTable(result.rows) };
    },
    (r) => `Table I on ${(r.roadSeeds as number[]).length} unseen roads of ${String(r.routeLengthM)} m:\n${String(r.table)}`,
  );
}
