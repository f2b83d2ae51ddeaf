/**
 * The README's tables of benchmark figures, rendered from the reports the benches write to
 * bench/results/<name>.json (bench/report.ts printReport). Each table stands between
 *   <!-- bench-table: NAME -->  and  <!-- /bench-table: NAME -->
 * and says the command that printed it, the date, the machine and the load.
 *   npm run bench:tables           rewrites the tables in README.md
 *   (scripts/check-docs.ts)        fails when a table differs from what its JSON gives
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { z } from 'zod';

const root = resolve(import.meta.dirname, '..');
const README = 'README.md';

const reportSchema = z.object({
  command: z.string(),
  date: z.string(),
  /** One figure, or one per phase of the bench (ros: driving, optimisation...). */
  loadAverage1m: z.union([z.number(), z.record(z.string(), z.number())]).optional(),
  benchmark: z.string(),
  machine: z.object({ cpu: z.string(), cores: z.number(), node: z.string() }).loose(),
  figures: z.array(
    z.object({
      name: z.string(),
      value: z.number(),
      unit: z.string(),
      comparedTo: z.object({ name: z.string(), value: z.number() }),
      ratio: z.number(),
      higherIsBetter: z.boolean(),
    }),
  ),
});
type Report = z.output<typeof reportSchema>;

/** A figure as a table shows it: three significant digits, whole numbers from 100, thousands grouped (1,194; 53.1; 0.00166). */
export function formatNumber(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  if (Math.abs(x) >= 100) return x.toLocaleString('en-US', { maximumFractionDigits: 0 });
  return x.toLocaleString('en-US', { maximumSignificantDigits: 3 });
}

/** The Markdown of one report: a line naming the command, date, machine and load, then the figures. */
export function renderTable(report: Report, file: string): string {
  const m = report.machine;
  const l = report.loadAverage1m;
  const load =
    l === undefined
      ? ''
      : typeof l === 'number'
        ? `, load average ${l}`
        : `, load average ${Object.entries(l)
            .map(([phase, x]) => `${x} (${phase})`)
            .join(', ')}`;
  const lines = [
    `\`${report.command}\` (${file}, ${report.date.slice(0, 10)}; ${m.cpu.trim()}, ${m.cores} cores, Node ${m.node}${load}):`,
    '',
    '| figure | value | compared with | ratio |',
    '| --- | ---: | --- | ---: |',
    ...report.figures.map(
      (f) =>
        `| ${f.name} | ${formatNumber(f.value)} ${f.unit} | ${f.comparedTo.name}: ${formatNumber(f.comparedTo.value)} | ${ratioCell(f)} |`,
    ),
  ];
  return lines.join('\n');
}

/**
 * The ratio as a reader takes it. Of two negative figures (returns that are costs) the smaller
 * ratio is the better for a higher-is-better figure: -110 against -200 is 0.55x in magnitude,
 * lower is better.
 * Of figures of different signs a ratio says nothing.
 */
export function ratioCell(f: {
  value: number;
  comparedTo: { value: number };
  ratio: number;
  higherIsBetter: boolean;
}): string {
  const { value } = f;
  const compared = f.comparedTo.value;
  if (value * compared <= 0) return 'n/a (signs differ)';
  if (value < 0) return `${formatNumber(f.ratio)}x in magnitude (${f.higherIsBetter ? 'lower' : 'higher'} is better)`;
  return `${formatNumber(f.ratio)}x (${f.higherIsBetter ? 'higher' : 'lower'} is better)`;
}

const MARKER = /<!-- bench-table: ([\w-]+) -->\n[\s\S]*?<!-- \/bench-table: \1 -->/g;

/** The README with every marked table rendered from its JSON; problems for the markers that cannot be. */
export function renderReadme(
  markdown: string,
  resultsDir = join(root, 'bench', 'results'),
): { text: string; problems: string[] } {
  const problems: string[] = [];
  const text = markdown.replace(MARKER, (whole, name: string) => {
    const file = `bench/results/${name}.json`;
    let report: Report;
    try {
      report = reportSchema.parse(JSON.parse(readFileSync(join(resultsDir, `${name}.json`), 'utf8')));
    } catch (err) {
      problems.push(`${README}: the table ${name} has no readable ${file}: ${(err as Error).message.split('\n')[0]}`);
      return whole;
    }
    return `<!-- bench-table: ${name} -->\n${renderTable(report, file)}\n<!-- /bench-table: ${name} -->`;
  });
  return { text, problems };
}

/** For check-docs: one line per table of README.md that is not what its JSON gives. */
export function benchTableProblems(): string[] {
  const markdown = readFileSync(join(root, README), 'utf8');
  const { text, problems } = renderReadme(markdown);
  if (problems.length === 0 && text !== markdown) {
    const before = markdown.split('\n');
    const line = text.split('\n').findIndex((l, i) => l !== before[i]) + 1;
    problems.push(`${README}:${line}: a bench table differs from bench/results/*.json: run npm run bench:tables`);
  }
  return problems;
}

function main(): void {
  const path = join(root, README);
  const { text, problems } = renderReadme(readFileSync(path, 'utf8'));
  for (const problem of problems) console.error(problem);
  if (problems.length > 0) process.exit(1);
  writeFileSync(path, text);
  console.log(`bench-tables: ${README} tables rendered from bench/results/`);
}

if (import.meta.url === `file://${process.argv[1]}`) main();
