// One source connected to a mount (an HTTP push, or a plain TCP connection), from its first byte to its
// end. Its first bytes are sniffed before it may replace anything (a body that is not Matroska is refused
// with the format's name); then it is the mount's input: an async iterable of chunks for the Source pump.
// An HTTP source is answered (200) as soon as its body has been received, even while the pump still
// paces the last queued bytes. A source that pushes one PUT per buffer batch (GStreamer's
// souphttpclientsink: Content-Length and `Content-Range: bytes A-B/*`) is ONE session: once a
// Content-Length body has been received, the session takes, for up to the idle timeout, the PUT that
// continues at its byte count, and feeds it to the same demuxer after the bytes before it.

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

type Continuation = { reader: ChunkReader; resumable: boolean };

export class SourceSession {
  readonly id = nextId++;
  readonly info: SessionInfo;
  readonly since = Date.now();
  /** `between`: the last request was received in full and a continuing PUT may follow it. */
  state: SessionState = 'sniffing';
  /** Bytes handed on to the pump (continuations included). */
  bytes = 0;
  /** HTTP requests that made up this source (1 + continuations). */
  requests = 1;
  end: SourceEnd | undefined;
  endMessage: string | undefined;
  endedAt: number | undefined;
  private overAt: number | undefined;
  /** The request the pump reads now, and whether it may be continued. */
  private reader: ChunkReader;
  private resumable: boolean;
  /** Continuing requests the pump has not reached yet (answered at most one ahead: bounded memory). */
  private readonly queue: Continuation[] = [];
  /** The last request taken (a continuation follows it), and whether it was received in full. */
  private latest: Continuation;
  private latestComplete = false;
  /** Body bytes of the requests received in full (= where a continuation starts). */
  private completedBytes = 0;
  /** Per request received in full: the byte count to answer with (until answered). */
  private readonly unanswered = new Map<ChunkReader, number>();
  private readonly idleTimeoutMs: number;
  private prefix: Uint8Array[] = [];
  /** The pump waits for a continuing request. */
  private waiting: ((c: Continuation | undefined) => void) | undefined;
  /** No continuing request may come any more (its time is up, or the session is over). */
  private noMore = false;
  private continuationTimer: NodeJS.Timeout | undefined;
  /** Stopped by us (takeover, shutdown, error): the pump reads nothing more. */
  private cancelled = false;
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
    this.latest = { reader, resumable: info.resumable };
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
    this.cancelled = true;
    this.prefix = [];
    this.reader.finish(status, text);
  }

  /** The source was accepted: HTTP requests are answered as soon as they were received in full. */
  accepted(): void {
    this.watch(this.latest);
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

  private watch(c: Continuation): void {
    c.reader.whenComplete?.(() => {
      if (this.cancelled) return;
      this.completedBytes += c.reader.received;
      this.unanswered.set(c.reader, this.completedBytes);
      if (c === this.latest) {
        this.latestComplete = true;
        if (c.resumable && !this.noMore && !this.ended) {
          this.state = 'between';
          clearTimeout(this.continuationTimer);
          this.continuationTimer = setTimeout(() => this.closeContinuation(), this.idleTimeoutMs);
        }
      }
      this.answerDue();
    });
  }

  /** Answers (200) the requests received in full that are at most one ahead of the pump. */
  private answerDue(): void {
    for (const r of [this.reader, this.queue[0]?.reader]) {
      const n = r && this.unanswered.get(r);
      if (r && n !== undefined) {
        this.unanswered.delete(r);
        r.finish(200, `${n} bytes received`);
      }
    }
  }

  private async *chunks(): AsyncGenerator<Uint8Array> {
    if (this.state === 'sniffing') this.state = 'streaming';
    const prefix = this.prefix;
    this.prefix = [];
    for (const p of prefix) yield p;
    for (;;) {
      if (this.cancelled) return;
      const r = await this.reader.next();
      if (r.end === undefined) {
        this.bytes += r.chunk.length;
        yield r.chunk;
        continue;
      }
      if (this.cancelled) return;
      if (r.end === 'end' && this.resumable && this.info.protocol === 'http') {
        // This request is done: go on with the one that continues it (taken already, or coming).
        const next =
          this.queue.shift() ??
          (this.noMore
            ? undefined
            : await new Promise<Continuation | undefined>((resolve) => (this.waiting = resolve)));
        if (next && !this.cancelled) {
          this.reader = next.reader;
          this.resumable = next.resumable;
          this.answerDue();
          continue;
        }
      }
      if (r.end === 'end') this.over('ended', r.message);
      else this.over(r.end === 'timeout' ? 'timeout' : r.end === 'invalid' ? 'error' : 'lost', r.message);
      return;
    }
  }

  /** The byte a continuing PUT must start at (its Content-Range), while one may come; else undefined. */
  get continuesAt(): number | undefined {
    return this.latestComplete && this.latest.resumable && !this.noMore && !this.ended
      ? this.completedBytes
      : undefined;
  }

  /** Takes a continuing request (only while `continuesAt` is defined). */
  continueWith(reader: ChunkReader, resumable: boolean): boolean {
    if (this.continuesAt === undefined) return false;
    clearTimeout(this.continuationTimer);
    const c = { reader, resumable };
    this.latest = c;
    this.latestComplete = false;
    this.requests++;
    this.state = 'streaming';
    const w = this.waiting;
    this.waiting = undefined;
    if (w) w(c);
    else this.queue.push(c);
    this.watch(c);
    return true;
  }

  /** No continuing request may come any more; a pump waiting for one goes on to the end. */
  private closeContinuation(): void {
    this.noMore = true;
    clearTimeout(this.continuationTimer);
    if (this.state === 'between') this.state = 'streaming';
    const w = this.waiting;
    this.waiting = undefined;
    w?.(undefined);
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
    this.closeContinuation();
    this.onRelease(this);
  }

  /**
   * Ends the session (once): a source still connected is answered where HTTP allows it (409 taken over,
   * 503 stopped, 400 error) and its connection closed; then the end is counted and logged. `ended`
   * (another source replaces one whose last request was complete) lets the pump read what is queued.
   */
  stop(end: SourceEnd, message: string): void {
    if (this.end !== undefined) return;
    if (this.state !== 'ended') {
      if (end !== 'ended') {
        this.cancelled = true;
        // Every request of the source not answered yet gets the answer (a connection still sending: closed).
        for (const r of [this.reader, ...this.queue.map((c) => c.reader)]) {
          if (end === 'taken_over') r.finish(409, 'another source took over this mount');
          else if (end === 'stopped')
            r.finish(503, 'the mount stopped (server shutting down or mount restarted); try again later');
          else if (end === 'error') r.finish(400, `the stream could not be used: ${message}`);
          else r.close();
        }
        this.queue.length = 0;
      }
      this.release();
    }
    this.end = end;
    this.endMessage = message;
    this.endedAt = this.overAt ?? Date.now();
    this.onEnd(this);
  }
}
