import * as tf from '@tensorflow/tfjs';
import { sizeOf, TensorOps, type Tensor } from './tensor-ops.js';

/**
 * The learner's tensor math as tfjs kernels called directly on the active backend (the modular
 * kernel API: tf.getKernel(name, backend).kernelFunc), outside the engine. Only for backends whose
 * kernels take plain buffers and read them under the shape passed with them (wasm, cpu):
 * withTensorOps chooses, and every other backend gets EngineOps.
 *
 * Why: the networks are tiny, so an update costs what its ~150 tensor ops cost, not FLOPs
 * (docs/experiments/2026-12-04-learner.md, "Where the time goes"). Through the engine every op also pays scope and tensor bookkeeping (~2 us on wasm),
 * and tf.matMul / tf.fused.matMul wrap each product in three reshapes (2D -> 3D and back), so a
 * product is 4 engine ops. Here a product is one kernel call on 3D views of the same buffers, and
 * the other ops skip the engine (docs/experiments/2026-12-04-learner.md, "Where the time goes").
 *
 * What stays with the engine: variables (weights live in tf.Variables, checkpoints read them) and
 * the pixel encoder, whose gradient comes from tfjs' autodiff (borrow / toTensor bridge the two).
 */

/** Backends whose kernels take plain buffers and read them under the shape passed with them. */
export const DIRECT_KERNEL_BACKENDS: ReadonlySet<string> = new Set(['wasm', 'cpu']);

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

export class KernelOps extends TensorOps {
  private readonly backend: tf.KernelBackend;
  private readonly backendName: string;
  private readonly kernels: Map<string, tf.KernelFunc>;
  /** Outputs and uploads to free. */
  private owned: Tensor[] = [];
  private readonly scalars = new Map<number, Tensor>();

  constructor() {
    super();
    this.backendName = tf.getBackend();
    if (!DIRECT_KERNEL_BACKENDS.has(this.backendName))
      throw new Error(`direct kernel calls need the wasm or cpu backend, not ${this.backendName} (use withTensorOps)`);
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

  protected override write(values: Float32Array, shape: readonly number[]): Tensor {
    const out: Tensor = {
      dataId: this.backend.write(values, [...shape], 'float32'),
      shape: [...shape],
      dtype: 'float32',
    };
    this.owned.push(out);
    return out;
  }

  override scalar(c: number): Tensor {
    let s = this.scalars.get(c);
    if (!s) {
      s = this.upload(Float32Array.of(c), []);
      this.scalars.set(c, s);
    }
    return s;
  }

  override borrow(t: tf.Tensor): Tensor {
    return { dataId: t.dataId, shape: t.shape, dtype: t.dtype };
  }

  /** The same buffer under another shape (no copy; lives as long as `t`). */
  protected override reshape(t: Tensor, shape: readonly number[]): Tensor {
    return { dataId: t.dataId, shape: [...shape], dtype: t.dtype };
  }

  override toTensor<R extends tf.Rank>(t: Tensor): tf.Tensor<R> {
    const i = this.owned.indexOf(t);
    if (i < 0) throw new Error('toTensor: not an output of these kernel ops');
    this.owned.splice(i, 1);
    return tf.engine().makeTensorFromTensorInfo(t) as tf.Tensor<R>;
  }

  override read(t: Tensor): Float32Array {
    return this.backend.readSync(t.dataId) as Float32Array;
  }

  override release(): void {
    for (const t of this.owned) this.backend.disposeData(t.dataId);
    this.owned = [];
    this.scalars.clear();
  }

  // ---- products ----

  /** One _FusedMatMul on 3D views. No transpose flags: on wasm those take an unoptimised path (~10x slower). */
  protected override product(
    a: Tensor,
    b: Tensor,
    bias: Tensor | null,
    activation: 'relu' | 'linear',
    m: number,
    k: number,
    n: number,
  ): Tensor {
    const inputs: Record<string, Tensor> = { a: this.reshape(a, [1, m, k]), b: this.reshape(b, [1, k, n]) };
    if (bias) inputs.bias = bias;
    return this.reshape(this.run('_FusedMatMul', inputs, { transposeA: false, transposeB: false, activation }), [m, n]);
  }

  // ---- elementwise (numpy broadcasting) ----

  override add(a: Tensor, b: Tensor): Tensor {
    return this.run('Add', { a, b });
  }

  override sub(a: Tensor, b: Tensor): Tensor {
    return this.run('Sub', { a, b });
  }

  override mul(a: Tensor, b: Tensor): Tensor {
    return this.run('Multiply', { a, b });
  }

  override minimum(a: Tensor, b: Tensor): Tensor {
    return this.run('Minimum', { a, b });
  }

  override clip(x: Tensor, lo: number, hi: number): Tensor {
    return this.run('ClipByValue', { x }, { clipValueMin: lo, clipValueMax: hi });
  }

  override relu(x: Tensor): Tensor {
    return this.run('Relu', { x });
  }

  override tanh(x: Tensor): Tensor {
    return this.run('Tanh', { x });
  }

  override step(x: Tensor): Tensor {
    return this.run('Step', { x }, { alpha: 0 });
  }

  override square(x: Tensor): Tensor {
    return this.run('Square', { x });
  }

  override exp(x: Tensor): Tensor {
    return this.run('Exp', { x });
  }

  override log(x: Tensor): Tensor {
    return this.run('Log', { x });
  }

  // ---- reductions and reshaping ----

  override sum(x: Tensor, axis: 0 | 1, keepDims = false): Tensor {
    return this.run('Sum', { x }, { axis: [axis], keepDims });
  }

  override max(x: Tensor, axis: 0 | 1, keepDims = false): Tensor {
    return this.run('Max', { x }, { reductionIndices: [axis], keepDims });
  }

  override mean(x: Tensor): Tensor {
    return this.run('Mean', { x: this.reshape(x, [sizeOf(x.shape)]) }, { axis: [0], keepDims: false });
  }

  override softmax(logits: Tensor): Tensor {
    return this.run('Softmax', { logits }, { dim: logits.shape.length - 1 });
  }

  override transpose(x: Tensor): Tensor {
    return this.run('Transpose', { x }, { perm: [1, 0] });
  }

  override concat(xs: readonly Tensor[], axis: number): Tensor {
    return this.run('Concat', [...xs], { axis });
  }

  override columns(x: Tensor, from: number, count: number): Tensor {
    const rows = x.shape[0] as number;
    return this.run('Slice', { x }, { begin: [0, from], size: [rows, count] });
  }
}
