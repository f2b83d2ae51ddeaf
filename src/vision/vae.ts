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
 *
 * Optional auxiliary term (auxiliaryWeight > 0): a linear head on the latent mean predicts
 * standardised targets y, adding auxiliaryWeight * mean_b ||m_b * (W mu_b + c - y_b)||^2 to L (m:
 * 1 where a frame has the target). Targets (auxiliaryTargets): 'odometry', what a car's own bag
 * gives (where it came from 1-4 s before and went 1-2 s after: src/vision/odometry-targets.ts), or
 * 'ground-truth', the simulator's cross-track and heading error (a simulator-only ablation: a car
 * has no such labels). It makes the latent carry the road geometry linearly instead of spending
 * it all on the look of the verge and sky (an auxiliary task, as in Jaderberg et al. 2017,
 * UNREAL); the head itself is not shipped.
 *
 * Optional photometric augmentation (augmentation 'photometric'): the encoder sees a frame with
 * brightness, contrast, colour balance and gamma changed, the loss asks for the clean frame back
 * (a denoising / augmented autoencoder, as araffin's aae-train-donkeycar), so the latent has less
 * reason to carry the light and colour of a road.
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
    /** Weight of the auxiliary linear head (0 = a plain VAE). */
    auxiliaryWeight: z.number().min(0).max(10_000).default(0),
    /** What the auxiliary head predicts: 'odometry' (from a bag: a car has it) or 'ground-truth' (simulator frames only: an ablation). */
    auxiliaryTargets: z.enum(['odometry', 'ground-truth']).default('odometry'),
    /** 'photometric': reconstruct the clean frame from a photometrically changed one (training only). */
    augmentation: z.enum(['none', 'photometric']).default('none'),
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
      .conv2d({
        filters,
        kernelSize: 3,
        strides: 2,
        padding: 'same',
        activation: 'relu',
        kernelInitializer: init(seed + i) as never,
        name: `enc_conv${i + 1}`,
      })
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
  readonly auxiliary: tf.Scalar;
}

/** The auxiliary linear head: latent mean -> standardised targets. */
export interface AuxiliaryHead {
  readonly weights: tf.Variable;
  readonly bias: tf.Variable;
}

/**
 * L = mean_b ||x_b - x_hat_b||^2 + beta * max(mean_b KL_b, tol * latentSize)
 *     [+ auxiliaryWeight * mean_b ||W mu_b + c - y_b||^2 with a head and targets], with
 * KL_b = -1/2 sum_j (1 + logVar - mu^2 - exp(logVar)) against the N(0, I) prior.
 */
export function vaeLoss(
  x: tf.Tensor,
  xHat: tf.Tensor,
  mu: tf.Tensor2D,
  logVar: tf.Tensor2D,
  cfg: VaeConfig,
  aux?: { head: AuxiliaryHead; targets: tf.Tensor2D; mask?: tf.Tensor2D },
): VaeLossTensors {
  const batch = x.shape[0]!;
  const reconstruction = tf.div(tf.sum(tf.squaredDifference(x, xHat)), batch) as tf.Scalar;
  const klPerDim = tf.sub(tf.add(tf.square(mu), tf.exp(logVar)), tf.add(logVar, 1));
  const kl = tf.div(tf.mul(0.5, tf.sum(klPerDim)), batch) as tf.Scalar;
  const klFloor = cfg.klToleranceNats * cfg.latentSize;
  const vae = tf.add(reconstruction, tf.mul(cfg.beta, tf.maximum(kl, klFloor))) as tf.Scalar;
  if (!aux) return { loss: vae, reconstruction, kl, auxiliary: tf.scalar(0) };
  const predicted = tf.add(tf.matMul(mu, aux.head.weights), aux.head.bias);
  const squared = tf.squaredDifference(predicted, aux.targets);
  const auxiliary = tf.div(tf.sum(aux.mask ? tf.mul(squared, aux.mask) : squared), batch) as tf.Scalar;
  return { loss: tf.add(vae, tf.mul(cfg.auxiliaryWeight, auxiliary)) as tf.Scalar, reconstruction, kl, auxiliary };
}

/** Loss figures of one batch, per image (auxiliary: 0 without a head). */
export interface VaeLosses {
  readonly loss: number;
  readonly reconstruction: number;
  readonly kl: number;
  readonly auxiliary: number;
}

function splitMuLogVar(out: tf.Tensor, latentSize: number): [tf.Tensor2D, tf.Tensor2D] {
  const [mu, logVar] = tf.split(out as tf.Tensor2D, [latentSize, latentSize], 1) as [tf.Tensor2D, tf.Tensor2D];
  return [mu, logVar];
}

export interface VaeOptions {
  readonly seed?: number;
  readonly learningRate?: number;
  readonly encoder?: tf.LayersModel;
  readonly decoder?: tf.LayersModel;
  /** Number of auxiliary targets (0: no head; ignored when config.auxiliaryWeight is 0). */
  readonly auxiliaryTargets?: number;
  /** Head weights [latentSize, targets] and bias [targets] to start from (a checkpoint). */
  readonly head?: { readonly weights: tf.Tensor; readonly bias: tf.Tensor };
}

