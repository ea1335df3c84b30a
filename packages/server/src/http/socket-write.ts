// Writes a viewer's bytes straight to its TCP handle, under net.Socket's Writable. Why: the flusher
// polls its clients and writes each one once per interval, so the Writable's buffer, its per-write
// state and its after-write tick buy nothing there; writing under it took 5-7 % off the serving CPU on
// the load benchmark (server README, "Under the Writable"). Backpressure is read from libuv's own write
// queue instead: a socket with bytes still queued there (the kernel's buffer was full) waits, as it
// waited for 'writableNeedDrain' before.
//
// This uses two Node internals: net.Socket#_writeGeneric (what the Writable's _write calls) and the
// TCP handle's writeQueueSize (Node 10 to 24). Whether a socket is written under its Writable is
// decided once, when its writer takes it over (canWriteDirect): one that lacks either internal, is
// still connecting, has ended, or has bytes in its Writable (which a direct write would overtake) is
// written through the Writable: the same bytes in the same order. test/socket-write.test.ts runs both.

import type { Socket } from 'node:net';

/** The Node internals used here, as far as this module relies on them. */
interface HandleSocket {
  _handle?: { writeQueueSize?: number } | null;
  _writeGeneric?: (writev: boolean, data: unknown, encoding: string, cb: (err?: Error | null) => void) => void;
}

/** A chunk list as _writeGeneric's writev takes it (the Writable's own format). */
type WritevChunks = { chunk: Uint8Array }[] & { allBuffers?: boolean };

/** What a write did: the kernel took it all ('sent'), or part waits in a queue ('queued': libuv's,
 *  or the Writable's buffer past its high-water mark), or the kernel refused it (the Error: the peer is
 *  gone, destroy the socket). */
export type WriteResult = 'sent' | 'queued' | Error;

/** Set by the callback of the write in progress: it is called synchronously unless the write went
 *  async (part of it queued in libuv), with an error when the kernel refused it. A late call (an async
 *  write completing) changes nothing that is read: both are reset before each write. */
let called = false;
let failure: Error | undefined;
function onWritten(err?: Error | null): void {
  called = true;
  if (err) failure = err;
}

/**
 * True when `s` can be written under its Writable (see the header): it has the internals, it is
 * connected and open, and its Writable holds nothing (bytes there would be overtaken). Asked once,
 * when a viewer is attached: from then on its writes go through this module only, so the Writable
 * stays empty until the response ends (socket.end(), after which nothing is written).
 */
export function canWriteDirect(s: Socket): boolean {
  const h = s as Socket & HandleSocket;
  const handle = h._handle;
  // (`in`, not a read: writeQueueSize is a native accessor.)
  return (
    typeof h._writeGeneric === 'function' &&
    handle != null &&
    'writeQueueSize' in handle &&
    !s.connecting &&
    !s.writableEnded &&
    s.writableLength === 0
  );
}

/** `direct` (canWriteDirect) and still open: write under the Writable. (A destroyed socket has no
 *  handle; its Writable then discards the write.) */
function useHandle(s: Socket, direct: boolean): boolean {
  return direct && (s as Socket & HandleSocket)._handle != null;
}

/** The socket was destroyed. For a direct one this reads its handle, not `destroyed` (which reads both
 *  stream states: one more object per viewer to bring into the cache on every write). */
export function isDestroyed(s: Socket, direct: boolean): boolean {
  return direct ? (s as Socket & HandleSocket)._handle == null : s.destroyed;
}

/** One write (or writev) under the Writable, and what it did. */
function dispatch(s: Socket, writev: boolean, data: unknown, encoding: string): WriteResult {
  called = false;
  failure = undefined;
  (s as Socket & HandleSocket)._writeGeneric!(writev, data, encoding, onWritten);
  const err = failure;
  failure = undefined;
  if (err !== undefined) return err;
  return called ? 'sent' : 'queued';
}

/** Writes one buffer (as writeParts). */
export function writeBytes(s: Socket, b: Uint8Array, direct: boolean): WriteResult {
  if (!useHandle(s, direct)) return s.write(b) ? 'sent' : 'queued';
  return dispatch(s, false, b, 'buffer');
}

/**
 * Writes parts[0 .. n) in order, as one write (one part) or one writev (several): under the Writable
 * when `direct` (canWriteDirect() said so when this socket's writer took it over), else through it.
 * 'queued': write no more before mustWait(s) is false. An error found later, after a write went async,
 * is not reported; the next write gets one.
 */
export function writeParts(s: Socket, parts: readonly Uint8Array[], direct: boolean, n = parts.length): WriteResult {
  if (n <= 0) return 'sent';
  if (n === 1) return writeBytes(s, parts[0], direct);
  if (!useHandle(s, direct)) {
    s.cork();
    let ok = true;
    for (let k = 0; k < n; k++) ok = s.write(parts[k]);
    s.uncork();
    return ok ? 'sent' : 'queued';
  }
  // A new list each time: an async writev keeps it (and so the buffers) until the kernel took them.
  const chunks: WritevChunks = new Array(n);
  for (let k = 0; k < n; k++) chunks[k] = { chunk: parts[k] };
  chunks.allBuffers = true;
  return dispatch(s, true, chunks, '');
}

/** Bytes handed to `s` that the kernel has not taken yet are waiting (in libuv's queue, or enough of
 *  them in the Writable's buffer to need 'drain'): write nothing more before they are gone. Only worth
 *  asking after a write that returned 'queued' (it reads a native accessor). */
export function mustWait(s: Socket): boolean {
  if (s.writableNeedDrain) return true;
  const q = (s as Socket & HandleSocket)._handle?.writeQueueSize;
  return q !== undefined && q > 0;
}
