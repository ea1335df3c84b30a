// Request bodies, for routes that accept uploads (push ingest: `PUT`/`POST /<mount>` from ffmpeg, curl,
// GStreamer). A route handler, given the parsed head, either refuses the request (refuseRequest: a final
// response, never a `100 Continue`, and nothing of the body read into memory: ./connection.ts holds such
// requests paused until the route decides) or accepts it (acceptBody: `100 Continue` when the client asked
// for it, then the body as an async iterable of chunks). The body may be framed by Content-Length, by
// chunked coding (decoded incrementally, ./chunked.ts), or, for routes that opt in, only by the end of
// the connection (ffmpeg's icecast:// sends a PUT with neither). Reading applies backpressure (the socket
// is paused while the consumer is behind by highWaterMark bytes) and an idle timeout while the client is
// silent; there is never a limit on the total duration (a live source streams for days).

import type { Socket } from 'node:net';
import type { RequestHead } from './parser.js';
import { ChunkedDecoder, ChunkedError } from './chunked.js';
import { connectionIdleTimeout, discardRequestBody, takeRequestBody } from './connection.js';
import { CONTINUE_100, sendText } from './response.js';
import type { HeaderList } from './response.js';

export type BodyFraming =
  /** No body (no Content-Length and no Transfer-Encoding, or Content-Length: 0). */
  | { kind: 'none' }
  /** Content-Length bytes. */
  | { kind: 'length'; length: number }
  /** Transfer-Encoding: chunked. */
  | { kind: 'chunked' }
  /** Until the client ends its side of the connection (only for routes that allow it). */
  | { kind: 'close' };

/** A head whose body cannot be read: the status to answer and why. */
export interface FramingRefusal {
  kind: 'refuse';
  status: 400 | 413 | 417 | 501;
  reason: string;
}

export interface BodyOptions {
  /**
   * Take a request with neither Content-Length nor Transfer-Encoding as a body that ends when the client
   * ends its side of the connection (ffmpeg's `icecast://`). Default false: such a request has no body
   * (RFC 9112 section 6.3).
   */
  untilClose?: boolean;
  /** Largest Content-Length accepted (default: no limit); larger gets 413 before any 100 Continue. */
  maxLength?: number;
  /** Longest silence of the client while its body is being read, ms (default 10 000); never a total duration. */
  idleTimeoutMs?: number;
  /** Bytes read ahead of the consumer before the socket is paused (default 256 KiB). */
  highWaterMark?: number;
  /** Bounds of the chunked coding: chunk-size line and trailer section bytes (defaults 4096 and 16 KiB). */
  maxChunkLineBytes?: number;
  maxTrailerBytes?: number;
}

export type BodyErrorCode =
  /** The head's framing is unusable (answered with 400/413/417/501 by acceptBody). */
  | 'BAD_FRAMING'
  /** Malformed chunked coding (answered with 400). */
  | 'BAD_CHUNK'
  /** The client sent nothing for idleTimeoutMs (answered with 408). */
  | 'TIMEOUT'
  /** The client closed or reset the connection before the body's end. */
  | 'ABORTED'
  /** The route answered or destroyed the request before the body's end. */
  | 'CLOSED';

/** A request body that could not be read to its end. `offset`: body bytes (as sent) read when it happened. */
export class BodyError extends Error {
  readonly code: BodyErrorCode;
  readonly offset: number;
  constructor(code: BodyErrorCode, offset: number, message: string) {
    super(message);
    this.name = 'BodyError';
    this.code = code;
    this.offset = offset;
  }
}

export const DEFAULT_BODY_IDLE_TIMEOUT_MS = 10_000;
export const DEFAULT_BODY_HIGH_WATER_MARK = 256 * 1024;
/** Content-Length values with more digits than this are refused (413) before being converted. */
const MAX_LENGTH_DIGITS = 15;

/** True when an HTTP/1.1 client asked for `100 Continue` before sending its body (RFC 9110 10.1.1). */
export function expectsContinue(head: RequestHead): boolean {
  return head.version === 'HTTP/1.1' && (head.headers.get('expect') ?? '').trim().toLowerCase() === '100-continue';
}

