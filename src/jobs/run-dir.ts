import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { lineChartPng } from '../core/chart.js';
import {
  CHECKSUMS_FILE,
  hasValidChecksums,
  verifyDirectoryChecksums,
  writeDirectoryChecksums,
} from '../core/checksums.js';
import {
  exists,
  findReplacedDirectory,
  readJson,
  recoverReplacedDirectory,
  replaceDirectory,
  writeFileSafely,
  writeJsonSafely,
} from '../core/files.js';
import { log } from '../core/logger.js';
import { UserError } from '../core/errors.js';
import type { DrivingAgent } from '../agent/agent.js';
import type { EpisodeRecord, TrainingProgress } from '../agent/training.js';
import { roundTo } from '../core/math.js';

/**
 * The run directory of `daydrive train`:
 *   config.json          the resolved configuration
 *   metrics.jsonl        one EpisodeRecord per line
 *   learning-curve.png   distance per episode, train and test (at most every 5 s, and at the end)
 *   checkpoint/          agent (learner, replay, noise, task) + progress.json + checksums.json, replaced atomically
 *   final-test/          camera frames of the last test drive and map.png
 *   overview.png         one picture of the run: a camera frame of the final test, its map, the learning curve
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
  overview: 'overview.png',
  summary: 'summary.json',
} as const;

/** Rewritten whole (atomically) from the records, so a resumed run never carries lines past its checkpoint. */
export async function writeMetrics(runDir: string, records: readonly EpisodeRecord[]): Promise<void> {
  await writeFileSafely(join(runDir, RUN_FILES.metrics), records.map((r) => JSON.stringify(r)).join('\n') + '\n');
}

/** How often a running job redraws learning-curve.png at most (a chart costs about 0.1 s of CPU). */
export const LEARNING_CURVE_PERIOD_MS = 5000;

/**
 * learning-curve.png of a running job: redrawn after an episode when the last drawing is at least
 * `periodMs` old, and by flush() at the end. Short simulated episodes come several a second, and a
 * drawing per episode was a twelfth of a default training run; on a car, where an episode takes
 * longer than the period, every episode is drawn.
 */
export class LearningCurveWriter {
  private drawnAtMs = -Infinity;
  private pending: readonly EpisodeRecord[] | null = null;

  constructor(
    private readonly runDir: string,
    private readonly title: string,
    private readonly periodMs = LEARNING_CURVE_PERIOD_MS,
  ) {}

  /** The records so far; drawn now when the last drawing is old enough, else at a later call. */
  async update(records: readonly EpisodeRecord[]): Promise<void> {
    this.pending = records;
    if (performance.now() - this.drawnAtMs >= this.periodMs) await this.flush();
  }

  /** Draws the latest records if they have not been drawn. */
  async flush(): Promise<void> {
    const records = this.pending;
    if (records === null) return;
    this.pending = null;
    await writeLearningCurve(this.runDir, records, this.title);
    this.drawnAtMs = performance.now();
  }
}

export async function writeLearningCurve(
  runDir: string,
  records: readonly EpisodeRecord[],
  title: string,
): Promise<void> {
  await lineChartPng(
    records.map((r) => ({ x: r.episode, y: roundTo(r.distanceM, 1), series: r.mode })),
    { title, xTitle: 'episode', yTitle: 'distance before intervention (m)', path: join(runDir, RUN_FILES.curve) },
  );
}

export async function writeCheckpoint(runDir: string, agent: DrivingAgent, progress: TrainingProgress): Promise<void> {
  await replaceDirectory(join(runDir, RUN_FILES.checkpoint), async (tmp) => {
    await agent.save(join(tmp, RUN_FILES.agent));
    await writeJsonSafely(join(tmp, RUN_FILES.progress), progress);
    // Last: a copy with valid checksums is complete (recovery after a crash relies on it).
    await writeDirectoryChecksums(tmp);
  });
}

/** A leftover copy of the checkpoint is usable only when complete and intact. */
const isCompleteCheckpoint = (dir: string): Promise<boolean> => hasValidChecksums(dir);

