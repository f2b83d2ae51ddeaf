import type { Params, SearchSpace } from './space.js';
import { sameValue } from './space.js';

/**
 * Parameter importance from the finished trials, simply: |Spearman's rank correlation| between a
 * numeric parameter and the objective, the correlation ratio eta (Fisher) for a choice;
 * normalised to sum to 1. Not fANOVA (Optuna's default): with tens of trials it says which
 * parameter the objective moved with, no more.
 */
function ranks(values: readonly number[]): number[] {
  const order = values.map((v, i) => [v, i] as const).sort((a, b) => a[0] - b[0]);
  const out = new Array<number>(values.length);
  for (let i = 0; i < order.length;) {
    let j = i;
    while (j + 1 < order.length && order[j + 1]![0] === order[i]![0]) j++;
    for (let k = i; k <= j; k++) out[order[k]![1]] = (i + j) / 2;
    i = j + 1;
  }
  return out;
}

function pearson(x: readonly number[], y: readonly number[]): number {
  const n = x.length;
  const mx = x.reduce((s, v) => s + v, 0) / n;
  const my = y.reduce((s, v) => s + v, 0) / n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    sxy += (x[i]! - mx) * (y[i]! - my);
    sxx += (x[i]! - mx) ** 2;
    syy += (y[i]! - my) ** 2;
  }
  return sxx === 0 || syy === 0 ? 0 : sxy / Math.sqrt(sxx * syy);
}

function correlationRatio(groups: readonly unknown[], y: readonly number[]): number {
  const my = y.reduce((s, v) => s + v, 0) / y.length;
  const total = y.reduce((s, v) => s + (v - my) ** 2, 0);
  if (total === 0) return 0;
  const keys: unknown[] = [];
  for (const g of groups) if (!keys.some((k) => sameValue(k, g))) keys.push(g);
  const between = keys.reduce<number>((s, k) => {
    const ys = y.filter((_, i) => sameValue(groups[i], k));
    const m = ys.reduce((a, v) => a + v, 0) / ys.length;
    return s + ys.length * (m - my) ** 2;
  }, 0);
  return Math.sqrt(between / total);
}

export function parameterImportance(
  space: SearchSpace,
  trials: readonly { params: Params; objective: number }[],
): { path: string; importance: number }[] {
  const raw = space.parameters
    .filter((p) => p.distribution.kind !== 'fixed')
    .map((p) => {
      const with_ = trials.filter((t) => p.path in t.params);
      if (with_.length < 3) return { path: p.path, importance: 0 };
      const y = with_.map((t) => t.objective);
      const importance =
        p.distribution.kind === 'categorical'
          ? correlationRatio(
              with_.map((t) => t.params[p.path]),
              y,
            )
          : Math.abs(pearson(ranks(with_.map((t) => Number(t.params[p.path]))), ranks(y)));
      return { path: p.path, importance };
    });
  const total = raw.reduce((s, r) => s + r.importance, 0);
  return raw
    .map((r) => ({ path: r.path, importance: total > 0 ? r.importance / total : 0 }))
    .sort((a, b) => b.importance - a.importance);
}
