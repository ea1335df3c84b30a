// Input pump: opens an input (file, stdin, URL, ...; see kinds.ts), demuxes it and feeds a LiveStream
// with frames in the order the demuxer produced them (a second file in the same input, e.g.
// `cat a.webm b.webm`, is spliced: its header is applied after the first file's last frame, and its
// timestamps continue the timeline). Paces in real time: a regular file always, a pipe or URL when it
// runs ahead of real time. Handles loop (timestamps keep increasing) and reconnect (backoff doubling).

import type { EbmlError, Frame, MatroskaDemuxer, MatroskaHeader, DemuxHandler } from '@mkvserve/ebml';
import type { LiveStream } from '@mkvserve/fanout';
import { sameStreamLayout } from '@mkvserve/fanout';
import type { Logger } from '../log.js';
import { nullLogger } from '../log.js';
import { inputKindFor } from './kinds.js';
import { InputError } from './open.js';
import type { Input } from './open.js';
import { Pacer } from './pacer.js';

/** What the pump feeds: the fanout's LiveStream (or anything with the same three methods). */
export type FrameSink = Pick<LiveStream, 'setHeader' | 'pushFrame' | 'end'>;

/** The demuxer surface used (MatroskaDemuxer from @mkvserve/ebml). */
export type DemuxerLike = Pick<MatroskaDemuxer, 'push' | 'end'>;
export type DemuxCallbacks = Required<Pick<DemuxHandler, 'onHeader' | 'onFrame'>> & {
  onError(e: EbmlError | (Error & { fatal?: boolean; code?: unknown })): void;
};
export type DemuxerFactory = (cb: DemuxCallbacks) => DemuxerLike;

/** `waiting`: for a reconnect (after a backoff), or for a source to connect (push and TCP listen inputs). */
export type SourceState = 'idle' | 'opening' | 'streaming' | 'waiting' | 'ended' | 'failed' | 'stopped';

/** One connected source's bytes (push, TCP listen): `fail` tells the source why it is dropped, `cut`
 *  that its stream stopped inside an element (a source that left mid-Cluster was lost, not ended). */
export type IngestInput = Input & { fail?(reason: string): void; cut?(reason: string): void };

/** Where sources connect to us (push and TCP listen inputs: ../ingest/point.ts). */
export interface IngestOpener {
  /** Resolves with the next source to connect; rejects when closed or when it cannot work at all
   *  (a TCP port that cannot be bound). */
  open(signal: AbortSignal): Promise<IngestInput>;
  /** Stops taking sources and closes the current one. */
  close(): void;
}

/** How the current pass is paced: like a file (always), like a live input (only what runs ahead of
 *  real time by more than liveLeadMs), or not at all. */
export type PacingMode = 'file' | 'live' | 'off';

export interface SourceOptions {
  /** Input spec (passed to `open`). */
  spec: string;
  /** Display name in logs/status (already redacted). */
  name: string;
  createDemuxer: DemuxerFactory;
  /** Custom opener (tests, embedding); default: the input kind's. */
  open?: (spec: string, signal: AbortSignal) => Promise<Input>;
  /** A source that connects to us (push, TCP listen): each pass waits for the next source, without
   *  backoff, until stop(); a source with the same track layout as the last one is spliced in. */
  ingest?: IngestOpener;
  loop: boolean;
  reconnect: boolean;
  /** true: pace like a file; false: never; 'auto': files always, other inputs when ahead of real time. */
  realtime: boolean | 'auto';
  /** Pacing speed factor (1 = real time). */
  speed: number;
  /** Pacing lead of a paced file (ms). */
  leadMs: number;
  /** How far a pipe or URL may run ahead of real time before it is held (ms). */
  liveLeadMs: number;
  /** First reconnect delay, doubled up to maxBackoffMs (ms). */
  backoffMs: number;
  maxBackoffMs: number;
  log?: Logger;
}

/** A header that says "file": a known Segment size or a Duration. */
export function looksLikeFile(h: MatroskaHeader): boolean {
  return h.segmentSize >= 0 || (h.info.duration !== undefined && h.info.duration > 0);
}

class StopSignal extends Error {}

/** What the demuxer reported, in order (headers and frames of one chunk interleave). */
type DemuxEvent = { header: MatroskaHeader; frame?: undefined } | { frame: Frame; header?: undefined };

