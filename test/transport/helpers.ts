import * as zmq from 'zeromq';
import { ActorLink } from '../../src/transport/actor-link.js';
import type { DownlinkMessage } from '../../src/transport/codec.js';
import { LearnerLink } from '../../src/transport/learner-link.js';
import { LOOPBACK_ANY_PORT } from '../../src/transport/endpoint.js';
import type { ServerCurve, ClientCurve } from '../../src/transport/security.js';

/** A learner link on free loopback ports and an actor link connected to it. */
export async function linkPair(
  actorId = 0,
  security: { server: ServerCurve; client: ClientCurve } | null = null,
): Promise<{ learner: LearnerLink; actor: ActorLink; close(): void }> {
  const learner = await LearnerLink.bind(LOOPBACK_ANY_PORT, security?.server ?? null);
  const actor = new ActorLink(learner.endpoints, actorId, security?.client ?? null);
  return {
    learner,
    actor,
    close() {
      actor.close();
      learner.close();
    },
  };
}

/** Resolves with the first value `poll` returns that is not undefined (checked every 10 ms), or rejects after `timeoutMs`. */
export async function until<T>(poll: () => T | undefined, what: string, timeoutMs = 10_000): Promise<T> {
  const start = Date.now();
  for (;;) {
    const v = poll();
    if (v !== undefined) return v;
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Collects an actor link's downlink messages. */
export function collect(actor: ActorLink): DownlinkMessage[] {
  const got: DownlinkMessage[] = [];
  actor.receive((m) => got.push(m));
  return got;
}

export function keyPair(): { publicKey: string; secretKey: string } {
  return zmq.curveKeyPair();
}

export function bytesEqual(a: ArrayBufferView, b: ArrayBufferView): boolean {
  return (
    Buffer.compare(
      Buffer.from(a.buffer, a.byteOffset, a.byteLength),
      Buffer.from(b.buffer, b.byteOffset, b.byteLength),
    ) === 0
  );
}
