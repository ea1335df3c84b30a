// Access rules and credentials. Admin routes (/api/*, /metrics) are open on loopback, need
// `Authorization: Bearer TOKEN` when a token is configured, and are forbidden beyond loopback without one.
// Routes that accept a stream (push ingest) take Basic (the token as the password, any user: Icecast
// sources use `source`) or Bearer, and send the `WWW-Authenticate: Basic` challenge that makes clients
// such as ffmpeg send their credentials (ffmpeg sends a URL's user:password only after a 401 with it).
// Secrets are compared in constant time, whatever their lengths.

import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';

/** True when `host` only accepts connections from this machine. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (h.startsWith('::ffff:')) return h.slice(7).startsWith('127.');
  return false;
}

export type AdminAccess = 'open' | 'token' | 'forbidden';

/** Admin route policy: open on loopback, token when configured, otherwise forbidden. */
export function adminAccess(host: string, token: string | undefined): AdminAccess {
  if (token !== undefined && token !== '') return 'token';
  return isLoopbackHost(host) ? 'open' : 'forbidden';
}

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
 * (any user name). An empty configured token never matches.
 */
export function credentialsMatch(cred: Credentials | undefined, token: string): boolean {
  if (cred === undefined || token === '') return false;
  return secretEquals(cred.scheme === 'bearer' ? cred.token : cred.password, token);
}

/** Checks `Authorization: Bearer <token>` (the admin routes) in constant time. */
export function bearerMatches(header: string | undefined, token: string): boolean {
  const cred = parseAuthorization(header);
  return cred?.scheme === 'bearer' && credentialsMatch(cred, token);
}

/** The `WWW-Authenticate` header asking for Basic credentials in `realm`. */
export function basicChallenge(realm: string): [string, string] {
  return ['WWW-Authenticate', `Basic realm="${realm.replace(/["\\\r\n]/g, '')}", charset="UTF-8"`];
}
