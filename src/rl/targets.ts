import type { TensorOps, Tensor } from './tensor-ops.js';
import { clamp } from '../core/math.js';

/**
 * The learning targets as pure functions. Every transition carries its own bootstrap discount
 * d = gamma^m * (1 - terminated), where m <= n is the number of rewards summed in its (n-step)
 * return, so one-step, n-step and terminal transitions share one formula.
 */

/**
 * TD target, DDPG (Lillicrap et al. 2016, Algorithm 1): y = r + gamma Q'(s', mu'(s')), here
 * with the per-transition discount: y_i = r_i + d_i * q'_i.
 */
export function tdTarget(ops: TensorOps, rewards: Tensor, discounts: Tensor, nextQ: Tensor): Tensor {
  return ops.add(rewards, ops.mul(discounts, nextQ));
}

/**
 * Target policy smoothing, TD3 (Fujimoto et al. 2018, eq. 14):
 * a' = clip(mu'(s') + clip(eps, -c, c), -1, 1) with eps ~ N(0, sigma) given in `noise`.
 */
export function smoothedTargetAction(ops: TensorOps, nextActions: Tensor, noise: Tensor, noiseClip: number): Tensor {
  return ops.clip(ops.add(nextActions, ops.clip(noise, -noiseClip, noiseClip)), -1, 1);
}

/**
 * Clipped double-Q target, TD3 (Fujimoto et al. 2018, eq. 10):
 * y = r + d * min(Q'_1(s', a'), Q'_2(s', a')).
 */
export function td3Target(ops: TensorOps, rewards: Tensor, discounts: Tensor, nextQ1: Tensor, nextQ2: Tensor): Tensor {
  return tdTarget(ops, rewards, discounts, ops.minimum(nextQ1, nextQ2));
}

export interface NStepResult {
  /** R = sum_{k=0}^{m-1} gamma^k r_{t+k} */
  readonly ret: number;
  /** gamma^m, or 0 when the episode terminated inside the window (no bootstrap). */
  readonly discount: number;
}

/**
 * n-step return (Sutton & Barto 2018, eq. 7.1; D4PG, Barth-Maron et al. 2018, eq. 6) over the
 * rewards of one window: m = rewards.length rewards, fewer than n at an episode's end.
 */
export function nStepReturn(rewards: readonly number[], gamma: number, terminated: boolean): NStepResult {
  let ret = 0;
  let g = 1;
  for (const r of rewards) {
    ret += g * r;
    g *= gamma;
  }
  return { ret, discount: terminated ? 0 : g };
}

/** The fixed support z_i = vMin + i * dz of a categorical critic, dz = (vMax - vMin) / (N - 1). */
export function categoricalSupport(vMin: number, vMax: number, atoms: number): Float32Array {
  const dz = (vMax - vMin) / (atoms - 1);
  return Float32Array.from({ length: atoms }, (_, i) => vMin + i * dz);
}

/**
 * Projection of the shifted target distribution onto the support, C51 (Bellemare et al. 2017,
 * eq. 7 and Algorithm 1):
 *
 *   (Phi T z)_i = sum_j [1 - |clip(r + d z_j, vMin, vMax) - z_i| / dz]_0^1 * p_j
 *
 * i.e. each shifted atom splits its probability between its two neighbours on the support.
 * On the host, O(batch * atoms): the target side needs no gradient, and on wasm this costs
 * ~20 us where the same projection as a batched matMul over [B, N, N] hat weights costs ~500 us
 * and a scatterND form ~250 us (docs/rl.md).
 * probs [batch * atoms] row-major (target probabilities p_j), rewards and discounts [batch].
 */
export function categoricalProjection(
  probs: ArrayLike<number>,
  rewards: ArrayLike<number>,
  discounts: ArrayLike<number>,
  vMin: number,
  vMax: number,
  atoms: number,
  out: Float32Array = new Float32Array(rewards.length * atoms),
): Float32Array {
  const batch = rewards.length;
  if (probs.length !== batch * atoms)
    throw new RangeError(`probs has ${probs.length} values, expected ${batch} x ${atoms}`);
  const dz = (vMax - vMin) / (atoms - 1);
  out.fill(0, 0, batch * atoms);
  for (let k = 0; k < batch; k++) {
    const r = rewards[k] as number;
    const d = discounts[k] as number;
    const row = k * atoms;
    for (let j = 0; j < atoms; j++) {
      const p = probs[row + j] as number;
      const tz = clamp(r + d * (vMin + j * dz), vMin, vMax);
      const b = (tz - vMin) / dz;
      const l = Math.min(Math.floor(b), atoms - 1);
      const frac = b - l;
      out[row + l] = (out[row + l] as number) + p * (1 - frac);
      if (frac > 0) out[row + l + 1] = (out[row + l + 1] as number) + p * frac;
    }
  }
  return out;
}

/** log softmax per row, x - logSumExp(x) with logSumExp(x) = m + log sum_j exp(x_j - m), m = max_j x_j. */
export function logSoftmax(ops: TensorOps, logits: Tensor): Tensor {
  const shifted = ops.sub(logits, ops.max(logits, 1, true));
  return ops.sub(shifted, ops.log(ops.sum(ops.exp(shifted), 1, true)));
}

/** Cross-entropy -sum_j m_j log p_j of the projected target m and the predicted distribution, per sample [B]. */
export function categoricalCrossEntropy(ops: TensorOps, target: Tensor, logits: Tensor): Tensor {
  return ops.scale(ops.sum(ops.mul(target, logSoftmax(ops, logits)), 1), -1);
}

/** Expected value Q = sum_i p_i z_i of categorical distributions `probs` [B, N] over the support [1, N], [B]. */
export function categoricalExpectation(ops: TensorOps, probs: Tensor, support: Tensor): Tensor {
  return ops.sum(ops.mul(probs, support), 1);
}
