import { UserError } from '../core/errors.js';

/**
 * Where the link's sockets bind and connect, and whether an endpoint stays on this machine.
 * Loopback is the default; any other endpoint must be authenticated (security.ts).
 */

/** The learner's two sockets: actors push to `uplink` and subscribe to `downlink`. */
export interface LinkEndpoints {
  readonly uplink: string;
  readonly downlink: string;
}

/** Any free port on loopback (the actual endpoints are read back after binding). */
export const LOOPBACK_ANY_PORT: LinkEndpoints = { uplink: 'tcp://127.0.0.1:*', downlink: 'tcp://127.0.0.1:*' };

/**
 * Where `daydrive learner` binds without --endpoints or learner_endpoints (and the launch file's
 * learner_endpoints default): fixed loopback ports, so that a drive node can be told where it is.
 */
export const DEFAULT_LEARNER_ENDPOINTS: LinkEndpoints = {
  uplink: 'tcp://127.0.0.1:5755',
  downlink: 'tcp://127.0.0.1:5756',
};

const ENDPOINT = /^(tcp|ipc|inproc):\/\/(.+)$/;

/** A ZeroMQ endpoint this project accepts (tcp://host:port, ipc://path, inproc://name), else a one-line error. */
export function checkEndpoint(endpoint: string, what: string): void {
  const m = ENDPOINT.exec(endpoint);
  if (!m)
    throw new UserError(
      `${what} '${endpoint}' is not a ZeroMQ endpoint (tcp://HOST:PORT, ipc://PATH or inproc://NAME)`,
    );
  if (m[1] === 'tcp' && !/^(\[[0-9a-fA-F:.]+\]|[^:[\]]+):(\d{1,5}|\*)$/.test(m[2] as string)) {
    throw new UserError(`${what} '${endpoint}' needs a host and a port (tcp://127.0.0.1:5755)`);
  }
}

/**
 * Whether traffic to `endpoint` stays on this machine: tcp to 127.0.0.0/8, ::1 or localhost, and
 * ipc/inproc. A wildcard bind (tcp://*:port, 0.0.0.0) listens on every interface: not loopback.
 */
export function isLoopback(endpoint: string): boolean {
  const m = ENDPOINT.exec(endpoint);
  if (!m) return false;
  if (m[1] !== 'tcp') return true;
  const host = (m[2] as string).replace(/:(\d+|\*)$/, '').replace(/^\[|\]$/g, '');
  return /^127(\.\d{1,3}){3}$/.test(host) || host === '::1' || host === 'localhost';
}

/** Parses a `--learner-endpoints UPLINK,DOWNLINK` value. */
export function parseEndpoints(value: string, what: string): LinkEndpoints {
  const parts = value.split(',').map((s) => s.trim());
  if (parts.length !== 2 || !parts[0] || !parts[1])
    throw new UserError(`${what} must be two endpoints, UPLINK,DOWNLINK (got '${value}')`);
  checkEndpoint(parts[0], `${what} uplink`);
  checkEndpoint(parts[1], `${what} downlink`);
  return { uplink: parts[0], downlink: parts[1] };
}
