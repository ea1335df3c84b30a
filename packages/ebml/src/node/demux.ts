// Node adapters for the demuxer: from a file path, a Node Readable, a web ReadableStream or any
// (async) iterable of byte chunks to async iterators of per-chunk batches. Thin layers over the
// synchronous MatroskaDemuxer: parsing stays synchronous per chunk, only the I/O is async.

import { Transform } from 'node:stream';
import type { TransformCallback } from 'node:stream';
import type { EbmlError } from '../errors.js';
import { MatroskaDemuxer } from '../matroska/demuxer.js';
import { readFileChunks } from './file-chunks.js';
import type { DemuxerOptions, DemuxResult } from '../matroska/demuxer.js';
import type { Attachment, CuePoint, Edition, Frame, MatroskaHeader, Tag } from '../matroska/types.js';

/** Anything the adapters read from: a file path, a Node Readable, a web ReadableStream, or chunks. */
export type DemuxSource = string | AsyncIterable<Uint8Array> | Iterable<Uint8Array> | ReadableStream<Uint8Array>;

/** What one input chunk produced, in order of kind (a header always precedes the frames it describes). */
export interface DemuxBatch {
  /** Set in the batch where the header became known (and again after a new EBML header). */
  header?: MatroskaHeader;
  frames: Frame[];
  /** Cluster starts seen in this chunk: timestamp (ns) and byte offset. */
  clusters: { timestamp: number; offset: number }[];
  errors: EbmlError[];
  cues?: CuePoint[];
  chapters?: Edition[];
  tags?: Tag[];
  attachments?: Attachment[];
}

export interface NodeDemuxOptions extends DemuxerOptions {
  /**
   * Read size for file paths (default 1 MiB). Large reads matter: fewer chunks means fewer frames that
   * straddle two chunks (each is copied once) and fewer async iterations; on a 230 MB H.264 file 1 MiB
   * reads demux about twice as fast as 64 KiB ones. Frames are views into the chunks, so a kept frame
   * keeps its whole chunk alive.
   */
  highWaterMark?: number;
  /** Stop at the first fatal error by throwing it from the iterator (default false: it is in `errors`). */
  throwOnFatal?: boolean;
}

/** Default read size for file paths (see NodeDemuxOptions.highWaterMark). */
export const DEFAULT_FILE_HWM = 1 << 20;

/** @internal The chunks of a DemuxSource (a path is read with `hwm`-byte reads). */
export function toChunks(source: DemuxSource, hwm: number): AsyncIterable<Uint8Array> | Iterable<Uint8Array> {
  if (typeof source === 'string') return readFileChunks(source, { chunkSize: hwm });
  if (typeof (source as { getReader?: unknown }).getReader === 'function' && !(Symbol.asyncIterator in source)) {
    const rs = source as unknown as ReadableStream<Uint8Array>;
    return {
      async *[Symbol.asyncIterator]() {
        const reader = rs.getReader();
        try {
          for (;;) {
            const r = await reader.read();
            if (r.done) return;
            yield r.value;
          }
        } finally {
          reader.releaseLock();
        }
      },
    };
  }
  return source as AsyncIterable<Uint8Array> | Iterable<Uint8Array>;
}

/** Collects demuxer output into batches; `take()` hands out the current batch. */
class BatchCollector {
  batch: DemuxBatch = { frames: [], clusters: [], errors: [] };
  fatal: EbmlError | undefined;
  readonly demuxer: MatroskaDemuxer;

  constructor(options: DemuxerOptions | undefined) {
    this.demuxer = new MatroskaDemuxer(
      {
        onHeader: (h) => (this.batch.header = h),
        onFrame: (f) => this.batch.frames.push(f),
        onClusterStart: (timestamp, offset) => this.batch.clusters.push({ timestamp, offset }),
        onCues: (c) => (this.batch.cues = (this.batch.cues ?? []).concat(c)),
        onChapters: (c) => (this.batch.chapters = (this.batch.chapters ?? []).concat(c)),
        onTags: (t) => (this.batch.tags = (this.batch.tags ?? []).concat(t)),
        onAttachments: (a) => (this.batch.attachments = (this.batch.attachments ?? []).concat(a)),
        onError: (e) => {
          this.batch.errors.push(e);
          if (e.fatal) this.fatal ??= e;
        },
      },
      options,
    );
  }

