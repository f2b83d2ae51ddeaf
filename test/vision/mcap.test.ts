import { strict as assert } from 'node:assert';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { McapWriter, TempBuffer } from '@mcap/core';
import { parse as parseMessageDefinition } from '@foxglove/rosmsg';
import { MessageWriter } from '@foxglove/rosmsg2-serialization';
import * as zstd from '@foxglove/wasm-zstd';
import sharp from 'sharp';
import { readFrameIndex } from '../../src/vision/dataset.js';
import { readMcapImages } from '../../src/vision/mcap.js';
import { lastJson } from '../helpers/cli.js';
import { collectFromBag } from './helpers.js';

/**
 * A ROS 2 bag written here with @mcap/core and @foxglove/rosmsg2-serialization the way rosbag2
 * writes it (ros2msg schemas, CDR messages, zstd-compressed chunks), with messages that must be
 * skipped and counted: a truncated CDR payload, a wrong data length, an unknown encoding and a
 * corrupt JPEG.
 */

const DEPS = `
================================================================================
MSG: std_msgs/Header
builtin_interfaces/Time stamp
string frame_id

================================================================================
MSG: builtin_interfaces/Time
int32 sec
uint32 nanosec
`;
const IMAGE_DEF = `std_msgs/Header header
uint32 height
uint32 width
string encoding
uint8 is_bigendian
uint32 step
uint8[] data
${DEPS}`;
const COMPRESSED_DEF = `std_msgs/Header header
string format
uint8[] data
${DEPS}`;

const W = 32;
const H = 24;

function rgbPattern(seed: number): Uint8Array {
  const data = new Uint8Array(W * H * 3);
  for (let i = 0; i < data.length; i++) data[i] = (i * 7 + seed * 31) % 256;
  return data;
}

function header(i: number): { stamp: { sec: number; nanosec: number }; frame_id: string } {
  return { stamp: { sec: 100 + i, nanosec: 0 }, frame_id: 'camera' };
}

async function writeBag(path: string): Promise<{ goodRaw: number; goodCompressed: number }> {
  await zstd.isLoaded;
  const buffer = new TempBuffer();
  const writer = new McapWriter({
    writable: buffer,
    chunkSize: 4096,
    compressChunk: (data) => ({ compression: 'zstd', compressedData: zstd.compress(data) }),
  });
  await writer.start({ profile: 'ros2', library: 'daydrive-test' });
  const imageSchema = await writer.registerSchema({
    name: 'sensor_msgs/msg/Image',
    encoding: 'ros2msg',
    data: new TextEncoder().encode(IMAGE_DEF),
  });
  const compressedSchema = await writer.registerSchema({
    name: 'sensor_msgs/msg/CompressedImage',
    encoding: 'ros2msg',
    data: new TextEncoder().encode(COMPRESSED_DEF),
  });
  const rawChannel = await writer.registerChannel({
    topic: '/camera/image_raw',
    schemaId: imageSchema,
    messageEncoding: 'cdr',
    metadata: new Map(),
  });
  const jpegChannel = await writer.registerChannel({
    topic: '/camera/image_raw/compressed',
    schemaId: compressedSchema,
    messageEncoding: 'cdr',
    metadata: new Map(),
  });
  const imageWriter = new MessageWriter(parseMessageDefinition(IMAGE_DEF, { ros2: true }));
  const compressedWriter = new MessageWriter(parseMessageDefinition(COMPRESSED_DEF, { ros2: true }));
  let seq = 0;
  const add = async (channelId: number, data: Uint8Array): Promise<void> => {
    const t = BigInt(seq + 1) * 100_000_000n;
    await writer.addMessage({ channelId, sequence: seq++, logTime: t, publishTime: t, data });
  };
  const raw = (i: number, encoding: string, data: Uint8Array, step = W * 3): Uint8Array =>
    imageWriter.writeMessage({ header: header(i), height: H, width: W, encoding, is_bigendian: 0, step, data });

  // Raw topic: 4 good frames (rgb8 and bgr8), then the bad ones.
  await add(rawChannel, raw(0, 'rgb8', rgbPattern(0)));
  await add(rawChannel, raw(1, 'bgr8', rgbPattern(1)));
  const good = raw(2, 'rgb8', rgbPattern(2));
  await add(rawChannel, good.subarray(0, 60)); // truncated CDR: does not decode
  await add(rawChannel, raw(3, 'rgb8', rgbPattern(3).subarray(0, W * 3 * (H - 1)))); // data shorter than height*step
  await add(rawChannel, raw(4, 'nv21', new Uint8Array(W * H * 2), W * 2)); // unknown encoding
  await add(rawChannel, raw(5, 'rgb8', rgbPattern(5)));
  await add(rawChannel, raw(6, 'rgb8', rgbPattern(6)));

  // Compressed topic: 2 good JPEGs and a corrupt one.
  const jpeg = await sharp(Buffer.from(rgbPattern(7)), { raw: { width: W, height: H, channels: 3 } })
    .jpeg()
    .toBuffer();
  await add(jpegChannel, compressedWriter.writeMessage({ header: header(7), format: 'jpeg', data: jpeg }));
  await add(
    jpegChannel,
    compressedWriter.writeMessage({ header: header(8), format: 'jpeg', data: jpeg.subarray(0, jpeg.length >> 1) }),
  );
  await add(jpegChannel, compressedWriter.writeMessage({ header: header(9), format: 'jpeg', data: jpeg }));
  await writer.end();
  await writeFile(path, buffer.get());
  return { goodRaw: 4, goodCompressed: 2 };
}

