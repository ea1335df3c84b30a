// Remux every fixture through our demuxer and muxer: demuxSync(fixture) -> MatroskaMuxer (file mode) ->
// demuxSync again gives the same frames (track, timestamp, keyframe, bytes, durations, references,
// DiscardPadding) and track info; mkvinfo accepts the output and ffprobe sees the fixture's packets.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { demuxSync } from '../src/matroska/demuxer.js';
import { muxToBytes } from '../src/matroska/muxer.js';
import type { Frame } from '../src/matroska/types.js';
import { fixtureFiles, fixturesDir, load, toolWorks } from '../testlib/build.js';

const files = fixtureFiles();
const tmp = mkdtempSync(join(tmpdir(), 'mkvserve-remux-'));
t.teardown(() => rmSync(tmp, { recursive: true, force: true }));
const haveMkvinfo = !spawnSync('mkvinfo', ['--version']).error;
const haveFfprobe = toolWorks('ffprobe');
// Laced fixtures whose tracks have a DefaultDuration that is not a whole number of ticks (MP3 at 22674 ns,
// AC-3 at 20832 ns): ffprobe truncates each lace's pts to a tick, the muxer rounds, so they may differ by
// one tick there and only sizes are compared. Laced Vorbis without DefaultDuration (codec durations, whole
// ticks) keeps ffprobe's pts exactly and is compared.
const LACED = /ebml-lacing|fixed-lacing/;

// Timestamps are stored in ticks: interpolated timestamps of laced frames come back rounded to a tick.
const key = (scale: number) => (f: Frame) => [
  f.track,
  Math.round(f.timestamp / scale),
  f.keyframe,
  f.data.length,
  Buffer.from(f.data).toString('base64').slice(0, 40),
  f.duration,
  f.discardPadding ?? 0,
  f.blockDuration,
  f.references?.length ? f.references : undefined,
];

for (const file of files) {
  t.test(`remux ${file}`, async (t) => {
    const src = load(file);
    const a = demuxSync(src);
    t.ok(a.header, 'fixture header');
    if (!a.header) return;
    const docType = file.endsWith('.webm') ? 'webm' : 'matroska';
    const out = muxToBytes(a.header, a.frames, {
      docType,
      chapters: a.chapters,
      tags: a.tags,
      attachments: a.attachments,
    });
    const b = demuxSync(out);
    t.same(
      b.errors.map((e) => e.message),
      [],
      'our output demuxes without errors',
    );
    t.equal(b.frames.length, a.frames.length, 'frame count');
    const scale = a.header.info.timestampScale;
    t.same(b.frames.map(key(scale)), a.frames.map(key(scale)), 'same frames');
    t.same(
      b.header!.tracks.map((x) => [
        x.number,
        x.codecId,
        x.codecPrivate && Buffer.from(x.codecPrivate).toString('hex'),
        x.defaultDuration,
        x.codecDelay,
        x.seekPreRoll,
        x.video?.pixelWidth,
        x.audio?.samplingFrequency,
        x.audio?.channels,
      ]),
      a.header.tracks.map((x) => [
        x.number,
        x.codecId,
        x.codecPrivate && Buffer.from(x.codecPrivate).toString('hex'),
        x.defaultDuration,
        x.codecDelay,
        x.seekPreRoll,
        x.video?.pixelWidth,
        x.audio?.samplingFrequency,
        x.audio?.channels,
      ]),
      'same tracks',
    );
    t.equal(b.header!.info.timestampScale, a.header.info.timestampScale);
    t.ok(b.cues.length > 0, `${b.cues.length} CuePoints`);
    t.equal(b.chapters.length, a.chapters.length, 'chapters carried');
    if (docType !== 'webm') t.equal(b.attachments.length, a.attachments.length, 'attachments carried');
    const path = join(tmp, `remux-${file}`);
    writeFileSync(path, out);
    if (haveMkvinfo) {
      const r = spawnSync('mkvinfo', ['-v', path], { encoding: 'utf8', maxBuffer: 64 << 20 });
      t.equal(r.status, 0, 'mkvinfo exit status');
      t.notMatch(r.stdout + r.stderr, /error|warning/i, 'mkvinfo: no errors or warnings');
    } else t.comment('skip mkvinfo: not installed');
    if (haveFfprobe) {
      const truth = JSON.parse(readFileSync(join(fixturesDir, `${file}.truth.json`), 'utf8')) as {
        packets: { stream_index: number; pts: number; size: number; flags: string }[];
      };
      const r = spawnSync(
        'ffprobe',
        ['-v', 'error', '-show_entries', 'packet=stream_index,pts,size,flags', '-of', 'json', path],
        { encoding: 'utf8', maxBuffer: 64 << 20 },
      );
      t.equal(r.status, 0, 'ffprobe exit status');
      t.equal(r.stderr, '', 'ffprobe: no errors');
      const pk = JSON.parse(r.stdout).packets as { stream_index: number; pts: string; size: string; flags: string }[];
      t.equal(pk.length, truth.packets.length, 'ffprobe packet count');
      const sizes = (l: { size: string | number; stream_index: number }[]) =>
        l.map((p) => `${p.stream_index}:${p.size}`).sort();
      t.same(sizes(pk), sizes(truth.packets), 'same packet sizes per stream');
      if (!LACED.test(file)) {
        const ptsOf = (l: { pts: string | number; stream_index: number; flags: string }[]) =>
          l.map((p) => `${p.stream_index}:${p.pts}:${p.flags[0]}`).sort();
        t.same(ptsOf(pk), ptsOf(truth.packets), 'same pts and keyframe flags per stream');
      }
    } else t.comment('skip ffprobe: not installed');
  });
}

