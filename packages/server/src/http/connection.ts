// Per-connection request handling on a raw net.Socket. Hostile or forgetful clients must not hold
// connections, so every phase has a bound:
// - the head: at most 16 KiB, and a deadline for the WHOLE head counted from accept (not an inactivity
//   timer: a client dripping one byte a second gets its 408 like a silent one gets closed), parsed
//   incrementally (HeadReader: each byte scanned once);
// - a request that may carry a body: the socket is paused before the route sees the head, so nothing of
//   the body is read until the route takes it (./body.ts) or answers without it (then what the client
//   still sends is read and discarded, at most 64 KiB in at most 64 reads);
// - a finished response: there is no keep-alive, so once the response's last byte was handed to the
//   kernel the peer has `idleTimeoutMs` to close before the socket is destroyed (an absolute deadline:
//   a peer that keeps sending cannot extend it); a response that stops moving (a peer that does not
//   read) is cut after `idleTimeoutMs` without progress.
// - a PROXY protocol header (v1/v2, ./proxy-protocol.ts) before the head is read only from trusted
//   proxies (bounded: 107 bytes for v1, 4 KiB for v2, within the same head deadline) and gives the client
//   address (./client-address.ts); from any other peer it is answered 400.
// Listeners are shared functions and timers take the socket as argument (no per-connection closures),
// to keep the memory per connected client small.

import type { Socket } from 'node:net';
import { HeadReader, MAX_HEAD_BYTES } from './parser.js';
import type { RequestHead } from './parser.js';
import { sendText } from './response.js';
import { ProxyHeaderReader, startsLikeProxyHeader } from './proxy-protocol.js';
import { peerAddress, setClientAddress } from './client-address.js';

export interface ConnectionHandler {
  /** Called once with the parsed head; the handler owns the socket from then on. */
  dispatch(socket: Socket, head: RequestHead): void;
  /** Deadline for the whole request head, ms from accept (the server's default is 5000). */
  readonly headTimeoutMs: number;
  /**
   * How long a connection with nothing in flight is kept, ms: after its response was written, until the
   * peer closes; and while a request waits for its route to take its body. Default: `headTimeoutMs`.
   */
  readonly idleTimeoutMs?: number;
  /** Called on every bad/slow request (for logs/metrics). */
  rejected?(socket: Socket, status: number, reason: string): void;
  /**
   * True when the peer is a trusted proxy: its connections may start with a PROXY protocol header (v1
   * or v2) naming the client. From other peers such a header is answered 400. Called once per
   * connection; without it no peer is trusted.
   */
  trustsPeer?(socket: Socket): boolean;
  /**
   * Called once when the socket has closed (after the connection's own cleanup). Through this hook and
   * not a 'close' listener of its own: a socket's listeners for one event are kept in an array once
   * there are two, and V8 grows it to 20 slots at the third (~140 B per connection each time).
   */
  closed?(socket: Socket): void;
}

/**
 * - head: reading the request head (deadline timer running);
 * - held: head dispatched, the socket paused: the route may still take the body;
 * - body: the body belongs to a RequestBody (./body.ts), which reads the socket;
 * - open: whatever the client sends is read and discarded (bounded).
 */
type Phase = 'head' | 'held' | 'body' | 'open';

interface ConnState {
  handler: ConnectionHandler;
  phase: Phase;
  reader: HeadReader | undefined;
  /** Reading an optional PROXY header (trusted peers only, before the first byte of the head). */
  proxy: ProxyHeaderReader | undefined;
  /** Bytes read after the head and discarded, and in how many reads; a peer that keeps sending is cut off. */
  extra: number;
  extraReads: number;
  /** Bytes that arrived with the head, kept for the body while the request is held. */
  rest: Uint8Array | undefined;
  /** The head deadline, then the linger after a finished response. */
  timer: NodeJS.Timeout | undefined;
  /** How long a finished response waits for the peer to close. */
  lingerMs: number;
}

const kConn = Symbol('mkvserve.conn');
type ConnSocket = Socket & { [kConn]?: ConnState };

/** Bytes a client may send after its request head (or after its refused body) before it is disconnected. */
export const MAX_DISCARD_BYTES = 64 * 1024;
/** Reads of such bytes (each read costs the event loop, whatever its size: a one-byte dripper is cut). */
const MAX_DISCARD_READS = 64;
/** Linger after an error response (400/408/431/505): a bad client gets less time than a good one. */
const ERROR_LINGER_MS = 1000;
/** Methods whose requests are held (paused) for the route even without Content-Length/Transfer-Encoding:
 *  ffmpeg's icecast:// sends a PUT whose body is delimited only by the connection. */
