// MatroskaDemuxer on synthetic files built with the writer: header checks, Info/Tracks parsing,
// SimpleBlock/BlockGroup fields, lacing timing, content encodings, metadata, and error paths.
import t from 'tap';
import { zlibSync } from 'fflate';
import { Id } from '../src/schema.generated.js';
import { encodeTree } from '../src/writer.js';
import type { EncodableNode } from '../src/writer.js';
import { demuxSync, MatroskaDemuxer } from '../src/matroska/demuxer.js';
import { opusPacketDuration } from '../src/matroska/codec-duration.js';
import { encodeLaces } from '../src/matroska/lacing.js';
import type { LacingMode } from '../src/matroska/lacing.js';
import { bytes as u8 } from '../testlib/build.js';

type N = EncodableNode;
const E = (id: number, value: number | bigint | string | Uint8Array): N => ({ id, value });
const M = (id: number, ...children: N[]): N => ({ id, children });

function ebml(docType = 'matroska', extra: N[] = []): N {
  return M(
    Id.EBML,
    E(Id.EBMLVersion, 1),
    E(Id.EBMLReadVersion, 1),
    E(Id.EBMLMaxIDLength, 4),
    E(Id.EBMLMaxSizeLength, 8),
    E(Id.DocType, docType),
    E(Id.DocTypeVersion, 4),
    E(Id.DocTypeReadVersion, 2),
    ...extra,
  );
}
function track(n: number, type: number, codec: string, extra: N[] = []): N {
  return M(
    Id.TrackEntry,
    E(Id.TrackNumber, n),
    E(Id.TrackUID, BigInt(n) * 0x1000000000001n),
    E(Id.TrackType, type),
    E(Id.CodecID, codec),
    ...extra,
  );
}
/** Block payload: track vint (1 byte), int16 rel, flags, laced frames. */
function blk(
  trackNo: number,
  rel: number,
  flags: number,
  frames: Uint8Array[],
  lacing: LacingMode = 'none',
): Uint8Array {
  const lace = encodeLaces(frames, lacing);
  const lbits = { none: 0, xiph: 2, fixed: 4, ebml: 6 }[lacing];
  const out = new Uint8Array(4 + lace.length);
  out[0] = 0x80 | trackNo;
  out[1] = (rel >> 8) & 0xff;
  out[2] = rel & 0xff;
  out[3] = flags | lbits;
  out.set(lace, 4);
  return out;
}
function file(tracks: N[], body: N[], opts: { docType?: string; ebmlExtra?: N[]; info?: N[] } = {}): Uint8Array {
  return encodeTree([
    ebml(opts.docType, opts.ebmlExtra),
    M(
      Id.Segment,
      M(
        Id.Info,
        E(Id.TimestampScale, 1_000_000),
        E(Id.MuxingApp, 'test'),
        E(Id.WritingApp, 'test'),
        ...(opts.info ?? []),
      ),
      M(Id.Tracks, ...tracks),
      ...body,
    ),
  ]);
}
const cluster = (ts: number, ...blocks: N[]) => M(Id.Cluster, E(Id.Timestamp, ts), ...blocks);
const sb = (p: Uint8Array) => E(Id.SimpleBlock, p);

