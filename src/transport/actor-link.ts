import * as zmq from 'zeromq';
import {
  decodeDownlink,
  encodeHeader,
  encodeTransitions,
  type DownlinkMessage,
  type Frame,
  type TransitionBatch,
} from './codec.js';
import { DroppedMessages } from './dropped.js';
import type { LinkEndpoints } from './endpoint.js';
import { PROTOCOL_VERSION, type EpisodeMessage, type TaskCommandName } from './protocol.js';
import type { ClientCurve } from './security.js';
import { receiveLoop } from './receive-loop.js';
import { SendQueue } from './send-queue.js';

/**
 * An actor's end of the link (the simulator's actor processes, the train command's test driver,
 * the car): a PUSH socket to the learner and a SUB socket for its broadcasts. It connects, so it
 * may start before the learner and survives the learner's restarts: ZeroMQ reconnects and the
 * PUSH socket holds messages (up to its high-water mark) while no learner is there.
 */
export class ActorLink {
  readonly dropped: DroppedMessages;
  private readonly push: zmq.Push;
  private readonly sub: zmq.Subscriber;
  private readonly out: SendQueue;
  private receiving: Promise<void> | null = null;
  private taskRequests = 0;

  constructor(
    readonly endpoints: LinkEndpoints,
    readonly actorId: number,
    security: ClientCurve | null,
    options: { readonly sendHighWaterMark?: number } = {},
  ) {
    const curve = security ?? {};
    this.push = new zmq.Push({
      linger: 2000,
      sendHighWaterMark: options.sendHighWaterMark ?? 10_000,
      sendTimeout: 1000,
      ...curve,
    });
    this.sub = new zmq.Subscriber({ linger: 0, receiveHighWaterMark: 1000, ...curve });
    this.push.connect(endpoints.uplink);
    this.sub.connect(endpoints.downlink);
    this.sub.subscribe();
    this.out = new SendQueue(this.push, `actor ${actorId} uplink`);
    this.dropped = new DroppedMessages(`actor ${actorId} downlink`);
  }

  /** Receives the learner's broadcasts until close(). */
  receive(handler: (message: DownlinkMessage) => void): void {
    if (this.receiving) throw new Error('the actor link is already receiving');
    this.receiving = receiveLoop(this.sub, decodeDownlink, handler, this.dropped, 'actor', 'actor downlink');
  }

  hello(stateSize: number, actionSize: number): void {
    this.out.send([
      encodeHeader({
        v: PROTOCOL_VERSION,
        kind: 'hello',
        actorId: this.actorId,
        pid: process.pid,
        stateSize,
        actionSize,
      }),
    ]);
  }

  sendTransitions(batch: TransitionBatch): void {
    this.out.send(encodeTransitions(batch));
  }

  sendEpisode(episode: Omit<EpisodeMessage, 'v' | 'kind' | 'actorId'>): void {
    this.out.send([encodeHeader({ v: PROTOCOL_VERSION, kind: 'episode', actorId: this.actorId, ...episode })]);
  }

  sendHeartbeat(): void {
    this.out.send([
      encodeHeader({ v: PROTOCOL_VERSION, kind: 'heartbeat', actorId: this.actorId, sentAtMs: Date.now() }),
    ]);
  }

  /** Sends a task command; returns its request id (the learner's 'task-done'/'task-refused' event carries it). */
  sendTask(command: TaskCommandName): number {
    const requestId = ++this.taskRequests;
    this.out.send([encodeHeader({ v: PROTOCOL_VERSION, kind: 'task', command, requestId })]);
    return requestId;
  }

  /** Raw frames (tests and benchmarks of the learner's validation). */
  sendRaw(frames: Frame[]): void {
    this.out.send(frames);
  }

  /** Messages waiting to be handed to ZeroMQ. */
  get queued(): number {
    return this.out.queued;
  }

  async flush(): Promise<void> {
    await this.out.idle();
  }

  close(): void {
    this.push.close();
    this.sub.close();
  }
}
