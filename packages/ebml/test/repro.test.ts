// The inputs in fixtures/repro/ (copies of ../shared/repro/, found by fuzzing) as regression tests, one
// group per defect: CRC-32 of an unknown-size Cluster that depended on where the input was cut (issue 8
// item 19), frames of tracks no header announced (item 17), and a zlib decompression bomb (item 18).
import t from 'tap';
import type { Test as TapTest } from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import { crc32 } from '../src/crc32.js';
import { DEFAULT_DECODE_BUDGET } from '../src/matroska/content-encoding.js';
import { EbmlReader } from '../src/reader.js';
import type { EbmlReaderOptions } from '../src/reader.js';
import { MatroskaDemuxer } from '../src/matroska/demuxer.js';
import type { DemuxerOptions, DemuxStats } from '../src/matroska/demuxer.js';
import { Id } from '../src/schema.generated.js';
import { bytes, cat, ebmlHeader, el, loadView, mulberry32, uint, zlibBomb } from '../testlib/build.js';

const repro = (name: string): Uint8Array => loadView('repro/' + name);

/** Every reader callback as one line (offsets included): the log must not depend on the chunking. */
function readerLog(chunks: readonly Uint8Array[], opts: EbmlReaderOptions = { verifyCrc: true }): string[] {
  const log: string[] = [];
  const r = new EbmlReader(
    {
      onMasterStart: (e) => void log.push(`start ${e.id.toString(16)}@${e.offset} ${e.size}`),
      onMasterEnd: (e, end, damaged) => void log.push(`end ${e.id.toString(16)}@${end} ${damaged}`),
      onValue: (e) => void log.push(`value ${e.id.toString(16)}@${e.offset}`),
      onError: (e) => void log.push(`error ${e.code}@${e.offset} ${e.message}`),
      onResync: (a, b) => void log.push(`resync ${a} ${b}`),
    },
    opts,
  );
  for (const c of chunks) r.push(c);
  r.end();
  return log;
}

/** Every demuxer callback as one line. */
export function demuxLog(chunks: readonly Uint8Array[], opts: DemuxerOptions = {}): string[] {
  const log: string[] = [];
  const d = new MatroskaDemuxer(
    {
      onHeader: (h) => void log.push(`header ${h.tracks.map((x) => x.number).join(',')}`),
      onFrame: (f) => void log.push(`frame ${f.track} ${f.timestamp} ${f.duration} ${f.data.length} @${f.offset}`),
      onClusterStart: (ts, off) => void log.push(`cluster ${ts}@${off}`),
      onError: (e) => void log.push(`error ${e.code}@${e.offset} ${e.message}`),
    },
    opts,
  );
  for (const c of chunks) d.push(c);
  d.end();
  return log;
}

const split = (buf: Uint8Array, at: readonly number[]): Uint8Array[] => {
  const out: Uint8Array[] = [];
  let p = 0;
  for (const a of at) {
    out.push(buf.subarray(p, a));
    p = a;
  }
  out.push(buf.subarray(p));
  return out;
};

function randomChunks(buf: Uint8Array, rand: () => number, maxLen: number): Uint8Array[] {
  const cuts: number[] = [];
  for (let o = 1 + Math.floor(rand() * maxLen); o < buf.length; o += 1 + Math.floor(rand() * maxLen)) cuts.push(o);
  return split(buf, cuts);
}

t.test('crc-unknown-size-cluster.webm: the same callbacks for any chunking (item 19)', async (t) => {
  const buf = repro('crc-unknown-size-cluster.webm');
  const whole = readerLog([buf]);
  t.notOk(
    whole.some((l) => l.startsWith('error')),
    'whole input: the unknown-size Cluster CRC-32 verifies',
  );
  // The next Cluster starts at 34282: cut inside its ID, inside its size, and all around.
  let bad = 0;
  for (let at = 34282 - 24; at <= 34282 + 24; at++) {
    const log = readerLog(split(buf, [at]));
    if (JSON.stringify(log) !== JSON.stringify(whole)) {
      bad++;
      t.same(log, whole, `split at ${at}`);
    }
  }
  t.equal(bad, 0, 'every split point from 34258 to 34306 gives the whole-input log');
  // Three-way splits inside the 12-byte Cluster header (ID 4 bytes + 8-byte size).
  for (let a = 34282; a < 34294; a++) {
    for (let b = a + 1; b <= 34294; b++) {
      const log = readerLog(split(buf, [a, b]));
      if (JSON.stringify(log) !== JSON.stringify(whole)) t.fail(`split at ${a} and ${b}`);
    }
  }
  const rand = mulberry32(19);
  for (let k = 0; k < 40; k++) {
    const chunks = randomChunks(buf, rand, k < 20 ? 16 : 4096);
    t.same(readerLog(chunks), whole, `random chunking ${k}`);
  }
  t.same(readerLog(Array.from(buf, (_, i) => buf.subarray(i, i + 1))), whole, 'byte by byte');
  // The demuxer (no CRC checks) and a demuxer with CRC checks on give the same for any chunking, too.
  for (const opts of [{}, { reader: { verifyCrc: true } }]) {
    const w = demuxLog([buf], opts);
    t.notOk(
      w.some((l) => l.startsWith('error')),
      'demuxer: no error',
    );
    for (let at = 34270; at <= 34300; at++) t.same(demuxLog(split(buf, [at]), opts), w, `demuxer split at ${at}`);
  }
});

