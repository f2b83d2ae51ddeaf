import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { parseWith } from '../core/config.js';
import type { RgbImage } from '../core/env.js';
import { UserError } from '../core/errors.js';
import { readJson, writeFileSafely, writeJsonSafely } from '../core/files.js';
import { Rng } from '../core/rng.js';
import { BadImageError, preprocessRgb, readImageFile, rgbToPngBytes, type PreprocessOptions } from './preprocess.js';

/**
 * A frame dataset for VAE pretraining, one directory:
 *   dataset.json   what was collected (source, camera size, episodes, seed / bag and topic)
 *   index.jsonl    one JSON object per frame (file, episode, step; for simulator frames the
 *                  cross-track and heading error, used for the latent probes' R^2; for bag frames
 *                  the odometry pose and speed and the driver's command at the frame)
 *   frames/        000000.png ...
 */

export const DATASET_META_FILE = 'dataset.json';
export const DATASET_INDEX_FILE = 'index.jsonl';
export const FRAMES_SUBDIR = 'frames';

export const frameRecordSchema = z.object({
  file: z.string(),
  /** Frames of one episode share a road (simulator) or a recording segment (bag). */
  episode: z.number().int(),
  step: z.number().int(),
  roadSeed: z.number().int().optional(),
  crossTrackErrorM: z.number().optional(),
  headingErrorRad: z.number().optional(),
  speedMps: z.number().optional(),
  steeringRad: z.number().optional(),
  timestampNs: z.string().optional(),
  /** Bag frames: the car's odometry at the frame (odom frame, metres and radians). */
  odomXM: z.number().optional(),
  odomYM: z.number().optional(),
  odomYawRad: z.number().optional(),
  /** Bag frames: the driver's latest command (steering angle, radians; speed set-point, m/s). */
  commandSteeringRad: z.number().optional(),
  commandSpeedMps: z.number().optional(),
});

export type FrameRecord = z.output<typeof frameRecordSchema>;

export const datasetMetaSchema = z.object({
  format: z.literal('daydrive-frames'),
  version: z.literal(1),
  source: z.enum(['sim', 'bag']),
  frames: z.number().int(),
  episodes: z.number().int(),
  camera: z.object({ widthPx: z.number().int(), heightPx: z.number().int() }).optional(),
  seed: z.number().int().optional(),
  policy: z.string().optional(),
  /** The command that collected the frames. */
  command: z.string().optional(),
  bag: z.string().optional(),
  topic: z.string().optional(),
  skippedMessages: z.number().int().optional(),
  /** Bag chunks that could not be read (their frames are missing). */
  skippedChunks: z.number().int().optional(),
  createdAt: z.string(),
});

export type DatasetMeta = z.output<typeof datasetMetaSchema>;

/** Writes frames (PNG) and their index into a directory being filled (see replaceDirectory). */
export class FrameWriter {
  private readonly lines: string[] = [];

  constructor(private readonly dir: string) {}

  get count(): number {
    return this.lines.length;
  }

  async add(image: RgbImage, record: Omit<FrameRecord, 'file'>): Promise<FrameRecord> {
    const file = `${FRAMES_SUBDIR}/${String(this.lines.length).padStart(6, '0')}.png`;
    await writeFileSafely(join(this.dir, file), await rgbToPngBytes(image));
    const full: FrameRecord = { file, ...record };
    this.lines.push(JSON.stringify(full));
    return full;
  }

  async finish(meta: Omit<DatasetMeta, 'format' | 'version' | 'frames' | 'createdAt'>): Promise<DatasetMeta> {
    const full: DatasetMeta = {
      format: 'daydrive-frames',
      version: 1,
      frames: this.lines.length,
      createdAt: new Date().toISOString(),
      ...meta,
    };
    await writeFileSafely(
      join(this.dir, DATASET_INDEX_FILE),
      this.lines.join('\n') + (this.lines.length > 0 ? '\n' : ''),
    );
    await writeJsonSafely(join(this.dir, DATASET_META_FILE), full);
    return full;
  }
}

