// `mkvserve inspect`: the element tree of a Matroska/WebM input (like mkvinfo; --json streams it as
// JSON), a --summary (tracks, duration, frames, bitrate) or the --frames. Input damage is reported on
// stderr with byte offsets while reading goes on; exit 0 clean, 2 damaged, 1 unreadable / not Matroska.
import {
  ELEMENT_BY_ID,
  EbmlReader,
  MatroskaDemuxer,
  parseBlock,
  readBlockHeader,
  sniffContainer,
} from '@mkvserve/ebml';
import type {
  EbmlError,
  EbmlValue,
  ElementHeader,
  Frame,
  MatroskaHeader,
  TrackInfo,
  CuePoint,
  Edition,
  Tag,
  Attachment,
} from '@mkvserve/ebml';
import { openInput, InputError } from '../inputs/open.js';
import type { Input } from '../inputs/open.js';

export interface InspectOptions {
  input: string;
  offsets?: boolean;
  json?: boolean;
  summary?: boolean;
  frames?: boolean;
  /** Stop after N frames (blocks in tree mode). */
  maxFrames?: number;
  /** Stop after this many seconds of media time. */
  duration?: number;
  /** Output stream (default process.stdout), error stream (default process.stderr): for tests. */
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
}

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

/** ns -> "HH:MM:SS.nnnnnnnnn" (mkvinfo style); negative values get a leading "-". */
export function formatTime(ns: number): string {
  const neg = ns < 0;
  let v = Math.round(Math.abs(ns));
  const frac = v % 1e9;
  v = Math.floor(v / 1e9);
  const s = v % 60;
  const m = Math.floor(v / 60) % 60;
  const h = Math.floor(v / 3600);
  const p2 = (n: number): string => String(n).padStart(2, '0');
  return `${neg ? '-' : ''}${p2(h)}:${p2(m)}:${p2(s)}.${String(frac).padStart(9, '0')}`;
}

function hex(b: Uint8Array, max = 16): string {
  let s = '';
  const n = Math.min(b.length, max);
  for (let i = 0; i < n; i++) s += b[i].toString(16).padStart(2, '0');
  return b.length > max ? s + '...' : s;
}

function idHex(id: number): string {
  return '0x' + id.toString(16).toUpperCase().padStart(2, '0');
}

/** ns since 2001-01-01 UTC (Matroska date) -> ISO 8601. */
function dateIso(v: bigint): string {
  const ms = Number(v / 1_000_000n) + Date.UTC(2001, 0, 1);
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? v.toString() : d.toISOString();
}

/** A value for the JSON tree: 64-bit integers beyond 2^53 as strings, binaries as {binary, hex}, dates ISO. */
function jsonValue(type: string | undefined, v: EbmlValue): unknown {
  if (typeof v === 'bigint') return type === 'date' ? dateIso(v) : v.toString();
  if (typeof v === 'number') return Number.isFinite(v) ? v : String(v);
  if (typeof v === 'string') return v;
  return { binary: v.byteLength, hex: hex(v) };
}

function textValue(type: string | undefined, v: EbmlValue): string {
  if (typeof v === 'bigint') return type === 'date' ? `${dateIso(v)}` : v.toString();
  if (typeof v === 'number') return String(v);
  if (typeof v === 'string') return JSON.stringify(v);
  return `<${v.byteLength} bytes>${v.byteLength ? ' ' + hex(v) : ''}`;
}

interface Ctx {
  out: Output;
  err: Output;
  errors: EbmlError[];
  printedErrors: number;
  notMatroska: string | undefined;
  stop: boolean;
}

