import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { readFrameIndex } from '../../src/vision/dataset.js';
import { DEFAULT_VAE_MODEL_DIR } from '../../src/vision/encoder.js';

const run = promisify(execFile);
const cli = ['--import', 'tsx', 'src/cli/main.ts'];
const env = { ...process.env, DAYDRIVE_LOG_LEVEL: 'error' };

function lastJson<T>(stdout: string): T {
  return JSON.parse(stdout.trim().split('\n').pop()!) as T;
}

test('vae collect (simulator) writes PNG frames and an index with cross-track and heading error; encode prints latents', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'vision-cli-'));
  const out = join(dir, 'frames');
  const collected = lastJson<{ ok: boolean; frames: number; camera: { widthPx: number; heightPx: number } }>(
    (await run(process.execPath, [...cli, 'vae', 'collect', '--episodes', '2', '--seed', '3', '--steps-per-episode', '6', '--out', out, '--json'], { env })).stdout,
  );
  assert.equal(collected.ok, true);
  assert.equal(collected.frames, 2 * 4, 'reset frame + every 2nd of 6 steps, per episode');
  assert.deepEqual(collected.camera, { widthPx: 160, heightPx: 120 });
  const index = await readFrameIndex(out);
  assert.equal(index.meta.source, 'sim');
  assert.deepEqual([...new Set(index.records.map((r) => r.episode))], [0, 1]);
  assert.ok(index.records.every((r) => Number.isFinite(r.crossTrackErrorM) && Number.isFinite(r.headingErrorRad) && r.roadSeed !== undefined));

  const files = index.records.slice(0, 2).map((r) => join(out, r.file));
  const encoded = lastJson<{ ok: boolean; latentSize: number; latents: { file: string; mean: number[] }[] }>(
    (await run(process.execPath, [...cli, 'encode', '--model', DEFAULT_VAE_MODEL_DIR, ...files, '--json'], { env })).stdout,
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
    await assert.rejects(run(process.execPath, [...cli, ...args], { env }), (e: { code: number; stderr: string; stdout: string }) => {
      assert.equal(e.code, 2);
      assert.match(e.stderr, pattern);
      assert.equal(e.stderr.trim().split('\n').length, 1, `one line: ${e.stderr}`);
      assert.equal(lastJson<{ ok: boolean }>(e.stdout).ok, false);
      return true;
    });
  };
  await fails(['encode', broken, '--json'], /broken\.jpg: truncated JPEG/);
  await fails(['encode', '--latent', '64', '--width', '96', broken, '--json'], /does not match the configuration: latent size 32 \(model\) vs 64 \(configuration\); input 64x64 \(model\) vs 96x64/);
  await fails(['vae', 'collect', '--out', join(dir, 'x'), '--json'], /either --episodes N .* or --bag/);
  await fails(['vae', 'train', '--data', join(dir, 'nothing'), '--out', join(dir, 'm'), '--json'], /cannot read .*dataset\.json/);
});
