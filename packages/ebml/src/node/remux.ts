// Streaming remux: any Matroska/WebM input (a file, a pipe, a web stream; live, MediaRecorder-made or
// damaged) -> a clean file with keyframe-aligned Clusters, Cues, SeekHead and Duration (file mode), or a
// live-shaped stream (unknown sizes) into a Node or web stream. Memory stays bounded whatever the input
// size: input chunks are demuxed one at a time, the muxer's output is flushed to the destination once a
// high-water mark is queued (awaiting it before reading on), and the file-mode muxer's sizes, Duration
// and SeekHead are positional patches applied at the end. Used by `mkvserve remux` and examples/.

import { open, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { Writable } from 'node:stream';
import { EbmlError } from '../errors.js';
import { MatroskaDemuxer } from '../matroska/demuxer.js';
import type { DemuxerOptions } from '../matroska/demuxer.js';
import { parseAttachments, parseChapters, parseTags } from '../matroska/metadata.js';
import type { MetaNode } from '../matroska/metadata.js';
import { MatroskaMuxer } from '../matroska/muxer.js';
import type { MuxerPatch } from '../matroska/muxer.js';
import type { Attachment, Edition, Frame, MatroskaHeader, Tag } from '../matroska/types.js';
import { EbmlReader } from '../reader.js';
import { Id } from '../schema.generated.js';
import { readSize, vintLength } from '../vint.js';
import { DEFAULT_FILE_HWM, toChunks } from './demux.js';
import type { DemuxSource } from './demux.js';
import { MatroskaFileSink } from './file-sink.js';

/** Chapters, Tags and Attachments to write (known before the frames, e.g. read through a SeekHead). */
export interface RemuxMetadata {
  chapters?: Edition[];
  tags?: Tag[];
  attachments?: Attachment[];
}

export interface RemuxOptions {
  /**
   * Live-shaped output (unknown sizes; no Cues, SeekHead or Duration). Default: false for a file path
   * (a seekable file), and always true for a stream destination, which cannot be patched.
   */
  live?: boolean;
  /** DocType of the output (default: the input's, 'matroska' or 'webm'). */
  docType?: string;
  /** Demuxer options (limits, inflate budget). */
  demuxer?: DemuxerOptions;
  /** Read size for a file path source, and how much output is queued before it is written (default 1 MiB). */
  highWaterMark?: number;
  /**
   * Metadata known ahead; it wins over the copies found in the input. Default for a file path source: the
   * Chapters, Tags and Attachments its SeekHead points to (mkvmerge writes Tags after the Clusters).
   */
  metadata?: RemuxMetadata;
  /** Stops reading; the output is finished with what was received so far (a recording's end; not damage). */
  stop?: AbortSignal;
  /** Cancels: stops reading, removes a partial output file and rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Every problem found in the input, as it is found (reading goes on unless it is fatal). */
  onError?(error: EbmlError): void;
  /** A frame the muxer could not write (e.g. a timestamp too far below 0): skipped. */
  onSkippedFrame?(frame: Frame, error: EbmlError): void;
  /** After each input chunk. */
  onProgress?(progress: { bytesIn: number; frames: number }): void;
}

export interface RemuxResult {
  /** The header of the input (the first one, when the input holds several). */
  header: MatroskaHeader;
  /** Frames written. */
  frames: number;
  /** Frames the muxer could not write (see onSkippedFrame). */
  skippedFrames: number;
  bytesIn: number;
  /** Size of the output. */
  bytesOut: number;
  /** Nanoseconds: max(timestamp + duration) over the frames written. */
  duration: number;
  /** Cue points written (file mode). */
  cuePoints: number;
  /** Problems found in the input (the first 100; errorCount counts all). */
  errors: EbmlError[];
  errorCount: number;
  /** True when `stop` ended the input early. */
  stopped: boolean;
  /** The source failed midway (a reset HTTP body, ...): the output holds what was received before. */
  inputError?: Error;
  /** Chapters or Attachments found after the first Cluster when some were already written: not copied. */
  lateMetadataLost: boolean;
  /** The destination stream went away (EPIPE, closed): the output is incomplete. */
  outputClosed: boolean;
}

/** Where a remux writes: a file path (seekable file, written to a temporary name and renamed at the end), a
 *  Node Writable or a web WritableStream (live-shaped). */
export type RemuxDestination = string | NodeJS.WritableStream | WritableStream<Uint8Array>;

const MAX_KEPT_ERRORS = 100;
/** Largest metadata element read through a SeekHead (attachments can be big). */
const MAX_METADATA_ELEMENT = 256 << 20;

// ---- metadata read ahead ------------------------------------------------------------------------------

/** Parses one whole EBML element (bytes) into a MetaNode tree. */
function metaTree(bytes: Uint8Array): MetaNode | undefined {
  let root: MetaNode | undefined;
  const stack: MetaNode[] = [];
  const reader = new EbmlReader({
    onMasterStart(el) {
      const n: MetaNode = { id: el.id, children: [] };
      if (stack.length) stack[stack.length - 1].children!.push(n);
      else root ??= n;
      stack.push(n);
    },
    onMasterEnd() {
      stack.pop();
    },
    onValue(el, value) {
      if (stack.length) stack[stack.length - 1].children!.push({ id: el.id, value });
    },
  });
  reader.push(bytes);
  reader.end();
  return root;
}

/**
 * For a seekable file: the Chapters, Tags and Attachments its SeekHead points to (also through one level
 * of secondary SeekHeads). mkvmerge writes Tags after the Clusters, too late for a muxer that writes
 * metadata before the first Cluster. Best effort: anything unexpected gives an empty result.
 */
export async function readSeekHeadMetadata(path: string): Promise<RemuxMetadata> {
  const result: RemuxMetadata = {};
  let fh: Awaited<ReturnType<typeof open>> | undefined;
  try {
    fh = await open(path, 'r');
    const size = (await fh.stat()).size;
    const file = fh;
    const readAt = async (pos: number, len: number): Promise<Uint8Array> => {
      const buf = new Uint8Array(Math.max(0, Math.min(len, size - pos)));
      let done = 0;
      while (done < buf.length) {
        const { bytesRead } = await file.read(buf, done, buf.length - done, pos + done);
        if (bytesRead === 0) break;
        done += bytesRead;
      }
      return buf.subarray(0, done);
    };
    let segData = -1;
    const seeks: { id: number; position: number }[] = [];
    const readSeekHead = (bytes: Uint8Array, base: number): void => {
      let seekId = 0;
      let seekPos = -1;
      const reader = new EbmlReader({
        onMasterStart(el) {
          if (el.id === Id.Segment && segData < 0) segData = base + el.dataOffset;
          if (el.id === Id.Cluster) return false;
          if (el.id === Id.Seek) {
            seekId = 0;
            seekPos = -1;
          }
          return true;
        },
        onMasterEnd(el) {
          if (el.id === Id.Seek && seekId && seekPos >= 0) seeks.push({ id: seekId, position: seekPos });
        },
        onValue(el, v) {
          if (el.id === Id.SeekID && v instanceof Uint8Array) seekId = v.reduce((a, b) => a * 256 + b, 0);
          else if (el.id === Id.SeekPosition && typeof v === 'number') seekPos = v;
        },
      });
      reader.push(bytes);
    };
    readSeekHead(await readAt(0, 64 * 1024), 0);
    if (segData < 0) return result;
    const readElement = async (abs: number): Promise<Uint8Array | undefined> => {
      const head = await readAt(abs, 16);
      const idLen = head.length ? vintLength(head[0]) : 0;
      if (idLen === 0 || idLen > 4 || head.length < idLen + 1) return undefined;
      const sizeLen = vintLength(head[idLen]);
      if (sizeLen === 0 || head.length < idLen + sizeLen) return undefined;
      const dataSize = readSize(head, idLen, sizeLen);
      if (dataSize < 0 || dataSize > MAX_METADATA_ELEMENT) return undefined;
      return readAt(abs, idLen + sizeLen + dataSize);
    };
    const seekHeads = new Set<number>();
    for (const s of seeks.slice()) {
      if (s.id !== Id.SeekHead || seekHeads.has(s.position)) continue;
      seekHeads.add(s.position);
      const bytes = await readElement(segData + s.position);
      if (bytes) readSeekHead(bytes, -Infinity);
    }
    for (const s of seeks) {
      if (s.id !== Id.Tags && s.id !== Id.Chapters && s.id !== Id.Attachments) continue;
      const bytes = await readElement(segData + s.position);
      const node = bytes && metaTree(bytes);
      if (!node || node.id !== s.id) continue;
      if (s.id === Id.Tags) result.tags = (result.tags ?? []).concat(parseTags(node));
      else if (s.id === Id.Chapters) result.chapters = (result.chapters ?? []).concat(parseChapters(node));
      else result.attachments = (result.attachments ?? []).concat(parseAttachments(node));
    }
    return result;
  } catch {
    return {};
  } finally {
    await fh?.close();
  }
}

// ---- destinations ---------------------------------------------------------------------------------------

interface Sink {
  write(chunk: Uint8Array): void;
  /** Bytes queued, not yet written. */
  readonly queued: number;
  flush(): Promise<void>;
  /** Flushes, applies the patches (file), closes; a file gets its final name. */
  finish(patches: readonly MuxerPatch[]): Promise<void>;
  /** Removes a partial file / releases the stream. */
  abort(): Promise<void>;
  /** The destination went away: stop producing output. */
  readonly closed: boolean;
}

async function fileSink(path: string, hwm: number): Promise<Sink> {
  const target = resolve(path);
  const st = await stat(target).catch(() => undefined);
  if (st?.isDirectory()) throw new Error(`output ${path} is a directory`);
  const tmp = join(dirname(target), `.${basename(target)}.${process.pid}-${Date.now().toString(36)}.partial`);
  const sink = await MatroskaFileSink.open(tmp, hwm);
  let pending = 0;
  return {
    closed: false,
    get queued() {
      return pending;
    },
    write(c) {
      sink.write(c);
      pending += c.length;
    },
    async flush() {
      await sink.flush();
      pending = 0;
    },
    async finish(patches) {
      await sink.applyPatches(patches);
      await sink.close();
      await rename(tmp, target);
    },
    async abort() {
      await sink.close().catch(() => {});
      await rm(tmp, { force: true });
    },
  };
}

function isWebStream(d: RemuxDestination): d is WritableStream<Uint8Array> {
  return typeof (d as WritableStream<Uint8Array>).getWriter === 'function';
}

function nodeStreamSink(stream: NodeJS.WritableStream): Sink {
  let pending: Uint8Array[] = [];
  let bytes = 0;
  let closed = false;
  const gone = (): void => {
    closed = true;
  };
  // A reader that goes away (EPIPE, `| head`) closes the sink instead of crashing the process.
  stream.on('error', gone);
  stream.on('close', gone);
  const waitDrain = (): Promise<void> =>
    new Promise<void>((done) => {
      const end = (): void => {
        stream.off('drain', end);
        stream.off('error', end);
        stream.off('close', end);
        done();
      };
      stream.on('drain', end);
      stream.on('error', end);
      stream.on('close', end);
    });
  const flush = async (): Promise<void> => {
    if (bytes === 0 || closed) return;
    const data = Buffer.concat(pending, bytes);
    pending = [];
    bytes = 0;
    if (!stream.write(data) && !closed) await waitDrain();
  };
  const release = (): void => {
    stream.off('error', gone);
    stream.off('close', gone);
  };
  return {
    get closed() {
      return closed;
    },
    get queued() {
      return bytes;
    },
    write(c) {
      if (closed) return;
      pending.push(c);
      bytes += c.length;
    },
    flush,
    async finish() {
      await flush();
      if (!closed && stream !== process.stdout && stream !== process.stderr) {
        await new Promise<void>((done) => (stream as Writable).end(done));
      }
      release();
    },
    abort() {
      release();
      return Promise.resolve();
    },
  };
}

function webStreamSink(ws: WritableStream<Uint8Array>): Sink {
  const writer = ws.getWriter();
  let pending: Uint8Array[] = [];
  let bytes = 0;
  let closed = false;
  writer.closed.catch(() => (closed = true));
  const flush = async (): Promise<void> => {
    if (bytes === 0 || closed) return;
    const data = new Uint8Array(bytes);
    let o = 0;
    for (const p of pending) {
      data.set(p, o);
      o += p.length;
    }
    pending = [];
    bytes = 0;
    try {
      await writer.ready;
      await writer.write(data);
    } catch {
      closed = true;
    }
  };
  return {
    get closed() {
      return closed;
    },
    get queued() {
      return bytes;
    },
    write(c) {
      if (closed) return;
      pending.push(c);
      bytes += c.length;
    },
    flush,
    async finish() {
      await flush();
      if (!closed) await writer.close().catch(() => undefined);
      writer.releaseLock();
    },
    async abort() {
      await writer.abort().catch(() => undefined);
    },
  };
}

// ---- the remux ----------------------------------------------------------------------------------------

const ABORTED = /* @__PURE__ */ Symbol('aborted');

/** Iterates `source`, stopping (and releasing it) when `stop` or `signal` fires, even while a read waits. */
async function* interruptible(
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  signals: (AbortSignal | undefined)[],
): AsyncGenerator<Uint8Array> {
  const live = signals.filter((s): s is AbortSignal => s !== undefined);
  if (live.some((s) => s.aborted)) return;
  const it = Symbol.asyncIterator in source ? source[Symbol.asyncIterator]() : source[Symbol.iterator]();
  // One listener per read, removed when the read settles (racing every read against one long-lived
  // promise would keep each chunk reachable from that promise's reactions: unbounded memory).
  const nextOrAbort = (): Promise<IteratorResult<Uint8Array> | typeof ABORTED> =>
    new Promise((resolve, reject) => {
      const onAbort = (): void => {
        for (const s of live) s.removeEventListener('abort', onAbort);
        resolve(ABORTED);
      };
      for (const s of live) s.addEventListener('abort', onAbort, { once: true });
      Promise.resolve(it.next()).then(
        (r) => {
          for (const s of live) s.removeEventListener('abort', onAbort);
          resolve(r);
        },
        (e: unknown) => {
          for (const s of live) s.removeEventListener('abort', onAbort);
          reject(e instanceof Error ? e : new Error(String(e)));
        },
      );
    });
  try {
    for (;;) {
      const r = live.length ? await nextOrAbort() : await it.next();
      if (r === ABORTED || r.done) return;
      yield r.value;
    }
  } finally {
    // Releases a file handle / socket; not awaited: a read still pending may never settle (a quiet pipe).
    void Promise.resolve(it.return?.()).catch(() => undefined);
  }
}

/**
 * Remuxes `source` into `destination` with bounded memory (see the file header). Resolves when the output
 * is complete. Rejects with an EbmlError when there is nothing to write (NOT_MATROSKA; no header before the
 * input ended or a fatal error: TRUNCATED / the fatal error) or the destination cannot be written, and
 * with `signal.reason` when cancelled; a partial output file is removed in each case. Damage in the input
 * is reported through onError and counted in the result: what can be recovered is written.
 */
export async function remux(
  source: DemuxSource,
  destination: RemuxDestination,
  options: RemuxOptions = {},
): Promise<RemuxResult> {
  const hwm = options.highWaterMark ?? DEFAULT_FILE_HWM;
  if (!(hwm >= 1)) throw new RangeError(`highWaterMark must be >= 1, got ${hwm}`);
  const toFile = typeof destination === 'string';
  const live = toFile ? options.live === true : true;
  if (toFile && typeof source === 'string' && resolve(source) === resolve(destination)) {
    throw new EbmlError({ code: 'ENCODE', message: 'the output must not be the input file' });
  }
  options.signal?.throwIfAborted();
  const pre: RemuxMetadata = options.metadata ?? (typeof source === 'string' ? await readSeekHeadMetadata(source) : {});

  const sink: Sink = toFile
    ? await fileSink(destination, hwm)
    : isWebStream(destination)
      ? webStreamSink(destination)
      : nodeStreamSink(destination);

  let header: MatroskaHeader | undefined;
  let muxer: MatroskaMuxer | undefined;
  let chapters = pre.chapters;
  let tags = pre.tags;
  let attachments = pre.attachments;
  // Metadata found after the first Cluster: written at finish() (after the Cues, or the last Cluster live).
  const late = { chapters: [] as Edition[], tags: [] as Tag[], attachments: [] as Attachment[] };
  let lateMetadataLost = false;
  let notMatroska: EbmlError | undefined;
  let fatal: EbmlError | undefined;
  const errors: EbmlError[] = [];
  let errorCount = 0;
  let frames = 0;
  let skippedFrames = 0;
  let bytesIn = 0;

  const ensureMuxer = (): MatroskaMuxer | undefined => {
    if (muxer || !header) return muxer;
    muxer = new MatroskaMuxer(header, {
      live,
      ...(options.docType ? { docType: options.docType } : {}),
      ...(chapters ? { chapters } : {}),
      ...(tags ? { tags } : {}),
      ...(attachments ? { attachments } : {}),
      write: (c) => sink.write(c),
    });
    muxer.start();
    return muxer;
  };

  const demuxer = new MatroskaDemuxer(
    {
      onHeader(h) {
        header ??= h;
      },
      onChapters(e) {
        if (pre.chapters) return;
        // The muxer writes Chapters once: late ones are added only when none were written at the start.
        if (muxer && chapters) lateMetadataLost = true;
        else if (muxer) late.chapters.push(...e);
        else chapters = (chapters ?? []).concat(e);
      },
      onTags(t) {
        if (pre.tags) return;
        if (muxer) late.tags.push(...t);
        else tags = (tags ?? []).concat(t);
      },
      onAttachments(a) {
        if (pre.attachments) return;
        if (muxer && attachments) lateMetadataLost = true;
        else if (muxer) late.attachments.push(...a);
        else attachments = (attachments ?? []).concat(a);
      },
      onFrame(f) {
        const m = ensureMuxer();
        if (!m) return;
        try {
          m.addFrame(f);
          frames++;
        } catch (e) {
          skippedFrames++;
          options.onSkippedFrame?.(f, e as EbmlError);
        }
      },
      onError(e) {
        if (e.code === 'NOT_MATROSKA') {
          notMatroska ??= e;
          return;
        }
        errorCount++;
        if (errors.length < MAX_KEPT_ERRORS) errors.push(e);
        if (e.fatal) fatal ??= e;
        options.onError?.(e);
      },
    },
    options.demuxer,
  );

  let inputError: Error | undefined;
  let failed = true;
  try {
    try {
      for await (const chunk of interruptible(toChunks(source, hwm), [options.stop, options.signal])) {
        bytesIn += chunk.length;
        demuxer.push(chunk);
        if (notMatroska || fatal || sink.closed) break;
        if (sink.queued >= hwm) await sink.flush();
        options.onProgress?.({ bytesIn, frames });
      }
    } catch (e) {
      // A source that fails midway (HTTP reset, ...): keep what was received, like a stopped recording.
      if (!header || notMatroska) throw e;
      inputError = e instanceof Error ? e : new Error(String(e));
    }
    options.signal?.throwIfAborted();
    const stopped = options.stop?.aborted === true;
    // After stop() the input was cut on purpose, and after the destination went away reading stopped:
    // a partial last block is not damage then.
    if (!notMatroska && !fatal && !stopped && !inputError && !sink.closed) demuxer.end();
    if (notMatroska) throw notMatroska;
    const m = ensureMuxer();
    if (!m) {
      throw (
        fatal ??
        new EbmlError({
          code: 'TRUNCATED',
          message: 'no Matroska header (EBML, Info, Tracks) found before the end of the input: nothing written',
          offset: bytesIn,
        })
      );
    }
    const fin = m.finish(late);
    const outputClosed = sink.closed;
    await sink.finish(fin.patches);
    failed = false;
    return {
      header: header!,
      frames,
      skippedFrames,
      bytesIn,
      bytesOut: fin.size,
      duration: fin.duration,
      cuePoints: fin.cues.length,
      errors,
      errorCount,
      stopped,
      ...(inputError ? { inputError } : {}),
      lateMetadataLost,
      outputClosed,
    };
  } finally {
    if (failed) await sink.abort();
  }
}
