/**
 * Camera frames -> VAE input, with sharp. Every path crops the sky and resizes the same way
 * (cropAndResize: the top skyCropRows extracted away, Lanczos-3 to the model size), then maps
 * bytes to [0, 1] (`normalise`); they differ in how the frame reaches sharp:
 *
 *   preprocessRgb(image, options)                              RgbImage -> model-size RgbImage
 *   preprocessToInput(image, options)                          the same, as the model input
 *   preprocessRawImage(msg, options)                           sensor_msgs/Image -> model input:
 *       8-bit RGB/BGR/mono read by sharp from the message's own buffer (no full-size copy),
 *       other encodings through rawImageToRgb; byte for byte what rawImageToRgb + preprocessToInput give
 *   preprocessCompressed(bytes, options)                       JPEG/PNG bytes -> model-size RgbImage
 *       (a JPEG in ONE sharp call, decoded at reduced scale: within ~1/255 of decode + preprocessRgb)
 *   modelInputFromCompressed(bytes, spec)                      the same as a ModelInputFrame
 *   rawImageToRgb(msg), decodeCompressedImage(bytes), readImageFile(path)   -> full-size RgbImage
 *
 * The drive node (src/ros/frames.ts) makes each camera message the agent's model input with
 * preprocessRawImage or modelInputFromCompressed; the simulator renders the model input itself
 * (sim/); ImageEncoder.encode (src/vision/encoder.ts) runs preprocessRgb on full frames (datasets,
 * files, a controller that reads images).
 *
 * Every bad frame (truncated or corrupt JPEG/PNG, data length not height*step, unknown
 * encoding, zero size) throws a BadImageError whose `problem` says which; catch it to skip the
 * frame.
 */
import { readFile } from 'node:fs/promises';
import sharp, { type OutputInfo, type Sharp } from 'sharp';
import { skyCropRows, type ModelInputFrame, type ModelInputSpec, type RgbImage } from '../core/env.js';
import { BadImageError, type BadImageProblem } from './bad-image.js';

export { BadImageError, type BadImageProblem } from './bad-image.js';
import { inPlaceLayout, rawImageToRgb, type RawImageMessage } from './raw-encodings.js';

export { checkRawImage, RAW_ENCODINGS, rawImageToRgb, type RawImageMessage } from './raw-encodings.js';

/** Crop and resize that turn a camera frame into the model input. */
export interface PreprocessOptions {
  /** Fraction of the image height removed from the top (the sky), in [0, 1). */
  readonly skyCropFraction: number;
  /** Model input size, pixels. */
  readonly width: number;
  readonly height: number;
}

/**
 * Defaults, chosen by measurement (docs/vision.md): the sim camera's horizon sits at ~38% of
 * the height, so 0.4 removes the sky and tree line; 64x64 kept cross-track and heading error
 * recoverable from the latent (R^2 in the model card) at the paper's layer sizes.
 */
export const DEFAULT_PREPROCESS: PreprocessOptions = { skyCropFraction: 0.4, width: 64, height: 64 };

function checkSize(width: number, height: number, what: string): void {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 0 || height < 0) {
    throw new BadImageError('zero-size', `${what}: width ${width} and height ${height} must be non-negative integers`);
  }
  if (width === 0 || height === 0) throw new BadImageError('zero-size', `${what} is empty (${width}x${height})`);
}

function sniffFormat(bytes: Uint8Array): 'jpeg' | 'png' | null {
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  if (bytes.length >= 8 && bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47)
    return 'png';
  return null;
}

/**
 * Whether the data ended early: the format's end marker (JPEG EOI 0xFFD9; PNG's IEND chunk) is
 * missing. The marker decides, not the decoder's words: libpng reports a cut file only as a
 * generic read error, and libjpeg says "premature end of data segment" also for scrambled
 * entropy-coded data in a file that is complete.
 */
function looksTruncated(bytes: Uint8Array, format: 'jpeg' | 'png'): boolean {
  const n = bytes.length;
  if (format === 'jpeg') return !(bytes[n - 2] === 0xff && bytes[n - 1] === 0xd9);
  const iend = [0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82];
  return !iend.every((b, i) => bytes[n - 8 + i] === b);
}

/** A decoder failure as a BadImageError: truncated (the data ends early) or corrupt. */
function decodeFailure(err: unknown, bytes: Uint8Array, format: 'jpeg' | 'png', what: string): BadImageError {
  if (err instanceof BadImageError) return err;
  const message = (err instanceof Error ? err.message : String(err)).split('\n')[0] ?? '';
  const problem: BadImageProblem = looksTruncated(bytes, format) ? 'truncated' : 'corrupt';
  return new BadImageError(problem, `${what}: ${problem} ${format.toUpperCase()} (${message})`);
}