t.test('header: EBML, Info, Tracks', async (t) => {
  const f = file(
    [
      track(1, 1, 'V_VP8', [
        E(Id.Name, 'cam'),
        E(Id.Language, 'fra'),
        E(Id.DefaultDuration, 40_000_000),
        E(Id.FlagDefault, 0),
        M(Id.Video, E(Id.PixelWidth, 320), E(Id.PixelHeight, 240), E(Id.DisplayWidth, 640), E(Id.DisplayHeight, 480)),
      ]),
      track(2, 2, 'A_OPUS', [
        E(Id.CodecPrivate, u8(1, 2, 3)),
        E(Id.CodecDelay, 6_500_000),
        E(Id.SeekPreRoll, 80_000_000),
        M(Id.Audio, E(Id.SamplingFrequency, 48000), E(Id.Channels, 2)),
      ]),
      track(3, 2, 'A_PCM/INT/LIT', [M(Id.Audio, E(Id.BitDepth, 16))]),
    ],
    [cluster(0, sb(blk(1, 0, 0x80, [u8(9)])))],
    {
      info: [
        E(Id.Duration, 1234.5),
        E(Id.Title, 'T'),
        E(Id.DateUTC, 5_000_000_000n),
        E(Id.SegmentUUID, new Uint8Array(16).fill(7)),
      ],
    },
  );
  const r = demuxSync(f);
  t.same(r.errors, []);
  const h = r.header!;
  t.equal(h.ebml.docType, 'matroska');
  t.equal(h.ebml.docTypeReadVersion, 2);
  t.equal(h.info.timestampScale, 1_000_000);
  t.equal(h.info.duration, 1234.5 * 1_000_000);
  t.equal(h.info.title, 'T');
  t.equal(h.info.muxingApp, 'test');
  t.equal(h.info.dateUTC, 5_000_000_000n);
  t.same(h.info.segmentUUID, new Uint8Array(16).fill(7));
  t.equal(h.segmentSize > 0, true);
  t.equal(h.tracks.length, 3);
  const [v, a, p] = h.tracks as [(typeof h.tracks)[0], (typeof h.tracks)[0], (typeof h.tracks)[0]];
  t.equal(v.kind, 'video');
  t.equal(v.uid, 0x1000000000001n);
  t.equal(v.name, 'cam');
  t.equal(v.language, 'fra');
  t.equal(v.defaultDuration, 40_000_000);
  t.equal(v.flagDefault, false);
  t.same(v.video, { pixelWidth: 320, pixelHeight: 240, displayWidth: 640, displayHeight: 480 });
  t.equal(a.kind, 'audio');
  t.same(a.codecPrivate, u8(1, 2, 3));
  t.equal(a.codecDelay, 6_500_000);
  t.equal(a.seekPreRoll, 80_000_000);
  t.same(a.audio, { samplingFrequency: 48000, channels: 2 });
  t.equal(a.language, 'eng');
  t.same(p.audio, { samplingFrequency: 8000, channels: 1, bitDepth: 16 }, 'audio defaults');
  t.equal(r.frames.length, 1);
  t.same(r.frames[0].timestamp, 0);
  t.equal(r.frames[0].duration, 40_000_000);
});

t.test('EBML header checks', async (t) => {
  const cases: [string, N[], string | undefined][] = [
    ['webm', [], undefined],
    ['foo', [], 'UNSUPPORTED_DOCTYPE'],
    ['matroska', [E(Id.DocTypeReadVersion, 5)], 'UNSUPPORTED_DOCTYPE'],
    ['matroska', [E(Id.EBMLMaxIDLength, 5)], 'UNSUPPORTED_DOCTYPE'],
    ['matroska', [E(Id.EBMLMaxSizeLength, 9)], 'UNSUPPORTED_DOCTYPE'],
    ['matroska', [E(Id.EBMLReadVersion, 2)], 'UNSUPPORTED_DOCTYPE'],
  ];
  for (const [docType, extra, code] of cases) {
    // Later duplicates win in our parse: put the override after the defaults.
    const f = file([track(1, 1, 'V_VP8')], [cluster(0, sb(blk(1, 0, 0x80, [u8(1)])))], { docType, ebmlExtra: extra });
    const r = demuxSync(f);
    if (code === undefined) {
      t.same(r.errors, [], `${docType} accepted`);
      t.equal(r.frames.length, 1);
    } else {
      t.equal(r.errors.length, 1, `${docType} ${JSON.stringify(extra.map((e) => e.value))}`);
      t.equal(r.errors[0].code, code);
      t.equal(r.errors[0].fatal, true);
      t.equal(r.frames.length, 0);
      t.equal(r.header, undefined);
    }
  }
});