/** Encoder + decoder (+ the auxiliary head) with their optimiser: the trainable VAE. */
export class Vae {
  readonly encoder: tf.LayersModel;
  readonly decoder: tf.LayersModel;
  readonly optimizer: tf.Optimizer;
  readonly head: AuxiliaryHead | null;
  private readonly variables: tf.Variable[];

  constructor(
    readonly config: VaeConfig,
    options: VaeOptions = {},
  ) {
    const seed = options.seed ?? 0;
    this.encoder = options.encoder ?? buildEncoder(config, seed);
    this.decoder = options.decoder ?? buildDecoder(config, seed);
    this.optimizer = tf.train.adam(options.learningRate ?? 1e-3);
    const targets = config.auxiliaryWeight > 0 ? (options.auxiliaryTargets ?? 0) : 0;
    this.head =
      targets > 0
        ? {
            weights: tf.variable(
              options.head?.weights ?? tf.randomNormal([config.latentSize, targets], 0, 0.1, 'float32', seed + 400),
            ),
            bias: tf.variable(options.head?.bias ?? tf.zeros([targets])),
          }
        : null;
    this.variables = [...this.encoder.trainableWeights, ...this.decoder.trainableWeights].map(
      (w) => w.read() as tf.Variable,
    );
    if (this.head) this.variables.push(this.head.weights, this.head.bias);
  }

  /**
   * One Adam step on a batch [B, H, W, 3] in [0, 1]; `noiseSeed` makes the sampled z
   * reproducible; `targets` [B, auxiliaryTargets] (standardised) are required with a head.
   */
  trainStep(
    batch: tf.Tensor4D,
    noiseSeed: number,
    targets?: tf.Tensor2D,
    options: { mask?: tf.Tensor2D; clean?: tf.Tensor4D } = {},
  ): VaeLosses {
    const aux = this.auxiliary(targets, options.mask);
    // With augmentation the encoder sees `batch` and the loss asks for `clean` back.
    const wanted = options.clean ?? batch;
    // The loss terms are kept out of minimize's scope to report them, then freed here.
    let parts: tf.Scalar[] = [];
    const terms = tf.tidy(() => {
      this.optimizer.minimize(
        () => {
          const [mu, logVar] = splitMuLogVar(
            this.encoder.apply(batch, { training: true }) as tf.Tensor,
            this.config.latentSize,
          );
          // Reparameterisation: z = mu + sigma * eps, eps ~ N(0, I).
          const eps = tf.randomNormal(mu.shape, 0, 1, 'float32', noiseSeed);
          const z = tf.add(mu, tf.mul(tf.exp(tf.mul(0.5, logVar)), eps));
          const xHat = this.decoder.apply(z, { training: true }) as tf.Tensor;
          const l = vaeLoss(wanted, xHat, mu, logVar, this.config, aux);
          parts = [tf.keep(l.reconstruction), tf.keep(l.kl), tf.keep(l.auxiliary)];
          return l.loss;
        },
        false,
        this.variables,
      );
      return tf.stack(parts) as tf.Tensor1D;
    });
    tf.dispose(parts);
    return this.read(terms);
  }

  /** Loss on a batch with z = mu (no sampling; for validation); `targets` as in trainStep. */
  evaluate(batch: tf.Tensor4D, targets?: tf.Tensor2D, mask?: tf.Tensor2D): VaeLosses {
    const aux = this.auxiliary(targets, mask);
    const terms = tf.tidy(() => {
      const [mu, logVar] = splitMuLogVar(this.encoder.predict(batch) as tf.Tensor, this.config.latentSize);
      const xHat = this.decoder.predict(mu) as tf.Tensor;
      const l = vaeLoss(batch, xHat, mu, logVar, this.config, aux);
      return tf.stack([l.reconstruction, l.kl, l.auxiliary]) as tf.Tensor1D;
    });
    return this.read(terms);
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
    if (this.head) tf.dispose([this.head.weights, this.head.bias]);
  }

  /** The head and its targets for vaeLoss; a head needs targets, and targets need a head. */
  private auxiliary(
    targets: tf.Tensor2D | undefined,
    mask: tf.Tensor2D | undefined,
  ): { head: AuxiliaryHead; targets: tf.Tensor2D; mask?: tf.Tensor2D } | undefined {
    if ((this.head === null) !== (targets === undefined)) {
      throw new RangeError(
        this.head
          ? 'this VAE has an auxiliary head: give the targets'
          : 'targets given to a VAE without an auxiliary head',
      );
    }
    return this.head && targets ? { head: this.head, targets, ...(mask ? { mask } : {}) } : undefined;
  }

  /** [reconstruction, kl, auxiliary] -> the loss figures (and the total, as in vaeLoss). */
  private read(terms: tf.Tensor1D): VaeLosses {
    const [reconstruction, kl, auxiliary] = terms.dataSync() as Float32Array;
    terms.dispose();
    const c = this.config;
    const aux = this.head ? auxiliary! : 0;
    const loss = reconstruction! + c.beta * Math.max(kl!, c.klToleranceNats * c.latentSize) + c.auxiliaryWeight * aux;
    if (!Number.isFinite(loss))
      throw new UserError(`VAE loss is ${loss}: training diverged (try a lower learning rate)`);
    return { loss, reconstruction: reconstruction!, kl: kl!, auxiliary: aux };
  }
}
