// Typed errors: every problem found in input or raised by a limit carries a code, the byte offset
// where it was found, the element path, and a message a person understands (hls.js style `fatal`).

export type EbmlErrorCode =
  /** A vint with no marker bit in its first byte, or an ID longer than 4 bytes. */
  | 'INVALID_VINT'
  /** An ID that is reserved (all ones / all zeros) or not valid here. */
  | 'INVALID_ID'
  /** A declared size above a configured limit (max element size, string or binary size). */
  | 'ELEMENT_TOO_LARGE'
  /**
   * A child whose end passes the end of its known-size parent (damage: the reader resyncs). For a direct
   * child of a known-size Segment it means the Segment size is wrong: reported once, non-fatal, and the
   * Segment is read as unknown-size from there on (nothing is skipped).
   */
  | 'CHILD_OVERRUNS_PARENT'
  /** Masters nested deeper than maxDepth. */
  | 'MAX_DEPTH'
  /** Unknown size on an element that does not allow it. */
  | 'UNKNOWN_SIZE_NOT_ALLOWED'
  /** Input ended inside an element. */
  | 'TRUNCATED'
  /** A value that cannot be decoded for its type (e.g. a 3-byte float, a 9-byte integer). */
  | 'INVALID_VALUE'
  /** A CRC-32 element that does not match its parent's data. */
  | 'CRC_MISMATCH'
  /** Bytes were skipped to find the next valid element (reported once per resync). */
  | 'RESYNC'
  /** The input is not EBML/Matroska (or is another container). */
  | 'NOT_MATROSKA'
  /** DocType or version we cannot read. */
  | 'UNSUPPORTED_DOCTYPE'
  /** A feature we do not support (encryption, ...). */
  | 'UNSUPPORTED'
  /** A malformed block: bad track number, lacing sizes that do not add up, ... */
  | 'INVALID_BLOCK'
  /** Decompression failed or exceeded its output limit. */
  | 'DECOMPRESSION'
  /** Writing failed: a value cannot be encoded. */
  | 'ENCODE';

export interface EbmlErrorInit {
  code: EbmlErrorCode;
  message: string;
  /** Absolute byte offset in the input where the problem was found (-1 when not tied to input). */
  offset?: number;
  /** Element names from the root to the element concerned, e.g. ['Segment', 'Cluster', 'SimpleBlock']. */
  path?: readonly string[];
  /** True when reading cannot go on; false when the reader recovered (resynced, skipped). */
  fatal?: boolean;
  cause?: unknown;
}

/** The error class of @mkvserve/ebml: `code`, `offset`, `path`, `fatal`. */
export class EbmlError extends Error {
  readonly code: EbmlErrorCode;
  readonly offset: number;
  readonly path: readonly string[];
  readonly fatal: boolean;

  constructor(init: EbmlErrorInit) {
    const where = init.offset !== undefined && init.offset >= 0 ? ` at byte ${init.offset}` : '';
    const path = init.path && init.path.length ? ` in ${init.path.join(' > ')}` : '';
    super(`${init.message}${where}${path}`, init.cause !== undefined ? { cause: init.cause } : undefined);
    this.name = 'EbmlError';
    this.code = init.code;
    this.offset = init.offset ?? -1;
    this.path = init.path ?? [];
    this.fatal = init.fatal ?? false;
  }

  toJSON(): { code: EbmlErrorCode; offset: number; path: readonly string[]; fatal: boolean; message: string } {
    return { code: this.code, offset: this.offset, path: this.path, fatal: this.fatal, message: this.message };
  }
}
