// MatroskaMuxer: cluster cutting (keyframes, ~1 s audio-only, int16 overflow both ways), file-mode
// patches (Segment/Cluster sizes, Duration, SeekHead, Cues pointing at the right bytes), live mode
// (unknown sizes), and interop: frames taken from a real fixture re-muxed, then checked by mkvinfo and
// ffprobe -show_packets against the fixture's truth file. Parsing here uses a small walker of its own.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ELEMENT_BY_ID } from '../src/schema.generated.js';
import { MatroskaMuxer, applyPatches, muxToBytes } from '../src/matroska/muxer.js';
import { writeMatroskaFile } from '../src/node/file-sink.js';
import type { Frame, MatroskaHeader, TrackInfo } from '../src/matroska/types.js';
import { cat as concat, fixturesDir, load, toolWorks } from '../testlib/build.js';

const tmp = mkdtempSync(join(tmpdir(), 'mkvserve-muxer-'));
t.teardown(() => rmSync(tmp, { recursive: true, force: true }));

// ---- a small EBML walker ------------------------------------------------------------------------

interface N {
  id: number;
  offset: number;
  headerSize: number;
  size: number;
  dataStart: number;
  end: number;
  children?: N[];
}
function vlen(b: number): number {
  return Math.clz32(b) - 23;
}
function walk(buf: Uint8Array, start: number, end: number, parentId = 0): N[] {
  const out: N[] = [];
  let p = start;
  while (p < end) {
    const il = vlen(buf[p]);
    let id = 0;
    for (let i = 0; i < il; i++) id = id * 256 + buf[p + i];
    const info = ELEMENT_BY_ID.get(id);
    // an element that cannot be a child here ends an unknown-size parent
    if (parentId !== 0 && info && !info.global && info.parent !== parentId && !(info.recursive && id === parentId))
      return out;
    const sl = vlen(buf[p + il]);
    let size = buf[p + il] & (0xff >> sl);
    let ones = size === 0xff >> sl;
    for (let i = 1; i < sl; i++) {
      size = size * 256 + buf[p + il + i];
      if (buf[p + il + i] !== 0xff) ones = false;
    }
    const dataStart = p + il + sl;
    const n: N = {
      id,
      offset: p,
      headerSize: il + sl,
      size: ones ? -1 : size,
      dataStart,
      end: ones ? end : dataStart + size,
    };
    if (info?.type === 'master') {
      n.children = walk(buf, dataStart, n.end, id);
      if (ones) n.end = n.children.length ? n.children[n.children.length - 1].end : dataStart;
    }
    out.push(n);
    p = n.end;
  }
  return out;
}
const kids = (n: N | undefined, id: number): N[] => (n?.children ?? []).filter((c) => c.id === id);
const kid = (n: N | undefined, id: number): N | undefined => kids(n, id)[0];
function uint(buf: Uint8Array, n: N | undefined): number {
  let v = 0;
  if (n) for (let i = n.dataStart; i < n.end; i++) v = v * 256 + buf[i];
  return v;
}
function float(buf: Uint8Array, n: N): number {
  const dv = new DataView(buf.buffer, buf.byteOffset + n.dataStart, n.size);
  return n.size === 4 ? dv.getFloat32(0) : dv.getFloat64(0);
}
function str(buf: Uint8Array, n: N | undefined): string {
  return n ? new TextDecoder().decode(buf.subarray(n.dataStart, n.end)).replace(/\0+$/, '') : '';
}
function int(buf: Uint8Array, n: N): number {
  let v = 0n;
  for (let i = n.dataStart; i < n.end; i++) v = v * 256n + BigInt(buf[i]);
  return Number(BigInt.asIntN(n.size * 8, v));
}

