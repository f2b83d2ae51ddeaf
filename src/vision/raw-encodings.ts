/**
 * sensor_msgs/Image encodings (sensor_msgs/image_encodings.hpp) -> packed RGB8, the way
 * cv_bridge converts them:
 *   - 8-bit colour and mono: rgb8, bgr8, rgba8, bgra8, mono8 (and OpenCV's 8UC1/8UC3/8UC4);
 *   - 16-bit: rgb16, bgr16, rgba16, bgra16, mono16, 16UC1/16UC3/16UC4, scaled by 1/256 (the high
 *     byte), in the message's byte order (is_bigendian);
 *   - Bayer (machine-vision cameras): bayer_rggb8, bayer_bggr8, bayer_gbrg8, bayer_grbg8, a simple
 *     demosaic per 2x2 cell (its red, mean green and blue for all four pixels): enough for a 64x64
 *     model input, at the full frame size;
 *   - YUV 4:2:2 (usb_cam): yuv422 / uyvy (U Y0 V Y1) and yuv422_yuy2 / yuyv (Y0 U Y1 V), BT.601
 *     video range, as OpenCV's COLOR_YUV2RGB_UYVY/_YUY2.
 * checkRawImage validates a message without converting it (the node checks each frame on arrival
 * and converts only the frames it drives on).
 */
import type { RgbImage } from '../core/env.js';
import { BadImageError } from './bad-image.js';
import type { RawImageMessage } from './image-messages.js';

export type { RawImageMessage } from './image-messages.js';

type Layout =
  | {
      readonly kind: 'interleaved';
      readonly bytesPerSample: 1 | 2;
      readonly channels: number;
      readonly r: number;
      readonly g: number;
      readonly b: number;
    }
  | { readonly kind: 'bayer'; readonly pattern: 'rggb' | 'bggr' | 'gbrg' | 'grbg' }
  | { readonly kind: 'yuv422'; readonly order: 'uyvy' | 'yuyv' };

const interleaved = (bytesPerSample: 1 | 2, channels: number, r: number, g: number, b: number): Layout => ({
  kind: 'interleaved',
  bytesPerSample,
  channels,
  r,
  g,
  b,
});

/** Each accepted encoding's layout (channel order: where R, G and B sit among the channels). */
const LAYOUTS: Readonly<Record<string, Layout>> = {
  rgb8: interleaved(1, 3, 0, 1, 2),
  bgr8: interleaved(1, 3, 2, 1, 0),
  rgba8: interleaved(1, 4, 0, 1, 2),
  bgra8: interleaved(1, 4, 2, 1, 0),
  mono8: interleaved(1, 1, 0, 0, 0),
  // OpenCV type names (cv_bridge uses BGR order for 3/4 channels).
  '8UC1': interleaved(1, 1, 0, 0, 0),
  '8UC3': interleaved(1, 3, 2, 1, 0),
  '8UC4': interleaved(1, 4, 2, 1, 0),
  rgb16: interleaved(2, 3, 0, 1, 2),
  bgr16: interleaved(2, 3, 2, 1, 0),
  rgba16: interleaved(2, 4, 0, 1, 2),
  bgra16: interleaved(2, 4, 2, 1, 0),
  mono16: interleaved(2, 1, 0, 0, 0),
  '16UC1': interleaved(2, 1, 0, 0, 0),
  '16UC3': interleaved(2, 3, 2, 1, 0),
  '16UC4': interleaved(2, 4, 2, 1, 0),
  bayer_rggb8: { kind: 'bayer', pattern: 'rggb' },
  bayer_bggr8: { kind: 'bayer', pattern: 'bggr' },
  bayer_gbrg8: { kind: 'bayer', pattern: 'gbrg' },
  bayer_grbg8: { kind: 'bayer', pattern: 'grbg' },
  yuv422: { kind: 'yuv422', order: 'uyvy' },
  uyvy: { kind: 'yuv422', order: 'uyvy' },
  yuv422_yuy2: { kind: 'yuv422', order: 'yuyv' },
  yuyv: { kind: 'yuv422', order: 'yuyv' },
};

