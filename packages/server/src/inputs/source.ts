// Input pump: opens an input (file, stdin, URL), demuxes it and feeds a LiveStream-like sink with
// frames, paced in real time for file-like inputs. Handles --loop (timestamps keep increasing
// across loops) and --reconnect (backoff 0.5 s doubling to 10 s; same tracks = clients stay).

import type { Frame, MatroskaHeader } from '@mkvserve/ebml';
import { sameStreamLayout } from '@mkvserve/fanout';
import type { Logger } from '../log.js';
import { nullLogger } from '../log.js';
import { openInput as defaultOpenInput } from './open.js';
import type { Input } from './open.js';
import { Pacer } from './pacer.js';

/** What the pump feeds: the fanout's LiveStream satisfies it. */
export interface FrameSink {
  setHeader(header: MatroskaHeader): void;
  pushFrame(frame: Frame): void;
  end(): void;
}

/** Minimal demuxer surface (MatroskaDemuxer from @mkvserve/ebml). */
export interface DemuxerLike {
  push(chunk: Uint8Array): void;
  end(): void;
}
export interface DemuxCallbacks {
  onHeader(h: MatroskaHeader): void;
  onFrame(f: Frame): void;
  onError(e: Error & { fatal?: boolean; code?: unknown }): void;
}
export type DemuxerFactory = (cb: DemuxCallbacks) => DemuxerLike;

export type SourceState = 'idle' | 'opening' | 'streaming' | 'waiting' | 'ended' | 'failed' | 'stopped';

export interface SourceOptions {
  /** File path, '-', or http(s) URL (passed to `open`). */
  spec: string;
  /** Display name in logs/status (default spec). */
  name?: string;
  createDemuxer: DemuxerFactory;
  open?: (spec: string, signal: AbortSignal) => Promise<Input>;
  loop?: boolean;
  reconnect?: boolean;
  /** true/false force pacing; undefined = pace inputs that look like files (known Segment size or a Duration). */
  realtime?: boolean;
  /** Pacing speed factor (default 1 = real time). */
  speed?: number;
  /** Pacing lead, ms (default 100). */
  leadMs?: number;
  /** First reconnect delay, ms (default 500), doubled up to maxBackoffMs (default 10 000). */
  backoffMs?: number;
  maxBackoffMs?: number;
  log?: Logger;
}

export function looksLikeFile(h: MatroskaHeader): boolean {
  return h.segmentSize >= 0 || (h.info.duration !== undefined && h.info.duration > 0);
}

class StopSignal extends Error {}

export class Source {
  readonly spec: string;
  readonly name: string;
  state: SourceState = 'idle';
  header: MatroskaHeader | undefined;
  /** Input kind of the current/last open. */
  kind: Input['kind'] | undefined;
  paced = false;
  bytesIn = 0;
  frames = 0;
  opens = 0;
  reconnects = 0;
  loops = 0;
  headerChanges = 0;
  lastError: string | undefined;
  /** Newest (shifted) timestamp pushed, ns. */
  lastTimestamp = 0;
  startedAt = Date.now();
  private readonly opts: SourceOptions;
  private readonly log: Logger;
  private readonly sink: FrameSink;
  private stopped = false;
  /** Aborts a pending open (e.g. an HTTP request waiting for headers) at stop(). */
  private readonly abort = new AbortController();
  private input: Input | undefined;
  private pacer: Pacer | undefined;
  private wake: (() => void) | undefined;
  private readonly rate = new RateMeter();
  // Timestamp continuity across passes (loop / reconnect).
  private offset = 0;
  private absEnd = 0; // max shifted ts + duration over everything pushed
  private readonly lastTs = new Map<number, number>();
  private readonly lastGap = new Map<number, number>();
  private done: Promise<void> | undefined;