export interface FrameIndex {
  readonly dir: string;
  readonly meta: DatasetMeta;
  readonly records: readonly FrameRecord[];
}

/** Reads dataset.json and index.jsonl; a bad line is a UserError naming file and line. */
export async function readFrameIndex(dir: string): Promise<FrameIndex> {
  const meta = parseWith(datasetMetaSchema, await readJson(join(dir, DATASET_META_FILE)), join(dir, DATASET_META_FILE));
  const indexPath = join(dir, DATASET_INDEX_FILE);
  let text: string;
  try {
    text = await readFile(indexPath, 'utf8');
  } catch (err) {
    throw new UserError(`cannot read ${indexPath}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  const records: FrameRecord[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    let raw: unknown;
    try {
      raw = JSON.parse(line);
    } catch {
      throw new UserError(`${indexPath} line ${i + 1} is not valid JSON`);
    }
    records.push(parseWith(frameRecordSchema, raw, `${indexPath} line ${i + 1}`));
  });
  if (records.length === 0) throw new UserError(`dataset ${dir} has no frames`);
  return { dir, meta, records };
}

/** Preprocessed frames, packed: `count` images of height x width x 3 bytes. */
export interface FrameTensorData {
  readonly width: number;
  readonly height: number;
  readonly images: Uint8Array;
  readonly records: FrameRecord[];
  /** Frames that could not be read or decoded (skipped). */
  readonly skipped: { file: string; problem: string }[];
}

/** Reads and preprocesses the frames (the same code path as the encoder at run time). */
export async function loadFrames(
  index: FrameIndex,
  opts: PreprocessOptions,
  onProgress?: (done: number, total: number) => void,
): Promise<FrameTensorData> {
  const size = opts.width * opts.height * 3;
  const images = new Uint8Array(index.records.length * size);
  const kept: FrameRecord[] = [];
  const skipped: { file: string; problem: string }[] = [];
  for (let i = 0; i < index.records.length; i++) {
    const rec = index.records[i]!;
    try {
      const frame = await preprocessRgb(await readImageFile(join(index.dir, rec.file)), opts);
      images.set(frame.data, kept.length * size);
      kept.push(rec);
    } catch (err) {
      if (!(err instanceof BadImageError)) throw err;
      skipped.push({ file: rec.file, problem: err.message });
    }
    if (onProgress && (i % 64 === 63 || i === index.records.length - 1)) onProgress(i + 1, index.records.length);
  }
  return {
    width: opts.width,
    height: opts.height,
    images: images.subarray(0, kept.length * size),
    records: kept,
    skipped,
  };
}

/**
 * Splits frame positions into training and validation by whole episodes (a simulator episode is
 * one road, so validation frames come from roads the model never saw). With a single episode
 * the frames are split into blocks of 50 consecutive frames instead.
 */
export function splitByEpisode(
  records: readonly FrameRecord[],
  validationFraction: number,
  seed: number,
): { train: number[]; validation: number[] } {
  const episodes = [...new Set(records.map((r) => r.episode))];
  const groupOf =
    episodes.length >= 2
      ? (r: FrameRecord, _i: number) => r.episode
      : (_r: FrameRecord, i: number) => Math.floor(i / 50);
  const groups = [...new Set(records.map(groupOf))].sort((a, b) => a - b);
  const rng = Rng.fromSeed(seed);
  for (let i = groups.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [groups[i], groups[j]] = [groups[j]!, groups[i]!];
  }
  const nVal =
    validationFraction <= 0
      ? 0
      : Math.min(groups.length - 1, Math.max(1, Math.round(groups.length * validationFraction)));
  const valGroups = new Set(groups.slice(0, nVal));
  const train: number[] = [];
  const validation: number[] = [];
  records.forEach((r, i) => (valGroups.has(groupOf(r, i)) ? validation : train).push(i));
  return { train, validation };
}
