import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { initBackend } from '../../src/core/backend.js';
import { parseWith, readConfigFile } from '../../src/core/config.js';
import { validateAction } from '../../src/core/env.js';
import { hasValidChecksums, verifyDirectoryChecksums, writeDirectoryChecksums } from '../../src/core/checksums.js';
import { fileSystemError, UserError } from '../../src/core/errors.js';
import {
  ensureDirectory,
  findReplacedDirectory,
  recoverReplacedDirectory,
  replaceDirectory,
} from '../../src/core/files.js';
import { logLevelProblem } from '../../src/core/logger.js';
import { inspectOutputDir, writeOutputDirectory } from '../../src/core/out-dir.js';
import { Rng } from '../../src/core/rng.js';
import { loadNamedTensors, saveNamedTensors } from '../../src/core/tfjs-io.js';

test('Rng.fromSeed: both derivations keep their first draws (every seed keeps its road and its run)', () => {
  // Pinned: a change here changes every road, every look and every seeded run.
  const splitmix = Rng.fromSeed(3);
  assert.deepEqual([splitmix.uniform(), splitmix.uniform()], [0.3069232380936979, 0.10564483232473432]);
  const world = Rng.fromSeed(3, 'world-v1');
  assert.deepEqual([world.uniform(), world.uniform()], [0.2562154038677281, 0.6904854316064732]);
  assert.throws(() => Rng.fromSeed(1.5), /seed must be an integer/);
});

test('Rng: same seed, same stream; state round-trips; normal has unit variance', () => {
  const a = Rng.fromSeed(42);
  const b = Rng.fromSeed(42);
  const xs = Array.from({ length: 5 }, () => a.uniform());
  assert.deepEqual(
    xs,
    Array.from({ length: 5 }, () => b.uniform()),
  );
  const saved = a.state();
  const next = a.uniform();
  assert.equal(Rng.fromState(saved).uniform(), next);
  const n = 20000;
  let sum = 0;
  let sq = 0;
  for (let i = 0; i < n; i++) {
    const v = a.normal();
    sum += v;
    sq += v * v;
  }
  assert.ok(Math.abs(sum / n) < 0.03, `mean ${sum / n}`);
  assert.ok(Math.abs(sq / n - 1) < 0.05, `variance ${sq / n}`);
});

test('config: invalid values name the field', async () => {
  const schema = z.object({ learner: z.object({ discount: z.number().min(0).max(1) }) }).strict();
  assert.throws(
    () => parseWith(schema, { learner: { discount: 3 } }, 'config x.yaml'),
    (err: unknown) => {
      assert.ok(err instanceof UserError);
      assert.match(err.message, /invalid config x\.yaml: field learner\.discount: /);
      return true;
    },
  );
  const dir = await mkdtemp(join(tmpdir(), 'dd-cfg-'));
  await writeFile(join(dir, 'bad.yaml'), 'a: [1, 2\n');
  await assert.rejects(readConfigFile(join(dir, 'bad.yaml')), /is not valid YAML\/JSON/);
  await assert.rejects(readConfigFile(join(dir, 'missing.yaml')), /cannot read config .*ENOENT/);
});

test('validateAction refuses NaN and wrong length', () => {
  assert.throws(() => validateAction([0, Number.NaN], 2), /action\[1\] is NaN/);
  assert.throws(() => validateAction([0], 2), /1 components, expected 2/);
  validateAction([0.5, -1], 2);
});

test('replaceDirectory keeps the old directory when filling fails', async () => {
  const root = await mkdtemp(join(tmpdir(), 'dd-dir-'));
  const target = join(root, 'ckpt');
  await replaceDirectory(target, async (tmp) => writeFile(join(tmp, 'a.txt'), 'good'));
  await assert.rejects(
    replaceDirectory(target, async (tmp) => {
      await writeFile(join(tmp, 'a.txt'), 'half');
      throw new Error('disk full');
    }),
    /disk full/,
  );
  assert.equal(await readFile(join(target, 'a.txt'), 'utf8'), 'good');
  assert.deepEqual((await readdir(root)).sort(), ['ckpt']);
});

test('named tensors round-trip through TF.js weight files; truncation is detected', async () => {
  await initBackend();
  const dir = await mkdtemp(join(tmpdir(), 'dd-w-'));
  const w = tf.tensor2d([
    [1, 2, 3],
    [4, 5, 6],
  ]);
  await saveNamedTensors(dir, 'actor', { w });
  const loaded = await loadNamedTensors(dir, 'actor');
  assert.deepEqual(await loaded.w!.array(), [
    [1, 2, 3],
    [4, 5, 6],
  ]);
  const bin = await readFile(join(dir, 'actor.bin'));
  await writeFile(join(dir, 'actor.bin'), bin.subarray(0, 10));
  await assert.rejects(loadNamedTensors(dir, 'actor'), /truncated or corrupt/);
});

