// `mkvserve remux` on the real fixtures, spawning the built CLI: mkvinfo accepts every output,
// ffprobe sees the same packets (count, sizes, keyframe flags per stream) as on the input, WebM stays
// WebM, live (unknown-size) input gets Cues + SeekHead + Duration, `-` output pipes into ffprobe,
// stdin input (metadata written after the Clusters is kept), non-Matroska input leaves no output file. Interop checks skip without mkvinfo/ffprobe.
import t from 'tap';
import type { Test } from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { createReadStream, existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { demuxSync } from '@mkvserve/ebml';

const here = dirname(fileURLToPath(import.meta.url));
const BIN = join(here, '..', 'bin', 'mkvserve.js');
const FIX = join(here, '..', '..', '..', 'fixtures');
const tmp = mkdtempSync(join(tmpdir(), 'mkvserve-remux-'));

const has = (cmd: string, arg = '-version'): boolean => {
  const r = spawnSync(cmd, [arg], { stdio: 'ignore' });
  return !r.error;
};
const HAVE_FFPROBE = has('ffprobe');
const HAVE_MKVINFO = has('mkvinfo', '--version');
if (!HAVE_FFPROBE) t.comment('ffprobe not found: packet comparisons skipped');
if (!HAVE_MKVINFO) t.comment('mkvinfo not found: mkvinfo checks skipped');

function run(args: string[], stdinFile?: string): Promise<{ code: number | null; stdout: Buffer; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [BIN, ...args], { stdio: [stdinFile ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let stderr = '';
    p.stdout!.on('data', (d: Buffer) => out.push(d));
    p.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    if (stdinFile && p.stdin) {
      p.stdin.on('error', () => {});
      createReadStream(stdinFile, { highWaterMark: 5000 }).pipe(p.stdin);
    }
    p.on('close', (code) => resolve({ code, stdout: Buffer.concat(out), stderr }));
  });
}

interface Pkt {
  stream_index: number;
  size: string;
  flags: string;
  pts?: number;
}
interface Probe {
  packets: Pkt[];
  streams: { index: number; codec_type: string; time_base: string }[];
  format: { duration?: string };
}

/** Per stream: every packet's pts in ns (ffprobe's integer pts times the stream time base). */
function ptsByStream(p: Probe): Map<number, (number | undefined)[]> {
  const m = new Map<number, (number | undefined)[]>();
  const tb = new Map(p.streams.map((s) => [s.index, s.time_base.split('/').map(Number) as [number, number]]));
  for (const k of p.packets) {
    const [num, den] = tb.get(k.stream_index)!;
    const list = m.get(k.stream_index) ?? [];
    list.push(k.pts === undefined ? undefined : (Number(k.pts) * num * 1e9) / den);
    m.set(k.stream_index, list);
  }
  return m;
}

/** Packets whose pts differ by more than 1 ms (or exist on one side only), as readable lines. */
function ptsDiff(a: (number | undefined)[], b: (number | undefined)[]): string[] {
  const bad: string[] = [];
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i];
    const y = b[i];
    if (x === undefined && y === undefined) continue;
    if (x === undefined || y === undefined || Math.abs(x - y) > 1e6) bad.push(`packet ${i}: ${x} vs ${y} ns`);
  }
  return bad;
}
function probe(file: string, input?: Buffer): Probe {
  const r = spawnSync(
    'ffprobe',
    ['-v', 'error', '-show_packets', '-show_streams', '-show_format', '-of', 'json', file],
    {
      encoding: 'utf8',
      maxBuffer: 64 << 20,
      ...(input ? { input } : {}),
    },
  );
  if (r.status !== 0) throw new Error(`ffprobe failed on ${file}: ${r.stderr}`);
  return JSON.parse(r.stdout) as Probe;
}

/** Per stream: [size, keyframe] lists (audio keyframe flags are ffprobe's own guess, so only video flags count). */
function packetsByStream(p: Probe): Map<number, { sizes: number[]; keys: boolean[]; type: string }> {
  const m = new Map<number, { sizes: number[]; keys: boolean[]; type: string }>();
  for (const s of p.streams)
    if (s.codec_type !== 'attachment') m.set(s.index, { sizes: [], keys: [], type: s.codec_type });
  for (const k of p.packets) {
    const e = m.get(k.stream_index);
    if (!e) continue;
    e.sizes.push(Number(k.size));
    e.keys.push(k.flags.includes('K'));
  }
  return m;
}

