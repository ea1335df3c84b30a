// LiveStream on the real fixtures (demuxed with @mkvserve/ebml): re-clustering of every fixture,
// a late joiner's output parsed back by our demuxer, and INTEROP: ffmpeg decodes a late joiner's
// output of h264-aac-bframes.mkv and vp9-opus.webm without a single error.

import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Frame, MatroskaHeader } from '@mkvserve/ebml';
import { LiveStream, primaryVideoTrack } from '../src/index.js';
import { concat, drain, walk } from '../testlib/helpers.js';

const FIXTURES = join(import.meta.dirname, '../../../fixtures');

interface Demuxed {
  header: MatroskaHeader;
  frames: Frame[];
}

async function demux(bytes: Uint8Array): Promise<Demuxed> {
  const mod = (await import('@mkvserve/ebml/node')) as unknown as {
    demuxAll(src: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<{ header: MatroskaHeader | undefined; frames: Frame[] }>;
  };
  // Feed in 4 KiB chunks, as a socket would.
  const chunks: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += 4096) chunks.push(bytes.subarray(i, i + 4096));
  const r = await mod.demuxAll(chunks);
  if (!r.header) throw new Error('no header');
  return { header: r.header, frames: r.frames };
}

function hasFfmpeg(): boolean {
  return spawnSync('ffmpeg', ['-version']).status === 0;
}

/** Streams a whole fixture through a LiveStream; one subscriber from the start, one joining at `lateAt` (0..1). */
function run(d: Demuxed, lateAt: number) {
  const s = new LiveStream({ clock: () => 0 });
  s.setHeader(d.header);
  const early = s.subscribe({ join: 'next-keyframe' });
  const earlyParts: Uint8Array[] = [];
  const lateParts: Uint8Array[] = [];
  let late: ReturnType<typeof s.subscribe> | undefined;
  let lateFrom = -1;
  const cut = Math.floor(d.frames.length * lateAt);
  d.frames.forEach((f, i) => {
    if (i === cut) {
      late = s.subscribe();
      // index of the newest join point's first frame: the last primary keyframe before the cut
      const v = primaryVideoTrack(d.header);
      for (let k = i - 1; k >= 0; k--) {
        const g = d.frames[k]!;
        if (g.keyframe && (v === 0 || g.track === v)) {
          lateFrom = k;
          break;
        }
      }
    }
    s.pushFrame(f);
    // (from the 10th frame on: a subscriber pulling right after the stream's very first keyframe
    // would not yet know the audio muxed after it with earlier timestamps, and withholds it)
    if (i >= 10) earlyParts.push(...drain(early));
    if (late) lateParts.push(...drain(late));
  });
  s.end();
  earlyParts.push(...drain(early));
  lateParts.push(...drain(late!));
  return { s, early: concat(earlyParts), late: concat(lateParts), lateFrom };
}

const all = existsSync(FIXTURES) ? (await import('node:fs')).readdirSync(FIXTURES).filter((f) => /\.(mkv|webm)$/.test(f)) : [];

t.test('every fixture is re-clustered at keyframes and delivered whole', { skip: all.length === 0 && 'no fixtures' }, async (t) => {
  for (const name of all) {
    let d: Demuxed;
    try {
      d = await demux(readFileSync(join(FIXTURES, name)));
    } catch (e) {
      t.fail(`${name}: demux failed: ${(e as Error).message}`);
      continue;
    }
    const v = primaryVideoTrack(d.header);
    const { early, s } = run(d, 0.5);
    const seg = walk(early)[0]!;
    const blocks = seg.clusters.flatMap((c) => c.blocks);
    // The early subscriber joined at the first keyframe: everything from there on.
    const firstKey = d.frames.findIndex((f) => f.keyframe && (v === 0 || f.track === v));
    t.equal(blocks.length, d.frames.length - firstKey, `${name}: every frame from the first keyframe`);
    t.ok(
      blocks.every((b, i) => {
        const f = d.frames[firstKey + i]!;
        return b.track === f.track && b.data.length === f.data.length && b.data.every((x, j) => x === f.data[j]);
      }),
      `${name}: payloads identical`,
    );
    const keyStarts = seg.clusters.filter((c) => c.blocks[0]!.keyframe && (v === 0 || c.blocks[0]!.track === v)).length;
    const keys = blocks.filter((b) => b.keyframe && (v === 0 || b.track === v)).length;
    if (v !== 0) t.equal(keyStarts, keys, `${name}: each of the ${keys} video keyframes starts a cluster`);
    t.ok(seg.clusters[0]!.blocks[0]!.keyframe, `${name}: first cluster starts with a keyframe`);
    t.ok(blocks.every((b) => b.rel >= -32768 && b.rel <= 32767));
    const splits = seg.clusters.length - keyStarts;
    t.ok(v === 0 || splits === 0, `${name}: ${splits} extra clusters`);
    t.equal(s.stats.historyClusters, Math.min(32, s.stats.clusters));
  }
});