t.test('SimpleBlock flags, timestamps, scale, unknown tracks', async (t) => {
  const f = encodeTree([
    ebml(),
    M(
      Id.Segment,
      M(Id.Info, E(Id.TimestampScale, 100_000)),
      M(Id.Tracks, track(1, 1, 'V_X'), track(200, 2, 'A_X')),
      cluster(
        1000,
        sb(blk(1, -5, 0x80, [u8(1, 2)])),
        sb(blk(1, 32767, 0x08 | 0x01, [u8(3)])),
        sb(blk(7, 0, 0x80, [u8(4)])),
        sb(blk(7, 1, 0x80, [u8(4)])),
        sb(u8(0x40, 200, 0, 3, 0x80, 5, 6)), // 2-byte track vint 200
        sb(u8(0x81, 0)), // too short
      ),
    ),
  ]);
  const r = demuxSync(f);
  t.equal(r.frames.length, 3);
  const [a, b, c] = r.frames as [(typeof r.frames)[0], (typeof r.frames)[0], (typeof r.frames)[0]];
  t.equal(a.timestamp, 995 * 100_000);
  t.ok(a.keyframe);
  t.notOk(a.discardable);
  t.equal(b.timestamp, (1000 + 32767) * 100_000);
  t.notOk(b.keyframe);
  t.ok(b.invisible);
  t.ok(b.discardable);
  t.equal(c.track, 200);
  t.equal(c.timestamp, 1003 * 100_000);
  t.same(Array.from(c.data), [5, 6]);
  t.same(
    r.errors.map((e) => e.code),
    ['INVALID_BLOCK', 'INVALID_BLOCK'],
    'unknown track reported once, short block once',
  );
  t.match(r.errors[0].message, /track number 7, which the header does not declare, dropped/);
  t.equal(
    r.errors.every((e) => !e.fatal),
    true,
  );
  // Zero-copy: the frame is a view into the input.
  t.equal(a.data.buffer, f.buffer);
});

t.test('BlockGroup: duration, references, additions, discard padding', async (t) => {
  const f = file(
    [track(1, 1, 'V_X', [E(Id.DefaultDuration, 33_000_000)]), track(2, 2, 'A_OPUS')],
    [
      cluster(
        10,
        M(Id.BlockGroup, E(Id.Block, blk(1, 0, 0, [u8(1)]))),
        M(
          Id.BlockGroup,
          E(Id.Block, blk(1, 3, 0, [u8(2)])),
          E(Id.ReferenceBlock, -3),
          E(Id.ReferenceBlock, 6),
          E(Id.BlockDuration, 7),
          M(
            Id.BlockAdditions,
            M(Id.BlockMore, E(Id.BlockAdditional, u8(9, 9))),
            M(Id.BlockMore, E(Id.BlockAddID, 4), E(Id.BlockAdditional, u8(8))),
          ),
        ),
        M(Id.BlockGroup, E(Id.Block, blk(2, 5, 0, [u8(3)])), E(Id.DiscardPadding, 2_500_000)),
      ),
    ],
  );
  const r = demuxSync(f);
  t.same(r.errors, []);
  const [a, b, c] = r.frames as [(typeof r.frames)[0], (typeof r.frames)[0], (typeof r.frames)[0]];
  t.ok(a.keyframe, 'BlockGroup without ReferenceBlock is a keyframe');
  t.ok(a.blockGroup);
  t.equal(a.duration, 33_000_000, 'DefaultDuration fallback');
  t.equal(a.references, undefined);
  t.notOk(b.keyframe);
  t.same(b.references, [-3, 6]);
  t.equal(b.blockDuration, 7);
  t.equal(b.duration, 7_000_000);
  t.equal(b.timestamp, 13_000_000);
  t.same(b.additions, [
    { id: 1, data: u8(9, 9) },
    { id: 4, data: u8(8) },
  ]);
  t.equal(c.discardPadding, 2_500_000);
  t.equal(c.duration, undefined);
  t.ok(c.keyframe);
});

