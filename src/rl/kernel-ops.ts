import * as tf from '@tensorflow/tfjs';

/**
 * The learner's tensor math, run as tfjs kernels called directly on the active backend (the
 * modular kernel API: tf.getKernel(name, backend).kernelFunc), outside the engine.
 *
 * Why: the networks are tiny, so an update costs what its ~150 tensor ops cost, not FLOPs
 * (DESIGN.md). Through the engine every op also pays scope and tensor bookkeeping (~2 us on wasm),
 * and tf.matMul / tf.fused.matMul wrap each product in three reshapes (2D -> 3D and back), so a
 * product is 4 engine ops. Here a product is one kernel call on 3D views of the same buffers, and
 * the other ops skip the engine (docs/rl.md, "Where the time goes").
 *
 * What stays with the engine: variables (weights live in tf.Variables, checkpoints read them) and
 * the pixel encoder, whose gradient comes from tfjs' autodiff (borrow / toTensor bridge the two).
 * Outputs are owned by this object and freed by release(); use withKernelOps, which also opens the
 * engine scope that frees the engine's side.
 */

/** A tensor as kernels see it: a backend buffer, a shape and a dtype. */
export type Tensor = tf.TensorInfo;

type KernelInputs = Record<string, Tensor> | Tensor[];

/** Kernel functions by name, per backend, looked up once (tf.getKernel builds a key string per call). */
const kernelsByBackend = new Map<string, Map<string, tf.KernelFunc>>();

function kernelsOf(backendName: string): Map<string, tf.KernelFunc> {
  let kernels = kernelsByBackend.get(backendName);
  if (!kernels) {
    kernels = new Map();
    kernelsByBackend.set(backendName, kernels);
  }
  return kernels;
}

