import { performance } from 'node:perf_hooks';
import type { DrivingObservation, ModelInputSpec, RgbImage } from '../core/env.js';
import { oneLine } from '../core/errors.js';
import { log } from '../core/logger.js';
import {
  BadImageError,
  checkRawImage,
  decodeCompressedImage,
  modelInputFromCompressed,
  preprocessRawImage,
  rawImageToRgb,
  type BadImageProblem,
} from '../vision/preprocess.js';
import { timeMsgToMs } from './messages.js';
import type { CompressedImageMsg, HeaderMsg, ImageMsg } from './rclnodejs-types.js';

/**
 * Camera messages -> the newest usable frame, as the agent reads it. Where the agent computes its
 * state from a model input (`modelInput`: the VAE's crop and size), the frame is made that input
 * straight from the message, with no full-size RGB image in between (a 0.9 MB buffer per 640x480
 * frame, whose garbage set off a major collection every second or so): a JPEG is decoded, cropped
 * and resized in one sharp call (modelInputFromCompressed), an 8-bit RGB, BGR or mono image is read by
 * sharp from the message's own buffer (preprocessRawImage). Without `modelInput` (a controller
 * that reads camera images) the frame is RGB.
 *
 * Raw images are checked in the subscription callback (encoding, size; no copy) and converted
 * only when a policy step reads the frame (`read()`, once per frame), so a 30 Hz camera under a
 * 10 Hz policy costs one conversion per command, not three; JPEG/PNG are decoded by sharp off the
 * JS thread with at most one decode in flight and one message waiting (a newer message replaces
 * the waiting one), so a camera faster than the node never builds a queue. Every unusable frame
 * is dropped and counted by problem; the policy tick reads `newest` and asks `health` whether it
 * may drive.
 */

/** What the agent reads of a frame: a camera image, or the model input with an empty image. */
export type FrameContent = Pick<DrivingObservation, 'image' | 'modelInput'>;

/** The image of a frame sent as model input (DrivingObservation: the world may send 0x0). */
const NO_IMAGE: RgbImage = { width: 0, height: 0, data: new Uint8Array(0) };

export interface Frame {
  /** The frame as the agent reads it: converted on the first call (raw images), then the same. */
  read(): Promise<FrameContent>;
  /** Header stamp in ms of the ROS clock, or the arrival time when the stamp is zero. */
  readonly stampMs: number;
  /** performance.now() when the message arrived (for the latency figures). */
  readonly arrivedAtMs: number;
  /**
   * Time spent turning the message into RGB, ms: the decode itself, not the wait for an earlier
   * decode to finish (that wait is part of the frame's age, not of the node's work); for a raw
   * image the check on arrival plus the conversion once image() has run.
   */
  readonly decodeMs: number;
}

/** A raw frame: checked on arrival, converted on the first read() call. */
class RawFrame implements Frame {
  private content: Promise<FrameContent> | null = null;
  private convertMs = 0;

  constructor(
    private msg: ImageMsg | null,
    readonly stampMs: number,
    readonly arrivedAtMs: number,
    private readonly checkMs: number,
    private readonly modelInput: ModelInputSpec | undefined,
  ) {}

  read(): Promise<FrameContent> {
    if (this.content === null) {
      const msg = this.msg!;
      this.msg = null; // the message's buffer can go once converted
      this.content = this.convert(msg);
    }
    return this.content;
  }

  private async convert(msg: ImageMsg): Promise<FrameContent> {
    const t0 = performance.now();
    const spec = this.modelInput;
    const content: FrameContent = spec
      ? { image: NO_IMAGE, modelInput: { ...spec, data: await preprocessRawImage(msg, spec) } }
      : { image: rawImageToRgb(msg) };
    this.convertMs = performance.now() - t0;
    return content;
  }

  get decodeMs(): number {
    return this.checkMs + this.convertMs;
  }
}

export interface FrameStoreOptions {
  /** Expected size; 0 = any. */
  readonly expectedWidthPx: number;
  readonly expectedHeightPx: number;
  readonly maxFrameAgeMs: number;
  readonly maxConsecutiveBad: number;
  /** The ROS clock, ms (the node's clock: sim time where /clock is used). */
  readonly clockMs: () => number;
  /** Called when a usable frame has become the newest (policy_trigger 'frame'). */
  readonly onFrame?: () => void;
  /** Make each frame this model input (the agent's crop and size) instead of an RGB image. */
  readonly modelInput?: ModelInputSpec | undefined;
}

/** Why the camera cannot be driven on, or null. */
export type CameraFault = 'no-frames' | 'stale-camera' | 'bad-frames';

export interface CameraHealth {
  readonly fault: CameraFault | null;
  /** Age of the newest usable frame, ms (Infinity when there is none). */
  readonly ageMs: number;
  readonly detail: string;
}

export interface FrameCounts {
  readonly received: number;
  readonly used: number;
  readonly bad: number;
  readonly consecutiveBad: number;
  /** Compressed messages replaced by a newer one before they were decoded. */
  readonly superseded: number;
  readonly badByProblem: Readonly<Partial<Record<BadImageProblem, number>>>;
  readonly lastBad: string | null;
}

interface Pending {
  readonly msg: CompressedImageMsg;
  readonly arrivedAtMs: number;
  readonly receivedClockMs: number;
}

export class FrameStore {
  private newestFrame: Frame | null = null;
  private received = 0;
  private used = 0;
  private bad = 0;
  private consecutiveBad = 0;
  private superseded = 0;
  private readonly badByProblem: Partial<Record<BadImageProblem, number>> = {};
  private lastBad: string | null = null;
  private decoding: Promise<void> | null = null;
  private waiting: Pending | null = null;

