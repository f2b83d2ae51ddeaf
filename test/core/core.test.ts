import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { initBackend } from '../../src/core/backend.js';
import { parseWith, readConfigFile } from '../../src/core/config.js';
import { validateAction } from '../../src/core/env.js';
import { UserError } from '../../src/core/errors.js';
import { replaceDirectory } from '../../src/core/files.js';
import { Rng } from '../../src/core/rng.js';
import { loadNamedTensors, saveNamedTensors } from '../../src/core/tfjs-io.js';

test('Rng: same seed, same stream; state round-trips; normal has unit variance', () => {
  const a = Rng.fromSeed(42);
  const b = Rng.fromSeed(42);
  const xs = Array.from({ length: 5 }, () => a.uniform());
  assert.deepEqual(xs, Array.from({ length: 5 }, () => b.uniform()));
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
  assert.throws(() => parseWith(schema, { learner: { discount: 3 } }, 'config x.yaml'), (err: unknown) => {
    assert.ok(err instanceof UserError);
    assert.match(err.message, /invalid config x\.yaml: field learner\.discount: /);
    return true;
  });
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
  const w = tf.tensor2d([[1, 2, 3], [4, 5, 6]]);
  await saveNamedTensors(dir, 'actor', { w });
  const loaded = await loadNamedTensors(dir, 'actor');
  assert.deepEqual(await loaded.w!.array(), [[1, 2, 3], [4, 5, 6]]);
  const bin = await readFile(join(dir, 'actor.bin'));
  await writeFile(join(dir, 'actor.bin'), bin.subarray(0, 10));
  await assert.rejects(loadNamedTensors(dir, 'actor'), /truncated or corrupt/);
});

test('the cpu backend prints no tfjs banner: CLI errors stay one line', async () => {
  const script = "const { initBackend } = await import('./src/core/backend.ts'); const tf = await import('@tensorflow/tfjs'); await initBackend(); tf.tensor1d([1]).dispose();";
  const { stdout, stderr } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    env: { ...process.env, DAYDRIVE_BACKEND: 'cpu', DAYDRIVE_LOG_LEVEL: 'warn' },
  });
  assert.doesNotMatch(stdout + stderr, /looks like you are running TensorFlow\.js in Node\.js/);
  assert.equal(stderr.trim(), '', 'forced by the user: nothing to warn about');
});
