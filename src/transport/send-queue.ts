import type * as zmq from 'zeromq';
import { log } from '../core/logger.js';
import type { Frame } from './codec.js';

/**
 * Sends on one socket, one message at a time (a zeromq.js socket allows one send in flight) and
 * in order, without making the caller wait: a message that cannot go yet waits here. `idle()`
 * resolves when everything queued has been handed to ZeroMQ.
 */
export class SendQueue {
  private readonly queue: Frame[][] = [];
  private running: Promise<void> | null = null;
  private failed = 0;

  constructor(
    private readonly socket: zmq.Writable & { readonly closed: boolean },
    private readonly link: string,
    /** Most messages waiting here; beyond it the oldest is dropped (a stalled peer cannot exhaust memory). */
    private readonly maxQueued = 100_000,
  ) {}

  get queued(): number {
    return this.queue.length;
  }

  send(frames: Frame[]): void {
    if (this.queue.length >= this.maxQueued) {
      this.queue.shift();
      this.failed += 1;
      if (this.failed === 1 || this.failed % 1000 === 0)
        log.warn(
          { link: this.link, dropped: this.failed },
          `${this.link}: send queue full, dropped the oldest message`,
        );
    }
    this.queue.push(frames);
    this.running ??= this.drain();
  }

  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0 && !this.socket.closed) {
        const frames = this.queue[0] as Frame[];
        try {
          await this.socket.send(frames);
        } catch (err) {
          if (this.socket.closed) break;
          // EAGAIN after the socket's send timeout (no peer yet): keep the message and try again.
          if ((err as { code?: string }).code === 'EAGAIN') continue;
          log.warn({ link: this.link, err: String(err) }, `${this.link}: send failed, message dropped`);
        }
        this.queue.shift();
      }
    } finally {
      this.running = null;
    }
  }
}
