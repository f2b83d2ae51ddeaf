import * as tf from '@tensorflow/tfjs';

/**
 * Parameter updates on the host. The networks are small (thousands of weights), so the cost of an
 * update is the number of tensor ops, not arithmetic (docs/experiments/2026-12-04-learner.md, "Where the time goes"): tf.train.adam spends ~13 ops per
 * variable and a Polyak step 3. Here the gradient of a whole network comes back in the one read the
 * learner makes anyway (to refuse non-finite steps), Adam and the Polyak average run over a flat
 * Float32Array master copy, and each variable is written back with a single assign.
 */

/** A list of variables with a flat host copy of their values (the master copy while training). */
export class ParameterGroup {
  readonly size: number;
  /** Concatenated values of all variables, in order. */
  readonly values: Float32Array;
  private readonly offsets: number[];

  constructor(readonly variables: readonly tf.Variable[]) {
    this.offsets = [];
    let offset = 0;
    for (const v of variables) {
      this.offsets.push(offset);
      offset += v.size;
    }
    this.size = offset;
    this.values = new Float32Array(offset);
    this.pull();
  }

  /** Copies the variables' current values into the host copy (after load / external assign). */
  pull(): void {
    this.variables.forEach((v, i) => this.values.set(v.dataSync() as Float32Array, this.offsets[i]));
  }

  /** Writes the host copy into the variables. */
  push(): void {
    tf.tidy(() => {
      this.variables.forEach((v, i) => {
        const start = this.offsets[i] as number;
        v.assign(tf.tensor(this.values.subarray(start, start + v.size), v.shape));
      });
    });
  }
}

export interface AdamOptions {
  readonly learningRate: number;
  readonly beta1?: number;
  readonly beta2?: number;
  readonly epsilon?: number;
  /** Clip the global gradient norm to this before the step (0: no clipping). */
  readonly clipNorm?: number;
  /** L2 penalty added to the gradient, g + wd * theta (coupled, as the DDPG paper's critic). */
  readonly weightDecay?: number;
}

export interface AdamState {
  readonly m: Float32Array;
  readonly v: Float32Array;
  readonly step: number;
}

/** L2 norm of a flat gradient (float64 accumulation). */
export function globalNorm(grad: ArrayLike<number>): number {
  let sq = 0;
  for (let i = 0; i < grad.length; i++) sq += (grad[i] as number) * (grad[i] as number);
  return Math.sqrt(sq);
}

/**
 * Adam (Kingma & Ba 2015, Algorithm 1) in PyTorch's form: global-norm clipping first
 * (torch.nn.utils.clip_grad_norm_), then g += wd theta, m and v moments with bias corrections,
 * theta -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps).
 */
export class Adam {
  readonly m: Float32Array;
  readonly v: Float32Array;
  step = 0;

  constructor(
    readonly group: ParameterGroup,
    readonly options: AdamOptions,
  ) {
    this.m = new Float32Array(group.size);
    this.v = new Float32Array(group.size);
  }

  /** One step with `grad` (length group.size, finite, norm `norm`), then writes the variables. */
  apply(grad: Float32Array, norm: number = globalNorm(grad)): void {
    if (grad.length !== this.group.size)
      throw new RangeError(`gradient has ${grad.length} values, the group ${this.group.size}`);
    const { learningRate, clipNorm = 0, weightDecay = 0 } = this.options;
    const b1 = this.options.beta1 ?? 0.9;
    const b2 = this.options.beta2 ?? 0.999;
    const eps = this.options.epsilon ?? 1e-8;
    this.step += 1;
    adamStep(this.group.values, this.m, this.v, grad, {
      scale: clipNorm > 0 ? Math.min(1, clipNorm / (norm + 1e-6)) : 1,
      weightDecay,
      b1,
      b2,
      // lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps), numerator and denominator times
      // sqrt(1 - b2^t): one division per parameter instead of two (equal up to rounding).
      stepSize: (learningRate / (1 - b1 ** this.step)) * Math.sqrt(1 - b2 ** this.step),
      epsilon: eps * Math.sqrt(1 - b2 ** this.step),
    });
    this.group.push();
  }

  state(): AdamState {
    return { m: this.m.slice(), v: this.v.slice(), step: this.step };
  }

  setState(state: AdamState): void {
    if (state.m.length !== this.m.length || state.v.length !== this.v.length) {
      throw new RangeError(`optimizer state has ${state.m.length} values, this optimizer ${this.m.length}`);
    }
    this.m.set(state.m);
    this.v.set(state.v);
    this.step = state.step;
  }
}

interface AdamStepConstants {
  /** Gradient clipping factor min(1, c / (||g|| + 1e-6)). */
  readonly scale: number;
  readonly weightDecay: number;
  readonly b1: number;
  readonly b2: number;
  /** lr sqrt(1 - b2^t) / (1 - b1^t). */
  readonly stepSize: number;
  /** eps sqrt(1 - b2^t). */
  readonly epsilon: number;
}

/**
 * One Adam step in place (Kingma & Ba 2015, Algorithm 1, with the bias corrections folded into
 * the constants): g = scale g + wd theta; m <- b1 m + (1 - b1) g; v <- b2 v + (1 - b2) g^2;
 * theta <- theta - stepSize m / (sqrt(v) + epsilon).
 */
function adamStep(
  theta: Float32Array,
  m: Float32Array,
  v: Float32Array,
  grad: Float32Array,
  c: AdamStepConstants,
): void {
  const { scale, weightDecay, b1, b2, stepSize, epsilon } = c;
  const c1 = 1 - b1;
  const c2 = 1 - b2;
  const n = theta.length;
  // Two loops so that the common case (no weight decay) has no theta read in the gradient.
  if (weightDecay === 0) {
    for (let i = 0; i < n; i++) {
      const g = (grad[i] as number) * scale;
      const mi = b1 * (m[i] as number) + c1 * g;
      const vi = b2 * (v[i] as number) + c2 * g * g;
      m[i] = mi;
      v[i] = vi;
      theta[i] = (theta[i] as number) - (stepSize * mi) / (Math.sqrt(vi) + epsilon);
    }
  } else {
    for (let i = 0; i < n; i++) {
      const t = theta[i] as number;
      const g = (grad[i] as number) * scale + weightDecay * t;
      const mi = b1 * (m[i] as number) + c1 * g;
      const vi = b2 * (v[i] as number) + c2 * g * g;
      m[i] = mi;
      v[i] = vi;
      theta[i] = t - (stepSize * mi) / (Math.sqrt(vi) + epsilon);
    }
  }
}

/**
 * theta' <- tau theta + (1 - tau) theta' (DDPG, Lillicrap et al. 2016, Algorithm 1), on host
 * copies; `sources` are concatenated in order to match `target`'s layout. Writes the targets.
 */
export function polyakUpdate(target: ParameterGroup, sources: readonly ParameterGroup[], tau: number): void {
  const t = target.values;
  let offset = 0;
  for (const source of sources) {
    const s = source.values;
    for (let i = 0; i < s.length; i++) {
      const k = offset + i;
      t[k] = (t[k] as number) + tau * ((s[i] as number) - (t[k] as number));
    }
    offset += s.length;
  }
  if (offset !== t.length) throw new RangeError(`Polyak sources hold ${offset} values, the target ${t.length}`);
  target.push();
}
