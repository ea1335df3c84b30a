// LiveStream on the real fixtures (demuxed with @mkvserve/ebml): re-clustering of every fixture,
// a late joiner's output parsed back by our demuxer, and INTEROP: ffmpeg decodes a late joiner's
// output of h264-aac-bframes.mkv and vp9-opus.webm without a single error.

import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Frame, MatroskaHeader } from '@mkvserve/ebml';
import { LiveStream } from '../src/index.js';
import { primaryVideoTrack } from '../src/advanced.js';
import { concat, drain, walk } from '../testlib/helpers.js';

const FIXTURES = join(import.meta.dirname, '../../../fixtures');
/** rebaseLeadNs for h264-aac-bframes.mkv from the start: its audio starts at 0, muxed after the first
 *  video keyframe (21 ms); later GOPs' audio comes up to 80 ms after its keyframe. */
const H264_LEAD_NS = 100e6;

interface Demuxed {
  header: MatroskaHeader;
  frames: Frame[];
}

async function demux(bytes: Uint8Array): Promise<Demuxed> {
  const mod = (await import('@mkvserve/ebml/node')) as unknown as {
    demuxAll(
      src: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
    ): Promise<{ header: MatroskaHeader | undefined; frames: Frame[] }>;
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

/** ffmpeg -v error decode of a file: stderr (empty when clean). */
function ffmpegErrors(bytes: Uint8Array, name: string): { status: number | null; stderr: string } {
  const dir = mkdtempSync(join(tmpdir(), 'fanout-'));
  try {
    const file = join(dir, name);
    writeFileSync(file, bytes);
    const r = spawnSync('ffmpeg', ['-nostdin', '-v', 'error', '-i', file, '-f', 'null', '-'], { encoding: 'utf8' });
    return { status: r.status, stderr: r.stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Streams a whole fixture through a LiveStream; one subscriber from the start, one joining at `lateAt` (0..1). */
function run(d: Demuxed, lateAt: number, rebaseLeadNs?: number) {
  const s = new LiveStream({ clock: () => 0, ...(rebaseLeadNs !== undefined ? { rebaseLeadNs } : {}) });
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
        const g = d.frames[k];
        if (g.keyframe && (v === 0 || g.track === v)) {
          lateFrom = k;
          break;
        }
      }
    }
    s.pushFrame(f);
    earlyParts.push(...drain(early));
    if (late) lateParts.push(...drain(late));
  });
  s.end();
  earlyParts.push(...drain(early));
  lateParts.push(...drain(late!));
  return { s, earlySub: early, lateSub: late!, early: concat(earlyParts), late: concat(lateParts), lateFrom };
}

const all = existsSync(FIXTURES)
  ? (await import('node:fs')).readdirSync(FIXTURES).filter((f) => /\.(mkv|webm)$/.test(f))
  : [];

t.test(
  'every fixture is re-clustered at keyframes and delivered whole',
  { skip: all.length === 0 && 'no fixtures' },
  async (t) => {
    for (const name of all) {
      let d: Demuxed;
      try {
        d = await demux(readFileSync(join(FIXTURES, name)));
      } catch (e) {
        t.fail(`${name}: demux failed: ${(e as Error).message}`);
        continue;
      }
      const v = primaryVideoTrack(d.header);
      const { early, earlySub, lateSub, s } = run(d, 0.5);
      const seg = walk(early)[0];
      const blocks = seg.clusters.flatMap((c) => c.blocks);
      // The early subscriber was there from the start: the first keyframe, then the non-video frames
      // held before it, then everything after it, but for frames muxed after the keyframe with a timestamp
      // below its origin (the smallest of the keyframe and the held frames): withheld from it (default
      // rebaseLeadNs 0; h264-aac-bframes.mkv: the audio at 0 ms, after the video keyframe at 21 ms).
      const firstKey = d.frames.findIndex((f) => f.keyframe && (v === 0 || f.track === v));
      const kinds = new Map(d.header.tracks.map((x) => [x.number, x.kind]));
      const head = [d.frames[firstKey], ...d.frames.slice(0, firstKey).filter((f) => kinds.get(f.track) !== 'video')];
      const origin = Math.min(...head.map((f) => f.timestamp));
      const tail = d.frames.slice(firstKey + 1);
      const expected = [...head, ...tail.filter((f) => f.timestamp >= origin)];
      t.equal(
        earlySub.withheld,
        tail.length - (expected.length - head.length),
        `${name}: ${earlySub.withheld} withheld (below the origin)`,
      );
      t.equal(s.stats.withheldFrames, earlySub.withheld + lateSub.withheld, 'stats.withheldFrames: the total');
      t.equal(
        s.stats.frames,
        d.frames.length - s.stats.droppedFrames,
        `${name}: every frame placed but ${s.stats.droppedFrames} undecodable video before the first keyframe`,
      );
      t.equal(
        blocks.length,
        expected.length,
        `${name}: every frame (but video before the first keyframe, and frames below its origin)`,
      );
      t.ok(
        blocks.every((b, i) => {
          const f = expected[i];
          return b.track === f.track && b.data.length === f.data.length && b.data.every((x, j) => x === f.data[j]);
        }),
        `${name}: payloads identical`,
      );
      const keyStarts = seg.clusters.filter((c) => c.blocks[0].keyframe && (v === 0 || c.blocks[0].track === v)).length;
      const keys = blocks.filter((b) => b.keyframe && (v === 0 || b.track === v)).length;
      if (v !== 0) t.equal(keyStarts, keys, `${name}: each of the ${keys} video keyframes starts a cluster`);
      t.ok(seg.clusters[0].blocks[0].keyframe, `${name}: first cluster starts with a keyframe`);
      t.ok(blocks.every((b) => b.rel >= -32768 && b.rel <= 32767));
      const splits = seg.clusters.length - keyStarts;
      t.ok(v === 0 || splits === 0, `${name}: ${splits} extra clusters`);
      t.equal(s.stats.historyClusters, Math.min(32, s.stats.clusters));
    }
  },
);

t.test(
  'mkvmerge-features.mkv (0.1 ms ticks, BlockGroups) goes through',
  { skip: !all.includes('mkvmerge-features.mkv') && 'fixture missing' },
  async (t) => {
    const d = await demux(readFileSync(join(FIXTURES, 'mkvmerge-features.mkv')));
    t.equal(d.header.info.timestampScale, 100_000);
    const { early, s } = run(d, 0.5);
    const seg = walk(early)[0];
    t.equal(s.stats.clusters, 3, 'one cluster per keyframe');
    for (const c of seg.clusters) for (const b of c.blocks) t.ok(b.rel >= -32768 && b.rel <= 32767);
    t.ok(
      seg.clusters.flatMap((c) => c.blocks).some((b) => b.group),
      'BlockGroups carried through',
    );
  },
);

for (const name of [
  'h264-aac-bframes.mkv',
  'vp9-opus.webm',
  'demo.webm',
  'pipe-live.webm',
  'gstreamer-streamable.webm',
  'vp8-vorbis.webm',
]) {
  t.test(
    `late joiner on ${name}: parses, keyframe first, timestamps from 0; ffmpeg decodes it cleanly`,
    { skip: !all.includes(name) && 'fixture missing' },
    async (t) => {
      const d = await demux(readFileSync(join(FIXTURES, name)));
      const { late, lateFrom, lateSub } = run(d, 0.45);
      t.ok(lateFrom > 0, 'joined at a later keyframe');
      const back = await demux(late);
      t.equal(back.header.tracks.length, d.header.tracks.length);
      t.equal(back.frames.length, d.frames.length - lateFrom, 'every frame from the join point');
      const v = primaryVideoTrack(back.header);
      const firstVideo = back.frames.find((f) => f.track === v)!;
      t.ok(firstVideo.keyframe, 'first video frame is a keyframe');
      t.ok(back.frames[0].keyframe && back.frames[0].track === v, 'stream starts with the keyframe');
      const ts = back.frames.map((f) => f.timestamp);
      t.equal(Math.min(...ts), 0, 'timestamps start at exactly 0');
      t.equal(lateSub.withheld, 0, 'joined an open cluster whose early audio was already in: nothing withheld');
      t.ok(
        ts.every((x) => x >= 0),
        'never negative',
      );
      const shift = d.frames[lateFrom].timestamp - back.frames[0].timestamp;
      t.ok(
        back.frames.every((f, i) => f.timestamp === d.frames[lateFrom + i].timestamp - shift),
        'one constant shift',
      );
      const seg = walk(late);
      t.equal(seg.length, 1);
      t.notOk(seg[0].hasDuration || seg[0].hasSeekHead || seg[0].hasCues, 'no Duration, SeekHead or Cues');

      await t.test(
        'ffmpeg decodes it without an error',
        { skip: !hasFfmpeg() && 'ffmpeg not installed' },
        async (t) => {
          const dir = mkdtempSync(join(tmpdir(), 'fanout-'));
          try {
            const file = join(dir, `late-${name}`);
            writeFileSync(file, late);
            const r = spawnSync('ffmpeg', ['-nostdin', '-v', 'error', '-i', file, '-f', 'null', '-'], {
              encoding: 'utf8',
            });
            t.equal(r.status, 0, 'ffmpeg exit 0');
            t.equal(r.stderr, '', `ffmpeg prints no error for ${name}`);
            const p = spawnSync(
              'ffprobe',
              ['-v', 'error', '-show_entries', 'packet=stream_index,pts,flags', '-of', 'csv=p=0', file],
              { encoding: 'utf8' },
            );
            t.equal(p.stderr, '', 'ffprobe prints no error');
            t.equal(p.stdout.trim().split('\n').length, back.frames.length, 'ffprobe sees every packet');
          } finally {
            rmSync(dir, { recursive: true, force: true });
          }
        },
      );
    },
  );
}

// Frames before the first keyframe (Opus/Vorbis at 0 before VP9/VP8 at 7 ms) are held for the first
// cluster; audio muxed after the first keyframe with an earlier timestamp (h264-aac-bframes: video
// from 21 ms, audio from 0) needs a rebase allowance (rebaseLeadNs, set explicitly for it; with the
// default 0 it is withheld, see the next test). A subscriber there from the start, pulling after every
// frame, gets every frame of every track, never a negative timestamp.
for (const name of ['vp9-opus.webm', 'vp8-vorbis.webm', 'h264-aac-bframes.mkv']) {
  t.test(
    `subscriber from the start on ${name} gets every frame of every track`,
    { skip: !all.includes(name) && 'fixture missing' },
    async (t) => {
      const d = await demux(readFileSync(join(FIXTURES, name)));
      const lead = name === 'h264-aac-bframes.mkv' ? H264_LEAD_NS : undefined;
      for (const join of ['next-keyframe', 'latest-keyframe'] as const) {
        const s = new LiveStream({ clock: () => 0, ...(lead !== undefined ? { rebaseLeadNs: lead } : {}) });
        s.setHeader(d.header);
        const sub = s.subscribe({ join });
        const parts: Uint8Array[] = [];
        for (const f of d.frames) {
          s.pushFrame(f);
          parts.push(...drain(sub));
        }
        s.end();
        parts.push(...drain(sub));
        const out = concat(parts);
        const back = await demux(out);
        const v = primaryVideoTrack(d.header);
        t.ok(back.frames[0].keyframe && back.frames[0].track === v, `${join}: first block is a video keyframe`);
        t.equal(back.frames.length, d.frames.length, `${join}: all ${d.frames.length} frames`);
        t.equal(s.stats.droppedFrames, 0, 'nothing dropped');
        t.equal(s.stats.frames, d.frames.length);
        const ts = back.frames.map((f) => f.timestamp);
        t.ok(
          ts.every((x) => x >= 0),
          `${join}: never negative`,
        );
        if (lead === undefined) t.equal(Math.min(...ts), 0, `${join}: starts at exactly 0 (default rebaseLeadNs 0)`);
        else
          t.ok(
            Math.min(...ts) <= lead,
            `${join}: rebaseLeadNs ${lead / 1e6} ms: starts within it (${Math.min(...ts) / 1e6} ms)`,
          );
        t.equal(sub.withheld, 0, 'nothing withheld');
        t.equal(s.stats.withheldFrames, 0);
        const walked = walk(out)[0];
        t.ok(
          walked.clusters.every((c) => c.timestamp >= 0 && c.blocks.every((b) => b.ticks >= 0)),
          'no negative block in the raw bytes either',
        );
        // Per track: the same frames in the same order, shifted by one constant.
        const shift = d.frames[0].timestamp - back.frames.find((f) => f.track === d.frames[0].track)!.timestamp;
        for (const tr of d.header.tracks) {
          const src = d.frames.filter((f) => f.track === tr.number);
          const got = back.frames.filter((f) => f.track === tr.number);
          t.equal(got.length, src.length, `${join}: track ${tr.number} (${tr.codecId}): ${src.length} frames`);
          t.ok(
            got.every(
              (f, i) =>
                f.timestamp === src[i].timestamp - shift &&
                f.data.length === src[i].data.length &&
                f.data.every((x, j) => x === src[i].data[j]),
            ),
            `${join}: track ${tr.number}: identical payloads, one constant shift`,
          );
        }
        if (hasFfmpeg()) {
          const r = ffmpegErrors(out, `start-${name}`);
          t.equal(r.status, 0, 'ffmpeg exit 0');
          t.equal(r.stderr, '', `ffmpeg -v error prints nothing for ${name}`);
        }
      }
    },
  );
}

// Default rebaseLeadNs 0 on h264-aac-bframes.mkv: every stream starts at exactly 0; what the source muxes
// after a keyframe with an earlier timestamp is withheld only from a subscriber whose origin (fixed at its
// first pull) is after it; an earlier subscriber still receives it, and nothing is dropped for everyone.
t.test(
  "h264-aac-bframes.mkv, default rebaseLeadNs 0: streams start at 0; only frames below a fresh subscriber's origin are withheld, and only from it",
  { skip: !all.includes('h264-aac-bframes.mkv') && 'fixture missing' },
  async (t) => {
    const d = await demux(readFileSync(join(FIXTURES, 'h264-aac-bframes.mkv')));
    const v = primaryVideoTrack(d.header);
    const keys = d.frames.map((f, i) => (f.keyframe && f.track === v ? i : -1)).filter((i) => i >= 0);
    t.ok(keys.length >= 2, 'several keyframes');
    const freshAt = keys[1];
    const s = new LiveStream({ clock: () => 0 });
    s.setHeader(d.header);
    const early = s.subscribe({ join: 'next-keyframe' });
    const earlyParts: Uint8Array[] = [...drain(early)];
    const freshParts: Uint8Array[] = [];
    let fresh: ReturnType<typeof s.subscribe> | undefined;
    d.frames.forEach((f, i) => {
      s.pushFrame(f);
      if (i === freshAt) fresh = s.subscribe(); // pulls right at the keyframe: its origin is that keyframe
      earlyParts.push(...drain(early));
      if (fresh) freshParts.push(...drain(fresh));
    });
    s.end();
    earlyParts.push(...drain(early));
    freshParts.push(...drain(fresh!));
    t.equal(s.stats.droppedFrames, 0, 'nothing dropped for everyone');
    t.equal(s.stats.frames, d.frames.length, 'every frame placed');

    const expectFor = (from: number) => {
      const origin = d.frames[from].timestamp;
      const after = d.frames.slice(from);
      return {
        origin,
        kept: after.filter((f) => f.timestamp >= origin),
        below: after.filter((f) => f.timestamp < origin),
      };
    };
    const outs = [
      { who: 'early', sub: early, bytes: concat(earlyParts), ...expectFor(keys[0]) },
      { who: 'fresh', sub: fresh!, bytes: concat(freshParts), ...expectFor(freshAt) },
    ];
    const earlyBack = await demux(outs[0].bytes);
    for (const o of outs) {
      const back = o.who === 'early' ? earlyBack : await demux(o.bytes);
      const ts = back.frames.map((f) => f.timestamp);
      t.equal(Math.min(...ts), 0, `${o.who}: starts at exactly 0`);
      t.ok(back.frames[0].keyframe && back.frames[0].track === v, `${o.who}: keyframe first`);
      t.ok(
        o.below.length > 0 && o.below.every((f) => f.track !== v),
        `${o.who}: ${o.below.length} audio frames muxed after its keyframe with earlier timestamps`,
      );
      t.equal(o.sub.withheld, o.below.length, `${o.who}: exactly those are withheld`);
      t.equal(back.frames.length, o.kept.length, `${o.who}: everything else`);
      t.ok(
        back.frames.every(
          (f, i) =>
            f.track === o.kept[i].track &&
            f.timestamp === o.kept[i].timestamp - o.origin &&
            f.data.length === o.kept[i].data.length,
        ),
        `${o.who}: same frames, one constant shift (origin ${o.origin / 1e6} ms)`,
      );
      if (hasFfmpeg()) {
        const r = ffmpegErrors(o.bytes, `default-lead-${o.who}.mkv`);
        t.equal(r.status, 0, 'ffmpeg exit 0');
        t.equal(r.stderr, '', `ffmpeg -v error prints nothing (${o.who})`);
      }
    }
    // The frames withheld from the fresh subscriber reached the earlier one.
    const freshBelow = outs[1].below;
    const earlyOrigin = outs[0].origin;
    for (const f of freshBelow) {
      t.ok(
        earlyBack.frames.some(
          (g) => g.track === f.track && g.timestamp === f.timestamp - earlyOrigin && g.data.length === f.data.length,
        ),
        `audio at ${f.timestamp / 1e6} ms: received by the earlier subscriber`,
      );
    }
    t.equal(s.stats.withheldFrames, early.withheld + fresh!.withheld, 'stats.withheldFrames: the total');
  },
);