/** Reads header + frames (unlaced SimpleBlocks and BlockGroups) from a Matroska file. */
function readFile(buf: Uint8Array): { header: MatroskaHeader; frames: Frame[]; seg: N; top: N[] } {
  const top = walk(buf, 0, buf.length);
  const seg = top.find((n) => n.id === 0x18538067)!;
  const info = kid(seg, 0x1549a966);
  const scale = uint(buf, kid(info, 0x2ad7b1)) || 1e6;
  const tracks: TrackInfo[] = kids(kid(seg, 0x1654ae6b), 0xae).map((te) => {
    const type = uint(buf, kid(te, 0x83));
    const v = kid(te, 0xe0);
    const a = kid(te, 0xe1);
    const cp = kid(te, 0x63a2);
    const tr: TrackInfo = {
      number: uint(buf, kid(te, 0xd7)),
      uid: BigInt(uint(buf, kid(te, 0x73c5))),
      type,
      kind: type === 1 ? 'video' : type === 2 ? 'audio' : 'subtitle',
      codecId: str(buf, kid(te, 0x86)),
    };
    if (cp) tr.codecPrivate = buf.slice(cp.dataStart, cp.end);
    if (kid(te, 0x23e383)) tr.defaultDuration = uint(buf, kid(te, 0x23e383));
    if (kid(te, 0x56aa)) tr.codecDelay = uint(buf, kid(te, 0x56aa));
    if (kid(te, 0x56bb)) tr.seekPreRoll = uint(buf, kid(te, 0x56bb));
    if (v) tr.video = { pixelWidth: uint(buf, kid(v, 0xb0)), pixelHeight: uint(buf, kid(v, 0xba)) };
    if (a) tr.audio = { samplingFrequency: float(buf, kid(a, 0xb5)!), channels: uint(buf, kid(a, 0x9f)) || 1 };
    return tr;
  });
  const frames: Frame[] = [];
  for (const cl of kids(seg, 0x1f43b675)) {
    const cts = uint(buf, kid(cl, 0xe7));
    for (const b of cl.children ?? []) {
      let blk: N | undefined;
      let group: N | undefined;
      if (b.id === 0xa3) blk = b;
      else if (b.id === 0xa0) {
        group = b;
        blk = kid(b, 0xa1);
      }
      if (!blk) continue;
      const tl = vlen(buf[blk.dataStart]);
      const track = buf[blk.dataStart] & (0xff >> tl);
      const rel = ((buf[blk.dataStart + tl] << 24) >> 16) | buf[blk.dataStart + tl + 1];
      const flags = buf[blk.dataStart + tl + 2];
      const f: Frame = {
        track,
        timestamp: (cts + rel) * scale,
        keyframe: group ? kids(group, 0xfb).length === 0 : !!(flags & 0x80),
        data: buf.slice(blk.dataStart + tl + 3, blk.end),
        offset: b.offset,
      };
      if (group) {
        f.blockGroup = true;
        const refs = kids(group, 0xfb).map((r) => int(buf, r));
        if (refs.length) f.references = refs;
        const bd = kid(group, 0x9b);
        if (bd) f.blockDuration = uint(buf, bd);
        const dp = kid(group, 0x75a2);
        if (dp) f.discardPadding = int(buf, dp);
      } else if (flags & 0x01) f.discardable = true;
      frames.push(f);
    }
  }
  const ebml = top[0];
  const header: MatroskaHeader = {
    ebml: {
      docType: str(buf, kid(ebml, 0x4282)),
      docTypeVersion: 4,
      docTypeReadVersion: 2,
      ebmlVersion: 1,
      ebmlReadVersion: 1,
      ebmlMaxIdLength: 4,
      ebmlMaxSizeLength: 8,
    },
    info: { timestampScale: scale },
    tracks,
    segmentDataOffset: seg.dataStart,
    segmentSize: seg.size,
  };
  return { header, frames, seg, top };
}

function hasTool(name: string): boolean {
  const r = spawnSync(name, ['--version'], { encoding: 'utf8' });
  if (r.error) return false;
  if (name === 'ffprobe') return r.status === 0 || /ffprobe/.test(r.stdout + r.stderr);
  return true;
}
const haveMkvinfo = hasTool('mkvinfo');
const haveFfprobe = toolWorks('ffprobe');

// ---- synthetic streams --------------------------------------------------------------------------

