import { strict as assert } from 'node:assert';
import { mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { CLOSED_OUTPUT_EXIT_CODE } from '../../src/cli/command.js';
import { CLI as cli, run, runCli } from '../helpers/cli.js';

test('sim render writes PNG frames, a map and a --json line', async () => {
  const out = join(await mkdtemp(join(tmpdir(), 'simcli-')), 'frames');
  const { stdout } = await run(
    process.execPath,
    [
      ...cli,
      'sim',
      'render',
      '--seed',
      '4',
      '--frames',
      '3',
      '--width',
      '48',
      '--height',
      '36',
      '--out',
      out,
      '--json',
    ],
    { env: { ...process.env, DAYDRIVE_LOG_LEVEL: 'warn' } },
  );
  const last = JSON.parse(stdout.trim().split('\n').pop()!) as {
    ok: boolean;
    frames: number;
    files: string[];
    routeLengthM: number;
  };
  assert.equal(last.ok, true);
  assert.equal(last.frames, 3);
  assert.equal(last.routeLengthM, 250);
  const files = (await readdir(out)).sort();
  assert.deepEqual(files, ['.daydrive-output.json', 'frame_0000.png', 'frame_0001.png', 'frame_0002.png', 'map.png']);
  const png = await readFile(join(out, 'frame_0000.png'));
  assert.equal(png.subarray(1, 4).toString(), 'PNG');
});

test('sim render: bad input is a one-line error and a non-zero exit', async () => {
  await assert.rejects(
    run(process.execPath, [...cli, 'sim', 'render', '--frames', 'many', '--out', '/tmp/x', '--json']),
    (e: { code: number; stderr: string }) => {
      assert.notEqual(e.code, 0);
      assert.match(e.stderr, /not an integer/);
      return true;
    },
  );
});

test('usage errors from commander keep the CLI contract: one stderr line, exit 2, a JSON failure under --json', async () => {
  // `--json` goes where it is a flag of its own (after `--out` it would be the directory name).
  const cases: { args: string[]; jsonAt: number; error: RegExp; jsonError?: RegExp }[] = [
    {
      args: ['sim', 'render', '--frames', 'many', '--out', '/tmp/x'],
      jsonAt: 2,
      error: /--frames.*'many' is not an integer/,
    },
    {
      args: ['sim', 'render', '--out', '/tmp/x', '--no-such-flag'],
      jsonAt: 2,
      error: /unknown option '--no-such-flag'/,
    },
    { args: ['sim', 'render', '--seed', '3'], jsonAt: 2, error: /required option '--out <dir>' not specified/ },
    { args: ['sim', 'render', '--out'], jsonAt: 2, error: /option '--out <dir>' argument missing/ },
    { args: ['no-such-command'], jsonAt: 1, error: /unknown command 'no-such-command'/ },
    // A command group has no --json of its own: with it, the error is the unknown option.
    { args: ['sim'], jsonAt: 1, error: /missing command: usage: daydrive sim/, jsonError: /unknown option '--json'/ },
  ];
  const withJson = (c: (typeof cases)[number]): string[] => [
    ...c.args.slice(0, c.jsonAt),
    '--json',
    ...c.args.slice(c.jsonAt),
  ];
  // Every case with --json; two also without it (each run starts the whole CLI: a few seconds).
  const runs = cases.flatMap((c, i) => [...(i < 2 ? [{ c, json: false }] : []), { c, json: true }]);
  const results = await Promise.all(runs.map(({ c, json }) => runCli(json ? withJson(c) : c.args)));
  runs.forEach(({ c, json }, k) => {
    const r = results[k]!;
    const what = (json ? withJson(c) : c.args).join(' ');
    assert.equal(r.code, 2, `${what}: exit code 2 (bad input), got ${r.code}`);
    const lines = r.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 1, `${what}: one stderr line, got ${JSON.stringify(r.stderr)}`);
    assert.match(lines[0]!, /^daydrive: error: /, what);
    const error = json ? (c.jsonError ?? c.error) : c.error;
    assert.match(lines[0]!, error, what);
    assert.doesNotMatch(r.stderr, /\bat .*\.[jt]s:\d+/, `${what}: no stack trace`);
    if (json) {
      const last = JSON.parse(r.stdout.trim().split('\n').pop()!) as { ok: boolean; error: string };
      assert.equal(last.ok, false, what);
      assert.match(last.error, error, what);
      assert.ok(!last.error.startsWith('error:'), `${what}: no doubled prefix`);
    } else {
      assert.equal(r.stdout, '', `${what}: nothing on stdout without --json`);
    }
  });
});

