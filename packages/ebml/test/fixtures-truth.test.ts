// Every fixture in /fixtures against its ffprobe truth: per track, frame counts, sizes in order,
// keyframe flags (video), timestamps (time_base and Opus CodecDelay accounted for) and durations,
// with random chunkings (1-byte chunks on the smallest fixture). See fixtures/README.md for the quirks.
import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MatroskaDemuxer } from '../src/matroska/demuxer.js';
import type { EbmlError } from '../src/errors.js';
import type { Frame, MatroskaHeader } from '../src/matroska/types.js';
import { fixturesDir, load, mulberry32 } from '../testlib/build.js';

const fixtures = readdirSync(fixturesDir)
  .filter((f) => /\.(mkv|webm)$/.test(f) && readdirSync(fixturesDir).includes(`${f}.truth.json`))
  .sort();

interface Truth {
  streams: { index: number; codec_type: string; codec_name?: string; time_base: string; start_pts?: number }[];
  packets: { stream_index: number; pts?: number; dts?: number; duration?: number; size: number; flags: string }[];
}

function demux(bytes: Uint8Array, chunking: 'whole' | 'one' | number) {
  const frames: Frame[] = [];
  const errors: EbmlError[] = [];
  let header: MatroskaHeader | undefined;
  let headers = 0;
  const d = new MatroskaDemuxer({
    onHeader: (h) => {
      header = h;
      headers++;
    },
    onFrame: (f) => {
      if (!header) throw new Error('frame before header');
      frames.push({ ...f, data: f.data.slice() });
    },
    onError: (e) => errors.push(e),
  });
  if (chunking === 'whole') d.push(bytes);
  else if (chunking === 'one') for (let i = 0; i < bytes.length; i++) d.push(bytes.subarray(i, i + 1));
  else {
    const rnd = mulberry32(chunking);
    for (let p = 0; p < bytes.length;) {
      const n = 1 + Math.floor(rnd() ** 3 * 70000);
      d.push(bytes.subarray(p, p + n));
      p += n;
    }
  }
  d.end();
  return { frames, errors, header: header!, headers };
}

const smallest = [...fixtures].sort(
  (a, b) => readFileSync(join(fixturesDir, a)).length - readFileSync(join(fixturesDir, b)).length,
)[0];

