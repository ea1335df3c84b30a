// The fuzzer of @mkvserve/ebml (issue 8, proof item 3): mutates the fixtures (bit flips, byte runs,
// truncation, splices of two files, corrupted sizes, deep nesting, duplicated regions) and checks on every
// input the properties the library promises:
// - no exception escapes push()/end() (demuxer and reader);
// - every error is an EbmlError with a documented code (the EbmlErrorCode union in errors.ts);
// - the same callbacks for any chunking (demuxer, and the reader with CRC-32 checks on);
// - no prefix yields more frames: the frames of a prefix are a prefix of the frames of the whole input;
// - bounded output: delivered frame bytes stay within the input plus the decode budget;
// - every frame belongs to a track the header announced; the muxer's output of those frames re-demuxes
//   with no error and the same frames.
// Seeded and bounded in time: input i of seed s is always the same bytes, so a failure is replayed with
// `node bench/fuzz.mjs --seed s --only i`. Used by packages/ebml/test/fuzz.test.ts (a few seconds) and by
// bench/fuzz.mjs (long runs). Plain JS over packages/ebml/dist (build first).
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const DIST = join(ROOT, 'packages', 'ebml', 'dist');

/** Loads the built library (main + advanced entries). */
export async function loadLibrary() {
  const main = await import(join(DIST, 'index.js'));
  const advanced = await import(join(DIST, 'advanced.js'));
  return { ...main, ...advanced };
}

/** The documented error codes, read from the EbmlErrorCode union in errors.ts (one place for the fact). */
export function documentedCodes() {
  const text = readFileSync(join(ROOT, 'packages', 'ebml', 'src', 'errors.ts'), 'utf8');
  const union = text.slice(text.indexOf('export type EbmlErrorCode'), text.indexOf('export interface EbmlErrorInit'));
  return new Set([...union.matchAll(/\|\s*'([A-Z_]+)'/g)].map((m) => m[1]));
}

/** The fixtures (and fixtures/repro) as [name, bytes], largest last. */
export function loadCorpus() {
  const out = [];
  for (const dir of ['fixtures', join('fixtures', 'repro')]) {
    const abs = join(ROOT, dir);
    for (const f of readdirSync(abs)) {
      if (!/\.(mkv|webm)$/.test(f)) continue;
      out.push([join(dir, f), new Uint8Array(readFileSync(join(abs, f)))]);
    }
  }
  return out.sort((a, b) => a[1].length - b[1].length);
}

/** mulberry32: a small seeded PRNG in [0, 1). */
export function prng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let x = Math.imul(s ^ (s >>> 15), 1 | s);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

const int = (r, n) => Math.floor(r() * n);
const pick = (r, a) => a[int(r, a.length)];
const concat = (...parts) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
};

/** Master headers to nest: unknown-size Cluster, Segment, BlockGroup; recursive ChapterAtom; EBML. */
const NEST = [
  [0x1f, 0x43, 0xb6, 0x75, 0xff],
  [0x18, 0x53, 0x80, 0x67, 0xff],
  [0xa0, 0xff],
  [0xb6, 0xff],
  [0x1a, 0x45, 0xdf, 0xa3, 0xff],
  [0x75, 0xa1, 0xff],
];

