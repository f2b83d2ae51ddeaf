/**
 * Test helpers for the drive node: camera messages as camera drivers publish them, a scripted
 * controller (the DriveController interface around the real task state machine), and a harness
 * that wires a DriveNode to the rclnodejs stand-in.
 */
import { constants as perfConstants, type PerformanceEntry } from 'node:perf_hooks';
import sharp from 'sharp';
import type { DrivingObservation, RgbImage } from '../../src/core/env.js';
import {
  TaskStateMachine,
  type DriveController,
  type DrivingAgent,
  type EpisodeMode,
  type TaskCommand,
  type TaskState,
  type TaskStep,
} from '../../src/agent/index.js';
import type { ImageEncoder } from '../../src/vision/types.js';
import { nsToTimeMsg } from '../../src/ros/messages.js';
import { DriveNode, type DriveNodeOptions } from '../../src/ros/node.js';
import { declareDriveParams, type DriveParams } from '../../src/ros/params.js';
import type {
  AckermannDriveStampedMsg,
  CompressedImageMsg,
  ImageMsg,
  OdometryMsg,
  StringMsg,
} from '../../src/ros/rclnodejs-types.js';
import { FakeRcl, type ClockMode, type FakeNode } from './fake-rclnodejs.js';

/** The raw encodings the node accepts (src/vision/raw-encodings.ts), as camera drivers publish them. */
export type RawEncoding =
  | 'rgb8'
  | 'bgr8'
  | 'rgba8'
  | 'bgra8'
  | 'mono8'
  | 'rgb16'
  | 'bgr16'
  | 'rgba16'
  | 'bgra16'
  | 'mono16'
  | 'bayer_rggb8'
  | 'bayer_bggr8'
  | 'bayer_gbrg8'
  | 'bayer_grbg8'
  | 'yuv422'
  | 'yuv422_yuy2';

export const RAW_TEST_ENCODINGS: readonly RawEncoding[] = [
  'rgb8',
  'bgr8',
  'rgba8',
  'bgra8',
  'mono8',
  'rgb16',
  'bgr16',
  'rgba16',
  'bgra16',
  'mono16',
  'bayer_rggb8',
  'bayer_bggr8',
  'bayer_gbrg8',
  'bayer_grbg8',
  'yuv422',
  'yuv422_yuy2',
];

/**
 * A packed RGB image as a sensor_msgs/Image in `encoding` (written independently of the node's
 * converter: the camera's side), rows padded by `padBytes`. 16-bit samples are v * 257 (v in
 * the high and the low byte), in the byte order `bigEndian` says; Bayer keeps each pixel's own
 * colour at its site; YUV 4:2:2 is BT.601 video range with the chroma of each pixel pair's first.
 */
export function rawImageMsg(
  image: RgbImage,
  stampNs: bigint,
  encoding: RawEncoding = 'rgb8',
  padBytes = 0,
  bigEndian = false,
): ImageMsg {
  const { width, height } = image;
  const px = (x: number, y: number): [number, number, number] => {
    const i = (y * width + x) * 3;
    return [image.data[i]!, image.data[i + 1]!, image.data[i + 2]!];
  };
  const mono = (r: number, g: number, b: number): number => Math.round((r + g + b) / 3);
  let bpp: number;
  let write: (out: Uint8Array, o: number, x: number, y: number) => void;
  if (encoding.startsWith('bayer_')) {
    const pattern = encoding.slice(6, 10);
    bpp = 1;
    write = (out, o, x, y) => {
      const channel = 'rgb'.indexOf(pattern[(y % 2) * 2 + (x % 2)]!);
      out[o] = px(x, y)[channel]!;
    };
  } else if (encoding === 'yuv422' || encoding === 'yuv422_yuy2') {
    bpp = 2;
    const uyvy = encoding === 'yuv422';
    const luma = (r: number, g: number, b: number): number => Math.round(16 + 0.257 * r + 0.504 * g + 0.098 * b);
    write = (out, o, x, y) => {
      const [r, g, b] = px(x, y);
      const [r0, g0, b0] = px(x - (x % 2), y);
      const chroma =
        x % 2 === 0
          ? Math.round(128 - 0.148 * r0 - 0.291 * g0 + 0.439 * b0)
          : Math.round(128 + 0.439 * r0 - 0.368 * g0 - 0.071 * b0);
      out[o + (uyvy ? 1 : 0)] = luma(r, g, b);
      out[o + (uyvy ? 0 : 1)] = chroma;
    };
  } else {
    const sixteen = encoding.endsWith('16');
    const channels = encoding.startsWith('mono')
      ? 1
      : encoding.startsWith('rgba') || encoding.startsWith('bgra')
        ? 4
        : 3;
    const bgr = encoding.startsWith('bgr');
    bpp = channels * (sixteen ? 2 : 1);
    write = (out, o, x, y) => {
      const [r, g, b] = px(x, y);
      const values = channels === 1 ? [mono(r, g, b)] : [bgr ? b : r, g, bgr ? r : b, 255].slice(0, channels);
      values.forEach((v, c) => {
        if (!sixteen) out[o + c] = v;
        else {
          const word = v * 257;
          out[o + 2 * c + (bigEndian ? 0 : 1)] = word >> 8;
          out[o + 2 * c + (bigEndian ? 1 : 0)] = word & 0xff;
        }
      });
    };
  }
  const step = width * bpp + padBytes;
  const data = new Uint8Array(step * height);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) write(data, y * step + x * bpp, x, y);
  return {
    header: { stamp: nsToTimeMsg(stampNs), frame_id: 'camera' },
    height,
    width,
    encoding,
    is_bigendian: bigEndian ? 1 : 0,
    step,
    data,
  };
}

