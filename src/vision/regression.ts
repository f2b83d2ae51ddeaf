/**
 * Linear probes of the latent: ordinary least squares y ~ w.x + b, and the coefficient of
 * determination R^2 = 1 - SS_res / SS_tot on held-out data. Small (latent ~32 dims), so the
 * normal equations (X^T X + lambda I) w = X^T y are solved directly in float64.
 */

export interface LinearModel {
  readonly weights: Float64Array;
  readonly bias: number;
}

/** Solves A x = b in place by Gaussian elimination with partial pivoting (A is n x n, row-major). */
function solve(a: Float64Array, b: Float64Array, n: number): Float64Array {
  for (let col = 0; col < n; col++) {
    let pivot = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(a[r * n + col]!) > Math.abs(a[pivot * n + col]!)) pivot = r;
    if (Math.abs(a[pivot * n + col]!) < 1e-300) throw new RangeError('least squares: singular system');
    if (pivot !== col) {
      for (let c = 0; c < n; c++) [a[col * n + c], a[pivot * n + c]] = [a[pivot * n + c]!, a[col * n + c]!];
      [b[col], b[pivot]] = [b[pivot]!, b[col]!];
    }
    for (let r = col + 1; r < n; r++) {
      const f = a[r * n + col]! / a[col * n + col]!;
      if (f === 0) continue;
      for (let c = col; c < n; c++) a[r * n + c]! -= f * a[col * n + c]!;
      b[r]! -= f * b[col]!;
    }
  }
  const x = new Float64Array(n);
  for (let r = n - 1; r >= 0; r--) {
    let s = b[r]!;
    for (let c = r + 1; c < n; c++) s -= a[r * n + c]! * x[c]!;
    x[r] = s / a[r * n + r]!;
  }
  return x;
}

/**
 * Least squares with an intercept: minimises sum_i (y_i - w.x_i - b)^2 + lambda |w|^2
 * (a tiny ridge, relative to the feature scale, only to keep collinear latents solvable).
 */
export function fitLinear(xs: readonly ArrayLike<number>[], ys: readonly number[], lambda = 1e-6): LinearModel {
  if (xs.length !== ys.length || xs.length === 0)
    throw new RangeError(`least squares needs as many targets as rows (got ${xs.length} rows, ${ys.length} targets)`);
  const d = xs[0]!.length;
  const n = d + 1;
  const ata = new Float64Array(n * n);
  const aty = new Float64Array(n);
  const row = new Float64Array(n);
  for (let i = 0; i < xs.length; i++) {
    const x = xs[i]!;
    for (let j = 0; j < d; j++) row[j] = x[j]!;
    row[d] = 1;
    const y = ys[i]!;
    for (let j = 0; j < n; j++) {
      const rj = row[j]!;
      aty[j]! += rj * y;
      for (let k = j; k < n; k++) ata[j * n + k]! += rj * row[k]!;
    }
  }
  let trace = 0;
  for (let j = 0; j < d; j++) trace += ata[j * n + j]!;
  const ridge = lambda * Math.max(trace / Math.max(d, 1), 1e-12);
  for (let j = 0; j < n; j++) {
    for (let k = 0; k < j; k++) ata[j * n + k] = ata[k * n + j]!;
    if (j < d) ata[j * n + j]! += ridge;
  }
  const w = solve(ata, aty, n);
  return { weights: w.subarray(0, d), bias: w[d]! };
}

export function predictLinear(model: LinearModel, x: ArrayLike<number>): number {
  let s = model.bias;
  for (let j = 0; j < model.weights.length; j++) s += model.weights[j]! * x[j]!;
  return s;
}

/** R^2 = 1 - sum (y - y_hat)^2 / sum (y - mean y)^2. */
export function rSquared(ys: readonly number[], predictions: readonly number[]): number {
  const mean = ys.reduce((a, b) => a + b, 0) / ys.length;
  let ssRes = 0;
  let ssTot = 0;
  for (let i = 0; i < ys.length; i++) {
    ssRes += (ys[i]! - predictions[i]!) ** 2;
    ssTot += (ys[i]! - mean) ** 2;
  }
  return ssTot === 0 ? (ssRes === 0 ? 1 : -Infinity) : 1 - ssRes / ssTot;
}

/**
 * R^2 of a linear probe scored only on groups (roads) it was not fitted on: the groups are dealt
 * round-robin into `folds` folds; each fold is predicted by least squares fitted on the others,
 * and R^2 is taken over all the pooled out-of-fold predictions. Pooling (rather than averaging
 * per-fold R^2) scores every frame once against the spread of the whole set, and dealing whole
 * groups keeps frames of one road, which are alike, from being both fitted and scored.
 */
export function groupCrossValidatedR2(
  xs: readonly ArrayLike<number>[],
  ys: readonly number[],
  groups: readonly number[],
  folds = 3,
): number {
  if (xs.length !== ys.length || xs.length !== groups.length)
    throw new RangeError('cross-validation needs one target and one group per row');
  const distinct = [...new Set(groups)].sort((a, b) => a - b);
  if (distinct.length < folds)
    throw new RangeError(
      `cross-validation over ${folds} folds needs at least ${folds} groups (got ${distinct.length})`,
    );
  const foldOf = new Map(distinct.map((g, i) => [g, i % folds]));
  const predictions = new Array<number>(xs.length);
  for (let f = 0; f < folds; f++) {
    const fit = xs.map((_, i) => i).filter((i) => foldOf.get(groups[i]!) !== f);
    const model = fitLinear(
      fit.map((i) => xs[i]!),
      fit.map((i) => ys[i]!),
    );
    xs.forEach((x, i) => {
      if (foldOf.get(groups[i]!) === f) predictions[i] = predictLinear(model, x);
    });
  }
  return rSquared(ys, predictions);
}
