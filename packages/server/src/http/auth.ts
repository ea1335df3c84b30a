// Access rules of the admin routes (/api/*, /metrics) and token checks. Open on loopback; with a token,
// `Authorization: Bearer TOKEN` compared in constant time; beyond loopback without a token: forbidden.

import { timingSafeEqual } from 'node:crypto';
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

/** Compares two secrets in constant time (for equal lengths). */
export function secretEquals(given: string, expected: string): boolean {
  const a = Buffer.from(given, 'utf8');
  const b = Buffer.from(expected, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Checks `Authorization: Bearer <token>` in constant time. */
export function bearerMatches(header: string | undefined, token: string): boolean {
  if (header === undefined) return false;
  const m = /^\s*Bearer\s+(\S+)\s*$/i.exec(header);
  return m !== null && secretEquals(m[1], token);
}
