import { strict as assert } from 'node:assert';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { formatNumber, ratioCell, renderReadme } from '../../scripts/bench-tables.js';

/** The README's figure tables come from the benches' JSON reports: rendered, refreshed, and refused when unreadable. */

const report = {
  command: 'node --import tsx bench/x.bench.ts',
  date: '2026-12-05T09:30:17.732Z',
  loadAverage1m: 2.5,
  benchmark: 'x',
  machine: { cpu: 'AMD EPYC', cores: 2, memoryGiB: 24, node: 'v20.20.2', platform: 'linux-x64' },
  figures: [
    {
      name: 'updates per CPU second',
      value: 641.4,
      unit: 'updates/s',
      comparedTo: { name: 'goal', value: 500 },
      ratio: 1.2828,
      higherIsBetter: true,
    },
  ],
};

test('a marked table is rendered from its JSON with the command, date, machine and load; rendering again changes nothing', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'bench-tables-'));
  await writeFile(join(dir, 'x.json'), JSON.stringify(report));
  const markdown = 'Before.\n\n<!-- bench-table: x -->\nstale figures\n<!-- /bench-table: x -->\n\nAfter.\n';
  const { text, problems } = renderReadme(markdown, dir);
  assert.deepEqual(problems, []);
  assert.match(
    text,
    /`node --import tsx bench\/x\.bench\.ts` \(bench\/results\/x\.json, 2026-12-05; AMD EPYC, 2 cores, Node v20\.20\.2, load average 2\.5\)/,
  );
  assert.match(text, /\| updates per CPU second \| 641 updates\/s \| goal: 500 \| 1\.28x \(higher is better\) \|/);
  assert.doesNotMatch(text, /stale figures/);
  assert.ok(text.startsWith('Before.\n') && text.endsWith('After.\n'));
  assert.equal(renderReadme(text, dir).text, text);
});

test('a table whose JSON is missing or malformed is a problem naming the file, and the text is left as it was', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'bench-tables-'));
  await writeFile(join(dir, 'bad.json'), JSON.stringify({ ...report, figures: 'none' }));
  const markdown =
    '<!-- bench-table: gone -->\nold\n<!-- /bench-table: gone -->\n<!-- bench-table: bad -->\nold\n<!-- /bench-table: bad -->\n';
  const { text, problems } = renderReadme(markdown, dir);
  assert.equal(text, markdown);
  assert.equal(problems.length, 2);
  assert.match(problems[0]!, /table gone has no readable bench\/results\/gone\.json/);
  assert.match(problems[1]!, /table bad has no readable bench\/results\/bad\.json/);
});

test('figures keep three significant digits, whole numbers from 100, thousands grouped', () => {
  assert.equal(formatNumber(485283.1), '485,283');
  assert.equal(formatNumber(53.14), '53.1');
  assert.equal(formatNumber(0.000089412), '0.0000894');
  assert.equal(formatNumber(-1.5), '-1.5');
});

test('the ratio reads the right way round: of two negative returns the smaller magnitude is better; of different signs there is none', () => {
  const cell = (value: number, compared: number, higherIsBetter: boolean) =>
    ratioCell({ value, comparedTo: { value: compared }, ratio: value / compared, higherIsBetter });
  assert.equal(cell(641.4, 500, true), '1.28x (higher is better)');
  assert.equal(cell(4.2, 5, false), '0.84x (lower is better)');
  // Pendulum: a return of -110 beats the goal of -200.
  assert.equal(cell(-110, -200, true), '0.55x in magnitude (lower is better)');
  assert.equal(cell(-2.47, 90, true), 'n/a (signs differ)');
  assert.equal(cell(0, 90, true), 'n/a (signs differ)');
});
