// EbmlReader on damaged input: truncation at many offsets, random byte flips, junk between clusters,
// absurd declared sizes, 100k nested masters, CRC-32 checks, bounded resync scanning. The reader must
// never throw, hang or allocate from an untrusted size, and must recover the intact clusters.
import t from 'tap';
import { EbmlReader, type EbmlReaderHandler, type EbmlReaderOptions, type ElementHeader } from '../src/reader.js';
import type { EbmlError } from '../src/errors.js';
import { crc32 } from '../src/crc32.js';
import { Id } from '../src/schema.generated.js';
import { writeId, writeSize, writeUnknownSize } from '../src/vint.js';
import { bytes, cat, ebmlHeader, el, fixtureViews as fixtures, rng } from '../testlib/build.js';

function block(track: number, n: number, size = 24): Uint8Array {
  const b = new Uint8Array(size).fill(n & 0xff);
  b[0] = 0x80 | track;
  b[1] = (n >> 8) & 0xff;
  b[2] = n & 0xff;
  b[3] = 0x80;
  return el(Id.SimpleBlock, b);
}
function cluster(ts: number, first: number, count: number, unknown = false): Uint8Array {
  const blocks: Uint8Array[] = [el(Id.Timestamp, bytes(0, ts & 0xff))];
  for (let k = 0; k < count; k++) blocks.push(block(1, first + k));
  return el(Id.Cluster, blocks, { unknown });
}

interface Res {
  errors: EbmlError[];
  blocks: number[];
  starts: number;
  ends: number;
  damagedEnds: number;
  log: string[];
}
function read(chunks: Iterable<Uint8Array>, opts?: EbmlReaderOptions): Res {
  const res: Res = { errors: [], blocks: [], starts: 0, ends: 0, damagedEnds: 0, log: [] };
  const h: EbmlReaderHandler = {
    onMasterStart: (e) => {
      res.starts++;
      res.log.push(`start ${e.info?.name}@${e.offset}`);
    },
    onMasterEnd: (e, end, damaged) => {
      res.ends++;
      if (damaged) res.damagedEnds++;
      res.log.push(`end ${e.info?.name}@${end}${damaged ? '!' : ''}`);
    },
    onValue: (e: ElementHeader, v) => {
      if (e.id === Id.SimpleBlock) res.blocks.push(((v as Uint8Array)[1] << 8) | (v as Uint8Array)[2]);
      res.log.push(`v ${e.id}@${e.offset}`);
    },
    onError: (err) => {
      res.errors.push(err);
      res.log.push(`err ${err.code}@${err.offset}`);
    },
    onResync: (a, b) => void res.log.push(`resync ${a}->${b}`),
  };
  const r = new EbmlReader(h, opts);
  for (const c of chunks) r.push(c);
  r.end();
  return res;
}
function chunked(buf: Uint8Array, n: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let o = 0; o < buf.length; o += n) out.push(buf.subarray(o, o + n));
  return out;
}
const range = (a: number, n: number) => Array.from({ length: n }, (_, i) => a + i);

// A live-like document: 10 clusters of 20 blocks numbered 0..199.
const clusters = range(0, 10).map((c) => cluster(c, c * 20, 20, c % 2 === 1));
const liveDoc = cat([ebmlHeader(), el(Id.Segment, clusters, { unknown: true })]);

t.test('truncation at every offset: no throw, TRUNCATED, balanced starts/ends', async (t) => {
  let bad = 0;
  for (let cut = 0; cut < liveDoc.length; cut += 7) {
    const r = read([liveDoc.subarray(0, cut)]);
    if (r.starts !== r.ends) bad++;
    const codes = new Set(r.errors.map((e) => e.code));
    for (const c of codes) if (c !== 'TRUNCATED') bad++;
    if (r.errors.filter((e) => e.code === 'TRUNCATED').length > 1) bad++;
  }
  t.equal(bad, 0, 'every cut handled');
  // a cut in the middle of a block: the blocks before are all there
  const cut = liveDoc.length - 10;
  const r = read(chunked(liveDoc.subarray(0, cut), 100));
  t.same(
    r.errors.map((e) => e.code),
    ['TRUNCATED'],
  );
  t.same(r.errors[0].path, ['Segment', 'Cluster', 'SimpleBlock']);
  t.same(r.blocks, range(0, 199));
  t.ok(r.damagedEnds >= 1);
  for (const [f, buf] of fixtures()) {
    let problems = 0;
    const rand = rng(buf.length);
    for (let k = 0; k < 40; k++) {
      const c = Math.floor(rand() * buf.length);
      const x = read(chunked(buf.subarray(0, c), 4096));
      if (x.starts !== x.ends || x.errors.some((e) => e.code !== 'TRUNCATED')) problems++;
    }
    t.equal(problems, 0, `${f}: 40 truncations`);
  }
});

