import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { McapStreamReader, hasMcapPrefix, type McapTypes } from '@mcap/core';
import { parse as parseMessageDefinition } from '@foxglove/rosmsg';
import { MessageReader } from '@foxglove/rosmsg2-serialization';
import { loadDecompressHandlers } from '@mcap/support';
import type { RgbImage } from '../core/env.js';
import { UserError } from '../core/errors.js';
import { BadImageError, decodeCompressedImage, rawImageToRgb } from './preprocess.js';

/**
 * Camera frames from ROS 2 bags in MCAP (what `ros2 bag record` writes by default; chunks may be
 * zstd/lz4 compressed). Reads sensor_msgs/msg/Image and sensor_msgs/msg/CompressedImage (CDR)
 * on one topic, streaming, so a bag of any size works and a bag cut short by a crash yields the
 * frames before the cut. A message that does not decode (bad CDR, unknown encoding, wrong data
 * size, corrupt JPEG) is skipped and counted by reason.
 */

export const IMAGE_SCHEMA = 'sensor_msgs/msg/Image';
export const COMPRESSED_IMAGE_SCHEMA = 'sensor_msgs/msg/CompressedImage';

interface RosTime {
  readonly sec: number;
  readonly nanosec: number;
}

interface RosImageMsg {
  readonly header: { readonly stamp: RosTime; readonly frame_id: string };
  readonly height: number;
  readonly width: number;
  readonly encoding: string;
  readonly is_bigendian: number;
  readonly step: number;
  readonly data: Uint8Array;
}

interface RosCompressedImageMsg {
  readonly header: { readonly stamp: RosTime; readonly frame_id: string };
  readonly format: string;
  readonly data: Uint8Array;
}

export interface McapImageFrame {
  readonly image: RgbImage;
  /** The bag's log time of the message, nanoseconds. */
  readonly logTimeNs: bigint;
  /** Position of the message on the topic (0-based, counting skipped ones). */
  readonly messageIndex: number;
}

export interface McapImageStats {
  /** Messages on the topic. */
  readonly messages: number;
  readonly frames: number;
  /** Messages on the topic that could not be decoded, by reason. */
  readonly skipped: number;
  readonly skippedByReason: Record<string, number>;
  /** False when the file ended without an MCAP footer (recording cut short). */
  readonly complete: boolean;
  readonly schema: string;
}

export interface McapImageOptions {
  /** Keep one message of every `every` on the topic (default 1). */
  readonly every?: number;
  /** Stop after this many frames. */
  readonly maxFrames?: number;
}

type Decoder = (data: Uint8Array) => Promise<RgbImage>;

function decoderFor(schema: McapTypes.Schema, path: string, topic: string): Decoder {
  if (schema.name !== IMAGE_SCHEMA && schema.name !== COMPRESSED_IMAGE_SCHEMA) {
    throw new UserError(`topic ${topic} in ${path} carries ${schema.name}, not ${IMAGE_SCHEMA} or ${COMPRESSED_IMAGE_SCHEMA}`);
  }
  if (schema.encoding !== 'ros2msg') throw new UserError(`topic ${topic} in ${path}: schema encoding '${schema.encoding}' is not ros2msg`);
  const reader = new MessageReader(parseMessageDefinition(new TextDecoder().decode(schema.data), { ros2: true }));
  if (schema.name === IMAGE_SCHEMA) {
    return async (data) => {
      const msg = reader.readMessage<RosImageMsg>(data);
      return rawImageToRgb({ encoding: msg.encoding, width: msg.width, height: msg.height, step: msg.step, data: msg.data });
    };
  }
  return async (data) => decodeCompressedImage(reader.readMessage<RosCompressedImageMsg>(data).data);
}