function mkvinfoOk(t: Test, file: string): string {
  const r = spawnSync('mkvinfo', ['-v', file], { encoding: 'utf8', maxBuffer: 64 << 20 });
  t.equal(r.status, 0, `mkvinfo exit status on ${file}`);
  t.notMatch(r.stdout + r.stderr, /(^|\n)\s*(Error|Warning)/i, 'mkvinfo reports no error or warning');
  return r.stdout;
}

const fixtures = existsSync(FIX) ? readdirSync(FIX).filter((f) => /\.(mkv|webm)$/.test(f)) : [];

t.test('remux each fixture: mkvinfo clean, same packets in ffprobe', async (t) => {
  for (const name of fixtures) {
    const out = join(tmp, 'out-' + name);
    const r = await run(['remux', join(FIX, name), out]);
    t.equal(r.code, 0, `${name}: exit code`);
    t.equal(r.stderr, '', `${name}: quiet when stderr is not a TTY`);
    const head = readFileSync(out).subarray(0, 64).toString('latin1');
    t.match(head, name.endsWith('.webm') ? 'webm' : 'matroska', `${name}: DocType kept`);
    if (HAVE_MKVINFO) {
      const info = mkvinfoOk(t, out);
      t.match(info, /Cues/, `${name}: has Cues`);
    }
    if (HAVE_FFPROBE) {
      const a = packetsByStream(probe(join(FIX, name)));
      const b = packetsByStream(probe(out));
      t.equal(b.size, a.size, `${name}: stream count`);
      for (const [i, s] of a) {
        const o = b.get(i);
        t.equal(o?.sizes.length, s.sizes.length, `${name} stream ${i}: packet count`);
        t.same(o?.sizes, s.sizes, `${name} stream ${i}: sizes`);
        if (s.type === 'video') t.same(o?.keys, s.keys, `${name} stream ${i}: keyframe flags`);
      }
      // Every packet keeps its pts (within 1 ms), laced frames too: each frame is written as its own
      // block at its own timestamp (the codec's durations when the container gives none).
      const pa = ptsByStream(probe(join(FIX, name)));
      const pb = ptsByStream(probe(out));
      for (const [i, list] of pa) t.same(ptsDiff(pb.get(i) ?? [], list).slice(0, 5), [], `${name} stream ${i}: pts`);
    }
  }
});

t.test('laced Vorbis without DefaultDuration: inspect --frames and remux keep ffprobe pts', async (t) => {
  // mkvmerge laces Vorbis by default and writes no DefaultDuration: frames 2..n of a lace have no stored
  // timestamp; ffprobe derives them from the Vorbis block sizes, and so must inspect --frames and remux.
  for (const name of ['mkvmerge-vorbis-default-lacing.mkv', 'mkvmerge-xiph-lacing.mkv', 'mkvmerge-features.mkv']) {
    const input = join(FIX, name);
    const r = await run(['inspect', input, '--frames', '--json']);
    t.equal(r.code, 0, `${name}: inspect exit code`);
    const frames = r.stdout
      .toString()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { track: number; timestamp: number; duration?: number });
    const laced = frames.filter((f, i) => i > 0 && frames[i - 1].timestamp === f.timestamp && f.track === 1);
    t.equal(laced.length, 0, `${name}: no two frames of a track share a timestamp`);
    if (!HAVE_FFPROBE) continue;
    const src = probe(input);
    const truth = ptsByStream(src);
    for (const s of src.streams) {
      if (s.codec_type !== 'audio') continue;
      // TrackNumber = stream index + 1 in these fixtures (see fixtures/README.md).
      const ours = frames.filter((f) => f.track === s.index + 1).map((f) => f.timestamp);
      t.equal(ours.length, truth.get(s.index)!.length, `${name} stream ${s.index}: frame count`);
      t.same(
        ptsDiff(ours, truth.get(s.index)!).slice(0, 5),
        [],
        `${name} stream ${s.index}: inspect --frames = ffprobe`,
      );
      t.ok(
        frames.filter((f) => f.track === s.index + 1).every((f) => f.duration !== undefined),
        `${name} stream ${s.index}: every frame has a duration`,
      );
    }
    const out = join(tmp, 'vorbis-' + name);
    const m = await run(['remux', input, out]);
    t.equal(m.code, 0, `${name}: remux exit code`);
    const after = ptsByStream(probe(out));
    for (const [i, list] of truth) {
      t.same(ptsDiff(after.get(i) ?? [], list).slice(0, 5), [], `${name} stream ${i}: remux keeps every pts`);
    }
  }
});