/** A test image of flat 2x2 blocks (Bayer and YUV 4:2:2 then convert it exactly, up to rounding). */
export function blockImage(width: number, height: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const bx = x >> 1;
      const by = y >> 1;
      const i = (y * width + x) * 3;
      data[i] = ((37 * bx + 11 * by + 20) % 236) + 16;
      data[i + 1] = ((53 * by + 7 * bx + 90) % 220) + 16;
      data[i + 2] = ((29 * (bx + by) + 150) % 220) + 16;
    }
  }
  return { width, height, data };
}

export async function jpegBytes(image: RgbImage, quality = 90): Promise<Uint8Array> {
  const buf = await sharp(Buffer.from(image.data), { raw: { width: image.width, height: image.height, channels: 3 } })
    .jpeg({ quality })
    .toBuffer();
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

/**
 * Whether a `gc` performance entry is a collection asked for (the node's collect_garbage_on_takeover,
 * `gc()`), not one V8 started by itself: V8 marks those forced.
 */
export function isRequestedCollection(entry: PerformanceEntry): boolean {
  const flags = (entry as { detail?: { flags?: number } }).detail?.flags ?? 0;
  return (flags & perfConstants.NODE_PERFORMANCE_GC_FLAGS_FORCED) !== 0;
}

export function compressedMsg(bytes: Uint8Array, stampNs: bigint, format = 'jpeg'): CompressedImageMsg {
  return { header: { stamp: nsToTimeMsg(stampNs), frame_id: 'camera' }, format, data: bytes };
}

export function odometryMsg(speedMps: number, stampNs: bigint): OdometryMsg {
  return {
    header: { stamp: nsToTimeMsg(stampNs), frame_id: 'odom' },
    twist: { twist: { linear: { x: speedMps, y: 0, z: 0 }, angular: { x: 0, y: 0, z: 0 } } },
  };
}

/** A grey test frame with a gradient (any content will do for a scripted controller). */
export function testImage(width: number, height: number, shade = 100): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < data.length; i++) data[i] = (shade + (i % 97)) & 0xff;
  return { width, height, data };
}

/**
 * A stand-in for the VAE: mean colours over a grid of image cells (3 values per cell), as many as
 * `latentSize` asks for. The learner then has the real state size (latent + speed + steering)
 * without the cost of the real encoder: tests of the node's scheduling, not of the VAE.
 */
export function gridMeanEncoder(latentSize = 12): ImageEncoder {
  const cells = Math.ceil(latentSize / 3);
  const cols = Math.ceil(Math.sqrt(cells));
  const rows = Math.ceil(cells / cols);
  return {
    latentSize,
    inputWidth: 16,
    inputHeight: 12,
    async encode(image: RgbImage): Promise<Float32Array> {
      const sums = new Float32Array(rows * cols * 3);
      const counts = new Float32Array(rows * cols);
      for (let y = 0; y < image.height; y += 4) {
        for (let x = 0; x < image.width; x += 4) {
          const cell = Math.floor((y * rows) / image.height) * cols + Math.floor((x * cols) / image.width);
          counts[cell]! += 1;
          for (let c = 0; c < 3; c++) sums[cell * 3 + c]! += image.data[(y * image.width + x) * 3 + c]! / 255;
        }
      }
      const out = new Float32Array(latentSize);
      for (let i = 0; i < latentSize; i++) out[i] = sums[i]! / Math.max(1, counts[Math.floor(i / 3)]!);
      return out;
    },
    dispose() {},
  };
}

/**
 * A controller that acts from a script (a function of the observation) around the real task
 * state machine: what the node needs from the learning agent, without learning.
 */
