// Block lacing (Matroska section 10.3), both directions: reading the lace sizes of a Block/SimpleBlock
// (Xiph, fixed-size, EBML) with every count and size bounds-checked, and writing lace headers.
// Also the Block header (track vint, int16 timestamp, flags) as pure functions over a Uint8Array.

import { EbmlError } from '../errors.js';
import {
  readSignedVint,
  readSize,
  sizeLength,
  signedVintLength,
  vintLength,
  writeSignedVint,
  writeSize,
} from '../vint.js';

/** Lacing mode numbers as stored in the Block flags (bits 0x06 >> 1). */
export const LACING_NONE = 0;
export const LACING_XIPH = 1;
export const LACING_FIXED = 2;
export const LACING_EBML = 3;

export type LacingMode = 'none' | 'xiph' | 'fixed' | 'ebml';

const MODE_NAMES: readonly LacingMode[] = ['none', 'xiph', 'fixed', 'ebml'];
/** Name of a lacing number (0-3). */
export function lacingName(mode: number): LacingMode {
  return MODE_NAMES[mode & 3];
}
/** Lacing number (0-3) of a mode name. */
export function lacingNumber(mode: LacingMode): number {
  return MODE_NAMES.indexOf(mode);
}

/** Most laces a block can hold (the count is one byte + 1). */
export const MAX_LACES = 256;

/**
 * Reads the lace sizes of a laced block whose lacing header starts at `pos` (just after the flags byte)
 * and whose data ends at `end`. `mode` is 1 (Xiph), 2 (fixed) or 3 (EBML). The sizes are written to
 * `sizes` (its length is set to the lace count). Returns the position of the first frame's data, or an
 * error message (string) when the header is malformed: counts and running totals never pass `end`,
 * sizes are never negative, fixed lacing needs an even split.
 */
export function readLaceSizes(
  buf: Uint8Array,
  pos: number,
  end: number,
  mode: number,
  sizes: number[],
): number | string {
  if (pos >= end) return 'laced block has no lace count';
  const count = buf[pos] + 1;
  pos++;
  sizes.length = count;
  if (mode === LACING_FIXED) {
    const rest = end - pos;
    if (rest % count !== 0) return `fixed lacing: ${rest} bytes do not split into ${count} equal frames`;
    const each = rest / count;
    for (let i = 0; i < count; i++) sizes[i] = each;
    return pos;
  }
  let total = 0;
  if (mode === LACING_XIPH) {
    for (let i = 0; i < count - 1; i++) {
      let size = 0;
      let b: number;
      do {
        if (pos >= end) return 'Xiph lacing: lace size runs past the end of the block';
        b = buf[pos++]!;
        size += b;
      } while (b === 255);
      sizes[i] = size;
      total += size;
      if (total > end - pos) return 'Xiph lacing: lace sizes exceed the block';
    }
  } else if (mode === LACING_EBML) {
    if (count > 1) {
      let len = pos < end ? vintLength(buf[pos]) : 0;
      if (len === 0 || len > 8 || pos + len > end) return 'EBML lacing: invalid first lace size';
      let size = readSize(buf, pos, len);
      if (size < 0) return 'EBML lacing: first lace size is the reserved all-ones value';
      pos += len;
      sizes[0] = size;
      total = size;
      if (total > end - pos) return 'EBML lacing: lace sizes exceed the block';
      for (let i = 1; i < count - 1; i++) {
        len = pos < end ? vintLength(buf[pos]) : 0;
        if (len === 0 || len > 8 || pos + len > end) return 'EBML lacing: invalid lace size delta';
        size += readSignedVint(buf, pos, len);
        pos += len;
        if (size < 0) return 'EBML lacing: negative lace size';
        sizes[i] = size;
        total += size;
        if (total > end - pos) return 'EBML lacing: lace sizes exceed the block';
      }
    }
  } else {
    return `unknown lacing mode ${mode}`;
  }
  sizes[count - 1] = end - pos - total;
  return pos;
}

/**
 * Splits the laced part of a block (the bytes after the flags byte) into frame views (no copy).
 * `mode` is a LacingMode name or number; 'none' returns the whole payload as one frame.
 * Throws an EbmlError (INVALID_BLOCK) when the lace header is malformed; never any other exception.
 */
export function splitLaces(payload: Uint8Array, mode: LacingMode | number): Uint8Array[] {
  const m = typeof mode === 'number' ? mode & 3 : lacingNumber(mode);
  if (m === LACING_NONE) return [payload];
  const sizes: number[] = [];
  const r = readLaceSizes(payload, 0, payload.length, m, sizes);
  if (typeof r === 'string') throw new EbmlError({ code: 'INVALID_BLOCK', message: r });
  const out = new Array<Uint8Array>(sizes.length);
  let p = r;
  for (let i = 0; i < sizes.length; i++) {
    out[i] = payload.subarray(p, p + sizes[i]);
    p += sizes[i];
  }
  return out;
}

/** Byte length of the lacing header (count byte + sizes) for these frame sizes. */
export function laceHeaderSize(sizes: readonly number[], mode: LacingMode | number): number {
  const m = typeof mode === 'number' ? mode & 3 : lacingNumber(mode);
  const n = sizes.length;
  if (m === LACING_NONE) return 0;
  if (m === LACING_FIXED) return 1;
  let len = 1;
  if (m === LACING_XIPH) {
    for (let i = 0; i < n - 1; i++) len += Math.floor(sizes[i] / 255) + 1;
  } else {
    if (n > 1) len += sizeLength(sizes[0]);
    for (let i = 1; i < n - 1; i++) len += signedVintLength(sizes[i] - sizes[i - 1]);
  }
  return len;
}

