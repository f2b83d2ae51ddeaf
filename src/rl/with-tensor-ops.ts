import * as tf from '@tensorflow/tfjs';
import { UserError } from '../core/errors.js';
import { EngineOps } from './engine-ops.js';
import { DIRECT_KERNEL_BACKENDS, KernelOps } from './kernel-ops.js';
import type { TensorOps } from './tensor-ops.js';

/** How the learner's tensor math runs: direct kernel calls (KernelOps) or engine ops (EngineOps). */
export type TensorOpsKind = 'kernels' | 'engine';

/**
 * The ops for `backendName`: direct kernels where its kernels take plain buffers (wasm, cpu), the
 * engine everywhere else (tensorflow on the vehicle). DAYDRIVE_TENSOR_OPS=engine asks for the
 * engine on every backend (to compare the two, or to rule the direct calls out when debugging).
 */
export function tensorOpsKind(
  backendName: string,
  setting: string | undefined = process.env.DAYDRIVE_TENSOR_OPS,
): TensorOpsKind {
  if (setting !== undefined && setting !== '' && setting !== 'auto' && setting !== 'engine') {
    throw new UserError(`DAYDRIVE_TENSOR_OPS must be 'auto' or 'engine', got '${setting}'`);
  }
  return setting !== 'engine' && DIRECT_KERNEL_BACKENDS.has(backendName) ? 'kernels' : 'engine';
}

/** Fresh ops of one kind on the active backend (KernelOps refuses a backend it cannot serve). */
export function createTensorOps(kind: TensorOpsKind): TensorOps {
  return kind === 'kernels' ? new KernelOps() : new EngineOps();
}

/**
 * Runs `fn` with fresh ops (by default the active backend's kind) inside one engine scope, then
 * frees both: the ops' tensors and the engine tensors made meanwhile (image batches, the pixel
 * encoder's tensors, outputs handed over with toTensor), also on a throw. `fn` returns host
 * values, not tensors.
 */
export function withTensorOps<T>(fn: (ops: TensorOps) => T, kind: TensorOpsKind = tensorOpsKind(tf.getBackend())): T {
  const ops = createTensorOps(kind);
  const engine = tf.engine();
  engine.startScope();
  try {
    return fn(ops);
  } finally {
    engine.endScope();
    ops.release();
  }
}
