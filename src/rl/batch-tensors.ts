import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../core/rng.js';
import type { LearnerConfig } from './config.js';
import type { BatchTensors } from './ddpg.js';
import { sampleMlpNoise, uploadMlpNoise, withOnesTransposed, type Mlp, type StateBatch } from './networks.js';
import type { SampledBatch } from './replay.js';
import type { Tensor, TensorOps } from './tensor-ops.js';

/** How a flat state splits: `imageSize` leading image values (shaped `imageShape`), then `vectorSize` others. */
export interface StateShape {
  readonly stateSize: number;
  readonly imageSize: number;
  readonly vectorSize: number;
  readonly imageShape: readonly [number, number, number] | null;
}

/** Flat rows [b * stateSize] -> images [b, h, w, c] (an engine tensor, for the encoder) + vectors [b, vectorSize]. */
export function stateBatch(ops: TensorOps, shape: StateShape, flat: Float32Array, b: number): StateBatch {
  const { imageShape, imageSize, vectorSize, stateSize } = shape;
  if (!imageShape) return { images: null, vectors: ops.upload(flat, [b, stateSize]) };
  const images = new Float32Array(b * imageSize);
  const vectors = new Float32Array(b * vectorSize);
  for (let k = 0; k < b; k++) {
    images.set(flat.subarray(k * stateSize, k * stateSize + imageSize), k * imageSize);
    vectors.set(flat.subarray(k * stateSize + imageSize, (k + 1) * stateSize), k * vectorSize);
  }
  return {
    images: tf.tensor4d(images, [b, imageShape[0], imageShape[1], imageShape[2]]),
    vectors: ops.upload(vectors, [b, vectorSize]),
  };
}

/** What batchTensors needs besides the sample. */
export interface BatchContext {
  readonly config: LearnerConfig;
  readonly shape: StateShape;
  readonly actionSize: number;
  /** Draws the target-policy smoothing noise (TD3) and the NoisyNet draw, in that order. */
  readonly rng: Rng;
  /** A NoisyNet actor to draw this update's noise for (only on updates that train the actor), or null. */
  readonly noisyActor: Mlp | null;
}

/** A sampled minibatch as tensors of `ops` (images as engine tensors: the encoder reads them through tfjs autodiff). */
export function batchTensors(ops: TensorOps, sample: SampledBatch, ctx: BatchContext): BatchTensors {
  const b = sample.size;
  const { config, shape, actionSize, rng } = ctx;
  let targetNoise: Tensor | null = null;
  if (config.targetPolicyNoise > 0) {
    const noise = new Float32Array(b * actionSize);
    for (let i = 0; i < noise.length; i++) noise[i] = rng.normal() * config.targetPolicyNoise;
    targetNoise = ops.upload(noise, [b, actionSize]);
  }
  const vectorsOnly = !shape.imageShape;
  const { stateSize } = shape;
  return {
    states: stateBatch(ops, shape, sample.states, b),
    actions: ops.upload(sample.actions, [b, actionSize]),
    stateActionOnesT: vectorsOnly
      ? ops.upload(withOnesTransposed([sample.states, sample.actions], [stateSize, actionSize], b), [
          stateSize + actionSize + 1,
          b,
        ])
      : null,
    stateOnesT: vectorsOnly
      ? ops.upload(withOnesTransposed([sample.states], [stateSize], b), [stateSize + 1, b])
      : null,
    rewards: ops.upload(sample.rewards, [b]),
    discounts: ops.upload(sample.discounts, [b]),
    nextStates: stateBatch(ops, shape, sample.nextStates, b),
    weights: ops.upload(sample.weights, [b]),
    targetNoise,
    host: { rewards: sample.rewards, discounts: sample.discounts },
    // A fresh draw per update (Fortunato et al. 2018, Algorithm 1).
    actorNoise: ctx.noisyActor ? uploadMlpNoise(ops, ctx.noisyActor, sampleMlpNoise(ctx.noisyActor, rng)) : null,
  };
}