  constructor(private readonly opts: FrameStoreOptions) {}

  get newest(): Frame | null {
    return this.newestFrame;
  }

  get counts(): FrameCounts {
    return {
      received: this.received,
      used: this.used,
      bad: this.bad,
      consecutiveBad: this.consecutiveBad,
      superseded: this.superseded,
      badByProblem: { ...this.badByProblem },
      lastBad: this.lastBad,
    };
  }

  /** sensor_msgs/msg/Image: checked at once, converted when a step reads it. */
  onRaw(msg: ImageMsg): void {
    const arrivedAtMs = performance.now();
    const receivedClockMs = this.opts.clockMs();
    this.received += 1;
    try {
      checkRawImage(msg);
      if (!this.sizeOk(msg.width, msg.height)) return;
      this.accept(
        new RawFrame(
          msg,
          this.stampOf(msg.header, receivedClockMs),
          arrivedAtMs,
          performance.now() - arrivedAtMs,
          this.opts.modelInput,
        ),
      );
    } catch (err) {
      this.reject(err);
    }
  }

  /** sensor_msgs/msg/CompressedImage, decoded in the background (one at a time, newest wins). */
  onCompressed(msg: CompressedImageMsg): void {
    this.received += 1;
    const pending: Pending = { msg, arrivedAtMs: performance.now(), receivedClockMs: this.opts.clockMs() };
    if (this.decoding) {
      if (this.waiting) this.superseded += 1;
      this.waiting = pending;
      return;
    }
    this.decoding = this.decodeLoop(pending);
  }

  /** Resolves when no decode is in flight (tests and the benchmark). */
  async settled(): Promise<void> {
    while (this.decoding) await this.decoding;
  }

  health(nowMs: number): CameraHealth {
    if (this.consecutiveBad >= this.opts.maxConsecutiveBad) {
      return {
        fault: 'bad-frames',
        ageMs: this.ageMs(nowMs),
        detail: `${this.consecutiveBad} bad frames in a row (last: ${this.lastBad ?? '?'})`,
      };
    }
    if (!this.newestFrame) return { fault: 'no-frames', ageMs: Infinity, detail: 'no usable camera frame yet' };
    const ageMs = this.ageMs(nowMs);
    if (ageMs > this.opts.maxFrameAgeMs) {
      return {
        fault: 'stale-camera',
        ageMs,
        detail: `newest frame is ${Math.round(ageMs)} ms old (limit ${this.opts.maxFrameAgeMs} ms)`,
      };
    }
    return { fault: null, ageMs, detail: 'ok' };
  }

  /** Counts the newest frame as used by a policy step. */
  markUsed(): void {
    this.used += 1;
  }

  private ageMs(nowMs: number): number {
    return this.newestFrame ? nowMs - this.newestFrame.stampMs : Infinity;
  }

  private async decodeLoop(first: Pending): Promise<void> {
    let next: Pending | null = first;
    while (next) {
      const { msg, arrivedAtMs, receivedClockMs } = next;
      const decodeStartMs = performance.now();
      try {
        const what = `compressed image (format '${msg.format}')`;
        const spec = this.opts.modelInput;
        let size: { readonly width: number; readonly height: number };
        let content: FrameContent;
        if (spec) {
          const { frame, source } = await modelInputFromCompressed(msg.data, spec, what);
          size = source;
          content = { image: NO_IMAGE, modelInput: frame };
        } else {
          content = { image: await decodeCompressedImage(msg.data, what) };
          size = content.image;
        }
        if (this.sizeOk(size.width, size.height)) {
          const decodeMs = performance.now() - decodeStartMs;
          const ready = Promise.resolve(content);
          this.accept({ read: () => ready, stampMs: this.stampOf(msg.header, receivedClockMs), arrivedAtMs, decodeMs });
        }
      } catch (err) {
        this.reject(err);
      }
      next = this.waiting;
      this.waiting = null;
    }
    this.decoding = null;
  }

  /** Whether the frame has the expected size; else it is rejected as bad. */
  private sizeOk(widthPx: number, heightPx: number): boolean {
    const { expectedWidthPx: w, expectedHeightPx: h } = this.opts;
    if (w === 0 || (widthPx === w && heightPx === h)) return true;
    this.reject(
      new BadImageError(
        'size-mismatch',
        `frame is ${widthPx}x${heightPx}, expected ${w}x${h} (camera_width_px/camera_height_px)`,
      ),
    );
    return false;
  }

  /** The header stamp, or the arrival on the node's clock when the stamp is zero. */
  private stampOf(header: HeaderMsg, receivedClockMs: number): number {
    const stampMs = timeMsgToMs(header.stamp);
    return stampMs > 0 ? stampMs : receivedClockMs;
  }

  private accept(frame: Frame): void {
    this.newestFrame = frame;
    this.consecutiveBad = 0;
    this.opts.onFrame?.();
  }

  private reject(err: unknown): void {
    // Anything but a BadImageError is a bug: logged with its stack, but the frame is still
    // counted as unusable so that the node stops the car instead of dying in a callback.
    const problem: BadImageProblem = err instanceof BadImageError ? err.problem : 'unreadable';
    if (!(err instanceof BadImageError)) log.error({ err }, 'unexpected error while reading a camera frame');
    this.bad += 1;
    this.consecutiveBad += 1;
    this.badByProblem[problem] = (this.badByProblem[problem] ?? 0) + 1;
    this.lastBad = oneLine(err);
  }
}