/** The raw encodings rawImageToRgb accepts. */
export const RAW_ENCODINGS: readonly string[] = Object.keys(LAYOUTS);

function bytesPerPixel(layout: Layout): number {
  return layout.kind === 'interleaved' ? layout.bytesPerSample * layout.channels : layout.kind === 'bayer' ? 1 : 2;
}

/** Throws the BadImageError that names what is wrong with the message; returns its layout. */
function layoutOf(msg: RawImageMessage): Layout {
  const { width, height, step, data } = msg;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 0 || height < 0) {
    throw new BadImageError('zero-size', `image: width ${width} and height ${height} must be non-negative integers`);
  }
  if (width === 0 || height === 0) throw new BadImageError('zero-size', `image is empty (${width}x${height})`);
  const layout = LAYOUTS[msg.encoding];
  if (layout === undefined) {
    throw new BadImageError(
      'unknown-encoding',
      `unknown image encoding '${msg.encoding}': use one of ${RAW_ENCODINGS.join(', ')}`,
    );
  }
  if (layout.kind === 'bayer' && (width % 2 !== 0 || height % 2 !== 0)) {
    throw new BadImageError(
      'size-mismatch',
      `a Bayer image (${msg.encoding}) needs an even width and height, got ${width}x${height}`,
    );
  }
  if (layout.kind === 'yuv422' && width % 2 !== 0)
    throw new BadImageError('size-mismatch', `a YUV 4:2:2 image (${msg.encoding}) needs an even width, got ${width}`);
  const bpp = bytesPerPixel(layout);
  const rowBytes = width * bpp;
  if (!Number.isInteger(step) || step < rowBytes) {
    throw new BadImageError(
      'size-mismatch',
      `image step ${step} is less than width*${bpp} = ${rowBytes} bytes for ${msg.encoding}`,
    );
  }
  if (data.length !== height * step) {
    throw new BadImageError(
      'size-mismatch',
      `image data has ${data.length} bytes, expected height*step = ${height}*${step} = ${height * step}`,
    );
  }
  return layout;
}

/**
 * How an image library can read the message's own buffer, with no conversion: 8-bit RGB, BGR and
 * mono (1 or 3 channels; the row stride a whole number of pixels, so padded rows read as a wider
 * image whose extra columns a crop drops), and whether red and blue are swapped. Null for the
 * encodings that need rawImageToRgb (4 channels, 16-bit, Bayer, YUV). Validates the message.
 */
export function inPlaceLayout(msg: RawImageMessage): { readonly channels: 1 | 3; readonly bgr: boolean } | null {
  const layout = layoutOf(msg);
  if (layout.kind !== 'interleaved' || layout.bytesPerSample !== 1) return null;
  if ((layout.channels !== 1 && layout.channels !== 3) || msg.step % layout.channels !== 0) return null;
  return { channels: layout.channels, bgr: layout.channels === 3 && layout.r === 2 };
}

/** Validates a raw image message without converting it (throws the BadImageError naming the problem). */
export function checkRawImage(msg: RawImageMessage): void {
  layoutOf(msg);
}

/** sensor_msgs/Image (any accepted encoding, any row stride) -> packed RGB8. */
export function rawImageToRgb(msg: RawImageMessage): RgbImage {
  const layout = layoutOf(msg);
  const { width, height } = msg;
  const out = new Uint8Array(width * height * 3);
  if (layout.kind === 'bayer') demosaic(msg, layout.pattern, out);
  else if (layout.kind === 'yuv422') yuv422ToRgb(msg, layout.order, out);
  else if (layout.bytesPerSample === 1) interleaved8(msg, layout, out);
  else interleaved16(msg, layout, out, msg.is_bigendian === 1);
  return { width, height, data: out };
}

