import { Redis } from 'ioredis';
import { UserError } from '../core/errors.js';

/**
 * The queue's Redis from a `redis://` or `rediss://` (TLS) URL. A Redis off this machine needs
 * a password (`redis://:PASSWORD@host:6379`, or `redis://USER:PASSWORD@...` with Redis ACLs):
 * anyone who can reach an open Redis could run code on the workers through the trials' configs.
 */
export interface RedisTarget {
  readonly host: string;
  readonly port: number;
  readonly db: number;
  readonly username?: string;
  readonly password?: string;
  readonly tls: boolean;
  /** The URL without its password, for logs and records. */
  readonly display: string;
}

const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|\[?::1\]?)$/i;

export function isLoopbackHost(host: string): boolean {
  return LOOPBACK.test(host);
}

export function parseRedisUrl(url: string): RedisTarget {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new UserError(`--queue '${url}' is not a URL: use redis://HOST:PORT (or rediss:// for TLS)`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:')
    throw new UserError(`--queue ${u.protocol}// is not supported: use redis://HOST:PORT or rediss://HOST:PORT (TLS)`);
  if (u.hostname === '') throw new UserError(`--queue '${url}' has no host`);
  const port = u.port === '' ? 6379 : Number(u.port);
  const dbText = u.pathname.replace(/^\//, '');
  const db = dbText === '' ? 0 : Number(dbText);
  if (!Number.isInteger(db) || db < 0) throw new UserError(`--queue '${url}': database '${dbText}' is not a number`);
  const password = u.password === '' ? undefined : decodeURIComponent(u.password);
  const username = u.username === '' ? undefined : decodeURIComponent(u.username);
  const host = u.hostname.replace(/^\[|\]$/g, '');
  if (!isLoopbackHost(u.hostname) && password === undefined) {
    throw new UserError(
      `--queue ${u.protocol}//${u.host}: a Redis on another machine needs a password (redis://:PASSWORD@${u.host}; rediss:// for TLS; see docs/sweep.md)`,
    );
  }
  return {
    host,
    port,
    db,
    ...(username ? { username } : {}),
    ...(password ? { password } : {}),
    tls: u.protocol === 'rediss:',
    display: `${u.protocol}//${u.host}${db ? `/${db}` : ''}`,
  };
}

/** ioredis/BullMQ connection options (BullMQ's workers need maxRetriesPerRequest: null: they wait out a Redis restart). */
export function connectionOptions(target: RedisTarget): Record<string, unknown> {
  return {
    host: target.host,
    port: target.port,
    db: target.db,
    ...(target.username ? { username: target.username } : {}),
    ...(target.password ? { password: target.password } : {}),
    ...(target.tls ? { tls: { servername: target.host } } : {}),
    maxRetriesPerRequest: null,
  };
}

/** Fails with one line when Redis cannot be reached (or refuses the password) within `timeoutMs`. */
export async function checkRedisReachable(target: RedisTarget, timeoutMs = 3000): Promise<void> {
  const client = new Redis({
    ...connectionOptions(target),
    lazyConnect: true,
    connectTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
  });
  let socketError: NodeJS.ErrnoException | null = null;
  client.on('error', (err: NodeJS.ErrnoException) => (socketError ??= err)); // the socket's own error says more than 'Connection is closed'
  try {
    await client.connect();
    await client.ping();
  } catch (err) {
    const e = socketError ?? (err as NodeJS.ErrnoException);
    throw new UserError(`cannot reach Redis at ${target.display}: ${e.code ?? e.message.split('\n')[0]}`);
  } finally {
    client.disconnect();
  }
}