t.test('mkvmerge-features.mkv (0.1 ms ticks, BlockGroups) goes through', { skip: !all.includes('mkvmerge-features.mkv') && 'fixture missing' }, async (t) => {
  const d = await demux(readFileSync(join(FIXTURES, 'mkvmerge-features.mkv')));
  t.equal(d.header.info.timestampScale, 100_000);
  const { early, s } = run(d, 0.5);
  const seg = walk(early)[0]!;
  t.equal(s.stats.clusters, 3, 'one cluster per keyframe');
  for (const c of seg.clusters) for (const b of c.blocks) t.ok(b.rel >= -32768 && b.rel <= 32767);
  t.ok(seg.clusters.flatMap((c) => c.blocks).some((b) => b.group), 'BlockGroups carried through');
});

for (const name of ['h264-aac-bframes.mkv', 'vp9-opus.webm', 'demo.webm', 'pipe-live.webm', 'gstreamer-streamable.webm', 'vp8-vorbis.webm']) {
  t.test(`late joiner on ${name}: parses, keyframe first, timestamps from 0; ffmpeg decodes it cleanly`, { skip: !all.includes(name) && 'fixture missing' }, async (t) => {
    const d = await demux(readFileSync(join(FIXTURES, name)));
    const { late, lateFrom } = run(d, 0.45);
    t.ok(lateFrom > 0, 'joined at a later keyframe');
    const back = await demux(late);
    t.equal(back.header.tracks.length, d.header.tracks.length);
    t.equal(back.frames.length, d.frames.length - lateFrom, 'every frame from the join point');
    const v = primaryVideoTrack(back.header);
    const firstVideo = back.frames.find((f) => f.track === v)!;
    t.ok(firstVideo.keyframe, 'first video frame is a keyframe');
    t.ok(back.frames[0]!.keyframe && back.frames[0]!.track === v, 'stream starts with the keyframe');
    const ts = back.frames.map((f) => f.timestamp);
    t.equal(Math.min(...ts), 0, 'timestamps start at 0');
    t.ok(ts.every((x) => x >= 0), 'never negative');
    const shift = d.frames[lateFrom]!.timestamp - back.frames[0]!.timestamp;
    t.ok(back.frames.every((f, i) => f.timestamp === d.frames[lateFrom + i]!.timestamp - shift), 'one constant shift');
    const seg = walk(late);
    t.equal(seg.length, 1);
    t.notOk(seg[0]!.hasDuration || seg[0]!.hasSeekHead || seg[0]!.hasCues, 'no Duration, SeekHead or Cues');

    await t.test('ffmpeg decodes it without an error', { skip: !hasFfmpeg() && 'ffmpeg not installed' }, async (t) => {
      const dir = mkdtempSync(join(tmpdir(), 'fanout-'));
      try {
        const file = join(dir, `late-${name}`);
        writeFileSync(file, late);
        const r = spawnSync('ffmpeg', ['-nostdin', '-v', 'error', '-i', file, '-f', 'null', '-'], { encoding: 'utf8' });
        t.equal(r.status, 0, 'ffmpeg exit 0');
        t.equal(r.stderr, '', `ffmpeg prints no error for ${name}`);
        const p = spawnSync('ffprobe', ['-v', 'error', '-show_entries', 'packet=stream_index,pts,flags', '-of', 'csv=p=0', file], { encoding: 'utf8' });
        t.equal(p.stderr, '', 'ffprobe prints no error');
        t.equal(p.stdout.trim().split('\n').length, back.frames.length, 'ffprobe sees every packet');
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}