const vTrack: TrackInfo = {
  number: 1,
  uid: 11n,
  kind: 'video',
  type: 1,
  codecId: 'V_VP8',
  video: { pixelWidth: 64, pixelHeight: 48 },
};
const aTrack: TrackInfo = {
  number: 2,
  uid: 22n,
  kind: 'audio',
  type: 2,
  codecId: 'A_OPUS',
  codecPrivate: new Uint8Array(19),
  audio: { samplingFrequency: 48000, channels: 1 },
};
const sTrack: TrackInfo = { number: 3, uid: 33n, kind: 'subtitle', type: 17, codecId: 'S_TEXT/UTF8' };
const mkHeader = (tracks: TrackInfo[], docType = 'matroska', scale = 1e6): MatroskaHeader => ({
  ebml: {
    docType,
    docTypeVersion: 4,
    docTypeReadVersion: 2,
    ebmlVersion: 1,
    ebmlReadVersion: 1,
    ebmlMaxIdLength: 4,
    ebmlMaxSizeLength: 8,
  },
  info: { timestampScale: scale },
  tracks,
  segmentDataOffset: 0,
  segmentSize: -1,
});
const payload = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);

t.test('file mode: structure, sizes, SeekHead, Cues, Duration', async (t) => {
  const frames: Frame[] = [];
  for (let i = 0; i < 100; i++) {
    frames.push({ track: 1, timestamp: i * 40e6, keyframe: i % 25 === 0, data: payload(50 + i, i) });
    frames.push({ track: 2, timestamp: i * 40e6 + 5e6, keyframe: true, data: payload(20, i), duration: 20e6 });
    if (i % 30 === 7)
      frames.push({
        track: 3,
        timestamp: i * 40e6,
        keyframe: true,
        data: new TextEncoder().encode(`line ${i}`),
        duration: 1500e6,
      });
  }
  const header = mkHeader([vTrack, aTrack, sTrack]);
  const bytes = muxToBytes(header, frames);
  const back = readFile(bytes);
  t.equal(back.seg.size, bytes.length - back.seg.dataStart, 'Segment size patched');
  t.equal(back.seg.end, bytes.length);
  const clusters = kids(back.seg, 0x1f43b675);
  t.equal(clusters.length, 4, 'a Cluster per video keyframe');
  t.ok(
    clusters.every((c) => c.size >= 0),
    'Cluster sizes known',
  );
  // every cluster starts with the video keyframe
  for (const c of clusters) t.equal(c.children![1].id, 0xa3);
  t.same(
    back.frames.map((f) => [f.track, f.timestamp, f.keyframe, f.data.length]),
    frames.map((f) => [f.track, f.timestamp, f.keyframe, f.data.length]),
  );
  // subtitles went into BlockGroups with a BlockDuration in ticks
  const subs = back.frames.filter((f) => f.track === 3);
  t.ok(subs.length > 0 && subs.every((f) => f.blockGroup && f.blockDuration === 1500));
  // Duration: max(timestamp + duration) in ticks
  const info = kid(back.seg, 0x1549a966)!;
  t.equal(float(bytes, kid(info, 0x4489)!), 97 * 40 + 1500, 'Duration: the last end (a subtitle)');
  t.equal(str(bytes, kid(info, 0x4d80)), 'mkvserve');
  // SeekHead: entries point at Info, Tracks, Cues
  const sh = kid(back.seg, 0x114d9b74)!;
  t.equal(back.seg.children![0].id, 0x114d9b74, 'SeekHead first');
  const seeks = kids(sh, 0x4dbb).map((s) => [uint(bytes, kid(s, 0x53ab)), uint(bytes, kid(s, 0x53ac))]);
  t.equal(seeks.length, 3);
  for (const [id, pos] of seeks) {
    const el = back.seg.children!.find((c) => c.offset === back.seg.dataStart + pos);
    t.equal(el?.id, id, `SeekHead entry 0x${id.toString(16)} -> right element`);
  }
  // Cues: one per cluster, at the keyframe block
  const cues = kids(kid(back.seg, 0x1c53bb6b), 0xbb);
  t.equal(cues.length, 4);
  for (const [i, cp] of cues.entries()) {
    const tp = kid(cp, 0xb7)!;
    t.equal(uint(bytes, kid(cp, 0xb3)), i * 1000);
    t.equal(uint(bytes, kid(tp, 0xf7)), 1);
    const cl = clusters[i];
    t.equal(back.seg.dataStart + uint(bytes, kid(tp, 0xf1)), cl.offset, 'CueClusterPosition');
    const blk = cl.children!.find((c) => c.offset === cl.dataStart + uint(bytes, kid(tp, 0xf0)));
    t.equal(blk?.id, 0xa3, 'CueRelativePosition -> the keyframe block');
    t.equal(bytes[blk!.dataStart + 3] & 0x80, 0x80);
  }
});