/** What the head says about its body (RFC 9112 section 6), or why it cannot be read. */
export function requestBodyFraming(
  head: RequestHead,
  opts: Pick<BodyOptions, 'untilClose' | 'maxLength'> = {},
): BodyFraming | FramingRefusal {
  const expect = head.headers.get('expect');
  if (expect !== undefined && head.version === 'HTTP/1.1' && expect.trim().toLowerCase() !== '100-continue')
    return { kind: 'refuse', status: 417, reason: `unsupported expectation "${expect}" (only 100-continue)` };
  const te = head.headers.get('transfer-encoding');
  const cl = head.headers.get('content-length');
  if (te !== undefined) {
    if (cl !== undefined)
      return { kind: 'refuse', status: 400, reason: 'both Content-Length and Transfer-Encoding (send one)' };
    const codings = te
      .split(',')
      .map((s) => s.trim().toLowerCase())
      .filter((s) => s !== '');
    if (codings[codings.length - 1] !== 'chunked')
      return { kind: 'refuse', status: 400, reason: `Transfer-Encoding "${te}" does not end with chunked` };
    if (codings.length > 1)
      return { kind: 'refuse', status: 501, reason: `Transfer-Encoding "${te}" is not supported (only chunked)` };
    return { kind: 'chunked' };
  }
  if (cl !== undefined) {
    const values = cl.split(',').map((s) => s.trim());
    if (values.some((v) => !/^\d+$/.test(v) || v !== values[0]))
      return { kind: 'refuse', status: 400, reason: `invalid Content-Length "${cl}"` };
    if (values[0].replace(/^0+(?=\d)/, '').length > MAX_LENGTH_DIGITS)
      return { kind: 'refuse', status: 413, reason: `Content-Length ${values[0]} is too large` };
    const length = Number(values[0]);
    if (opts.maxLength !== undefined && length > opts.maxLength)
      return { kind: 'refuse', status: 413, reason: `Content-Length ${length} is larger than ${opts.maxLength} bytes` };
    return length === 0 ? { kind: 'none' } : { kind: 'length', length };
  }
  return opts.untilClose ? { kind: 'close' } : { kind: 'none' };
}

/**
 * Answers a request without reading its body: a final response (`Connection: close`), never preceded
 * by `100 Continue`, so a client that waits for it (ffmpeg, curl) sends no body at all. What a client
 * sends anyway is read and discarded (at most 64 KiB), so that it sees the answer instead of a reset.
 * Use it for 401 (with `basicChallenge()`), 404, 409, 415 and the like.
 */
export function refuseRequest(
  socket: Socket,
  head: RequestHead,
  status: number,
  text: string,
  headers: HeaderList = [],
): void {
  sendText(socket, status, text.endsWith('\n') ? text : `${text}\n`, head.method === 'HEAD', headers);
  discardRequestBody(socket);
}

/**
 * Accepts the request's body. Sends `HTTP/1.1 100 Continue` when the client asked for it (and nothing of
 * the body came yet), and returns the body to iterate. Must be called while the request is still held
 * (synchronously in `dispatch`, or later before the connection's idle timeout). A head whose framing
 * cannot be read (see requestBodyFraming) is answered here (400/413/417/501) and the returned body fails
 * with BAD_FRAMING.
 */
export function acceptBody(socket: Socket, head: RequestHead, opts: BodyOptions = {}): RequestBody {
  const framing = requestBodyFraming(head, opts);
  if (framing.kind === 'refuse') {
    refuseRequest(socket, head, framing.status, framing.reason);
    return new RequestBody(socket, { kind: 'none' }, new Uint8Array(0), opts, framing.reason);
  }
  const rest = takeRequestBody(socket);
  if (framing.kind !== 'none' && rest.length === 0 && expectsContinue(head) && socket.writable)
    socket.write(CONTINUE_100);
  return new RequestBody(socket, framing, rest, opts);
}

type BodyState = 'reading' | 'done' | 'failed';

interface Waiter {
  resolve(r: IteratorResult<Uint8Array>): void;
  reject(e: BodyError): void;
}

/**
 * An accepted request body: iterate it once (`for await (const chunk of body)`) to get its bytes in
 * order, as views of what the socket read (do not keep them after modifying nothing: they are not
 * copied). The iteration ends at the body's end, or throws a BodyError. When it ended, or to stop early,
 * answer with respond(); destroy() cuts the connection.
 */
export class RequestBody implements AsyncIterable<Uint8Array> {
  readonly framing: BodyFraming;
  readonly socket: Socket;
  readonly idleTimeoutMs: number;
  readonly highWaterMark: number;
  /** Body bytes as sent so far (chunked: with its coding). */
  wireBytes = 0;
  /** Body bytes decoded so far (delivered or queued). */
  bytesReceived = 0;
  /** Trailer fields of a chunked body, once it ended. */
  trailers: Map<string, string> | undefined;
  /** Why the body failed, once it did. */
  error: BodyError | undefined;
  private state: BodyState = 'reading';
  private responded = false;
  private iterated = false;
  private readonly queue: Uint8Array[] = [];
  private queueHead = 0;
  private queuedBytes = 0;
  private waiter: Waiter | undefined;
  private remaining = 0;
  private readonly decoder: ChunkedDecoder | undefined;
  /** Paused by us because the consumer is behind (the idle timer is off meanwhile). */
  private backpressured = false;
  private readonly onDataFn = (chunk: Buffer): void => this.onData(chunk);
  private readonly onEndFn = (): void => this.onEnd();
  private readonly onCloseFn = (): void => this.onClose();
  private readonly onTimeoutFn = (): void => this.onIdle();
  private onComplete: (() => void) | undefined;

