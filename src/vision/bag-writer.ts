import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { McapWriter, type IWritable } from '@mcap/core';
import { parse as parseMessageDefinition } from '@foxglove/rosmsg';
import { MessageWriter } from '@foxglove/rosmsg2-serialization';
import * as zstd from '@foxglove/wasm-zstd';
import sharp from 'sharp';
import { stringify as toYaml } from 'yaml';
import type { RgbImage } from '../core/env.js';
import { writeFileSafely } from '../core/files.js';
import {
  BAG_TOPICS,
  BAG_TYPES,
  MESSAGE_DEFINITIONS,
  stampOf,
  type AckermannStampedMessage,
  type OdometryMessage,
} from './ros-schemas.js';

/**
 * Writes what a car records as `ros2 bag record -s mcap` does: a directory with `metadata.yaml`
 * (rosbag2 bag information, version 5 as Humble writes it) and one `<name>_0.mcap` (profile ros2,
 * ros2msg schemas, CDR messages, zstd-compressed chunks as libmcap's default). Topics: the camera
 * as sensor_msgs/msg/CompressedImage (JPEG), odometry as nav_msgs/msg/Odometry, the driver's
 * commands as ackermann_msgs/msg/AckermannDriveStamped. Call `finish()` to write the summary
 * and the metadata; the caller writes into a directory it renames into place when complete.
 */

/** QoS of a reliable, volatile publisher, as rosbag2 stores offered_qos_profiles (a YAML string). */
const RELIABLE_QOS =
  '- history: 3\n  depth: 0\n  reliability: 1\n  durability: 2\n  deadline:\n    sec: 9223372036\n    nsec: 854775807\n  lifespan:\n    sec: 9223372036\n    nsec: 854775807\n  liveliness: 1\n  liveliness_lease_duration:\n    sec: 9223372036\n    nsec: 854775807\n  avoid_ros_namespace_conventions: false';

/** libmcap's default chunk size (768 KiB). */
export const DEFAULT_CHUNK_BYTES = 768 * 1024;

class FileWritable implements IWritable {
  private offset = 0n;
  constructor(private readonly file: FileHandle) {}
  position(): bigint {
    return this.offset;
  }
  async write(buffer: Uint8Array): Promise<void> {
    await this.file.write(buffer);
    this.offset += BigInt(buffer.byteLength);
  }
}

interface TopicState {
  readonly name: string;
  readonly type: string;
  readonly channelId: number;
  readonly writer: MessageWriter;
  count: number;
}

export interface BagWriterOptions {
  /** Base name of the .mcap file (default: the directory's name, as ros2 bag record names it). */
  readonly name: string;
  readonly chunkBytes?: number;
  readonly frameId?: string;
}

export class BagWriter {
  private topics = new Map<string, TopicState>();
  private sequence = 0;
  private firstNs: bigint | null = null;
  private lastNs = 0n;
  private closed = false;

  private constructor(
    private readonly dir: string,
    private readonly file: FileHandle,
    private readonly mcap: McapWriter,
    private readonly fileName: string,
    private readonly frameId: string,
  ) {}

  static async create(dir: string, opts: BagWriterOptions): Promise<BagWriter> {
    await zstd.isLoaded;
    const fileName = `${opts.name}_0.mcap`;
    const file = await open(join(dir, fileName), 'wx');
    const mcap = new McapWriter({
      writable: new FileWritable(file),
      chunkSize: opts.chunkBytes ?? DEFAULT_CHUNK_BYTES,
      compressChunk: (data) => ({ compression: 'zstd', compressedData: zstd.compress(data) }),
    });
    await mcap.start({ profile: 'ros2', library: 'daydrive' });
    const bag = new BagWriter(dir, file, mcap, fileName, opts.frameId ?? 'base_link');
    for (const [topic, type] of [
      [BAG_TOPICS.camera, BAG_TYPES.compressedImage],
      [BAG_TOPICS.odometry, BAG_TYPES.odometry],
      [BAG_TOPICS.command, BAG_TYPES.ackermannStamped],
    ] as const) {
      const text = MESSAGE_DEFINITIONS[type]!;
      const schemaId = await mcap.registerSchema({
        name: type,
        encoding: 'ros2msg',
        data: new TextEncoder().encode(text),
      });
      const channelId = await mcap.registerChannel({
        topic,
        schemaId,
        messageEncoding: 'cdr',
        metadata: new Map([['offered_qos_profiles', RELIABLE_QOS]]),
      });
      bag.topics.set(topic, {
        name: topic,
        type,
        channelId,
        writer: new MessageWriter(parseMessageDefinition(text, { ros2: true })),
        count: 0,
      });
    }
    return bag;
  }

