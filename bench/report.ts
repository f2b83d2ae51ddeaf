import { cpus, loadavg, totalmem } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { writeJsonSafely } from '../src/core/files.js';
import { roundTo } from '../src/core/math.js';

/** One benchmark figure, printed as a JSON line: the figure, what it is compared to, the ratio. */
export interface BenchFigure {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  /** What the figure is compared against (a goal, or a baseline measured in the same run). */
  readonly comparedTo: { readonly name: string; readonly value: number };
  /** value / comparedTo.value */
  readonly ratio: number;
  /** Whether higher is better for this figure (for reading the ratio). */
  readonly higherIsBetter: boolean;
  readonly notes?: string;
}

export function machine(): Record<string, string | number> {
  const cpu = cpus();
  return {
    cpu: cpu[0]?.model ?? 'unknown',
    cores: cpu.length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
  };
}

export function figure(
  name: string,
  value: number,
  unit: string,
  comparedTo: { name: string; value: number },
  higherIsBetter: boolean,
  notes?: string,
): BenchFigure {
  return {
    name,
    value,
    unit,
    comparedTo,
    ratio: value / comparedTo.value,
    higherIsBetter,
    ...(notes ? { notes } : {}),
  };
}

/** Where each benchmark's last report is kept (committed): scripts/bench-tables.ts renders the README's tables from them. */
export const RESULTS_DIR = resolve(import.meta.dirname, 'results');

/**
 * Prints one JSON object (the benchmark's name, the machine, its figures) and writes it, with the
 * command, the date and the load average, to bench/results/<benchmark>.json, unless
 * BENCH_RESULTS=off (a run under other settings that should not replace the README's figures).
 */
export async function printReport(
  benchmark: string,
  figures: readonly BenchFigure[],
  extra: Record<string, unknown> = {},
): Promise<void> {
  const report = { benchmark, machine: machine(), figures, ...extra };
  process.stdout.write(JSON.stringify(report) + '\n');
  if (process.env.BENCH_RESULTS === 'off') return;
  const script = relative(resolve(import.meta.dirname, '..'), process.argv[1] ?? '');
  await writeJsonSafely(join(RESULTS_DIR, `${benchmark}.json`), {
    // The benches' own settings (ROS_BENCH_QUICK=1, ...) are part of the command that printed the figures.
    command: [
      ...Object.entries(process.env)
        .filter(([k]) => /^[A-Z]+_BENCH_[A-Z_]+$/.test(k))
        .map(([k, v]) => `${k}=${v}`)
        .sort(),
      `node --import tsx ${script}`,
    ].join(' '),
    date: new Date().toISOString(),
    loadAverage1m: roundTo(loadavg()[0] ?? 0, 1),
    ...report,
  });
}
