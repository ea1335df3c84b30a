// Per-connection request handling on a raw net.Socket: reads at most 16 KiB of request head within
// 5 s, parses it, and hands the parsed head to a dispatcher. Listeners are shared functions (no
// per-connection closures) to keep the memory per connected client small.

import type { Socket } from 'node:net';
import { MAX_HEAD_BYTES, parseRequestHead } from './parser.js';
import type { RequestHead } from './parser.js';
import { sendText } from './response.js';

export interface ConnectionHandler {
  /** Called once with the parsed head; the handler owns the socket from then on. */
  dispatch(socket: Socket, head: RequestHead): void;
  /** Head timeout, ms (default 5000). */
  readonly headTimeoutMs: number;
  /** Called on every bad/slow request (for logs/metrics). */
  rejected?(socket: Socket, status: number, reason: string): void;
}

interface ConnState {
  handler: ConnectionHandler;
  buf: Buffer | undefined;
  /** Bytes read after the head (discarded); a peer that keeps sending is cut off. */
  extra: number;
  /** Still reading the request head. */
  inHead: boolean;
}

const kConn = Symbol('mkvserve.conn');
type ConnSocket = Socket & { [kConn]?: ConnState };

/** Bytes a client may send after its request head before it is disconnected. */
const MAX_EXTRA_BYTES = 64 * 1024;

function onHeadData(this: ConnSocket, chunk: Buffer): void {
  const st = this[kConn];
  if (!st) return;
  const buf = st.buf === undefined ? chunk : Buffer.concat([st.buf, chunk]);
  const res = parseRequestHead(buf, MAX_HEAD_BYTES);
  if (res.kind === 'incomplete') {
    st.buf = buf;
    return;
  }
  st.buf = undefined;
  st.inHead = false;
  this.removeListener('data', onHeadData);
  this.on('data', onExtraData);
  if (res.kind === 'error') {
    st.handler.rejected?.(this, res.status, res.reason);
    this.setTimeout(st.handler.headTimeoutMs); // linger at most this long for the peer to close
    sendText(this, res.status, `${res.reason}\n`);
    return;
  }
  this.setTimeout(0);
  st.extra = buf.length - res.head.headLength;
  st.handler.dispatch(this, res.head);
}

function onExtraData(this: ConnSocket, chunk: Buffer): void {
  const st = this[kConn];
  if (!st) return;
  st.extra += chunk.length;
  if (st.extra > MAX_EXTRA_BYTES) this.destroy();
}

function onTimeout(this: ConnSocket): void {
  const st = this[kConn];
  if (st?.inHead) {
    st.inHead = false;
    st.handler.rejected?.(this, 408, 'request head timeout');
    if ((st.buf?.length ?? 0) > 0 && this.writable) {
      st.buf = undefined;
      sendText(this, 408, 'request timeout\n');
      this.setTimeout(500); // then destroyed by the next timeout
      return;
    }
  }
  this.destroy();
}

function onError(this: ConnSocket): void {
  // ECONNRESET/EPIPE: 'close' follows; the owner cleans up there.
}

function onEnd(this: ConnSocket): void {
  // The peer half-closed. Before a complete head that is the end of it; after, a short response
  // being written still completes (the server runs with allowHalfOpen). Streams: see StreamClient.
  if (this[kConn]?.inHead && !this.destroyed) this.destroy();
}

/** Starts handling a freshly accepted socket. */
export function acceptConnection(socket: Socket, handler: ConnectionHandler): void {
  const s = socket as ConnSocket;
  s[kConn] = { handler, buf: undefined, extra: 0, inHead: true };
  s.setNoDelay(true);
  s.setTimeout(handler.headTimeoutMs);
  s.on('timeout', onTimeout);
  s.on('error', onError);
  s.on('end', onEnd);
  s.on('data', onHeadData);
}

/** Disables the connection-level inactivity timeout (streaming responses have their own policy). */
export function clearTimeoutFor(socket: Socket): void {
  socket.setTimeout(0);
}
