// Reading a file as a sequence of fresh chunks with one read always in flight ahead: while the caller
// parses chunk k (synchronously, on the main thread), the read of chunk k+1 runs on libuv's thread
// pool, so parsing and I/O overlap instead of adding up (createReadStream only reads again after the
// 'data' handler returned). Each chunk is a new buffer, so frames that are views into it stay valid.

import { open } from 'node:fs/promises';

export interface FileChunksOptions {
  /** Bytes per read (default 1 MiB). */
  chunkSize?: number;
  /** Byte offset to start at (default 0). */
  start?: number;
}

/** Yields the bytes of `path` as Uint8Array chunks of at most `chunkSize`, reading one chunk ahead. */
export async function* readFileChunks(path: string, options: FileChunksOptions = {}): AsyncGenerator<Uint8Array> {
  const size = Math.max(1, Math.floor(options.chunkSize ?? 1 << 20));
  const fh = await open(path, 'r');
  let position = Math.max(0, options.start ?? 0);
  const readAt = async (pos: number): Promise<Uint8Array> => {
    // Uninitialised memory (no zero-fill: the read overwrites it), as a plain Uint8Array view.
    const b = Buffer.allocUnsafeSlow(size);
    const { bytesRead } = await fh.read(b, 0, size, pos);
    return new Uint8Array(b.buffer, b.byteOffset, bytesRead);
  };
  let pending: Promise<Uint8Array> | undefined;
  try {
    pending = readAt(position);
    for (;;) {
      const chunk = await pending;
      pending = undefined;
      if (chunk.length === 0) return;
      position += chunk.length;
      pending = readAt(position); // next read in flight while the caller works on this chunk
      yield chunk;
    }
  } finally {
    // A read still in flight must finish before the handle is closed.
    if (pending) await pending.catch(() => undefined);
    await fh.close();
  }
}