t.test('unknown-size Cluster with a CRC-32 ended by a header split anywhere (synthetic)', async (t) => {
  const body = cat([uint(Id.Timestamp, 0), el(Id.SimpleBlock, bytes(0x81, 0, 0, 0x80, 1, 2, 3))]);
  const c = crc32(body);
  const crcEl = el(Id.CRC32, bytes(c & 0xff, (c >>> 8) & 0xff, (c >>> 16) & 0xff, c >>> 24));
  const first = el(Id.Cluster, [crcEl, body], { unknown: true });
  const second = el(Id.Cluster, [uint(Id.Timestamp, 5), el(Id.SimpleBlock, bytes(0x81, 0, 0, 0x80, 9))], {
    unknown: true,
  });
  // Known-size Segment (its own CRC-32 would cover the next Cluster's header) and unknown-size Segment.
  for (const unknownSegment of [false, true]) {
    const doc = cat([ebmlHeader(), el(Id.Segment, [first, second], { unknown: unknownSegment })]);
    const whole = readerLog([doc]);
    t.notOk(
      whole.some((l) => l.startsWith('error')),
      'whole: no error',
    );
    for (let a = 1; a < doc.length; a++) {
      t.same(readerLog(split(doc, [a])), whole, `segment ${unknownSegment ? 'unknown' : 'known'}: split at ${a}`);
    }
    // A wrong CRC is reported for every chunking too.
    const badDoc = doc.slice();
    badDoc[badDoc.indexOf(0xbf) + 2] ^= 0xff;
    const badWhole = readerLog([badDoc]);
    t.equal(badWhole.filter((l) => l.startsWith('error CRC_MISMATCH')).length, 1, 'one CRC_MISMATCH');
    for (let a = 1; a < badDoc.length; a++) t.same(readerLog(split(badDoc, [a])), badWhole, `bad CRC: split at ${a}`);
  }
});

// ---- item 17: every frame belongs to an announced track ---------------------------------------------

interface Announced {
  headers: number[][];
  frames: { track: number; size: number }[];
  errors: { code: string; offset: number; message: string }[];
  stats: DemuxStats;
  /** Frames whose track number no header announced before them. */
  strays: number;
}

function announced(chunks: readonly Uint8Array[]): Announced {
  const r: Omit<Announced, 'stats'> = { headers: [], frames: [], errors: [], strays: 0 };
  let current = new Set<number>();
  const d = new MatroskaDemuxer({
    onHeader: (h) => {
      r.headers.push(h.tracks.map((x) => x.number));
      current = new Set(h.tracks.map((x) => x.number));
    },
    onFrame: (f) => {
      if (!current.has(f.track)) r.strays++;
      r.frames.push({ track: f.track, size: f.data.length });
    },
    onError: (e) => r.errors.push({ code: e.code, offset: e.offset, message: e.message }),
  });
  for (const c of chunks) d.push(c);
  d.end();
  return { ...r, stats: d.stats };
}

/** The same result byte by byte and for random chunkings. */
function sameForChunkings(t: TapTest, buf: Uint8Array, whole: Announced): void {
  t.same(announced(Array.from(buf, (_, i) => buf.subarray(i, i + 1))), whole, 'byte by byte');
  const rand = mulberry32(buf.length);
  for (let k = 0; k < 5; k++) t.same(announced(randomChunks(buf, rand, 300)), whole, `random chunking ${k}`);
}

