import { strict as assert } from 'node:assert';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { CLI as cli, run } from '../helpers/cli.js';

/** `daydrive eval` checks every input before it drives anything (one line, exit 2, no drive logged). */

async function refused(args: string[], pattern: RegExp, cacheDir: string): Promise<void> {
  const env = { ...process.env, DAYDRIVE_LOG_LEVEL: 'info', DAYDRIVE_LOG_JSON: '1', DAYDRIVE_CACHE_DIR: cacheDir };
  await assert.rejects(
    run(process.execPath, [...cli, 'eval', ...args], { env }),
    (e: { code: number; stderr: string }) => {
      assert.equal(e.code, 2, e.stderr);
      const lines = e.stderr
        .trim()
        .split('\n')
        .filter((l) => !l.startsWith('{'));
      assert.equal(lines.length, 1, e.stderr);
      assert.match(lines[0]!, pattern);
      assert.doesNotMatch(e.stderr, /evaluation drive/);
      return true;
    },
  );
}

test(
  'daydrive eval: a missing run, a run without a checkpoint and bad flags are refused before any drive',
  { timeout: 300_000 },
  async () => {
    const root = await mkdtemp(join(tmpdir(), 'eval-cli-'));
    const cache = join(root, 'cache');
    await refused(['--run', join(root, 'nope')], /--run .*nope: not a directory/, cache);
    const good = join(root, 'r1');
    await mkdir(good);
    await writeFile(join(good, 'config.json'), '{}');
    await writeFile(join(good, 'summary.json'), '{}');
    await refused(['--run', good], /no checkpoint in/, cache);
    await writeFile(join(good, 'config.json'), '{"learner": {"discount": 2}}');
    await refused(['--run', good], /field learner\.discount/, cache);
    await refused(['--run', good, '--roads', '0'], /--roads/, cache);
    await refused(['--run', good, '--workers', 'x'], /--workers/, cache);
    await refused(['--run', good, '--seed', '10000'], /--seed/, cache);
  },
);
