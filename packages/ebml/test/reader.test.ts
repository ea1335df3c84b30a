// EbmlReader on hand-built byte arrays: value decoding, zero-copy views, unknown-size ending rules
// (RFC 8794 6.2), skipping, streamed binaries, every error code, and callback logs that are identical
// for every chunking of the input.
import t from 'tap';
import type { Test as TapTest } from 'tap';
import {
  EbmlReader,
  elementPath,
  type EbmlReaderHandler,
  type EbmlReaderOptions,
  type ElementHeader,
} from '../src/reader.js';
import type { EbmlError } from '../src/errors.js';
import { Id } from '../src/schema.generated.js';
import { writeId, writeSize } from '../src/vint.js';
import { bytes, cat, ebmlHeader, el, fixtureFilesIfAny, loadView, rng, str, uint } from '../testlib/build.js';

// ---- building documents -------------------------------------------------------------------------
function block(n: number, size = 8): Uint8Array {
  const b = new Uint8Array(size);
  b[0] = 0x81;
  b[3] = 0x80;
  b[size - 1] = n & 0xff;
  return el(Id.SimpleBlock, b);
}
function cluster(ts: number, blocks: number[], unknown = false): Uint8Array {
  return el(Id.Cluster, [uint(Id.Timestamp, ts), ...blocks.map((n) => block(n))], { unknown });
}

// ---- recording callbacks ------------------------------------------------------------------------
const hex = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.length).toString('hex');
const name = (e: ElementHeader) => e.info?.name ?? `?${e.id.toString(16)}`;
function show(v: unknown): string {
  if (v instanceof Uint8Array) return 'b:' + hex(v);
  if (typeof v === 'bigint') return v.toString() + 'n';
  return JSON.stringify(v);
}
interface Run {
  log: string[];
  errors: EbmlError[];
  values: [ElementHeader, unknown][];
}
function run(chunks: Uint8Array[], opts?: EbmlReaderOptions, extra: Partial<EbmlReaderHandler> = {}): Run {
  const log: string[] = [];
  const errors: EbmlError[] = [];
  const values: [ElementHeader, unknown][] = [];
  const parts = new Map<ElementHeader, Uint8Array[]>();
  const h: EbmlReaderHandler = {
    onMasterStart: (e) => {
      log.push(`start ${name(e)}@${e.offset}+${e.headerSize} size=${e.size} d=${e.depth}`);
      return extra.onMasterStart?.(e);
    },
    onMasterEnd: (e, end, damaged) => void log.push(`end ${name(e)}@${end}${damaged ? ' damaged' : ''}`),
    onValue: (e, v) => {
      values.push([e, v]);
      log.push(`value ${name(e)}@${e.offset}+${e.headerSize} d=${e.depth} ${show(v)}`);
    },
    onBinaryPart: (e, part, off, last) => {
      const list = parts.get(e) ?? [];
      if (off !== list.reduce((n, p) => n + p.length, 0)) throw new Error('bad part offset');
      list.push(part.slice());
      parts.set(e, list);
      if (last) log.push(`streamed ${name(e)}@${e.offset} ${hex(cat(list))}`);
    },
    onError: (err) => {
      errors.push(err);
      log.push(`error ${err.code}@${err.offset} ${err.path.join('/')} fatal=${err.fatal}`);
    },
    onResync: (from, to) => void log.push(`resync ${from}->${to}`),
  };
  const r = new EbmlReader(h, opts);
  for (const c of chunks) r.push(c);
  r.end();
  log.push(`position ${r.position}`);
  return { log, errors, values };
}
function randomChunks(buf: Uint8Array, rand: () => number, maxLen: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let o = 0; o < buf.length;) {
    const n = Math.min(buf.length - o, Math.floor(rand() * maxLen));
    out.push(buf.subarray(o, o + n)); // zero-length chunks included on purpose
    o += n;
  }
  return out;
}
function bytewise(buf: Uint8Array): Uint8Array[] {
  return Array.from(buf, (_, i) => buf.subarray(i, i + 1));
}
/** The callback log must not depend on how the input is cut. */
function sameForAllChunkings(t: TapTest, buf: Uint8Array, opts?: EbmlReaderOptions, runs = 30): string[] {
  const whole = run([buf], opts).log;
  t.same(run(bytewise(buf), opts).log, whole, 'byte by byte');
  const rand = rng(buf.length * 7 + 1);
  let same = true;
  for (let k = 0; k < runs && same; k++) {
    // maxLen >= 2: with 1 every chunk would be empty and the chunking would never end.
    const log = run(randomChunks(buf, rand, 2 + Math.floor(rand() * 63)), opts).log;
    if (JSON.stringify(log) !== JSON.stringify(whole)) {
      t.same(log, whole, `random chunking ${k}`);
      same = false;
    }
  }
  t.ok(same, `${runs} random chunkings give the same log`);
  return whole;
}