t.test('live (unknown-size) input -> Cues, SeekHead, Duration', async (t) => {
  for (const name of ['pipe-live.mkv', 'pipe-live.webm', 'gstreamer-streamable.webm']) {
    if (!fixtures.includes(name)) continue;
    const out = join(tmp, 'fixed-' + name);
    const r = await run(['remux', join(FIX, name), out]);
    t.equal(r.code, 0);
    if (HAVE_MKVINFO) {
      const info = mkvinfoOk(t, out);
      t.match(info, /Seek head/);
      t.match(info, /Cues/);
      t.match(info, /Duration: \d\d:\d\d:\d\d/);
      t.notMatch(info, /size unknown/);
    }
    if (HAVE_FFPROBE) {
      const p = probe(out);
      const d = Number(p.format.duration);
      t.ok(d > 2.5 && d < 3.6, `${name}: duration ${d}`);
    }
    const s = await run(['inspect', out, '--summary', '--json']);
    const sum = JSON.parse(s.stdout.toString()) as { live: boolean; durationSource: string; cuePoints: number };
    t.equal(sum.live, false);
    t.equal(sum.durationSource, 'info');
    t.ok(sum.cuePoints > 0);
  }
});

t.test('remux from stdin, and to stdout piped into ffprobe', async (t) => {
  const name = 'pipe-live.webm';
  const out = join(tmp, 'from-stdin.webm');
  const r = await run(['remux', '-', out], join(FIX, name));
  t.equal(r.code, 0);
  if (HAVE_MKVINFO) mkvinfoOk(t, out);

  const s = await run(['remux', join(FIX, 'h264-aac-bframes.mkv'), '-']);
  t.equal(s.code, 0);
  t.equal(s.stderr, '');
  t.ok(s.stdout.length > 10_000);
  const lived = await run(
    ['inspect', '-', '--summary', '--json'],
    (writeFileSync(join(tmp, 'live-out.mkv'), s.stdout), join(tmp, 'live-out.mkv')),
  );
  t.equal((JSON.parse(lived.stdout.toString()) as { live: boolean }).live, true, 'live-shaped output');
  if (!HAVE_FFPROBE) return;
  // A real pipe: mkvserve remux ... - | ffprobe -i pipe:0
  const sh = spawnSync(
    'sh',
    [
      '-c',
      `"${process.execPath}" "${BIN}" remux "${join(FIX, 'h264-aac-bframes.mkv')}" - | ffprobe -v error -show_packets -show_streams -show_format -of json -i pipe:0`,
    ],
    { encoding: 'utf8', maxBuffer: 64 << 20 },
  );
  t.equal(sh.status, 0);
  const piped = packetsByStream(JSON.parse(sh.stdout) as Probe);
  const orig = packetsByStream(probe(join(FIX, 'h264-aac-bframes.mkv')));
  for (const [i, st] of orig) {
    t.same(piped.get(i)?.sizes, st.sizes, `stream ${i}: same packet sizes through the pipe`);
    if (st.type === 'video') t.same(piped.get(i)?.keys, st.keys);
  }
});