/** Checks the header and says which format the bytes are; an empty or unknown buffer is a BadImageError. */
function compressedFormat(bytes: Uint8Array, what: string): 'jpeg' | 'png' {
  if (bytes.length === 0) throw new BadImageError('zero-size', `${what} is empty (0 bytes)`);
  const format = sniffFormat(bytes);
  if (format === null)
    throw new BadImageError('unknown-encoding', `${what} is neither JPEG nor PNG (unrecognised header bytes)`);
  return format;
}

/** sharp's raw output as an RgbImage, after checking it is non-empty 3-channel RGB. */
function rgbOf(data: Buffer, info: OutputInfo, what: string): RgbImage {
  checkSize(info.width, info.height, what);
  if (info.channels !== 3)
    throw new BadImageError('corrupt', `${what} decoded to ${info.channels} channels, expected 3`);
  return {
    width: info.width,
    height: info.height,
    data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
  };
}

/** JPEG or PNG bytes (a CompressedImage's data, a file's content) -> packed RGB. */
export async function decodeCompressedImage(bytes: Uint8Array, what = 'compressed image'): Promise<RgbImage> {
  const format = compressedFormat(bytes, what);
  try {
    const { data, info } = await sharp(bytes, { failOn: 'warning' })
      .removeAlpha()
      .toColourspace('srgb')
      .raw()
      .toBuffer({ resolveWithObject: true });
    return rgbOf(data, info, what);
  } catch (err) {
    throw decodeFailure(err, bytes, format, what);
  }
}

/**
 * Width and height from a baseline/progressive JPEG's SOF segment, or null when the markers
 * before it do not parse (the caller then takes the general path, whose decoder names the
 * problem). Read here rather than with sharp().metadata() because that is one more trip through
 * the thread pool per frame, which is what the latency tail is made of on a loaded machine.
 */
export function jpegSize(bytes: Uint8Array): { width: number; height: number } | null {
  let i = 2;
  while (i + 9 < bytes.length) {
    if (bytes[i] !== 0xff) return null;
    const marker = bytes[i + 1]!;
    if (marker === 0xff) {
      i++; // fill byte
      continue;
    }
    // Standalone markers (TEM, RSTn) carry no length.
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      i += 2;
      continue;
    }
    if (marker === 0xd9 || marker === 0xda) return null; // EOI or scan data before any frame header
    const length = (bytes[i + 2]! << 8) | bytes[i + 3]!;
    if (length < 2) return null;
    // SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC): P(1) Y(2) X(2).
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      const height = (bytes[i + 5]! << 8) | bytes[i + 6]!;
      const width = (bytes[i + 7]! << 8) | bytes[i + 8]!;
      return width > 0 && height > 0 ? { width, height } : null;
    }
    i += 2 + length;
  }
  return null;
}

