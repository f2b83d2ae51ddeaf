import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { parseWith } from '../core/config.js';
import { UserError } from '../core/errors.js';
import { readJson, writeFileSafely, writeJsonSafely } from '../core/files.js';

/**
 * The replay buffer's checkpoint files (format daydrive-replay-v1): `<name>.json` with the
 * counters, and one `<name>-<field>.bin` per field of the stored transitions. Reading checks every
 * file against the buffer that will take it before anything changes (ReplayBuffer.commitLoad
 * copies the checked contents in).
 */

const FORMAT = 'daydrive-replay-v1';

/** replay.json as writeReplayFiles writes it; readReplayFiles refuses anything else (core/config parseWith names the field). */
const replayMetaSchema = z.object({
  format: z.literal(FORMAT),
  kind: z.enum(['prioritized', 'uniform']),
  capacity: z.number().int().min(1),
  stateSize: z.number().int().min(1),
  actionSize: z.number().int().min(1),
  imageSize: z.number().int().min(0),
  size: z.number().int().min(0),
  next: z.number().int().min(0),
  added: z.number().int().min(0),
  /** Largest p^alpha so far (1 before any update). */
  maxPriority: z.number().positive(),
  samples: z.number().int().min(0),
});

export type ReplayMeta = Omit<z.output<typeof replayMetaSchema>, 'format'>;

/** The fields of the stored transitions, in the order they are written. */
export interface ReplayFields<Floats = Float32Array> {
  readonly images: Uint8Array;
  readonly nextImages: Uint8Array;
  readonly vectors: Floats;
  readonly nextVectors: Floats;
  readonly actions: Floats;
  readonly rewards: Floats;
  readonly discounts: Floats;
  /** Leaf priorities p^alpha (prioritized replay only). */
  readonly priorities: Float64Array | null;
}

/** A checked replay checkpoint in temporaries. */
export interface ReplayFileContents extends ReplayFields {
  readonly meta: ReplayMeta;
}

/** What the buffer that will take a checkpoint holds: a checkpoint must match it. */
export interface ReplayShape {
  readonly kind: ReplayMeta['kind'];
  readonly capacity: number;
  readonly stateSize: number;
  readonly actionSize: number;
  readonly imageSize: number;
}

/**
 * Writes the fields and then the counters. Each field is built when it is written (`build`), so
 * that at most one field is copied out of the buffer's rows at a time.
 */
export async function writeReplayFiles(
  dir: string,
  name: string,
  meta: ReplayMeta,
  build: { readonly [K in keyof ReplayFields]: () => ReplayFields[K] },
): Promise<void> {
  for (const field of Object.keys(build) as (keyof ReplayFields)[]) {
    const data = build[field]();
    if (data === null) continue;
    await writeFileSafely(
      join(dir, `${name}-${field}.bin`),
      new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    );
  }
  await writeJsonSafely(join(dir, `${name}.json`), { format: FORMAT, ...meta });
}

/**
 * Reads `dir/<name>.json` and the `<name>-*.bin` files and validates them against `shape` (format,
 * kind, layout, capacity, counters, file lengths, finite values, positive priorities). Problems are
 * a UserError naming the file and the field.
 */
export async function readReplayFiles(dir: string, name: string, shape: ReplayShape): Promise<ReplayFileContents> {
  const metaPath = join(dir, `${name}.json`);
  const raw = await readJson(metaPath);
  const format = (raw as { format?: unknown } | null)?.format;
  if (format !== FORMAT) throw new UserError(`${metaPath}: not a daydrive replay file (format ${String(format)})`);
  const meta = parseWith(replayMetaSchema, raw, `replay checkpoint ${metaPath}`);
  const { stateSize, actionSize, imageSize, capacity } = shape;
  for (const [key, want] of [
    ['stateSize', stateSize],
    ['actionSize', actionSize],
    ['imageSize', imageSize],
    ['capacity', capacity],
  ] as const) {
    if (meta[key] !== want) throw new UserError(`${metaPath}: ${key} is ${meta[key]}, this learner needs ${want}`);
  }
  if (meta.kind !== shape.kind)
    throw new UserError(`${metaPath}: a ${meta.kind} replay cannot be loaded into a ${shape.kind} one`);
  const n = meta.size;
  if (n > capacity) throw new UserError(`${metaPath}: field size: ${n} transitions exceed the capacity ${capacity}`);
  if (meta.next >= capacity)
    throw new UserError(`${metaPath}: field next: slot ${meta.next} outside the capacity ${capacity}`);
  // The ring fills slot by slot: until it is full the next slot is the size.
  if (n < capacity && meta.next !== n)
    throw new UserError(
      `${metaPath}: field next: ${meta.next}, a ring of ${n} transitions that is not full continues at ${n}`,
    );
  if (meta.added < n)
    throw new UserError(`${metaPath}: field added: ${meta.added} transitions ever added, fewer than the ${n} held`);
  const vs = stateSize - imageSize;
  const read = async <T extends Uint8Array | Float32Array | Float64Array>(
    field: keyof ReplayFields,
    make: (length: number) => T,
    count: number,
  ): Promise<T> => {
    const path = join(dir, `${name}-${field}.bin`);
    let buf: Buffer;
    try {
      buf = await readFile(path);
    } catch (err) {
      throw new UserError(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
    const out = make(count);
    if (buf.byteLength !== out.byteLength)
      throw new UserError(`${path} holds ${buf.byteLength} bytes, expected ${out.byteLength}: truncated or corrupt`);
    // A copy: Buffer offsets need not be aligned for a float view.
    new Uint8Array(out.buffer, out.byteOffset, out.byteLength).set(buf);
    if (!(out instanceof Uint8Array)) {
      for (let i = 0; i < out.length; i++) {
        if (!Number.isFinite(out[i] as number))
          throw new UserError(`${path}: value ${i} is ${out[i]}: replay values must be finite`);
      }
    }
    return out;
  };
  const { format: _format, ...counters } = meta;
  const contents: ReplayFileContents = {
    meta: counters,
    images: await read('images', (k) => new Uint8Array(k), n * imageSize),
    nextImages: await read('nextImages', (k) => new Uint8Array(k), n * imageSize),
    vectors: await read('vectors', (k) => new Float32Array(k), n * vs),
    nextVectors: await read('nextVectors', (k) => new Float32Array(k), n * vs),
    actions: await read('actions', (k) => new Float32Array(k), n * actionSize),
    rewards: await read('rewards', (k) => new Float32Array(k), n),
    discounts: await read('discounts', (k) => new Float32Array(k), n),
    priorities: shape.kind === 'prioritized' ? await read('priorities', (k) => new Float64Array(k), n) : null,
  };
  if (contents.priorities) {
    const path = join(dir, `${name}-priorities.bin`);
    for (let i = 0; i < n; i++) {
      if (!((contents.priorities[i] as number) > 0))
        throw new UserError(`${path}: priority ${i} is ${contents.priorities[i]}: priorities must be > 0`);
    }
  }
  return contents;
}
