import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { writeJsonSafely } from '../core/files.js';
import { log } from '../core/logger.js';
import type { RoadResult } from './evaluation.js';

/**
 * The random and zero policies' drives on a road set never change while the roads, the world's
 * configuration and the action shaping stay the same, so `daydrive eval` drives them once and
 * keeps them here:
 *   $DAYDRIVE_CACHE_DIR/eval-baselines/<key>.json   (default ~/.cache/daydrive, or $XDG_CACHE_HOME/daydrive)
 * The key is a SHA-256 of everything the drives depend on (road seeds, the whole simulator
 * config, the action shaping, the random policy's seed, the give-up limit, BASELINE_FORMAT).
 * Written through a temporary file and a rename; a damaged file is ignored and driven again.
 */

/** Bump when the drive itself changes (how a baseline policy acts or how a road is scored). */
export const BASELINE_FORMAT = 1;

export interface BaselineKeyInputs {
  readonly roadSeeds: readonly number[];
  readonly sim: unknown;
  readonly actionShaping: unknown;
  readonly randomSeed: number;
  readonly maxDisengagementsPerRoad: number;
}

export interface CachedBaselines {
  readonly key: string;
  readonly random: readonly RoadResult[];
  readonly zero: readonly RoadResult[];
}

export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.DAYDRIVE_CACHE_DIR) return env.DAYDRIVE_CACHE_DIR;
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'daydrive');
}

export function baselineKey(inputs: BaselineKeyInputs): string {
  return createHash('sha256')
    .update(JSON.stringify({ format: BASELINE_FORMAT, ...inputs }))
    .digest('hex');
}

export function baselinePath(key: string, dir = cacheDir()): string {
  return join(dir, 'eval-baselines', `${key}.json`);
}

function isRoadResults(x: unknown, roads: number): x is RoadResult[] {
  return (
    Array.isArray(x) &&
    x.length === roads &&
    x.every((r) => typeof r === 'object' && r !== null && typeof (r as RoadResult).distanceM === 'number')
  );
}

/** The cached drives for `key`, or null (none, or a file that is not a complete entry). */
export async function readBaselines(key: string, roads: number, dir = cacheDir()): Promise<CachedBaselines | null> {
  const path = baselinePath(key, dir);
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT')
      log.warn({ path, problem: (err as Error).message }, 'ignoring an unreadable baseline cache entry');
    return null;
  }
  const entry = raw as Partial<CachedBaselines>;
  if (entry.key !== key || !isRoadResults(entry.random, roads) || !isRoadResults(entry.zero, roads)) {
    log.warn({ path }, 'ignoring a baseline cache entry that does not match its key');
    return null;
  }
  return entry as CachedBaselines;
}

export async function writeBaselines(entry: CachedBaselines, dir = cacheDir()): Promise<string> {
  const path = baselinePath(entry.key, dir);
  await writeJsonSafely(path, entry);
  return path;
}