t.test('Opus packet duration from the TOC byte (RFC 6716 3.1)', async (t) => {
  const ms = 1_000_000;
  t.equal(opusPacketDuration(u8(0xfc)), 20 * ms, 'CELT FB 20 ms, code 0');
  t.equal(opusPacketDuration(u8(0x78, 1, 2)), 20 * ms, 'Hybrid FB 20 ms');
  t.equal(opusPacketDuration(u8(0x18)), 60 * ms, 'SILK NB 60 ms');
  t.equal(opusPacketDuration(u8(0x80)), 2.5 * ms, 'CELT NB 2.5 ms');
  t.equal(opusPacketDuration(u8(0x88)), 5 * ms, 'CELT NB 5 ms');
  t.equal(opusPacketDuration(u8(0x81, 7, 7)), 5 * ms, 'code 1: two equal frames');
  t.equal(opusPacketDuration(u8(0x0a, 1, 9, 9)), 40 * ms, 'code 2: two frames');
  t.equal(opusPacketDuration(u8(0xfb, 0x03, 1, 2, 3)), 60 * ms, 'code 3: count in the second byte');
  t.equal(opusPacketDuration(u8(0xfb, 0xc6)), 120 * ms, 'code 3: VBR/padding bits ignored');
  t.equal(opusPacketDuration(u8()), undefined, 'empty');
  t.equal(opusPacketDuration(u8(0xfb)), undefined, 'code 3 without its count byte');
  t.equal(opusPacketDuration(u8(0xfb, 0x00)), undefined, 'code 3 with 0 frames');
  t.equal(opusPacketDuration(u8(0x1b, 0x03)), undefined, 'code 3 over 120 ms');
  t.equal(opusPacketDuration(u8(0x81, 7)), undefined, 'code 1 with an odd payload');
  t.equal(opusPacketDuration(u8(0x0a)), undefined, 'code 2 without a length');

  const f = file(
    [track(1, 2, 'A_OPUS'), track(2, 2, 'A_OPUS', [E(Id.DefaultDuration, 10_000_000)]), track(3, 2, 'A_VORBIS')],
    [
      cluster(
        0,
        sb(blk(1, 0, 0x80, [u8(0xfc, 1)])),
        sb(blk(1, 20, 0x80, [u8(0xfc, 1), u8(0x18, 2, 2), u8(0xfb, 0x02, 3), u8(0xfb)], 'xiph')),
        M(Id.BlockGroup, E(Id.Block, blk(1, 200, 0, [u8(0x88, 1)])), E(Id.DiscardPadding, 1_000_000)),
        M(
          Id.BlockGroup,
          E(Id.Block, blk(1, 300, 0, [u8(0xfc, 1)])),
          E(Id.BlockDuration, 6),
          E(Id.DiscardPadding, 14_000_000),
        ),
        M(Id.BlockGroup, E(Id.Block, blk(1, 400, 0, [u8(0xfc, 1), u8(0xfc, 2)], 'fixed')), E(Id.BlockDuration, 30)),
        sb(blk(2, 500, 0x80, [u8(0xfc, 1)])),
        sb(blk(3, 600, 0x80, [u8(0xfc, 1)])),
      ),
    ],
  );
  const r = demuxSync(f);
  t.same(r.errors, []);
  t.same(
    r.frames.map((x) => x.duration),
    [
      20 * ms,
      20 * ms,
      60 * ms,
      40 * ms,
      undefined, // laced: each lace's own TOC; a malformed lace gets none
      5 * ms, // BlockGroup without BlockDuration
      6 * ms, // BlockDuration wins over the TOC
      15 * ms,
      15 * ms, // BlockDuration split across laces
      10 * ms, // DefaultDuration wins
      undefined, // not Opus
    ],
  );
  t.same(
    r.frames.slice(1, 5).map((x) => x.timestamp),
    [20 * ms, 40 * ms, 100 * ms, 140 * ms],
    'laced Opus: block timestamp + the TOC durations of the laces before (a malformed lace adds nothing)',
  );
});