test('MCAP: Image and CompressedImage frames are read; messages that do not decode are skipped and counted', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'vision-mcap-'));
  const bag = join(dir, 'drive.mcap');
  const expected = await writeBag(bag);

  const rawFrames: { width: number; first: number[]; logTimeNs: bigint }[] = [];
  const stats = await readMcapImages(bag, '/camera/image_raw', (f) => {
    rawFrames.push({ width: f.image.width, first: [...f.image.data.subarray(0, 3)], logTimeNs: f.logTimeNs });
  });
  assert.equal(stats.schema, 'sensor_msgs/msg/Image');
  assert.equal(stats.messages, 7);
  assert.equal(stats.frames, expected.goodRaw);
  assert.equal(stats.skipped, 3);
  assert.deepEqual(stats.skippedByReason, { 'cdr-decode': 1, 'size-mismatch': 1, 'unknown-encoding': 1 });
  assert.equal(stats.complete, true);
  assert.deepEqual(rawFrames[0]!.first, [...rgbPattern(0).subarray(0, 3)], 'rgb8 pixels as recorded');
  const bgr = rgbPattern(1);
  assert.deepEqual(rawFrames[1]!.first, [bgr[2], bgr[1], bgr[0]], 'bgr8 converted to RGB');
  assert.ok(rawFrames.every((f) => f.width === W));

  const jpegStats = await readMcapImages(bag, '/camera/image_raw/compressed', () => undefined);
  assert.equal(jpegStats.schema, 'sensor_msgs/msg/CompressedImage');
  assert.equal(jpegStats.frames, expected.goodCompressed);
  assert.deepEqual(jpegStats.skippedByReason, { truncated: 1 });

  await assert.rejects(
    readMcapImages(bag, '/front/image', () => undefined),
    /no messages on topic \/front\/image.*image topics in the bag: \/camera\/image_raw, \/camera\/image_raw\/compressed/,
  );
  await writeFile(join(dir, 'not.mcap'), 'hello');
  await assert.rejects(
    readMcapImages(join(dir, 'not.mcap'), '/camera/image_raw', () => undefined),
    /not a readable MCAP file/,
  );
});

test('MCAP: a bag cut short yields the frames before the cut', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'vision-mcap-'));
  const bag = join(dir, 'drive.mcap');
  await writeBag(bag);
  const bytes = await readFile(bag);
  const cut = join(dir, 'cut.mcap');
  await writeFile(cut, bytes.subarray(0, Math.floor(bytes.length * 0.75)));
  const stats = await readMcapImages(cut, '/camera/image_raw', () => undefined);
  assert.equal(stats.complete, false);
  assert.ok(stats.frames >= 1, `frames before the cut: ${stats.frames}`);
});

test('daydrive vae collect --bag writes a dataset and reports skipped messages', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'vision-mcap-'));
  const bag = join(dir, 'drive.mcap');
  await writeBag(bag);
  const out = join(dir, 'frames');
  const collected = await collectFromBag(bag, '/camera/image_raw', out);
  assert.equal(collected.code, 0, collected.stderr);
  const stdout = collected.stdout;
  const last = lastJson<{
    ok: boolean;
    frames: number;
    skipped: number;
    skippedByReason: Record<string, number>;
  }>(stdout);
  assert.equal(last.ok, true);
  assert.equal(last.frames, 4);
  assert.equal(last.skipped, 3);
  const index = await readFrameIndex(out);
  assert.equal(index.meta.source, 'bag');
  assert.equal(index.meta.skippedMessages, 3);
  assert.deepEqual(index.meta.camera, { widthPx: W, heightPx: H });
  assert.equal(index.records.length, 4);
  assert.equal(index.records[0]!.timestampNs, '100000000');
});
