// The PROXY protocol (HAProxy's `send-proxy` / `send-proxy-v2`, nginx's `proxy_protocol on`): a proxy
// that forwards a TCP connection first sends one header naming the original client's address, then the
// client's bytes. Version 1 is a text line (`PROXY TCP4 1.2.3.4 5.6.7.8 1234 80\r\n`, at most 107 bytes),
// version 2 a binary block (a 12-byte signature, a version/command byte, a family byte, a 16-bit length,
// the addresses, then TLVs we skip). The reader is bounded: v1 is at most 107 bytes and v2 at most
// MAX_PROXY_V2_BYTES, read incrementally (a header may arrive in pieces, at most MAX_PROXY_READS); the
// connection's head deadline covers it. The header is only read from trusted proxies (./client-address.ts); from anyone else it is
// refused (startsLikeProxyHeader).
// Reference: https://www.haproxy.org/download/2.6/doc/proxy-protocol.txt

import { isIP } from 'node:net';

/** The v2 signature: `\r\n\r\n\0\r\nQUIT\n`. */
export const PROXY_V2_SIGNATURE = Uint8Array.from([
  0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a,
]);
const V1_PREFIX = Uint8Array.from([0x50, 0x52, 0x4f, 0x58, 0x59, 0x20]); // "PROXY "
/** Longest v1 line, CRLF included (the specification's bound). */
export const MAX_PROXY_V1_BYTES = 107;
/** Longest v2 header accepted (16-byte fixed part + addresses + TLVs). HAProxy's TLVs (ALPN, authority,
 *  unique id, SSL details) fit in far less. */
export const MAX_PROXY_V2_BYTES = 4096;
/** Most reads a header may arrive in: a proxy writes it at once, and every read costs the event loop
 *  (like MAX_HEAD_READS for request heads). */
export const MAX_PROXY_READS = 128;

export interface ProxyEndpoint {
  address: string;
  port: number;
}

export interface ProxyHeader {
  version: 1 | 2;
  /** LOCAL (v2) or UNKNOWN (v1): the proxy speaks for itself (health checks); use the peer's address. */
  local: boolean;
  /** The original client (absent when local or for families without an IP address). */
  source?: ProxyEndpoint;
  destination?: ProxyEndpoint;
}

export type ProxyReadResult =
  | { kind: 'incomplete' }
  /** Not a PROXY header: `bytes` (everything received so far) are the start of the HTTP request. */
  | { kind: 'none'; bytes: Uint8Array }
  | { kind: 'error'; reason: string }
  /** `rest`: the bytes after the header (the start of the HTTP request), a view. */
  | { kind: 'ok'; header: ProxyHeader; rest: Uint8Array };

/** True when `chunk` starts with a PROXY header (v1 or v2): for peers that may not send one. */
export function startsLikeProxyHeader(chunk: Uint8Array): boolean {
  return hasPrefix(chunk, V1_PREFIX, V1_PREFIX.length) || hasPrefix(chunk, PROXY_V2_SIGNATURE, 12);
}

function hasPrefix(b: Uint8Array, prefix: Uint8Array, n: number): boolean {
  if (b.length < n) return false;
  for (let i = 0; i < n; i++) if (b[i] !== prefix[i]) return false;
  return true;
}

/** Whether the first `len` bytes of `b` agree with `prefix`: all of it, a beginning of it, or not. */
function prefixState(b: Uint8Array, len: number, prefix: Uint8Array): 'match' | 'partial' | 'mismatch' {
  const n = Math.min(len, prefix.length);
  for (let i = 0; i < n; i++) if (b[i] !== prefix[i]) return 'mismatch';
  return n === prefix.length ? 'match' : 'partial';
}

const EMPTY = new Uint8Array(0);

/**
 * Reads an optional PROXY header at the start of a connection. Push each read; the answer says whether
 * more bytes are needed, that there is no header (the bytes are HTTP), that the header is malformed, or
 * the header and what follows it. At most the header's bound is ever held.
 */
export class ProxyHeaderReader {
  private buf: Uint8Array = EMPTY;
  private size = 0;
  private reads = 0;

  /** Bytes received so far. */
  get received(): number {
    return this.size;
  }

  push(chunk: Uint8Array): ProxyReadResult {
    let b: Uint8Array;
    if (this.size === 0) b = chunk;
    else {
      const all = new Uint8Array(this.size + chunk.length);
      all.set(this.buf.subarray(0, this.size), 0);
      all.set(chunk, this.size);
      b = all;
    }
    const len = b.length;
    const res = this.classify(b, len);
    if (res.kind === 'incomplete' && ++this.reads >= MAX_PROXY_READS) {
      this.buf = EMPTY;
      this.size = 0;
      return error(`PROXY header sent in more than ${MAX_PROXY_READS} pieces`);
    }
    if (res.kind === 'incomplete') {
      // Held: at most MAX_PROXY_V1_BYTES or the announced v2 length (classify checks both).
      this.buf = b === chunk ? chunk.slice() : b;
      this.size = len;
    } else {
      this.buf = EMPTY;
      this.size = 0;
    }
    return res;
  }

