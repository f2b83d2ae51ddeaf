import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';

const run = promisify(execFile);
const cli = ['--import', 'tsx', 'src/cli/main.ts'];

test('sim render writes PNG frames, a map and a --json line', async () => {
  const out = join(await mkdtemp(join(tmpdir(), 'simcli-')), 'frames');
  const { stdout } = await run(process.execPath, [...cli, 'sim', 'render', '--seed', '4', '--frames', '3', '--width', '48', '--height', '36', '--out', out, '--json'], { env: { ...process.env, DAYDRIVE_LOG_LEVEL: 'warn' } });
  const last = JSON.parse(stdout.trim().split('\n').pop()!) as { ok: boolean; frames: number; files: string[]; routeLengthM: number };
  assert.equal(last.ok, true);
  assert.equal(last.frames, 3);
  assert.equal(last.routeLengthM, 250);
  const files = (await readdir(out)).sort();
  assert.deepEqual(files, ['frame_0000.png', 'frame_0001.png', 'frame_0002.png', 'map.png']);
  const png = await readFile(join(out, 'frame_0000.png'));
  assert.equal(png.subarray(1, 4).toString(), 'PNG');
});

test('sim render: bad input is a one-line error and a non-zero exit', async () => {
  await assert.rejects(run(process.execPath, [...cli, 'sim', 'render', '--frames', 'many', '--out', '/tmp/x', '--json']), (e: { code: number; stderr: string }) => {
    assert.notEqual(e.code, 0);
    assert.match(e.stderr, /not an integer/);
    return true;
  });
});