t.test('random byte flips: no throw, no hang, bounded output', async (t) => {
  const inputs: [string, Uint8Array][] = [['live', liveDoc], ...fixtures()];
  for (const [f, orig] of inputs) {
    const rand = rng(orig.length * 3);
    let problems = 0;
    const t0 = Date.now();
    for (let k = 0; k < 60; k++) {
      const buf = orig.slice();
      const flips = 1 + Math.floor(rand() * 8);
      for (let j = 0; j < flips; j++) buf[Math.floor(rand() * buf.length)] = Math.floor(rand() * 256);
      const r = read(chunked(buf, 1 + Math.floor(rand() * 8192)));
      if (r.starts !== r.ends) problems++;
      if (r.errors.length > 4 * flips + 4) problems++;
      for (const e of r.errors)
        if (typeof e.offset !== 'number' || e.offset > buf.length || !Array.isArray(e.path)) problems++;
    }
    t.equal(problems, 0, `${f}: 60 damaged copies`);
    t.ok(Date.now() - t0 < 20000, `${f}: fast`);
  }
});

t.test('flipped bytes give the same log for every chunking', async (t) => {
  const rand = rng(99);
  for (let k = 0; k < 40; k++) {
    const buf = liveDoc.slice();
    for (let j = 0; j < 3; j++) buf[Math.floor(rand() * buf.length)] = Math.floor(rand() * 256);
    const whole = read([buf]).log;
    const bytewise = read(chunked(buf, 1)).log;
    const odd = read(chunked(buf, 1 + Math.floor(rand() * 300))).log;
    if (JSON.stringify(whole) !== JSON.stringify(bytewise) || JSON.stringify(whole) !== JSON.stringify(odd)) {
      t.same(bytewise, whole, `copy ${k}`);
      t.same(odd, whole, `copy ${k} odd chunks`);
      return;
    }
  }
  t.pass('40 damaged copies, 3 chunkings each, identical logs');
});

t.test('junk between clusters: every cluster after the junk is recovered', async (t) => {
  const rand = rng(5);
  for (const junkLen of [1, 3, 17, 500, 70000]) {
    const junk = new Uint8Array(junkLen).map(() => Math.floor(rand() * 256));
    // known-size Segment (size includes the junk) and unknown-size Segment
    for (const unknownSeg of [false, true]) {
      const body = [...clusters.slice(0, 4), junk, ...clusters.slice(4)];
      const doc = cat([ebmlHeader(), el(Id.Segment, body, { unknown: unknownSeg })]);
      for (const size of [doc.length, 1, 4096]) {
        const r = read(chunked(doc, size));
        // blocks of clusters 0-3 and 4-9 all there (cluster 3 might be unknown-size: the junk may
        // look like a child, but the blocks before the junk are delivered before the damage).
        t.same(
          r.blocks,
          range(0, 200),
          `junk ${junkLen}, ${unknownSeg ? 'unknown' : 'known'} Segment, chunks of ${size}`,
        );
        t.ok(r.errors.length <= 2, 'one error for the damage (+ maybe a skipped bogus element)');
        t.equal(r.starts, r.ends);
      }
    }
  }
});

t.test('Cluster cut short: a Cluster starting inside a known-size Cluster', async (t) => {
  const short = cluster(1, 20, 20).subarray(0, 6 + 4 + 26 * 3); // header claims 20 blocks, 3 are there
  const doc = cat([
    ebmlHeader(),
    el(Id.Segment, [clusters[0], short, cluster(2, 40, 20), cluster(3, 60, 20)], { unknown: true }),
  ]);
  const r = read([doc]);
  t.same(
    r.errors.map((e) => e.code),
    ['INVALID_ID'],
  );
  t.match(r.errors[0].message, /Cluster inside Cluster/);
  t.same(r.blocks, [...range(0, 23), ...range(40, 40)]);
  t.equal(r.starts, r.ends);
});

