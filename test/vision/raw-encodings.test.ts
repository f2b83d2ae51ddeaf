/**
 * Every raw sensor_msgs/Image encoding the node accepts converts to the frame the camera saw:
 * 8- and 16-bit colour and mono (both byte orders, padded rows), the four Bayer patterns, and both
 * YUV 4:2:2 byte orders (usb_cam's yuv422 / yuv422_yuy2).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RgbImage } from '../../src/core/env.js';
import { BadImageError, checkRawImage, RAW_ENCODINGS, rawImageToRgb } from '../../src/vision/preprocess.js';
import { blockImage, RAW_TEST_ENCODINGS, rawImageMsg } from '../ros/helpers.js';

/** Largest difference of any byte, over the colour (or, for mono, the grey) of each pixel. */
function maxDiff(got: RgbImage, want: RgbImage, mono: boolean): number {
  let worst = 0;
  for (let i = 0; i < want.data.length; i += 3) {
    const expected = mono
      ? Array(3).fill(Math.round((want.data[i]! + want.data[i + 1]! + want.data[i + 2]!) / 3))
      : [want.data[i]!, want.data[i + 1]!, want.data[i + 2]!];
    for (let c = 0; c < 3; c++) worst = Math.max(worst, Math.abs(got.data[i + c]! - expected[c]!));
  }
  return worst;
}

test('every accepted raw encoding converts to the camera frame (Bayer and 16-bit exactly, YUV within 2 levels)', () => {
  const image = blockImage(32, 24);
  for (const encoding of RAW_TEST_ENCODINGS) {
    assert.ok(RAW_ENCODINGS.includes(encoding), encoding);
    for (const [padBytes, bigEndian] of [
      [0, false],
      [6, false],
      [0, true],
    ] as const) {
      if (bigEndian && !encoding.endsWith('16')) continue;
      const msg = rawImageMsg(image, 0n, encoding, padBytes, bigEndian);
      checkRawImage(msg);
      const rgb = rawImageToRgb(msg);
      assert.equal(rgb.width, 32);
      assert.equal(rgb.height, 24);
      const tolerance = encoding.startsWith('yuv') ? 2 : 0;
      const diff = maxDiff(rgb, image, encoding.startsWith('mono'));
      assert.ok(diff <= tolerance, `${encoding} (pad ${padBytes}, big-endian ${bigEndian}): max difference ${diff}`);
    }
  }
});

test('a Bayer frame of odd size, a YUV 4:2:2 frame of odd width, a short 16-bit buffer: a BadImageError naming the problem', () => {
  const image = blockImage(32, 24);
  const bad = (msg: Parameters<typeof checkRawImage>[0], problem: string, message: RegExp): void => {
    assert.throws(
      () => checkRawImage(msg),
      (e: unknown) => e instanceof BadImageError && e.problem === problem && message.test(e.message),
    );
  };
  const bayer = rawImageMsg(image, 0n, 'bayer_rggb8');
  bad(
    { ...bayer, width: 31, step: 31, data: bayer.data.subarray(0, 31 * 24) },
    'size-mismatch',
    /even width and height/,
  );
  const yuv = rawImageMsg(image, 0n, 'yuv422');
  bad({ ...yuv, width: 31, step: 62, data: yuv.data.subarray(0, 62 * 24) }, 'size-mismatch', /even width/);
  const sixteen = rawImageMsg(image, 0n, 'rgb16');
  bad({ ...sixteen, step: 32 * 3 }, 'size-mismatch', /less than width\*6/);
});