/**
 * The run's checkpoint directory: `checkpoint/`, or after a crash between the two renames of its
 * replacement the newest complete copy beside it (`checkpoint.tmp-*` or `checkpoint.old-*`);
 * null when there is none.
 */
export async function checkpointDirOf(runDir: string): Promise<string | null> {
  const dir = await findReplacedDirectory(join(runDir, RUN_FILES.checkpoint), isCompleteCheckpoint);
  return dir !== null && (await exists(join(dir, RUN_FILES.progress))) ? dir : null;
}

export async function hasCheckpoint(runDir: string): Promise<boolean> {
  return (await checkpointDirOf(runDir)) !== null;
}

/**
 * For the run's one writer, before it resumes: puts `checkpoint/` back from the newest complete
 * copy when a crash left it missing, and removes the other copies. Says what it did.
 */
export async function recoverCheckpoint(runDir: string): Promise<void> {
  const { restored, removed } = await recoverReplacedDirectory(
    join(runDir, RUN_FILES.checkpoint),
    isCompleteCheckpoint,
  );
  if (restored !== null)
    log.warn({ from: restored }, 'the last checkpoint replacement was cut short: restored the newest complete copy');
  if (removed.length > 0) log.info({ removed }, 'removed leftover checkpoint copies');
}

/**
 * Loads the agent and the progress of the run's last checkpoint, after checking every file
 * against the checkpoint's checksums (a checkpoint from before checksums is loaded with a warning).
 */
export async function readCheckpoint(runDir: string, agent: DrivingAgent): Promise<TrainingProgress> {
  const dir = await checkpointDirOf(runDir);
  if (dir === null)
    throw new UserError(
      `no checkpoint in ${runDir} (expected ${join(runDir, RUN_FILES.checkpoint, RUN_FILES.progress)})`,
    );
  if ((await verifyDirectoryChecksums(dir)) === 'absent')
    log.warn({ dir }, `the checkpoint has no ${CHECKSUMS_FILE} (written by an older daydrive): loaded unverified`);
  await agent.load(join(dir, RUN_FILES.agent));
  const progress = (await readJson(join(dir, RUN_FILES.progress))) as TrainingProgress;
  if (!Array.isArray(progress.records) || typeof progress.elapsedS !== 'number')
    throw new UserError(`${dir}/${RUN_FILES.progress} is not a training progress file`);
  return progress;
}

/** Height of every panel of overview.png, pixels. */
const OVERVIEW_PANEL_PX = 360;

/**
 * overview.png: a camera frame from the middle of the final test drive, the map of that drive and
 * the learning curve, side by side at one height (the picture a person looks at first). Needs
 * final-test/ and learning-curve.png; returns false (writing nothing) when the run has no test drive.
 */
export async function writeOverview(runDir: string): Promise<boolean> {
  const testDir = join(runDir, RUN_FILES.finalTest);
  const frames = (await exists(testDir)) ? (await readdir(testDir)).filter((f) => f.startsWith('frame_')).sort() : [];
  if (frames.length === 0 || !(await exists(join(testDir, 'map.png')))) return false;
  const panelPaths = [
    join(testDir, frames[Math.floor(frames.length / 2)]!),
    join(testDir, 'map.png'),
    join(runDir, RUN_FILES.curve),
  ];
  const panels = await Promise.all(
    panelPaths.map(async (path) => {
      const { data, info } = await sharp(path)
        .resize({ height: OVERVIEW_PANEL_PX, kernel: 'nearest' })
        .flatten({ background: '#ffffff' })
        .png()
        .toBuffer({ resolveWithObject: true });
      return { data, width: info.width };
    }),
  );
  const gapPx = 12;
  const width = panels.reduce((w, p) => w + p.width, 0) + gapPx * (panels.length - 1);
  let left = 0;
  const composite = panels.map((p) => {
    const placed = { input: p.data, left, top: 0 };
    left += p.width + gapPx;
    return placed;
  });
  const png = await sharp({ create: { width, height: OVERVIEW_PANEL_PX, channels: 3, background: '#ffffff' } })
    .composite(composite)
    .png()
    .toBuffer();
  await writeFileSafely(join(runDir, RUN_FILES.overview), png);
  return true;
}
