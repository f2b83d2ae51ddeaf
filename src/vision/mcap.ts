import { open, readdir, readFile, stat, type FileHandle } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { McapRecordBuilder, McapStreamReader, hasMcapPrefix, type McapTypes } from '@mcap/core';
import { parse as parseYaml } from 'yaml';
import { parse as parseMessageDefinition } from '@foxglove/rosmsg';
import { MessageReader } from '@foxglove/rosmsg2-serialization';
import { loadDecompressHandlers } from '@mcap/support';
import type { RgbImage } from '../core/env.js';
import { UserError } from '../core/errors.js';
import { log } from '../core/logger.js';
import { BadImageError, decodeCompressedImage, rawImageToRgb } from './preprocess.js';
import type { CompressedImageMsg, ImageMsg } from './image-messages.js';
import { BAG_TYPES, yawOfQuaternion, type AckermannStampedMessage, type OdometryMessage } from './ros-schemas.js';

/**
 * Camera frames from ROS 2 bags in MCAP (what `ros2 bag record -s mcap` writes; chunks may be
 * zstd/lz4 compressed): a bag directory (its metadata.yaml names the .mcap files, read in order)
 * or one .mcap file. Reads sensor_msgs/msg/Image and sensor_msgs/msg/CompressedImage (CDR) on one
 * topic, streaming record by record, so a bag of any size works; with each frame the latest
 * odometry (nav_msgs/msg/Odometry) and driver command (ackermann_msgs/msg/AckermannDriveStamped)
 * before it, when the bag has them. What cannot be read is skipped and reported, the rest kept:
 * a message that does not decode (bad CDR, unknown encoding, wrong data size, corrupt JPEG), a
 * chunk that does not decompress or fails its CRC (the frames of every other chunk are kept), and
 * the end of a file cut short by a crash (the frames before the cut). A ROS 1 bag or a sqlite3
 * rosbag2 is refused with what to do.
 */

export const IMAGE_SCHEMA = 'sensor_msgs/msg/Image';
export const COMPRESSED_IMAGE_SCHEMA = 'sensor_msgs/msg/CompressedImage';

/** The car's odometry at a frame: planar pose in the odom frame, forward speed. */
export interface BagOdometry {
  readonly stampNs: bigint;
  readonly xM: number;
  readonly yM: number;
  readonly yawRad: number;
  readonly speedMps: number;
}

/** The driver's command at a frame. */
export interface BagCommand {
  readonly stampNs: bigint;
  readonly steeringRad: number;
  readonly speedMps: number;
}

export interface McapImageFrame {
  readonly image: RgbImage;
  /** The latest odometry and command logged before this frame (null: none yet, or not in the bag). */
  readonly odometry: BagOdometry | null;
  readonly command: BagCommand | null;
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
  /** False when a file ended without an MCAP footer (recording cut short). */
  readonly complete: boolean;
  readonly schema: string;
  /** Chunks (or other records) that could not be read and were skipped, with where and why. */
  readonly skippedChunks: readonly { file: string; offset: number; bytes: number; problem: string }[];
  /** The .mcap files read, in order. */
  readonly files: readonly string[];
  /** Messages of the odometry and command topics used (0: the bag has none). */
  readonly odometryMessages: number;
  readonly commandMessages: number;
}

export interface McapImageOptions {
  /** Keep one message of every `every` on the topic (default 1). */
  readonly every?: number;
  /** Stop after this many frames. */
  readonly maxFrames?: number;
  /** Odometry and command topics (default: the first topic of each type in the bag). */
  readonly odometryTopic?: string;
  readonly commandTopic?: string;
}

type Decoder = (data: Uint8Array) => Promise<RgbImage>;

function decoderFor(schema: McapTypes.Schema, path: string, topic: string): Decoder {
  if (schema.name !== IMAGE_SCHEMA && schema.name !== COMPRESSED_IMAGE_SCHEMA) {
    throw new UserError(
      `topic ${topic} in ${path} carries ${schema.name}, not ${IMAGE_SCHEMA} or ${COMPRESSED_IMAGE_SCHEMA}`,
    );
  }
  if (schema.encoding !== 'ros2msg')
    throw new UserError(`topic ${topic} in ${path}: schema encoding '${schema.encoding}' is not ros2msg`);
  const reader = new MessageReader(parseMessageDefinition(new TextDecoder().decode(schema.data), { ros2: true }));
  if (schema.name === IMAGE_SCHEMA) {
    return async (data) => {
      return rawImageToRgb(reader.readMessage<ImageMsg>(data));
    };
  }
  return async (data) => decodeCompressedImage(reader.readMessage<CompressedImageMsg>(data).data);
}