test('--help and --version still print to stdout and exit 0', async () => {
  const [help, subHelp, version] = await Promise.all([
    runCli(['--help']),
    runCli(['sim', 'render', '--help']),
    runCli(['--version']),
  ]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Usage: daydrive/);
  assert.equal(subHelp.code, 0);
  assert.match(subHelp.stdout, /--frames <n>/);
  assert.equal(version.code, 0);
  assert.match(version.stdout.trim(), /^\d+\.\d+\.\d+/);
  for (const r of [help, subHelp, version]) assert.equal(r.stderr, '');
});

test('output closed by its reader (`daydrive ... | head`): exit 141 as after SIGPIPE, no stack trace', async () => {
  // The reading end is closed before the command writes, so its first write fails with EPIPE.
  const child = spawn(process.execPath, [...cli, '--help'], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.destroy();
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((done) => child.on('close', done));
  assert.equal(code, CLOSED_OUTPUT_EXIT_CODE, stderr);
  assert.equal(stderr, '');
});

test('sim render with a road config that cannot be satisfied: one line naming the settings, exit 2', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'simcli-'));
  const config = join(dir, 'loopy.json');
  await writeFile(
    config,
    JSON.stringify({
      road: {
        routeLengthM: 2000,
        radiusRangeM: [10, 12],
        arcAngleRangeDeg: [170, 180],
        segmentWeights: { straight: 0, arc: 1, sBend: 0 },
      },
    }),
  );
  const r = await runCli(['sim', 'render', '--config', config, '--out', join(dir, 'out'), '--json']);
  assert.equal(r.code, 2);
  assert.equal(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
  const last = JSON.parse(r.stdout.trim().split('\n').pop()!) as { ok: boolean; error: string };
  assert.equal(last.ok, false);
  assert.match(last.error, /invalid road config: .*road\.radiusRangeM \[10, 12\]/);
});

/** Asserts the CLI contract for bad input: exit 2, one `daydrive: error:` line on stderr matching `pattern`, no stack. */
function assertOneLineError(r: { code: number; stderr: string }, pattern: RegExp, what: string): void {
  assert.equal(r.code, 2, `${what}: ${r.stderr}`);
  const lines = r.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `${what}: one line, got ${JSON.stringify(r.stderr)}`);
  assert.match(lines[0]!, /^daydrive: error: /, what);
  assert.match(lines[0]!, pattern, what);
}

test("sim render --out never loses the user's files: a foreign directory is refused, --force writes beside them, its own output is replaced knowingly", async () => {
  const root = await mkdtemp(join(tmpdir(), 'simcli-out-'));
  const thesis = join(root, 'thesis');
  await mkdir(thesis);
  await writeFile(join(thesis, 'thesis.tex'), 'four years of work');
  assertOneLineError(
    await runCli(['sim', 'render', '--frames', '1', '--out', thesis]),
    /thesis is not empty and holds files `daydrive sim render` did not write \(thesis\.tex\).*--force/,
    'foreign dir',
  );
  assert.deepEqual(await readdir(thesis), ['thesis.tex']);
  // --force: written into it, the user's file kept; the next run is still refused without --force (the file is still not its own).
  assert.equal((await runCli(['sim', 'render', '--frames', '1', '--out', thesis, '--force'])).code, 0);
  assert.deepEqual((await readdir(thesis)).sort(), [
    '.daydrive-output.json',
    'frame_0000.png',
    'map.png',
    'thesis.tex',
  ]);
  assert.equal(await readFile(join(thesis, 'thesis.tex'), 'utf8'), 'four years of work');
  assert.equal((await runCli(['sim', 'render', '--frames', '1', '--out', thesis])).code, 2);
  // Its own earlier output (the marker lists every entry) is replaced whole, with a warning saying so.
  const frames = join(root, 'frames');
  assert.equal((await runCli(['sim', 'render', '--frames', '3', '--out', frames])).code, 0);
  const again = await runCli(['sim', 'render', '--frames', '1', '--out', frames]);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stderr, /replacing the earlier output of `daydrive sim render`/);
  assert.deepEqual((await readdir(frames)).sort(), ['.daydrive-output.json', 'frame_0000.png', 'map.png']);
  assert.deepEqual((await readdir(root)).sort(), ['frames', 'thesis'], 'no temporary or old copies left');
});

