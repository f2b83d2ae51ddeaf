import { cpus, totalmem } from 'node:os';

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

/** Prints one JSON object: the benchmark's name, the machine, and its figures. */
export function printReport(
  benchmark: string,
  figures: readonly BenchFigure[],
  extra: Record<string, unknown> = {},
): void {
  process.stdout.write(JSON.stringify({ benchmark, machine: machine(), figures, ...extra }) + '\n');
}
