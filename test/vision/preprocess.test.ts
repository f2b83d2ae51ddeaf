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
  jpegSize,
  normalise,
  preprocessCompressed,
  preprocessCompressedImage,
  preprocessRawImage,
  preprocessRgb,
  preprocessToInput,
  rawImageToRgb,
  readImageFile,
  skyCropRows,
  type BadImageProblem,
  type PreprocessOptions,
} from '../../src/vision/preprocess.js';
import { maxAbsDiff, meanAbsDiff } from '../helpers/compare.js';

/** A simulator frame: the picture every encoding below carries. */
function simFrame(width = 160, height = 120): RgbImage {
  const env = new DrivingSimEnv({ camera: { widthPx: width, heightPx: height } });
  env.resetSync({ seed: 11 });
  for (let i = 0; i < 15; i++) env.stepSync([0.2, 1]);
  return env.renderAt(width, height);
}

/** Re-packs RGB as another raw encoding with `pad` bytes of junk at the end of every row. */
function pack(
  image: RgbImage,
  encoding: 'rgb8' | 'bgr8' | 'rgba8' | 'bgra8',
  pad: number,
): { encoding: string; width: number; height: number; step: number; data: Uint8Array } {
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
  return sharp(Buffer.from(image.data), { raw: { width: image.width, height: image.height, channels: 3 } })
    .png()
    .toBuffer();
}

test('the same picture gives the same tensor in every accepted encoding (JPEG within a tolerance)', async () => {
  const frame = simFrame(640, 480);
  const reference = await preprocessToInput(frame);
  assert.equal(reference.length, DEFAULT_PREPROCESS.width * DEFAULT_PREPROCESS.height * 3);
  assert.ok(
    reference.every((v) => v >= 0 && v <= 1),
    'normalised to [0, 1]',
  );
  for (const [encoding, pad] of [
    // 8-bit RGB and BGR go to sharp from the message's buffer in place (a stride of whole pixels,
    // padded or not); a stride of part of a pixel (64, 13 bytes) and 4 channels are converted first.
    ['rgb8', 0],
    ['rgb8', 6],
    ['rgb8', 64],
    ['bgr8', 0],
    ['bgr8', 12],
    ['bgr8', 13],
    ['rgba8', 0],
    ['rgba8', 32],
    ['bgra8', 8],
  ] as const) {
    const got = await preprocessRawImage(pack(frame, encoding, pad));
    assert.equal(maxAbsDiff(got, reference), 0, `${encoding} with ${pad} bytes of row padding`);
  }
  // mono8 in place, against the same picture in grey converted to RGB first.
  const grey = new Uint8Array(frame.width * frame.height);
  for (let i = 0; i < grey.length; i++) grey[i] = frame.data[3 * i + 1]!;
  for (const pad of [0, 5]) {
    const step = frame.width + pad;
    const data = new Uint8Array(step * frame.height).fill(9);
    for (let y = 0; y < frame.height; y++) data.set(grey.subarray(y * frame.width, (y + 1) * frame.width), y * step);
    const mono = { encoding: 'mono8', width: frame.width, height: frame.height, step, data };
    const greyReference = await preprocessToInput(rawImageToRgb(mono));
    assert.equal(maxAbsDiff(await preprocessRawImage(mono), greyReference), 0, `mono8 with ${pad} bytes of padding`);
  }
  const png = await pngOf(frame);
  assert.equal(maxAbsDiff(await preprocessCompressedImage(png), reference), 0, 'PNG bytes');
  const dir = await mkdtemp(join(tmpdir(), 'vision-pre-'));
  await writeFile(join(dir, 'frame.png'), png);
  assert.equal(
    maxAbsDiff(await preprocessToInput(await readImageFile(join(dir, 'frame.png'))), reference),
    0,
    'PNG file',
  );
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
  assert.ok(
    out.data.every((v) => Math.abs(v - 20) <= 1),
    'only road rows are left',
  );
  const uncropped = await preprocessRgb(rgb, { ...opts, skyCropFraction: 0 });
  assert.ok(
    uncropped.data.some((v) => v > 200),
    'without a crop the bright rows stay',
  );
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
  const garbled = Buffer.from(jpeg);
  garbled.fill(0x5a, 20, 400);
  // Image data scrambled after the headers: the frame header parses, the entropy-coded data does not.
  const scrambled = Buffer.from(jpeg);
  scrambled.fill(0x00, Math.floor(jpeg.length / 2), Math.floor(jpeg.length / 2) + 600);
  // PNG whose first IDAT bytes are overwritten (the IEND chunk is still there: corrupt, not truncated).
  const idat = png.indexOf('IDAT');
  const badPng = Buffer.from(png);
  badPng.fill(0x33, idat + 4, idat + 200);
  const noFrameHeader = Buffer.from([
    0xff, 0xd8, 0xff, 0xe0, 0x00, 0x04, 0x00, 0x00, 0xff, 0xda, 0x00, 0x02, 0x11, 0x22, 0xff, 0xd9,
  ]);
  // Both ways in for compressed bytes (two sharp calls, and the one-call path of the encoder) name the same problem.
  for (const decode of [(b: Uint8Array) => decodeCompressedImage(b), (b: Uint8Array) => preprocessCompressed(b)]) {
    await rejects(decode(jpeg.subarray(0, Math.floor(jpeg.length / 2))), 'truncated', /truncated JPEG/);
    await rejects(decode(jpeg.subarray(0, 200)), 'truncated', /truncated JPEG/);
    await rejects(decode(png.subarray(0, Math.floor(png.length / 2))), 'truncated', /truncated PNG/);
    await rejects(decode(garbled), 'corrupt', /corrupt JPEG/);
    await rejects(decode(scrambled), 'corrupt', /corrupt JPEG/);
    await rejects(decode(noFrameHeader), 'corrupt', /corrupt JPEG/);
    await rejects(decode(badPng), 'corrupt', /corrupt PNG/);
    await rejects(decode(Buffer.from('GIF89a not supported')), 'unknown-encoding', /neither JPEG nor PNG/);
    await rejects(decode(new Uint8Array(0)), 'zero-size', /empty/);
  }
  await rejects(
    preprocessRawImage({ ...raw, data: raw.data.subarray(0, raw.data.length - 1) }),
    'size-mismatch',
    /expected height\*step/,
  );
  await rejects(preprocessRawImage({ ...raw, step: raw.step - 3 }), 'size-mismatch', /step/);
  await rejects(preprocessRawImage({ ...raw, encoding: 'nv21' }), 'unknown-encoding', /unknown image encoding 'nv21'/);
  await rejects(
    preprocessRawImage({ encoding: 'rgb8', width: 0, height: 0, step: 0, data: new Uint8Array(0) }),
    'zero-size',
    /empty/,
  );
  await rejects(
    preprocessRawImage({ encoding: 'rgb8', width: 160, height: 0, step: 480, data: new Uint8Array(0) }),
    'zero-size',
    /empty \(160x0\)/,
  );
  await rejects(
    preprocessRawImage({ encoding: 'mono8', width: -4, height: 2, step: 4, data: new Uint8Array(8) }),
    'zero-size',
    /non-negative integers/,
  );
  await rejects(
    preprocessRgb({ width: 160, height: 120, data: new Uint8Array(100) }),
    'size-mismatch',
    /expected width\*height\*3 = 57600/,
  );
  await rejects(
    preprocessRgb({ width: 10, height: 1, data: new Uint8Array(30) }, { skyCropFraction: 0.9, width: 8, height: 8 }),
    'zero-size',
    /nothing left/,
  );
  await rejects(readImageFile('/nonexistent/frame.png'), 'unreadable', /cannot read image/);
});

