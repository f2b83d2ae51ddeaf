import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { parseWith } from '../core/config.js';
import { UserError } from '../core/errors.js';
import { DEFAULT_PREPROCESS, type PreprocessOptions } from './preprocess.js';

/**
 * The convolutional VAE of "Learning to Drive in a Day" (Kendall et al. 2019): an encoder of
 * 3x3 stride-2 convolutions (paper: 4 layers of 16 channels) and a dense layer to the latent
 * mean and log-variance; a decoder mirroring it with transposed convolutions. Loss (per image,
 * averaged over the batch):
 *   L = ||x - x_hat||^2 + beta * max(KL, klTolerance * latentSize),
 *   KL = -1/2 sum_j (1 + log sigma_j^2 - mu_j^2 - sigma_j^2)        (Kingma & Welling 2014)
 * The KL floor ("free bits", World Models' kl_tolerance) keeps the latent from collapsing.
 */

export const vaeConfigSchema = z
  .object({
    /** Model input after crop and resize, pixels; each must be divisible by 2^layers. */
    inputWidth: z.number().int().min(8).max(1024).default(DEFAULT_PREPROCESS.width),
    inputHeight: z.number().int().min(8).max(1024).default(DEFAULT_PREPROCESS.height),
    /** Fraction of the camera image removed from the top before resizing. */
    skyCropFraction: z.number().min(0).lt(1).default(DEFAULT_PREPROCESS.skyCropFraction),
    latentSize: z.number().int().min(1).max(1024).default(32),
    /** Channels of each stride-2 conv layer (paper: [16, 16, 16, 16]). */
    filters: z.array(z.number().int().min(1).max(512)).min(1).max(8).default([16, 16, 16, 16]),
    /** Weight of the KL term. */
    beta: z.number().min(0).max(100).default(1),
    /** KL floor per latent dimension, nats (World Models: 0.5). */
    klToleranceNats: z.number().min(0).max(100).default(0.5),
  })
  .refine((c) => c.inputWidth % 2 ** c.filters.length === 0 && c.inputHeight % 2 ** c.filters.length === 0, {
    message: 'inputWidth and inputHeight must be divisible by 2^(number of conv layers)',
    path: ['inputWidth'],
  });

export type VaeConfig = z.output<typeof vaeConfigSchema>;
export type VaeConfigInput = z.input<typeof vaeConfigSchema>;

export function parseVaeConfig(raw: unknown, source = 'VAE config'): VaeConfig {
  return parseWith(vaeConfigSchema, raw ?? {}, source);
}

export function preprocessOptionsOf(cfg: VaeConfig): PreprocessOptions {
  return { skyCropFraction: cfg.skyCropFraction, width: cfg.inputWidth, height: cfg.inputHeight };
}

/** Spatial size after the encoder's convolutions ('same' padding halves each time). */
function bottleneckShape(cfg: VaeConfig): [number, number, number] {
  const f = 2 ** cfg.filters.length;
  return [cfg.inputHeight / f, cfg.inputWidth / f, cfg.filters[cfg.filters.length - 1]!];
}

function init(seed: number): tf.serialization.Serializable {
  return tf.initializers.glorotUniform({ seed });
}

/** Encoder: image [H, W, 3] in [0, 1] -> [mu | logVar] (2 * latentSize). */
export function buildEncoder(cfg: VaeConfig, seed = 0): tf.LayersModel {
  const input = tf.input({ shape: [cfg.inputHeight, cfg.inputWidth, 3], name: 'image' });
  let h: tf.SymbolicTensor = input;
  cfg.filters.forEach((filters, i) => {
    h = tf.layers
      .conv2d({ filters, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', kernelInitializer: init(seed + i) as never, name: `enc_conv${i + 1}` })
      .apply(h) as tf.SymbolicTensor;
  });
  h = tf.layers.flatten({ name: 'enc_flatten' }).apply(h) as tf.SymbolicTensor;
  const out = tf.layers
    .dense({ units: 2 * cfg.latentSize, kernelInitializer: init(seed + 100) as never, name: 'enc_mu_logvar' })
    .apply(h) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: out, name: 'vae_encoder' });
}

/** Decoder: latent z -> image [H, W, 3] in (0, 1), mirroring the encoder with transposed convs. */
export function buildDecoder(cfg: VaeConfig, seed = 0): tf.LayersModel {
  const [bh, bw, bc] = bottleneckShape(cfg);
  const input = tf.input({ shape: [cfg.latentSize], name: 'latent' });
  let h = tf.layers
    .dense({ units: bh * bw * bc, activation: 'relu', kernelInitializer: init(seed + 200) as never, name: 'dec_dense' })
    .apply(input) as tf.SymbolicTensor;
  h = tf.layers.reshape({ targetShape: [bh, bw, bc], name: 'dec_reshape' }).apply(h) as tf.SymbolicTensor;
  const channels = [...cfg.filters].reverse().slice(1).concat([3]);
  channels.forEach((filters, i) => {
    const last = i === channels.length - 1;
    h = tf.layers
      .conv2dTranspose({
        filters,
        kernelSize: 3,
        strides: 2,
        padding: 'same',
        activation: last ? 'sigmoid' : 'relu',
        kernelInitializer: init(seed + 300 + i) as never,
        name: `dec_deconv${i + 1}`,
      })
      .apply(h) as tf.SymbolicTensor;
  });
  return tf.model({ inputs: input, outputs: h, name: 'vae_decoder' });
}

