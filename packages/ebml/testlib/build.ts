// Test support for @mkvserve/ebml (outside test/ so tap does not run it as a test): building EBML
// bytes by hand, seeded PRNGs, hex dumps and the shared /fixtures directory.

import { spawnSync } from 'node:child_process';
import { zlibSync } from 'fflate';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Id } from '../src/schema.generated.js';
import { idLength, sizeLength, writeId, writeSize, writeUnknownSize } from '../src/vint.js';

// ---- building documents -------------------------------------------------------------------------

/** Concatenates byte arrays into a new one. */
export function cat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/**
 * One EBML element: id, size vint and body (one array or parts to concatenate). `size` overrides the
 * declared size, `sizeLen` the width of the size vint; `unknown` writes the unknown-size marker, with
 * width `sizeLen ?? 8`.
 */
export function el(
  id: number,
  body: Uint8Array | readonly Uint8Array[],
  opts: { unknown?: boolean; sizeLen?: number; size?: number } = {},
): Uint8Array {
  const data = body instanceof Uint8Array ? body : cat(body);
  const size = opts.size ?? data.length;
  const sl = opts.unknown ? (opts.sizeLen ?? 8) : (opts.sizeLen ?? sizeLength(size));
  const head = new Uint8Array(idLength(id) + sl);
  const p = writeId(head, 0, id);
  if (opts.unknown) writeUnknownSize(head, p, sl);
  else writeSize(head, p, size, sl);
  return cat([head, data]);
}

export const bytes = (...b: number[]): Uint8Array => Uint8Array.from(b);

/** An unsigned integer element, big-endian, in `width` bytes (default: the fewest, at least 1). */
export function uint(id: number, v: number, width?: number): Uint8Array {
  const w = width ?? (v === 0 ? 1 : Math.ceil(Math.log2(v + 1) / 8));
  const b = new Uint8Array(w);
  for (let i = w - 1, x = v; i >= 0; i--, x = Math.floor(x / 256)) b[i] = x % 256;
  return el(id, b);
}

/** A string element (UTF-8, no terminator). */
export const str = (id: number, s: string): Uint8Array => el(id, new TextEncoder().encode(s));

/** A minimal EBML header: EBMLVersion 1, DocType "webm". */
export const ebmlHeader = (): Uint8Array => el(Id.EBML, [uint(Id.EBMLVersion, 1), str(Id.DocType, 'webm')]);

// ---- dumps --------------------------------------------------------------------------------------

/** Space-separated lower-case hex bytes: "1a 45 df a3". */
export const hex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(' ');

// ---- seeded randomness --------------------------------------------------------------------------

/** A small LCG in [0, 1); seed 0 acts as 1. */
export function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => (s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32;
}

/** The mulberry32 PRNG in [0, 1). */
export function mulberry32(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let x = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

// ---- fixtures and tools -------------------------------------------------------------------------

/** The repository's /fixtures directory. */
export const fixturesDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'fixtures');

/** A fixture's bytes (a copy, in its own Uint8Array). */
export const load = (name: string): Uint8Array => new Uint8Array(readFileSync(join(fixturesDir, name)));

/** The .mkv and .webm fixtures, sorted by name. */
export const fixtureFiles = (): string[] =>
  readdirSync(fixturesDir)
    .filter((f) => /\.(mkv|webm)$/.test(f))
    .sort();

/** The .mkv and .webm fixtures in directory order, or none when the directory cannot be read. */
export function fixtureFilesIfAny(): string[] {
  try {
    return readdirSync(fixturesDir).filter((f) => /\.(mkv|webm)$/.test(f));
  } catch {
    return [];
  }
}

/** A fixture's bytes as a view of the buffer read (no copy). */
export function loadView(name: string): Uint8Array {
  const b = readFileSync(join(fixturesDir, name));
  return new Uint8Array(b.buffer, b.byteOffset, b.length);
}

/** Every .mkv and .webm fixture as [name, bytes view], or none when any of them cannot be read. */
export function fixtureViews(): [string, Uint8Array][] {
  try {
    return readdirSync(fixturesDir)
      .filter((f) => /\.(mkv|webm)$/.test(f))
      .map((f) => [f, loadView(f)] as [string, Uint8Array]);
  } catch {
    return [];
  }
}

/** Whether `cmd -version` runs and exits with status 0 (ffmpeg, ffprobe). */
export const toolWorks = (cmd: string): boolean => spawnSync(cmd, ['-version']).status === 0;

// ---- hostile inputs ----------------------------------------------------------------------------

/**
 * A decompression bomb like ../shared/repro/zlib-200x9MB.mkv: one S_TEXT/UTF8 track with zlib
 * ContentCompression on its frames and `blocks` SimpleBlocks, each a zlib stream of `payload` zero bytes
 * (about 1000:1), in one unknown-size Segment and Cluster.
 */
export function zlibBomb(blocks = 200, payload = 9_000_000): Uint8Array {
  const z = zlibSync(new Uint8Array(payload), { level: 9 });
  const entry = el(Id.TrackEntry, [
    uint(Id.TrackNumber, 1),
    uint(Id.TrackUID, 1),
    uint(Id.TrackType, 17),
    str(Id.CodecID, 'S_TEXT/UTF8'),
    el(Id.ContentEncodings, [
      el(Id.ContentEncoding, [
        uint(Id.ContentEncodingOrder, 0),
        uint(Id.ContentEncodingScope, 1),
        uint(Id.ContentEncodingType, 0),
        el(Id.ContentCompression, [uint(Id.ContentCompAlgo, 0)]),
      ]),
    ]),
  ]);
  const simple = (i: number): Uint8Array => {
    const body = new Uint8Array(4 + z.length);
    body.set([0x81, (i * 10) >> 8, (i * 10) & 0xff, 0x80], 0);
    body.set(z, 4);
    return el(Id.SimpleBlock, body);
  };
  const cluster = el(Id.Cluster, [uint(Id.Timestamp, 0), ...Array.from({ length: blocks }, (_, i) => simple(i))], {
    unknown: true,
  });
  return cat([
    el(Id.EBML, [str(Id.DocType, 'matroska'), uint(Id.DocTypeVersion, 4), uint(Id.DocTypeReadVersion, 2)]),
    el(Id.Segment, [el(Id.Info, [uint(Id.TimestampScale, 1_000_000)]), el(Id.Tracks, [entry]), cluster], {
      unknown: true,
    }),
  ]);
}