// ---- tests --------------------------------------------------------------------------------------
t.test('values of every type', async (t) => {
  const doc = cat([
    ebmlHeader(),
    el(Id.Segment, [
      el(Id.Info, [
        uint(Id.TimestampScale, 1000000),
        el(Id.Duration, bytes(0x40, 0x49, 0x0f, 0xdb)), // float32 pi
        el(Id.Duration, bytes(0x40, 0x09, 0x21, 0xfb, 0x54, 0x44, 0x2d, 0x18)), // float64 pi
        el(Id.Duration, new Uint8Array(0)),
        str(Id.Title, 'héllo wörld with utf-8 beyond sixteen'),
        el(Id.MuxingApp, bytes(0x61, 0x62, 0, 0)), // "ab" + NUL padding
        el(Id.DateUTC, bytes(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe)),
        el(Id.SegmentUUID, bytes(1, 2, 3)),
      ]),
      el(Id.Tracks, [
        el(Id.TrackEntry, [
          uint(Id.TrackUID, 0),
          el(Id.TrackUID, new Uint8Array(0)),
          el(Id.TrackUID, bytes(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)),
          el(Id.TrackUID, bytes(0x00, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)), // MAX_SAFE_INTEGER
          el(Id.TrackUID, bytes(0x00, 0x20, 0, 0, 0, 0, 0, 0)), // 2^53
        ]),
      ]),
      el(Id.Cluster, [
        uint(Id.Timestamp, 5),
        el(Id.BlockGroup, [
          el(Id.DiscardPadding, bytes(0xff)), // -1
          el(Id.DiscardPadding, bytes(0x80, 0, 0, 0, 0, 0)), // -2^47
          el(Id.DiscardPadding, bytes(0x80, 0, 0, 0, 0, 0, 0, 0)), // int64 min
          el(Id.DiscardPadding, bytes(0xff, 0xe0, 0, 0, 0, 0, 0, 1)), // -(2^53)+1 safe
          el(Id.DiscardPadding, bytes(0x7f)),
          el(Id.DiscardPadding, new Uint8Array(0)),
        ]),
      ]),
    ]),
  ]);
  const { values, errors } = run([doc]);
  t.same(errors, []);
  const v = (n: string) => values.filter(([e]) => e.info?.name === n).map(([, x]) => x);
  t.same(v('TimestampScale'), [1000000]);
  const d = v('Duration') as number[];
  t.ok(Math.abs(d[0] - Math.PI) < 1e-6, 'float32');
  t.equal(d[1], Math.PI, 'float64');
  t.equal(d[2], 0, '0-byte float');
  t.same(v('Title'), ['héllo wörld with utf-8 beyond sixteen']);
  t.same(v('MuxingApp'), ['ab'], 'trailing NULs stripped');
  t.same(v('DateUTC'), [-2n]);
  t.same(v('TrackUID'), [0, 0, 18446744073709551615n, Number.MAX_SAFE_INTEGER, 9007199254740992n]);
  t.same(v('DiscardPadding'), [-1, -(2 ** 47), -9223372036854775808n, -(2 ** 53) + 1, 127, 0]);
  t.same(v('SegmentUUID'), [bytes(1, 2, 3)]);
});

