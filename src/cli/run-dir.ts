import { join } from 'node:path';
import { lineChartPng } from '../core/chart.js';
import { exists, readJson, replaceDirectory, writeFileSafely, writeJsonSafely } from '../core/files.js';
import { UserError } from '../core/errors.js';
import type { DrivingAgent } from '../agent/agent.js';
import type { EpisodeRecord, TrainingProgress } from '../agent/training.js';

/**
 * The run directory of `daydrive train`:
 *   config.json          the resolved configuration
 *   metrics.jsonl        one EpisodeRecord per line
 *   learning-curve.png   distance per episode, train and test
 *   checkpoint/          agent (learner, replay, noise, task) + progress.json, replaced atomically
 *   final-test/          camera frames of the last test drive and map.png
 *   summary.json         the result (also printed with --json)
 */
export const RUN_FILES = {
  config: 'config.json',
  metrics: 'metrics.jsonl',
  curve: 'learning-curve.png',
  checkpoint: 'checkpoint',
  progress: 'progress.json',
  agent: 'agent',
  finalTest: 'final-test',
  summary: 'summary.json',
} as const;

/** Rewritten whole (atomically) from the records, so a resumed run never carries lines past its checkpoint. */
export async function writeMetrics(runDir: string, records: readonly EpisodeRecord[]): Promise<void> {
  await writeFileSafely(join(runDir, RUN_FILES.metrics), records.map((r) => JSON.stringify(r)).join('\n') + '\n');
}

export async function writeLearningCurve(runDir: string, records: readonly EpisodeRecord[], title: string): Promise<void> {
  await lineChartPng(
    records.map((r) => ({ x: r.episode, y: Math.round(r.distanceM * 10) / 10, series: r.mode })),
    { title, xTitle: 'episode', yTitle: 'distance before intervention (m)', path: join(runDir, RUN_FILES.curve) },
  );
}

export async function writeCheckpoint(runDir: string, agent: DrivingAgent, progress: TrainingProgress): Promise<void> {
  await replaceDirectory(join(runDir, RUN_FILES.checkpoint), async (tmp) => {
    await agent.save(join(tmp, RUN_FILES.agent));
    await writeJsonSafely(join(tmp, RUN_FILES.progress), progress);
  });
}

export async function hasCheckpoint(runDir: string): Promise<boolean> {
  return exists(join(runDir, RUN_FILES.checkpoint, RUN_FILES.progress));
}

/** Loads the agent and the progress of the run's last checkpoint. */
export async function readCheckpoint(runDir: string, agent: DrivingAgent): Promise<TrainingProgress> {
  const dir = join(runDir, RUN_FILES.checkpoint);
  if (!(await hasCheckpoint(runDir))) throw new UserError(`no checkpoint in ${runDir} (expected ${dir}/${RUN_FILES.progress})`);
  await agent.load(join(dir, RUN_FILES.agent));
  const progress = (await readJson(join(dir, RUN_FILES.progress))) as TrainingProgress;
  if (!Array.isArray(progress.records) || typeof progress.elapsedS !== 'number') throw new UserError(`${dir}/${RUN_FILES.progress} is not a training progress file`);
  return progress;
}
