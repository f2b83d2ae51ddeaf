import sharp, { type OverlayOptions } from 'sharp';
import type { RgbImage } from '../core/env.js';
import type { VaeMeta } from './model-files.js';
import type { VaeLosses } from './vae.js';

/**
 * What people look at after training: a PNG grid of model inputs against reconstructions, and
 * the model card (MODEL_CARD.md) written from the model's vae.json.
 */

/**
 * Pairs of rows: originals above their reconstructions, `columns` per row, each image scaled
 * by `scale` (nearest neighbour, so what the model saw is shown as is).
 */
export async function reconstructionGridPng(
  originals: readonly RgbImage[],
  reconstructions: readonly RgbImage[],
  columns = 8,
  scale = 3,
): Promise<Buffer> {
  if (originals.length === 0 || originals.length !== reconstructions.length)
    throw new RangeError('grid needs as many reconstructions as originals (at least one)');
  const w = originals[0]!.width * scale;
  const h = originals[0]!.height * scale;
  const gap = 4;
  const cols = Math.min(columns, originals.length);
  const rowPairs = Math.ceil(originals.length / cols);
  const width = cols * w + (cols + 1) * gap;
  const height = rowPairs * (2 * h + 3 * gap);
  const tiles: OverlayOptions[] = [];
  const tile = async (img: RgbImage): Promise<Buffer> =>
    sharp(Buffer.from(img.data.buffer, img.data.byteOffset, img.data.byteLength), {
      raw: { width: img.width, height: img.height, channels: 3 },
    })
      .resize(w, h, { kernel: 'nearest' })
      .png()
      .toBuffer();
  for (let i = 0; i < originals.length; i++) {
    const col = i % cols;
    const pair = Math.floor(i / cols);
    const left = gap + col * (w + gap);
    const top = pair * (2 * h + 3 * gap) + gap;
    tiles.push({ input: await tile(originals[i]!), left, top });
    tiles.push({ input: await tile(reconstructions[i]!), left, top: top + h + gap });
  }
  return sharp({ create: { width, height, channels: 3, background: { r: 24, g: 24, b: 24 } } })
    .composite(tiles)
    .png()
    .toBuffer();
}

function fmt(x: number, digits = 2): string {
  return Number.isFinite(x) ? x.toFixed(digits) : String(x);
}

