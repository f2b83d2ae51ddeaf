/**
 * The camera messages as daydrive reads them, one shape for every source: rclnodejs delivers them
 * so (src/ros), a bag's CDR decodes to them (src/vision/mcap.ts), and the converters take them
 * (src/vision/raw-encodings.ts). Field names as in the .msg files, `uint8[]` as Uint8Array,
 * builtin times as {sec, nanosec}.
 */

/** builtin_interfaces/msg/Time */
export interface TimeMsg {
  readonly sec: number;
  readonly nanosec: number;
}

/** std_msgs/msg/Header */
export interface HeaderMsg {
  readonly stamp: TimeMsg;
  readonly frame_id: string;
}

/** sensor_msgs/msg/Image */
export interface ImageMsg {
  readonly header: HeaderMsg;
  readonly height: number;
  readonly width: number;
  readonly encoding: string;
  /** 1 when 16-bit samples are big-endian. */
  readonly is_bigendian: number;
  /** Row stride, bytes. */
  readonly step: number;
  readonly data: Uint8Array;
}

/** sensor_msgs/msg/CompressedImage */
export interface CompressedImageMsg {
  readonly header: HeaderMsg;
  /** 'jpeg', 'png', or image_transport's "rgb8; jpeg compressed bgr8". */
  readonly format: string;
  readonly data: Uint8Array;
}

/** The part of an ImageMsg the pixel converters read (a missing is_bigendian: little-endian). */
export type RawImageMessage = Pick<ImageMsg, 'encoding' | 'width' | 'height' | 'step' | 'data'> &
  Partial<Pick<ImageMsg, 'is_bigendian'>>;