t.test('second-tracks.webm: a second Tracks is reported and ignored; its tracks never reach onFrame', async (t) => {
  const buf = repro('second-tracks.webm');
  const r = announced([buf]);
  t.same(r.headers, [[1]], 'one header, announcing track 1');
  t.equal(r.strays, 0, 'no frame of an undeclared track');
  t.same(
    r.frames.map((f) => f.track),
    [1, 1],
    'the frames of track 1',
  );
  t.same(
    r.errors.map((e) => `${e.code}@${e.offset}`),
    ['UNSUPPORTED@120', 'INVALID_BLOCK@172', 'INVALID_BLOCK@182'],
    'the late Tracks, then one error per undeclared track number',
  );
  t.match(r.errors[0].message, /second Tracks element .* ignored: blocks of the tracks it adds \(2, 3\) are dropped/);
  t.equal(r.stats.undeclaredTrackBlocks, 3, 'every dropped block is counted');
  t.equal(r.stats.frames, 2);
  sameForChunkings(t, buf, r);
});

t.test('duplicate-tracknumber.webm: the header carries each track number once (the first entry)', async (t) => {
  const buf = repro('duplicate-tracknumber.webm');
  const headers: number[][] = [];
  const d = new MatroskaDemuxer({ onHeader: (h) => headers.push(h.tracks.map((x) => x.number)) });
  d.push(buf);
  d.end();
  t.same(headers, [[1]], 'track 1 announced once');
  t.same(
    d.header?.tracks.map((x) => x.number),
    [1],
    'demuxer.header too',
  );
  const r = announced([buf]);
  t.ok(
    r.errors.some(
      (e) => e.code === 'INVALID_VALUE' && /duplicate TrackNumber 1: the first entry is used/.test(e.message),
    ),
    'the duplicate is reported',
  );
  t.equal(r.strays, 0, 'no frame of an undeclared track');
  t.ok(r.frames.length > 50, `${r.frames.length} frames of track 1`);
  t.equal(r.stats.undeclaredTrackBlocks, 113, 'blocks of track 2 (declared by the damaged entry only) counted');
  sameForChunkings(t, buf, r);
});

t.test('spliced-files.mkv: frames of the spliced-in Segment are dropped and counted', async (t) => {
  const buf = repro('spliced-files.mkv');
  const r = announced([buf]);
  t.same(r.headers, [[1]], 'one header: the first file (A_AC3)');
  t.equal(r.strays, 0, 'no frame of an undeclared track');
  // The first file is mkvmerge's fixed-lacing AC-3 (94 frames of 384 bytes); the spliced-in Segment
  // redefines track 1 as VP8 and adds 2, 3, 4: none of its frames may pass as AC-3 frames of track 1.
  t.equal(r.frames.length, 94, 'the 94 AC-3 frames of the first file');
  t.ok(
    r.frames.every((f) => f.track === 1 && f.size === 384),
    'every frame is an AC-3 frame',
  );
  t.equal(r.stats.undeclaredTrackBlocks, 224, 'the spliced-in blocks are counted');
  t.match(
    r.errors.map((e) => e.message),
    [
      /Segment inside CuePoint/,
      /second Info element/,
      /second Tracks element .* adds \(2, 3, 4\) are dropped; tracks it redefines \(1\) are withdrawn/,
      /track number 2, which the header does not declare/,
      /track 1, redefined by a later Tracks element, dropped/,
      /track number 3/,
      /track number 4/,
    ],
  );
  sameForChunkings(t, buf, r);
});

t.test('late Tracks: identical entries keep flowing, a new EBML header still announces a new layout', async (t) => {
  const info = el(Id.Info, [uint(Id.TimestampScale, 1_000_000)]);
  const entry = (n: number, codec: string) =>
    el(Id.TrackEntry, [
      uint(Id.TrackNumber, n),
      uint(Id.TrackType, 2),
      el(Id.CodecID, new TextEncoder().encode(codec)),
    ]);
  const block = (n: number, ts: number) => el(Id.SimpleBlock, bytes(0x80 | n, 0, ts, 0x80, 0xaa));
  const clusterOf = (ts: number, ...blocks: Uint8Array[]) => el(Id.Cluster, [uint(Id.Timestamp, ts), ...blocks]);
  const seg = (...body: Uint8Array[]) => el(Id.Segment, body, { unknown: true });
  const same = cat([
    ebmlHeader(),
    seg(
      info,
      el(Id.Tracks, [entry(1, 'A_OPUS'), entry(2, 'A_VORBIS')]),
      clusterOf(0, block(1, 0), block(2, 1)),
      el(Id.Tracks, [entry(1, 'A_OPUS'), entry(2, 'A_FLAC')]),
      clusterOf(10, block(1, 0), block(2, 1)),
    ),
  ]);
  const r = announced([same]);
  t.same(r.headers, [[1, 2]]);
  t.same(
    r.frames.map((f) => f.track),
    [1, 2, 1],
    'track 1 (declared the same way) goes on; track 2 (now FLAC) is withdrawn',
  );
  t.equal(r.stats.undeclaredTrackBlocks, 1);
  // Two files one after the other (cat a.webm b.webm): a new EBML header announces the new layout.
  const second = cat([ebmlHeader(), seg(info, el(Id.Tracks, [entry(3, 'A_OPUS')]), clusterOf(0, block(3, 0)))]);
  const both = announced([cat([same, second])]);
  t.same(both.headers, [[1, 2], [3]], 'a second header after a new EBML header');
  t.same(
    both.frames.map((f) => f.track),
    [1, 2, 1, 3],
  );
  t.equal(both.strays, 0);
});

