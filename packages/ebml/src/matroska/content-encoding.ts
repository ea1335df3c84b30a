// Undoing a track's ContentEncodings (Matroska section 5.1.4.1.31): header stripping (ContentCompAlgo 3)
// and zlib (algo 0, inflated synchronously with fflate under an output cap). bzlib, lzo and encryption are
// reported as unsupported. Works on frames and, when the scope says so, on CodecPrivate.

import { Unzlib, unzlibSync } from 'fflate';
import { EbmlError } from '../errors.js';
import type { ContentEncoding } from './types.js';

/** Default cap on the inflated size of one frame (FFmpeg uses the same 10 MB). */
export const DEFAULT_MAX_DECOMPRESSED_SIZE = 10_000_000;

/**
 * Default content-decoding budget of a demuxer (a token bucket): it starts full at `burst` bytes and
 * refills by `ratio` bytes per input byte read, up to `burst`; inflating and header stripping spend it.
 * Real encoded tracks (zlib subtitles and VobSub, a few header bytes per MP3/AC-3 frame) decode to a few
 * times their size and are a small part of a file; a decompression bomb (small blocks of ~1000:1 deflate)
 * runs it dry at once. The burst is never below the per-frame cap.
 */
export const DEFAULT_DECODE_BUDGET = { ratio: 8, burst: 16 * 1024 * 1024 } as const;

/** @internal Largest deflate expansion ratio (a deflate stream cannot expand more than ~1032:1). */
export const MAX_DEFLATE_RATIO = 1040;

/** Scope bits of ContentEncodingScope. */
export const SCOPE_FRAMES = 1;
export const SCOPE_CODEC_PRIVATE = 2;
export const SCOPE_NEXT = 4;

/**
 * Inflates zlib data, refusing output larger than `maxSize` bytes (without ever producing much more).
 * Throws an EbmlError (DECOMPRESSION) on corrupt input or when the cap is exceeded.
 */
export function inflateZlib(data: Uint8Array, maxSize = DEFAULT_MAX_DECOMPRESSED_SIZE): Uint8Array {
  if (data.length * MAX_DEFLATE_RATIO <= maxSize) {
    // Cannot exceed the cap: one-shot inflate.
    try {
      return unzlibSync(data);
    } catch (e) {
      throw new EbmlError({
        code: 'DECOMPRESSION',
        message: `zlib data is corrupt: ${(e as Error).message}`,
        cause: e,
      });
    }
  }
  // Streamed in small input slices, so one slice can only expand to ~1 MB past the cap.
  const parts: Uint8Array[] = [];
  let total = 0;
  let over = false;
  let done = false;
  const z = new Unzlib((chunk, final) => {
    total += chunk.length;
    if (total > maxSize) over = true;
    else parts.push(chunk);
    if (final) done = true;
  });
  const STEP = 1024;
  try {
    for (let p = 0; p < data.length && !over; p += STEP) {
      const e = Math.min(data.length, p + STEP);
      z.push(data.subarray(p, e), e === data.length);
    }
  } catch (e) {
    throw new EbmlError({ code: 'DECOMPRESSION', message: `zlib data is corrupt: ${(e as Error).message}`, cause: e });
  }
  if (over) {
    throw new EbmlError({ code: 'DECOMPRESSION', message: `inflated frame exceeds the limit of ${maxSize} bytes` });
  }
  if (!done) throw new EbmlError({ code: 'DECOMPRESSION', message: 'zlib data ends early' });
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(total);
  let o = 0;
  for (const part of parts) {
    out.set(part, o);
    o += part.length;
  }
  return out;
}

/** How a track's frames are decoded: the result of `planContentDecoding`. */
export interface ContentDecodingPlan {
  /** Frame-scope encodings to undo, highest ContentEncodingOrder first. Empty: frames pass through. */
  readonly steps: readonly ContentEncoding[];
  /** Encodings that apply to CodecPrivate, highest order first. */
  readonly codecPrivateSteps: readonly ContentEncoding[];
  /** True when an encryption encoding is present: frames are passed through undecoded. */
  readonly encrypted: boolean;
  /** Messages for encodings we cannot undo (bzlib, lzo, unknown algorithms, encryption). */
  readonly unsupported: readonly string[];
}

const ALGO_NAMES = ['zlib', 'bzlib', 'lzo1x', 'header stripping'];

/**
 * Decides how to undo `encodings` (in any order). Encryption makes the whole track pass through
 * undecoded (reported as unsupported, `encrypted: true`); an unsupported compression makes frames pass
 * through still compressed (reported).
 */
export function planContentDecoding(encodings: readonly ContentEncoding[] | undefined): ContentDecodingPlan {
  if (!encodings || encodings.length === 0)
    return { steps: [], codecPrivateSteps: [], encrypted: false, unsupported: [] };
  const sorted = [...encodings].sort((a, b) => b.order - a.order);
  const unsupported: string[] = [];
  let encrypted = false;
  let usable = true;
  for (const e of sorted) {
    if (e.type === 1) {
      encrypted = true;
      unsupported.push(`encrypted track (ContentEncAlgo ${e.encAlgo ?? 0}): frames are passed through still encrypted`);
    } else if (e.type !== 0) {
      usable = false;
      unsupported.push(`unknown ContentEncodingType ${e.type}`);
    } else {
      const algo = e.compAlgo ?? 0;
      if (algo !== 0 && algo !== 3) {
        usable = false;
        unsupported.push(
          `${ALGO_NAMES[algo] ?? `ContentCompAlgo ${algo}`} compression is not supported: frames are passed through compressed`,
        );
      }
    }
  }
  if (encrypted || !usable) return { steps: [], codecPrivateSteps: [], encrypted, unsupported };
  return {
    steps: sorted.filter((e) => (e.scope & SCOPE_FRAMES) !== 0),
    codecPrivateSteps: sorted.filter((e) => (e.scope & SCOPE_CODEC_PRIVATE) !== 0),
    encrypted,
    unsupported,
  };
}

/**
 * Undoes `steps` (highest order first, as given by `planContentDecoding`) on one frame.
 * Header stripping prepends ContentCompSettings (one allocation); zlib inflates under `maxSize`.
 * Throws an EbmlError (DECOMPRESSION) when inflating fails or exceeds the cap.
 */
export function decodeContent(
  data: Uint8Array,
  steps: readonly ContentEncoding[],
  maxSize = DEFAULT_MAX_DECOMPRESSED_SIZE,
): Uint8Array {
  for (let i = 0; i < steps.length; i++) {
    const s = steps[i];
    if (s.compAlgo === 3) {
      const prefix = s.compSettings;
      if (prefix && prefix.length) {
        const out = new Uint8Array(prefix.length + data.length);
        out.set(prefix, 0);
        out.set(data, prefix.length);
        data = out;
      }
    } else {
      data = inflateZlib(data, maxSize); // ContentCompSettings is not defined for zlib: ignored, like FFmpeg
    }
  }
  return data;
}

/** Header stripping's encoder side: removes `prefix` from `data` when it starts with it (else returns undefined). */
export function stripHeader(data: Uint8Array, prefix: Uint8Array): Uint8Array | undefined {
  if (data.length < prefix.length) return undefined;
  for (let i = 0; i < prefix.length; i++) if (data[i] !== prefix[i]) return undefined;
  return data.subarray(prefix.length);
}