t.test('binary values are zero-copy views when inside one chunk', async (t) => {
  const doc = cat([ebmlHeader(), el(Id.Segment, [cluster(0, [1, 2, 3])])]);
  const { values } = run([doc]);
  const blocks = values.filter(([e]) => e.id === Id.SimpleBlock).map(([, v]) => v as Uint8Array);
  t.equal(blocks.length, 3);
  for (const b of blocks) t.equal(b.buffer, doc.buffer, 'view of the pushed chunk');
  const [e] = values.find(([x]) => x.id === Id.SimpleBlock)!;
  t.same(elementPath(e), ['Segment', 'Cluster', 'SimpleBlock']);
  t.equal(e.depth, 2);
  t.equal(e.parent?.info?.name, 'Cluster');
  t.equal(e.dataOffset, e.offset + e.headerSize);
  // split inside a block: assembled once, still correct
  const cut = doc.length - 4;
  const r = run([doc.subarray(0, cut), doc.subarray(cut)]);
  t.same(
    r.values.map(([, v]) => show(v)),
    values.map(([, v]) => show(v)),
  );
});

t.test('unknown-size Segment and Cluster end per RFC 8794', async (t) => {
  const doc = cat([
    ebmlHeader(),
    el(
      Id.Segment,
      [
        el(Id.Info, [uint(Id.TimestampScale, 1000000)]),
        cluster(0, [1, 2], true),
        // a Void and a CRC-32 never end an unknown-size Cluster
        el(Id.Cluster, [uint(Id.Timestamp, 10), el(Id.Void, bytes(0, 0)), el(0xbf, bytes(1, 2, 3, 4)), block(3)], {
          unknown: true,
        }),
        cluster(20, [4], true), // ended by Cues (a level-1 element)
        el(Id.Cues, [el(Id.CuePoint, [uint(Id.CueTime, 0)])]),
        el(Id.Cluster, [uint(Id.Timestamp, 30), block(5)], { unknown: true, sizeLen: 1 }), // 0xFF
      ],
      { unknown: true },
    ),
    // a new EBML header ends both the Cluster and the Segment
    ebmlHeader(),
    el(Id.Segment, [cluster(40, [6], true)], { unknown: true }),
  ]);
  const log = sameForAllChunkings(t, doc);
  const ends = log.filter((l) => l.startsWith('end ') || l.startsWith('start '));
  const off = (l: string) => Number(/@(\d+)/.exec(l)![1]);
  t.equal(log.filter((l) => l.startsWith('error')).length, 0, 'no errors');
  t.equal(log.filter((l) => l.startsWith('start Cluster')).length, 5);
  t.equal(log.filter((l) => l.startsWith('end Cluster')).length, 5);
  t.equal(log.filter((l) => l.startsWith('end Segment')).length, 2);
  // every Cluster ends where the next level-1 element starts
  const starts = ends.filter((l) => /^start (Cluster|Cues|EBML|Segment)/.test(l)).map(off);
  for (const l of ends.filter((l) => l.startsWith('end Cluster')))
    t.ok(starts.includes(off(l)) || off(l) === doc.length, l);
  // the Void and the CRC-32 were children of the second Cluster
  t.match(
    log.find((l) => l.startsWith('value Void')),
    / d=2 /,
  );
  t.match(
    log.find((l) => l.startsWith('value CRC-32')),
    / d=2 /,
  );
  // the first Segment ends at the second EBML header
  const secondEbml = off(log.filter((l) => l.startsWith('start EBML'))[1]);
  t.equal(off(log.find((l) => l.startsWith('end Segment'))!), secondEbml);
  t.equal(log.at(-1), `position ${doc.length}`);
});

t.test('unknown-size Cluster inside a known-size Segment ends with it', async (t) => {
  const doc = cat([ebmlHeader(), el(Id.Segment, [cluster(0, [1], true)]), ebmlHeader()]);
  const log = sameForAllChunkings(t, doc);
  const segEnd = doc.length - ebmlHeader().length;
  t.ok(log.includes(`end Cluster@${segEnd}`));
  t.ok(log.includes(`end Segment@${segEnd}`));
  t.equal(log.filter((l) => l.startsWith('error')).length, 0);
});