const BODY_METHODS = new Set(['PUT', 'POST', 'PATCH', 'SOURCE']);

function idleMs(h: ConnectionHandler): number {
  return h.idleTimeoutMs ?? h.headTimeoutMs;
}

/** True when the head declares a body or uses a method that carries one. */
function mayHaveBody(head: RequestHead): boolean {
  if (head.headers.has('transfer-encoding')) return true;
  const cl = head.headers.get('content-length');
  if (cl !== undefined && cl !== '0') return true;
  return BODY_METHODS.has(head.method);
}

function clearTimer(st: ConnState): void {
  if (st.timer !== undefined) clearTimeout(st.timer);
  st.timer = undefined;
}

/** A bad head (or PROXY header): the error answer, then a short linger. */
function failHead(s: ConnSocket, st: ConnState, status: number, reason: string): void {
  st.reader = undefined;
  st.proxy = undefined;
  clearTimer(st);
  s.removeListener('data', onHeadData);
  startDiscarding(s, st, 0);
  st.handler.rejected?.(s, status, reason);
  respondError(s, st, status, `${reason}\n`);
}

function onHeadData(this: ConnSocket, chunk: Buffer): void {
  const st = this[kConn];
  if (!st || st.phase !== 'head') return;
  let data: Uint8Array = chunk;
  if (st.proxy !== undefined) {
    const p = st.proxy.push(chunk);
    if (p.kind === 'incomplete') return;
    st.proxy = undefined;
    if (p.kind === 'error') return failHead(this, st, 400, p.reason);
    if (p.kind === 'none') data = p.bytes;
    else {
      const src = p.header.source;
      if (!p.header.local && src) setClientAddress(this, src.address, src.port, 'proxy-protocol');
      if (p.rest.length === 0) return;
      data = p.rest;
    }
  } else if (st.reader === undefined && startsLikeProxyHeader(chunk)) {
    return failHead(
      this,
      st,
      400,
      `PROXY protocol header from ${peerAddress(this)}, which is not a trusted proxy: add it to server.trustedProxies, or do not send one`,
    );
  }
  st.reader ??= new HeadReader(MAX_HEAD_BYTES);
  const res = st.reader.push(data);
  if (res.kind === 'incomplete') return;
  if (res.kind === 'error') return failHead(this, st, res.status, res.reason);
  st.reader = undefined;
  clearTimer(st);
  this.removeListener('data', onHeadData);
  // onEnd acts while the head is read only; a stream client adds its own (at most two per event).
  this.removeListener('end', onEnd);
  const head = res.head;
  if (mayHaveBody(head)) {
    // Nothing more is read until the route decides (see takeRequestBody / discardRequestBody).
    st.phase = 'held';
    st.rest = res.rest.length > 0 ? res.rest : undefined;
    this.pause();
  } else {
    startDiscarding(this, st, res.rest.length);
  }
  st.handler.dispatch(this, head);
  if (this.destroyed) return;
  if (st.phase === 'held') {
    // Answered without taking the body: read and discard what follows (bounded). Otherwise the route
    // decides later (asynchronously): it has the idle timeout to do so.
    if (this.writableEnded) discardRequestBody(this);
    else this.setTimeout(idleMs(st.handler));
  }
  // A response that was written but is not flushed yet (a peer that does not read): cut it off when it
  // makes no progress. Streaming responses are not ended here and keep their own policy.
  if (this.writableEnded && !this.writableFinished) this.setTimeout(idleMs(st.handler));
}

function startDiscarding(s: ConnSocket, st: ConnState, already: number): void {
  st.phase = 'open';
  st.extra = already;
  st.extraReads = 0;
  s.on('data', onExtraData);
}

function onExtraData(this: ConnSocket, chunk: Buffer): void {
  const st = this[kConn];
  if (!st || st.phase !== 'open') return;
  st.extra += chunk.length;
  if (st.extra > MAX_DISCARD_BYTES || ++st.extraReads > MAX_DISCARD_READS) this.destroy();
}

/** Sends an error response for a bad or slow head; the connection lingers briefly for the peer to close. */
function respondError(s: ConnSocket, st: ConnState, status: number, text: string): void {
  st.lingerMs = Math.min(ERROR_LINGER_MS, idleMs(st.handler));
  if (s.writable) sendText(s, status, text);
  else s.destroy();
}