function reportError(ctx: Ctx, e: EbmlError): void {
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
async function pump(
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

export async function runInspect(opts: InspectOptions): Promise<number> {
  const out = new Output(opts.stdout ?? process.stdout);
  const err = new Output(opts.stderr ?? process.stderr);
  const ctx: Ctx = { out, err, errors: [], printedErrors: 0, notMatroska: undefined, stop: false };
  let input: Input;
  try {
    input = await openInput(opts.input);
  } catch (e) {
    err.write(`mkvserve: ${e instanceof Error ? e.message : String(e)}\n`);
    await err.end();
    return EXIT_ERROR;
  }
  let finishOutput: () => void = () => {};
  try {
    if (opts.summary) {
      finishOutput = await runSummary(input, ctx, opts);
    } else if (opts.frames) {
      await runFrames(input, ctx, opts);
    } else {
      finishOutput = await runTree(input, ctx, opts);
    }
  } catch (e) {
    input.close();
    if (e instanceof InputError || !(e instanceof Error) || !('code' in e)) {
      // Input failure (HTTP, read error) or a bug: one clear line.
      err.write(`mkvserve: ${e instanceof Error ? e.message : String(e)}\n`);
      await out.flush();
      await err.end();
      return EXIT_ERROR;
    }
    reportError(ctx, e as EbmlError);
  }
  input.close();
  if (ctx.notMatroska !== undefined) {
    await out.flush();
    err.write(`mkvserve: ${ctx.notMatroska}\n`);
    await err.end();
    return EXIT_ERROR;
  }
  finishOutput();
  if (ctx.errors.length > ctx.printedErrors) {
    err.write(`mkvserve: ... ${ctx.errors.length - ctx.printedErrors} more errors not shown\n`);
  }
  if (ctx.errors.length > 0) {
    err.write(
      `mkvserve: ${input.name}: ${ctx.errors.length} problem${ctx.errors.length === 1 ? '' : 's'} found in the input (damaged); shown what could be recovered\n`,
    );
  }
  await out.end();
  await err.end();
  if (out.error) {
    process.stderr.write(`mkvserve: cannot write output: ${out.error.message}\n`);
    return EXIT_ERROR;
  }
  return ctx.errors.length > 0 ? EXIT_DAMAGED : EXIT_OK;
}

// ---------------------------------------------------------------------------------------------
// Element tree

const ID_CLUSTER = 0x1f43b675;
const ID_TIMESTAMP = 0xe7;
const ID_TIMESTAMP_SCALE = 0x2ad7b1;
const ID_SIMPLE_BLOCK = 0xa3;
const ID_BLOCK = 0xa1;
const ID_SEEK_ID = 0x53ab;

const LACING_NAMES = ['none', 'xiph', 'fixed', 'ebml'];
/** Binaries larger than this are not buffered in tree mode (big frames, attachments). */
const STREAM_BINARIES = 4 << 20;

interface BlockSummary {
  track: number;
  timestamp: number;
  keyframe?: boolean;
  lacing: string;
  frames: number[];
}

async function runTree(input: Input, ctx: Ctx, opts: InspectOptions): Promise<() => void> {
  const json = !!opts.json;
  const out = ctx.out;
  let scale = 1_000_000;
  let clusterTicks = 0;
  let firstTs: number | undefined;
  let blocks = 0;
  const limitNs = opts.duration !== undefined ? opts.duration * 1e9 : undefined;
  // JSON: the stack of open masters and whether each already has a child (for commas).
  const open: { el: ElementHeader; hasChild: boolean }[] = [];
  let topHasChild = false;
  let stoppedEarly = false;

  const blockInfo = (el: ElementHeader, data: Uint8Array, whole: boolean): BlockSummary | undefined => {
    try {
      if (whole) {
        const b = parseBlock(data, el.id === ID_SIMPLE_BLOCK);
        return {
          track: b.track,
          timestamp: (clusterTicks + b.relTimestamp) * scale,
          ...(el.id === ID_SIMPLE_BLOCK ? { keyframe: b.keyframe } : {}),
          lacing: b.lacing,
          frames: b.frames.map((f) => f.byteLength),
        };
      }
    } catch {
      // A damaged block: shown as a plain binary.
    }
    return undefined;
  };

  const countBlock = (b: BlockSummary | undefined): void => {
    blocks++;
    if (b) {
      firstTs ??= b.timestamp;
      if (limitNs !== undefined && b.timestamp - firstTs >= limitNs) {
        ctx.stop = true;
        stoppedEarly = true;
      }
    }
    if (opts.maxFrames !== undefined && blocks >= opts.maxFrames) {
      ctx.stop = true;
      stoppedEarly = true;
    }
  };

  const closeUntil = (parent: ElementHeader | undefined): void => {
    if (!json) return;
    while (open.length > 0 && open[open.length - 1].el !== parent) {
      open.pop();
      out.write(']}');
    }
  };

  const jsonStart = (el: ElementHeader): void => {
    closeUntil(el.parent);
    const top = open[open.length - 1];
    const first = top ? !top.hasChild : !topHasChild;
    if (top) top.hasChild = true;
    else topHasChild = true;
    out.write(`${first ? '' : ','}\n${'  '.repeat(open.length + 1)}`);
    out.write(
      `{"id":"${idHex(el.id)}","name":${JSON.stringify(el.info?.name ?? 'Unknown')},"offset":${el.offset},"headerSize":${el.headerSize},"size":${el.size < 0 ? 'null' : el.size}`,
    );
  };

  const textLine = (el: ElementHeader, rest: string): void => {
    const name = el.info?.name ?? 'Unknown';
    const size = el.size < 0 ? 'unknown' : String(el.size);
    const where = opts.offsets ? ` @${el.offset} header ${el.headerSize} data @${el.dataOffset}` : '';
    out.write(`${'  '.repeat(el.depth)}${name} (${idHex(el.id)}) size ${size}${where}${rest}\n`);
  };

  const blockText = (b: BlockSummary | undefined): string => {
    if (!b) return '';
    const sizes = b.frames.length > 8 ? b.frames.slice(0, 8).join(',') + ',...' : b.frames.join(',');
    return `: track ${b.track}, ${formatTime(b.timestamp)}${b.keyframe ? ', keyframe' : ''}${b.lacing !== 'none' ? `, ${b.lacing} lacing` : ''}, ${b.frames.length} frame${b.frames.length === 1 ? '' : 's'} (${sizes})`;
  };

  const reader = new EbmlReader(
    {
      onMasterStart(el) {
        if (ctx.stop) return false;
        if (el.id === ID_CLUSTER) clusterTicks = 0;
        if (json) {
          jsonStart(el);
          out.write(',"children":[');
          open.push({ el, hasChild: false });
        } else {
          textLine(el, '');
        }
        return true;
      },
      onMasterEnd(el) {
        if (!json) return;
        const i = open.findIndex((o) => o.el === el);
        if (i < 0) return;
        while (open.length > i) {
          open.pop();
          out.write(']}');
        }
      },
      onValue(el, value) {
        if (ctx.stop) return;
        const type = el.info?.type;
        if (el.id === ID_TIMESTAMP && el.parent?.id === ID_CLUSTER && typeof value === 'number') clusterTicks = value;
        if (el.id === ID_TIMESTAMP_SCALE && typeof value === 'number' && value > 0) scale = value;
        let block: BlockSummary | undefined;
        const isBlock = el.id === ID_SIMPLE_BLOCK || el.id === ID_BLOCK;
        if (isBlock && value instanceof Uint8Array) block = blockInfo(el, value, true);
        if (json) {
          jsonStart(el);
          out.write(`,"value":${JSON.stringify(jsonValue(type, value))}`);
          if (block) out.write(`,"block":${JSON.stringify(block)}`);
          out.write('}');
        } else {
          let text = isBlock && block ? blockText(block) : `: ${textValue(type, value)}`;
          if (el.id === ID_SEEK_ID && value instanceof Uint8Array && value.length <= 4) {
            const target = ELEMENT_BY_ID.get(value.reduce((a, b) => a * 256 + b, 0));
            if (target) text += ` (${target.name})`;
          }
          textLine(el, text);
        }
        if (isBlock) countBlock(block);
      },
      onBinaryPart(el, part, partOffset) {
        // Binaries above STREAM_BINARIES arrive in pieces: described from their first piece.
        if (ctx.stop || partOffset !== 0) return;
        const isBlock = el.id === ID_SIMPLE_BLOCK || el.id === ID_BLOCK;
        const h = isBlock ? readBlockHeader(part) : undefined;
        const block = h
          ? {
              track: h.track,
              timestamp: (clusterTicks + h.relTimestamp) * scale,
              ...(el.id === ID_SIMPLE_BLOCK ? { keyframe: (h.flags & 0x80) !== 0 } : {}),
              lacing: LACING_NAMES[(h.flags >> 1) & 3],
              frames: [] as number[],
            }
          : undefined;
        if (json) {
          jsonStart(el);
          out.write(`,"value":${JSON.stringify({ binary: el.size, hex: hex(part) })}`);
          if (block) out.write(`,"block":${JSON.stringify(block)}`);
          out.write('}');
        } else {
          textLine(
            el,
            block
              ? `: track ${block.track}, ${formatTime(block.timestamp)}${block.keyframe ? ', keyframe' : ''}${block.lacing !== 'none' ? `, ${block.lacing} lacing` : ''}`
              : `: <${el.size} bytes> ${hex(part)}`,
          );
        }
        if (isBlock) countBlock(block);
      },
      onResync(from, to) {
        ctx.out.flushSync();
        ctx.err.write(`mkvserve: resumed reading at byte ${to} (skipped ${to - from} bytes from byte ${from})\n`);
        ctx.err.flushSync();
      },
      onError(e) {
        reportError(ctx, e);
      },
    },
    { verifyCrc: true, streamBinariesLargerThan: STREAM_BINARIES },
  );

  if (json) out.write('{"elements":[');
  await pump(
    input,
    ctx,
    (c) => reader.push(c),
    () => reader.end(),
  );
  return () => {
    if (!json) {
      if (stoppedEarly) out.write(`(stopped after ${blocks} blocks)\n`);
      return;
    }
    while (open.length > 0) {
      open.pop();
      out.write(']}');
    }
    out.write(
      `\n],"errors":${JSON.stringify(ctx.errors.map((e) => ({ code: e.code, offset: e.offset, path: e.path, fatal: e.fatal, message: e.message })))}`,
    );
    if (stoppedEarly) out.write(`,"stoppedEarly":true`);
    out.write('}\n');
  };
}

// ---------------------------------------------------------------------------------------------
// Frames

function frameLimiter(opts: InspectOptions, ctx: Ctx): (f: Frame) => boolean {
  let count = 0;
  let first: number | undefined;
  const limitNs = opts.duration !== undefined ? opts.duration * 1e9 : undefined;
  return (f) => {
    if (ctx.stop) return false;
    if (opts.maxFrames !== undefined && count >= opts.maxFrames) {
      ctx.stop = true;
      return false;
    }
    first ??= f.timestamp;
    if (limitNs !== undefined && f.timestamp - first >= limitNs) {
      ctx.stop = true;
      return false;
    }
    count++;
    if (opts.maxFrames !== undefined && count >= opts.maxFrames) ctx.stop = true;
    return true;
  };
}

async function runFrames(input: Input, ctx: Ctx, opts: InspectOptions): Promise<void> {
  const out = ctx.out;
  const accept = frameLimiter(opts, ctx);
  const demuxer = new MatroskaDemuxer(
    {
      onFrame(f) {
        if (!accept(f)) return;
        const ts = Math.round(f.timestamp);
        if (opts.json) {
          let line = `{"track":${f.track},"timestamp":${ts},"keyframe":${f.keyframe},"size":${f.data.byteLength}`;
          if (f.duration !== undefined) line += `,"duration":${Math.round(f.duration)}`;
          if (f.offset !== undefined) line += `,"offset":${f.offset}`;
          out.write(line + '}\n');
        } else {
          const off = opts.offsets && f.offset !== undefined ? ` @${f.offset}` : '';
          out.write(`track ${f.track} ${formatTime(ts)} ${f.keyframe ? 'key' : '   '} ${f.data.byteLength}${off}\n`);
        }
      },
      onError(e) {
        reportError(ctx, e);
      },
    },
    { reader: { verifyCrc: true } },
  );
  await pump(
    input,
    ctx,
    (c) => demuxer.push(c),
    () => demuxer.end(),
  );
}

// ---------------------------------------------------------------------------------------------
// Summary

interface TrackStats {
  frames: number;
  keyframes: number;
  bytes: number;
  first?: number;
  last?: number;
  end?: number;
}

async function runSummary(input: Input, ctx: Ctx, opts: InspectOptions): Promise<() => void> {
  let header: MatroskaHeader | undefined;
  const stats = new Map<number, TrackStats>();
  let cues: CuePoint[] = [];
  let chapters: Edition[] = [];
  let tags: Tag[] = [];
  let attachments: Attachment[] = [];
  let bytesRead = 0;
  let clusters = 0;
  const accept = frameLimiter(opts, ctx);
  const demuxer = new MatroskaDemuxer(
    {
      onHeader(h) {
        header = h;
      },
      onFrame(f) {
        if (!accept(f)) return;
        let s = stats.get(f.track);
        if (!s) stats.set(f.track, (s = { frames: 0, keyframes: 0, bytes: 0 }));
        s.frames++;
        if (f.keyframe) s.keyframes++;
        s.bytes += f.data.byteLength;
        if (s.first === undefined || f.timestamp < s.first) s.first = f.timestamp;
        if (s.last === undefined || f.timestamp > s.last) s.last = f.timestamp;
        const end = f.timestamp + (f.duration ?? 0);
        if (s.end === undefined || end > s.end) s.end = end;
      },
      onClusterStart() {
        clusters++;
      },
      onCues(c) {
        cues = cues.concat(c);
      },
      onChapters(e) {
        chapters = chapters.concat(e);
      },
      onTags(t) {
        tags = tags.concat(t);
      },
      onAttachments(a) {
        attachments = attachments.concat(a);
      },
      onError(e) {
        reportError(ctx, e);
      },
    },
    { reader: { verifyCrc: true } },
  );
  await pump(
    input,
    ctx,
    (c) => {
      bytesRead += c.byteLength;
      demuxer.push(c);
    },
    () => demuxer.end(),
  );

  return () => {
    const out = ctx.out;
    if (!header) {
      if (opts.json)
        out.write(
          JSON.stringify({ input: input.name, bytes: bytesRead, tracks: [], errors: ctx.errors.length }) + '\n',
        );
      else out.write(`${input.name}: no Matroska header found\n`);
      return;
    }
    let minTs = Infinity;
    let maxEnd = -Infinity;
    for (const s of stats.values()) {
      if (s.first !== undefined) minTs = Math.min(minTs, s.first);
      if (s.end !== undefined) maxEnd = Math.max(maxEnd, s.end);
    }
    const measured = Number.isFinite(minTs) && Number.isFinite(maxEnd) ? maxEnd - minTs : undefined;
    const duration = header.info.duration ?? measured;
    const durationSource = header.info.duration !== undefined ? 'info' : measured !== undefined ? 'frames' : 'none';
    const secs = duration !== undefined && duration > 0 ? duration / 1e9 : undefined;
    const size = input.size ?? bytesRead;
    const bitrate = secs ? Math.round((size * 8) / secs) : undefined;
    const tracks = header.tracks.map((t) => trackSummary(t, stats.get(t.number), secs));
    if (opts.json) {
      const obj = {
        input: input.name,
        bytes: size,
        docType: header.ebml.docType,
        docTypeVersion: header.ebml.docTypeVersion,
        muxingApp: header.info.muxingApp,
        writingApp: header.info.writingApp,
        title: header.info.title,
        timestampScale: header.info.timestampScale,
        live: header.segmentSize < 0,
        duration: duration !== undefined ? Math.round(duration) : null,
        durationSource,
        bitrate: bitrate ?? null,
        clusters,
        cuePoints: cues.length,
        chapters: chapters.reduce((n, e) => n + countAtoms(e.chapters), 0),
        editions: chapters.length,
        tags: tags.length,
        attachments: attachments.map((a) => ({ name: a.name, mediaType: a.mediaType, size: a.data.byteLength })),
        tracks,
        errors: ctx.errors.length,
      };
      out.write(JSON.stringify(obj, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)) + '\n');
      return;
    }
    const lines: string[] = [];
    lines.push(`Input:      ${input.name} (${size} bytes)`);
    lines.push(
      `Container:  ${header.ebml.docType} v${header.ebml.docTypeVersion}${header.segmentSize < 0 ? ', live (unknown-size Segment)' : ''}`,
    );
    if (header.info.title) lines.push(`Title:      ${header.info.title}`);
    if (header.info.muxingApp || header.info.writingApp)
      lines.push(`Written by: ${[header.info.muxingApp, header.info.writingApp].filter(Boolean).join(' / ')}`);
    lines.push(
      `Duration:   ${duration !== undefined ? formatTime(duration) : 'unknown'}${durationSource === 'frames' ? ' (measured from the frames)' : ''}`,
    );
    lines.push(`Bitrate:    ${bitrate !== undefined ? `${(bitrate / 1000).toFixed(1)} kb/s` : 'unknown'}`);
    lines.push(
      `Clusters:   ${clusters}, cue points: ${cues.length}, chapters: ${chapters.reduce((n, e) => n + countAtoms(e.chapters), 0)}, tags: ${tags.length}, attachments: ${attachments.length}`,
    );
    lines.push(`Tracks:     ${tracks.length}`);
    for (const t of tracks) {
      const parts: string[] = [`  #${t.number} ${t.kind} ${t.codecId}`];
      if (t.width !== undefined) parts.push(`${t.width}x${t.height}`);
      if (t.fps !== undefined) parts.push(`${t.fps} fps`);
      if (t.sampleRate !== undefined) parts.push(`${t.sampleRate} Hz ${t.channels} ch`);
      if (t.language) parts.push(`lang ${t.language}`);
      if (t.name) parts.push(JSON.stringify(t.name));
      if (t.encrypted) parts.push('encrypted');
      lines.push(parts.join(', '));
      lines.push(
        `      ${t.frames} frames (${t.keyframes} keyframes), ${t.bytes} bytes${t.bitrate !== null ? `, ${(t.bitrate / 1000).toFixed(1)} kb/s` : ''}${t.firstTimestamp !== null ? `, ${formatTime(t.firstTimestamp)} .. ${formatTime(t.lastTimestamp!)}` : ''}`,
      );
    }
    out.write(lines.join('\n') + '\n');
  };
}

function countAtoms(atoms: { children: unknown[] }[]): number {
  let n = 0;
  for (const a of atoms) n += 1 + countAtoms(a.children as { children: unknown[] }[]);
  return n;
}

function trackSummary(t: TrackInfo, s: TrackStats | undefined, secs: number | undefined) {
  const fps = t.defaultDuration && t.kind === 'video' ? Math.round((1e9 / t.defaultDuration) * 1000) / 1000 : undefined;
  return {
    number: t.number,
    kind: t.kind,
    codecId: t.codecId,
    ...(t.codecName ? { codecName: t.codecName } : {}),
    ...(t.name ? { name: t.name } : {}),
    ...(t.language ? { language: t.language } : {}),
    ...(t.video ? { width: t.video.pixelWidth, height: t.video.pixelHeight } : {}),
    ...(fps !== undefined ? { fps } : {}),
    ...(t.audio ? { sampleRate: t.audio.samplingFrequency, channels: t.audio.channels } : {}),
    ...(t.encrypted ? { encrypted: true } : {}),
    frames: s?.frames ?? 0,
    keyframes: s?.keyframes ?? 0,
    bytes: s?.bytes ?? 0,
    firstTimestamp: s?.first !== undefined ? Math.round(s.first) : null,
    lastTimestamp: s?.last !== undefined ? Math.round(s.last) : null,
    bitrate: secs && s ? Math.round((s.bytes * 8) / secs) : null,
  };
}