export class ScriptedController implements DriveController {
  readonly task = new TaskStateMachine(0);
  readonly observed: { reward: number; terminated: boolean }[] = [];
  optimiseCalls = 0;
  begins = 0;
  private last: DrivingObservation | null = null;
  /** Resolves the optimisation when called (tests hold it to give commands meanwhile). */
  optimiseGate: Promise<void> = Promise.resolve();

  constructor(public policy: (obs: DrivingObservation) => ArrayLike<number>) {}

  get taskState(): TaskState {
    return this.task.state;
  }

  get optimisationDue(): boolean {
    return this.task.state.phase === 'optimising';
  }

  command(command: TaskCommand): TaskStep {
    return this.task.dispatch({ kind: 'command', command });
  }

  async begin(obs: DrivingObservation): Promise<EpisodeMode> {
    this.begins += 1;
    this.last = obs;
    return this.task.state.mode!;
  }

  act(): Float32Array {
    return Float32Array.from(this.policy(this.last!));
  }

  /** Awaited inside observe() (tests hold it to act while the node encodes a state). */
  observeGate: Promise<void> = Promise.resolve();

  async observe(reward: number, next: DrivingObservation, terminated: boolean): Promise<void> {
    await this.observeGate;
    this.observed.push({ reward, terminated });
    this.last = next;
  }

  endEpisode(): void {
    this.task.dispatch({ kind: 'episode-ended' });
  }

  async optimise(): Promise<{ next: TaskStep }> {
    this.optimiseCalls += 1;
    await this.optimiseGate;
    return { next: this.task.dispatch({ kind: 'optimisation-finished' }) };
  }
}

/**
 * The learning agent as the node's controller, with its optimise() wrapped (the options changed,
 * progress observed): what tests and the benchmark measure goes through the agent's own path.
 * `readsImages` hides the agent's model input, so that the node hands it full RGB camera images
 * (the path before the node made the model input itself: the benchmark's comparison).
 */
export function withOptimise(
  agent: DrivingAgent,
  optimise: DriveController['optimise'],
  readsImages = false,
): DriveController {
  return {
    get taskState() {
      return agent.taskState;
    },
    get optimisationDue() {
      return agent.optimisationDue;
    },
    modelInput: readsImages ? undefined : agent.modelInput,
    command: (command) => agent.command(command),
    begin: (obs) => agent.begin(obs),
    act: () => agent.act(),
    observe: (reward, next, terminated) => agent.observe(reward, next, terminated),
    endEpisode: () => agent.endEpisode(),
    optimise,
  };
}

export interface Harness {
  readonly rcl: FakeRcl;
  readonly ros: FakeNode;
  readonly params: DriveParams;
  readonly drive: DriveNode;
  /** Ackermann commands published so far. */
  commands(): AckermannDriveStampedMsg[];
  /** Episode reports published so far. */
  episodes(): Record<string, unknown>[];
  nowNs(): bigint;
  /**
   * The safety driver's signal (true: the driver has the car), delivered now and then every
   * 100 ms of the node's clock, as a driver's system publishes it (the node's heartbeat).
   */
  driver(hasControl: boolean): void;
}

export function makeHarness(
  controller: DriveController,
  overrides: Record<string, unknown> = {},
  clock: ClockMode = 'manual',
  nodeOptions: Pick<DriveNodeOptions, 'onLatency' | 'learnerLink'> = {},
): Harness {
  const rcl = new FakeRcl({ clock });
  const ros = new rcl.Node('daydrive');
  // The overrides as resolveParameterOverrides gives them (from params files and -p rules).
  const params = declareDriveParams(rcl, ros, new Map(Object.entries({ latency_log_period_s: 0, ...overrides })));
  const drive = new DriveNode({ rcl, node: ros, params, controller, ...nodeOptions });
  drive.start();
  let driverHasControl: boolean | null = null;
  const sendDriver = (): void => {
    if (driverHasControl !== null) ros.deliver(params.safety_driver_topic, { data: driverHasControl });
  };
  // After the node's own timers: ros.timers[0] stays the policy timer. Stops with the node.
  const driverTimer = ros.createTimer(100_000_000n, sendDriver);
  void drive.finished.then(() => driverTimer.cancel());
  return {
    rcl,
    ros,
    params,
    drive,
    commands: () => ros.published<AckermannDriveStampedMsg>(params.command_topic),
    episodes: () =>
      ros.published<StringMsg>(params.episodes_topic).map((m) => JSON.parse(m.data) as Record<string, unknown>),
    nowNs: () => ros.now().nanoseconds,
    driver: (hasControl) => {
      driverHasControl = hasControl;
      sendDriver();
    },
  };
}
