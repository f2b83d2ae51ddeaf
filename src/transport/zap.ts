import * as zmq from 'zeromq';
import { log } from '../core/logger.js';
import { z85Encode } from './z85.js';

/**
 * A ZAP handler (ZeroMQ RFC 27) that admits CURVE clients whose public key is on an allow-list.
 * libzmq asks the socket bound to inproc://zeromq.zap.01 of the same context about every new
 * connection to a socket with a zapDomain; without one, CURVE admits any client that knows the
 * server's public key. One handler per process (the address is per context): the allow-lists
 * of all servers started in the process are merged.
 */

const ZAP_ENDPOINT = 'inproc://zeromq.zap.01';

export class ZapAllowList {
  private static instance: ZapAllowList | null = null;
  private readonly allowed = new Set<string>();
  /** Servers using the handler; the last to release it closes it (an open socket keeps the process alive). */
  private users = 0;
  private readonly router = new zmq.Router({ linger: 0 });
  refused = 0;
  admitted = 0;

  private constructor() {}

  /** The process's handler, started on first use, with `keys` added to its allow-list. */
  static async start(keys: readonly string[]): Promise<ZapAllowList> {
    if (!ZapAllowList.instance) {
      const zap = new ZapAllowList();
      await zap.router.bind(ZAP_ENDPOINT);
      void zap.serve();
      ZapAllowList.instance = zap;
    }
    for (const k of keys) ZapAllowList.instance.allowed.add(k);
    ZapAllowList.instance.users += 1;
    return ZapAllowList.instance;
  }

  /** A server no longer needs the handler. */
  release(): void {
    this.users -= 1;
    if (this.users > 0) return;
    this.router.close();
    this.allowed.clear();
    if (ZapAllowList.instance === this) ZapAllowList.instance = null;
  }

  private async serve(): Promise<void> {
    try {
      for await (const frames of this.router) {
        // [routing id, empty, version, request id, domain, address, identity, mechanism, credentials...]
        const [id, empty, version, requestId, domain, address, , mechanism, credential] = frames;
        if (!id || !empty || !requestId) continue;
        const clientKey = mechanism?.toString() === 'CURVE' && credential?.length === 32 ? z85Encode(credential) : null;
        const ok = version?.toString() === '1.0' && clientKey !== null && this.allowed.has(clientKey);
        if (ok) this.admitted += 1;
        else {
          this.refused += 1;
          log.warn(
            { address: address?.toString(), domain: domain?.toString(), mechanism: mechanism?.toString() },
            'ZAP: refused a client whose key is not on the allow-list',
          );
        }
        await this.router.send([
          id,
          empty,
          '1.0',
          requestId,
          ok ? '200' : '400',
          ok ? 'OK' : 'key not allowed',
          ok ? (clientKey as string) : '',
          '',
        ]);
      }
    } catch (err) {
      if (!this.router.closed) log.error({ err }, 'ZAP handler stopped');
    }
  }
}