function size(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export class KernelOps {
  private readonly backend: tf.KernelBackend;
  private readonly backendName: string;
  private readonly kernels: Map<string, tf.KernelFunc>;
  /** Outputs to free: backend buffers, or engine tensors where a backend's kernel returns one. */
  private owned: (Tensor | tf.Tensor)[] = [];
  private readonly scalars = new Map<number, Tensor>();

  constructor() {
    this.backendName = tf.getBackend();
    this.backend = tf.backend();
    this.kernels = kernelsOf(this.backendName);
  }

  private kernel(name: string): tf.KernelFunc {
    let fn = this.kernels.get(name);
    if (!fn) {
      const config = tf.getKernel(name, this.backendName);
      if (!config) throw new Error(`the ${this.backendName} backend has no ${name} kernel`);
      fn = config.kernelFunc;
      this.kernels.set(name, fn);
    }
    return fn;
  }

  private run(name: string, inputs: KernelInputs, attrs: tf.NamedAttrMap = {}): Tensor {
    const out = this.kernel(name)({ inputs: inputs as unknown as tf.NamedTensorInfoMap, backend: this.backend, attrs });
    if (Array.isArray(out)) throw new Error(`kernel ${name} returned ${out.length} outputs, expected one`);
    this.owned.push(out);
    return out;
  }

  // ---- data in and out ----

  /** A buffer holding `values` (owned). */
  upload(values: Float32Array, shape: readonly number[]): Tensor {
    if (values.length !== size(shape)) throw new RangeError(`${values.length} values do not fill shape [${shape.join(', ')}]`);
    const out: Tensor = { dataId: this.backend.write(values, [...shape], 'float32'), shape: [...shape], dtype: 'float32' };
    this.owned.push(out);
    return out;
  }

  /** The constant c as a scalar (one buffer per value per KernelOps). */
  scalar(c: number): Tensor {
    let s = this.scalars.get(c);
    if (!s) {
      s = this.upload(Float32Array.of(c), []);
      this.scalars.set(c, s);
    }
    return s;
  }

  /** An engine tensor (a variable, an encoder output) read by kernels; the engine keeps owning it. */
  borrow(t: tf.Tensor): Tensor {
    return { dataId: t.dataId, shape: t.shape, dtype: t.dtype };
  }

  /** The same buffer under another shape of the same size (no copy; lives as long as `t`). */
  view(t: Tensor, shape: readonly number[]): Tensor {
    if (size(shape) !== size(t.shape)) throw new RangeError(`cannot view [${t.shape.join(', ')}] as [${shape.join(', ')}]`);
    return { dataId: t.dataId, shape: [...shape], dtype: t.dtype };
  }

  /** Hands an owned output over to the engine (which then disposes it with its scope). */
  toTensor<R extends tf.Rank>(t: Tensor): tf.Tensor<R> {
    const i = this.owned.indexOf(t);
    if (i < 0) throw new Error('toTensor: not an output of these kernel ops');
    this.owned.splice(i, 1);
    return tf.engine().makeTensorFromTensorInfo(t) as tf.Tensor<R>;
  }

  /** The values of `t` (a copy on the host; a sync point on GPU backends). */
  read(t: Tensor): Float32Array {
    return this.backend.readSync(t.dataId) as Float32Array;
  }

  /** Frees every output and upload. */
  release(): void {
    for (const t of this.owned) {
      if (t instanceof tf.Tensor) t.dispose();
      else this.backend.disposeData(t.dataId);
    }
    this.owned = [];
    this.scalars.clear();
  }

  // ---- products ----

  /**
   * act(a b + bias) for 2D a [m, k], b [k, n]: one _FusedMatMul (relu and linear fuse on every
   * backend). No transpose flags: on wasm those take an unoptimised path (~10x slower).
   */
  matMul(a: Tensor, b: Tensor, bias: Tensor | null = null, activation: 'relu' | 'linear' = 'linear'): Tensor {
    const [m, k] = a.shape as [number, number];
    const [k2, n] = b.shape as [number, number];
    if (k !== k2) throw new RangeError(`matMul: inner sizes differ, [${a.shape.join(', ')}] x [${b.shape.join(', ')}]`);
    const inputs: Record<string, Tensor> = { a: this.view(a, [1, m, k]), b: this.view(b, [1, k, n]) };
    if (bias) inputs.bias = bias;
    const out = this.run('_FusedMatMul', inputs, { transposeA: false, transposeB: false, activation });
    return this.view(out, [m, n]);
  }

  // ---- elementwise (numpy broadcasting) ----

  add(a: Tensor, b: Tensor): Tensor {
    return this.run('Add', { a, b });
  }

  sub(a: Tensor, b: Tensor): Tensor {
    return this.run('Sub', { a, b });
  }

  mul(a: Tensor, b: Tensor): Tensor {
    return this.run('Multiply', { a, b });
  }

  /** c x for a constant c. */
  scale(x: Tensor, c: number): Tensor {
    return this.mul(x, this.scalar(c));
  }

  minimum(a: Tensor, b: Tensor): Tensor {
    return this.run('Minimum', { a, b });
  }

  clip(x: Tensor, lo: number, hi: number): Tensor {
    return this.run('ClipByValue', { x }, { clipValueMin: lo, clipValueMax: hi });
  }

  relu(x: Tensor): Tensor {
    return this.run('Relu', { x });
  }

  tanh(x: Tensor): Tensor {
    return this.run('Tanh', { x });
  }

  /** 1 where x > 0, else 0. */
  step(x: Tensor): Tensor {
    return this.run('Step', { x }, { alpha: 0 });
  }

  square(x: Tensor): Tensor {
    return this.run('Square', { x });
  }

  exp(x: Tensor): Tensor {
    return this.run('Exp', { x });
  }

  log(x: Tensor): Tensor {
    return this.run('Log', { x });
  }

  // ---- reductions and reshaping ----

  /** Sum over `axis` of a 2D tensor ([n] or, with keepDims, [1, n] / [m, 1]). */
  sum(x: Tensor, axis: 0 | 1, keepDims = false): Tensor {
    return this.run('Sum', { x }, { axis: [axis], keepDims });
  }

  max(x: Tensor, axis: 0 | 1, keepDims = false): Tensor {
    return this.run('Max', { x }, { reductionIndices: [axis], keepDims });
  }

  /** Mean of all elements, a scalar. */
  mean(x: Tensor): Tensor {
    return this.run('Mean', { x: this.view(x, [size(x.shape)]) }, { axis: [0], keepDims: false });
  }

  /** Softmax over the last axis. */
  softmax(logits: Tensor): Tensor {
    return this.run('Softmax', { logits }, { dim: logits.shape.length - 1 });
  }

  transpose(x: Tensor): Tensor {
    return this.run('Transpose', { x }, { perm: [1, 0] });
  }

  concat(xs: readonly Tensor[], axis: number): Tensor {
    return this.run('Concat', [...xs], { axis });
  }

  /** Columns [from, from + count) of a 2D tensor. */
  columns(x: Tensor, from: number, count: number): Tensor {
    const rows = x.shape[0] as number;
    return this.run('Slice', { x }, { begin: [0, from], size: [rows, count] });
  }

  /** Everything in `parts` flattened end to end, read back once: one sync per network step. */
  readAll(parts: readonly Tensor[]): Float32Array {
    const flat = parts.map((t) => this.view(t, [size(t.shape)]));
    return this.read(flat.length === 1 ? (flat[0] as Tensor) : this.concat(flat, 0));
  }
}

/**
 * Runs `fn` with fresh kernel ops inside one engine scope, then frees both: the kernel ops' buffers
 * and the engine tensors made meanwhile (image batches, the pixel encoder's tensors, buffers handed
 * over with toTensor), also on a throw. `fn` returns host values, not tensors.
 */
export function withKernelOps<T>(fn: (ops: KernelOps) => T): T {
  const ops = new KernelOps();
  const engine = tf.engine();
  engine.startScope();
  try {
    return fn(ops);
  } finally {
    engine.endScope();
    ops.release();
  }
}