// ---- item 18: decompression bomb ----------------------------------------------------------------------

t.test('zlib bomb: total inflate work is bounded, past the budget a typed error (item 18)', async (t) => {
  const inputs: [string, Uint8Array][] = [['generated 200 x 9 MB', zlibBomb()]];
  if (existsSync('/work/shared/repro/zlib-200x9MB.mkv')) {
    inputs.push([
      '../shared/repro/zlib-200x9MB.mkv',
      new Uint8Array(readFileSync('/work/shared/repro/zlib-200x9MB.mkv')),
    ]);
  }
  const { ratio, burst } = DEFAULT_DECODE_BUDGET;
  for (const [name, buf] of inputs) {
    const started = performance.now();
    const whole = demuxLog([buf]);
    const d = new MatroskaDemuxer({});
    d.push(buf);
    d.end();
    const ms = performance.now() - started;
    t.comment(`${name}: ${buf.length} bytes, two demux passes in ${ms.toFixed(0)} ms, ${JSON.stringify(d.stats)}`);
    const stats = d.stats;
    t.ok(
      stats.decodedBytes <= burst + ratio * buf.length,
      `${name}: inflated ${stats.decodedBytes} bytes <= ${burst} + ${ratio} x ${buf.length} input bytes`,
    );
    t.equal(stats.frames + stats.decodeBudgetDrops, 200, `${name}: every frame delivered or dropped and counted`);
    t.ok(stats.decodeBudgetDrops >= 190, `${name}: ${stats.decodeBudgetDrops} frames dropped`);
    const errors = whole.filter((l) => l.startsWith('error'));
    t.equal(errors.length, 1, `${name}: one error`);
    t.match(errors[0], /^error DECOMPRESSION@\d+ track 1: content decoding budget used up .* dropped/);
    // The budget refills by input offsets, not by chunks: the same callbacks for any chunking.
    const rand = mulberry32(18);
    for (let k = 0; k < 3; k++) t.same(demuxLog(randomChunks(buf, rand, 70_000)), whole, `${name}: chunking ${k}`);
  }
});

t.test('inflate budget: options, legit zlib tracks untouched', async (t) => {
  const bomb = zlibBomb(20, 1_000_000);
  const count = (opts: DemuxerOptions) => {
    const d = new MatroskaDemuxer({}, opts);
    d.push(bomb);
    d.end();
    return d.stats;
  };
  // Each frame inflates 1 MB from ~1 KB; one is inflated only when the budget covers 1040 x its size.
  t.equal(count({ decodeBudget: { burst: 64 << 20 } }).frames, 20, 'a 64 MiB burst covers 20 MB');
  const def = count({});
  t.ok(def.frames >= 10 && def.frames < 20, `default 16 MiB burst: ${def.frames} frames`);
  t.ok(def.decodedBytes <= DEFAULT_DECODE_BUDGET.burst + 8 * bomb.length);
  t.equal(def.frames + def.decodeBudgetDrops, 20);
  const small = count({ decodeBudget: { ratio: 0, burst: 0 }, maxDecompressedSize: 3_000_000 });
  t.equal(small.frames, 2, 'the burst is never below maxDecompressedSize (3 MB: two frames)');
  t.equal(small.decodedBytes, 2_000_000);
  t.throws(() => new MatroskaDemuxer({}, { decodeBudget: { ratio: -1 } }), RangeError);
  t.throws(() => new MatroskaDemuxer({}, { decodeBudget: { burst: Infinity } }), RangeError);
  // A real zlib file (mkvmerge --compression zlib): nothing dropped, everything inflated.
  const d = new MatroskaDemuxer({});
  d.push(loadView('mkvmerge-zlib.mkv'));
  d.end();
  t.equal(d.stats.decodeBudgetDrops, 0);
  t.equal(d.stats.frames, 78);
  t.ok(d.stats.decodedBytes > 0);
});