t.test('lacing timing', async (t) => {
  const fr = [u8(1, 1), u8(2, 2, 2), u8(3)];
  const eq = [u8(1, 1), u8(2, 2), u8(3, 3), u8(4, 4)];
  const f = file(
    [track(1, 2, 'A_MPEG/L3', [E(Id.DefaultDuration, 26_122_448)]), track(2, 2, 'A_VORBIS')],
    [
      cluster(
        100,
        sb(blk(1, 0, 0x80, fr, 'xiph')),
        sb(blk(1, 100, 0x80, fr, 'ebml')),
        sb(blk(2, 200, 0x80, eq, 'fixed')),
        M(Id.BlockGroup, E(Id.Block, blk(2, 300, 0, fr, 'ebml')), E(Id.BlockDuration, 10)),
        sb(blk(2, 400, 0x80, [u8(1), u8(1)], 'fixed')),
      ),
    ],
  );
  const r = demuxSync(f);
  t.same(r.errors, []);
  t.equal(r.frames.length, 3 + 3 + 4 + 3 + 2);
  const ts = r.frames.map((x) => x.timestamp);
  const ms = 1_000_000;
  t.same(ts.slice(0, 3), [100 * ms, 100 * ms + 26_122_448, 100 * ms + 2 * 26_122_448], 'DefaultDuration steps');
  t.same(
    r.frames.slice(0, 3).map((x) => x.duration),
    [26_122_448, 26_122_448, 26_122_448],
  );
  t.same(
    r.frames.slice(0, 3).map((x) => x.data.length),
    [2, 3, 1],
  );
  t.same(ts.slice(3, 6), [200 * ms, 200 * ms + 26_122_448, 200 * ms + 2 * 26_122_448]);
  t.same(ts.slice(6, 10), [300 * ms, 300 * ms, 300 * ms, 300 * ms], 'no duration known: same timestamp');
  t.same(
    r.frames.slice(6, 10).map((x) => x.duration),
    [undefined, undefined, undefined, undefined],
  );
  t.same(ts.slice(10, 13), [400 * ms, 400 * ms + 3_333_333, 400 * ms + 6_666_666], 'BlockDuration split evenly');
  t.same(
    r.frames.slice(10, 13).map((x) => x.duration),
    [3_333_333, 3_333_333, 3_333_334],
  );
  t.ok(
    r.frames.every((x) => x.keyframe),
    'laces carry the block keyframe flag',
  );
  // Corrupt lacing: dropped with INVALID_BLOCK, parsing continues.
  const bad = blk(1, 0, 0x80, fr, 'xiph');
  bad[5] = 200; // first lace size beyond the block
  const g = file([track(1, 2, 'A_X')], [cluster(0, sb(bad), sb(blk(1, 1, 0x80, [u8(7)])))]);
  const r2 = demuxSync(g);
  t.same(
    r2.errors.map((e) => e.code),
    ['INVALID_BLOCK'],
  );
  t.equal(r2.frames.length, 1);
  t.equal(r2.frames[0].timestamp, 1_000_000);
});

