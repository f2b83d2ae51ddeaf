import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { z } from 'zod';
import { UserError } from './errors.js';
import { exists, readJson, writeJsonSafely } from './files.js';

/**
 * SHA-256 of every file of a directory, in `checksums.json` beside them: written last when a
 * checkpoint is complete, checked before it is loaded, so zeroed, altered, truncated, missing or
 * added files are refused with the file's name instead of loaded (and a copy without it, left by
 * a crash, is not taken for a complete one).
 */
export const CHECKSUMS_FILE = 'checksums.json';
const FORMAT = 'daydrive-checksums-v1';

const checksumsSchema = z
  .object({
    format: z.literal(FORMAT),
    algorithm: z.literal('sha256'),
    files: z.record(z.string(), z.string().regex(/^[0-9a-f]{64}$/)),
  })
  .strict();

async function sha256(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Every file below `dir` (paths relative to it, `/`-separated), the checksum file excepted. */
async function filesBelow(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)).split(sep).join('/'))
    .filter((p) => p !== CHECKSUMS_FILE)
    .sort();
}

/** Writes `dir/checksums.json` for the files now in `dir` (call it when the directory is complete). */
export async function writeDirectoryChecksums(dir: string): Promise<void> {
  const files: Record<string, string> = {};
  for (const file of await filesBelow(dir)) files[file] = await sha256(join(dir, file));
  await writeJsonSafely(join(dir, CHECKSUMS_FILE), { format: FORMAT, algorithm: 'sha256', files });
}

/**
 * Checks `dir` against its checksums.json: 'verified', or 'absent' when there is no checksum
 * file (a directory written before checksums existed). A file that differs, is missing or was
 * added is a UserError naming it.
 */
export async function verifyDirectoryChecksums(dir: string): Promise<'verified' | 'absent'> {
  const listPath = join(dir, CHECKSUMS_FILE);
  if (!(await exists(listPath))) return 'absent';
  const raw = await readJson(listPath);
  const parsed = checksumsSchema.safeParse(raw);
  if (!parsed.success) throw new UserError(`${listPath} is not a daydrive checksum file`);
  const listed = parsed.data.files;
  const present = await filesBelow(dir);
  for (const file of present)
    if (!(file in listed))
      throw new UserError(
        `${join(dir, file)} is not in ${CHECKSUMS_FILE}: the directory was changed after it was written`,
      );
  for (const [file, want] of Object.entries(listed)) {
    if (!present.includes(file)) throw new UserError(`${join(dir, file)} is missing (listed in ${CHECKSUMS_FILE})`);
    if ((await sha256(join(dir, file))) !== want)
      throw new UserError(
        `${join(dir, file)} does not match its checksum: the file was altered or damaged after it was written`,
      );
  }
  return 'verified';
}

/** True when `dir` has a checksum file and every file matches it (a complete, intact copy). */
export async function hasValidChecksums(dir: string): Promise<boolean> {
  try {
    return (await verifyDirectoryChecksums(dir)) === 'verified';
  } catch {
    return false;
  }
}
