// Bounded HTTP/1.x request-head parser for the streaming server: only the request line and
// headers (no bodies, no keep-alive), at most `maxBytes` (16 KiB) of head, pure and allocation-light.

export interface RequestHead {
  method: string;
  /** The request target as sent (origin-form path + optional query). */
  target: string;
  /** Path part of the target, percent-decoded where valid. */
  path: string;
  /** Query string without '?', '' when none. */
  query: string;
  version: string;
  /** Lower-case header names; repeated headers joined with ', '. */
  headers: Map<string, string>;
  /** Bytes of the head including the blank line. */
  headLength: number;
}

export type ParseResult =
  | { kind: 'incomplete' }
  | { kind: 'error'; status: 400 | 431 | 505; reason: string }
  | { kind: 'ok'; head: RequestHead };

export const MAX_HEAD_BYTES = 16 * 1024;

const INCOMPLETE: ParseResult = { kind: 'incomplete' };
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Position just after the blank line ending the head (CRLF CRLF or bare LF LF), or -1. */
function headEnd(buf: Uint8Array, limit: number): number {
  const n = Math.min(buf.length, limit);
  for (let i = 0; i < n; i++) {
    if (buf[i] !== 0x0a) continue;
    if (i + 1 < buf.length && buf[i + 1] === 0x0a) return i + 2;
    if (i + 2 < buf.length && buf[i + 1] === 0x0d && buf[i + 2] === 0x0a) return i + 3;
  }
  return -1;
}

/**
 * Parses the head at the start of `buf`. 'incomplete' while the blank line has not arrived and the
 * buffer is within `maxBytes`; 431 beyond; 400 for malformed heads; 505 for non-1.x versions.
 */
export function parseRequestHead(buf: Uint8Array, maxBytes = MAX_HEAD_BYTES): ParseResult {
  const end = headEnd(buf, maxBytes);
  if (end < 0) {
    if (buf.length >= maxBytes) return { kind: 'error', status: 431, reason: 'request head too large' };
    return INCOMPLETE;
  }
  if (end > maxBytes) return { kind: 'error', status: 431, reason: 'request head too large' };
  const text = Buffer.from(buf.buffer, buf.byteOffset, end).toString('latin1');
  const lines = text.split(/\r?\n/);
  // Tolerate leading empty lines (RFC 9112 2.2).
  let i = 0;
  while (i < lines.length && lines[i] === '') i++;
  const requestLine = lines[i++];
  if (requestLine === undefined) return { kind: 'error', status: 400, reason: 'empty request' };
  const parts = requestLine.split(' ');
  if (parts.length !== 3) return { kind: 'error', status: 400, reason: 'bad request line' };
  const [method, target, version] = parts as [string, string, string];
  if (!TOKEN.test(method)) return { kind: 'error', status: 400, reason: 'bad method' };
  if (!/^HTTP\/\d\.\d$/.test(version)) return { kind: 'error', status: 400, reason: 'bad version' };
  if (!version.startsWith('HTTP/1.')) return { kind: 'error', status: 505, reason: 'unsupported version' };
  if (target === '' || /[\x00-\x20\x7f]/.test(target)) return { kind: 'error', status: 400, reason: 'bad target' };
  const headers = new Map<string, string>();
  for (; i < lines.length; i++) {
    const line = lines[i];
    if (line === '') break;
    if (line[0] === ' ' || line[0] === '\t') return { kind: 'error', status: 400, reason: 'obsolete line folding' };
    const colon = line.indexOf(':');
    if (colon <= 0) return { kind: 'error', status: 400, reason: 'bad header line' };
    const name = line.slice(0, colon);
    if (!TOKEN.test(name)) return { kind: 'error', status: 400, reason: 'bad header name' };
    const value = line.slice(colon + 1).trim();
    const key = name.toLowerCase();
    const prev = headers.get(key);
    headers.set(key, prev === undefined ? value : `${prev}, ${value}`);
  }
  // Absolute-form targets (proxies) are accepted: keep only the path.
  let pathAndQuery = target;
  if (/^https?:\/\//i.test(target)) {
    const slash = target.indexOf('/', target.indexOf('//') + 2);
    pathAndQuery = slash < 0 ? '/' : target.slice(slash);
  } else if (target === '*') {
    pathAndQuery = '*';
  } else if (target[0] !== '/') {
    return { kind: 'error', status: 400, reason: 'bad target' };
  }
  const q = pathAndQuery.indexOf('?');
  const rawPath = q < 0 ? pathAndQuery : pathAndQuery.slice(0, q);
  const query = q < 0 ? '' : pathAndQuery.slice(q + 1);
  let path: string;
  try {
    path = decodeURIComponent(rawPath);
  } catch {
    return { kind: 'error', status: 400, reason: 'bad percent-encoding' };
  }
  return { kind: 'ok', head: { method, target, path, query, version, headers, headLength: end } };
}

/** Parses a Range header value: {start, end?} for a single `bytes=a-[b]` range, 'invalid', or undefined when absent. */
export function parseRange(
  value: string | undefined,
): { start: number; end?: number } | 'invalid' | 'suffix' | undefined {
  if (value === undefined) return undefined;
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(value);
  if (!m) return 'invalid';
  if (m[1] === '') return m[2] === '' ? 'invalid' : 'suffix';
  const start = Number(m[1]);
  if (m[2] === '') return { start };
  const end = Number(m[2]);
  return end < start ? 'invalid' : { start, end };
}