  /** @internal Use acceptBody(). */
  constructor(socket: Socket, framing: BodyFraming, rest: Uint8Array, opts: BodyOptions, refused?: string) {
    this.socket = socket;
    this.framing = framing;
    this.idleTimeoutMs = opts.idleTimeoutMs ?? DEFAULT_BODY_IDLE_TIMEOUT_MS;
    this.highWaterMark = Math.max(1, opts.highWaterMark ?? DEFAULT_BODY_HIGH_WATER_MARK);
    if (refused !== undefined) {
      this.responded = true;
      this.state = 'failed';
      this.error = new BodyError('BAD_FRAMING', 0, refused);
      return;
    }
    if (framing.kind === 'chunked')
      this.decoder = new ChunkedDecoder({
        maxLineBytes: opts.maxChunkLineBytes,
        maxTrailerBytes: opts.maxTrailerBytes,
      });
    if (framing.kind === 'length') this.remaining = framing.length;
    if (framing.kind === 'none') {
      this.finish();
      return;
    }
    socket.on('data', this.onDataFn);
    socket.on('end', this.onEndFn);
    socket.on('close', this.onCloseFn);
    socket.on('timeout', this.onTimeoutFn);
    socket.setTimeout(this.idleTimeoutMs);
    if (rest.length > 0) this.onData(rest);
    if (this.state === 'reading' && !this.backpressured) socket.resume();
  }

  /** True once the whole body was received (it may still be queued for the consumer). */
  get complete(): boolean {
    return this.state === 'done';
  }

