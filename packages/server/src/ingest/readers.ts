// One connected source's bytes, whatever carries them: a plain TCP socket (TCP listen ingest) or an HTTP
// request body (push ingest, ../http/body.ts). Both read with backpressure (the socket is paused while
// the consumer is behind by a high-water mark, and the idle timer is off meanwhile: a paced source is not
// idle) and an idle timeout while the source is silent; never a limit on the total duration. The end of
// the bytes says why: a clean end, the peer gone mid-stream, silence, or closed by us.

import type { Socket } from 'node:net';
import { BodyError } from '../http/body.js';
import type { RequestBody } from '../http/body.js';
import type { HeaderList } from '../http/response.js';

/** How a source's bytes ended. */
export type ReadEnd =
  /** The source ended its stream (HTTP: the body's end; TCP: the peer's FIN). */
  | 'end'
  /** The connection was reset or closed before the body's end (a killed HTTP client). */
  | 'aborted'
  /** Nothing arrived for the idle timeout. */
  | 'timeout'
  /** The body could not be read (malformed chunked coding; answered 400 by the HTTP layer). */
  | 'invalid'
  /** We closed it. */
  | 'closed';

export type ReadResult = { chunk: Uint8Array; end?: undefined } | { chunk?: undefined; end: ReadEnd; message: string };

export interface ChunkReader {
  /** The next chunk (a view: not copied), or how the bytes ended. Never rejects. */
  next(): Promise<ReadResult>;
  /** Final answer to the source where the protocol has one (HTTP), then the connection is closed. */
  finish(status: number, text: string, headers?: HeaderList): void;
  /** Stops reading and cuts the connection. */
  close(): void;
  /** Bytes received so far (HTTP: of the body, decoded). */
  readonly received: number;
  /** HTTP: calls `cb` once the whole body has been received (it may still be queued). */
  whenComplete?(cb: () => void): void;
}

/** The body of one accepted HTTP request. */
export class BodyReader implements ChunkReader {
  private readonly body: RequestBody;
  private readonly it: AsyncIterator<Uint8Array>;
  private done: ReadResult | undefined;

  constructor(body: RequestBody) {
    this.body = body;
    this.it = body[Symbol.asyncIterator]();
  }

  get received(): number {
    return this.body.bytesReceived;
  }

  async next(): Promise<ReadResult> {
    if (this.done) return this.done;
    try {
      const r = await this.it.next();
      if (!r.done) return { chunk: r.value };
      this.done = { end: 'end', message: 'the request body ended' };
    } catch (err) {
      if (!(err instanceof BodyError)) throw err;
      const end: ReadEnd =
        err.code === 'TIMEOUT'
          ? 'timeout'
          : err.code === 'ABORTED'
            ? 'aborted'
            : err.code === 'CLOSED'
              ? 'closed'
              : 'invalid';
      this.done = { end, message: err.message };
    }
    return this.done;
  }

  whenComplete(cb: () => void): void {
    this.body.whenComplete(cb);
  }

  finish(status: number, text: string, headers: HeaderList = []): void {
    this.body.respond(status, text, headers);
  }

  close(): void {
    // A body that ended with a reason was answered by the HTTP layer (408, 400) or is gone: leave it be.
    if (this.done === undefined) this.body.destroy();
  }
}

const SOCKET_HIGH_WATER_MARK = 256 * 1024;

/** The bytes of a plain TCP connection, until the peer's FIN. */
export class SocketReader implements ChunkReader {
  received = 0;
  private readonly socket: Socket;
  private readonly idleTimeoutMs: number;
  private readonly queue: Uint8Array[] = [];
  private queued = 0;
  private paused = false;
  private ended: ReadResult | undefined;
  private waiter: ((r: ReadResult) => void) | undefined;

  constructor(socket: Socket, idleTimeoutMs: number) {
    this.socket = socket;
    this.idleTimeoutMs = idleTimeoutMs;
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('end', () => this.stop({ end: 'end', message: 'the source closed the connection' }));
    socket.on('close', () =>
      this.stop({ end: 'aborted', message: `the connection was closed after ${this.received} bytes` }),
    );
    socket.on('error', () => {}); // 'close' follows
    socket.on('timeout', () => {
      if (this.paused) return;
      this.stop({ end: 'timeout', message: `no data for ${idleTimeoutMs / 1000} s` });
      socket.destroy();
    });
    socket.setTimeout(idleTimeoutMs);
    socket.resume();
  }

  next(): Promise<ReadResult> {
    if (this.queue.length > 0) {
      const chunk = this.queue.shift()!;
      this.queued -= chunk.length;
      if (this.paused && this.queued < SOCKET_HIGH_WATER_MARK / 2 && !this.ended) {
        this.paused = false;
        this.socket.setTimeout(this.idleTimeoutMs);
        this.socket.resume();
      }
      return Promise.resolve({ chunk });
    }
    if (this.ended) return Promise.resolve(this.ended);
    return new Promise((resolve) => (this.waiter = resolve));
  }

  finish(): void {
    this.close();
  }

  close(): void {
    this.stop({ end: 'closed', message: 'closed by the server' });
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    if (this.ended) return;
    this.received += chunk.length;
    const w = this.waiter;
    if (w) {
      this.waiter = undefined;
      w({ chunk });
      return;
    }
    this.queue.push(chunk);
    this.queued += chunk.length;
    if (this.queued >= SOCKET_HIGH_WATER_MARK && !this.paused) {
      this.paused = true;
      this.socket.setTimeout(0);
      this.socket.pause();
    }
  }

  private stop(r: ReadResult): void {
    if (this.ended) return;
    this.ended = r;
    this.socket.setTimeout(0);
    const w = this.waiter;
    this.waiter = undefined;
    // Bytes still queued are delivered first; the end comes after them.
    w?.(r);
  }
}