  get empty(): boolean {
    const b = this.batch;
    return (
      !b.header &&
      !b.frames.length &&
      !b.clusters.length &&
      !b.errors.length &&
      !b.cues &&
      !b.chapters &&
      !b.tags &&
      !b.attachments
    );
  }

  take(): DemuxBatch {
    const b = this.batch;
    this.batch = { frames: [], clusters: [], errors: [] };
    return b;
  }
}

/**
 * Demuxes `source` and yields one batch per input chunk that produced anything (plus one at the end).
 * Frame data are views into the input chunks (no copies unless content encodings are undone).
 */
export async function* demuxBatches(source: DemuxSource, options: NodeDemuxOptions = {}): AsyncGenerator<DemuxBatch> {
  const c = new BatchCollector(options);
  const d = c.demuxer;
  for await (const chunk of toChunks(source, options.highWaterMark ?? DEFAULT_FILE_HWM)) {
    d.push(chunk);
    if (!c.empty) yield c.take();
    if (c.fatal) {
      if (options.throwOnFatal) throw c.fatal;
      if (d.stopped) return;
    }
  }
  d.end();
  if (!c.empty) yield c.take();
  if (c.fatal && options.throwOnFatal) throw c.fatal;
}

/**
 * Demuxes `source` and yields its frames one by one: `for await (const f of demuxFrames(path))`. Frame data
 * are views into the input chunks. Errors are not thrown (unless `throwOnFatal`): use demuxBatches to see
 * them, and for speed with many small frames (one await per chunk instead of one per frame).
 */
export function demuxFrames(source: DemuxSource, options: NodeDemuxOptions = {}): AsyncIterableIterator<Frame> {
  const batches = demuxBatches(source, options);
  let frames: Frame[] = [];
  let i = 0;
  // A hand-written iterator: frames of a batch are handed out without a generator step each.
  const it: AsyncIterableIterator<Frame> = {
    async next(): Promise<IteratorResult<Frame>> {
      while (i >= frames.length) {
        const b = await batches.next();
        if (b.done) return { done: true, value: undefined };
        frames = b.value.frames;
        i = 0;
      }
      return { done: false, value: frames[i++] };
    },
    async return(): Promise<IteratorResult<Frame>> {
      frames = [];
      await batches.return(undefined);
      return { done: true, value: undefined };
    },
    [Symbol.asyncIterator]() {
      return it;
    },
  };
  return it;
}

/** Demuxes a whole file or stream into memory (header, every frame, metadata, errors). */
export async function demuxAll(source: DemuxSource, options: NodeDemuxOptions = {}): Promise<DemuxResult> {
  const r: DemuxResult = {
    header: undefined,
    frames: [],
    cues: [],
    chapters: [],
    tags: [],
    attachments: [],
    errors: [],
  };
  for await (const b of demuxBatches(source, options)) {
    if (b.header) r.header = b.header;
    for (const f of b.frames) r.frames.push(f);
    if (b.cues) r.cues.push(...b.cues);
    if (b.chapters) r.chapters.push(...b.chapters);
    if (b.tags) r.tags.push(...b.tags);
    if (b.attachments) r.attachments.push(...b.attachments);
    r.errors.push(...b.errors);
  }
  return r;
}

/**
 * A Node Transform stream: bytes in, DemuxBatch objects out (object mode on the readable side).
 * A fatal error does not destroy the stream; it arrives in `batch.errors` and later input is ignored.
 */
export function createDemuxStream(options: DemuxerOptions = {}): Transform {
  const c = new BatchCollector(options);
  return new Transform({
    readableObjectMode: true,
    transform(chunk: Uint8Array, _enc: BufferEncoding, cb: TransformCallback) {
      c.demuxer.push(chunk);
      cb(null, c.empty ? undefined : c.take());
    },
    flush(cb: TransformCallback) {
      c.demuxer.end();
      cb(null, c.empty ? undefined : c.take());
    },
  });
}
