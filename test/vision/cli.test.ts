import { strict as assert } from 'node:assert';
import { cp, mkdir, mkdtemp, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { readFrameIndex } from '../../src/vision/dataset.js';
import { DEFAULT_VAE_MODEL_DIR } from '../../src/vision/encoder.js';
import { CLI as cli, lastJson, run } from '../helpers/cli.js';

const env = { ...process.env, DAYDRIVE_LOG_LEVEL: 'error' };

test('vae collect (simulator) writes PNG frames and an index with cross-track and heading error; encode prints latents', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'vision-cli-'));
  const out = join(dir, 'frames');
  const collected = lastJson<{ ok: boolean; frames: number; camera: { widthPx: number; heightPx: number } }>(
    (
      await run(
        process.execPath,
        [
          ...cli,
          'vae',
          'collect',
          '--episodes',
          '2',
          '--seed',
          '3',
          '--steps-per-episode',
          '6',
          '--out',
          out,
          '--json',
        ],
        { env },
      )
    ).stdout,
  );
  assert.equal(collected.ok, true);
  assert.equal(collected.frames, 2 * 4, 'reset frame + every 2nd of 6 steps, per episode');
  assert.deepEqual(collected.camera, { widthPx: 160, heightPx: 120 });
  const index = await readFrameIndex(out);
  assert.equal(index.meta.source, 'sim');
  assert.deepEqual([...new Set(index.records.map((r) => r.episode))], [0, 1]);
  assert.ok(
    index.records.every(
      (r) => Number.isFinite(r.crossTrackErrorM) && Number.isFinite(r.headingErrorRad) && r.roadSeed !== undefined,
    ),
  );

  const files = index.records.slice(0, 2).map((r) => join(out, r.file));
  const encoded = lastJson<{ ok: boolean; latentSize: number; latents: { file: string; mean: number[] }[] }>(
    (await run(process.execPath, [...cli, 'encode', '--model', DEFAULT_VAE_MODEL_DIR, ...files, '--json'], { env }))
      .stdout,
  );
  assert.equal(encoded.ok, true);
  assert.equal(encoded.latents.length, 2);
  assert.equal(encoded.latents[0]!.file, files[0]);
  assert.equal(encoded.latents[0]!.mean.length, encoded.latentSize);
});

test('vae and encode: bad input is a one-line error and a non-zero exit', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'vision-cli-'));
  const broken = join(dir, 'broken.jpg');
  await writeFile(broken, Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3]));
  const fails = async (args: string[], pattern: RegExp): Promise<void> => {
    await assert.rejects(
      run(process.execPath, [...cli, ...args], { env }),
      (e: { code: number; stderr: string; stdout: string }) => {
        assert.equal(e.code, 2);
        assert.match(e.stderr, pattern);
        assert.equal(e.stderr.trim().split('\n').length, 1, `one line: ${e.stderr}`);
        assert.equal(lastJson<{ ok: boolean }>(e.stdout).ok, false);
        return true;
      },
    );
  };
  await fails(['encode', broken, '--json'], /broken\.jpg: truncated JPEG/);
  await fails(
    ['encode', '--latent', '64', '--width', '96', broken, '--json'],
    /does not match the configuration: latent size 32 \(model\) vs 64 \(configuration\); input 64x64 \(model\) vs 96x64/,
  );
  await fails(['vae', 'collect', '--out', join(dir, 'x'), '--json'], /either --episodes N .* or --bag/);
  await fails(
    ['vae', 'train', '--data', join(dir, 'nothing'), '--out', join(dir, 'm'), '--json'],
    /cannot read .*dataset\.json/,
  );
});

test('vae collect and vae train never overwrite what they did not write: a foreign --out or a model without the marker is refused before any work', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'vision-cli-out-'));
  const notes = join(dir, 'notes');
  await mkdir(notes);
  await writeFile(join(notes, 'todo.md'), 'mine');
  // A copy of the shipped model (written before the marker existed): `vae train --out models/vae-sim` must not overwrite it.
  const model = join(dir, 'vae-sim');
  await cp(DEFAULT_VAE_MODEL_DIR, model, { recursive: true });
  const weights = join(model, 'encoder', 'weights.bin');
  const before = (await stat(weights)).mtimeMs;
  const refused = async (args: string[], pattern: RegExp): Promise<void> => {
    await assert.rejects(run(process.execPath, [...cli, ...args], { env }), (e: { code: number; stderr: string }) => {
      assert.equal(e.code, 2);
      assert.match(e.stderr, pattern);
      assert.equal(e.stderr.trim().split('\n').length, 1, e.stderr);
      return true;
    });
  };
  await refused(
    ['vae', 'collect', '--episodes', '1', '--steps-per-episode', '2', '--out', notes],
    /notes is not empty and holds files `daydrive vae collect` did not write \(todo\.md\)/,
  );
  await refused(
    ['vae', 'train', '--data', join(dir, 'nothing'), '--out', model],
    /vae-sim is not empty and holds files `daydrive vae train` did not write .*--force/,
  );
  await refused(['vae', 'train', '--data', join(dir, 'nothing'), '--out', notes], /notes is not empty/);
  assert.deepEqual(await readdir(notes), ['todo.md']);
  assert.equal((await stat(weights)).mtimeMs, before);
  // --force writes the dataset beside the user's file; nothing of theirs is removed.
  await run(
    process.execPath,
    [...cli, 'vae', 'collect', '--episodes', '1', '--steps-per-episode', '2', '--out', notes, '--force'],
    { env },
  );
  assert.equal(await readFile(join(notes, 'todo.md'), 'utf8'), 'mine');
  assert.ok((await readFrameIndex(notes)).records.length > 0);
});

test(
  'vae train replaces its own earlier model only with a warning saying so; the marker lists what it wrote',
  { timeout: 180_000 },
  async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vision-cli-own-'));
    const data = join(dir, 'data');
    const model = join(dir, 'model');
    await run(
      process.execPath,
      [...cli, 'vae', 'collect', '--episodes', '2', '--steps-per-episode', '6', '--out', data],
      { env },
    );
    const train = [
      'vae',
      'train',
      '--data',
      data,
      '--out',
      model,
      '--epochs',
      '1',
      '--batch-size',
      '4',
      '--width',
      '16',
      '--height',
      '16',
      '--latent',
      '4',
      '--validation',
      '0.5',
    ];
    const warnEnv = { ...env, DAYDRIVE_LOG_LEVEL: 'warn' };
    const first = await run(process.execPath, [...cli, ...train], { env: warnEnv });
    assert.doesNotMatch(first.stderr, /replacing/);
    const marker = JSON.parse(await readFile(join(model, '.daydrive-output.json'), 'utf8')) as {
      command: string;
      entries: string[];
    };
    assert.equal(marker.command, 'vae train');
    for (const entry of await readdir(model))
      if (entry !== '.daydrive-output.json') assert.ok(marker.entries.includes(entry), `${entry} is listed`);
    const second = await run(process.execPath, [...cli, ...train], { env: warnEnv });
    assert.match(second.stderr, /replacing the earlier output of `daydrive vae train` in .*model/);
  },
);
