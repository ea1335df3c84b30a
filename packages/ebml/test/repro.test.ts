// The inputs in fixtures/repro/ (copies of ../shared/repro/, found by fuzzing) as regression tests, one
// group per defect: CRC-32 of an unknown-size Cluster that depended on where the input was cut (issue 8
// item 19), frames of tracks no header announced (item 17), and a zlib decompression bomb (item 18).
import t from 'tap';
import { crc32 } from '../src/crc32.js';
import { EbmlReader } from '../src/reader.js';
import type { EbmlReaderOptions } from '../src/reader.js';
import { MatroskaDemuxer } from '../src/matroska/demuxer.js';
import type { DemuxerOptions } from '../src/matroska/demuxer.js';
import { Id } from '../src/schema.generated.js';
import { bytes, cat, ebmlHeader, el, loadView, mulberry32, uint } from '../testlib/build.js';

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