  /**
   * Calls `cb` once, when the whole body has been received (it may still be queued for the consumer),
   * or at once when it already was; never when the body fails. A route that paces its consumer (push
   * ingest) answers here, so the client is not kept waiting (and cut by the idle timeout) while the
   * last queued bytes are consumed.
   */
  whenComplete(cb: () => void): void {
    if (this.state === 'done') cb();
    else if (this.state === 'reading') this.onComplete = cb;
  }

  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    if (this.iterated) throw new Error('a request body can be iterated only once');
    this.iterated = true;
    return {
      next: () => this.next(),
      return: () => {
        // The consumer stopped early: read no more of the body (the route answers, or the idle timer cuts).
        if (this.state === 'reading') this.fail('CLOSED', 'the consumer stopped reading the body');
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }

  /**
   * Sends the final response (`Connection: close`) once. Before the body's end this also stops reading
   * it (the iteration fails with CLOSED): what the client still sends is discarded, bounded, and the
   * connection is closed after the response.
   */
  respond(status: number, text: string, headers: HeaderList = []): void {
    if (this.responded) return;
    this.responded = true;
    if (this.state === 'reading') this.fail('CLOSED', `the request was answered (${status}) before its body ended`);
    this.detach();
    if (this.socket.destroyed) return;
    sendText(this.socket, status, text.endsWith('\n') ? text : `${text}\n`, false, headers);
    discardRequestBody(this.socket);
    // A response that does not move (a client that does not read) is cut after the idle timeout.
    this.socket.setTimeout(connectionIdleTimeout(this.socket));
  }

  /** Cuts the connection now (the iteration fails with CLOSED if the body had not ended). */
  destroy(): void {
    if (this.state === 'reading') this.fail('CLOSED', 'the request was destroyed before its body ended');
    this.detach();
    this.socket.destroy();
  }

  private next(): Promise<IteratorResult<Uint8Array>> {
    if (this.queueHead < this.queue.length) return Promise.resolve({ value: this.shift(), done: false });
    if (this.state === 'done') return Promise.resolve({ value: undefined, done: true });
    if (this.state === 'failed') return Promise.reject(this.error!);
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  private shift(): Uint8Array {
    const part = this.queue[this.queueHead];
    this.queue[this.queueHead++] = undefined as unknown as Uint8Array;
    if (this.queueHead === this.queue.length) {
      this.queue.length = 0;
      this.queueHead = 0;
    }
    this.queuedBytes -= part.length;
    if (this.backpressured && this.queuedBytes < this.highWaterMark / 2 && this.state === 'reading') {
      this.backpressured = false;
      this.socket.setTimeout(this.idleTimeoutMs);
      this.socket.resume();
    }
    return part;
  }

  private enqueue(part: Uint8Array): void {
    if (part.length === 0) return;
    this.bytesReceived += part.length;
    const w = this.waiter;
    if (w && this.queueHead === this.queue.length) {
      this.waiter = undefined;
      w.resolve({ value: part, done: false });
      return;
    }
    this.queue.push(part);
    this.queuedBytes += part.length;
  }

  private readonly enqueueFn = (part: Uint8Array): void => this.enqueue(part);

  private onData(chunk: Uint8Array): void {
    if (this.state !== 'reading') return;
    switch (this.framing.kind) {
      case 'length': {
        const used = Math.min(this.remaining, chunk.length);
        this.enqueue(used === chunk.length ? chunk : chunk.subarray(0, used));
        this.remaining -= used;
        this.wireBytes += used;
        if (this.remaining === 0) this.finish();
        break;
      }
      case 'chunked': {
        const d = this.decoder!;
        try {
          d.push(chunk, this.enqueueFn); // bytes after the body's end are left unread (discarded later)
        } catch (e) {
          if (!(e instanceof ChunkedError)) throw e;
          this.wireBytes = d.offset;
          this.fail('BAD_CHUNK', `malformed chunked body: ${e.message}`, 400);
          return;
        }
        this.wireBytes = d.offset;
        if (d.done) {
          this.trailers = d.trailers;
          this.finish();
        }
        break;
      }
      default:
        this.enqueue(chunk);
        this.wireBytes += chunk.length;
    }
    if (this.state === 'reading' && this.queuedBytes >= this.highWaterMark && !this.backpressured) {
      this.backpressured = true;
      this.socket.setTimeout(0);
      this.socket.pause();
    }
  }

  private onEnd(): void {
    if (this.state !== 'reading') return;
    if (this.framing.kind === 'close') {
      this.finish();
      return;
    }
    const what =
      this.framing.kind === 'length'
        ? `${this.wireBytes} of ${this.framing.length} bytes`
        : `${this.wireBytes} bytes, before the last chunk`;
    this.fail('ABORTED', `the client ended the connection after ${what} of the body`);
    this.socket.destroy();
  }

  private onClose(): void {
    if (this.state === 'reading')
      this.fail('ABORTED', `the connection was closed after ${this.wireBytes} bytes of the body`);
    this.detach();
  }

  private onIdle(): void {
    if (this.state === 'reading') {
      if (this.backpressured) return;
      this.fail('TIMEOUT', `no body data for ${this.idleTimeoutMs / 1000} s`, 408);
    } else if (!this.responded) {
      // Finished or failed, and the route never answered: nothing is in flight any more.
      this.socket.destroy();
    }
  }

  /** The body ended. Bytes the client sent after it are discarded with whatever else comes. */
  private finish(): void {
    this.state = 'done';
    this.socket.removeListener('data', this.onDataFn);
    // Whatever the client sends after the body is discarded (bounded) while the route answers; a
    // route that never answers is cut after the idle timeout.
    discardRequestBody(this.socket);
    this.socket.setTimeout(this.idleTimeoutMs);
    const w = this.waiter;
    if (w && this.queueHead === this.queue.length) {
      this.waiter = undefined;
      w.resolve({ value: undefined, done: true });
    }
    const cb = this.onComplete;
    this.onComplete = undefined;
    cb?.();
  }

  private fail(code: BodyErrorCode, message: string, status?: number): void {
    if (this.state !== 'reading') return;
    this.state = 'failed';
    this.error = new BodyError(code, this.wireBytes, message);
    this.onComplete = undefined;
    this.socket.removeListener('data', this.onDataFn);
    // Queued data is dropped (the body is unusable past this point), except when the client went away:
    // what arrived before is intact and is still delivered, then the error (a live source that was
    // killed keeps its last bytes: push ingest).
    if (code !== 'ABORTED') {
      this.queue.length = 0;
      this.queueHead = 0;
      this.queuedBytes = 0;
    }
    const w = this.waiter;
    this.waiter = undefined;
    if (status !== undefined && !this.responded) this.respond(status, message);
    else if (!this.socket.destroyed) {
      // Read nothing more until the route answers; a route that never does is cut after the idle timeout.
      this.socket.pause();
      this.socket.setTimeout(this.idleTimeoutMs);
    }
    w?.reject(this.error);
  }

  private detach(): void {
    this.socket.removeListener('data', this.onDataFn);
    this.socket.removeListener('end', this.onEndFn);
    this.socket.removeListener('close', this.onCloseFn);
    this.socket.removeListener('timeout', this.onTimeoutFn);
  }
}
