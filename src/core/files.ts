import { mkdir, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import writeFileAtomic from 'write-file-atomic';
import { fileSystemError, isSystemError, systemErrorCause, UserError } from './errors.js';

/**
 * Creates directory `path` and its missing parents, one level at a time, with errors that name
 * the path and the cause in one line. Not `mkdir({ recursive: true })`: on Node 20 that spins
 * forever under /proc (mkdir answers ENOENT there although the parent exists), and its errors
 * say "no such file" for a path under a file or on a read-only file system.
 */
export async function ensureDirectory(path: string): Promise<void> {
  const target = resolve(path);
  const missing: string[] = [];
  for (let at = target; ; at = dirname(at)) {
    let isDirectory: boolean;
    try {
      isDirectory = (await stat(at)).isDirectory();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // ENOTDIR: a part above is a file; going up finds it.
      if ((code === 'ENOENT' || code === 'ENOTDIR') && dirname(at) !== at) {
        missing.push(at);
        continue;
      }
      throw fileSystemError(err, 'create directory', target);
    }
    if (!isDirectory) {
      throw new UserError(
        at === target
          ? `cannot create directory ${target}: it is a file`
          : `cannot create directory ${target}: ${at} is a file, not a directory`,
      );
    }
    break;
  }
  for (const dir of missing.reverse()) {
    try {
      await mkdir(dir);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST' && (await stat(dir)).isDirectory()) continue; // made meanwhile
      if (code === 'ENOENT') {
        // The parent exists (it was found or made above): this file system makes no directories (/proc, /sys).
        throw new UserError(
          `cannot create directory ${dir}: the file system of ${dirname(dir)} does not allow it (ENOENT)`,
        );
      }
      throw fileSystemError(err, 'create directory', dir);
    }
  }
}

/** Writes a file through a temporary file and a rename: readers never see it half-written. */
export async function writeFileSafely(path: string, data: string | Uint8Array): Promise<void> {
  await ensureDirectory(dirname(path));
  try {
    await writeFileAtomic(
      path,
      typeof data === 'string' ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength),
    );
  } catch (err) {
    // write-file-atomic's error names its temporary file: name the file the user knows.
    throw fileSystemError(err, 'write', path);
  }
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
    throw new UserError(`cannot read ${path}: ${isSystemError(err) ? systemErrorCause(err) : String(err)}`);
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

/** Runs a rename, reporting a failure as one line naming both paths. */
async function renameOrExplain(from: string, to: string): Promise<void> {
  try {
    await rename(from, to);
  } catch (err) {
    throw fileSystemError(err, `rename ${from} to`, to);
  }
}

/**
 * Replaces directory `dir` by what `fill(tmpDir)` writes, atomically as far as the file system
 * allows: fill a sibling `DIR.tmp-<ms>-<pid>`, move the old one aside to `DIR.old-<ms>-<pid>`,
 * rename the new one in, drop the old. If `fill` or a rename fails, the existing directory is
 * untouched (or put back) and the temporary one removed. A crash between the two renames leaves
 * both complete copies: recoverReplacedDirectory() finds them.
 */
export async function replaceDirectory(dir: string, fill: (tmpDir: string) => Promise<void>): Promise<void> {
  const target = resolve(dir);
  const stamp = `${Date.now()}-${process.pid}`;
  const tmp = `${target}.tmp-${stamp}`;
  const old = `${target}.old-${stamp}`;
  await ensureDirectory(dirname(target));
  try {
    await mkdir(tmp);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT')
      throw new UserError(
        `cannot create directory ${target}: the file system of ${dirname(target)} does not allow it (ENOENT)`,
      );
    throw fileSystemError(err, 'create directory', target);
  }
  try {
    await fill(tmp);
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
  const hadOld = await exists(target);
  try {
    if (hadOld) await renameOrExplain(target, old);
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
  try {
    await renameOrExplain(tmp, target);
  } catch (err) {
    if (hadOld) await rename(old, target).catch(() => undefined);
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
  if (hadOld) await rm(old, { recursive: true, force: true });
}

/** A copy replaceDirectory left beside `dir`: the new one being filled (tmp) or the old one set aside (old). */
export interface LeftoverCopy {
  readonly path: string;
  readonly kind: 'tmp' | 'old';
  /** When the replacement began (ms since the epoch). */
  readonly startedMs: number;
}

/** The `DIR.tmp-*` and `DIR.old-*` copies beside `dir`, newest first (at one time the new copy first). */
export async function leftoverCopies(dir: string): Promise<LeftoverCopy[]> {
  const target = resolve(dir);
  const name = basename(target);
  let siblings: string[];
  try {
    siblings = await readdir(dirname(target));
  } catch {
    return [];
  }
  const copies: LeftoverCopy[] = [];
  for (const sibling of siblings) {
    if (!sibling.startsWith(`${name}.`)) continue;
    const m = /^\.(tmp|old)-(\d+)-(\d+)$/.exec(sibling.slice(name.length));
    if (m) copies.push({ path: join(dirname(target), sibling), kind: m[1] as 'tmp' | 'old', startedMs: Number(m[2]) });
  }
  return copies.sort((a, b) => b.startedMs - a.startedMs || (a.kind === b.kind ? 0 : a.kind === 'tmp' ? -1 : 1));
}

/**
 * Where `dir`'s content is: `dir` itself, or after a crash between replaceDirectory's two renames
 * (`dir` moved aside, the new copy not yet renamed in) the newest leftover copy that `isComplete`
 * accepts. Null when there is none. Reads only: see recoverReplacedDirectory.
 */
export async function findReplacedDirectory(
  dir: string,
  isComplete: (copy: string) => Promise<boolean>,
): Promise<string | null> {
  const target = resolve(dir);
  if (await exists(target)) return target;
  for (const copy of await leftoverCopies(target)) if (await isComplete(copy.path)) return copy.path;
  return null;
}

/**
 * Puts `dir` back after a crash inside replaceDirectory: when `dir` is missing, the newest
 * complete leftover copy is renamed to `dir`; then every other leftover copy is removed (a
 * `.tmp-*` beside an existing `dir` was never finished, an `.old-*` was to be dropped). Only for
 * the directory's one writer (a resumed run), never while another process may be replacing it.
 * Returns the copy restored (null if none) and the copies removed.
 */
export async function recoverReplacedDirectory(
  dir: string,
  isComplete: (copy: string) => Promise<boolean>,
): Promise<{ restored: string | null; removed: string[] }> {
  const target = resolve(dir);
  let restored: string | null = null;
  const copies = await leftoverCopies(target);
  if (!(await exists(target))) {
    for (const copy of copies) {
      if (await isComplete(copy.path)) {
        await renameOrExplain(copy.path, target);
        restored = copy.path;
        break;
      }
    }
  }
  const removed: string[] = [];
  for (const copy of copies) {
    if (copy.path === restored) continue;
    await rm(copy.path, { recursive: true, force: true });
    removed.push(copy.path);
  }
  return { restored, removed };
}