  private async add(topic: string, stampNs: bigint, message: unknown): Promise<void> {
    const t = this.topics.get(topic)!;
    const data = t.writer.writeMessage(message);
    await this.mcap.addMessage({
      channelId: t.channelId,
      sequence: this.sequence++,
      logTime: stampNs,
      publishTime: stampNs,
      data,
    });
    t.count++;
    this.firstNs ??= stampNs;
    if (stampNs > this.lastNs) this.lastNs = stampNs;
  }

  /** A camera frame, JPEG-encoded as image_transport's compressed plugin does (quality 90). */
  async addImage(stampNs: bigint, image: RgbImage, quality = 90): Promise<void> {
    const jpeg = await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
      .jpeg({ quality })
      .toBuffer();
    await this.add(BAG_TOPICS.camera, stampNs, {
      header: { stamp: stampOf(stampNs), frame_id: 'camera' },
      format: 'rgb8; jpeg compressed bgr8',
      data: new Uint8Array(jpeg),
    });
  }

  /** Wheel odometry: planar pose in the odom frame, forward speed and yaw rate. */
  async addOdometry(
    stampNs: bigint,
    xM: number,
    yM: number,
    yawRad: number,
    speedMps: number,
    yawRateRadPerS: number,
  ): Promise<void> {
    const zero36 = new Float64Array(36);
    const msg: OdometryMessage = {
      header: { stamp: stampOf(stampNs), frame_id: 'odom' },
      child_frame_id: this.frameId,
      pose: {
        pose: {
          position: { x: xM, y: yM, z: 0 },
          orientation: { x: 0, y: 0, z: Math.sin(yawRad / 2), w: Math.cos(yawRad / 2) },
        },
        covariance: zero36,
      },
      twist: {
        twist: { linear: { x: speedMps, y: 0, z: 0 }, angular: { x: 0, y: 0, z: yawRateRadPerS } },
        covariance: zero36,
      },
    };
    await this.add(BAG_TOPICS.odometry, stampNs, msg);
  }

  /** The driver's command (steering angle, radians, + = left; speed set-point, m/s). */
  async addCommand(stampNs: bigint, steeringRad: number, speedMps: number): Promise<void> {
    const msg: AckermannStampedMessage = {
      header: { stamp: stampOf(stampNs), frame_id: this.frameId },
      drive: { steering_angle: steeringRad, steering_angle_velocity: 0, speed: speedMps, acceleration: 0, jerk: 0 },
    };
    await this.add(BAG_TOPICS.command, stampNs, msg);
  }

  /** Writes the MCAP summary and footer, closes the file and writes metadata.yaml. */
  async finish(): Promise<{ messages: number; path: string }> {
    if (this.closed) throw new Error('bag already finished');
    this.closed = true;
    await this.mcap.end();
    await this.file.close();
    const start = this.firstNs ?? 0n;
    const duration = this.lastNs - start;
    const messages = [...this.topics.values()].reduce((s, t) => s + t.count, 0);
    const info = {
      rosbag2_bagfile_information: {
        version: 5,
        storage_identifier: 'mcap',
        duration: { nanoseconds: duration },
        starting_time: { nanoseconds_since_epoch: start },
        message_count: messages,
        topics_with_message_count: [...this.topics.values()].map((t) => ({
          topic_metadata: {
            name: t.name,
            type: t.type,
            serialization_format: 'cdr',
            offered_qos_profiles: RELIABLE_QOS,
          },
          message_count: t.count,
        })),
        compression_format: '',
        compression_mode: '',
        relative_file_paths: [this.fileName],
        files: [
          {
            path: this.fileName,
            starting_time: { nanoseconds_since_epoch: start },
            duration: { nanoseconds: duration },
            message_count: messages,
          },
        ],
      },
    };
    // Nanoseconds since the epoch exceed 2^53: BigInts, written exactly.
    await writeFileSafely(join(this.dir, 'metadata.yaml'), toYaml(info));
    return { messages, path: join(this.dir, this.fileName) };
  }
}