t.test('declared size of 2^50 allocates nothing', async (t) => {
  const huge = new Uint8Array(9);
  huge[0] = 0xa3;
  writeSize(huge, 1, 2 ** 50, 8);
  for (const unknownCluster of [false, true]) {
    const bad = unknownCluster
      ? el(Id.Cluster, [el(Id.Timestamp, bytes(1)), huge, new Uint8Array(50)], { unknown: true })
      : el(Id.Cluster, [el(Id.Timestamp, bytes(1)), huge, new Uint8Array(50)]);
    const doc = cat([ebmlHeader(), el(Id.Segment, [clusters[0], bad, clusters[2], clusters[3]], { unknown: true })]);
    const before = process.memoryUsage().arrayBuffers;
    const r = read(chunked(doc, 64));
    t.ok(process.memoryUsage().arrayBuffers - before < 64 * 1024 * 1024, 'no big allocation');
    t.same(
      r.errors.map((e) => e.code),
      [unknownCluster ? 'ELEMENT_TOO_LARGE' : 'CHILD_OVERRUNS_PARENT'],
    );
    t.same(r.blocks, [...range(0, 20), ...range(40, 40)]);
  }
  // a 2^50 Segment with a big Info inside: ends as TRUNCATED, no allocation
  const seg = new Uint8Array(12);
  writeId(seg, 0, Id.Segment);
  writeSize(seg, 4, 2 ** 50, 8);
  const r = read([cat([ebmlHeader(), seg, clusters[0]])]);
  t.same(
    r.errors.map((e) => e.code),
    ['TRUNCATED'],
  );
  t.equal(r.blocks.length, 20);
});

t.test('100k nested masters: no stack overflow, no hang', async (t) => {
  const N = 100_000;
  // nested ChapterAtoms (recursive in the schema) with known sizes
  const parts: Uint8Array[] = [];
  const inner = el(Id.ChapterUID, bytes(1));
  const t0 = Date.now();
  // build from the inside out without recursion; sizes grow, 9-byte headers
  const headers: Uint8Array[] = [];
  let size = inner.length;
  for (let k = 0; k < N; k++) {
    const h = new Uint8Array(9);
    h[0] = Id.ChapterAtom;
    writeSize(h, 1, size, 8);
    headers.push(h);
    size += 9;
  }
  headers.reverse();
  parts.push(...headers, inner);
  const chapters = cat(parts);
  const doc = cat([
    ebmlHeader(),
    el(Id.Segment, [el(Id.Chapters, [el(Id.EditionEntry, chapters)]), clusters[0]], { unknown: true }),
  ]);
  const r = read(chunked(doc, 65536));
  t.same(
    r.errors.map((e) => e.code),
    ['MAX_DEPTH'],
  );
  t.equal(r.blocks.length, 20, 'the Cluster after it is read');
  t.equal(r.starts, r.ends);

  // 100k nested EBML masters (EBML inside EBML): damage, bounded errors
  const eb: Uint8Array[] = [];
  size = 0;
  for (let k = 0; k < N; k++) {
    const h = new Uint8Array(12);
    writeId(h, 0, Id.EBML);
    writeSize(h, 4, size, 8);
    eb.push(h);
    size += 12;
  }
  eb.reverse();
  const r2 = read(chunked(cat(eb), 4096));
  t.ok(r2.errors.length <= 3, `${r2.errors.length} errors`);
  t.equal(r2.starts, r2.ends);

  // 100k nested unknown IDs: one binary leaf containing the rest
  const un: Uint8Array[] = [];
  size = 0;
  for (let k = 0; k < N; k++) {
    const h = new Uint8Array(11);
    writeId(h, 0, 0x2abcde);
    writeSize(h, 3, size, 8);
    un.push(h);
    size += 11;
  }
  un.reverse();
  const r3 = read([cat([ebmlHeader(), el(Id.Segment, [el(Id.Info, un)])])]);
  t.same(r3.errors, []);
  t.equal(r3.log.filter((l) => l.startsWith('v ' + 0x2abcde)).length, 1);

  // 100k unknown-size Clusters in a row: each ends the previous one
  const live: Uint8Array[] = [ebmlHeader()];
  const segHead = new Uint8Array(12);
  writeId(segHead, 0, Id.Segment);
  writeUnknownSize(segHead, 4, 8);
  live.push(segHead);
  const c = cluster(0, 0, 0, true);
  for (let k = 0; k < N; k++) live.push(c);
  const r4 = read(chunked(cat(live), 65536));
  t.same(r4.errors, []);
  t.equal(r4.starts, N + 2);
  t.equal(r4.ends, N + 2);
  t.ok(Date.now() - t0 < 30000, 'fast');
});

