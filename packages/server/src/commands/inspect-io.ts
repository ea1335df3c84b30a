// The plumbing of `mkvserve inspect` (and `remux`): buffered output that survives a closed pipe, the
// error bookkeeping behind the exit codes, and the pump that sniffs the input before feeding a parser.
import { sniffContainer } from '@mkvserve/ebml';
import type { EbmlError } from '@mkvserve/ebml';
import type { Input } from '../inputs/open.js';

/** Exit codes of inspect (and remux). */
export const EXIT_OK = 0;
export const EXIT_ERROR = 1;
export const EXIT_DAMAGED = 2;

/** Errors printed before the rest are only counted. */
const MAX_PRINTED_ERRORS = 50;

/** Buffered text output with backpressure; a closed pipe (EPIPE, `| head`) sets `closed` instead of crashing. */
export class Output {
  private buf: string[] = [];
  private bytes = 0;
  private readonly stream: NodeJS.WritableStream;
  /** True once the reader went away (EPIPE) or the stream failed: stop producing output. */
  closed = false;
  error: Error | undefined;

  constructor(stream: NodeJS.WritableStream = process.stdout) {
    this.stream = stream;
    stream.on('error', (err: NodeJS.ErrnoException) => {
      this.closed = true;
      if (err.code !== 'EPIPE' && err.code !== 'ERR_STREAM_DESTROYED') this.error = err;
    });
  }

  write(s: string): void {
    if (this.closed) return;
    this.buf.push(s);
    this.bytes += s.length;
  }

  /** Hands what is buffered to the stream now, without waiting (keeps stdout and stderr lines in order). */
  flushSync(): void {
    if (this.closed || this.buf.length === 0) return;
    const text = this.buf.join('');
    this.buf = [];
    this.bytes = 0;
    this.stream.write(text);
  }

  /** Writes what is buffered; waits for 'drain' when the stream asks for it. */
  async flush(): Promise<void> {
    if (this.closed || this.buf.length === 0) {
      this.buf = [];
      this.bytes = 0;
      return;
    }
    const text = this.buf.join('');
    this.buf = [];
    this.bytes = 0;
    if (!this.stream.write(text)) await waitDrain(this.stream, () => this.closed);
  }

  /** Flushes and waits until the stream has taken everything. */
  async end(): Promise<void> {
    await this.flush();
    if (this.closed) return;
    await new Promise<void>((resolve) => {
      this.stream.write('', () => resolve());
    });
  }
}

/** Waits for 'drain' (or error/close) on a stream. */
export function waitDrain(stream: NodeJS.WritableStream, isClosed: () => boolean = () => false): Promise<void> {
  if (isClosed()) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const done = (): void => {
      stream.off('drain', done);
      stream.off('error', done);
      stream.off('close', done);
      resolve();
    };
    stream.on('drain', done);
    stream.on('error', done);
    stream.on('close', done);
  });
}

/** State shared by the output modes of one inspect run. */
export interface Ctx {
  out: Output;
  err: Output;
  errors: EbmlError[];
  printedErrors: number;
  notMatroska: string | undefined;
  stop: boolean;
}

export function reportError(ctx: Ctx, e: EbmlError): void {
  if (e.code === 'NOT_MATROSKA') {
    ctx.notMatroska ??= e.message;
    ctx.stop = true;
    return;
  }
  ctx.errors.push(e);
  if (ctx.printedErrors < MAX_PRINTED_ERRORS) {
    ctx.printedErrors++;
    ctx.out.flushSync();
    ctx.err.write(`mkvserve: ${e.fatal ? 'error' : 'damaged input'}: ${e.code}: ${e.message}\n`);
    ctx.err.flushSync();
  }
  if (e.fatal) ctx.stop = true;
}

/** Reads the whole input into `push`, first checking (sniffing) that it is Matroska. */
export async function pump(
  input: Input,
  ctx: Ctx,
  push: (c: Uint8Array) => void,
  end: () => void,
  afterChunk?: () => void,
): Promise<void> {
  let head: Uint8Array[] | undefined = [];
  let headBytes = 0;
  const sniffAndFlush = (): boolean => {
    const first = head!.length === 1 ? head![0] : Buffer.concat(head!);
    head = undefined;
    const s = sniffContainer(first);
    if (!s.matroska) {
      ctx.notMatroska = s.message ?? 'input is not Matroska/WebM';
      return false;
    }
    push(first);
    return true;
  };
  for await (const chunk of input.chunks) {
    if (head) {
      head.push(chunk);
      headBytes += chunk.byteLength;
      if (headBytes < 4096) continue;
      if (!sniffAndFlush()) return;
    } else {
      push(chunk);
    }
    afterChunk?.();
    await ctx.out.flush();
    await ctx.err.flush();
    if (ctx.stop || ctx.out.closed) return;
  }
  if (head && !sniffAndFlush()) return;
  if (!ctx.stop) end();
}