/** Mutators: each returns [bytes, description]. */
const MUTATORS = {
  bitflips(r, b) {
    const out = b.slice();
    const n = 1 + int(r, 8);
    for (let i = 0; i < n && out.length; i++) out[int(r, out.length)] ^= 1 << int(r, 8);
    return [out, `${n} bit flips`];
  },
  byteRun(r, b) {
    const out = b.slice();
    if (!out.length) return [out, 'empty'];
    const at = int(r, out.length);
    const n = 1 + int(r, 64);
    const v = pick(r, [0, 0xff, 0x80, int(r, 256), -1]);
    for (let i = at; i < Math.min(out.length, at + n); i++) out[i] = v < 0 ? int(r, 256) : v;
    return [out, `run of ${n} x ${v < 0 ? 'random' : v} at ${at}`];
  },
  truncate(r, b) {
    const at = int(r, b.length + 1);
    return [b.subarray(0, at), `cut at ${at}`];
  },
  splice(r, b, corpus) {
    const other = pick(r, corpus)[1];
    const i = int(r, b.length + 1);
    const j = int(r, other.length + 1);
    return [concat(b.subarray(0, i), other.subarray(j)), `first ${i} bytes + another file from ${j}`];
  },
  corruptSize(r, b) {
    const out = b.slice();
    // Find a plausible element header near a random offset and rewrite its size vint.
    for (let tries = 0; tries < 32 && out.length > 8; tries++) {
      const p = int(r, out.length - 8);
      const idLen = out[p] >= 0x80 ? 1 : out[p] >= 0x40 ? 2 : out[p] >= 0x20 ? 3 : out[p] >= 0x10 ? 4 : 0;
      if (!idLen) continue;
      const s = p + idLen;
      const sLen = out[s] === 0 ? 0 : Math.clz32(out[s]) - 23;
      if (!sLen || s + sLen > out.length) continue;
      const kind = int(r, 5);
      if (kind === 0)
        (out.fill(0xff, s + 1, s + sLen), (out[s] = 0xff >> (sLen - 1))); // unknown size
      else if (kind === 1)
        (out.fill(0xff, s + 1, s + sLen), (out[s] = (0xff >> (sLen - 1)) - 1)); // huge
      else if (kind === 2)
        (out.fill(0, s + 1, s + sLen), (out[s] = 0x80 >> (sLen - 1))); // zero
      else out[s + sLen - 1] = (out[s + sLen - 1] + (kind === 3 ? 1 + int(r, 16) : 256 - 1 - int(r, 16))) & 0xff;
      return [out, `size at ${s} (${sLen} bytes) -> ${['unknown', 'huge', 'zero', 'bigger', 'smaller'][kind]}`];
    }
    return [out, 'no header found'];
  },
  deepNest(r, b) {
    const at = int(r, b.length + 1);
    const head = pick(r, NEST);
    const n = pick(r, [20, 200, 2000, 20000]);
    const nest = new Uint8Array(head.length * n);
    for (let i = 0; i < n; i++) nest.set(head, i * head.length);
    return [
      concat(b.subarray(0, at), nest, b.subarray(at)),
      `${n} nested ${head.map((x) => x.toString(16)).join(' ')} at ${at}`,
    ];
  },
  duplicate(r, b) {
    const from = int(r, b.length + 1);
    const len = int(r, Math.min(4096, b.length - from) + 1);
    const at = int(r, b.length + 1);
    return [
      concat(b.subarray(0, at), b.subarray(from, from + len), b.subarray(at)),
      `${len} bytes from ${from} copied to ${at}`,
    ];
  },
};

/** Input `index` of `seed`: a corpus file with 1-3 mutations. Deterministic. */
export function makeInput(corpus, seed, index) {
  const r = prng((seed * 1_000_003 + index) >>> 0);
  // Small files more often (they are fast); the 600 KB demo rarely.
  const f = corpus[Math.floor(r() ** 2 * corpus.length)];
  let bytes = f[1];
  const steps = [];
  const n = 1 + int(r, 3);
  const names = Object.keys(MUTATORS);
  for (let i = 0; i < n; i++) {
    const name = pick(r, names);
    const [out, what] = MUTATORS[name](r, bytes, corpus);
    bytes = out;
    steps.push(`${name}: ${what}`);
  }
  return { name: f[0], bytes, steps, rand: r };
}

function chunked(bytes, r) {
  const out = [];
  const max = pick(r, [2, 16, 512, 4096, 70_000]);
  for (let p = 0; p < bytes.length;) {
    const n = 1 + int(r, max);
    out.push(bytes.subarray(p, p + n));
    p += n;
  }
  return out;
}