t.test('CRC-32 verification', async (t) => {
  const body = cat([el(Id.Timestamp, bytes(7)), block(1, 1), block(1, 2)]);
  const crc = crc32(body);
  const crcEl = el(0xbf, bytes(crc & 0xff, (crc >>> 8) & 0xff, (crc >>> 16) & 0xff, crc >>> 24));
  const good = el(Id.Cluster, [crcEl, body]);
  const doc = cat([ebmlHeader(), el(Id.Segment, [good, clusters[1]], { unknown: true })]);
  for (const n of [doc.length, 1, 5, 33])
    t.same(read(chunked(doc, n), { verifyCrc: true }).errors, [], `good CRC, chunks of ${n}`);
  const bad = doc.slice();
  bad[doc.indexOf(0xa3, 50) + 8] ^= 1; // a data byte of the first block
  for (const n of [doc.length, 1, 7]) {
    const r = read(chunked(bad, n), { verifyCrc: true });
    t.same(
      r.errors.map((e) => [e.code, e.fatal, e.path.join('/')]),
      [['CRC_MISMATCH', false, 'Segment/Cluster']],
      `bad CRC, chunks of ${n}`,
    );
    t.equal(r.blocks.length, 22, 'data still delivered');
  }
  t.same(read([bad]).errors, [], 'not checked unless verifyCrc');
  // fixtures with CRC-32 elements verify
  for (const [f, buf] of fixtures()) {
    const r = read(chunked(buf, 1000), { verifyCrc: true });
    t.same(r.errors, [], `${f} CRCs`);
  }
});

t.test('resync scanning is bounded', async (t) => {
  const junk = new Uint8Array(300_000).fill(0x42);
  const doc = cat([ebmlHeader(), el(Id.Segment, [clusters[0], bytes(0), junk, clusters[2]], { unknown: true })]);
  const r = read(chunked(doc, 65536), { maxResyncScan: 100_000 });
  t.same(
    r.errors.map((e) => [e.code, e.fatal]),
    [
      ['INVALID_VINT', false],
      ['RESYNC', true],
    ],
  );
  t.same(r.blocks, range(0, 20), 'nothing after giving up');
  t.equal(r.starts, r.ends);
  const r2 = read(chunked(doc, 65536));
  t.same(r2.blocks, [...range(0, 20), ...range(40, 20)], 'default budget finds the Cluster');
  const r3 = read([cat([ebmlHeader(), el(Id.Segment, [clusters[0], bytes(0), junk], { unknown: true })])]);
  t.same(
    r3.errors.map((e) => [e.code, e.fatal]),
    [
      ['INVALID_VINT', false],
      ['RESYNC', false],
    ],
    'no resync point before the end',
  );
});

t.test('resync after damage inside a known-size Segment keeps the Segment', async (t) => {
  const body = [clusters[0], bytes(0, 0, 0), clusters[2], el(Id.Cues, [el(Id.CuePoint, [el(Id.CueTime, bytes(0))])])];
  const doc = cat([ebmlHeader(), el(Id.Segment, body), ebmlHeader()]);
  const r = read([doc]);
  t.same(
    r.errors.map((e) => e.code),
    ['INVALID_VINT'],
  );
  t.same(r.blocks, [...range(0, 20), ...range(40, 20)]);
  t.ok(r.log.includes(`end Segment@${doc.length - ebmlHeader().length}`), 'Segment ends at its known end, not damaged');
  t.ok(r.log.some((l) => l.startsWith('start Cues')));
});
