import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { parseWith } from '../core/config.js';
import { UserError } from '../core/errors.js';
import { readJson } from '../core/files.js';
import { vaeConfigSchema, type VaeConfig } from './vae.js';

/**
 * The on-disk layout of a trained VAE (one directory):
 *   vae.json          format tag, the VAE config (input size, crop, latent size, layers) and a
 *                     training summary (what the model card shows, machine-readable)
 *   encoder/          TF.js layers model (model.json + weights.bin): image -> [mu | logVar]
 *   decoder/          TF.js layers model: z -> image
 *   MODEL_CARD.md     data, epochs, losses, input size, crop, R^2 of the latent probes
 *   reconstructions.png  originals (top) against reconstructions (bottom)
 */

export const VAE_FORMAT = 'daydrive-vae';
export const VAE_META_FILE = 'vae.json';
export const ENCODER_SUBDIR = 'encoder';
export const DECODER_SUBDIR = 'decoder';
export const MODEL_CARD_FILE = 'MODEL_CARD.md';
export const GRID_FILE = 'reconstructions.png';

/** The package root (the folder with package.json), found from this file: works from src/ and dist/. */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
}

/** The VAE shipped with daydrive (trained on the simulator's default 160x120 camera). */
export const DEFAULT_VAE_MODEL_DIR: string = join(packageRoot(), 'models', 'vae-sim');

/** One epoch's losses, as the trainer's checkpoint and the model's metadata record them. */
export const lossesSchema = z.object({
  loss: z.number(),
  reconstruction: z.number(),
  kl: z.number(),
  auxiliary: z.number().default(0),
});

/** The losses of every epoch, as the trainer's checkpoint and the model's metadata record them. */
export const lossHistorySchema = z.array(
  z.object({ epoch: z.number().int(), train: lossesSchema, validation: lossesSchema }),
);

export const vaeTrainingSummarySchema = z.object({
  data: z.object({
    dir: z.string(),
    source: z.string(),
    frames: z.number().int(),
    trainFrames: z.number().int(),
    validationFrames: z.number().int(),
    episodes: z.number().int().optional(),
    camera: z.object({ widthPx: z.number().int(), heightPx: z.number().int() }).optional(),
    /** How the frames were collected (dataset.json): the simulator seed and driving policy. */
    seed: z.number().int().optional(),
    policy: z.string().optional(),
    /** The command that collected the frames. */
    command: z.string().optional(),
  }),
  /** The command that trained the model. */
  command: z.string().optional(),
  epochs: z.number().int(),
  bestEpoch: z.number().int(),
  stoppedEarly: z.boolean(),
  batchSize: z.number().int(),
  learningRate: z.number(),
  seed: z.number().int(),
  backend: z.string(),
  trainSeconds: z.number(),
  imagesPerSecond: z.number(),
  train: lossesSchema,
  validation: lossesSchema,
  /** Linear probes: R^2 of least squares from the latent mean on validation (unseen-road) frames. */
  probes: z.record(z.string(), z.number()).optional(),
  /** The labelled simulator frames the probes were fitted and scored on, when not the training data (vae train --probe-data). */
  probeData: z
    .object({
      dir: z.string(),
      frames: z.number().int(),
      fitFrames: z.number().int(),
      scoreFrames: z.number().int(),
      command: z.string().optional(),
    })
    .optional(),
  /** The auxiliary head's targets, by name. */
  auxiliaryTargetNames: z.array(z.string()).optional(),
  /** The fitted probes (latent mean -> target), to check the latent on new frames. */
  probeModels: z.record(z.string(), z.object({ weights: z.array(z.number()), bias: z.number() })).optional(),
  history: lossHistorySchema,
});

export type VaeTrainingSummary = z.output<typeof vaeTrainingSummarySchema>;

export const vaeMetaSchema = z.object({
  format: z.literal(VAE_FORMAT),
  version: z.literal(1),
  config: vaeConfigSchema,
  training: vaeTrainingSummarySchema.optional(),
});

export type VaeMeta = z.output<typeof vaeMetaSchema>;

export function makeVaeMeta(config: VaeConfig, training?: VaeTrainingSummary): VaeMeta {
  return { format: VAE_FORMAT, version: 1, config, ...(training ? { training } : {}) };
}

/** Reads and validates dir/vae.json; errors name the file and field. */
export async function readVaeMeta(dir: string): Promise<VaeMeta> {
  const path = join(dir, VAE_META_FILE);
  if (!existsSync(path)) throw new UserError(`no VAE model in ${dir}: ${VAE_META_FILE} is missing`);
  return parseWith(vaeMetaSchema, await readJson(path), path);
}
