import * as zmq from 'zeromq';
import { decodeUplink, encodeHeader, encodeWeights, type UplinkMessage } from './codec.js';
import { DroppedMessages } from './dropped.js';
import type { LinkEndpoints } from './endpoint.js';
import { PROTOCOL_VERSION, type LearnerEvent, type LearnerHeartbeat, type WeightsHeader } from './protocol.js';
import type { ServerCurve } from './security.js';
import { receiveLoop } from './receive-loop.js';
import { SendQueue } from './send-queue.js';
import { ZapAllowList } from './zap.js';

/**
 * The learner's end of the link: a PULL socket all actors push to, and a PUB socket that
 * broadcasts weights, events and heartbeats. It binds; actors connect (and reconnect: an actor
 * that dies and restarts simply connects again). Invalid messages are dropped and counted.
 */
export class LearnerLink {
  readonly dropped = new DroppedMessages('learner uplink');
  private readonly pull: zmq.Pull;
  private readonly pub: zmq.Publisher;
  private readonly out: SendQueue;
  private receiving: Promise<void> | null = null;

  private constructor(
    readonly endpoints: LinkEndpoints,
    pull: zmq.Pull,
    pub: zmq.Publisher,
    private readonly zap: ZapAllowList | null,
  ) {
    this.pull = pull;
    this.pub = pub;
    this.out = new SendQueue(pub, 'learner downlink');
  }

  /** Binds both sockets (a '*' port picks a free one: `endpoints` holds the actual ones). */
  static async bind(endpoints: LinkEndpoints, security: ServerCurve | null): Promise<LearnerLink> {
    const curve = security
      ? {
          curveServer: true,
          curvePublicKey: security.curvePublicKey,
          curveSecretKey: security.curveSecretKey,
          zapDomain: security.zapDomain,
        }
      : {};
    const zap = security ? await ZapAllowList.start(security.allowedClientKeys) : null;
    const pull = new zmq.Pull({ linger: 0, receiveHighWaterMark: 10_000, ...curve });
    const pub = new zmq.Publisher({ linger: 0, sendHighWaterMark: 1000, ...curve });
    try {
      await pull.bind(endpoints.uplink);
      await pub.bind(endpoints.downlink);
    } catch (err) {
      pull.close();
      pub.close();
      zap?.release();
      throw new Error(
        `cannot bind the learner's sockets (${endpoints.uplink}, ${endpoints.downlink}): ${(err as Error).message}`,
      );
    }
    return new LearnerLink(
      { uplink: pull.lastEndpoint ?? endpoints.uplink, downlink: pub.lastEndpoint ?? endpoints.downlink },
      pull,
      pub,
      zap,
    );
  }

  /** Receives until close(); `handler` gets every valid message (an exception in it is logged, the loop goes on). */
  receive(handler: (message: UplinkMessage) => void): void {
    if (this.receiving) throw new Error('the learner link is already receiving');
    this.receiving = receiveLoop(this.pull, decodeUplink, handler, this.dropped, 'learner', 'learner uplink');
  }

  publishWeights(header: Omit<WeightsHeader, 'v' | 'kind' | 'size'>, weights: Float32Array): void {
    this.out.send(encodeWeights({ v: PROTOCOL_VERSION, kind: 'weights', size: weights.length, ...header }, weights));
  }

  publishEvent(event: Omit<LearnerEvent, 'v' | 'kind'>): void {
    this.out.send([encodeHeader({ v: PROTOCOL_VERSION, kind: 'event', ...event })]);
  }

  publishHeartbeat(heartbeat: Omit<LearnerHeartbeat, 'v' | 'kind'>): void {
    this.out.send([encodeHeader({ v: PROTOCOL_VERSION, kind: 'heartbeat', ...heartbeat })]);
  }

  /** Waits until everything published has been handed to ZeroMQ. */
  async flush(): Promise<void> {
    await this.out.idle();
  }

  close(): void {
    if (this.pull.closed) return;
    this.pull.close();
    this.pub.close();
    this.zap?.release();
  }
}