test('sim render --out . writes into the working directory (twice), never renames it, leaves nothing behind', async () => {
  const root = await mkdtemp(join(tmpdir(), 'simcli-dot-'));
  const here = join(root, 'here');
  await mkdir(here);
  const tsx = join(process.cwd(), 'node_modules', 'tsx', 'dist', 'loader.mjs');
  const main = join(process.cwd(), 'src', 'cli', 'main.ts');
  const dot = async () => {
    try {
      await run(process.execPath, ['--import', tsx, main, 'sim', 'render', '--frames', '2', '--out', '.'], {
        cwd: here,
        env: { ...process.env, DAYDRIVE_LOG_LEVEL: 'warn' },
      });
      return 0;
    } catch (err) {
      return (err as { code: number }).code;
    }
  };
  assert.equal(await dot(), 0);
  assert.equal(await dot(), 0, 'its own output in . is replaced');
  assert.deepEqual((await readdir(here)).sort(), [
    '.daydrive-output.json',
    'frame_0000.png',
    'frame_0001.png',
    'map.png',
  ]);
  assert.deepEqual(await readdir(root), ['here'], 'no ..tmp-* or .old-* beside it');
  await writeFile(join(here, 'notes.txt'), 'mine');
  assert.equal(await dot(), 2, "a file of the user's in . makes it foreign");
  assert.equal(await readFile(join(here, 'notes.txt'), 'utf8'), 'mine');
});

test('file-system problems with --out are one line naming the path and the cause, exit 2 (no spin under /proc, no raw system text)', async () => {
  const root = await mkdtemp(join(tmpdir(), 'simcli-fs-'));
  const file = join(root, 'a-file');
  await writeFile(file, 'x');
  const cases: [string, RegExp][] = [
    // As root procfs answers ENOENT (Node 20's recursive mkdir spun on it forever); as a user, EACCES.
    [
      '/proc/daydrive-frames',
      /cannot create directory \/proc\/daydrive-frames: (the file system of \/proc does not allow it \(ENOENT\)|permission denied \(EACCES\))$/,
    ],
    [file, /cannot use .*a-file as the output directory: it is a file/],
    [
      join(file, 'frames'),
      /cannot use .*a-file\/frames as the output directory: a part of the path is a file, not a directory \(ENOTDIR\)/,
    ],
    // sysfs refuses new directories (EPERM), as a read-only file system would (EROFS): the cause is said, not "no such file".
    [
      '/sys/daydrive-frames',
      /cannot create directory \/sys\/daydrive-frames: (the operation is not permitted there \(EPERM\)|permission denied \(EACCES\)|the file system is read-only \(EROFS\))$/,
    ],
  ];
  const results = await Promise.all(cases.map(([out]) => runCli(['sim', 'render', '--frames', '1', '--out', out])));
  results.forEach((r, i) => assertOneLineError(r, cases[i]![1], cases[i]![0]));
});

test('a wrong DAYDRIVE_LOG_LEVEL is one line and exit 2 for every command, --help included', async () => {
  const results = await Promise.all(
    [['--help'], ['sim', 'render', '--out', '/tmp/x']].map((args) =>
      runCli(args, { env: { DAYDRIVE_LOG_LEVEL: 'warning' } }),
    ),
  );
  for (const r of results)
    assertOneLineError(
      r,
      /DAYDRIVE_LOG_LEVEL 'warning' is not a log level \(did you mean 'warn'\?\): use one of .*silent/,
      'warning',
    );
  assertOneLineError(
    await runCli(['--version'], { env: { DAYDRIVE_LOG_LEVEL: 'bogus' } }),
    /DAYDRIVE_LOG_LEVEL 'bogus' is not a log level: use one of/,
    'bogus',
  );
});

test('the map has a key under it (the orange dot: where the safety driver took over) and a round scale bar', async () => {
  const { default: sharp } = await import('sharp');
  const { scaleBarLengthM } = await import('../../sim/topdown.js');
  assert.deepEqual([0.7, 5.5, 37, 120, 999].map(scaleBarLengthM), [0.5, 5, 20, 100, 500]);
  const out = join(await mkdtemp(join(tmpdir(), 'simcli-map-')), 'frames');
  assert.equal((await runCli(['sim', 'render', '--frames', '1', '--out', out])).code, 0);
  const { data, info } = await sharp(join(out, 'map.png')).raw().toBuffer({ resolveWithObject: true });
  const pixel = (x: number, y: number) => [
    ...data.subarray((y * info.width + x) * info.channels, (y * info.width + x) * info.channels + 3),
  ];
  // The key is a white band under the map, holding the orange marker even when the driver never took over.
  let top = info.height - 1;
  while (top > 0 && pixel(0, top - 1).every((v) => v === 255)) top--;
  assert.ok(
    info.height - top >= 20 && top > info.height / 2,
    `a white band of ${info.height - top} rows at the bottom`,
  );
  let orange = 0;
  for (let y = top; y < info.height; y++) {
    for (let x = 0; x < info.width; x++) {
      const [r, g, b] = pixel(x, y) as [number, number, number];
      if (r > 230 && g > 120 && g < 180 && b < 60) orange++;
    }
  }
  assert.ok(orange > 10, `orange marker in the key: ${orange} px`);
});