t.test('unknown IDs: binary leaves in open masters, damage directly in Segment/Cluster', async (t) => {
  const doc = cat([
    ebmlHeader(),
    el(
      Id.Segment,
      [
        el(Id.Info, [el(0x2abcde, bytes(9, 9)), el(Id.TrackNumber, bytes(1)), uint(Id.TimestampScale, 1000)]),
        el(Id.Cluster, [uint(Id.Timestamp, 0), block(1)], { unknown: true }),
      ],
      { unknown: true },
    ),
  ]);
  const { values, errors } = run([doc]);
  t.same(errors, []);
  const unk = values.find(([e]) => e.id === 0x2abcde)!;
  t.equal(unk[0].info, undefined);
  t.same(unk[1], bytes(9, 9));
  t.same(elementPath(unk[0]), ['Segment', 'Info', 'Unknown']);
  t.equal(values.find(([e]) => e.id === Id.TrackNumber)![0].parent?.id, Id.Info, 'misplaced known ID read as a child');
  t.equal(values.filter(([e]) => e.id === Id.SimpleBlock).length, 1);
  // directly inside a Cluster or the Segment, unknown and misplaced IDs are junk: one error, resync
  for (const junk of [el(0x2abcde, bytes(9, 9)), el(Id.TrackNumber, bytes(1))]) {
    const d = cat([
      ebmlHeader(),
      el(Id.Segment, [cluster(0, [1], true), junk, cluster(1, [2], true), cluster(2, [3])], { unknown: true }),
    ]);
    const r = run([d]);
    t.same(
      r.errors.map((e) => e.code),
      ['INVALID_ID'],
    );
    t.equal(r.values.filter(([e]) => e.id === Id.SimpleBlock).length, 3, 'all blocks recovered');
    const s2 = cat([ebmlHeader(), el(Id.Segment, [cluster(0, [1]), junk, cluster(1, [2])])]);
    t.same(
      run([s2]).errors.map((e) => e.code),
      ['INVALID_ID'],
    );
    t.equal(run([s2]).values.filter(([e]) => e.id === Id.SimpleBlock).length, 2);
  }
});

t.test('onMasterStart returning false skips content', async (t) => {
  const doc = cat([
    ebmlHeader(),
    el(Id.Segment, [cluster(0, [1, 2]), cluster(1, [3], true), el(Id.Cues, [el(Id.CuePoint, [uint(Id.CueTime, 0)])])], {
      unknown: true,
    }),
  ]);
  const skip = { onMasterStart: (e: ElementHeader) => (e.id === Id.Cluster ? false : undefined) };
  const whole = run([doc], undefined, skip).log;
  t.same(run(bytewise(doc), undefined, skip).log, whole);
  t.equal(whole.filter((l) => l.startsWith('value SimpleBlock')).length, 0);
  t.equal(whole.filter((l) => l.startsWith('value Timestamp')).length, 0);
  t.equal(whole.filter((l) => l.startsWith('end Cluster')).length, 2, 'skipped masters still end');
  t.ok(
    whole.some((l) => l.startsWith('value CueTime')),
    'elements after the skipped ones are read',
  );
});

t.test('big binaries are streamed in parts', async (t) => {
  const big = new Uint8Array(5000).map((_, i) => i & 0xff);
  const doc = cat([
    ebmlHeader(),
    el(Id.Segment, [el(Id.Cluster, [uint(Id.Timestamp, 0), el(Id.SimpleBlock, big), block(7)])]),
  ]);
  const opts = { streamBinariesLargerThan: 1000 };
  const log = sameForAllChunkings(t, doc, opts, 10);
  t.ok(
    log.includes(`streamed SimpleBlock@${doc.indexOf(0xa3, 40)} ${hex(big)}`) ||
      log.some((l) => l.startsWith('streamed SimpleBlock') && l.endsWith(hex(big))),
  );
  t.equal(log.filter((l) => l.startsWith('value SimpleBlock')).length, 1, 'small block still via onValue');
  // without onBinaryPart the big block is delivered whole
  const r = new EbmlReader(
    { onValue: (e, v) => void (e.id === Id.SimpleBlock && sizes.push((v as Uint8Array).length)) },
    opts,
  );
  const sizes: number[] = [];
  r.push(doc);
  r.end();
  t.same(sizes, [5000, 8]);
});

t.test('callback logs are identical for every chunking (fixtures)', async (t) => {
  const files = fixtureFilesIfAny();
  if (!files.length) return t.skip('no fixtures', () => {});
  for (const f of files.slice(0, 6)) {
    const buf = loadView(f);
    const whole = run([buf], { verifyCrc: true }).log;
    t.equal(whole.filter((l) => l.startsWith('error')).length, 0, `${f}: no errors`);
    const rand = rng(f.length);
    for (let k = 0; k < 3; k++)
      t.same(
        run(randomChunks(buf, rand, 2 + Math.floor(rand() * 2999)), { verifyCrc: true }).log,
        whole,
        `${f} chunking ${k}`,
      );
  }
});

