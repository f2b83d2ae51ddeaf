import { mkdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import writeFileAtomic from 'write-file-atomic';
import { UserError } from './errors.js';

/** Writes a file through a temporary file and a rename: readers never see it half-written. */
export async function writeFileSafely(path: string, data: string | Uint8Array): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFileAtomic(path, typeof data === 'string' ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength));
}

export async function writeJsonSafely(path: string, value: unknown): Promise<void> {
  await writeFileSafely(path, JSON.stringify(value, null, 2) + '\n');
}

/** Reads and parses a JSON file; a missing or corrupt file is a UserError naming the path. */
export async function readJson(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new UserError(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new UserError(`${path} is not valid JSON: ${(err as Error).message}`);
  }
}

export async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Replaces directory `dir` by what `fill(tmpDir)` writes, atomically as far as the file system
 * allows: fill a sibling temp dir, move the old one aside, rename the new one in, drop the old.
 * If `fill` throws, the existing directory is untouched.
 */
export async function replaceDirectory(dir: string, fill: (tmpDir: string) => Promise<void>): Promise<void> {
  const stamp = `${process.pid}-${Date.now()}`;
  const tmp = `${dir}.tmp-${stamp}`;
  const old = `${dir}.old-${stamp}`;
  await mkdir(tmp, { recursive: true });
  try {
    await fill(tmp);
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
  const hadOld = await exists(dir);
  if (hadOld) await rename(dir, old);
  await rename(tmp, dir);
  if (hadOld) await rm(old, { recursive: true, force: true });
}

