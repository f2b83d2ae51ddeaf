import type { Command } from 'commander';
import { initBackend } from '../core/backend.js';
import { UserError } from '../core/errors.js';
import { DEFAULT_VAE_MODEL_DIR, loadVaeEncoder } from '../vision/encoder.js';
import { readImageFile } from '../vision/preprocess.js';
import { addCommand, type CommonOptions } from './command.js';

interface EncodeOptions extends CommonOptions {
  model: string;
}

/** `daydrive encode --model DIR IMAGE...`: the latent mean of each image file (PNG/JPEG). */
export function registerEncode(program: Command): void {
  addCommand<EncodeOptions>(
    program,
    'encode <images...>',
    'print the VAE latent mean of each image file (PNG or JPEG), one line per image',
    (cmd) => cmd.option('--model <dir>', 'VAE model directory', DEFAULT_VAE_MODEL_DIR),
    async (images, opts) => {
      if (images.length === 0) throw new UserError('give at least one image file');
      await initBackend();
      const encoder = await loadVaeEncoder(opts.model);
      try {
        const means = await encoder.encodeBatch(await Promise.all(images.map((file) => readImageFile(file))));
        const latents = images.map((file, i) => ({ file, mean: Array.from(means[i]!, (v) => Math.round(v * 1e5) / 1e5) }));
        return { model: opts.model, latentSize: encoder.latentSize, input: { width: encoder.inputWidth, height: encoder.inputHeight, skyCropFraction: encoder.config.skyCropFraction }, latents };
      } finally {
        encoder.dispose();
      }
    },
    (r) => (r.latents as { file: string; mean: number[] }[]).map((l) => `${l.file}: ${l.mean.map((v) => v.toFixed(4)).join(' ')}`).join('\n'),
  );
}
