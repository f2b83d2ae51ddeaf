import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../core/rng.js';
import { mlpMeanVariables, mlpVariables, variableFrom, type Mlp } from './networks.js';

/**
 * Parameter-space noise (Plappert et al. 2018): perturbed copies of the actor's weights. The
 * behaviour copy acts; the adaptive copy is redrawn from the current weights to measure the
 * distance that adapts the noise's std (OpenAI baselines' perturb_adaptive_policy_ops: the
 * behaviour copy was drawn from older weights). Each copy's variables are created on first use
 * and reused.
 */
export class PerturbedActors {
  private behaviourCopy: Mlp | null = null;
  private adaptiveCopy: Mlp | null = null;

  /** The behaviour copy, or null before the first perturb. */
  get behaviour(): Mlp | null {
    return this.behaviourCopy;
  }

  /** Redraws the behaviour copy: `source`'s weights + N(0, stddev^2). */
  perturb(source: Mlp, stddev: number, rng: Rng): void {
    this.behaviourCopy = perturbedCopy(this.behaviourCopy, source, stddev, rng);
  }

  /** Redraws the adaptive copy from `source`'s weights as they are now and returns it. */
  redrawAdaptive(source: Mlp, stddev: number, rng: Rng): Mlp {
    this.adaptiveCopy = perturbedCopy(this.adaptiveCopy, source, stddev, rng);
    return this.adaptiveCopy;
  }

  dispose(): void {
    for (const copy of [this.behaviourCopy, this.adaptiveCopy])
      if (copy) for (const v of mlpVariables(copy)) v.dispose();
  }
}

/** `into` (created on first use) set to `source`'s mean weights + N(0, stddev^2). */
function perturbedCopy(into: Mlp | null, source: Mlp, stddev: number, rng: Rng): Mlp {
  if (!(stddev >= 0) || !Number.isFinite(stddev))
    throw new RangeError(`perturbation stddev must be finite and >= 0, got ${stddev}`);
  const copy = into ?? {
    outputActivation: source.outputActivation,
    layers: source.layers.map((l) => ({
      ws: l.ws.map((w) => variableFrom(w.clone(), false)),
      b: variableFrom(l.b.clone(), false),
    })),
    ...(source.joinLayers ? { joinLayers: source.joinLayers } : {}),
  };
  const targets = mlpVariables(copy);
  mlpMeanVariables(source).forEach((v, i) => {
    const noise = new Float32Array(v.size);
    for (let k = 0; k < noise.length; k++) noise[k] = rng.normal() * stddev;
    tf.tidy(() => (targets[i] as tf.Variable).assign(tf.add(v, tf.tensor(noise, v.shape))));
  });
  return copy;
}

/** d(pi, pi~) = sqrt(E_s[ mean_k (pi(s)_k - pi~(s)_k)^2 ]) over a batch of actions (Plappert et al. 2018, section 3.2). */
export function actionDistance(plain: Float32Array, perturbed: Float32Array): number {
  let sq = 0;
  for (let i = 0; i < plain.length; i++) sq += ((plain[i] as number) - (perturbed[i] as number)) ** 2;
  return Math.sqrt(sq / plain.length);
}
