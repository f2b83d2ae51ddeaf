import type { Command } from 'commander';
import { initBackend } from '../core/backend.js';
import { UserError } from '../core/errors.js';
import { DEFAULT_VAE_MODEL_DIR, loadVaeEncoder, type VaeExpectation } from '../vision/encoder.js';
import { readImageFile } from '../vision/preprocess.js';
import { addCommand, parseFloatArg, parseIntArg, type CommonOptions } from './command.js';
import { roundTo } from '../core/math.js';

interface EncodeOptions extends CommonOptions {
  model: string;
  latent?: number;
  width?: number;
  height?: number;
  crop?: number;
}

/**
 * What the caller expects of the model, from the flags: a script that feeds the latents to
 * something of a fixed size says so, and a model of another shape fails with every difference
 * named instead of printing vectors of the wrong length.
 */
function expectationOf(opts: EncodeOptions): VaeExpectation {
  return {
    ...(opts.latent !== undefined ? { latentSize: opts.latent } : {}),
    ...(opts.width !== undefined ? { inputWidth: opts.width } : {}),
    ...(opts.height !== undefined ? { inputHeight: opts.height } : {}),
    ...(opts.crop !== undefined ? { skyCropFraction: opts.crop } : {}),
  };
}

/**
 * `daydrive encode --model DIR IMAGE...`: the latent mean of each image file (PNG/JPEG). Images
 * of another aspect ratio than the model's training camera are encoded, with one warning.
 */
export function registerEncode(program: Command): void {
  addCommand<EncodeOptions>(
    program,
    'encode <images...>',
    'print the VAE latent mean of each image file (PNG or JPEG), one line per image',
    (cmd) =>
      cmd
        .option('--model <dir>', 'VAE model directory', DEFAULT_VAE_MODEL_DIR)
        .option('--latent <n>', 'fail unless the model has this latent size', parseIntArg(1, 1024))
        .option('--width <px>', 'fail unless the model input is this wide', parseIntArg(8, 1024))
        .option('--height <px>', 'fail unless the model input is this high', parseIntArg(8, 1024))
        .option('--crop <fraction>', 'fail unless the model crops this fraction of sky', parseFloatArg(0, 0.95)),
    async (images, opts) => {
      if (images.length === 0) throw new UserError('give at least one image file');
      await initBackend();
      const encoder = await loadVaeEncoder(opts.model, expectationOf(opts));
      try {
        const means = await encoder.encodeBatch(await Promise.all(images.map((file) => readImageFile(file))));
        const latents = images.map((file, i) => ({
          file,
          mean: Array.from(means[i]!, (v) => roundTo(v, 5)),
        }));
        return {
          model: opts.model,
          latentSize: encoder.latentSize,
          input: {
            width: encoder.inputWidth,
            height: encoder.inputHeight,
            skyCropFraction: encoder.config.skyCropFraction,
          },
          latents,
        };
      } finally {
        encoder.dispose();
      }
    },
    (r) =>
      (r.latents as { file: string; mean: number[] }[])
        .map((l) => `${l.file}: ${l.mean.map((v) => v.toFixed(4)).join(' ')}`)
        .join('\n'),
  );
}