function interleaved8(
  msg: RawImageMessage,
  layout: { channels: number; r: number; g: number; b: number },
  out: Uint8Array,
): void {
  const { width, height, step, data } = msg;
  if (msg.encoding === 'rgb8' && step === width * 3) {
    out.set(data);
    return;
  }
  const { channels: bpp, r, g, b } = layout;
  let o = 0;
  for (let y = 0; y < height; y++) {
    let i = y * step;
    for (let x = 0; x < width; x++, i += bpp, o += 3) {
      out[o] = data[i + r]!;
      out[o + 1] = data[i + g]!;
      out[o + 2] = data[i + b]!;
    }
  }
}

/** 16-bit samples: the high byte (cv_bridge's 16 -> 8 bit scaling, 1/256). */
function interleaved16(
  msg: RawImageMessage,
  layout: { channels: number; r: number; g: number; b: number },
  out: Uint8Array,
  bigEndian: boolean,
): void {
  const { width, height, step, data } = msg;
  const bpp = layout.channels * 2;
  const high = bigEndian ? 0 : 1;
  const [r, g, b] = [layout.r * 2 + high, layout.g * 2 + high, layout.b * 2 + high];
  let o = 0;
  for (let y = 0; y < height; y++) {
    let i = y * step;
    for (let x = 0; x < width; x++, i += bpp, o += 3) {
      out[o] = data[i + r]!;
      out[o + 1] = data[i + g]!;
      out[o + 2] = data[i + b]!;
    }
  }
}

/** Where red and blue sit in a 2x2 Bayer cell (0 top-left, 1 top-right, 2 bottom-left, 3 bottom-right); green is on the other two. */
const BAYER_CELLS: Readonly<Record<'rggb' | 'bggr' | 'gbrg' | 'grbg', { readonly r: number; readonly b: number }>> = {
  rggb: { r: 0, b: 3 },
  bggr: { r: 3, b: 0 },
  gbrg: { r: 2, b: 1 },
  grbg: { r: 1, b: 2 },
};

function demosaic(msg: RawImageMessage, pattern: keyof typeof BAYER_CELLS, out: Uint8Array): void {
  const { width, height, step, data } = msg;
  const { r, b } = BAYER_CELLS[pattern];
  const cell = new Uint8Array(4);
  for (let y = 0; y < height; y += 2) {
    for (let x = 0; x < width; x += 2) {
      const i = y * step + x;
      cell[0] = data[i]!;
      cell[1] = data[i + 1]!;
      cell[2] = data[i + step]!;
      cell[3] = data[i + step + 1]!;
      let greenSum = 0;
      for (let k = 0; k < 4; k++) if (k !== r && k !== b) greenSum += cell[k]!;
      const red = cell[r]!;
      const green = (greenSum + 1) >> 1;
      const blue = cell[b]!;
      for (let dy = 0; dy < 2; dy++) {
        for (let dx = 0; dx < 2; dx++) {
          const o = ((y + dy) * width + x + dx) * 3;
          out[o] = red;
          out[o + 1] = green;
          out[o + 2] = blue;
        }
      }
    }
  }
}

/** BT.601 video range (Y 16-235, U/V 16-240) -> RGB, as OpenCV's YUV 4:2:2 conversions. */
function yuv422ToRgb(msg: RawImageMessage, order: 'uyvy' | 'yuyv', out: Uint8Array): void {
  const { width, height, step, data } = msg;
  const [y0, u, y1, v] = order === 'uyvy' ? [1, 0, 3, 2] : [0, 1, 2, 3];
  const clip = (x: number): number => (x < 0 ? 0 : x > 255 ? 255 : Math.round(x));
  let o = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x += 2) {
      const i = y * step + x * 2;
      const cb = data[i + u]! - 128;
      const cr = data[i + v]! - 128;
      const dr = 1.596 * cr;
      const dg = -0.392 * cb - 0.813 * cr;
      const db = 2.017 * cb;
      for (const yi of [y0, y1]) {
        const luma = 1.164 * (data[i + yi]! - 16);
        out[o++] = clip(luma + dr);
        out[o++] = clip(luma + dg);
        out[o++] = clip(luma + db);
      }
    }
  }
}