/** The model card, from the metadata a training run wrote. */
export function modelCardMarkdown(meta: VaeMeta, title = 'daydrive VAE'): string {
  const c = meta.config;
  const t = meta.training;
  const lines: string[] = [
    `# ${title}`,
    '',
    "A convolutional VAE that turns a front-camera frame into the driving agent's latent state",
    '(Kendall et al., "Learning to Drive in a Day", 2019). Load it with',
    '`loadVaeEncoder(dir)` (src/vision/encoder.ts); the encoder output used as state is the latent mean.',
    '',
    '## Input',
    '',
    `- Camera frame, any size, 8-bit RGB (rgb8/bgr8/mono8/rgba8/bgra8 raw or JPEG/PNG): the top ${fmt(c.skyCropFraction * 100, 1)}% (sky) is cropped off,`,
    `  the rest resized to ${c.inputWidth}x${c.inputHeight} (width x height, sharp Lanczos-3) and scaled to [0, 1].`,
  ];
  if (t?.data.camera) {
    lines.push(
      `- Trained on ${t.data.camera.widthPx}x${t.data.camera.heightPx} frames (${t.data.source === 'sim' ? "the simulator's default camera: 90 deg horizontal field of view, 1.4 m high, pitched 10 deg down" : 'recorded camera'}); use the same camera.`,
    );
  }
  lines.push(
    '',
    '## Architecture',
    '',
    `- Encoder: ${c.filters.length} conv layers 3x3 stride 2 ('same', ReLU) with ${c.filters.join('/')} channels, dense to mean and log-variance of a ${c.latentSize}-d latent.`,
    `- Decoder: dense, then ${c.filters.length} transposed convs 3x3 stride 2 mirroring the encoder, sigmoid output.`,
    `- Loss: per-image squared error + beta * max(KL, tolerance * latent size), beta ${c.beta}, tolerance ${c.klToleranceNats} nats per dimension.`,
  );
  if (c.auxiliaryWeight > 0 && c.auxiliaryTargets === 'odometry') {
    lines.push(
      `- Auxiliary term (weight ${c.auxiliaryWeight}): during training a linear head on the latent mean predicts standardised targets computed`,
      `  from the bag's own odometry${t?.auxiliaryTargetNames ? ` (${t.auxiliaryTargetNames.join(', ')})` : ''}: where the car was 1 to 4 s before the frame`,
      "  and 1 to 2 s after it, sideways in the frame's car coordinates, and its heading change (squared error, frames without that pose in their segment masked).",
      '  No simulator ground truth: a car can train this model from its own recording. The head is not part of the model.',
    );
  } else if (c.auxiliaryWeight > 0) {
    lines.push(
      `- Auxiliary term (weight ${c.auxiliaryWeight}, SIMULATOR-ONLY ABLATION): during training a linear head on the latent mean predicts the standardised`,
      '  cross-track and heading error the simulator records with each frame (squared error). A car has no such labels. The head is not part of the model.',
    );
  }
  if (c.augmentation === 'photometric') {
    lines.push(
      '- Augmentation: the encoder sees each training frame with brightness, contrast, colour balance and gamma changed; the loss asks for the clean frame (a denoising autoencoder).',
    );
  }
  if (t) {
    const h = t.history;
    const aux = c.auxiliaryWeight > 0 && h.some((e) => e.train.auxiliary > 0);
    const parts = (l: VaeLosses): string =>
      `reconstruction ${fmt(l.reconstruction)}, KL ${fmt(l.kl)}${aux ? `, auxiliary ${fmt(l.auxiliary, 3)}` : ''}`;
    const row = (l: VaeLosses): string =>
      [l.loss, l.reconstruction, l.kl, ...(aux ? [l.auxiliary] : [])]
        .map((v, i) => fmt(v, i === 3 ? 3 : 2))
        .join(' | ');
    lines.push(
      '',
      '## Training',
      '',
      `- Data: ${t.data.frames} frames from ${t.data.source === 'sim' ? `${t.data.episodes ?? '?'} simulator episodes (one random road each)` : 'a recorded drive'} in \`${t.data.dir}\`${
        t.data.command !== undefined ? `, collected with \`${t.data.command}\`` : ''
      };`,
      ...(t.data.policy ? [`  driver: ${t.data.policy}.`] : []),
      `  ${t.data.trainFrames} for training, ${t.data.validationFrames} held out (whole episodes: roads the model never saw).`,
      ...(t.command !== undefined ? [`- Trained with \`${t.command}\`.`] : []),
      `- ${t.epochs} epochs (best: epoch ${t.bestEpoch}${t.stoppedEarly ? ', stopped early' : ''}), batch ${t.batchSize}, Adam lr ${t.learningRate}, seed ${t.seed}, backend ${t.backend}, ${fmt(t.trainSeconds, 0)} s (${fmt(t.imagesPerSecond, 0)} images/s).`,
      `- Loss per image at the best epoch: training ${fmt(t.train.loss)} (${parts(t.train)}); validation ${fmt(t.validation.loss)} (${parts(t.validation)}).`,
      '',
      `| epoch | train loss | train recon | train KL |${aux ? ' train aux |' : ''} val loss | val recon | val KL |${aux ? ' val aux |' : ''}`,
      `|---:|---:|---:|---:|---:|---:|---:|${aux ? '---:|---:|' : ''}`,
      ...h.map((e) => `| ${e.epoch} | ${row(e.train)} | ${row(e.validation)} |`),
    );
    if (t.probes && Object.keys(t.probes).length > 0) {
      lines.push(
        '',
        '## Is the latent informative?',
        '',
        ...(t.probeData
          ? [
              `Linear least squares from the latent mean to the simulator's labels (the probe may use ground truth, the VAE did not), on`,
              `\`${t.probeData.dir}\` (${t.probeData.frames} labelled frames of roads the VAE never saw${t.probeData.command ? `, \`${t.probeData.command}\`` : ''}): fitted on ${t.probeData.fitFrames} frames, scored (R^2) on ${t.probeData.scoreFrames} of other roads:`,
            ]
          : [
              'Linear least squares from the latent mean, fitted on the training frames and scored (R^2) on the',
              'held-out frames from unseen roads:',
            ]),
        '',
        '| target | R^2 |',
        '|---|---:|',
        ...Object.entries(t.probes).map(([k, v]) => `| ${k} | ${fmt(v, 3)} |`),
      );
    }
  }
  lines.push(
    '',
    '## Files',
    '',
    '- `vae.json`: configuration and training summary (machine-readable).',
    '- `encoder/`, `decoder/`: TF.js layers models (model.json + weights.bin).',
    '- `reconstructions.png`: model inputs (odd rows) above their reconstructions (even rows), held-out frames.',
    '',
  );
  return lines.join('\n');
}