/** Per-image loss terms, averaged over the batch (scalars). */
export interface VaeLossTensors {
  readonly loss: tf.Scalar;
  readonly reconstruction: tf.Scalar;
  readonly kl: tf.Scalar;
}

/**
 * L = mean_b ||x_b - x_hat_b||^2 + beta * max(mean_b KL_b, tol * latentSize), with
 * KL_b = -1/2 sum_j (1 + logVar - mu^2 - exp(logVar)) against the N(0, I) prior.
 */
export function vaeLoss(x: tf.Tensor, xHat: tf.Tensor, mu: tf.Tensor2D, logVar: tf.Tensor2D, cfg: VaeConfig): VaeLossTensors {
  const batch = x.shape[0]!;
  const reconstruction = tf.div(tf.sum(tf.squaredDifference(x, xHat)), batch) as tf.Scalar;
  const klPerDim = tf.sub(tf.add(tf.square(mu), tf.exp(logVar)), tf.add(logVar, 1));
  const kl = tf.div(tf.mul(0.5, tf.sum(klPerDim)), batch) as tf.Scalar;
  const klFloor = cfg.klToleranceNats * cfg.latentSize;
  const loss = tf.add(reconstruction, tf.mul(cfg.beta, tf.maximum(kl, klFloor))) as tf.Scalar;
  return { loss, reconstruction, kl };
}

/** Loss figures of one batch, per image. */
export interface VaeLosses {
  readonly loss: number;
  readonly reconstruction: number;
  readonly kl: number;
}

function splitMuLogVar(out: tf.Tensor, latentSize: number): [tf.Tensor2D, tf.Tensor2D] {
  const [mu, logVar] = tf.split(out as tf.Tensor2D, [latentSize, latentSize], 1) as [tf.Tensor2D, tf.Tensor2D];
  return [mu, logVar];
}

/** Encoder + decoder with their optimiser: the trainable VAE. */
export class Vae {
  readonly encoder: tf.LayersModel;
  readonly decoder: tf.LayersModel;
  readonly optimizer: tf.Optimizer;
  private readonly variables: tf.Variable[];

  constructor(
    readonly config: VaeConfig,
    options: { seed?: number; learningRate?: number; encoder?: tf.LayersModel; decoder?: tf.LayersModel } = {},
  ) {
    const seed = options.seed ?? 0;
    this.encoder = options.encoder ?? buildEncoder(config, seed);
    this.decoder = options.decoder ?? buildDecoder(config, seed);
    this.optimizer = tf.train.adam(options.learningRate ?? 1e-3);
    this.variables = [...this.encoder.trainableWeights, ...this.decoder.trainableWeights].map((w) => w.read() as tf.Variable);
  }

  /** One Adam step on a batch [B, H, W, 3] in [0, 1]; `noiseSeed` makes the sampled z reproducible. */
  trainStep(batch: tf.Tensor4D, noiseSeed: number): VaeLosses {
    // The loss terms are kept out of minimize's scope to report them, then freed here.
    let parts: tf.Scalar[] = [];
    const terms = tf.tidy(() => {
      this.optimizer.minimize(
        () => {
          const [mu, logVar] = splitMuLogVar(this.encoder.apply(batch, { training: true }) as tf.Tensor, this.config.latentSize);
          // Reparameterisation: z = mu + sigma * eps, eps ~ N(0, I).
          const eps = tf.randomNormal(mu.shape, 0, 1, 'float32', noiseSeed);
          const z = tf.add(mu, tf.mul(tf.exp(tf.mul(0.5, logVar)), eps));
          const xHat = this.decoder.apply(z, { training: true }) as tf.Tensor;
          const l = vaeLoss(batch, xHat, mu, logVar, this.config);
          parts = [tf.keep(l.reconstruction), tf.keep(l.kl)];
          return l.loss;
        },
        false,
        this.variables,
      );
      return tf.stack(parts);
    });
    tf.dispose(parts);
    const [reconstruction, kl] = terms.dataSync() as Float32Array;
    terms.dispose();
    return this.losses(reconstruction!, kl!);
  }

  /** Loss on a batch with z = mu (no sampling; for validation). */
  evaluate(batch: tf.Tensor4D): VaeLosses {
    const terms = tf.tidy(() => {
      const [mu, logVar] = splitMuLogVar(this.encoder.predict(batch) as tf.Tensor, this.config.latentSize);
      const xHat = this.decoder.predict(mu) as tf.Tensor;
      const l = vaeLoss(batch, xHat, mu, logVar, this.config);
      return tf.stack([l.reconstruction, l.kl]);
    });
    const [reconstruction, kl] = terms.dataSync() as Float32Array;
    terms.dispose();
    return this.losses(reconstruction!, kl!);
  }

  /** Latent means [B, latentSize]. */
  encodeMean(batch: tf.Tensor4D): tf.Tensor2D {
    return tf.tidy(() => splitMuLogVar(this.encoder.predict(batch) as tf.Tensor, this.config.latentSize)[0]);
  }

  /** Decoded latent means: what the VAE keeps of each image. */
  reconstruct(batch: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => this.decoder.predict(this.encodeMean(batch)) as tf.Tensor4D);
  }

  dispose(): void {
    this.encoder.dispose();
    this.decoder.dispose();
    this.optimizer.dispose();
  }

  private losses(reconstruction: number, kl: number): VaeLosses {
    const loss = reconstruction + this.config.beta * Math.max(kl, this.config.klToleranceNats * this.config.latentSize);
    if (!Number.isFinite(loss)) throw new UserError(`VAE loss is ${loss}: training diverged (try a lower learning rate)`);
    return { loss, reconstruction, kl };
  }
}