function checkLaceable(frames: readonly Uint8Array[], m: number): void {
  if (frames.length < 1 || frames.length > MAX_LACES) {
    throw new EbmlError({ code: 'ENCODE', message: `cannot lace ${frames.length} frames (1-${MAX_LACES})` });
  }
  if (m === LACING_NONE && frames.length !== 1) {
    throw new EbmlError({ code: 'ENCODE', message: 'several frames need lacing' });
  }
  if (m === LACING_FIXED) {
    const s = frames[0].length;
    for (const f of frames) {
      if (f.length !== s) throw new EbmlError({ code: 'ENCODE', message: 'fixed lacing needs frames of equal size' });
    }
  }
}

/**
 * Writes the lacing header for `frames` (count byte + sizes; nothing for 'none').
 * Throws an EbmlError (ENCODE) for impossible inputs (0 or more than 256 frames, unequal fixed sizes).
 */
export function encodeLaceHeader(frames: readonly Uint8Array[], mode: LacingMode | number): Uint8Array {
  const m = typeof mode === 'number' ? mode & 3 : lacingNumber(mode);
  checkLaceable(frames, m);
  const sizes = frames.map((f) => f.length);
  const out = new Uint8Array(laceHeaderSize(sizes, m));
  writeLaceHeader(out, 0, sizes, m);
  return out;
}

/** Writes a lacing header for `sizes` at `pos` in `buf`; returns the position after it. */
export function writeLaceHeader(buf: Uint8Array, pos: number, sizes: readonly number[], mode: number): number {
  const n = sizes.length;
  if (mode === LACING_NONE) return pos;
  buf[pos++] = n - 1;
  if (mode === LACING_FIXED) return pos;
  if (mode === LACING_XIPH) {
    for (let i = 0; i < n - 1; i++) {
      let s = sizes[i];
      while (s >= 255) {
        buf[pos++] = 255;
        s -= 255;
      }
      buf[pos++] = s;
    }
    return pos;
  }
  if (n > 1) pos = writeSize(buf, pos, sizes[0], sizeLength(sizes[0]));
  for (let i = 1; i < n - 1; i++) {
    const d = sizes[i] - sizes[i - 1];
    pos = writeSignedVint(buf, pos, d, signedVintLength(d));
  }
  return pos;
}

/** Lacing header followed by every frame's bytes: the part of a block after its flags byte. */
export function encodeLaces(frames: readonly Uint8Array[], mode: LacingMode | number): Uint8Array {
  const m = typeof mode === 'number' ? mode & 3 : lacingNumber(mode);
  checkLaceable(frames, m);
  const sizes = frames.map((f) => f.length);
  let total = laceHeaderSize(sizes, m);
  for (const s of sizes) total += s;
  const out = new Uint8Array(total);
  let p = writeLaceHeader(out, 0, sizes, m);
  for (const f of frames) {
    out.set(f, p);
    p += f.length;
  }
  return out;
}

/** The cheapest lacing for these frames: none for one frame, fixed when all sizes are equal, else the smaller of Xiph and EBML. */
export function chooseLacing(frames: readonly Uint8Array[]): LacingMode {
  if (frames.length <= 1) return 'none';
  const sizes = frames.map((f) => f.length);
  if (sizes.every((s) => s === sizes[0])) return 'fixed';
  return laceHeaderSize(sizes, LACING_EBML) < laceHeaderSize(sizes, LACING_XIPH) ? 'ebml' : 'xiph';
}

/** A parsed Block/SimpleBlock header. */
export interface BlockHeader {
  track: number;
  /** Signed 16-bit timestamp relative to the Cluster, in ticks. */
  relTimestamp: number;
  flags: number;
  /** Byte length of track vint + timestamp + flags. */
  headerSize: number;
}

/**
 * Reads the header of a Block or SimpleBlock payload (track number vint, int16 timestamp, flags).
 * Returns undefined when the payload is too short or the track vint is invalid (0, or wider than 8 bytes).
 */
export function readBlockHeader(data: Uint8Array, pos = 0, end = data.length): BlockHeader | undefined {
  if (pos >= end) return undefined;
  const len = vintLength(data[pos]);
  if (len === 0 || pos + len + 3 > end) return undefined;
  const track = len === 1 ? data[pos] & 0x7f : readSize(data, pos, len);
  if (track <= 0) return undefined;
  const p = pos + len;
  const rel = ((data[p] << 24) | (data[p + 1] << 16)) >> 16;
  return { track, relTimestamp: rel, flags: data[p + 2], headerSize: len + 3 };
}

/** A block split into its frames (views into the input, no copy). */
export interface ParsedBlock extends BlockHeader {
  keyframe: boolean;
  invisible: boolean;
  discardable: boolean;
  lacing: LacingMode;
  frames: Uint8Array[];
}

/**
 * Parses a whole Block/SimpleBlock payload: header and laces. `simple` selects SimpleBlock flag meanings
 * (keyframe 0x80, discardable 0x01). Throws an EbmlError (INVALID_BLOCK) on malformed input.
 */
export function parseBlock(data: Uint8Array, simple = true): ParsedBlock {
  const h = readBlockHeader(data);
  if (!h)
    throw new EbmlError({ code: 'INVALID_BLOCK', message: 'block header is truncated or has an invalid track number' });
  const mode = (h.flags >> 1) & 3;
  const frames = splitLaces(data.subarray(h.headerSize), mode);
  return {
    ...h,
    keyframe: simple && (h.flags & 0x80) !== 0,
    invisible: (h.flags & 0x08) !== 0,
    discardable: simple && (h.flags & 0x01) !== 0,
    lacing: lacingName(mode),
    frames,
  };
}