test('the cpu backend prints no tfjs banner: CLI errors stay one line', async () => {
  const script =
    "const { initBackend } = await import('./src/core/backend.ts'); const tf = await import('@tensorflow/tfjs'); await initBackend(); tf.tensor1d([1]).dispose();";
  const { stdout, stderr } = await promisify(execFile)(
    process.execPath,
    ['--import', 'tsx', '--input-type=module', '-e', script],
    {
      env: { ...process.env, DAYDRIVE_BACKEND: 'cpu', DAYDRIVE_LOG_LEVEL: 'warn' },
    },
  );
  assert.doesNotMatch(stdout + stderr, /looks like you are running TensorFlow\.js in Node\.js/);
  assert.equal(stderr.trim(), '', 'forced by the user: nothing to warn about');
});

test('file-system errors become one line naming the path and the cause (a full disk, a read-only file system)', () => {
  const injected = (code: string, message: string) =>
    Object.assign(new Error(`${code}: ${message}, write '/data/runs/x/metrics.jsonl.3735928559'`), {
      code,
      syscall: 'write',
    });
  const full = fileSystemError(injected('ENOSPC', 'no space left on device'), 'write', 'runs/x/metrics.jsonl');
  assert.ok(full instanceof UserError);
  assert.equal(full.message, 'cannot write runs/x/metrics.jsonl: no space left on the device (ENOSPC)');
  assert.equal(
    (fileSystemError(injected('EROFS', 'read-only file system'), 'create directory', '/mnt/ro/out') as Error).message,
    'cannot create directory /mnt/ro/out: the file system is read-only (EROFS)',
  );
  assert.equal(
    (fileSystemError(injected('EWHATEVER', 'odd'), 'write', 'f') as Error).message,
    'cannot write f: odd (EWHATEVER)',
  );
  const bug = new TypeError('x is undefined');
  assert.equal(fileSystemError(bug, 'write', 'f'), bug, 'a bug is not dressed up as bad input');
});

test('ensureDirectory: /proc, a file and a path under a file fail at once in one line; missing parents are made', async () => {
  const root = await mkdtemp(join(tmpdir(), 'dd-ensure-'));
  await ensureDirectory(join(root, 'a', 'b', 'c'));
  assert.deepEqual(await readdir(join(root, 'a', 'b')), ['c']);
  await writeFile(join(root, 'f'), 'x');
  await assert.rejects(ensureDirectory(join(root, 'f')), /cannot create directory .*\/f: it is a file$/);
  await assert.rejects(
    ensureDirectory(join(root, 'f', 'g', 'h')),
    /cannot create directory .*\/f\/g\/h: .*\/f is a file, not a directory$/,
  );
  await assert.rejects(
    ensureDirectory('/proc/daydrive-x/y'),
    /cannot create directory \/proc\/daydrive-x: (the file system of \/proc does not allow it|permission denied)/,
  );
});

test('DAYDRIVE_LOG_LEVEL: the levels pass, anything else is named with the choices', () => {
  for (const level of [undefined, 'info', 'warn', 'silent', 'trace']) assert.equal(logLevelProblem(level), null);
  assert.match(
    logLevelProblem('warning')!,
    /'warning' is not a log level \(did you mean 'warn'\?\): use one of trace, debug, info, warn, error, fatal, silent/,
  );
  assert.match(logLevelProblem('bogus')!, /'bogus' is not a log level: use one of/);
});

test('checksums: a complete directory verifies; an altered, zeroed, missing or added file is refused by name', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'dd-sum-'));
  await mkdir(join(dir, 'sub'));
  await writeFile(join(dir, 'sub', 'w.bin'), Buffer.from([1, 2, 3, 4]));
  await writeFile(join(dir, 'p.json'), '{}');
  assert.equal(await verifyDirectoryChecksums(dir), 'absent');
  await writeDirectoryChecksums(dir);
  assert.equal(await verifyDirectoryChecksums(dir), 'verified');
  await writeFile(join(dir, 'sub', 'w.bin'), Buffer.alloc(4));
  await assert.rejects(verifyDirectoryChecksums(dir), /sub\/w\.bin does not match its checksum/);
  await writeFile(join(dir, 'sub', 'w.bin'), Buffer.from([1, 2, 3, 4]));
  await writeFile(join(dir, 'extra.bin'), 'x');
  await assert.rejects(verifyDirectoryChecksums(dir), /extra\.bin is not in checksums\.json/);
  assert.equal(await hasValidChecksums(dir), false);
});