t.test('error codes', async (t) => {
  const seg = (body: Uint8Array[], unknown = false) => cat([ebmlHeader(), el(Id.Segment, body, { unknown })]);
  const codes = (doc: Uint8Array, opts?: EbmlReaderOptions) => run([doc], opts).errors.map((e) => e.code);

  t.test('INVALID_VALUE: wrong sizes for numeric types, element skipped', async (t) => {
    const doc = seg([
      el(Id.Info, [
        el(Id.Duration, bytes(1, 2, 3)),
        el(Id.TimestampScale, new Uint8Array(9)),
        el(Id.DateUTC, bytes(1)),
        str(Id.Title, 'x'),
      ]),
    ]);
    const r = run([doc]);
    t.same(
      r.errors.map((e) => e.code),
      ['INVALID_VALUE', 'INVALID_VALUE', 'INVALID_VALUE'],
    );
    t.ok(r.errors.every((e) => !e.fatal));
    t.same(r.errors[0].path, ['Segment', 'Info', 'Duration']);
    t.ok(
      r.log.some((l) => l.startsWith('value Title')),
      'reading went on',
    );
    t.same(run(bytewise(doc)).log, r.log);
  });

  t.test('ELEMENT_TOO_LARGE: bounded is skipped, unbounded resyncs', async (t) => {
    const doc = seg([
      cluster(0, [1]),
      el(Id.Cluster, [uint(Id.Timestamp, 1), el(Id.SimpleBlock, new Uint8Array(300)), block(2)]),
      cluster(2, [3]),
    ]);
    const r = run([doc], { maxElementSize: 200 });
    t.same(
      r.errors.map((e) => e.code),
      ['ELEMENT_TOO_LARGE'],
    );
    t.equal(r.values.filter(([e]) => e.id === Id.SimpleBlock).length, 3);
    t.same(run(bytewise(doc), { maxElementSize: 200 }).log, r.log);
    const s = seg([el(Id.Info, [el(Id.Title, new Uint8Array(50).fill(65))])]);
    t.same(codes(s, { maxStringSize: 10 }), ['ELEMENT_TOO_LARGE']);
  });

  t.test('CHILD_OVERRUNS_PARENT', async (t) => {
    const bad = el(Id.Cluster, [uint(Id.Timestamp, 1), el(Id.SimpleBlock, new Uint8Array(8), { size: 100 })]);
    const doc = seg([cluster(0, [1]), bad, cluster(2, [3]), cluster(3, [4])]);
    const r = run([doc]);
    t.same(
      r.errors.map((e) => e.code),
      ['CHILD_OVERRUNS_PARENT'],
    );
    t.same(r.errors[0].path, ['Segment', 'Cluster', 'SimpleBlock']);
    t.equal(r.errors[0].fatal, false);
    t.ok(
      r.log.some((l) => /^end Cluster@\d+ damaged$/.test(l)),
      'the damaged Cluster is closed with damaged=true',
    );
    t.same(
      r.values.filter(([e]) => e.id === Id.SimpleBlock).map(([, v]) => (v as Uint8Array)[7]),
      [1, 3, 4],
      'blocks after the damage are read',
    );
    t.ok(r.log.some((l) => l.startsWith('resync')));
  });

  t.test('INVALID_VINT and INVALID_ID', async (t) => {
    const good = cluster(2, [3]);
    t.same(codes(seg([cluster(0, [1]), bytes(0x00), good, cluster(4, [5])])), ['INVALID_VINT']);
    t.same(
      codes(seg([cluster(0, [1]), bytes(0x08, 0x81), good, cluster(4, [5])])),
      ['INVALID_ID'],
      'ID longer than 4 bytes',
    );
    t.same(
      codes(seg([cluster(0, [1]), bytes(0xff, 0x81, 0), good, cluster(4, [5])])),
      ['INVALID_ID'],
      'reserved ID 0xFF',
    );
    t.same(codes(seg([cluster(0, [1]), bytes(0xa3, 0x00), good, cluster(4, [5])])), ['INVALID_VINT'], 'size 0x00');
    // The EBML header after it is the last element: at the end of input it cannot be confirmed by the
    // elements after it (as anywhere else), so no resync point is found.
    t.same(codes(cat([bytes(0xa3, 0x81, 0), ebmlHeader()])), ['INVALID_ID', 'RESYNC'], 'a block at the top level');
    t.same(
      codes(cat([bytes(0xa3, 0x81, 0), ebmlHeader(), seg([cluster(0, [1, 2])])])),
      ['INVALID_ID'],
      'a block at the top level, then a header and a Segment',
    );
  });

  t.test('UNKNOWN_SIZE_NOT_ALLOWED', async (t) => {
    const doc = seg(
      [el(Id.Info, [uint(Id.TimestampScale, 1)], { unknown: true }), cluster(0, [1]), cluster(1, [2])],
      true,
    );
    const r = run([doc]);
    t.same(
      r.errors.map((e) => e.code),
      ['UNKNOWN_SIZE_NOT_ALLOWED'],
    );
    t.equal(r.values.filter(([e]) => e.id === Id.SimpleBlock).length, 2);
  });

  t.test('MAX_DEPTH: known size skipped', async (t) => {
    const doc = seg([
      el(Id.Tags, [el(Id.Tag, [el(Id.SimpleTag, [el(Id.SimpleTag, [str(Id.TagName, 'deep')])])])]),
      cluster(0, [1]),
    ]);
    const r = run([doc], { maxDepth: 4 });
    t.same(
      r.errors.map((e) => e.code),
      ['MAX_DEPTH'],
    );
    t.ok(!r.log.some((l) => l.includes('TagName')));
    t.equal(r.values.filter(([e]) => e.id === Id.SimpleBlock).length, 1);
  });

  t.test('TRUNCATED', async (t) => {
    const doc = seg([cluster(0, [1, 2])]);
    const r = run([doc.subarray(0, doc.length - 3)]);
    t.same(
      r.errors.map((e) => e.code),
      ['TRUNCATED'],
    );
    t.same(r.errors[0].path, ['Segment', 'Cluster', 'SimpleBlock']);
    t.ok(r.log.includes(`end Cluster@${doc.length - 3} damaged`));
    t.ok(r.log.includes(`end Segment@${doc.length - 3} damaged`));
    const h = run([doc.subarray(0, doc.length - 10)]);
    t.same(
      h.errors.map((e) => e.code),
      ['TRUNCATED'],
      'cut inside a header',
    );
    const live = cat([ebmlHeader(), el(Id.Segment, [cluster(0, [1], true)], { unknown: true })]);
    t.same(run([live]).errors, [], 'unknown sizes end cleanly at end of input');
    t.ok(run([live]).log.includes(`end Segment@${live.length}`));
  });

  t.test('resync: false makes damage fatal', async (t) => {
    const r = run([seg([cluster(0, [1]), bytes(0), cluster(1, [2])])], { resync: false });
    t.same(
      r.errors.map((e) => [e.code, e.fatal]),
      [['INVALID_VINT', true]],
    );
    t.equal(r.values.filter(([e]) => e.id === Id.SimpleBlock).length, 1);
  });

  t.test('orphan level-1 element at the top level', async (t) => {
    const r = run([cat([cluster(0, [1]), cluster(1, [2])])]);
    t.same(
      r.errors.map((e) => e.code),
      ['INVALID_ID'],
    );
    t.equal(r.values.filter(([e]) => e.id === Id.SimpleBlock).length, 2);
  });

  t.test('push after end throws', async (t) => {
    const r = new EbmlReader({});
    r.end();
    t.throws(() => r.push(bytes(1)));
  });
});