/** Runs the demuxer over `chunks`, recording every callback (and checking frames against the header). */
function demuxRun(lib, chunks, codes) {
  const log = [];
  const frames = [];
  const bad = [];
  let announced = new Set();
  let bytesOut = 0;
  const d = new lib.MatroskaDemuxer({
    onHeader(h) {
      announced = new Set(h.tracks.map((t) => t.number));
      const dup = h.tracks.length !== announced.size;
      if (dup) bad.push(['announced', `header declares a track number twice: ${h.tracks.map((t) => t.number)}`]);
      log.push(`header ${h.tracks.map((t) => `${t.number}:${t.codecId}`).join(',')}`);
    },
    onFrame(f) {
      if (!announced.has(f.track)) bad.push(['announced', `frame of track ${f.track}, not in the header`]);
      bytesOut += f.data.length;
      const s = `${f.track} ${f.timestamp} ${f.duration} ${f.keyframe} ${f.data.length} ${f.offset}`;
      frames.push([s, f]);
      log.push(`frame ${s}`);
    },
    onClusterStart: (ts, off) => log.push(`cluster ${ts}@${off}`),
    onError(e) {
      if (!(e instanceof lib.EbmlError)) bad.push(['typed', `not an EbmlError: ${String(e)}`]);
      else if (!codes.has(e.code)) bad.push(['typed', `undocumented code ${e.code}`]);
      else if (typeof e.fatal !== 'boolean' || !e.message) bad.push(['typed', `malformed error ${e.code}`]);
      log.push(`error ${e.code}@${e.offset} ${e.fatal}`);
    },
  });
  for (const c of chunks) d.push(c);
  d.end();
  return { log, frames, bad, bytesOut, header: d.header, stats: d.stats };
}

function readerLog(lib, chunks) {
  const log = [];
  const r = new lib.EbmlReader(
    {
      onMasterStart: (e) => void log.push(`s ${e.id}@${e.offset}`),
      onMasterEnd: (e, end, dmg) => void log.push(`e ${e.id}@${end} ${dmg}`),
      onValue: (e) => void log.push(`v ${e.id}@${e.offset}`),
      onError: (e) => void log.push(`x ${e.code}@${e.offset}`),
      onResync: (a, b) => void log.push(`r ${a} ${b}`),
    },
    { verifyCrc: true },
  );
  for (const c of chunks) r.push(c);
  r.end();
  return log;
}

const same = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);

/**
 * Checks every property on one input; returns the failures as [property, detail] (empty: all held).
 * `deep` adds the muxer round trip and the reader checks (slower).
 */