t.test('live mode: unknown sizes, no Cues/Duration/SeekHead, chunks as frames arrive', async (t) => {
  const chunks: Uint8Array[] = [];
  const mux = new MatroskaMuxer(mkHeader([vTrack, aTrack], 'webm'), { live: true, write: (c) => chunks.push(c) });
  const init = mux.start();
  t.equal(init.length, 1);
  t.equal(chunks.length, 1);
  const r1 = mux.addFrame({ track: 1, timestamp: 0, keyframe: true, data: payload(10, 1) });
  t.equal(r1.length, 2, 'cluster start + block');
  const r2 = mux.addFrame({ track: 2, timestamp: 1e6, keyframe: true, data: payload(10, 2) });
  t.equal(r2.length, 1);
  mux.addFrame({ track: 1, timestamp: 40e6, keyframe: true, data: payload(10, 3) });
  const fin = mux.finish();
  t.same(fin.patches, []);
  t.same(fin.chunks, []);
  const bytes = concat(chunks);
  const back = readFile(bytes);
  t.equal(back.seg.size, -1);
  t.same(
    kids(back.seg, 0x1f43b675).map((c) => c.size),
    [-1, -1],
  );
  t.equal(kid(back.seg, 0x1c53bb6b), undefined);
  t.equal(kid(back.seg, 0x114d9b74), undefined);
  t.equal(kid(kid(back.seg, 0x1549a966), 0x4489), undefined);
  t.equal(back.frames.length, 3);
  t.equal(str(bytes, kid(back.top[0], 0x4282)), 'webm');
});

t.test('cluster cutting: audio-only ~1 s, int16 overflow forward and backward, negative offsets', async (t) => {
  const frames: Frame[] = [];
  for (let i = 0; i < 150; i++) frames.push({ track: 2, timestamp: i * 20e6, keyframe: true, data: payload(8, i) });
  let back = readFile(muxToBytes(mkHeader([aTrack]), frames));
  const cl = kids(back.seg, 0x1f43b675);
  t.equal(cl.length, 3, 'audio-only: a Cluster per second');
  t.same(
    cl.map((c) => uint(muxToBytes(mkHeader([aTrack]), frames), kid(c, 0xe7))),
    [0, 1000, 2000],
  );
  t.equal(kids(kid(back.seg, 0x1c53bb6b), 0xbb).length, 3, 'audio-only: a CuePoint per Cluster');

  // video without keyframes for 70 s: split by the int16 limit (scale 1 ms)
  const vf: Frame[] = [{ track: 1, timestamp: 0, keyframe: true, data: payload(4, 0) }];
  for (let i = 1; i <= 70; i++) vf.push({ track: 1, timestamp: i * 1e9, keyframe: false, data: payload(4, i) });
  // B-frame style: a frame 20 ms below the cluster timestamp, and one far below (new cluster)
  vf.push({ track: 1, timestamp: 65_980e6, keyframe: false, data: payload(4, 99) });
  vf.push({ track: 1, timestamp: 1e9, keyframe: false, data: payload(4, 98) });
  const bytes = muxToBytes(mkHeader([vTrack]), vf);
  back = readFile(bytes);
  t.same(
    back.frames.map((f) => f.timestamp),
    vf.map((f) => f.timestamp),
    'timestamps survive',
  );
  const cts = kids(back.seg, 0x1f43b675).map((c) => uint(bytes, kid(c, 0xe7)));
  t.same(cts, [0, 33000, 66000, 1000]);
  // relative offsets of the Cluster at 66000 include -20
  const c3 = kids(back.seg, 0x1f43b675)[2];
  const rels = kids(c3, 0xa3).map((b) => ((bytes[b.dataStart + 1] << 24) >> 16) | bytes[b.dataStart + 2]);
  t.ok(rels.includes(-20), 'negative relative timestamp kept in the Cluster');

  // timestamps below 0: Cluster at 0, negative block offset
  back = readFile(
    muxToBytes(mkHeader([aTrack]), [
      { track: 2, timestamp: -6.5e6, keyframe: true, data: payload(3, 1) },
      { track: 2, timestamp: 13.5e6, keyframe: true, data: payload(3, 2) },
    ]),
  );
  t.same(
    back.frames.map((f) => f.timestamp),
    [-6e6, 14e6],
    'rounded to ticks (half up), negative kept',
  );
  t.throws(
    () => muxToBytes(mkHeader([aTrack]), [{ track: 2, timestamp: -40e9, keyframe: true, data: payload(3, 1) }]),
    { code: 'ENCODE' },
  );
  t.throws(() => muxToBytes(mkHeader([aTrack]), [{ track: 9, timestamp: 0, keyframe: true, data: payload(3, 1) }]), {
    code: 'ENCODE',
  });
});