t.test(
  'late metadata: finish({ tags, chapters, attachments }) writes them after the Cues, with SeekHead entries',
  async (t) => {
    const { MatroskaMuxer, applyPatches } = await import('../src/matroska/muxer.js');
    const { EbmlReader } = await import('../src/reader.js');
    const src = load('mkvmerge-features.mkv');
    const a = demuxSync(src);
    t.ok(
      a.tags.length > 0 && a.chapters.length > 0 && a.attachments.length > 0,
      'fixture has tags, chapters, attachments',
    );
    for (const startWith of ['none', 'tags'] as const) {
      const chunks: Uint8Array[] = [];
      const mux = new MatroskaMuxer(a.header!, {
        live: false,
        write: (c) => chunks.push(c),
        ...(startWith === 'tags' ? { tags: a.tags } : {}),
      });
      for (const f of a.frames) mux.addFrame(f);
      const fin = mux.finish({ tags: a.tags, chapters: a.chapters, attachments: a.attachments });
      const out = applyPatches(new Uint8Array(Buffer.concat(chunks)), fin.patches);
      const b = demuxSync(out);
      t.same(
        b.errors.map((e) => e.message),
        [],
        `${startWith}: no errors`,
      );
      t.equal(b.frames.length, a.frames.length, `${startWith}: frames`);
      t.same(b.chapters, a.chapters, `${startWith}: chapters`);
      t.same(
        b.attachments.map((x) => [x.name, x.mediaType, x.data.length]),
        a.attachments.map((x) => [x.name, x.mediaType, x.data.length]),
        `${startWith}: attachments`,
      );
      t.same(b.tags, startWith === 'tags' ? [...a.tags, ...a.tags] : a.tags, `${startWith}: tags`);
      // Level-1 layout and the SeekHead: every entry points at an element with that ID.
      const level1: { id: number; rel: number }[] = [];
      const seeks: { id: number; pos: number }[] = [];
      let segData = -1;
      let sid = 0;
      const r = new EbmlReader({
        onMasterStart(el) {
          if (el.depth === 0 && el.id === 0x18538067) segData = el.dataOffset;
          if (el.depth === 1) level1.push({ id: el.id, rel: el.offset - segData });
          return el.id !== 0x1f43b675;
        },
        onValue(el, v) {
          if (el.id === 0x53ab) sid = (v as Uint8Array).reduce((x, y) => x * 256 + y, 0);
          if (el.id === 0x53ac) seeks.push({ id: sid, pos: v as number });
        },
      });
      r.push(out);
      r.end();
      const ids = level1.map((x) => x.id);
      const lastCluster = ids.lastIndexOf(0x1f43b675);
      t.same(
        ids.slice(lastCluster + 1),
        [0x1c53bb6b, 0x1043a770, 0x1941a469, 0x1254c367],
        `${startWith}: Cues, Chapters, Attachments, Tags after the Clusters`,
      );
      for (const id of [0x1043a770, 0x1941a469, 0x1254c367, 0x1c53bb6b])
        t.ok(
          seeks.some((s) => s.id === id),
          `${startWith}: SeekHead entry for ${id.toString(16)}`,
        );
      for (const s of seeks)
        t.ok(
          level1.some((x) => x.id === s.id && x.rel === s.pos),
          `${startWith}: seek ${s.id.toString(16)} -> ${s.pos} points at that element`,
        );
      if (haveMkvinfo && startWith === 'none') {
        const path = join(tmp, 'late-meta.mkv');
        writeFileSync(path, out);
        const m = spawnSync('mkvinfo', ['-a', path], { encoding: 'utf8', maxBuffer: 64 << 20 });
        t.equal(m.status, 0, 'mkvinfo accepts it');
        t.match(m.stdout, /\|\+ Tags/);
        t.match(m.stdout, /\|\+ Chapters/);
        t.match(m.stdout, /\|\+ Attachments/);
        t.notMatch(m.stdout + m.stderr, /Error|error/);
      }
    }
    // Chapters already written at start cannot be written again.
    const mux = new MatroskaMuxer(a.header!, { live: false, chapters: a.chapters });
    t.throws(() => mux.finish({ chapters: a.chapters }), { code: 'ENCODE' });
  },
);
