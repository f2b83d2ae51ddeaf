import { strict as assert } from 'node:assert';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import { DrivingSimEnv } from '../../sim/index.js';
import type { RgbImage } from '../../src/core/env.js';
import {
  BadImageError,
  DEFAULT_PREPROCESS,
  decodeCompressedImage,
  preprocessCompressedImage,
  preprocessRawImage,
  preprocessRgb,
  preprocessToInput,
  rawImageToRgb,
  readImageFile,
  type BadImageProblem,
  type PreprocessOptions,
} from '../../src/vision/preprocess.js';

/** A simulator frame: the picture every encoding below carries. */
function simFrame(width = 160, height = 120): RgbImage {
  const env = new DrivingSimEnv({ camera: { widthPx: width, heightPx: height } });
  env.resetSync({ seed: 11 });
  for (let i = 0; i < 15; i++) env.stepSync([0.2, 1]);
  return env.renderAt(width, height);
}

/** Re-packs RGB as another raw encoding with `pad` bytes of junk at the end of every row. */
function pack(image: RgbImage, encoding: 'rgb8' | 'bgr8' | 'rgba8' | 'bgra8', pad: number): { encoding: string; width: number; height: number; step: number; data: Uint8Array } {
  const bpp = encoding.endsWith('a8') ? 4 : 3;
  const step = image.width * bpp + pad;
  const data = new Uint8Array(step * image.height).fill(77);
  const bgr = encoding.startsWith('bgr');
  for (let y = 0; y < image.height; y++) {
    for (let x = 0; x < image.width; x++) {
      const s = (y * image.width + x) * 3;
      const d = y * step + x * bpp;
      data[d] = image.data[s + (bgr ? 2 : 0)]!;
      data[d + 1] = image.data[s + 1]!;
      data[d + 2] = image.data[s + (bgr ? 0 : 2)]!;
      if (bpp === 4) data[d + 3] = 255;
    }
  }
  return { encoding, width: image.width, height: image.height, step, data };
}

async function pngOf(image: RgbImage): Promise<Buffer> {
  return sharp(Buffer.from(image.data), { raw: { width: image.width, height: image.height, channels: 3 } }).png().toBuffer();
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

function meanAbsDiff(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i]! - b[i]!);
  return s / a.length;
}

test('the same picture gives the same tensor in every accepted encoding (JPEG within a tolerance)', async () => {
  const frame = simFrame(640, 480);
  const reference = await preprocessToInput(frame);
  assert.equal(reference.length, DEFAULT_PREPROCESS.width * DEFAULT_PREPROCESS.height * 3);
  assert.ok(reference.every((v) => v >= 0 && v <= 1), 'normalised to [0, 1]');
  for (const [encoding, pad] of [['rgb8', 0], ['rgb8', 64], ['bgr8', 0], ['bgr8', 13], ['rgba8', 0], ['rgba8', 32], ['bgra8', 8]] as const) {
    const got = await preprocessRawImage(pack(frame, encoding, pad));
    assert.equal(maxAbsDiff(got, reference), 0, `${encoding} with ${pad} bytes of row padding`);
  }
  const png = await pngOf(frame);
  assert.equal(maxAbsDiff(await preprocessCompressedImage(png), reference), 0, 'PNG bytes');
  const dir = await mkdtemp(join(tmpdir(), 'vision-pre-'));
  await writeFile(join(dir, 'frame.png'), png);
  assert.equal(maxAbsDiff(await preprocessToInput(await readImageFile(join(dir, 'frame.png'))), reference), 0, 'PNG file');
  const jpeg = await sharp(png).jpeg({ quality: 90 }).toBuffer();
  const fromJpeg = await preprocessCompressedImage(jpeg);
  assert.ok(meanAbsDiff(fromJpeg, reference) < 0.01, `JPEG mean |diff| ${meanAbsDiff(fromJpeg, reference)}`);
  assert.ok(maxAbsDiff(fromJpeg, reference) < 0.15, `JPEG max |diff| ${maxAbsDiff(fromJpeg, reference)}`);
});

test('mono8 becomes grey RGB; crop and size follow the options', async () => {
  const width = 40;
  const height = 30;
  const data = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) data.fill(y < 12 ? 250 : 20, y * width, (y + 1) * width);
  const rgb = rawImageToRgb({ encoding: 'mono8', width, height, step: width, data });
  assert.equal(rgb.data.length, width * height * 3);
  assert.deepEqual([...rgb.data.subarray(0, 3)], [250, 250, 250]);
  // Cropping the bright top 40% leaves only the dark rows.
  const opts: PreprocessOptions = { skyCropFraction: 0.4, width: 16, height: 8 };
  const out = await preprocessRgb(rgb, opts);
  assert.equal(out.width, 16);
  assert.equal(out.height, 8);
  assert.ok(out.data.every((v) => Math.abs(v - 20) <= 1), 'only road rows are left');
  const uncropped = await preprocessRgb(rgb, { ...opts, skyCropFraction: 0 });
  assert.ok(uncropped.data.some((v) => v > 200), 'without a crop the bright rows stay');
});

async function rejects(p: Promise<unknown>, problem: BadImageProblem, pattern: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof BadImageError, `expected BadImageError, got ${String(err)}`);
    assert.equal(err.problem, problem);
    assert.match(err.message, pattern);
    assert.ok(!err.message.includes('\n'), 'one line');
    return true;
  });
}

test('bad frames throw a BadImageError naming the problem (the caller can skip the frame)', async () => {
  const frame = simFrame();
  const png = await pngOf(frame);
  const jpeg = await sharp(png).jpeg().toBuffer();
  const raw = pack(frame, 'rgb8', 0);
  await rejects(decodeCompressedImage(jpeg.subarray(0, Math.floor(jpeg.length / 2))), 'truncated', /truncated JPEG/);
  await rejects(decodeCompressedImage(png.subarray(0, Math.floor(png.length / 2))), 'truncated', /truncated PNG/);
  const garbled = Buffer.from(jpeg);
  garbled.fill(0x5a, 20, 400);
  await rejects(decodeCompressedImage(garbled), 'corrupt', /corrupt JPEG/);
  await rejects(decodeCompressedImage(Buffer.from('GIF89a not supported')), 'unknown-encoding', /neither JPEG nor PNG/);
  await rejects(decodeCompressedImage(new Uint8Array(0)), 'zero-size', /empty/);
  await rejects(preprocessRawImage({ ...raw, data: raw.data.subarray(0, raw.data.length - 1) }), 'size-mismatch', /expected height\*step/);
  await rejects(preprocessRawImage({ ...raw, step: raw.step - 3 }), 'size-mismatch', /step/);
  await rejects(preprocessRawImage({ ...raw, encoding: 'yuv422' }), 'unknown-encoding', /unknown image encoding 'yuv422'/);
  await rejects(preprocessRawImage({ encoding: 'rgb8', width: 0, height: 0, step: 0, data: new Uint8Array(0) }), 'zero-size', /empty/);
  await rejects(preprocessRgb({ width: 10, height: 1, data: new Uint8Array(30) }, { skyCropFraction: 0.9, width: 8, height: 8 }), 'zero-size', /nothing left/);
  await rejects(readImageFile('/nonexistent/frame.png'), 'unreadable', /cannot read image/);
});