test('a JPEG in one sharp call (preprocessCompressed) is within a level of decode + preprocessRgb, exact where it cannot shrink on load; jpegSize reads the frame header', async () => {
  const frame = simFrame(640, 480);
  const raw = Buffer.from(frame.data);
  const rawPipe = () => sharp(raw, { raw: { width: 640, height: 480, channels: 3 } });
  const odd = simFrame(161, 121);
  const jpegs: [string, Buffer][] = [
    ['640x480 q90 4:2:0', await rawPipe().jpeg({ quality: 90 }).toBuffer()],
    ['640x480 q95 4:4:4', await rawPipe().jpeg({ quality: 95, chromaSubsampling: '4:4:4' }).toBuffer()],
    ['640x480 progressive', await rawPipe().jpeg({ progressive: true }).toBuffer()],
    ['640x480 greyscale', await rawPipe().greyscale().jpeg().toBuffer()],
    [
      '161x121',
      await sharp(Buffer.from(odd.data), { raw: { width: 161, height: 121, channels: 3 } })
        .jpeg()
        .toBuffer(),
    ],
  ];
  const sizes: PreprocessOptions[] = [
    DEFAULT_PREPROCESS,
    { skyCropFraction: 0.4, width: 96, height: 48 },
    { skyCropFraction: 0, width: 32, height: 32 },
  ];
  let reducedScale = 0;
  for (const [name, jpeg] of jpegs) {
    const meta = await sharp(jpeg).metadata();
    assert.deepEqual(jpegSize(jpeg), { width: meta.width, height: meta.height }, name);
    for (const opts of sizes) {
      const what = `${name} at ${opts.width}x${opts.height}, crop ${opts.skyCropFraction}`;
      const twoCalls = await preprocessRgb(await decodeCompressedImage(jpeg), opts);
      const oneCall = await preprocessCompressed(jpeg, opts);
      assert.deepEqual(oneCall.source, { width: meta.width, height: meta.height });
      assert.equal(oneCall.input.width, opts.width);
      assert.equal(oneCall.input.height, opts.height);
      const keptRows = meta.height! - skyCropRows(meta.height!, opts.skyCropFraction);
      if (meta.width! >= 4 * opts.width && keptRows >= 4 * opts.height) {
        // Decoded at reduced scale, cropped after the resize: the same picture, not the same bytes.
        reducedScale += 1;
        const a = normalise(oneCall.input);
        const b = normalise(twoCalls);
        assert.ok(meanAbsDiff(a, b) < 1.5 / 255, `${what}: mean |diff| ${(meanAbsDiff(a, b) * 255).toFixed(2)} levels`);
        assert.ok(maxAbsDiff(a, b) < 24 / 255, `${what}: max |diff| ${(maxAbsDiff(a, b) * 255).toFixed(0)} levels`);
      } else {
        assert.ok(Buffer.from(oneCall.input.data).equals(Buffer.from(twoCalls.data)), `${what}: exact path`);
      }
    }
  }
  assert.equal(reducedScale, 12, 'every 640x480 case decodes at reduced scale');
  const png = await pngOf(frame);
  assert.equal(jpegSize(png), null, 'not a JPEG');
  assert.ok(
    Buffer.from((await preprocessCompressed(png)).input.data).equals(Buffer.from((await preprocessRgb(frame)).data)),
    'PNG: the two-call path, lossless',
  );
});
