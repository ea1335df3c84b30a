// Test support: the fanout fuzzer's case generator (seeded): byte-level mutations of fixtures and
// repro inputs, event-level mutations (header changes, duplicate/undeclared tracks, timestamp jumps)
// and random subscriber plans. Used by test/fuzz.test.ts and bench/fanout-fuzz.mjs.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MatroskaHeader } from '@mkvserve/ebml';
import type { LiveStreamOptions } from '../src/index.js';
import { demuxBytes } from './pipeline.js';
import type { DemuxEvent, JoinPlan } from './pipeline.js';

const FIXTURES = join(import.meta.dirname, '../../../fixtures');
const REPRO = join(import.meta.dirname, '../test/repro');

/** mulberry32: small, seedable, good enough to pick mutations. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

export const sources: { name: string; bytes: Uint8Array }[] = [
  ...['vp9-opus.webm', 'h264-aac-bframes.mkv', 'subtitles.mkv', 'mkvmerge-features.mkv', 'pipe-live.webm'].map((n) => ({
    name: n,
    bytes: new Uint8Array(readFileSync(join(FIXTURES, n))),
  })),
  ...['second-tracks.webm', 'duplicate-tracknumber.webm', 'spliced-files.mkv'].map((n) => ({
    name: n,
    bytes: new Uint8Array(readFileSync(join(REPRO, n))),
  })),
];

export type Rand = () => number;
const int = (r: Rand, n: number): number => Math.floor(r() * n);
const pick = <T>(r: Rand, a: readonly T[]): T => a[int(r, a.length)];

/** Byte-level mutations, as the issue's fuzzer did: flips, runs, truncation, splices, repeats, cuts. */
function mutateBytes(r: Rand, a: Uint8Array, b: Uint8Array): { bytes: Uint8Array; how: string } {
  const out = a.slice();
  const kind = int(r, 7);
  switch (kind) {
    case 0: {
      const n = 1 + int(r, 20);
      for (let i = 0; i < n; i++) out[int(r, out.length)] ^= 1 << int(r, 8);
      return { bytes: out, how: `${n} bit flips` };
    }
    case 1: {
      const at = int(r, out.length);
      const len = 1 + int(r, 64);
      const v = pick(r, [0, 0xff, -1]);
      for (let i = at; i < Math.min(out.length, at + len); i++) out[i] = v < 0 ? int(r, 256) : v;
      return { bytes: out, how: `byte run of ${len} at ${at}` };
    }
    case 2: {
      const at = int(r, out.length);
      return { bytes: out.subarray(0, at), how: `truncated at ${at}` };
    }
    case 3: {
      const i = int(r, a.length);
      const j = int(r, b.length);
      return { bytes: cat(a.subarray(0, i), b.subarray(j)), how: `splice a[0,${i}) + b[${j},)` };
    }
    case 4:
      return { bytes: cat(a, b), how: 'two files back to back' };
    case 5: {
      const i = int(r, a.length);
      const len = Math.min(a.length - i, 1 + int(r, 4096));
      return { bytes: cat(a.subarray(0, i + len), a.subarray(i)), how: `repeat [${i},+${len})` };
    }
    default: {
      const i = int(r, a.length);
      const len = 1 + int(r, 4096);
      return { bytes: cat(a.subarray(0, i), a.subarray(i + len)), how: `cut [${i},+${len})` };
    }
  }
}

function cat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Event-level mutations: header changes (same layout = restart, other layout), duplicate and
 *  undeclared track numbers, timestamp jumps. */
function mutateEvents(r: Rand, ev: DemuxEvent[], other: MatroskaHeader | undefined): string[] {
  const hows: string[] = [];
  const n = int(r, 4);
  for (let k = 0; k < n && ev.length > 2; k++) {
    const at = 1 + int(r, ev.length - 1);
    const kind = int(r, 6);
    const h0 = ev.find((e): e is { header: MatroskaHeader } => 'header' in e)?.header;
    if (kind === 0 && h0) {
      ev.splice(at, 0, { header: h0 });
      hows.push(`same header again at ${at}`);
    } else if (kind === 1 && other) {
      ev.splice(at, 0, { header: other });
      hows.push(`other layout at ${at}`);
    } else if (kind === 2 && h0 && h0.tracks.length > 0) {
      const t0 = pick(r, h0.tracks);
      ev.splice(at, 0, { header: { ...h0, tracks: [...h0.tracks, { ...t0, codecId: t0.codecId + 'X' }] } });
      hows.push(`header with a duplicate TrackEntry ${t0.number} at ${at}`);
    } else if (kind === 3) {
      const track = pick(r, [0, 7, 99, 2 ** 40]);
      for (let i = at; i < Math.min(ev.length, at + 20); i++) {
        const e = ev[i];
        if ('frame' in e && r() < 0.5) ev[i] = { frame: { ...e.frame, track } };
      }
      hows.push(`frames of track ${track} from ${at}`);
    } else {
      const jump = pick(r, [-3_600e9, -5e9, -40e6, 40e6, 5e9, 86_400e9, 2 ** 70]);
      for (let i = at; i < ev.length; i++) {
        const e = ev[i];
        if ('frame' in e) ev[i] = { frame: { ...e.frame, timestamp: e.frame.timestamp + jump } };
      }
      hows.push(`timestamps ${jump > 0 ? '+' : ''}${jump / 1e9} s from ${at}`);
    }
  }
  return hows;
}

function makePlans(r: Rand, events: number): JoinPlan[] {
  const n = 1 + int(r, 5);
  return Array.from({ length: n }, () => ({
    at: int(r, events + 1),
    join: pick(r, ['latest-keyframe', 'next-keyframe'] as const),
    rebase: r() < 0.85,
    ...(r() < 0.5 ? { pullBytes: 1 + int(r, 20_000) } : {}),
    ...(r() < 0.3 ? { every: 1 + int(r, 50) } : {}),
  }));
}

export interface FuzzCase {
  label: string;
  bytes: Uint8Array;
  events: DemuxEvent[];
  plans: JoinPlan[];
  options: LiveStreamOptions;
  /** The case mutates events (header changes, tracks, timestamps). */
  eventMutations: number;
}

/** The next case from the generator `r`. */
export function nextCase(r: Rand, n: number, seed: number): FuzzCase {
  const a = pick(r, sources);
  const b = pick(r, sources);
  const m = r() < 0.8 ? mutateBytes(r, a.bytes, b.bytes) : { bytes: a.bytes, how: 'unchanged' };
  const chunks = r() < 0.5 ? [m.bytes.length || 1] : [1 + int(r, 8192), 1 + int(r, 300)];
  const d = demuxBytes(m.bytes, chunks);
  const other = demuxBytes(b.bytes).headers[0];
  const evHow = mutateEvents(r, d.events, other);
  const plans = makePlans(r, d.events.length);
  const options = {
    softLimitNs: pick(r, [3e9, 0.5e9, Infinity]),
    historyMaxClusters: pick(r, [32, 4, 2]),
  };
  const label = `case ${n} (seed ${seed}): ${a.name} ${m.how}${b !== a ? ` with ${b.name}` : ''}; ${evHow.join('; ')}`;
  return { label, bytes: m.bytes, events: d.events, plans, options, eventMutations: evHow.length };
}
