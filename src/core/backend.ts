import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { UserError } from './errors.js';
import { log } from './logger.js';
import { registerMissingWasmKernels } from './wasm-kernels.js';

export type BackendName = 'tensorflow' | 'wasm' | 'cpu';

export interface BackendChoice {
  readonly name: BackendName;
  /** Which package provided it, or why a faster one was not used. */
  readonly detail: string;
}

/**
 * The optional native bindings, in order of preference. They cannot install on machines without
 * libtensorflow (our CI); importing them lazily keeps every other path working without them.
 */
const NATIVE_PACKAGES = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'] as const;

async function tryNative(): Promise<{ ok: true; pkg: string } | { ok: false; why: string }> {
  const reasons: string[] = [];
  for (const pkg of NATIVE_PACKAGES) {
    try {
      // A variable specifier keeps TypeScript and bundlers from requiring the package to exist.
      const specifier: string = pkg;
      await import(specifier);
      if (tf.findBackend('tensorflow') !== undefined) return { ok: true, pkg };
      reasons.push(`${pkg} loaded but registered no 'tensorflow' backend`);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      reasons.push(
        code === 'ERR_MODULE_NOT_FOUND'
          ? `${pkg} not installed`
          : `${pkg} failed to load (${(err as Error).message.split('\n')[0]})`,
      );
    }
  }
  return { ok: false, why: reasons.join('; ') };
}

let chosen: BackendChoice | null = null;

/**
 * Selects the TensorFlow.js backend once per process: tensorflow (tfjs-node-gpu, then tfjs-node)
 * where installed, else wasm (with the kernels it lacks registered), else cpu.
 * `preferred` (or DAYDRIVE_BACKEND) forces one and fails clearly if it is unavailable.
 */
export async function initBackend(preferred?: BackendName): Promise<BackendChoice> {
  const want = preferred ?? (process.env.DAYDRIVE_BACKEND as BackendName | undefined);
  if (want !== undefined && !['tensorflow', 'wasm', 'cpu'].includes(want)) {
    throw new UserError(`unknown backend '${want}': use tensorflow, wasm or cpu`);
  }
  if (chosen !== null && (want === undefined || want === chosen.name)) return chosen;

  let nativeWhy = 'not requested';
  if (want === undefined || want === 'tensorflow') {
    const native = await tryNative();
    if (native.ok && (await tf.setBackend('tensorflow'))) {
      chosen = { name: 'tensorflow', detail: native.pkg };
    } else {
      nativeWhy = native.ok ? 'tensorflow backend failed to initialise' : native.why;
      if (want === 'tensorflow') {
        throw new UserError(
          `backend 'tensorflow' unavailable: ${nativeWhy}. Install @tensorflow/tfjs-node-gpu (CUDA) or @tensorflow/tfjs-node; see README "On the vehicle"`,
        );
      }
    }
  }
  if (chosen === null || (want !== undefined && chosen.name !== want)) {
    if (want !== 'cpu' && (await tf.setBackend('wasm'))) {
      registerMissingWasmKernels();
      chosen = { name: 'wasm', detail: `tfjs-backend-wasm (${nativeWhy})` };
    } else if (want === 'wasm') {
      throw new UserError('backend wasm failed to initialise');
    } else {
      await tf.setBackend('cpu');
      silenceCpuBanner();
      chosen = {
        name: 'cpu',
        detail: `tfjs cpu fallback (${nativeWhy}); training convolutions is ~80x slower than wasm`,
      };
      if (want !== 'cpu')
        log.warn(
          { backend: 'cpu', detail: chosen.detail },
          'tensorflow.js runs on its slowest backend: the wasm backend failed to initialise',
        );
    }
  }
  await tf.ready();
  log.debug({ backend: chosen.name, detail: chosen.detail }, 'tensorflow.js backend');
  return chosen;
}

/**
 * tfjs-backend-cpu prints a four-line "install tfjs-node" banner on stderr at its first buffer,
 * which would come before every one-line CLI error; the warning above says it in one log line.
 * tfjs' PROD flag only silences its warnings: set for that first buffer, then restored.
 */
function silenceCpuBanner(): void {
  const env = tf.env();
  const prod = env.getBool('PROD');
  env.set('PROD', true);
  try {
    tf.tensor1d([0]).dispose();
  } finally {
    env.set('PROD', prod);
  }
}