const MCAP_MAGIC_BYTES = 8;
const RECORD_HEADER_BYTES = 9;
const OPCODE_FOOTER = 0x02;
const OPCODE_CHUNK = 0x06;
/** A record claiming more than this is a damaged length field, not a record. */
const MAX_RECORD_BYTES = 1 << 30;

/** The .mcap files of a bag path (directory or file), in order; refuses what is not a ROS 2 MCAP bag. */
export async function bagFiles(path: string): Promise<string[]> {
  const info = await stat(path).catch((err: NodeJS.ErrnoException) => {
    throw new UserError(`cannot read bag ${path}: ${err.code ?? String(err)}`);
  });
  if (!info.isDirectory()) {
    await checkMcapPrefix(path);
    return [path];
  }
  const metaPath = join(path, 'metadata.yaml');
  const metaText = await readFile(metaPath, 'utf8').catch(() => null);
  if (metaText === null) {
    const mcaps = (await readdir(path)).filter((f) => f.endsWith('.mcap')).sort();
    if (mcaps.length === 0) {
      const db3 = (await readdir(path)).some((f) => f.endsWith('.db3'));
      throw new UserError(
        db3
          ? `${path} is a sqlite3 rosbag2: convert it to MCAP (ros2 bag convert with storage_id mcap)`
          : `${path} is not a rosbag2 directory: no metadata.yaml and no .mcap file`,
      );
    }
    log.warn({ bag: path }, 'no metadata.yaml in the bag directory: reading its .mcap files in name order');
    const files = mcaps.map((f) => join(path, f));
    for (const f of files) await checkMcapPrefix(f);
    return files;
  }
  let meta: unknown;
  try {
    meta = parseYaml(metaText);
  } catch (err) {
    throw new UserError(`${metaPath} is not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  const bag = (
    meta as { rosbag2_bagfile_information?: { storage_identifier?: unknown; relative_file_paths?: unknown } } | null
  )?.rosbag2_bagfile_information;
  if (!bag || typeof bag !== 'object')
    throw new UserError(`${metaPath} is not rosbag2 metadata: no rosbag2_bagfile_information`);
  if (bag.storage_identifier !== 'mcap') {
    throw new UserError(
      `${path} is stored in ${String(bag.storage_identifier)}, not mcap: convert it (ros2 bag convert with storage_id mcap)`,
    );
  }
  const rel = bag.relative_file_paths;
  if (!Array.isArray(rel) || rel.length === 0 || !rel.every((f) => typeof f === 'string'))
    throw new UserError(`${metaPath}: relative_file_paths lists no files`);
  const files = (rel as string[]).map((f) => join(path, basename(f)));
  for (const f of files) await checkMcapPrefix(f);
  return files;
}

/** Fails clearly on a missing file, a ROS 1 bag, or a file that does not start with the MCAP magic bytes. */
async function checkMcapPrefix(path: string): Promise<void> {
  const head = new Uint8Array(13);
  let read = 0;
  try {
    const file = await open(path, 'r');
    try {
      read = (await file.read(head, 0, 13, 0)).bytesRead;
    } finally {
      await file.close();
    }
  } catch (err) {
    throw new UserError(`cannot read bag ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  if (new TextDecoder().decode(head.subarray(0, Math.min(read, 9))) === '#ROSBAG V') {
    throw new UserError(
      `${path} is a ROS 1 bag: daydrive reads ROS 2 bags (MCAP); convert it first (e.g. rosbags-convert --src ${basename(path)})`,
    );
  }
  if (read < 8 || !hasMcapPrefix(new DataView(head.buffer, 0, 8)))
    throw new UserError(`${path} is not a readable MCAP file: it does not start with the MCAP magic bytes`);
}

/** The top-level records of an MCAP file, read one at a time (opcode, bytes including the 9-byte header, offset). */
async function* topLevelRecords(
  file: FileHandle,
  size: number,
): AsyncGenerator<{ opcode: number; bytes: Uint8Array; offset: number } | { truncatedAt: number }> {
  let offset = MCAP_MAGIC_BYTES;
  const head = new Uint8Array(RECORD_HEADER_BYTES);
  while (offset + RECORD_HEADER_BYTES <= size) {
    await file.read(head, 0, RECORD_HEADER_BYTES, offset);
    const view = new DataView(head.buffer);
    const opcode = view.getUint8(0);
    const length = view.getBigUint64(1, true);
    if (length > BigInt(MAX_RECORD_BYTES) || offset + RECORD_HEADER_BYTES + Number(length) > size) {
      yield { truncatedAt: offset };
      return;
    }
    const bytes = new Uint8Array(RECORD_HEADER_BYTES + Number(length));
    await file.read(bytes, 0, bytes.length, offset);
    yield { opcode, bytes, offset };
    if (opcode === OPCODE_FOOTER) return;
    offset += bytes.length;
  }
  if (offset < size) yield { truncatedAt: offset };
}

/**
 * Streams the bag at `path` (directory or .mcap), calling `onFrame` for each decodable image on
 * `topic`. Errors: a path that is not a ROS 2 MCAP bag, a topic that is not in the bag (the error
 * lists the image topics), a topic of another message type.
 */
export async function readMcapImages(
  path: string,
  topic: string,
  onFrame: (frame: McapImageFrame) => Promise<void> | void,
  opts: McapImageOptions = {},
): Promise<McapImageStats> {
  const files = await bagFiles(path);
  const every = Math.max(1, Math.floor(opts.every ?? 1));
  const decompressHandlers = await loadDecompressHandlers();
  const schemas = new Map<number, McapTypes.Schema>();
  const channels = new Map<number, McapTypes.Channel>();
  const decoders = new Map<number, Decoder>();
  const readers = new Map<number, MessageReader>();
  const skippedByReason: Record<string, number> = {};
  const skippedChunks: { file: string; offset: number; bytes: number; problem: string }[] = [];
  /** Messages whose channel record was in a chunk that could not be read: kept until the summary names the channel. */
  const orphans: McapTypes.Message[] = [];
  let messages = 0;
  let frames = 0;
  let skipped = 0;
  let schemaName = '';
  let stop = false;
  let complete = true;
  let odometry: BagOdometry | null = null;
  let command: BagCommand | null = null;
  let odometryMessages = 0;
  let commandMessages = 0;

  const skip = (reason: string): void => {
    skipped++;
    skippedByReason[reason] = (skippedByReason[reason] ?? 0) + 1;
  };
  const readerFor = (channel: McapTypes.Channel): MessageReader | null => {
    let reader = readers.get(channel.id);
    if (reader === undefined) {
      const schema = schemas.get(channel.schemaId);
      if (schema === undefined || schema.encoding !== 'ros2msg' || channel.messageEncoding !== 'cdr') return null;
      reader = new MessageReader(parseMessageDefinition(new TextDecoder().decode(schema.data), { ros2: true }));
      readers.set(channel.id, reader);
    }
    return reader;
  };
  const isTopicOf = (channel: McapTypes.Channel, type: string, wanted: string | undefined): boolean =>
    wanted !== undefined ? channel.topic === wanted : schemas.get(channel.schemaId)?.name === type;

  const handleMessage = async (record: McapTypes.Message): Promise<void> => {
    const channel = channels.get(record.channelId);
    if (channel === undefined) {
      orphans.push(record);
      return;
    }
    if (channel.topic !== topic) {
      try {
        readSideTopic(channel, record);
      } catch {
        // A damaged odometry or command message: the frames keep the last good one.
      }
      return;
    }
    await handleImage(channel, record);
  };
  const readSideTopic = (channel: McapTypes.Channel, record: McapTypes.Message): void => {
    {
      if (isTopicOf(channel, BAG_TYPES.odometry, opts.odometryTopic)) {
        const msg = readerFor(channel)?.readMessage<OdometryMessage>(record.data);
        if (msg) {
          odometryMessages++;
          const p = msg.pose.pose;
          odometry = {
            stampNs: record.logTime,
            xM: p.position.x,
            yM: p.position.y,
            yawRad: yawOfQuaternion(p.orientation),
            speedMps: msg.twist.twist.linear.x,
          };
        }
      } else if (isTopicOf(channel, BAG_TYPES.ackermannStamped, opts.commandTopic)) {
        const msg = readerFor(channel)?.readMessage<AckermannStampedMessage>(record.data);
        if (msg) {
          commandMessages++;
          command = { stampNs: record.logTime, steeringRad: msg.drive.steering_angle, speedMps: msg.drive.speed };
        }
      }
    }
  };
  const handleImage = async (channel: McapTypes.Channel, record: McapTypes.Message): Promise<void> => {
    let decode = decoders.get(channel.id);
    if (decode === undefined) {
      const schema = schemas.get(channel.schemaId);
      if (schema === undefined) throw new UserError(`${path}: topic ${topic} has no schema record`);
      if (channel.messageEncoding !== 'cdr')
        throw new UserError(`topic ${topic} in ${path}: message encoding '${channel.messageEncoding}' is not cdr`);
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
    await onFrame({ image, odometry, command, logTimeNs: record.logTime, messageIndex });
    frames++;
    if (opts.maxFrames !== undefined && frames >= opts.maxFrames) stop = true;
  };

  const handle = async (record: McapTypes.TypedMcapRecord): Promise<void> => {
    if (record.type === 'Schema') schemas.set(record.id, record);
    else if (record.type === 'Channel') {
      channels.set(record.id, record);
      // Messages seen before their channel (its chunk was lost; the summary repeats it).
      if (orphans.length > 0) {
        const mine = orphans.filter((m) => m.channelId === record.id);
        if (mine.length > 0) {
          orphans.splice(0, orphans.length, ...orphans.filter((m) => m.channelId !== record.id));
          for (const m of mine) if (!stop) await handleMessage(m);
        }
      }
    } else if (record.type === 'Message') await handleMessage(record);
  };

  for (const filePath of files) {
    if (stop) break;
    const file = await open(filePath, 'r');
    try {
      const size = (await file.stat()).size;
      let sawFooter = false;
      for await (const item of topLevelRecords(file, size)) {
        if ('truncatedAt' in item) {
          complete = false;
          break;
        }
        if (item.opcode === OPCODE_FOOTER) sawFooter = true;
        // Each top-level record through its own reader, after the schemas and channels known so
        // far (the reader checks that a message's channel came first): a damaged chunk costs that chunk only.
        const reader = new McapStreamReader({ noMagicPrefix: true, decompressHandlers, validateCrcs: true });
        let parsed: McapTypes.TypedMcapRecord[] = [];
        try {
          const known = new McapRecordBuilder();
          for (const schema of schemas.values()) known.writeSchema(schema);
          for (const channel of channels.values()) known.writeChannel(channel);
          reader.append(known.buffer);
          for (let r = reader.nextRecord(); r !== undefined; r = reader.nextRecord());
          reader.append(item.bytes);
          for (let r = reader.nextRecord(); r !== undefined; r = reader.nextRecord()) parsed.push(r);
        } catch (err) {
          parsed = [];
          const problem = (err as Error).message.split('\n')[0] ?? String(err);
          skippedChunks.push({ file: filePath, offset: item.offset, bytes: item.bytes.length, problem });
          log.warn(
            {
              file: filePath,
              offset: item.offset,
              bytes: item.bytes.length,
              chunk: item.opcode === OPCODE_CHUNK,
              problem,
            },
            'skipped a record of the bag that could not be read',
          );
        }
        for (const r of parsed) {
          if (stop) break;
          await handle(r);
        }
        if (stop) break;
      }
      if (!sawFooter && !stop) complete = false;
    } finally {
      await file.close();
    }
  }
  if (messages === 0) {
    const imageTopics = [...channels.values()]
      .filter((c) => {
        const s = schemas.get(c.schemaId);
        return s !== undefined && (s.name === IMAGE_SCHEMA || s.name === COMPRESSED_IMAGE_SCHEMA);
      })
      .map((c) => c.topic);
    const lost =
      skippedChunks.length > 0
        ? ` (${skippedChunks.length} unreadable chunk${skippedChunks.length === 1 ? '' : 's'} skipped)`
        : '';
    throw new UserError(
      `no messages on topic ${topic} in ${path}${lost}; image topics in the bag: ${imageTopics.length > 0 ? imageTopics.join(', ') : 'none'}`,
    );
  }
  return {
    messages,
    frames,
    skipped,
    skippedByReason,
    complete,
    schema: schemaName,
    skippedChunks,
    files,
    odometryMessages,
    commandMessages,
  };
}
