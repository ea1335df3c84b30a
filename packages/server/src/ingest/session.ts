// One source connected to a mount (an HTTP push, or a plain TCP connection), from its first byte to its
// end. Its first bytes are sniffed before it may replace anything (a body that is not Matroska is refused
// with the format's name); then it is the mount's input: an async iterable of chunks for the Source pump.
// A source that pushes one PUT per buffer batch (GStreamer's souphttpclientsink: Content-Length and
// `Content-Range: bytes A-B/*`) is ONE session: when a Content-Length body ends, the session waits up to
// the idle timeout for the PUT that continues at its byte count, and feeds it to the same demuxer.

import { sniffContainer } from '@mkvserve/ebml';
import type { Input } from '../inputs/open.js';
import type { ChunkReader, ReadEnd } from './readers.js';

/** What the Source pump reads (see IngestInput in ../inputs/source.ts). */
export type IngestInputLike = Input & { fail(reason: string): void; cut(reason: string): void };

/** Why a source ended (counted per mount; all but `ended` and `stopped` are drops). */
export type SourceEnd =
  /** It ended its stream cleanly. */
  | 'ended'
  /** Its connection broke mid-stream (a killed client) or it stopped sending (idle timeout). */
  | 'lost'
  | 'timeout'
  /** Another source took its place (takeover). */
  | 'taken_over'
  /** Its stream could not be read (not Matroska, damaged beyond repair, malformed body). */
  | 'error'
  /** The server or the mount stopped. */
  | 'stopped';

export type SessionState = 'sniffing' | 'streaming' | 'between' | 'ended';

export interface SessionInfo {
  protocol: 'http' | 'tcp';
  address: string;
  port: number;
  /** HTTP method (PUT, POST, SOURCE). */
  method?: string;
  userAgent?: string;
  /** The body may be continued by a PUT with Content-Range (it was framed by Content-Length). */
  resumable: boolean;
}

/** Bytes looked at before a source is accepted, at most (the sniffer names ~25 formats from these). */
const SNIFF_BYTES = 1024;

export type SniffOutcome = { ok: true; docType?: string } | { ok: false; end: ReadEnd | 'format'; message: string };

/** What to do instead, in a 415 answer or a refusal log line. */
const PUSH_HINT =
  'Push Matroska or WebM, e.g. ffmpeg -re -i IN -c copy -f matroska -method PUT http://source:TOKEN@HOST:PORT/MOUNT (or -f matroska tcp://HOST:PORT for a TCP mount)';

let nextId = 1;

export class SourceSession {
  readonly id = nextId++;
  readonly info: SessionInfo;
  readonly since = Date.now();
  state: SessionState = 'sniffing';
  /** Bytes received and handed on (continuations included). */
  bytes = 0;
  /** HTTP requests that made up this source (1 + continuations). */
  requests = 1;
  end: SourceEnd | undefined;
  endMessage: string | undefined;
  endedAt: number | undefined;
  private overAt: number | undefined;
  private reader: ChunkReader;
  private resumable: boolean;
  private readonly idleTimeoutMs: number;
  private prefix: Uint8Array[] = [];
  private continuation: ((next: { reader: ChunkReader; resumable: boolean } | undefined) => void) | undefined;
  private continuationTimer: NodeJS.Timeout | undefined;
  /** How the source's bytes ended, until the pump has read its last frames (close()). */
  private pending: { end: SourceEnd; message: string } | undefined;
  private readonly onRelease: (s: SourceSession) => void;
  private readonly onEnd: (s: SourceSession) => void;

  constructor(
    info: SessionInfo,
    reader: ChunkReader,
    opts: {
      idleTimeoutMs: number;
      /** The source is over (its bytes ended or it was stopped): the mount may take another. Once. */
      onRelease: (s: SourceSession) => void;
      /** The session is finished and its end known (counted, logged). Once, after onRelease. */
      onEnd: (s: SourceSession) => void;
    },
  ) {
    this.info = info;
    this.reader = reader;
    this.resumable = info.resumable;
    this.idleTimeoutMs = opts.idleTimeoutMs;
    this.onRelease = opts.onRelease;
    this.onEnd = opts.onEnd;
  }

  /** The source is over: its bytes ended, or it was stopped (the pump may still be reading its last frames). */
  get ended(): boolean {
    return this.state === 'ended';
  }

  /**
   * Reads the first bytes (up to 1 KiB, or fewer once the EBML DocType or another format is recognised)
   * and says whether this is Matroska/WebM. Gives up when nothing came for `deadlineMs`.
   */
  async sniff(deadlineMs: number): Promise<SniffOutcome> {
    let got = 0;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'deadline'>((resolve) => (timer = setTimeout(resolve, deadlineMs, 'deadline')));
    try {
      for (;;) {
        const r = await Promise.race([this.reader.next(), deadline]);
        if (r === 'deadline') {
          if (got >= 4) return this.judge(true);
          return { ok: false, end: 'timeout', message: `no stream data within ${deadlineMs / 1000} s` };
        }
        if (r.end !== undefined) {
          if (r.end === 'end' && got > 0) return this.judge(true);
          if (r.end === 'end') return { ok: false, end: 'format', message: 'the body is empty: nothing to stream' };
          return { ok: false, end: r.end, message: r.message };
        }
        this.prefix.push(r.chunk);
        got += r.chunk.length;
        this.bytes += r.chunk.length;
        const verdict = this.judge(got >= SNIFF_BYTES);
        if (verdict) return verdict;
      }
    } finally {
      clearTimeout(timer);
    }
  }

