// Request credentials for routes that change state (push ingest, management): parses
// `Authorization: Basic` / `Bearer`, compares a presented secret with the configured one in constant
// time (whatever their lengths), and builds the `WWW-Authenticate: Basic` challenge that makes clients
// such as ffmpeg send their credentials (ffmpeg sends a URL's user:password only after a 401 with it).

import { createHash, timingSafeEqual } from 'node:crypto';

export type Credentials = { scheme: 'basic'; user: string; password: string } | { scheme: 'bearer'; token: string };

/** Longest Authorization value looked at (a head is at most 16 KiB anyway). */
const MAX_AUTH_CHARS = 4096;

/**
 * Parses an Authorization header value: `Basic base64(user:password)` (the password may contain ':';
 * UTF-8) or `Bearer token`. Scheme names are case-insensitive. Anything else, or malformed, is undefined
 * (treat it as no credentials).
 */
export function parseAuthorization(value: string | undefined): Credentials | undefined {
  if (value === undefined || value.length > MAX_AUTH_CHARS) return undefined;
  const m = /^\s*([A-Za-z]+)\s+(\S+)\s*$/.exec(value);
  if (!m) return undefined;
  const scheme = m[1].toLowerCase();
  const param = m[2];
  if (scheme === 'bearer') return { scheme: 'bearer', token: param };
  if (scheme !== 'basic') return undefined;
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(param) || param.length % 4 === 1) return undefined;
  const decoded = Buffer.from(param, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { scheme: 'basic', user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/** Compares two secrets in constant time, whatever their lengths (SHA-256 digests are compared). */
export function secretEquals(presented: string, expected: string): boolean {
  const a = createHash('sha256').update(presented, 'utf8').digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b) && presented.length === expected.length;
}

/**
 * True when the credentials carry `token`: `Bearer <token>`, or Basic with `<token>` as the password
 * (any user name: Icecast sources use `source`). An empty configured token never matches.
 */
export function credentialsMatch(cred: Credentials | undefined, token: string): boolean {
  if (cred === undefined || token === '') return false;
  return secretEquals(cred.scheme === 'bearer' ? cred.token : cred.password, token);
}

/** The `WWW-Authenticate` header asking for Basic credentials in `realm`. */
export function basicChallenge(realm: string): [string, string] {
  return ['WWW-Authenticate', `Basic realm="${realm.replace(/["\\\r\n]/g, '')}", charset="UTF-8"`];
}