t.test('BlockGroups: references filled from the previous frame; metadata pass-through', async (t) => {
  const header = mkHeader([vTrack]);
  const bytes = muxToBytes(
    header,
    [
      { track: 1, timestamp: 0, keyframe: true, data: payload(5, 1), blockGroup: true },
      { track: 1, timestamp: 40e6, keyframe: false, data: payload(5, 2), blockGroup: true },
      { track: 1, timestamp: 80e6, keyframe: false, data: payload(5, 3), references: [-80] },
    ],
    {
      chapters: [
        {
          uid: 5n,
          chapters: [
            { uid: 6n, start: 0, end: 1e9, displays: [{ string: 'Intro', languages: ['eng'] }], children: [] },
          ],
        },
      ],
      tags: [
        {
          targets: { typeValue: 50, trackUIDs: [], editionUIDs: [], chapterUIDs: [], attachmentUIDs: [] },
          simpleTags: [{ name: 'TITLE', string: 'x', children: [] }],
        },
      ],
      attachments: [{ uid: 7n, name: 'a.txt', mediaType: 'text/plain', data: payload(30, 0) }],
    },
  );
  const back = readFile(bytes);
  t.same(
    back.frames.map((f) => f.references),
    [undefined, [-40], [-80]],
  );
  t.same(
    back.frames.map((f) => f.keyframe),
    [true, false, false],
  );
  const seekIds = kids(kid(back.seg, 0x114d9b74), 0x4dbb).map((s) => uint(bytes, kid(s, 0x53ab)));
  t.same(seekIds.sort(), [0x1043a770, 0x1254c367, 0x1549a966, 0x1654ae6b, 0x1941a469, 0x1c53bb6b].sort());
  t.ok(
    kid(back.seg, 0x1043a770) && kid(back.seg, 0x1254c367) && kid(back.seg, 0x1941a469),
    'Chapters, Tags, Attachments written',
  );
  if (haveMkvinfo) {
    const p = join(tmp, 'meta.mkv');
    writeFileSync(p, bytes);
    const r = spawnSync('mkvinfo', [p], { encoding: 'utf8' });
    t.equal(r.status, 0);
    t.notMatch(r.stdout + r.stderr, /error|warning/i, 'mkvinfo clean');
    t.match(r.stdout, /Intro/);
    t.match(r.stdout, /a\.txt/);
  }
});