  constructor(sink: FrameSink, opts: SourceOptions) {
    this.sink = sink;
    this.opts = opts;
    this.spec = opts.spec;
    this.name = opts.name ?? opts.spec;
    this.log = opts.log ?? nullLogger;
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

  private async loop(): Promise<void> {
    const open = this.opts.open ?? ((s: string, signal: AbortSignal) => defaultOpenInput(s, { signal }));
    let backoff = this.opts.backoffMs ?? 500;
    const maxBackoff = this.opts.maxBackoffMs ?? 10_000;
    let pass = 0;
    for (;;) {
      if (this.stopped) break;
      this.state = 'opening';
      let framesThisPass = 0;
      let failure: string | undefined;
      try {
        const input = await open(this.spec, this.abort.signal);
        this.input = input;
        this.kind = input.kind;
        this.opens++;
        this.log.info('input_open', { input: this.name, kind: input.kind, size: input.size, pass });
        framesThisPass = await this.pump(input, pass);
      } catch (err) {
        if (err instanceof StopSignal || this.stopped) break;
        failure = (err as Error).message;
        this.lastError = failure;
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
      const canReopen = this.kind !== 'stdin';
      if (!canReopen && (this.opts.loop || this.opts.reconnect)) {
        this.log.warn('input_option_ignored', {
          input: this.name,
          reason: 'stdin cannot be re-opened: --loop/--reconnect ignored',
        });
      }
      if (failure === undefined && this.opts.loop && canReopen && framesThisPass > 0) {
        this.loops++;
        this.log.info('input_loop', { input: this.name, loop: this.loops, offsetMs: Math.round(this.absEnd / 1e6) });
        continue;
      }
      if (this.opts.reconnect && canReopen) {
        if (framesThisPass > 0) backoff = this.opts.backoffMs ?? 500;
        this.state = 'waiting';
        this.reconnects++;
        this.log.warn('input_reconnect', { input: this.name, delayMs: backoff, attempt: this.reconnects });
        await this.sleep(backoff);
        backoff = Math.min(backoff * 2, maxBackoff);
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
    let pending: Frame[] = [];
    let newHeader: MatroskaHeader | undefined;
    let fatal: Error | undefined;
    const demux = this.opts.createDemuxer({
      onHeader: (h) => {
        newHeader = h;
      },
      onFrame: (f) => {
        pending.push(f);
      },
      onError: (e) => {
        if (e.fatal) fatal ??= e;
        else this.log.warn('input_demux_warning', { input: this.name, error: e.message, code: e.code });
      },
    });
    // A closure, so that the compiler does not narrow `fatal` (set by the demuxer's callbacks) to undefined.
    const throwIfFatal = (): void => {
      if (fatal) throw fatal;
    };
    let count = 0;
    let first = true;
    const drain = async (): Promise<void> => {
      if (newHeader) {
        this.onHeader(newHeader, pass);
        newHeader = undefined;
      }
      if (pending.length === 0) return;
      const frames = pending;
      pending = [];
      for (const f of frames) {
        if (this.stopped) throw new StopSignal();
        if (!this.header) continue; // frames before a header cannot be served
        if (first) {
          first = false;
          // Continue the timeline: the earliest frame of the new pass's first batch (not the first in file
          // order: audio often starts before the first video frame) lands where the previous pass ended.
          let start = f.timestamp;
          for (const g of frames) if (g.timestamp < start) start = g.timestamp;
          this.offset = pass === 0 ? 0 : this.absEnd - start;
          this.state = 'streaming';
        }
        const ts = f.timestamp + this.offset;
        if (this.pacer && this.paced) {
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

  private onHeader(h: MatroskaHeader, pass: number): void {
    const tracks = h.tracks.map((t) => `${t.number}:${t.kind}:${t.codecId}`).join(',');
    const auto = looksLikeFile(h);
    this.paced = this.opts.realtime ?? auto;
    if (this.paced && !this.pacer) {
      this.pacer = new Pacer({ speed: this.opts.speed ?? 1, leadMs: this.opts.leadMs ?? 100 });
    }
    this.log.info('input_header', {
      input: this.name,
      docType: h.ebml.docType,
      tracks,
      live: !auto,
      paced: this.paced,
      pass,
    });
    // The LiveStream decides: same layout = same Segment, clients stay; else a new init part.
    const changed = this.header !== undefined && !sameStreamLayout(this.header, h);
    if (changed) {
      this.headerChanges++;
      this.log.warn('input_tracks_changed', { input: this.name, tracks });
    }
    this.header = h;
    this.sink.setHeader(h);
  }

  private account(f: Frame, ts: number): void {
    this.frames++;
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