export class Source {
  readonly spec: string;
  readonly name: string;
  state: SourceState = 'idle';
  header: MatroskaHeader | undefined;
  /** Input kind of the current/last open. */
  kind: Input['kind'] | undefined;
  /** Pacing of the current pass. */
  pacing: PacingMode = 'off';
  bytesIn = 0;
  frames = 0;
  opens = 0;
  reconnects = 0;
  loops = 0;
  /** Headers after the first that kept the layout (a reconnect, a second file in the same input). */
  splices = 0;
  headerChanges = 0;
  lastError: string | undefined;
  /** Newest (shifted) timestamp pushed, ns. */
  lastTimestamp = 0;
  /** Date.now() of the last frame pushed (0 = none yet). */
  lastFrameAt = 0;
  startedAt = Date.now();
  private readonly opts: SourceOptions;
  private readonly log: Logger;
  private readonly sink: FrameSink;
  private stopped = false;
  /** Aborts a pending open (e.g. an HTTP request waiting for headers) at stop(). */
  private readonly abort = new AbortController();
  private input: IngestInput | undefined;
  private pacer: Pacer | undefined;
  private wake: (() => void) | undefined;
  private readonly rate = new RateMeter();
  // Timestamp continuity across passes (loop / reconnect) and across files within one input.
  private offset = 0;
  /** The next frame starts a new timeline segment (new pass or new header): its offset is recomputed. */
  private segmentStart = true;
  private absEnd = 0; // max shifted ts + duration over everything pushed
  private readonly lastTs = new Map<number, number>();
  private readonly lastGap = new Map<number, number>();
  private done: Promise<void> | undefined;

  constructor(sink: FrameSink, opts: SourceOptions) {
    this.sink = sink;
    this.opts = opts;
    this.spec = opts.spec;
    this.name = opts.name;
    this.log = opts.log ?? nullLogger;
  }

  /** True when the source was given its own opener (no input kind checks apply). */
  get hasCustomOpener(): boolean {
    return this.opts.open !== undefined;
  }

  /** True while frames are being paced. */
  get paced(): boolean {
    return this.pacing !== 'off';
  }

  /** Bits per second of frame payload over the last few seconds. */
  bitrate(): number {
    return this.rate.bitsPerSecond();
  }

  /** Starts pumping (once); resolves when the input is finished (ended, failed or stopped). Never rejects. */
  run(): Promise<void> {
    this.done ??= this.loop().catch((err) => {
      this.state = 'failed';
      this.lastError = (err as Error).message;
      this.log.error('input_error', { input: this.name, error: this.lastError });
      this.finish();
    });
    return this.done;
  }

