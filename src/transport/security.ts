import { createHash } from 'node:crypto';
import { z } from 'zod';
import { parseWith } from '../core/config.js';
import { UserError } from '../core/errors.js';
import { readJson } from '../core/files.js';
import { isLoopback, type LinkEndpoints } from './endpoint.js';
import { isZ85Key } from './z85.js';

/**
 * The link's security model: loopback needs nothing (only this machine's processes can connect);
 * any other endpoint needs CURVE (encryption + the server's identity) and an allow-list of
 * client keys enforced by a ZAP handler (zap.ts), since CURVE alone accepts any client that
 * knows the server's public key. Keys are Z85 text (zeromq's curveKeyPair()).
 */

const key = z.string().refine(isZ85Key, 'must be a 40-character Z85 CURVE key');

/** The keys file (--curve-keys FILE): the learner needs its secret key and the allow-list; an actor its key pair and the learner's public key. */
export const curveKeysSchema = z
  .object({
    serverPublicKey: key,
    serverSecretKey: key.optional(),
    allowedClientKeys: z.array(key).optional(),
    clientPublicKey: key.optional(),
    clientSecretKey: key.optional(),
  })
  .strict();
export type CurveKeys = z.output<typeof curveKeysSchema>;

/** Socket options of the learner's (server's) sockets under CURVE. */
export interface ServerCurve {
  readonly curveServer: true;
  readonly curvePublicKey: string;
  readonly curveSecretKey: string;
  readonly zapDomain: string;
  /** Z85 public keys of the clients the ZAP handler lets in. */
  readonly allowedClientKeys: readonly string[];
}

/** Socket options of an actor's (client's) sockets under CURVE. */
export interface ClientCurve {
  readonly curveServerKey: string;
  readonly curvePublicKey: string;
  readonly curveSecretKey: string;
}

export const ZAP_DOMAIN = 'daydrive';

/**
 * A CURVE public key's fingerprint, for a person to compare between two machines: the first 16
 * hex digits of the SHA-256 of its Z85 text (`sha256:` before them).
 */
export function curveKeyFingerprint(z85PublicKey: string): string {
  return `sha256:${createHash('sha256').update(z85PublicKey, 'utf8').digest('hex').slice(0, 16)}`;
}

export async function readCurveKeys(path: string): Promise<CurveKeys> {
  return parseWith(curveKeysSchema, await readJson(path), `CURVE keys ${path}`);
}

function remoteEndpoints(endpoints: LinkEndpoints): string[] {
  return [endpoints.uplink, endpoints.downlink].filter((e) => !isLoopback(e));
}

/**
 * The learner's security for `endpoints`: null on loopback without keys; else CURVE with an
 * allow-list, or a one-line UserError saying what is missing.
 */
export function serverSecurity(endpoints: LinkEndpoints, keys: CurveKeys | null): ServerCurve | null {
  const remote = remoteEndpoints(endpoints);
  if (!keys) {
    if (remote.length > 0)
      throw new UserError(
        `learner endpoint ${remote[0]} is not loopback: it needs CURVE keys (--curve-keys FILE with serverPublicKey, serverSecretKey and allowedClientKeys; docs/transport.md)`,
      );
    return null;
  }
  if (!keys.serverSecretKey)
    throw new UserError('the CURVE keys file lacks serverSecretKey: the learner needs its secret key');
  if (!keys.allowedClientKeys || keys.allowedClientKeys.length === 0)
    throw new UserError(
      'the CURVE keys file lacks allowedClientKeys: the learner lets in only the clients listed there',
    );
  return {
    curveServer: true,
    curvePublicKey: keys.serverPublicKey,
    curveSecretKey: keys.serverSecretKey,
    zapDomain: ZAP_DOMAIN,
    allowedClientKeys: keys.allowedClientKeys,
  };
}

/** An actor's security for `endpoints`: null on loopback without keys; else its CURVE key pair and the learner's public key. */
export function clientSecurity(endpoints: LinkEndpoints, keys: CurveKeys | null): ClientCurve | null {
  const remote = remoteEndpoints(endpoints);
  if (!keys) {
    if (remote.length > 0)
      throw new UserError(
        `learner endpoint ${remote[0]} is not loopback: it needs CURVE keys (--curve-keys FILE with serverPublicKey, clientPublicKey and clientSecretKey; docs/transport.md)`,
      );
    return null;
  }
  if (!keys.clientPublicKey || !keys.clientSecretKey)
    throw new UserError('the CURVE keys file lacks clientPublicKey/clientSecretKey: an actor needs its own key pair');
  return {
    curveServerKey: keys.serverPublicKey,
    curvePublicKey: keys.clientPublicKey,
    curveSecretKey: keys.clientSecretKey,
  };
}