t.test('wrong Segment size: a level-1 element overrunning a known-size Segment is read leniently', async (t) => {
  const clusters = [cluster(0, [1, 2, 3]), cluster(1, [4, 5, 6]), cluster(2, [7, 8, 9]), cluster(3, [10, 11, 12])];
  const blocksOf = (r: Run) => r.values.filter(([e]) => e.id === Id.SimpleBlock).map(([, v]) => (v as Uint8Array)[7]);
  const body = cat(clusters);
  const segHead = (size: number) => el(Id.Segment, new Uint8Array(0), { size, sizeLen: 8 });

  t.test('Segment size too small: the Cluster across the declared end and everything after are kept', async (t) => {
    // The declared end falls inside the second Cluster (as when bytes were inserted in the first one).
    const declared = clusters[0].length + 10;
    const doc = cat([ebmlHeader(), segHead(declared), body]);
    const log = sameForAllChunkings(t, doc);
    const r = run([doc]);
    t.same(
      r.errors.map((e) => [e.code, e.fatal]),
      [['CHILD_OVERRUNS_PARENT', false]],
      'one non-fatal error',
    );
    t.same(r.errors[0].path, ['Segment', 'Cluster']);
    t.equal(r.errors[0].offset, ebmlHeader().length + 12 + clusters[0].length, 'at the overrunning Cluster');
    t.match(r.errors[0].message, /Segment size is wrong/);
    t.same(blocksOf(r), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], 'no frame lost');
    t.notOk(
      log.some((l) => l.startsWith('resync')),
      'no resync: nothing skipped',
    );
    t.notOk(
      log.some((l) => / damaged$/.test(l)),
      'nothing closed as damaged',
    );
    t.ok(log.includes(`end Segment@${doc.length}`), 'the Segment ends at the end of input, not truncated');
    t.equal(log.filter((l) => l.startsWith('start Segment')).length, 1, 'still one Segment');
  });

  t.test('the relaxed Segment ends at a new EBML header; the next Segment is strict again', async (t) => {
    const declared = 5;
    const second = cat([ebmlHeader(), el(Id.Segment, [clusters[2], clusters[3]])]);
    const doc = cat([ebmlHeader(), segHead(declared), clusters[0], clusters[1], second]);
    const log = sameForAllChunkings(t, doc);
    const r = run([doc]);
    t.same(
      r.errors.map((e) => e.code),
      ['CHILD_OVERRUNS_PARENT'],
    );
    t.same(blocksOf(r), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    const firstEnd = doc.length - second.length;
    t.ok(log.includes(`end Segment@${firstEnd}`), 'first Segment ends where the EBML header starts');
    t.ok(log.includes(`end Segment@${doc.length}`), 'second Segment ends at its declared end');
    t.equal(log.filter((l) => l.startsWith('start EBML ') || l.startsWith('start EBML@')).length, 2);
  });

  t.test('declared end exactly between two Clusters: the Segment ends there, later Clusters are orphans', async (t) => {
    // Nothing overruns, so the Segment keeps its size; the level-1 elements after it are read at the top
    // level with one INVALID_ID (unchanged behaviour), and no frame is lost either.
    const doc = cat([ebmlHeader(), segHead(clusters[0].length), body]);
    sameForAllChunkings(t, doc);
    const r = run([doc]);
    t.same(
      r.errors.map((e) => e.code),
      ['INVALID_ID'],
    );
    t.match(r.errors[0].message, /Cluster outside a Segment/);
    t.same(blocksOf(r), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  });

  t.test('inside a Cluster the strict rule stays', async (t) => {
    const bad = el(Id.Cluster, [uint(Id.Timestamp, 1), el(Id.SimpleBlock, new Uint8Array(8), { size: 100 })]);
    const doc = cat([ebmlHeader(), el(Id.Segment, [clusters[0], bad, clusters[2]])]);
    const r = run([doc]);
    t.same(
      r.errors.map((e) => e.code),
      ['CHILD_OVERRUNS_PARENT'],
    );
    t.same(r.errors[0].path, ['Segment', 'Cluster', 'SimpleBlock']);
    t.ok(
      r.log.some((l) => l.startsWith('resync')),
      'damage: resync as before',
    );
    t.same(blocksOf(r), [1, 2, 3, 7, 8, 9]);
  });

  t.test('an implausible size (above maxElementSize) is still damage', async (t) => {
    const huge = new Uint8Array(12);
    writeId(huge, 0, Id.Cluster);
    writeSize(huge, 4, 2 ** 40, 8);
    const doc = cat([ebmlHeader(), el(Id.Segment, [clusters[0], huge, clusters[2], clusters[3]])]);
    const r = run([doc]);
    t.same(
      r.errors.map((e) => e.code),
      ['CHILD_OVERRUNS_PARENT'],
    );
    t.ok(
      r.log.some((l) => l.startsWith('resync')),
      'resynced',
    );
    t.same(blocksOf(r), [1, 2, 3, 7, 8, 9, 10, 11, 12]);
  });
});