t.test('header-stripping amplification is bounded by the same budget', async (t) => {
  // 64 KiB of ContentCompSettings restored in front of each of 3000 one-byte frames would be 196 MB.
  const prefix = new Uint8Array(64 * 1024).fill(7);
  const entry = el(Id.TrackEntry, [
    uint(Id.TrackNumber, 1),
    uint(Id.TrackUID, 1),
    uint(Id.TrackType, 2),
    el(Id.CodecID, new TextEncoder().encode('A_MPEG/L3')),
    el(Id.ContentEncodings, [
      el(Id.ContentEncoding, [
        uint(Id.ContentEncodingScope, 1),
        el(Id.ContentCompression, [uint(Id.ContentCompAlgo, 3), el(Id.ContentCompSettings, prefix)]),
      ]),
    ]),
  ]);
  const blocks = Array.from({ length: 3000 }, (_, i) => el(Id.SimpleBlock, bytes(0x81, 0, i & 0x7f, 0x80, 0xfb)));
  const doc = cat([
    ebmlHeader(),
    el(
      Id.Segment,
      [
        el(Id.Info, [uint(Id.TimestampScale, 1_000_000)]),
        el(Id.Tracks, [entry]),
        el(Id.Cluster, [uint(Id.Timestamp, 0), ...blocks]),
      ],
      { unknown: true },
    ),
  ]);
  const d = new MatroskaDemuxer({});
  let out = 0;
  const errors: string[] = [];
  const dd = new MatroskaDemuxer({
    onFrame: (f) => void (out += f.data.length),
    onError: (e) => errors.push(e.message),
  });
  dd.push(doc);
  dd.end();
  d.push(doc);
  d.end();
  const { ratio, burst } = DEFAULT_DECODE_BUDGET;
  t.ok(out <= burst + ratio * doc.length + doc.length, `${out} bytes delivered from ${doc.length} bytes of input`);
  t.equal(d.stats.frames + d.stats.decodeBudgetDrops, 3000, 'every frame delivered or dropped and counted');
  t.ok(d.stats.decodeBudgetDrops > 2000, `${d.stats.decodeBudgetDrops} dropped`);
  t.equal(errors.length, 1);
  t.match(errors[0], /content decoding budget used up/);
  // Real header stripping (2 bytes per MP3 frame) is far below the budget.
  const real = new MatroskaDemuxer({});
  real.push(loadView('header-removal.mkv'));
  real.end();
  t.equal(real.stats.decodeBudgetDrops, 0);
  t.equal(real.stats.decodedBytes, 116 * 2, 'two bytes restored per MP3 frame');
});

t.test('fuzz-prefix-resync.webm: a prefix never yields frames the whole input does not', async (t) => {
  // Found by bench/fuzz.mjs (seed 7, input 3525): damage, then a Tracks element confirmed by only two
  // elements before junk. At the end of a prefix the reader used to accept it (frames of track 1 came
  // out), the whole input rejects it (its Cluster's blocks are of an undeclared track).
  const buf = repro('fuzz-prefix-resync.webm');
  const frames = (b: Uint8Array) => demuxLog([b]).filter((l) => l.startsWith('frame'));
  const whole = frames(buf);
  let bad = 0;
  for (let cut = 0; cut <= buf.length; cut++) {
    const p = frames(buf.subarray(0, cut));
    if (p.length > whole.length || p.some((f, i) => f !== whole[i])) {
      bad++;
      t.fail(`prefix of ${cut} bytes: ${p.length} frames, whole: ${whole.length}`);
    }
  }
  t.equal(bad, 0, `every prefix (0..${buf.length} bytes) yields a prefix of the whole input's frames`);
  // And the same for every fixture cut at random places (cheap: demuxer only).
  const rand = mulberry32(7);
  for (const name of ['vp9-opus.webm', 'gstreamer-streamable.webm', 'mkvmerge-features.mkv']) {
    const b = loadView(name);
    const all = frames(b);
    for (let k = 0; k < 10; k++) {
      const cut = Math.floor(rand() * b.length);
      const p = frames(b.subarray(0, cut));
      t.same(p, all.slice(0, p.length), `${name} cut at ${cut}`);
    }
  }
});