  /** A verdict on the bytes so far, or undefined when more are needed (and `final` is false). */
  private judge(final: true): SniffOutcome;
  private judge(final: boolean): SniffOutcome | undefined;
  private judge(final: boolean): SniffOutcome | undefined {
    const first = this.prefix.length === 1 ? this.prefix[0] : Buffer.concat(this.prefix);
    if (first.length < 4 && !final) return undefined; // the EBML magic is 4 bytes
    const r = sniffContainer(first.subarray(0, SNIFF_BYTES));
    if (!r.matroska) {
      const what = (r.message ?? `not Matroska/WebM (${r.name})`).replace(/^input /, 'the stream ');
      return { ok: false, end: 'format', message: `${what}. ${PUSH_HINT}` };
    }
    if (r.docType !== undefined) return { ok: true, docType: r.docType };
    // The DocType sits in the first 64 bytes of an EBML header: past them, it is not coming.
    return final || first.length >= 64 ? { ok: true } : undefined;
  }

  /** Refuses a source that did not pass the sniff (answered where HTTP allows it; never reported as a source). */
  refuse(status: number, text: string): void {
    if (this.ended) return;
    this.state = 'ended';
    this.prefix = [];
    this.reader.finish(status, text);
  }

  /**
   * The session as the mount's input: the sniffed bytes first, then the rest as it arrives. The pump
   * closes it after its last frames (that is when the end is counted and logged); `fail` says the stream
   * was unusable, `cut` that it stopped inside an element (a source that ended mid-Cluster was lost).
   */
  input(): IngestInputLike {
    return {
      kind: this.info.protocol === 'tcp' ? 'tcp' : 'push',
      name: `${this.info.protocol === 'tcp' ? 'tcp' : 'push'} source ${this.info.address}`,
      chunks: this.chunks(),
      close: () => this.stop(this.pending?.end ?? 'stopped', this.pending?.message ?? 'the input was closed'),
      fail: (reason: string) => this.stop('error', reason),
      cut: (reason: string) => {
        if (this.pending?.end === 'ended') this.pending = { end: 'lost', message: reason };
      },
    };
  }

  private async *chunks(): AsyncGenerator<Uint8Array> {
    if (this.state === 'sniffing') this.state = 'streaming';
    const prefix = this.prefix;
    this.prefix = [];
    for (const p of prefix) yield p;
    for (;;) {
      if (this.ended) return;
      const r = await this.reader.next();
      if (r.end === undefined) {
        this.bytes += r.chunk.length;
        yield r.chunk;
        continue;
      }
      if (this.ended) return;
      if (r.end === 'end' && this.resumable && this.info.protocol === 'http') {
        // This request's body is complete: answer it, and wait for a PUT that continues the stream.
        this.reader.finish(200, `${this.bytes} bytes received`);
        this.state = 'between';
        const next = await new Promise<{ reader: ChunkReader; resumable: boolean } | undefined>((resolve) => {
          this.continuation = resolve;
          this.continuationTimer = setTimeout(() => {
            this.continuation = undefined;
            resolve(undefined);
          }, this.idleTimeoutMs);
        });
        if (next && !this.ended) {
          this.reader = next.reader;
          this.resumable = next.resumable;
          this.requests++;
          this.state = 'streaming';
          continue;
        }
        next?.reader.finish(409, 'the source ended before this request could continue it');
        this.over('ended', 'no request continued the stream');
        return;
      }
      if (r.end === 'end') {
        this.reader.finish(200, `${this.bytes} bytes received`);
        this.over('ended', r.message);
        return;
      }
      this.over(r.end === 'timeout' ? 'timeout' : r.end === 'invalid' ? 'error' : 'lost', r.message);
      return;
    }
  }

  /** The source's bytes ended: free the mount for another source now; the end is final at close(). */
  private over(end: SourceEnd, message: string): void {
    if (this.state === 'ended') return;
    this.pending = { end, message };
    if (end !== 'ended') this.reader.close();
    this.release();
  }

  private release(): void {
    if (this.state === 'ended') return;
    this.state = 'ended';
    this.overAt = Date.now();
    this.prefix = [];
    if (this.continuation) {
      const c = this.continuation;
      this.continuation = undefined;
      clearTimeout(this.continuationTimer);
      c(undefined);
    }
    this.onRelease(this);
  }

  /** The byte a continuing PUT must start at (Content-Range), while waiting for one; else undefined. */
  get continuesAt(): number | undefined {
    return this.state === 'between' ? this.bytes : undefined;
  }

  /** Hands a continuing request's body to the session (only while `continuesAt` is defined). */
  continueWith(reader: ChunkReader, resumable: boolean): boolean {
    const c = this.continuation;
    if (!c || this.ended) return false;
    this.continuation = undefined;
    clearTimeout(this.continuationTimer);
    c({ reader, resumable });
    return true;
  }

  /**
   * Ends the session (once): a source still connected is answered where HTTP allows it (409 taken over,
   * 503 stopped, 400 error) and its connection closed; then the end is counted and logged.
   */
  stop(end: SourceEnd, message: string): void {
    if (this.end !== undefined) return;
    if (this.state !== 'ended') {
      switch (end) {
        case 'taken_over':
          this.reader.finish(409, 'another source took over this mount');
          break;
        case 'stopped':
          this.reader.finish(503, 'the mount stopped (server shutting down or mount restarted); try again later');
          break;
        case 'error':
          this.reader.finish(400, `the stream could not be used: ${message}`);
          break;
        default:
          this.reader.close();
      }
      this.release();
    }
    this.end = end;
    this.endMessage = message;
    this.endedAt = this.overAt ?? Date.now();
    this.onEnd(this);
  }
}