t.test('content encodings', async (t) => {
  const enc = (order: number, scope: number, algo: number, settings?: Uint8Array): N =>
    M(
      Id.ContentEncoding,
      E(Id.ContentEncodingOrder, order),
      E(Id.ContentEncodingScope, scope),
      E(Id.ContentEncodingType, 0),
      M(Id.ContentCompression, E(Id.ContentCompAlgo, algo), ...(settings ? [E(Id.ContentCompSettings, settings)] : [])),
    );
  const big = new Uint8Array(5000).map((_, i) => i % 7);
  const f = file(
    [
      track(1, 2, 'A_MPEG/L3', [M(Id.ContentEncodings, enc(0, 1, 3, u8(0xff, 0xfb)))]),
      track(2, 17, 'S_TEXT/UTF8', [E(Id.CodecPrivate, zlibSync(u8(5, 6, 7))), M(Id.ContentEncodings, enc(0, 3, 0))]),
      track(3, 1, 'V_X', [
        M(
          Id.ContentEncodings,
          M(Id.ContentEncoding, E(Id.ContentEncodingType, 1), M(Id.ContentEncryption, E(Id.ContentEncAlgo, 5))),
        ),
      ]),
      track(4, 1, 'V_Y', [M(Id.ContentEncodings, enc(0, 1, 1))]),
    ],
    [
      cluster(
        0,
        sb(blk(1, 0, 0x80, [u8(1, 2), u8(3)], 'xiph')),
        sb(blk(2, 1, 0x80, [zlibSync(big)])),
        sb(blk(2, 2, 0x80, [u8(1, 2, 3, 4)])), // not zlib: DECOMPRESSION, dropped
        sb(blk(3, 3, 0x80, [u8(0xee)])),
        sb(blk(3, 4, 0x80, [u8(0xef)])),
        sb(blk(4, 5, 0x80, [u8(0x42)])),
      ),
    ],
  );
  const r = demuxSync(f);
  t.same(
    r.errors.map((e) => e.code),
    ['UNSUPPORTED', 'UNSUPPORTED', 'DECOMPRESSION'],
    'encryption and bzlib reported once each',
  );
  t.match(r.errors[0].message, /encrypt/);
  t.match(r.errors[1].message, /bzlib/);
  const h = r.header!;
  t.same(h.tracks[1].codecPrivate, u8(5, 6, 7), 'CodecPrivate inflated (scope 2)');
  t.equal(h.tracks[2].encrypted, true);
  const byTrack = (n: number) => r.frames.filter((x) => x.track === n);
  t.same(
    byTrack(1).map((x) => Array.from(x.data)),
    [
      [0xff, 0xfb, 1, 2],
      [0xff, 0xfb, 3],
    ],
    'header stripping per lace',
  );
  t.same(byTrack(2).length, 1);
  t.same(byTrack(2)[0].data, big, 'zlib inflated');
  t.same(
    byTrack(3).map((x) => x.data[0]),
    [0xee, 0xef],
    'encrypted frames passed through',
  );
  t.same(
    byTrack(4).map((x) => x.data[0]),
    [0x42],
    'bzlib frames passed through compressed',
  );
  // Output cap.
  const capped = demuxSync(f, { maxDecompressedSize: 1000 });
  t.equal(capped.errors.filter((e) => e.code === 'DECOMPRESSION').length, 2);
  t.equal(capped.frames.filter((x) => x.track === 2).length, 0);
});