/** A PNG or JPEG file -> packed RGB; the error names the file. */
export async function readImageFile(path: string): Promise<RgbImage> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw new BadImageError(
      'unreadable',
      `cannot read image ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
    );
  }
  return decodeCompressedImage(bytes, `image ${path}`);
}

export { skyCropRows };

/**
 * The crop and resize of every path, applied to a sharp pipeline of a `width` x `height` image:
 * the top skyCropRows are extracted away, then sharp's default Lanczos-3 reduction (which
 * averages thin lane markings into grey instead of dropping them) to the model input.
 */
function cropAndResize(pipeline: Sharp, width: number, height: number, opts: PreprocessOptions): Sharp {
  const top = skyCropRows(height, opts.skyCropFraction);
  const keptRows = height - top;
  if (keptRows < 1)
    throw new BadImageError('zero-size', `nothing left of a ${width}x${height} image after cropping ${top} sky rows`);
  // Extracted even when nothing is cropped: a pre-resize extract is also what keeps sharp from
  // decoding a JPEG at reduced scale (shrink-on-load), so that this path is exact.
  let p = pipeline.extract({ left: 0, top, width, height: keptRows });
  if (width !== opts.width || keptRows !== opts.height) p = p.resize(opts.width, opts.height, { fit: 'fill' });
  return p;
}

/**
 * cropAndResize for a JPEG, letting libjpeg decode at 1/2, 1/4 or 1/8 scale (sharp's
 * shrink-on-load: the inverse DCT of fewer coefficients) where the kept rows are at least four
 * times the model input in both axes (below that the gain is small, and a 1/2-scale decode of a
 * 161x121 frame moved pixels by up to 38 levels). sharp turns shrink-on-load off when an extract
 * comes before the resize, so here the whole frame is resized to the model width and to the
 * height that makes its kept rows opts.height rows, and the sky rows are cut off after. Rounding
 * that height moves the crop line by under half a model row (most of the difference), and the
 * reduced-scale decode is a slightly different low-pass than Lanczos alone: against decode +
 * preprocessRgb the model input differs by about 1 level in 255 on average and by at most 17 at
 * lane-marking edges (test/vision/preprocess.test.ts), inside what JPEG itself changes, for about
 * 1 ms less per 640x480 frame (docs/vision.md). Other frames take the exact path.
 */
function jpegCropAndResize(pipeline: Sharp, width: number, height: number, opts: PreprocessOptions): Sharp {
  const keptRows = height - skyCropRows(height, opts.skyCropFraction);
  if (width < 4 * opts.width || keptRows < 4 * opts.height) return cropAndResize(pipeline, width, height, opts);
  const resizedHeight = Math.round((opts.height * height) / keptRows);
  return pipeline
    .resize(opts.width, resizedHeight, { fit: 'fill' })
    .extract({ left: 0, top: resizedHeight - opts.height, width: opts.width, height: opts.height });
}

/** Crops the sky off and resizes to the model input (see cropAndResize). Returns packed RGB bytes. */
export async function preprocessRgb(image: RgbImage, opts: PreprocessOptions = DEFAULT_PREPROCESS): Promise<RgbImage> {
  checkSize(image.width, image.height, 'image');
  if (image.data.length !== image.width * image.height * 3) {
    throw new BadImageError(
      'size-mismatch',
      `RGB image data has ${image.data.length} bytes, expected width*height*3 = ${image.width * image.height * 3}`,
    );
  }
  const input = Buffer.from(image.data.buffer, image.data.byteOffset, image.data.byteLength);
  const pipeline = cropAndResize(
    sharp(input, { raw: { width: image.width, height: image.height, channels: 3 } }),
    image.width,
    image.height,
    opts,
  );
  const data = await pipeline.raw().toBuffer();
  return {
    width: opts.width,
    height: opts.height,
    data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
  };
}

/** A compressed frame made model input, with the size it had (for the encoder's camera check). */
export interface PreprocessedCompressed {
  readonly input: RgbImage;
  readonly source: { readonly width: number; readonly height: number };
}

/**
 * JPEG/PNG bytes -> model-size RGB. A JPEG goes through ONE sharp call (decode at reduced scale,
 * resize, crop: jpegCropAndResize), within about a level in 255 of decodeCompressedImage +
 * preprocessRgb (test/vision/preprocess.test.ts), but the full-size frame never becomes a JS buffer
 * (0.9 MB at 640x480, whose external-memory pressure set off a GC every ~20 frames) and the frame
 * crosses the thread pool once instead of twice. PNG (files, datasets; it may carry alpha, which
 * sharp would premultiply in a one-call resize) and unparsable headers take the two-call path.
 */
export async function preprocessCompressed(
  bytes: Uint8Array,
  opts: PreprocessOptions = DEFAULT_PREPROCESS,
  what = 'compressed image',
): Promise<PreprocessedCompressed> {
  const format = compressedFormat(bytes, what);
  const size = format === 'jpeg' ? jpegSize(bytes) : null;
  if (size === null) {
    const rgb = await decodeCompressedImage(bytes, what);
    return { input: await preprocessRgb(rgb, opts), source: { width: rgb.width, height: rgb.height } };
  }
  const pipeline = jpegCropAndResize(sharp(bytes, { failOn: 'warning' }), size.width, size.height, opts);
  try {
    const { data, info } = await pipeline
      .removeAlpha()
      .toColourspace('srgb')
      .raw()
      .toBuffer({ resolveWithObject: true });
    return { input: rgbOf(data, info, what), source: size };
  } catch (err) {
    throw decodeFailure(err, bytes, format, what);
  }
}

/**
 * JPEG/PNG bytes -> the model input frame (preprocessCompressed, normalised), with the size the
 * frame had: what the drive node makes of each compressed camera message (src/ros/frames.ts) and
 * VaeImageEncoder.encodeCompressed encodes, so a benchmark of either measures the node's path.
 */
export async function modelInputFromCompressed(
  bytes: Uint8Array,
  spec: ModelInputSpec,
  what = 'compressed image',
): Promise<{ readonly frame: ModelInputFrame; readonly source: { readonly width: number; readonly height: number } }> {
  const { input, source } = await preprocessCompressed(bytes, spec, what);
  return { frame: { ...spec, data: normalise(input) }, source };
}

/**
 * Runs a small blank frame through both sharp paths (raw, and JPEG in one call) at these
 * options: the first sharp pipeline of a process pays for libvips' start (operation classes,
 * the JPEG codec, thread pool), ~20 ms here, which should not land on the first camera frame.
 */
export async function warmUpPreprocessing(opts: PreprocessOptions = DEFAULT_PREPROCESS): Promise<void> {
  const frame: RgbImage = { width: 64, height: 48, data: new Uint8Array(64 * 48 * 3).fill(128) };
  await preprocessRgb(frame, opts);
  const jpeg = await sharp(Buffer.from(frame.data), { raw: { width: frame.width, height: frame.height, channels: 3 } })
    .jpeg()
    .toBuffer();
  await preprocessCompressed(jpeg, opts);
}

/** Bytes -> floats in [0, 1] (x / 255), HWC order; written into `out` at `offset` if given. */
export function normalise(image: RgbImage, out?: Float32Array, offset = 0): Float32Array {
  const n = image.data.length;
  const target = out ?? new Float32Array(n);
  const scale = 1 / 255;
  for (let i = 0; i < n; i++) target[offset + i] = image.data[i]! * scale;
  return target;
}

/** A frame as the model sees it: HWC floats in [0, 1]. */
export async function preprocessToInput(
  image: RgbImage,
  opts: PreprocessOptions = DEFAULT_PREPROCESS,
): Promise<Float32Array> {
  return normalise(await preprocessRgb(image, opts));
}

/**
 * sensor_msgs/Image -> model input (HWC floats in [0, 1]). 8-bit RGB, BGR and mono frames go to
 * sharp straight from the message's buffer (inPlaceLayout: padded rows included, the crop's
 * extract drops the padding; blue and red swapped, or mono spread to three channels, on the
 * model-size output), so no full-size RGB copy is made (0.9 MB per 640x480 frame); the other
 * encodings are converted to RGB first (rawImageToRgb). The input is the same, byte for byte,
 * as rawImageToRgb + preprocessRgb (test/vision/preprocess.test.ts).
 */
export async function preprocessRawImage(
  msg: RawImageMessage,
  opts: PreprocessOptions = DEFAULT_PREPROCESS,
): Promise<Float32Array> {
  const inPlace = inPlaceLayout(msg);
  if (inPlace === null) return preprocessToInput(rawImageToRgb(msg), opts);
  const { channels, bgr } = inPlace;
  const input = Buffer.from(msg.data.buffer, msg.data.byteOffset, msg.data.byteLength);
  const raw = { width: msg.step / channels, height: msg.height, channels };
  const { data: out, info } = await cropAndResize(sharp(input, { raw }), msg.width, msg.height, opts)
    .raw()
    .toBuffer({ resolveWithObject: true });
  // sharp writes a mono input as one channel or, in sRGB, three equal ones.
  const n = opts.width * opts.height;
  const outChannels = info.channels;
  if ((outChannels !== 1 && outChannels !== 3) || out.length !== n * outChannels)
    throw new BadImageError(
      'corrupt',
      `image resized to ${out.length} bytes in ${outChannels} channels, expected ${n} pixels`,
    );
  const target = new Float32Array(n * 3);
  const scale = 1 / 255;
  for (let i = 0; i < n; i++) {
    if (outChannels === 1) {
      const v = out[i]! * scale;
      target[3 * i] = v;
      target[3 * i + 1] = v;
      target[3 * i + 2] = v;
    } else {
      target[3 * i] = out[3 * i + (bgr ? 2 : 0)]! * scale;
      target[3 * i + 1] = out[3 * i + 1]! * scale;
      target[3 * i + 2] = out[3 * i + (bgr ? 0 : 2)]! * scale;
    }
  }
  return target;
}

/** JPEG/PNG bytes (sensor_msgs/CompressedImage data) -> model input (HWC floats in [0, 1]). */
export async function preprocessCompressedImage(
  bytes: Uint8Array,
  opts: PreprocessOptions = DEFAULT_PREPROCESS,
): Promise<Float32Array> {
  return normalise((await preprocessCompressed(bytes, opts)).input);
}

/** Packed RGB -> PNG bytes (for datasets and reconstruction grids). */
export async function rgbToPngBytes(image: RgbImage): Promise<Buffer> {
  const input = Buffer.from(image.data.buffer, image.data.byteOffset, image.data.byteLength);
  return sharp(input, { raw: { width: image.width, height: image.height, channels: 3 } })
    .png()
    .toBuffer();
}