test('a directory swap cut between its two renames is found and recovered from the newest complete copy; leftovers are removed', async () => {
  const root = await mkdtemp(join(tmpdir(), 'dd-swap-'));
  const target = join(root, 'checkpoint');
  const version = async (dir: string, v: string) => {
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'v.txt'), v);
    await writeDirectoryChecksums(dir);
  };
  await version(target, 'old');
  // replaceDirectory filled the new copy, moved the old one aside, then the process died.
  await version(`${target}.tmp-2000-7`, 'new');
  await rename(target, `${target}.old-2000-7`);
  await mkdir(`${target}.tmp-3000-8`); // a later copy whose filling never finished (no checksums)
  assert.equal(await findReplacedDirectory(target, hasValidChecksums), `${target}.tmp-2000-7`, 'read-only lookup');
  assert.deepEqual(
    (await readdir(root)).sort(),
    ['checkpoint.old-2000-7', 'checkpoint.tmp-2000-7', 'checkpoint.tmp-3000-8'],
    'the lookup changes nothing',
  );
  const { restored, removed } = await recoverReplacedDirectory(target, hasValidChecksums);
  assert.equal(restored, `${target}.tmp-2000-7`);
  assert.equal(removed.length, 2);
  assert.deepEqual(await readdir(root), ['checkpoint']);
  assert.equal(await readFile(join(target, 'v.txt'), 'utf8'), 'new');
  // Only the moved-aside copy is complete (the new one is damaged or unfinished): that one is restored.
  await rename(target, `${target}.old-4000-9`);
  await mkdir(`${target}.tmp-4000-9`);
  await recoverReplacedDirectory(target, hasValidChecksums);
  assert.equal(await readFile(join(target, 'v.txt'), 'utf8'), 'new');
  assert.deepEqual(await readdir(root), ['checkpoint']);
  // With the directory in place, stale copies beside it are removed and it is kept.
  await cp(target, `${target}.old-5000-1`, { recursive: true });
  assert.deepEqual(await recoverReplacedDirectory(target, hasValidChecksums), {
    restored: null,
    removed: [`${target}.old-5000-1`],
  });
});

test('writeOutputDirectory: a foreign directory is refused untouched; --force keeps its files; its own output is replaced; a failing fill changes nothing', async () => {
  const root = await mkdtemp(join(tmpdir(), 'dd-out-'));
  const out = join(root, 'out');
  const fill = (names: string[]) => async (tmp: string) => {
    for (const n of names) await writeFile(join(tmp, n), n);
  };
  assert.equal((await writeOutputDirectory(out, { command: 'x', force: false }, fill(['a', 'b']))).kind, 'absent');
  assert.equal((await inspectOutputDir(out, 'x')).kind, 'own');
  assert.equal((await inspectOutputDir(out, 'y')).kind, 'foreign', "another command's output is not this one's");
  assert.equal((await writeOutputDirectory(out, { command: 'x', force: false }, fill(['c']))).kind, 'own');
  assert.deepEqual((await readdir(out)).sort(), ['.daydrive-output.json', 'c']);
  await writeFile(join(out, 'mine.txt'), 'keep');
  await assert.rejects(
    writeOutputDirectory(out, { command: 'x', force: false }, fill(['d'])),
    /holds files `daydrive x` did not write \(mine\.txt\)/,
  );
  await assert.rejects(
    writeOutputDirectory(out, { command: 'x', force: true }, async () => Promise.reject(new Error('disk full'))),
    /disk full/,
  );
  assert.deepEqual(
    (await readdir(out)).sort(),
    ['.daydrive-output.json', 'c', 'mine.txt'],
    'a failed fill leaves everything',
  );
  await writeOutputDirectory(out, { command: 'x', force: true }, fill(['d']));
  assert.deepEqual(
    (await readdir(out)).sort(),
    ['.daydrive-output.json', 'd', 'mine.txt'],
    "its own earlier c removed, the user's file kept",
  );
  assert.equal(await readFile(join(out, 'mine.txt'), 'utf8'), 'keep');
  assert.deepEqual(await readdir(root), ['out'], 'no temporary copies');
});

test('a damaged weights manifest ({}) is one line naming the file', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'dd-manifest-'));
  await writeFile(join(dir, 'networks.json'), '{}');
  await assert.rejects(loadNamedTensors(dir, 'networks'), (err: unknown) => {
    assert.ok(err instanceof UserError);
    assert.match(err.message, /networks\.json is not a TF\.js weights manifest/);
    return true;
  });
});
