import type * as tf from '@tensorflow/tfjs';

/**
 * The tensor math of a learner update, as one small set of ops (products, elementwise math,
 * reductions, reshapes) with two implementations, chosen per backend by withTensorOps:
 *  - KernelOps (kernel-ops.ts): the backend's kernels called directly, outside the engine, on
 *    backends whose kernels read a buffer under whatever shape the caller passes (wasm, cpu);
 *  - EngineOps (engine-ops.ts): the same ops through the tfjs engine, for every other backend
 *    (tensorflow on the vehicle, webgl): there a buffer carries its own shape, and some kernels
 *    call engine ops on their inputs, so only engine tensors are safe.
 * Every tensor made by an ops object lives until its release() (withTensorOps calls it).
 */

/** A tensor as the ops see it: a backend buffer, a shape and a dtype (an engine tensor is one too). */
export type Tensor = tf.TensorInfo;

export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export abstract class TensorOps {
  // ---- data in and out ----

  /** A tensor holding `values` (owned). */
  upload(values: Float32Array, shape: readonly number[]): Tensor {
    if (values.length !== sizeOf(shape))
      throw new RangeError(`${values.length} values do not fill shape [${shape.join(', ')}]`);
    return this.write(values, shape);
  }

  protected abstract write(values: Float32Array, shape: readonly number[]): Tensor;

  /** The constant c as a scalar (one per value per ops object). */
  abstract scalar(c: number): Tensor;

  /** An engine tensor (a variable, an encoder output) read by the ops; the engine keeps owning it. */
  abstract borrow(t: tf.Tensor): Tensor;

  /** Hands an output over to the engine (which then disposes it with its scope). */
  abstract toTensor<R extends tf.Rank>(t: Tensor): tf.Tensor<R>;

  /** The values of `t` (a copy on the host; a sync point on GPU backends). */
  abstract read(t: Tensor): Float32Array;

  /** Frees every output, upload and scalar not handed over with toTensor. */
  abstract release(): void;

  /** The same values under another shape of the same size. */
  view(t: Tensor, shape: readonly number[]): Tensor {
    if (sizeOf(shape) !== sizeOf(t.shape))
      throw new RangeError(`cannot view [${t.shape.join(', ')}] as [${shape.join(', ')}]`);
    return this.reshape(t, shape);
  }

  protected abstract reshape(t: Tensor, shape: readonly number[]): Tensor;

  /** Everything in `parts` flattened end to end, read back once: one sync per network step. */
  readAll(parts: readonly Tensor[]): Float32Array {
    const flat = parts.map((t) => this.view(t, [sizeOf(t.shape)]));
    return this.read(flat.length === 1 ? (flat[0] as Tensor) : this.concat(flat, 0));
  }

  // ---- products ----

  /** act(a b + bias) for 2D a [m, k], b [k, n]; relu and linear fuse into the product. */
  matMul(a: Tensor, b: Tensor, bias: Tensor | null = null, activation: 'relu' | 'linear' = 'linear'): Tensor {
    const [m, k] = a.shape as [number, number];
    const [k2, n] = b.shape as [number, number];
    if (k !== k2) throw new RangeError(`matMul: inner sizes differ, [${a.shape.join(', ')}] x [${b.shape.join(', ')}]`);
    return this.product(a, b, bias, activation, m, k, n);
  }

  protected abstract product(
    a: Tensor,
    b: Tensor,
    bias: Tensor | null,
    activation: 'relu' | 'linear',
    m: number,
    k: number,
    n: number,
  ): Tensor;

  // ---- elementwise (numpy broadcasting) ----

  abstract add(a: Tensor, b: Tensor): Tensor;
  abstract sub(a: Tensor, b: Tensor): Tensor;
  abstract mul(a: Tensor, b: Tensor): Tensor;
  abstract minimum(a: Tensor, b: Tensor): Tensor;

  /** c x for a constant c. */
  scale(x: Tensor, c: number): Tensor {
    return this.mul(x, this.scalar(c));
  }

  abstract clip(x: Tensor, lo: number, hi: number): Tensor;
  abstract relu(x: Tensor): Tensor;
  abstract tanh(x: Tensor): Tensor;
  /** 1 where x > 0, else 0. */
  abstract step(x: Tensor): Tensor;
  abstract square(x: Tensor): Tensor;
  abstract exp(x: Tensor): Tensor;
  abstract log(x: Tensor): Tensor;

  // ---- reductions and reshaping ----

  /** Sum over `axis` of a 2D tensor ([n] or, with keepDims, [1, n] / [m, 1]). */
  abstract sum(x: Tensor, axis: 0 | 1, keepDims?: boolean): Tensor;
  abstract max(x: Tensor, axis: 0 | 1, keepDims?: boolean): Tensor;
  /** Mean of all elements, a scalar. */
  abstract mean(x: Tensor): Tensor;
  /** Softmax over the last axis. */
  abstract softmax(logits: Tensor): Tensor;
  /** The transpose of a 2D tensor. */
  abstract transpose(x: Tensor): Tensor;
  abstract concat(xs: readonly Tensor[], axis: number): Tensor;
  /** Columns [from, from + count) of a 2D tensor. */
  abstract columns(x: Tensor, from: number, count: number): Tensor;
}
