// Node file output for the muxer: appends the sequential chunks (batched writev) and applies the
// finish() patches with positional writes, so a file-mode MatroskaMuxer yields a seekable file.

import { open } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { MatroskaMuxer } from '../matroska/muxer.js';
import type { MatroskaMuxerOptions, MuxerFinish, MuxerPatch } from '../matroska/muxer.js';
import type { Frame, MatroskaHeader } from '../matroska/types.js';

/** Sequential chunk writer with positional patches at the end. */
export class MatroskaFileSink {
  private readonly fh: FileHandle;
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  private written = 0;
  private closed = false;
  /** Flush threshold in bytes. */
  readonly highWaterMark: number;

  private constructor(fh: FileHandle, highWaterMark: number) {
    this.fh = fh;
    this.highWaterMark = highWaterMark;
  }

  /** Creates (truncates) the file at `path`. */
  static async open(path: string, highWaterMark = 1 << 20): Promise<MatroskaFileSink> {
    return new MatroskaFileSink(await open(path, 'w'), highWaterMark);
  }

  /** Queues a chunk (kept by reference: do not modify it until flushed). */
  write(chunk: Uint8Array): void {
    if (this.closed) throw new Error('file sink closed');
    if (chunk.length === 0) return;
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
  }

  /** True when enough is queued that the caller should `await flush()`. */
  get needsFlush(): boolean {
    return this.pendingBytes >= this.highWaterMark;
  }

  /** Writes the queued chunks at the end of the file. */
  async flush(): Promise<void> {
    while (this.pending.length > 0) {
      const batch = this.pending.splice(0, 1024);
      let bytes = 0;
      for (const b of batch) bytes += b.length;
      let done = 0;
      while (done < bytes) {
        const { bytesWritten } = await this.fh.writev(done === 0 ? batch : remainder(batch, done), this.written + done);
        done += bytesWritten;
      }
      this.written += bytes;
      this.pendingBytes -= bytes;
    }
  }

  /** Flushes, then overwrites the patched ranges. */
  async applyPatches(patches: readonly MuxerPatch[]): Promise<void> {
    await this.flush();
    for (const p of patches) {
      let done = 0;
      while (done < p.data.length) {
        const { bytesWritten } = await this.fh.write(p.data, done, p.data.length - done, p.position + done);
        done += bytesWritten;
      }
    }
  }

  /** Flushes and closes the file. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.flush();
    this.closed = true;
    await this.fh.close();
  }

  /** Bytes written to the file so far (not counting queued chunks). */
  get size(): number {
    return this.written;
  }
}

function remainder(batch: Uint8Array[], skip: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const b of batch) {
    if (skip >= b.length) {
      skip -= b.length;
      continue;
    }
    out.push(skip > 0 ? b.subarray(skip) : b);
    skip = 0;
  }
  return out;
}

/**
 * Muxes `frames` into a seekable Matroska/WebM file at `path` (file mode: known sizes, SeekHead, Cues,
 * Duration). Frames are taken in decode order from a sync or async iterable.
 */
export async function writeMatroskaFile(
  path: string,
  header: MatroskaHeader,
  frames: Iterable<Frame> | AsyncIterable<Frame>,
  options: Omit<MatroskaMuxerOptions, 'live' | 'write'> = {},
): Promise<MuxerFinish> {
  const sink = await MatroskaFileSink.open(path);
  try {
    const mux = new MatroskaMuxer(header, { ...options, live: false, write: (c) => sink.write(c) });
    mux.start();
    for await (const f of frames) {
      mux.addFrame(f);
      if (sink.needsFlush) await sink.flush();
    }
    const fin = mux.finish();
    await sink.applyPatches(fin.patches);
    return fin;
  } finally {
    await sink.close();
  }
}