/** The whole head did not arrive in time: 408 when something was received, else just close. */
function onHeadDeadline(s: ConnSocket): void {
  const st = s[kConn];
  if (!st || st.phase !== 'head' || s.destroyed) return;
  st.timer = undefined;
  const received = (st.reader?.received ?? 0) + (st.proxy?.received ?? 0);
  st.reader = undefined;
  st.proxy = undefined;
  s.removeListener('data', onHeadData);
  startDiscarding(s, st, 0);
  const secs = st.handler.headTimeoutMs / 1000;
  st.handler.rejected?.(s, 408, `request head not complete within ${secs} s`);
  if (received > 0) respondError(s, st, 408, `request head not complete within ${secs} s\n`);
  else s.destroy();
}

/** Socket inactivity (armed only outside the head phase): a held request whose route never decided, or a
 *  response that stopped moving. A RequestBody handles its own idle timeout. */
function onTimeout(this: ConnSocket): void {
  if (this[kConn]?.phase === 'body') return;
  this.destroy();
}

/** The response was handed to the kernel in full: the peer has lingerMs to close its side. */
function onFinish(this: ConnSocket): void {
  const st = this[kConn];
  if (!st || this.destroyed) return;
  this.setTimeout(0);
  clearTimer(st);
  st.timer = setTimeout(onLingerEnd, st.lingerMs, this);
}

function onLingerEnd(s: ConnSocket): void {
  const st = s[kConn];
  if (st) st.timer = undefined;
  s.destroy();
}

function onClose(this: ConnSocket): void {
  const st = this[kConn];
  if (!st) return;
  clearTimer(st);
  st.reader = undefined;
  st.proxy = undefined;
  st.rest = undefined;
  st.handler.closed?.(this);
}

function onError(this: ConnSocket): void {
  // ECONNRESET/EPIPE: 'close' follows; the owner cleans up there.
}

function onEnd(this: ConnSocket): void {
  // The peer half-closed. Before a complete head that is the end of it; after, a short response
  // being written still completes (the server runs with allowHalfOpen). Streams: see StreamClient.
  if (this[kConn]?.phase === 'head' && !this.destroyed) this.destroy();
}

/** Starts handling a freshly accepted socket. */
export function acceptConnection(socket: Socket, handler: ConnectionHandler): void {
  const s = socket as ConnSocket;
  const st: ConnState = {
    handler,
    phase: 'head',
    reader: undefined,
    proxy: handler.trustsPeer?.(s) ? new ProxyHeaderReader() : undefined,
    extra: 0,
    extraReads: 0,
    rest: undefined,
    timer: undefined,
    lingerMs: idleMs(handler),
  };
  s[kConn] = st;
  s.setNoDelay(true);
  st.timer = setTimeout(onHeadDeadline, handler.headTimeoutMs, s);
  s.on('timeout', onTimeout);
  s.on('error', onError);
  s.on('end', onEnd);
  s.on('finish', onFinish);
  s.on('close', onClose);
  s.on('data', onHeadData);
}

/** Disables the connection-level inactivity timeout (streaming responses have their own policy). */
export function clearTimeoutFor(socket: Socket): void {
  socket.setTimeout(0);
}

/**
 * @internal For ./body.ts: hands the request's body to the caller. Returns the bytes that arrived with
 * the head (possibly empty); the socket is paused and the caller reads it from now on. Throws when the
 * body is gone: the request was already answered, or bytes after the head were already discarded.
 */
export function takeRequestBody(socket: Socket): Uint8Array {
  const s = socket as ConnSocket;
  const st = s[kConn];
  if (!st) throw new Error('takeRequestBody: not a connection accepted by acceptConnection()');
  if (st.phase === 'open' && st.extra === 0) {
    s.removeListener('data', onExtraData);
    s.pause();
  } else if (st.phase !== 'held') {
    throw new Error(`takeRequestBody: the request body is no longer available (${st.phase})`);
  }
  st.phase = 'body';
  s.setTimeout(0);
  const rest = st.rest ?? new Uint8Array(0);
  st.rest = undefined;
  return rest;
}

/**
 * @internal For ./body.ts and routes that answer without taking the body: what the client still sends
 * is read and discarded (at most MAX_DISCARD_BYTES, then the connection is cut), so that the answer
 * reaches a client that is still sending instead of being lost to a reset.
 */
export function discardRequestBody(socket: Socket): void {
  const s = socket as ConnSocket;
  const st = s[kConn];
  if (!st || st.phase === 'open' || s.destroyed) return;
  s.setTimeout(0);
  startDiscarding(s, st, st.rest?.length ?? 0);
  st.rest = undefined;
  s.resume();
}

/** @internal The idle timeout configured for this connection (ms). */
export function connectionIdleTimeout(socket: Socket): number {
  const st = (socket as ConnSocket)[kConn];
  return st ? idleMs(st.handler) : 5000;
}
