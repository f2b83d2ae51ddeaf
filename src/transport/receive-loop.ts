import { log } from '../core/logger.js';
import type { Decoded, Frame } from './codec.js';
import type { DroppedMessages } from './dropped.js';

/** A socket that yields multipart messages until it is closed (zeromq's Pull and Subscriber). */
export interface MessageSource {
  readonly closed: boolean;
  [Symbol.asyncIterator](): AsyncIterator<unknown[]>;
}

/**
 * Receives from `socket` until it closes: each message decoded, then handed to `handler`. A
 * message that does not decode, or that the handler refuses by throwing, is dropped and counted
 * with its reason (`refused by the <receiver>: ...`), never thrown: a peer cannot crash the link.
 */
export async function receiveLoop<M>(
  socket: MessageSource,
  decode: (frames: readonly Frame[]) => Decoded<M>,
  handler: (message: M) => void,
  dropped: DroppedMessages,
  receiver: string,
  description: string,
): Promise<void> {
  try {
    for await (const frames of socket) {
      const decoded = decode(frames as Frame[]);
      if (!decoded.ok) {
        dropped.drop(decoded.reason);
        continue;
      }
      try {
        handler(decoded.value);
      } catch (err) {
        dropped.drop(`refused by the ${receiver}: ${(err as Error).message}`);
      }
    }
  } catch (err) {
    if (!socket.closed) log.error({ err: String(err) }, `${description} stopped receiving`);
  }
}
