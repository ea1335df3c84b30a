// The User-Agent of a stream client, kept for the API (`GET /api/clients`). Thousands of viewers usually
// run a handful of players, so equal values share one string (a bounded table), and a value is cut at
// MAX_USER_AGENT_CHARS: a client costs a pointer, not a copy of its header.

import type { RequestHead } from './parser.js';

/** Longest User-Agent kept (longer ones are cut). */
export const MAX_USER_AGENT_CHARS = 256;
/** Distinct values shared; past this, values are kept unshared (still cut). */
const MAX_INTERNED = 512;

const interned = new Map<string, string>();

/** The request's User-Agent (cut, shared), or undefined when it sent none. */
export function userAgentOf(head: RequestHead): string | undefined {
  const raw = head.headers.get('user-agent');
  if (raw === undefined || raw === '') return undefined;
  // A fresh flat copy: a slice would keep the whole request head alive.
  const v = raw.length > MAX_USER_AGENT_CHARS ? raw.slice(0, MAX_USER_AGENT_CHARS) : raw;
  const known = interned.get(v);
  if (known !== undefined) return known;
  const own = Buffer.from(v, 'latin1').toString('latin1');
  if (interned.size < MAX_INTERNED) interned.set(own, own);
  return own;
}
