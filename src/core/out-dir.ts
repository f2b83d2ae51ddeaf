import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { z } from 'zod';
import { fileSystemError, UserError } from './errors.js';
import { ensureDirectory, readJson, replaceDirectory, writeJsonSafely } from './files.js';
import { log } from './logger.js';

/**
 * The safety of a command's output directory (`--out DIR`): nothing a user has is lost.
 *
 * - A missing directory is created whole (filled beside it, then renamed in).
 * - An empty one is filled.
 * - One holding this command's own earlier output, recognised by the marker file
 *   `.daydrive-output.json` that lists what the command wrote, is replaced (atomically), with a
 *   warning saying so.
 * - Any other non-empty directory is refused, unless `force`: then the command writes into it,
 *   replacing entries of the same name and removing nothing else.
 *
 * The current directory (or one above it) is never renamed: it is written into.
 */
export const OUTPUT_MARKER_FILE = '.daydrive-output.json';
const FORMAT = 'daydrive-output-v1';

const markerSchema = z.object({
  format: z.literal(FORMAT),
  command: z.string(),
  writtenAt: z.string(),
  entries: z.array(z.string()),
});

export type OutputMarker = z.output<typeof markerSchema>;

export interface OutputDirOptions {
  /** The command, as a user types it after `daydrive` ('sim render'). */
  readonly command: string;
  /** --force: write into a non-empty directory the command did not write. */
  readonly force: boolean;
}

/** What `--out DIR` holds now. */
export type OutputDirState =
  | { readonly kind: 'absent' }
  | { readonly kind: 'empty' }
  /** The command's own earlier output: every entry is listed in its marker. */
  | { readonly kind: 'own'; readonly marker: OutputMarker }
  /** Anything else; `marker` is the command's own marker if there is one (entries it did not write sit beside it). */
  | { readonly kind: 'foreign'; readonly entries: readonly string[]; readonly marker: OutputMarker | null };

async function readMarker(dir: string): Promise<OutputMarker | null> {
  try {
    const parsed = markerSchema.safeParse(await readJson(join(dir, OUTPUT_MARKER_FILE)));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

/** Looks at `dir` (no changes). A file, or a path under a file, is a one-line UserError. */
export async function inspectOutputDir(dir: string, command: string): Promise<OutputDirState> {
  const target = resolve(dir);
  let isDirectory: boolean;
  try {
    isDirectory = (await stat(target)).isDirectory();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { kind: 'absent' };
    if (code === 'ENOTDIR')
      throw new UserError(
        `cannot use ${dir} as the output directory: a part of the path is a file, not a directory (ENOTDIR)`,
      );
    throw fileSystemError(err, 'use as the output directory', dir);
  }
  if (!isDirectory) throw new UserError(`cannot use ${dir} as the output directory: it is a file`);
  let entries: string[];
  try {
    entries = await readdir(target);
  } catch (err) {
    throw fileSystemError(err, 'read the output directory', dir);
  }
  if (entries.length === 0) return { kind: 'empty' };
  const found = await readMarker(target);
  const marker = found !== null && found.command === command ? found : null;
  const others = entries.filter((e) => e !== OUTPUT_MARKER_FILE && !(marker?.entries.includes(e) ?? false));
  if (marker !== null && others.length === 0) return { kind: 'own', marker };
  return { kind: 'foreign', entries: others, marker };
}

/** A one-line refusal of a non-empty directory the command did not write. */
export function refuseForeign(dir: string, command: string, entries: readonly string[]): UserError {
  const shown = entries.slice(0, 3).join(', ') + (entries.length > 3 ? `, ... (${entries.length} entries)` : '');
  return new UserError(
    `${dir} is not empty and holds files \`daydrive ${command}\` did not write (${shown}): choose another --out, or add --force to write into it (entries of the same name are replaced, nothing else is removed)`,
  );
}

/** Refuses `dir` unless it is absent, empty, the command's own output, or `force` is given; returns what it holds. */
export async function checkOutputDir(dir: string, opts: OutputDirOptions): Promise<OutputDirState> {
  const state = await inspectOutputDir(dir, opts.command);
  if (state.kind === 'foreign' && !opts.force) throw refuseForeign(dir, opts.command, state.entries);
  return state;
}

/** True when `dir` is the current directory or one above it: renaming it would pull the ground from under the shell. */
function holdsWorkingDirectory(dir: string): boolean {
  const rel = relative(resolve(dir), process.cwd());
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

/** Writes (or rewrites) the marker listing what the command wrote into `dir`. */
export async function writeOutputMarker(dir: string, command: string, entries: readonly string[]): Promise<void> {
  const marker: OutputMarker = {
    format: FORMAT,
    command,
    writtenAt: new Date().toISOString(),
    entries: [...new Set(entries)].filter((e) => e !== OUTPUT_MARKER_FILE).sort(),
  };
  await writeJsonSafely(join(dir, OUTPUT_MARKER_FILE), marker);
}

/** Says that the command's own earlier output is being replaced (the rule: replace it only knowingly). */
export function warnReplacing(dir: string, command: string, marker: OutputMarker): void {
  log.warn(
    { out: dir },
    `replacing the earlier output of \`daydrive ${command}\` in ${dir} (written ${marker.writtenAt})`,
  );
}

/**
 * Writes a command's output directory by the rules above: `fill(tmp)` writes the output into an
 * empty temporary directory; when it succeeds, the output takes its place. If `fill` throws,
 * nothing in `dir` has changed. Returns what `dir` held before.
 */
export async function writeOutputDirectory(
  dir: string,
  opts: OutputDirOptions,
  fill: (tmpDir: string) => Promise<void>,
): Promise<OutputDirState> {
  const target = resolve(dir);
  const state = await checkOutputDir(dir, opts);
  if (state.kind === 'own') warnReplacing(dir, opts.command, state.marker);
  if (state.kind === 'absent' || (state.kind === 'own' && !holdsWorkingDirectory(target))) {
    await replaceDirectory(target, async (tmp) => {
      await fill(tmp);
      await writeOutputMarker(tmp, opts.command, await readdir(tmp));
    });
    return state;
  }
  // Empty, the working directory, or --force: fill a temporary directory inside, then move its
  // entries in; entries of the same name are replaced, the command's own earlier ones removed,
  // nothing else touched.
  await ensureDirectory(target);
  const tmp = join(target, `.daydrive-tmp-${Date.now()}-${process.pid}`);
  try {
    await mkdir(tmp);
  } catch (err) {
    throw fileSystemError(err, 'write into', dir);
  }
  try {
    await fill(tmp);
    const written = (await readdir(tmp)).filter((e) => e !== OUTPUT_MARKER_FILE);
    const earlier = state.kind === 'own' || state.kind === 'foreign' ? (state.marker?.entries ?? []) : [];
    for (const entry of earlier)
      if (!written.includes(entry)) await rm(join(target, entry), { recursive: true, force: true });
    for (const entry of written) {
      await rm(join(target, entry), { recursive: true, force: true });
      try {
        await rename(join(tmp, entry), join(target, entry));
      } catch (err) {
        throw fileSystemError(err, 'write', join(dir, entry));
      }
    }
    await writeOutputMarker(target, opts.command, written);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  return state;
}