  private classify(b: Uint8Array, len: number): ProxyReadResult {
    if (len === 0) return { kind: 'incomplete' };
    if (b[0] === 0x50) {
      const st = prefixState(b, len, V1_PREFIX);
      if (st === 'mismatch') return { kind: 'none', bytes: b };
      if (st === 'partial') return { kind: 'incomplete' };
      return readV1(b, len);
    }
    if (b[0] === 0x0d) {
      const st = prefixState(b, len, PROXY_V2_SIGNATURE);
      if (st === 'mismatch') return { kind: 'none', bytes: b };
      if (st === 'partial' || len < 16) return { kind: 'incomplete' };
      return readV2(b, len);
    }
    return { kind: 'none', bytes: b };
  }
}

function readV1(b: Uint8Array, len: number): ProxyReadResult {
  const limit = Math.min(len, MAX_PROXY_V1_BYTES);
  let end = -1;
  for (let i = V1_PREFIX.length; i + 1 < limit; i++) {
    if (b[i] === 0x0d && b[i + 1] === 0x0a) {
      end = i;
      break;
    }
  }
  if (end < 0) {
    if (len >= MAX_PROXY_V1_BYTES) return error(`PROXY v1 header: no CRLF within ${MAX_PROXY_V1_BYTES} bytes`);
    return { kind: 'incomplete' };
  }
  const line = Buffer.from(b.buffer, b.byteOffset, end).toString('latin1');
  const rest = b.subarray(end + 2);
  const parts = line.split(' ');
  const proto = parts[1];
  if (proto === 'UNKNOWN') return { kind: 'ok', header: { version: 1, local: true }, rest };
  if (proto !== 'TCP4' && proto !== 'TCP6')
    return error(`PROXY v1 header: protocol "${printable(proto ?? '')}" (expected TCP4, TCP6 or UNKNOWN)`);
  if (parts.length !== 6) return error('PROXY v1 header: expected "PROXY TCPn SRC DST SRCPORT DSTPORT"');
  const family = proto === 'TCP4' ? 4 : 6;
  const [, , src, dst, sport, dport] = parts;
  if (isIP(src) !== family || isIP(dst) !== family)
    return error(`PROXY v1 header: addresses are not IPv${family} addresses`);
  const sp = port(sport);
  const dp = port(dport);
  if (sp < 0 || dp < 0) return error('PROXY v1 header: ports must be 0 to 65535');
  return {
    kind: 'ok',
    header: { version: 1, local: false, source: { address: src, port: sp }, destination: { address: dst, port: dp } },
    rest,
  };
}

function readV2(b: Uint8Array, len: number): ProxyReadResult {
  const verCmd = b[12];
  const fam = b[13];
  const bodyLen = (b[14] << 8) | b[15];
  const total = 16 + bodyLen;
  if (total > MAX_PROXY_V2_BYTES)
    return error(`PROXY v2 header of ${total} bytes (at most ${MAX_PROXY_V2_BYTES} are accepted)`);
  if (verCmd >> 4 !== 2) return error(`PROXY v2 header: version ${verCmd >> 4} (expected 2)`);
  const cmd = verCmd & 0x0f;
  if (cmd > 1) return error(`PROXY v2 header: unknown command ${cmd}`);
  if (len < total) return { kind: 'incomplete' };
  const rest = b.subarray(total);
  if (cmd === 0) return { kind: 'ok', header: { version: 2, local: true }, rest };
  const af = fam >> 4;
  const body = b.subarray(16, total);
  if (af === 1) {
    if (bodyLen < 12) return error('PROXY v2 header: too short for IPv4 addresses');
    const ip = (o: number): string => `${body[o]}.${body[o + 1]}.${body[o + 2]}.${body[o + 3]}`;
    return {
      kind: 'ok',
      header: {
        version: 2,
        local: false,
        source: { address: ip(0), port: (body[8] << 8) | body[9] },
        destination: { address: ip(4), port: (body[10] << 8) | body[11] },
      },
      rest,
    };
  }
  if (af === 2) {
    if (bodyLen < 36) return error('PROXY v2 header: too short for IPv6 addresses');
    const ip = (o: number): string => ipv6Text(body.subarray(o, o + 16));
    return {
      kind: 'ok',
      header: {
        version: 2,
        local: false,
        source: { address: ip(0), port: (body[32] << 8) | body[33] },
        destination: { address: ip(16), port: (body[34] << 8) | body[35] },
      },
      rest,
    };
  }
  // UNSPEC or UNIX: no IP address to take; the connection is the proxy's own.
  return { kind: 'ok', header: { version: 2, local: true }, rest };
}

/** RFC 5952 text of 16 address bytes (the longest run of zero groups as `::`); an IPv4-mapped address
 *  as its IPv4 dotted form, as a dual-stack socket would report the same client. */
export function ipv6Text(a: Uint8Array): string {
  const g: number[] = [];
  for (let i = 0; i < 16; i += 2) g.push((a[i] << 8) | a[i + 1]);
  if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff)
    return `${a[12]}.${a[13]}.${a[14]}.${a[15]}`;
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

function port(s: string): number {
  if (!/^\d{1,5}$/.test(s)) return -1;
  const n = Number(s);
  return n <= 65535 ? n : -1;
}

function printable(s: string): string {
  return s.replace(/[^\x20-\x7e]/g, '?').slice(0, 16);
}

function error(reason: string): ProxyReadResult {
  return { kind: 'error', reason };
}
