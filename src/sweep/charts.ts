import { join } from 'node:path';
import { renderVegaLitePng, type TopLevelSpec } from '../core/chart.js';
import { OBJECTIVE_LABELS } from './objective.js';
import { parameterImportance } from './importance.js';
import type { TrialRecord } from './record.js';
import type { SearchSpace } from './space.js';

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v5.json';

/**
 * The sweep's charts (PNG, in charts/): the first objective key over trials with its 95%
 * interval and the best lower bound so far; each parameter against it; parameter importance.
 */
export async function writeSweepCharts(
  dir: string,
  space: SearchSpace,
  trials: readonly TrialRecord[],
): Promise<string[]> {
  const key = space.objective[0]!;
  const label = OBJECTIVE_LABELS[key];
  const scored = trials.filter((t) => t.score && (t.state === 'done' || t.state === 'pruned'));
  if (scored.length === 0) return [];
  let bestLow = -Infinity;
  const points = scored.map((t) => {
    if (t.state === 'done') bestLow = Math.max(bestLow, t.score![key].low);
    return {
      trial: t.id,
      state: t.state,
      estimate: t.score![key].estimate,
      low: t.score![key].low,
      high: t.score![key].high,
      best: Number.isFinite(bestLow) ? bestLow : null,
    };
  });
  const files: string[] = [];
  const objective: TopLevelSpec = {
    $schema: SCHEMA,
    title: `${label} over trials (95% intervals; line: best lower bound so far)`,
    width: 560,
    height: 300,
    data: { values: points },
    layer: [
      {
        mark: 'rule',
        encoding: {
          x: { field: 'trial', type: 'quantitative' },
          y: { field: 'low', type: 'quantitative', title: label },
          y2: { field: 'high' },
        },
      },
      {
        mark: { type: 'point', filled: true },
        encoding: {
          x: { field: 'trial', type: 'quantitative' },
          y: { field: 'estimate', type: 'quantitative' },
          color: { field: 'state', type: 'nominal' },
        },
      },
      {
        mark: { type: 'line', interpolate: 'step-after', color: 'black' },
        encoding: { x: { field: 'trial', type: 'quantitative' }, y: { field: 'best', type: 'quantitative' } },
      },
    ],
  };
  files.push(join(dir, 'charts', 'objective.png'));
  await renderVegaLitePng(objective, files.at(-1)!);

  const varied = space.parameters.filter((p) => p.distribution.kind !== 'fixed');
  const panels = varied.map((p) => {
    const values = scored
      .filter((t) => p.path in t.params)
      .map((t) => ({
        value: typeof t.params[p.path] === 'number' ? t.params[p.path] : JSON.stringify(t.params[p.path]),
        estimate: t.score![key].estimate,
        state: t.state,
      }));
    const numeric = p.distribution.kind !== 'categorical';
    const logScale =
      (p.distribution.kind === 'float' || p.distribution.kind === 'int') &&
      p.distribution.log &&
      !(p.distribution.kind === 'float' && p.distribution.oneMinus);
    return {
      title: p.path,
      width: 220,
      height: 160,
      data: { values },
      mark: { type: 'point', filled: true },
      encoding: {
        x: {
          field: 'value',
          type: numeric ? 'quantitative' : 'nominal',
          title: p.path,
          ...(logScale ? { scale: { type: 'log' } } : {}),
        },
        y: { field: 'estimate', type: 'quantitative', title: label },
        color: { field: 'state', type: 'nominal' },
      },
    };
  });
  if (panels.length > 0) {
    const rows = [];
    for (let i = 0; i < panels.length; i += 3) rows.push({ hconcat: panels.slice(i, i + 3) });
    files.push(join(dir, 'charts', 'parameters.png'));
    await renderVegaLitePng(
      { $schema: SCHEMA, title: `each parameter against the ${label}`, vconcat: rows } as TopLevelSpec,
      files.at(-1)!,
    );
  }

  const importance = parameterImportance(
    space,
    scored.filter((t) => t.state === 'done').map((t) => ({ params: t.params, objective: t.score![key].estimate })),
  );
  if (importance.length > 0) {
    files.push(join(dir, 'charts', 'importance.png'));
    await renderVegaLitePng(
      {
        $schema: SCHEMA,
        title: `parameter importance (rank correlation with the ${label}, normalised)`,
        width: 400,
        height: { step: 22 },
        data: { values: importance },
        mark: 'bar',
        encoding: {
          y: { field: 'path', type: 'nominal', sort: '-x', title: null },
          x: { field: 'importance', type: 'quantitative' },
        },
      } as TopLevelSpec,
      files.at(-1)!,
    );
  }
  return files;
}