t.test('metadata: cues, chapters, tags, attachments', async (t) => {
  const f = file(
    [track(1, 1, 'V_X')],
    [
      cluster(0, sb(blk(1, 0, 0x80, [u8(1)]))),
      M(
        Id.Cues,
        M(
          Id.CuePoint,
          E(Id.CueTime, 0),
          M(Id.CueTrackPositions, E(Id.CueTrack, 1), E(Id.CueClusterPosition, 1234), E(Id.CueRelativePosition, 5)),
        ),
        M(
          Id.CuePoint,
          E(Id.CueTime, 2000),
          M(Id.CueTrackPositions, E(Id.CueTrack, 1), E(Id.CueClusterPosition, 99999), E(Id.CueDuration, 40)),
        ),
      ),
      M(
        Id.Chapters,
        M(
          Id.EditionEntry,
          E(Id.EditionUID, 1001),
          E(Id.EditionFlagDefault, 1),
          M(
            Id.ChapterAtom,
            E(Id.ChapterUID, 2001),
            E(Id.ChapterTimeStart, 0),
            E(Id.ChapterTimeEnd, 1_000_000_000),
            M(Id.ChapterDisplay, E(Id.ChapString, 'Intro'), E(Id.ChapLanguage, 'eng'), E(Id.ChapLanguage, 'fra')),
            M(
              Id.ChapterAtom,
              E(Id.ChapterUID, 3001),
              E(Id.ChapterTimeStart, 500_000_000),
              E(Id.ChapterFlagHidden, 1),
              M(Id.ChapterDisplay, E(Id.ChapString, 'Nested')),
            ),
          ),
        ),
      ),
      M(
        Id.Tags,
        M(
          Id.Tag,
          M(Id.Targets, E(Id.TargetTypeValue, 50), E(Id.TagTrackUID, 77n)),
          M(
            Id.SimpleTag,
            E(Id.TagName, 'TITLE'),
            E(Id.TagString, 'x'),
            M(Id.SimpleTag, E(Id.TagName, 'SUB'), E(Id.TagBinary, u8(1))),
          ),
        ),
      ),
      M(
        Id.Attachments,
        M(
          Id.AttachedFile,
          E(Id.FileName, 'notes.txt'),
          E(Id.FileMediaType, 'text/plain'),
          E(Id.FileDescription, 'd'),
          E(Id.FileUID, 0xffffffffffffffffn),
          E(Id.FileData, u8(104, 105)),
        ),
      ),
    ],
  );
  const r = demuxSync(f);
  t.same(r.errors, []);
  t.same(r.cues, [
    { time: 0, positions: [{ track: 1, clusterPosition: 1234, relativePosition: 5 }] },
    { time: 2_000_000_000, positions: [{ track: 1, clusterPosition: 99999, duration: 40_000_000 }] },
  ]);
  t.equal(r.chapters.length, 1);
  const ed = r.chapters[0];
  t.equal(ed.uid, 1001n);
  t.equal(ed.default, true);
  t.equal(ed.chapters[0].uid, 2001n);
  t.equal(ed.chapters[0].end, 1_000_000_000);
  t.same(ed.chapters[0].displays, [{ string: 'Intro', languages: ['eng', 'fra'] }]);
  t.equal(ed.chapters[0].children[0].uid, 3001n);
  t.equal(ed.chapters[0].children[0].hidden, true);
  t.same(ed.chapters[0].children[0].displays, [{ string: 'Nested', languages: ['eng'] }]);
  t.equal(r.tags[0].targets.typeValue, 50);
  t.same(r.tags[0].targets.trackUIDs, [77n]);
  t.equal(r.tags[0].simpleTags[0].name, 'TITLE');
  t.equal(r.tags[0].simpleTags[0].string, 'x');
  t.same(r.tags[0].simpleTags[0].children[0].binary, u8(1));
  t.same(r.attachments, [
    { uid: 0xffffffffffffffffn, name: 'notes.txt', mediaType: 'text/plain', description: 'd', data: u8(104, 105) },
  ]);
});

t.test('Cluster before Tracks', async (t) => {
  const f = encodeTree([
    ebml(),
    M(
      Id.Segment,
      M(Id.Info, E(Id.TimestampScale, 1_000_000)),
      cluster(0, sb(blk(1, 0, 0x80, [u8(1)]))),
      M(Id.Tracks, track(1, 1, 'V_X')),
      cluster(10, sb(blk(1, 0, 0x80, [u8(2)]))),
    ),
  ]);
  const events: string[] = [];
  const d = new MatroskaDemuxer({
    onHeader: () => events.push('header'),
    onFrame: (x) => events.push(`frame ${x.data[0]}`),
    onError: (e) => events.push(`error ${e.code}`),
  });
  d.push(f);
  d.end();
  t.same(events, ['error INVALID_BLOCK', 'error INVALID_BLOCK', 'header', 'frame 2']);
});

t.test('onClusterStart and header before frames', async (t) => {
  const f = file(
    [track(1, 1, 'V_X')],
    [cluster(5, sb(blk(1, 0, 0x80, [u8(1)]))), cluster(9, sb(blk(1, 0, 0x80, [u8(2)])))],
  );
  const events: string[] = [];
  const d = new MatroskaDemuxer({
    onHeader: () => events.push('header'),
    onClusterStart: (ts) => events.push(`cluster ${ts}`),
    onFrame: (x) => events.push(`frame ${x.timestamp}`),
  });
  for (let i = 0; i < f.length; i += 3) d.push(f.subarray(i, i + 3));
  d.end();
  t.same(events, ['header', 'cluster 5000000', 'frame 5000000', 'cluster 9000000', 'frame 9000000']);
});

