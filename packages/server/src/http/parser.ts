// Bounded HTTP/1.x request-head parser for the streaming server: the request line and headers, at most
// `maxBytes` (16 KiB) of head. Heads that arrive in pieces (slow or hostile clients) are accumulated by a
// HeadReader that scans each byte once for the blank line and copies into one growing buffer, so the
// work is linear in the head's size however it is chunked (never a re-parse or a concat per read).

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

export type HeadError = { kind: 'error'; status: 400 | 431 | 505; reason: string };

export type ParseResult = { kind: 'incomplete' } | HeadError | { kind: 'ok'; head: RequestHead };

/** What a HeadReader says after a push: like ParseResult, and on success the bytes after the head. */
export type HeadReadResult =
  | { kind: 'incomplete' }
  | HeadError
  | {
      kind: 'ok';
      head: RequestHead;
      /** Bytes of the pushed chunk after the head (the start of a body, or a pipelined request): a view. */
      rest: Uint8Array;
    };

export const MAX_HEAD_BYTES = 16 * 1024;
/**
 * Most reads one head may arrive in. Parsing is linear whatever the chunking, but every read costs the
 * event loop several microseconds of its own (5-13 us measured on the 2-core development machine), and a
 * 16 KB head dripped one byte per packet is 16,000 reads.
 * Real clients send a head in one to three reads (a person typing into telnet or nc: one per line); 256
 * allows 64 bytes per read on average for a 16 KiB head.
 */
export const MAX_HEAD_READS = 256;

const INCOMPLETE = { kind: 'incomplete' } as const;
const TOO_LARGE: HeadError = { kind: 'error', status: 431, reason: 'request head too large' };
const TOO_MANY_READS: HeadError = {
  kind: 'error',
  status: 400,
  reason: `request head sent in more than ${MAX_HEAD_READS} pieces (send it in fewer writes)`,
};
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const LF = 0x0a;
const CR = 0x0d;
/** First capacity of a HeadReader's buffer when a head spans reads; doubled as needed up to the limit. */
const FIRST_CAPACITY = 1024;

/** @internal Bytes examined by every HeadReader so far (diagnostics: the linearity test reads it). */
export const headScan = { bytes: 0 };

/**
 * Accumulates one request head across reads. Each pushed byte is examined once: the scanner keeps its
 * state (0 = in a line, 1 = after LF, 2 = after LF CR) between pushes, so the blank line that ends the
 * head (LF LF or LF CR LF) is found wherever the reads split it. A head that spans reads is copied into
 * one buffer that grows by doubling (at most 2x copying, at most `maxBytes` held); a head that arrives
 * in one read is parsed in place.
 */
export class HeadReader {
  private buf: Buffer | undefined;
  private size = 0;
  private state = 0;
  private reads = 0;
  private readonly maxBytes: number;
  private readonly maxReads: number;

  constructor(maxBytes = MAX_HEAD_BYTES, maxReads = MAX_HEAD_READS) {
    this.maxBytes = maxBytes;
    this.maxReads = maxReads;
  }

  /** Bytes of head received so far. */
  get received(): number {
    return this.size;
  }

  push(chunk: Uint8Array): HeadReadResult {
    const start = this.size;
    const limit = Math.min(chunk.length, this.maxBytes - start);
    let st = this.state;
    let end = -1;
    for (let i = 0; i < limit; i++) {
      const c = chunk[i];
      if (c === LF) {
        if (st !== 0) {
          end = i + 1;
          break;
        }
        st = 1;
      } else if (c === CR && st === 1) st = 2;
      else st = 0;
    }
    headScan.bytes += end < 0 ? limit : end;
    if (end < 0) {
      if (start + chunk.length >= this.maxBytes) return TOO_LARGE;
      if (++this.reads >= this.maxReads) return TOO_MANY_READS;
      this.state = st;
      this.append(chunk, chunk.length);
      return INCOMPLETE;
    }
    let head: Uint8Array;
    if (this.buf === undefined) head = chunk.subarray(0, end);
    else {
      this.append(chunk, end);
      head = this.buf.subarray(0, this.size);
    }
    this.buf = undefined;
    const res = parseHeadBytes(head);
    return res.kind === 'ok' ? { kind: 'ok', head: res.head, rest: chunk.subarray(end) } : res;
  }

  private append(chunk: Uint8Array, n: number): void {
    const need = this.size + n;
    if (this.buf === undefined || need > this.buf.length) {
      let cap = Math.max(FIRST_CAPACITY, this.buf?.length ?? 0);
      while (cap < need) cap *= 2;
      const next = Buffer.allocUnsafe(Math.min(cap, this.maxBytes));
      if (this.buf !== undefined) this.buf.copy(next, 0, 0, this.size);
      this.buf = next;
    }
    this.buf.set(n === chunk.length ? chunk : chunk.subarray(0, n), this.size);
    this.size = need;
  }
}

/**
 * Parses the head at the start of `buf`. 'incomplete' while the blank line has not arrived and the
 * buffer is within `maxBytes`; 431 beyond; 400 for malformed heads; 505 for non-1.x versions.
 */
export function parseRequestHead(buf: Uint8Array, maxBytes = MAX_HEAD_BYTES): ParseResult {
  const res = new HeadReader(maxBytes).push(buf);
  return res.kind === 'ok' ? { kind: 'ok', head: res.head } : res;
}

/** Parses a complete head (ending with its blank line). */
function parseHeadBytes(bytes: Uint8Array): HeadError | { kind: 'ok'; head: RequestHead } {
  const end = bytes.length;
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, end).toString('latin1');
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
    if (/[\x00-\x08\x0a-\x1f\x7f]/.test(value)) return { kind: 'error', status: 400, reason: 'bad header value' };
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