/** Fails clearly on a missing file or one that does not start with the MCAP magic bytes. */
async function checkMcapPrefix(path: string): Promise<void> {
  const head = new Uint8Array(8);
  let read = 0;
  try {
    const file = await open(path, 'r');
    try {
      read = (await file.read(head, 0, 8, 0)).bytesRead;
    } finally {
      await file.close();
    }
  } catch (err) {
    throw new UserError(`cannot read bag ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  if (read < 8 || !hasMcapPrefix(new DataView(head.buffer))) throw new UserError(`${path} is not a readable MCAP file: it does not start with the MCAP magic bytes`);
}

/**
 * Streams `path`, calling `onFrame` for each decodable image on `topic`. Errors: a file that is
 * not MCAP or is corrupt, a topic that is not in the bag (the error lists the image topics), a
 * topic of another message type.
 */
export async function readMcapImages(
  path: string,
  topic: string,
  onFrame: (frame: McapImageFrame) => Promise<void> | void,
  opts: McapImageOptions = {},
): Promise<McapImageStats> {
  await checkMcapPrefix(path);
  const every = Math.max(1, Math.floor(opts.every ?? 1));
  const reader = new McapStreamReader({ decompressHandlers: await loadDecompressHandlers() });
  const schemas = new Map<number, McapTypes.Schema>();
  const channels = new Map<number, McapTypes.Channel>();
  const decoders = new Map<number, Decoder>();
  const skippedByReason: Record<string, number> = {};
  let messages = 0;
  let frames = 0;
  let skipped = 0;
  let schemaName = '';
  let stop = false;

  const skip = (reason: string): void => {
    skipped++;
    skippedByReason[reason] = (skippedByReason[reason] ?? 0) + 1;
  };

  const handle = async (record: McapTypes.TypedMcapRecord): Promise<void> => {
    if (record.type === 'Schema') schemas.set(record.id, record);
    else if (record.type === 'Channel') channels.set(record.id, record);
    else if (record.type === 'Message') {
      const channel = channels.get(record.channelId);
      if (channel === undefined || channel.topic !== topic) return;
      let decode = decoders.get(channel.id);
      if (decode === undefined) {
        const schema = schemas.get(channel.schemaId);
        if (schema === undefined) throw new UserError(`${path}: topic ${topic} has no schema record`);
        if (channel.messageEncoding !== 'cdr') throw new UserError(`topic ${topic} in ${path}: message encoding '${channel.messageEncoding}' is not cdr`);
        decode = decoderFor(schema, path, topic);
        decoders.set(channel.id, decode);
        schemaName = schema.name;
      }
      const messageIndex = messages++;
      if (messageIndex % every !== 0) return;
      let image: RgbImage;
      try {
        image = await decode(record.data);
      } catch (err) {
        if (err instanceof UserError && !(err instanceof BadImageError)) throw err;
        skip(err instanceof BadImageError ? err.problem : 'cdr-decode');
        return;
      }
      await onFrame({ image, logTimeNs: record.logTime, messageIndex });
      frames++;
      if (opts.maxFrames !== undefined && frames >= opts.maxFrames) stop = true;
    }
  };

  const stream = createReadStream(path);
  try {
    for await (const chunk of stream) {
      try {
        reader.append(chunk as Buffer);
        for (let record = reader.nextRecord(); record !== undefined && !stop; record = reader.nextRecord()) await handle(record);
      } catch (err) {
        if (err instanceof UserError) throw err;
        throw new UserError(`${path} is not a readable MCAP file: ${(err as Error).message.split('\n')[0]}`);
      }
      if (stop) break;
    }
  } finally {
    stream.destroy();
  }
  const complete = stop || reader.done();
  if (messages === 0) {
    const imageTopics = [...channels.values()]
      .filter((c) => {
        const s = schemas.get(c.schemaId);
        return s !== undefined && (s.name === IMAGE_SCHEMA || s.name === COMPRESSED_IMAGE_SCHEMA);
      })
      .map((c) => c.topic);
    throw new UserError(
      `no messages on topic ${topic} in ${path}; image topics in the bag: ${imageTopics.length > 0 ? imageTopics.join(', ') : 'none'}`,
    );
  }
  return { messages, frames, skipped, skippedByReason, complete, schema: schemaName };
}