t.test('blocks streamed in parts (streamBinariesLargerThan) give the same frames', async (t) => {
  const big = new Uint8Array(3000).map((_, i) => i & 0xff);
  const f = file(
    [track(1, 1, 'V_X', [E(Id.CodecPrivate, big)])],
    [
      cluster(
        0,
        sb(blk(1, 0, 0x80, [big])),
        M(Id.BlockGroup, E(Id.Block, blk(1, 1, 0, [big, big.subarray(5)], 'ebml')), E(Id.ReferenceBlock, -1)),
      ),
      M(
        Id.Attachments,
        M(Id.AttachedFile, E(Id.FileName, 'a'), E(Id.FileMediaType, 'b'), E(Id.FileUID, 1), E(Id.FileData, big)),
      ),
    ],
  );
  const ref = demuxSync(f);
  for (const chunk of [1, 7, 100, 5000]) {
    const chunks: Uint8Array[] = [];
    for (let p = 0; p < f.length; p += chunk) chunks.push(f.subarray(p, p + chunk));
    const r = demuxSync(chunks, { reader: { streamBinariesLargerThan: 500 } });
    t.same(r.errors, []);
    t.same(
      r.frames.map((x) => [x.timestamp, x.keyframe, Array.from(x.data)]),
      ref.frames.map((x) => [x.timestamp, x.keyframe, Array.from(x.data)]),
      `chunk ${chunk}`,
    );
    t.same(r.header!.tracks[0].codecPrivate, big);
    t.same(r.attachments[0].data, big);
  }
  // Cut inside a streamed block: dropped, never half-delivered.
  const cut = demuxSync(f.subarray(0, f.length - 4000), { reader: { streamBinariesLargerThan: 500 } });
  t.equal(cut.frames.length, 1);
  t.equal(cut.frames[0].data.length, 3000);
  t.ok(cut.errors.some((e) => e.code === 'TRUNCATED'));
});

t.test('a streamed block larger than maxElementSize is dropped with ELEMENT_TOO_LARGE, never allocated', async (t) => {
  const cat = (...parts: ArrayLike<number>[]): Uint8Array => Uint8Array.from(parts.flatMap((p) => Array.from(p)));
  const head = encodeTree([ebml()]);
  const meta = encodeTree([M(Id.Info, E(Id.TimestampScale, 1_000_000)), M(Id.Tracks, track(1, 1, 'V_X'))]);
  const unknownSegment = [0x18, 0x53, 0x80, 0x67, 0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
  const unknownCluster = [0x1f, 0x43, 0xb6, 0x75, 0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xe7, 0x81, 0x00];
  // SimpleBlock whose 8-byte size says 2^40 bytes (nothing bounds it: unknown-size Cluster and Segment).
  const hugeBlock = [0xa3, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x81, 0x00, 0x00, 0x80, 1, 2, 3];
  const f = cat(head, unknownSegment, meta, unknownCluster, hugeBlock);
  const r = demuxSync(f, { reader: { streamBinariesLargerThan: 500 } });
  t.equal(r.frames.length, 0);
  const big = r.errors.find((e) => e.code === 'ELEMENT_TOO_LARGE');
  t.ok(big, 'ELEMENT_TOO_LARGE reported');
  t.equal(big?.fatal, false);
  t.same(big?.path, ['Segment', 'Cluster', 'SimpleBlock']);
  // The limit is the reader's maxElementSize when given.
  const small = demuxSync(
    cat(head, unknownSegment, meta, unknownCluster, [0xa3, 0x50, 0x00, 0x81, 0x00, 0x00, 0x80], new Uint8Array(4092)),
    { reader: { streamBinariesLargerThan: 500, maxElementSize: 1000 } },
  );
  t.equal(small.frames.length, 0);
  t.ok(small.errors.some((e) => e.code === 'ELEMENT_TOO_LARGE'));
});
