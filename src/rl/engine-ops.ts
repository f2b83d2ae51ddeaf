import * as tf from '@tensorflow/tfjs';
import { TensorOps, type Tensor } from './tensor-ops.js';

/**
 * The learner's tensor math through the tfjs engine: every op a public tf op on engine tensors.
 * For the backends KernelOps cannot serve: on `tensorflow` (tfjs-node, tfjs-node-gpu: the
 * vehicle) a buffer is a TensorFlow tensor with its own shape, so a view is a real reshape, and
 * kernels such as _FusedMatMul call engine ops on their inputs, which must be engine tensors.
 * The op set and its results are KernelOps' (test/rl/tensor-ops.test.ts runs both).
 */
export class EngineOps extends TensorOps {
  private owned: tf.Tensor[] = [];
  private readonly scalars = new Map<number, tf.Tensor>();

  private own<T extends tf.Tensor>(t: T): T {
    this.owned.push(t);
    return t;
  }

  /** The engine tensor behind `t`: every tensor these ops see was made by them or borrowed. */
  private tensor(t: Tensor): tf.Tensor {
    if (t instanceof tf.Tensor) return t;
    throw new Error('EngineOps: not an engine tensor (a buffer from KernelOps?)');
  }

  // ---- data in and out ----

  protected override write(values: Float32Array, shape: readonly number[]): Tensor {
    return this.own(tf.tensor(values, [...shape], 'float32'));
  }

  override scalar(c: number): Tensor {
    let s = this.scalars.get(c);
    if (!s) {
      s = this.own(tf.scalar(c, 'float32'));
      this.scalars.set(c, s);
    }
    return s;
  }

  override borrow(t: tf.Tensor): Tensor {
    return t;
  }

  protected override reshape(t: Tensor, shape: readonly number[]): Tensor {
    return this.own(tf.reshape(this.tensor(t), [...shape]));
  }

  override toTensor<R extends tf.Rank>(t: Tensor): tf.Tensor<R> {
    const i = this.owned.indexOf(t as tf.Tensor);
    if (i < 0) throw new Error('toTensor: not an output of these ops');
    this.owned.splice(i, 1);
    return t as tf.Tensor<R>;
  }

  override read(t: Tensor): Float32Array {
    return this.tensor(t).dataSync() as Float32Array;
  }

  override release(): void {
    for (const t of this.owned) t.dispose();
    this.owned = [];
    this.scalars.clear();
  }

  // ---- products ----

  protected override product(a: Tensor, b: Tensor, bias: Tensor | null, activation: 'relu' | 'linear'): Tensor {
    return this.own(
      tf.fused.matMul({ a: this.tensor(a), b: this.tensor(b), bias: bias ? this.tensor(bias) : undefined, activation }),
    );
  }

  // ---- elementwise ----

  override add(a: Tensor, b: Tensor): Tensor {
    return this.own(tf.add(this.tensor(a), this.tensor(b)));
  }

  override sub(a: Tensor, b: Tensor): Tensor {
    return this.own(tf.sub(this.tensor(a), this.tensor(b)));
  }

  override mul(a: Tensor, b: Tensor): Tensor {
    return this.own(tf.mul(this.tensor(a), this.tensor(b)));
  }

  override minimum(a: Tensor, b: Tensor): Tensor {
    return this.own(tf.minimum(this.tensor(a), this.tensor(b)));
  }

  override clip(x: Tensor, lo: number, hi: number): Tensor {
    return this.own(tf.clipByValue(this.tensor(x), lo, hi));
  }

  override relu(x: Tensor): Tensor {
    return this.own(tf.relu(this.tensor(x)));
  }

  override tanh(x: Tensor): Tensor {
    return this.own(tf.tanh(this.tensor(x)));
  }

  override step(x: Tensor): Tensor {
    return this.own(tf.step(this.tensor(x), 0));
  }

  override square(x: Tensor): Tensor {
    return this.own(tf.square(this.tensor(x)));
  }

  override exp(x: Tensor): Tensor {
    return this.own(tf.exp(this.tensor(x)));
  }

  override log(x: Tensor): Tensor {
    return this.own(tf.log(this.tensor(x)));
  }

  // ---- reductions and reshaping ----

  override sum(x: Tensor, axis: 0 | 1, keepDims = false): Tensor {
    return this.own(tf.sum(this.tensor(x), axis, keepDims));
  }

  override max(x: Tensor, axis: 0 | 1, keepDims = false): Tensor {
    return this.own(tf.max(this.tensor(x), axis, keepDims));
  }

  override mean(x: Tensor): Tensor {
    return this.own(tf.mean(this.tensor(x)));
  }

  override softmax(logits: Tensor): Tensor {
    return this.own(tf.softmax(this.tensor(logits)));
  }

  override transpose(x: Tensor): Tensor {
    return this.own(tf.transpose(this.tensor(x)));
  }

  override concat(xs: readonly Tensor[], axis: number): Tensor {
    return this.own(
      tf.concat(
        xs.map((x) => this.tensor(x)),
        axis,
      ),
    );
  }

  override columns(x: Tensor, from: number, count: number): Tensor {
    const t = this.tensor(x);
    return this.own(tf.slice(t, [0, from], [t.shape[0] as number, count]));
  }
}