t.test('from a pipe, Tags written after the Clusters (mkvmerge) are kept: appended after the Cues', async (t) => {
  // mkvmerge-features.mkv: Chapters and Attachments before the first Cluster, Tags after the Clusters.
  // From stdin there is no SeekHead read-ahead: the Tags arrive after the muxer has started.
  const name = 'mkvmerge-features.mkv';
  const src = demuxSync(new Uint8Array(readFileSync(join(FIX, name))));
  t.ok(
    src.tags.length > 0 && src.chapters.length > 0 && src.attachments.length > 0,
    'fixture has tags, chapters, attachments',
  );
  const summary = (d: ReturnType<typeof demuxSync>) => ({
    tags: d.tags,
    chapters: d.chapters,
    attachments: d.attachments.map((a) => [a.name, a.mediaType, a.uid, Buffer.from(a.data).toString('base64')]),
    frames: d.frames.length,
  });
  const out = join(tmp, 'features-from-stdin.mkv');
  const r = await run(['remux', '-', out], join(FIX, name));
  t.equal(r.code, 0);
  t.equal(r.stderr, '', 'no "not copied" note');
  const got = demuxSync(new Uint8Array(readFileSync(out)));
  t.same(
    got.errors.map((e) => e.message),
    [],
  );
  t.same(summary(got), summary(src), 'same tags, chapters, attachments and frame count as the input');
  if (HAVE_MKVINFO) {
    const info = spawnSync('mkvinfo', ['-a', out], { encoding: 'utf8', maxBuffer: 64 << 20 });
    t.equal(info.status, 0);
    t.notMatch(info.stdout + info.stderr, /(^|\n)\s*(Error|Warning)/i);
    const level1 = info.stdout
      .split('\n')
      .filter((l) => /^\|\+ [A-Z]/.test(l))
      .map((l) => l.slice(3).replace(/ \(.*$/, ''));
    t.same(level1.slice(level1.lastIndexOf('Cluster') + 1), ['Cues', 'Tags'], 'Tags follow the Cues');
    t.ok(
      level1.includes('Chapters') && level1.includes('Attachments'),
      'Chapters and Attachments kept before the Clusters',
    );
    t.match(info.stdout, /Seek ID: 0x12 0x54 0xc3 0x67 \(KaxTags\)/, 'a SeekHead entry for the Tags');
    mkvinfoOk(t, out);
  }
  // Live-shaped output on stdout: the Tags come after the last Cluster.
  const live = await run(['remux', '-', '-'], join(FIX, name));
  t.equal(live.code, 0);
  const l = demuxSync(new Uint8Array(live.stdout));
  t.same(summary(l), summary(src), 'stdout output keeps them too');
});

t.test('remux to stdout: a reader that goes away (| head) ends it quietly, exit 0', async (t) => {
  const p = spawn(process.execPath, [BIN, 'remux', join(FIX, 'demo.webm'), '-'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  p.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  let got = 0;
  p.stdout.on('data', (d: Buffer) => {
    got += d.length;
    if (got >= 2000) p.stdout.destroy(); // like `head -c 2000`
  });
  const code = await new Promise<number | null>((resolve) => p.on('close', (c) => resolve(c)));
  t.equal(code, 0);
  t.equal(stderr, '', 'no damage reported for the input cut short by the closed pipe');
});

t.test('non-Matroska input: clear message, exit 1, no output file', async (t) => {
  const ts = join(tmp, 'in.ts');
  const ff = spawnSync('ffmpeg', [
    '-v',
    'error',
    '-f',
    'lavfi',
    '-i',
    'testsrc2=size=160x120:rate=25',
    '-t',
    '1',
    '-c:v',
    'mpeg2video',
    '-f',
    'mpegts',
    '-y',
    ts,
  ]);
  if (ff.error || ff.status !== 0) {
    t.skip('ffmpeg not available', () => {});
    return;
  }
  const out = join(tmp, 'never.mkv');
  const r = await run(['remux', ts, out]);
  t.equal(r.code, 1);
  t.match(r.stderr, /MPEG-TS/);
  t.notOk(existsSync(out), 'no output left behind');
  t.same(
    readdirSync(tmp).filter((f) => f.includes('partial')),
    [],
    'no temporary file left behind',
  );
});

t.test('remux refuses to overwrite its input', async (t) => {
  const r = await run(['remux', join(FIX, 'demo.webm'), join(FIX, 'demo.webm')]);
  t.equal(r.code, 1);
  t.match(r.stderr, /must not be the input/);
});

t.test('damaged input: remux keeps what can be recovered, exit 2', async (t) => {
  const buf = readFileSync(join(FIX, 'demo.webm'));
  const bad = join(tmp, 'cut.webm');
  writeFileSync(bad, buf.subarray(0, Math.floor(buf.length / 2)));
  const out = join(tmp, 'cut-fixed.webm');
  const r = await run(['remux', bad, out]);
  t.equal(r.code, 2);
  t.match(r.stderr, /TRUNCATED/);
  if (HAVE_MKVINFO) mkvinfoOk(t, out);
  if (HAVE_FFPROBE) t.ok(probe(out).packets.length > 300);
});

t.test('Ctrl-C while recording a live stdin input finishes a valid file', async (t) => {
  const out = join(tmp, 'recording.webm');
  const p = spawn(process.execPath, [BIN, 'remux', '-', out], { stdio: ['pipe', 'ignore', 'pipe'] });
  let stderr = '';
  p.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  p.stdin.on('error', () => {});
  p.stdin.write(readFileSync(join(FIX, 'pipe-live.webm')).subarray(0, 50_000));
  await new Promise((r) => setTimeout(r, 1500));
  p.kill('SIGINT');
  const code = await new Promise<number | null>((resolve) => p.on('close', (c) => resolve(c)));
  t.equal(code, 0);
  t.match(stderr, /interrupted: finishing the output/);
  t.notMatch(stderr, /TRUNCATED/);
  t.ok(existsSync(out));
  if (HAVE_MKVINFO) t.match(mkvinfoOk(t, out), /Duration/);
  if (HAVE_FFPROBE) {
    const pr = probe(out);
    t.ok(pr.packets.length > 50, `packets kept (${pr.packets.length})`);
    t.ok(Number(pr.format.duration) > 1, 'has a duration');
  }
});