  /** Stops reading; the sink is ended. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.abort.abort();
    this.pacer?.abort();
    this.opts.ingest?.close();
    this.input?.close();
    this.wake?.();
  }

  private finish(): void {
    try {
      this.sink.end();
    } catch {
      /* already ended */
    }
  }

  private opener(): (spec: string, signal: AbortSignal) => Promise<Input> {
    if (this.opts.open) return this.opts.open;
    const ingest = this.opts.ingest;
    if (ingest) return (_s, signal) => ingest.open(signal);
    const kind = inputKindFor(this.spec);
    if (!kind) throw new InputError('BAD_URL', `unsupported input ${this.name}`);
    return (s, signal) => kind.open(s, { signal });
  }

  private async loop(): Promise<void> {
    const open = this.opener();
    const ingest = this.opts.ingest !== undefined;
    const canReopen = this.opts.open !== undefined || ingest || inputKindFor(this.spec)?.reopenable !== false;
    let backoff = this.opts.backoffMs;
    let pass = 0;
    for (;;) {
      if (this.stopped) break;
      this.state = ingest ? 'waiting' : 'opening';
      let framesThisPass = 0;
      let failure: string | undefined;
      let opened = false;
      try {
        const input = await open(this.spec, this.abort.signal);
        opened = true;
        this.input = input;
        this.kind = input.kind;
        this.opens++;
        this.log.info('input_open', { input: this.name, kind: input.kind, size: input.size, pass });
        framesThisPass = await this.pump(input, pass);
      } catch (err) {
        if (err instanceof StopSignal || this.stopped) break;
        failure = (err as Error).message;
        this.lastError = failure;
        // A source that sent something unusable is told why (HTTP: 400 with the reason).
        this.input?.fail?.(failure);
      } finally {
        this.input?.close();
        this.input = undefined;
      }
      if (this.stopped) break;
      if (failure !== undefined) {
        this.log.error('input_error', { input: this.name, error: failure, pass });
      } else {
        this.log.info('input_eof', { input: this.name, frames: framesThisPass, bytes: this.bytesIn, pass });
      }
      pass++;
      if (ingest) {
        // The ingest point could not start (a TCP port that cannot be bound): nothing will connect.
        if (!opened) {
          this.state = 'failed';
          this.finish();
          return;
        }
        // The source is gone: wait for the next one (clients stay for sourceGraceMs, see mount.ts).
        this.pacer?.reset();
        continue;
      }
      const reopen = canReopen && this.kind !== 'stdin';
      if (!reopen && (this.opts.loop || this.opts.reconnect)) {
        this.log.warn('input_option_ignored', {
          input: this.name,
          reason: `${this.kind ?? 'this input'} cannot be opened again: loop/reconnect ignored`,
        });
      }
      if (failure === undefined && this.opts.loop && reopen && framesThisPass > 0) {
        this.loops++;
        this.log.info('input_loop', { input: this.name, loop: this.loops, offsetMs: Math.round(this.absEnd / 1e6) });
        continue;
      }
      if (this.opts.reconnect && reopen) {
        if (framesThisPass > 0) backoff = this.opts.backoffMs;
        this.state = 'waiting';
        this.reconnects++;
        this.log.warn('input_reconnect', { input: this.name, delayMs: backoff, attempt: this.reconnects });
        await this.sleep(backoff);
        backoff = Math.min(backoff * 2, this.opts.maxBackoffMs);
        this.pacer?.reset();
        continue;
      }
      if (failure !== undefined) {
        this.state = 'failed';
        this.finish();
        return;
      }
      break;
    }
    this.state = this.stopped ? 'stopped' : 'ended';
    this.finish();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.wake = undefined;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(t);
        this.wake = undefined;
        resolve();
      };
    });
  }

  /** Demuxes one opened input into the sink; returns the number of frames pushed. */
  private async pump(input: Input, pass: number): Promise<number> {
    // Headers and frames in the order the demuxer reported them: a chunk can hold the end of one file
    // and the start of the next, and the new header must come after the old file's last frame.
    let events: DemuxEvent[] = [];
    let fatal: Error | undefined;
    let headersThisPass = 0;
    const demux = this.opts.createDemuxer({
      onHeader: (header) => {
        events.push({ header });
      },
      onFrame: (frame) => {
        events.push({ frame });
      },
      onError: (e) => {
        if (e.fatal) fatal ??= e;
        else {
          this.log.warn('input_demux_warning', { input: this.name, error: e.message, code: e.code });
          if (e.code === 'TRUNCATED') (input as IngestInput).cut?.(e.message);
        }
      },
    });
    // A closure, so that the compiler does not narrow `fatal` (set by the demuxer's callbacks) to undefined.
    const throwIfFatal = (): void => {
      if (fatal) throw fatal;
    };
    let count = 0;
    this.segmentStart = true;
    const drain = async (): Promise<void> => {
      if (events.length === 0) return;
      const list = events;
      events = [];
      for (let i = 0; i < list.length; i++) {
        const ev = list[i];
        if (this.stopped) throw new StopSignal();
        if (ev.header) {
          this.onHeader(ev.header, input, pass, headersThisPass++);
          continue;
        }
        const f = ev.frame;
        if (!this.header) continue; // frames before a header cannot be served
        if (this.segmentStart) {
          this.segmentStart = false;
          // Continue the timeline: the earliest frame of the new pass's or file's first batch (not the first
          // in file order: audio often starts before the first video frame) lands where the previous one ended.
          let start = f.timestamp;
          for (let j = i + 1; j < list.length && list[j].header === undefined; j++) {
            const g = list[j].frame;
            if (g !== undefined && g.timestamp < start) start = g.timestamp;
          }
          this.offset = this.frames === 0 ? 0 : this.absEnd - start;
          this.state = 'streaming';
        }
        const ts = f.timestamp + this.offset;
        if (this.pacer && this.pacing !== 'off') {
          await this.pacer.wait(ts);
          if (this.stopped) throw new StopSignal();
        }
        this.account(f, ts);
        this.sink.pushFrame(this.offset === 0 ? f : { ...f, timestamp: ts });
        count++;
      }
    };
    for await (const chunk of input.chunks) {
      if (this.stopped) throw new StopSignal();
      this.bytesIn += chunk.byteLength;
      demux.push(chunk);
      throwIfFatal();
      await drain();
      throwIfFatal();
    }
    demux.end();
    await drain();
    throwIfFatal();
    if (!this.header) throw new Error('no Matroska header in the input');
    return count;
  }

  /** The pacing of a pass, decided at its first header. */
  private pacingFor(h: MatroskaHeader, input: Input): PacingMode {
    const rt = this.opts.realtime;
    if (rt === false) return 'off';
    if (rt === true) return 'file';
    // A source that connects to us is live whatever its header says (ffmpeg -re writes a file-like one):
    // only what it sends ahead of real time is held (curl -T file.webm is paced after liveLeadMs).
    if (input.kind === 'push' || input.kind === 'tcp') return 'live';
    if (input.regularFile === true || looksLikeFile(h)) return 'file';
    return 'live';
  }

  private onHeader(h: MatroskaHeader, input: Input, pass: number, nth: number): void {
    const tracks = h.tracks.map((t) => `${t.number}:${t.kind}:${t.codecId}`).join(',');
    if (nth === 0) {
      this.pacing = this.pacingFor(h, input);
      if (this.pacing !== 'off') {
        const live = this.pacing === 'live';
        // A live input is held only when it runs ahead of the latest frame that arrived on time or late
        // (maxBehindMs 0: the anchor follows it), by more than liveLeadMs: a real-time source is never
        // delayed, one that delivers faster is paced. A file is paced from its first frame on.
        this.pacer = new Pacer({
          speed: this.opts.speed,
          leadMs: live ? this.opts.liveLeadMs : this.opts.leadMs,
          ...(live ? { maxBehindMs: 0 } : {}),
        });
      } else this.pacer = undefined;
    } else {
      // Another file in the same input (two files concatenated, a playlist): continue the timeline.
      this.segmentStart = true;
    }
    this.log.info('input_header', {
      input: this.name,
      docType: h.ebml.docType,
      tracks,
      live: !looksLikeFile(h),
      pacing: this.pacing,
      pass,
      ...(nth > 0 ? { file: nth + 1 } : {}),
    });
    // The LiveStream decides: same layout = same Segment, clients stay; else a new init part.
    if (this.header !== undefined) {
      if (sameStreamLayout(this.header, h)) this.splices++;
      else {
        this.headerChanges++;
        this.log.warn('input_tracks_changed', { input: this.name, tracks });
      }
    }
    this.header = h;
    this.sink.setHeader(h);
  }

  private account(f: Frame, ts: number): void {
    this.frames++;
    this.lastFrameAt = Date.now();
    this.rate.add(f.data.byteLength);
    if (ts > this.lastTimestamp) this.lastTimestamp = ts;
    const prev = this.lastTs.get(f.track);
    if (prev !== undefined && ts > prev) this.lastGap.set(f.track, ts - prev);
    this.lastTs.set(f.track, ts);
    const dur = f.duration ?? this.lastGap.get(f.track) ?? 0;
    const end = ts + dur;
    if (end > this.absEnd) this.absEnd = end;
  }
}

/** Payload bytes per one-second bucket over the last few seconds. */
class RateMeter {
  private readonly buckets = new Float64Array(6);
  private second = Math.floor(Date.now() / 1000);

  private roll(): void {
    const now = Math.floor(Date.now() / 1000);
    if (now === this.second) return;
    const n = Math.min(now - this.second, this.buckets.length);
    for (let i = 1; i <= n; i++) this.buckets[(this.second + i) % this.buckets.length] = 0;
    this.second = now;
  }

  add(bytes: number): void {
    this.roll();
    this.buckets[this.second % this.buckets.length] += bytes;
  }

  bitsPerSecond(): number {
    this.roll();
    let sum = 0;
    for (let i = 1; i < this.buckets.length; i++)
      sum += this.buckets[(this.second - i + this.buckets.length * 2) % this.buckets.length];
    return Math.round((sum * 8) / (this.buckets.length - 1));
  }
}