t.test('zeroCopy parts and write callback produce the same bytes; patches only touch placeholders', async (t) => {
  const frames: Frame[] = [];
  for (let i = 0; i < 60; i++)
    frames.push({ track: 1, timestamp: i * 40e6, keyframe: i % 20 === 0, data: payload(30, i) });
  const a = muxToBytes(mkHeader([vTrack]), frames);
  const chunks: Uint8Array[] = [];
  const mux = new MatroskaMuxer(mkHeader([vTrack]), { live: false, zeroCopy: true });
  chunks.push(...mux.start());
  for (const f of frames) chunks.push(...mux.addFrame(f));
  const fin = mux.finish();
  chunks.push(...fin.chunks);
  t.ok(
    chunks.some((c) => frames.some((f) => f.data === c)),
    'payload passed by reference',
  );
  const b = applyPatches(concat(chunks), fin.patches);
  t.same(Buffer.from(b), Buffer.from(a));
  // The unpatched stream is itself readable (unknown sizes, Void placeholders).
  const raw = readFile(concat(chunks));
  t.equal(raw.frames.length, 60);
  t.equal(raw.seg.size, -1);
});

// ---- interop with a real fixture ------------------------------------------------------------------

function ffprobePackets(path: string): { stream_index: number; pts: number; size: number; flags: string }[] {
  const r = spawnSync(
    'ffprobe',
    ['-v', 'error', '-show_packets', '-show_entries', 'packet=stream_index,pts,size,flags', '-of', 'json', path],
    { encoding: 'utf8', maxBuffer: 64 << 20 },
  );
  if (r.status !== 0) throw new Error(`ffprobe failed: ${r.stderr}`);
  return (
    JSON.parse(r.stdout).packets as {
      stream_index: number;
      pts: string | number;
      size: string | number;
      flags: string;
    }[]
  ).map((p) => ({ stream_index: p.stream_index, pts: Number(p.pts), size: Number(p.size), flags: p.flags }));
}

for (const fixture of ['h264-aac-bframes.mkv', 'vp9-opus.webm']) {
  t.test(`interop: ${fixture} re-muxed (file and live) reads the same in mkvinfo and ffprobe`, async (t) => {
    const src = load(fixture);
    const { header, frames } = readFile(src);
    const truth = JSON.parse(readFileSync(join(fixturesDir, `${fixture}.truth.json`), 'utf8')) as {
      packets: { stream_index: number; pts: number; size: number; flags: string }[];
    };
    t.equal(frames.length, truth.packets.length, 'frames extracted from the fixture');
    const out = join(tmp, `remux-${fixture}`);
    const fin = await writeMatroskaFile(out, header, frames);
    t.ok(fin.patches.length > 3);
    const live = join(tmp, `live-${fixture}`);
    const chunks: Uint8Array[] = [];
    const mux = new MatroskaMuxer(header, { live: true, write: (c) => chunks.push(c) });
    for (const f of frames) mux.addFrame(f);
    mux.finish();
    writeFileSync(live, concat(chunks));
    // our own read-back
    const back = readFile(new Uint8Array(readFileSync(out)));
    t.same(
      back.frames.map((f) => [f.track, f.timestamp, f.keyframe, f.data.length, f.discardPadding]),
      frames.map((f) => [f.track, f.timestamp, f.keyframe, f.data.length, f.discardPadding]),
    );

    t.test('mkvinfo', { skip: haveMkvinfo ? false : 'mkvinfo (mkvtoolnix) is not installed' }, async (t) => {
      for (const p of [out, live]) {
        const r = spawnSync('mkvinfo', ['-v', p], { encoding: 'utf8', maxBuffer: 64 << 20 });
        t.equal(r.status, 0, `mkvinfo exit status (${p})`);
        t.notMatch(r.stdout + r.stderr, /error|warning/i, 'no errors or warnings');
      }
    });
    t.test('ffprobe -show_packets', { skip: haveFfprobe ? false : 'ffprobe (ffmpeg) is not installed' }, async (t) => {
      for (const p of [out, live]) {
        const pk = ffprobePackets(p);
        t.equal(pk.length, truth.packets.length, `packet count (${p})`);
        const want = truth.packets.map((x) => [x.stream_index, x.pts, x.size, x.flags[0]]);
        const got = pk.map((x) => [x.stream_index, x.pts, x.size, x.flags[0]]);
        t.same(got, want, 'same stream, pts, size, keyframe flag per packet');
      }
    });
  });
}

t.test('interop tools present or skipped', async (t) => {
  t.pass(`mkvinfo ${haveMkvinfo ? 'found' : 'missing'}, ffprobe ${haveFfprobe ? 'found' : 'missing'}`);
});