for (const name of fixtures) {
  t.test(name, async (t) => {
    const bytes = load(name);
    const truth = JSON.parse(readFileSync(join(fixturesDir, `${name}.truth.json`), 'utf8')) as Truth;
    const ref = demux(bytes, 'whole');
    t.same(
      ref.errors.map((e) => e.message),
      [],
      'no errors',
    );
    t.equal(ref.headers, 1, 'one header');
    const tracks = ref.header.tracks;
    const streams = truth.streams.filter((s) => s.codec_type !== 'attachment');
    t.equal(tracks.length, streams.length, 'track count');

    for (const s of streams) {
      const tr = tracks[s.index];
      t.test(`stream ${s.index} (${s.codec_type} ${s.codec_name})`, async (t) => {
        t.equal(tr.kind, s.codec_type === 'subtitle' ? 'subtitle' : s.codec_type, 'kind');
        const [num, den] = s.time_base.split('/').map(Number) as [number, number];
        const toTb = (ns: number) => (ns * den) / (num * 1e9);
        const delay = s.codec_name === 'opus' && tr.codecDelay ? Math.round(toTb(tr.codecDelay)) : 0;
        const ours = ref.frames.filter((f) => f.track === tr.number);
        const theirs = truth.packets.filter((p) => p.stream_index === s.index);
        t.equal(ours.length, theirs.length, 'frame count');
        t.same(
          ours.map((f) => f.data.length),
          theirs.map((p) => p.size),
          'sizes in order',
        );
        if (s.codec_type === 'video') {
          t.same(
            ours.map((f) => f.keyframe),
            theirs.map((p) => p.flags.includes('K')),
            'keyframe flags',
          );
        }
        // Timestamps: lace-first frames exactly; later laces within 1 tick when the track has a
        // DefaultDuration (FFmpeg truncates in ticks); without one, exactly: lavf fills them in from the
        // codec's frame durations, and so does the demuxer (codec-duration.ts).
        let exact = 0;
        let approx = 0;
        let badTs = 0;
        let badDur = 0;
        let durCompared = 0;
        let prevOffset = -1;
        for (let i = 0; i < Math.min(ours.length, theirs.length); i++) {
          const f = ours[i];
          const p = theirs[i];
          const first = f.offset !== prevOffset;
          prevOffset = f.offset!;
          if (p.pts !== undefined) {
            const mine = toTb(f.timestamp) - delay;
            if (first) {
              exact++;
              if (Math.abs(mine - p.pts) > 1e-6) badTs++;
            } else if (tr.defaultDuration !== undefined || f.blockDuration !== undefined) {
              approx++;
              if (Math.abs(mine - p.pts) > 1) badTs++;
            } else {
              exact++;
              if (Math.abs(mine - p.pts) > 1e-6) badTs++;
            }
          }
          // Opus frames without a container duration get it from the TOC, as in ffprobe (ffmpeg's last
          // frame: DiscardPadding, no BlockDuration -> 20 ms on both sides, compared). But with a
          // BlockDuration and DiscardPadding, ffprobe still reports the TOC's 20 ms where we keep the
          // container's BlockDuration (GStreamer's last frame: 6 ms + 13.5 ms padding): not compared.
          if (f.duration === undefined || p.duration === undefined) continue;
          if (f.discardPadding !== undefined && f.blockDuration !== undefined) continue;
          durCompared++;
          if (Math.abs(toTb(f.duration) - p.duration) > 1) badDur++;
        }
        t.equal(badTs, 0, `timestamps match (${exact} exact, ${approx} within a tick)`);
        if (s.codec_type === 'audio') {
          // Every audio packet has a duration: the container's or the codec's (Opus, Vorbis, AAC, MP3, AC-3).
          t.equal(ours.filter((f) => f.duration === undefined).length, 0, 'every audio frame has a duration');
        }
        t.equal(badDur, 0, `durations match where both are known (${durCompared} compared)`);
        if (s.codec_name === 'opus') {
          // Every Opus packet has a duration (container or TOC); only the BlockDuration+DiscardPadding
          // frames above are left out.
          const skipped = ours.filter((f) => f.discardPadding !== undefined && f.blockDuration !== undefined).length;
          t.equal(
            durCompared,
            theirs.filter((p) => p.duration !== undefined).length - skipped,
            'every Opus duration compared',
          );
          t.ok(durCompared > 0, 'Opus durations compared');
        }
      });
    }

    for (const seed of [1, 2, 3]) {
      const r = demux(bytes, seed);
      t.same(
        r.errors.map((e) => e.message),
        [],
        `chunking ${seed}: no errors`,
      );
      t.equal(r.frames.length, ref.frames.length, `chunking ${seed}: same frame count`);
      t.ok(
        r.frames.every((f, i) => sameFrame(f, ref.frames[i])),
        `chunking ${seed}: same frames`,
      );
    }
    if (name === smallest) {
      const r = demux(bytes, 'one');
      t.same(
        r.errors.map((e) => e.message),
        [],
        '1-byte chunks: no errors',
      );
      t.ok(
        r.frames.length === ref.frames.length && r.frames.every((f, i) => sameFrame(f, ref.frames[i])),
        '1-byte chunks: same frames',
      );
    }
  });
}

function sameFrame(a: Frame, b: Frame): boolean {
  if (
    a.track !== b.track ||
    a.timestamp !== b.timestamp ||
    a.keyframe !== b.keyframe ||
    a.duration !== b.duration ||
    a.offset !== b.offset
  )
    return false;
  if (a.data.length !== b.data.length) return false;
  for (let i = 0; i < a.data.length; i++) if (a.data[i] !== b.data[i]) return false;
  return true;
}
