import { Packr } from 'msgpackr';
import type { z } from 'zod';
import {
  downlinkHeaderSchema,
  PROTOCOL_VERSION,
  uplinkHeaderSchema,
  type DownlinkHeader,
  type TransitionsHeader,
  type UplinkHeader,
  type WeightsHeader,
} from './protocol.js';

/**
 * Messages to and from ZeroMQ frames: a msgpack header, then raw typed-array frames. Decoding
 * never throws: it returns why a message is refused (not msgpack, wrong version, a header that
 * fails its schema, missing or mis-sized frames), and the receiver drops and counts it.
 */

// moreTypes: typed arrays inside a header would come back typed (they are sent as frames anyway).
const packr = new Packr({ moreTypes: true, useRecords: false });

export type Frame = Buffer;
export type Decoded<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string };

/** A batch of transitions of one actor, column by column (the five data frames of a 'transitions' message). */
export interface TransitionBatch {
  readonly actorId: number;
  readonly seq: number;
  readonly count: number;
  readonly stateSize: number;
  readonly actionSize: number;
  readonly states: Float32Array;
  readonly actions: Float32Array;
  readonly rewards: Float64Array;
  readonly nextStates: Float32Array;
  readonly terminated: Uint8Array;
}

export interface WeightsMessage {
  readonly header: WeightsHeader;
  readonly weights: Float32Array;
}

export type UplinkMessage =
  | { readonly header: Exclude<UplinkHeader, TransitionsHeader> }
  | { readonly header: TransitionsHeader; readonly batch: TransitionBatch };
export type DownlinkMessage = { readonly header: Exclude<DownlinkHeader, WeightsHeader> } | WeightsMessage;

/** A frame over the bytes of `array` (no copy: the array must not change until sent). */
export function frameOf(array: ArrayBufferView): Frame {
  return Buffer.from(array.buffer, array.byteOffset, array.byteLength);
}

export function encodeHeader(header: Record<string, unknown>): Frame {
  return packr.pack(header);
}

export function encodeTransitions(batch: TransitionBatch): Frame[] {
  const header: TransitionsHeader = {
    v: PROTOCOL_VERSION,
    kind: 'transitions',
    actorId: batch.actorId,
    seq: batch.seq,
    count: batch.count,
    stateSize: batch.stateSize,
    actionSize: batch.actionSize,
  };
  return [
    encodeHeader(header),
    frameOf(batch.states),
    frameOf(batch.actions),
    frameOf(batch.rewards),
    frameOf(batch.nextStates),
    frameOf(batch.terminated),
  ];
}

export function encodeWeights(header: WeightsHeader, weights: Float32Array): Frame[] {
  return [encodeHeader(header), frameOf(weights)];
}

type TypedArrayClass<T> = {
  new (buffer: ArrayBufferLike, byteOffset: number, length: number): T;
  readonly BYTES_PER_ELEMENT: number;
};

/**
 * The frame as a typed array of `length` elements, or null when its size differs (truncated or
 * padded). A view when the frame is aligned for the element size, else an aligned copy.
 */
function typedFrame<T>(frame: Frame | undefined, Type: TypedArrayClass<T>, length: number): T | null {
  if (!frame || frame.byteLength !== length * Type.BYTES_PER_ELEMENT) return null;
  if (frame.byteOffset % Type.BYTES_PER_ELEMENT === 0) return new Type(frame.buffer, frame.byteOffset, length);
  const copy = new ArrayBuffer(frame.byteLength);
  new Uint8Array(copy).set(frame);
  return new Type(copy, 0, length);
}

function decodeHeader<S extends z.ZodType>(frame: Frame | undefined, schema: S): Decoded<z.output<S>> {
  if (!frame) return { ok: false, reason: 'empty message' };
  let raw: unknown;
  try {
    raw = packr.unpack(frame);
  } catch {
    return { ok: false, reason: 'header is not msgpack' };
  }
  if (typeof raw !== 'object' || raw === null) return { ok: false, reason: 'header is not a map' };
  const v = (raw as { v?: unknown }).v;
  if (v !== PROTOCOL_VERSION)
    return { ok: false, reason: `protocol version ${String(v)}, expected ${PROTOCOL_VERSION}` };
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return {
      ok: false,
      reason: `invalid header${issue ? ` (${issue.path.join('.') || 'kind'}: ${issue.message})` : ''}`,
    };
  }
  return { ok: true, value: parsed.data };
}

export function decodeUplink(frames: readonly Frame[]): Decoded<UplinkMessage> {
  const header = decodeHeader(frames[0], uplinkHeaderSchema);
  if (!header.ok) return header;
  const h = header.value;
  if (h.kind !== 'transitions') {
    if (frames.length !== 1) return { ok: false, reason: `${h.kind} message has ${frames.length - 1} extra frames` };
    return { ok: true, value: { header: h } };
  }
  if (frames.length !== 6) return { ok: false, reason: `transitions message has ${frames.length} frames, expected 6` };
  const { count, stateSize, actionSize } = h;
  const states = typedFrame(frames[1], Float32Array, count * stateSize);
  const actions = typedFrame(frames[2], Float32Array, count * actionSize);
  const rewards = typedFrame(frames[3], Float64Array, count);
  const nextStates = typedFrame(frames[4], Float32Array, count * stateSize);
  const terminated = typedFrame(frames[5], Uint8Array, count);
  if (!states || !actions || !rewards || !nextStates || !terminated)
    return {
      ok: false,
      reason: `transitions frames do not match ${count} x (state ${stateSize}, action ${actionSize}): truncated?`,
    };
  return {
    ok: true,
    value: {
      header: h,
      batch: {
        actorId: h.actorId,
        seq: h.seq,
        count,
        stateSize,
        actionSize,
        states,
        actions,
        rewards,
        nextStates,
        terminated,
      },
    },
  };
}

export function decodeDownlink(frames: readonly Frame[]): Decoded<DownlinkMessage> {
  const header = decodeHeader(frames[0], downlinkHeaderSchema);
  if (!header.ok) return header;
  const h = header.value;
  if (h.kind !== 'weights') {
    if (frames.length !== 1) return { ok: false, reason: `${h.kind} message has ${frames.length - 1} extra frames` };
    return { ok: true, value: { header: h } };
  }
  if (frames.length !== 2) return { ok: false, reason: `weights message has ${frames.length} frames, expected 2` };
  const weights = typedFrame(frames[1], Float32Array, h.size);
  if (!weights) return { ok: false, reason: `weights frame is not ${h.size} float32 values: truncated?` };
  return { ok: true, value: { header: h, weights } };
}