export function checkInput(lib, codes, input, deep) {
  const { bytes, rand: r } = input;
  const fails = [];
  const guard = (what, fn) => {
    try {
      return fn();
    } catch (e) {
      fails.push(['throw', `${what}: ${e?.stack?.split('\n').slice(0, 3).join(' | ') ?? String(e)}`]);
      return undefined;
    }
  };
  const whole = guard('demux whole', () => demuxRun(lib, [bytes], codes));
  if (!whole) return fails;
  for (const b of whole.bad) fails.push(b);
  // Same callbacks for another chunking.
  const chunks = chunked(bytes, r);
  const other = guard('demux chunked', () => demuxRun(lib, chunks, codes));
  if (other && !same(other.log, whole.log)) {
    const i = other.log.findIndex((x, k) => x !== whole.log[k]);
    fails.push(['chunking', `${chunks.length} chunks: entry ${i}: ${other.log[i]} vs ${whole.log[i]}`]);
  }
  // A prefix never yields more (or other) frames.
  const cut = int(r, bytes.length + 1);
  const pre = guard('demux prefix', () => demuxRun(lib, [bytes.subarray(0, cut)], codes));
  if (pre) {
    const w = whole.frames.map((x) => x[0]);
    const p = pre.frames.map((x) => x[0]);
    if (p.length > w.length || !same(p, w.slice(0, p.length))) {
      fails.push(['prefix', `prefix of ${cut} bytes: ${p.length} frames vs ${w.length}`]);
    }
  }
  // Bounded output: what the demuxer hands out stays within the input plus the decode budget.
  const { ratio, burst } = lib.DEFAULT_DECODE_BUDGET;
  const limit = bytes.length * (1 + ratio) + burst;
  if (whole.bytesOut > limit) fails.push(['bounded', `${whole.bytesOut} frame bytes from ${bytes.length} bytes`]);
  if (whole.frames.length > 64 * bytes.length + 1) fails.push(['bounded', `${whole.frames.length} frames`]);
  if (!deep) return fails;
  // The reader alone, CRC-32 checks on: the same log for another chunking.
  const rw = guard('reader whole', () => readerLog(lib, [bytes]));
  const rc = guard('reader chunked', () => readerLog(lib, chunked(bytes, r)));
  if (rw && rc && !same(rw, rc)) {
    const i = rc.findIndex((x, k) => x !== rw[k]);
    fails.push(['chunking', `reader: entry ${i}: ${rc[i]} vs ${rw[i]}`]);
  }
  // The muxer writes every frame the demuxer delivered (or refuses it with ENCODE) and the result
  // re-demuxes with no error and the same frames.
  if (whole.header && whole.frames.length) {
    guard('mux', () => {
      const parts = [];
      const mux = new lib.MatroskaMuxer(whole.header, { live: false, write: (c) => parts.push(c.slice()) });
      mux.start();
      const written = [];
      for (const [, f] of whole.frames) {
        try {
          mux.addFrame(f);
          written.push(f);
        } catch (e) {
          if (!(e instanceof lib.EbmlError) || e.code !== 'ENCODE') throw e;
        }
      }
      const fin = mux.finish();
      const out = lib.applyPatches(concat(...parts), fin.patches);
      const again = demuxRun(lib, [out], codes);
      const errs = again.log.filter((l) => l.startsWith('error'));
      if (errs.length) fails.push(['remux', `our output re-demuxes with ${errs.slice(0, 3).join('; ')}`]);
      const scale = whole.header.info.timestampScale;
      const key = (f) => `${f.track} ${Math.round(f.timestamp / scale)} ${f.data.length}`;
      const a = written.map(key);
      const b = again.frames.map((x) => key(x[1]));
      if (!same(a, b)) fails.push(['remux', `${b.length} frames back of ${a.length} written`]);
    });
  }
  return fails;
}

/**
 * Fuzzes for `seconds` (or `count` inputs) from `seed`; calls onFailure(failure) for each input that
 * broke a property. Returns {inputs, failures, byProperty, bytes, seconds, peakRss}.
 */
export async function fuzz({ seconds = 3, count = Infinity, seed = 1, only, deepEvery = 4, onFailure } = {}) {
  const lib = await loadLibrary();
  const codes = documentedCodes();
  const corpus = loadCorpus();
  const started = performance.now();
  const byProperty = {};
  let inputs = 0;
  let failures = 0;
  let bytes = 0;
  let peakRss = process.memoryUsage().rss;
  for (let i = only ?? 0; inputs < count && performance.now() - started < seconds * 1000; i++) {
    const input = makeInput(corpus, seed, i);
    const fails = checkInput(lib, codes, input, only !== undefined || i % deepEvery === 0);
    inputs++;
    bytes += input.bytes.length;
    if ((i & 63) === 0) peakRss = Math.max(peakRss, process.memoryUsage().rss);
    if (fails.length) {
      failures++;
      for (const [p] of fails) byProperty[p] = (byProperty[p] ?? 0) + 1;
      onFailure?.({ seed, index: i, name: input.name, steps: input.steps, fails, bytes: input.bytes });
    }
    if (only !== undefined) break;
  }
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
  return { inputs, failures, byProperty, bytes, seconds: (performance.now() - started) / 1000, peakRss };
}
