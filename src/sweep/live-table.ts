import type { TrialRecord } from './record.js';
import type { ObjectiveKey, SearchSpace } from './space.js';
import type { Interval } from './statistics.js';
import { rankTrials } from './coordinator.js';

/** What a person sees while a sweep runs: counts, then the leaderboard with 95% intervals. */
export function formatInterval(i: Interval, key: ObjectiveKey): string {
  const f = (x: number) =>
    key === 'cleanShare' ? x.toFixed(2) : key === 'metresPerDisengagement' ? x.toFixed(0) : x.toFixed(1);
  return `${f(i.estimate)} [${f(i.low)}, ${f(i.high)}]`;
}

export function formatLeaderboard(trials: readonly TrialRecord[], space: SearchSpace, rows = 10): string {
  const count = (state: TrialRecord['state']) => trials.filter((t) => t.state === state).length;
  const seedsRunning = trials.reduce((s, t) => s + t.seeds.filter((x) => x.state === 'running').length, 0);
  const head = `trials: ${count('running')} running (${seedsRunning} seeds), ${count('done')} done, ${count('pruned')} pruned, ${count('failed')} failed`;
  const ranked = rankTrials(trials, space).slice(0, rows);
  const header = [
    '#',
    'trial',
    'state',
    'seeds',
    ...space.objective,
    ...space.parameters.filter((p) => p.distribution.kind !== 'fixed').map((p) => p.path),
  ];
  const cells = ranked.map((t, i) => [
    String(i + 1),
    t.reference ? `${t.id} (${t.reference})` : String(t.id),
    t.state,
    String(t.score?.seeds ?? 0),
    ...space.objective.map((k) => (t.score ? formatInterval(t.score[k], k) : '-')),
    ...space.parameters.filter((p) => p.distribution.kind !== 'fixed').map((p) => formatValue(t.params[p.path])),
  ]);
  if (cells.length === 0) return `${head}\n(no trial seed finished yet)`;
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: readonly string[]) => c.map((x, i) => x.padEnd(widths[i]!)).join('  ');
  return [head, line(header), ...cells.map(line)].join('\n');
}

function formatValue(v: unknown): string {
  if (v === undefined) return '-';
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : v.toPrecision(3);
  return JSON.stringify(v);
}

/** Redraws the table on a terminal (stderr); elsewhere prints it only when a trial seed finishes. */
export class LiveTable {
  private lastDone = -1;

  constructor(
    private readonly space: SearchSpace,
    private readonly stream: NodeJS.WriteStream = process.stderr,
  ) {}

  update(trials: readonly TrialRecord[]): void {
    const done = trials.reduce(
      (s, t) => s + t.seeds.filter((x) => x.state === 'done' || x.state === 'failed').length,
      0,
    );
    const text = formatLeaderboard(trials, this.space);
    if (this.stream.isTTY) this.stream.write(`\x1b[H\x1b[2J${text}\n`);
    else if (done !== this.lastDone) this.stream.write(`${text}\n\n`);
    this.lastDone = done;
  }
}
