// `mkvserve inspect` on the real fixtures, spawning the built CLI: --frames --json against the ffprobe
// truth files (counts, sizes, video keyframe flags per track), the element tree (text and --json; the
// readable text itself against mkvinfo is inspect-readable.test.ts),
// --summary, limits, damaged copies (exit 2, offsets on stderr, frames recovered), an MPEG-TS input
// (clear message, exit 1), stdin, an http URL on a real local socket, and a closed stdout pipe.
// The per-fixture checks call runInspect in-process (a spawn costs ~0.25 s of Node start-up each);
// for every output mode one spawned CLI run is checked to print exactly what runInspect prints.
import t from 'tap';
import type { Test } from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import { createReadStream, existsSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { runInspect } from '../src/commands/inspect.js';
import type { InspectOptions } from '../src/commands/inspect.js';

const here = dirname(fileURLToPath(import.meta.url));
const BIN = join(here, '..', 'bin', 'mkvserve.js');
const FIX = join(here, '..', '..', '..', 'fixtures');
const tmp = mkdtempSync(join(tmpdir(), 'mkvserve-inspect-'));

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}
function run(args: string[], stdinFile?: string): Promise<RunResult> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [BIN, ...args], { stdio: [stdinFile ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    p.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    if (stdinFile && p.stdin) {
      p.stdin.on('error', () => {});
      createReadStream(stdinFile, { highWaterMark: 7000 }).pipe(p.stdin);
    }
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** runInspect in-process, stdout/stderr captured: what `mkvserve inspect <input> ...` does minus the argv parsing. */
async function inspect(input: string, o: Omit<InspectOptions, 'input' | 'stdout' | 'stderr'> = {}): Promise<RunResult> {
  let stdout = '';
  let stderr = '';
  const sink = (add: (s: string) => void): Writable =>
    new Writable({
      write(chunk: Buffer | string, _enc, cb) {
        add(chunk.toString());
        cb();
      },
    });
  const code = await runInspect({
    input,
    ...o,
    stdout: sink((x) => (stdout += x)),
    stderr: sink((x) => (stderr += x)),
  });
  return { code, stdout, stderr };
}

interface Truth {
  streams: { index: number; codec_type: string; codec_name?: string }[];
  packets: { stream_index: number; size: number; flags: string }[];
}
interface FrameLine {
  track: number;
  timestamp: number;
  keyframe: boolean;
  size: number;
}

const fixtures = existsSync(FIX)
  ? readdirSync(FIX).filter((f) => /\.(mkv|webm)$/.test(f) && existsSync(join(FIX, f + '.truth.json')))
  : [];
if (fixtures.length === 0) t.comment(`no fixtures in ${FIX}`);

function truthOf(name: string): Truth {
  return JSON.parse(readFileSync(join(FIX, name + '.truth.json'), 'utf8')) as Truth;
}

function parseFrames(stdout: string): FrameLine[] {
  return stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as FrameLine);
}

/** Compares frames with the truth: ffprobe stream index i = i-th TrackEntry = TrackNumber i+1 in all fixtures. */
function checkAgainstTruth(t: Test, name: string, frames: FrameLine[]): void {
  const truth = truthOf(name);
  for (const s of truth.streams) {
    if (s.codec_type === 'attachment') continue;
    const tp = truth.packets.filter((p) => p.stream_index === s.index);
    const ours = frames.filter((f) => f.track === s.index + 1);
    t.equal(ours.length, tp.length, `${name} track ${s.index + 1} (${s.codec_name}): frame count`);
    t.same(
      ours.map((f) => f.size),
      tp.map((p) => p.size),
      `${name} track ${s.index + 1}: sizes`,
    );
    if (s.codec_type === 'video') {
      t.same(
        ours.map((f) => f.keyframe),
        tp.map((p) => p.flags.includes('K')),
        `${name} track ${s.index + 1}: keyframe flags`,
      );
    }
  }
}

t.test('--frames --json equals the truth files', async (t) => {
  const cliName = 'mkvmerge-features.mkv';
  const cli = run(['inspect', join(FIX, cliName), '--frames', '--json']);
  for (const name of fixtures) {
    const r = await inspect(join(FIX, name), { frames: true, json: true });
    if (name === cliName) t.same(await cli, r, `${name}: the CLI prints the same, exit code ${r.code}`);
    t.equal(r.code, 0, `${name}: exit code`);
    t.equal(r.stderr, '', `${name}: no stderr`);
    const lines = r.stdout.split('\n').filter((l) => l !== '');
    for (const l of lines.slice(0, 5)) {
      t.match(l, /^\{"track":\d+,"timestamp":-?\d+,"keyframe":(true|false),"size":\d+[,}]/, `${name}: line shape`);
    }
    checkAgainstTruth(t, name, parseFrames(r.stdout));
  }
});

t.test('frames text output and limits', async (t) => {
  const demo = join(FIX, 'demo.webm');
  const [text, ten, oneSec] = await Promise.all([
    run(['inspect', demo, '--frames']),
    run(['inspect', demo, '--frames', '--json', '--max-frames', '10']),
    run(['inspect', demo, '--frames', '--json', '--duration', '1']),
  ]);
  t.equal(text.code, 0);
  const truth = truthOf('demo.webm');
  t.equal(text.stdout.trim().split('\n').length, truth.packets.length);
  t.match(text.stdout, /^track \d+ \d\d:\d\d:\d\d\.\d{9} (key| {3}) \d+/);

  t.equal(ten.code, 0);
  t.equal(parseFrames(ten.stdout).length, 10);

  t.equal(oneSec.code, 0);
  const fr = parseFrames(oneSec.stdout);
  t.ok(fr.length > 40 && fr.length < 100, `about 1 s of frames (${fr.length})`);
  for (const f of fr) t.ok(f.timestamp - fr[0].timestamp < 1e9);
});

t.test('element tree (text): values by meaning, collapsed clusters, --blocks, --offsets', async (t) => {
  const [r, blocks, live, laced] = await Promise.all([
    run(['inspect', join(FIX, 'h264-aac-bframes.mkv')]),
    run(['inspect', join(FIX, 'h264-aac-bframes.mkv'), '--blocks']),
    run(['inspect', join(FIX, 'gstreamer-streamable.webm'), '--offsets', '--clusters']),
    run(['inspect', join(FIX, 'mkvmerge-xiph-lacing.mkv'), '--blocks']),
  ]);
  t.equal(r.code, 0);
  t.equal(r.stderr, '');
  t.match(r.stdout, /^EBML \(0x1A45DFA3\) size \d+\n {2}EBMLVersion \(0x4286\) size 1: 1\n/);
  t.match(r.stdout, /\n {2}DocType \(0x4282\) size 8: "matroska"\n/);
  t.match(r.stdout, /\nSegment \(0x18538067\) size 114274 \(111\.6 KiB\)\n/);
  t.match(r.stdout, /\n {4}Duration \(0x4489\) size 8: 00:00:03\.021000000 \(3021\)\n/);
  t.match(r.stdout, /\n {6}TrackType \(0x83\) size 1: video \(1\)\n/);
  t.match(r.stdout, /\n {6}DefaultDuration \(0x23E383\) size 4: 40 ms, 25 fps \(40000000\)\n/);
  t.match(r.stdout, /CodecID \(0x86\) size \d+: "V_MPEG4\/ISO\/AVC"/);
  // By default the Clusters are one line (a run of 3 similar ones), and no block is listed.
  t.notMatch(r.stdout, /SimpleBlock/);
  t.match(
    r.stdout,
    /\n {2}Clusters 1-3 \(0x1F43B675\) [\d.]+ KiB: 00:00:00\.000000000 - 00:00:03\.008000000, track 1: 75 blocks \(3 key\), track 2: 142 blocks \(142 key\), a cluster every [\d.]+ (s|ms), each starts on a keyframe\n/,
  );
  t.match(r.stdout, /\n {2}Cues \(0x1C53BB6B\) size \d+: 3 cue points, 00:00:00\.\d{9} - 00:00:02\.\d{9}, track 1\n/);
  t.match(
    r.stdout,
    /\n\(collapsed: 3 clusters in 1 line, 3 cue points, 4 seek entries; --clusters, --blocks, --cues, --all show more\)\n$/,
  );

  // --blocks: every block, as before.
  t.equal(blocks.code, 0);
  t.match(
    blocks.stdout,
    /\n {2}Cluster \(0x1F43B675\) size 32982 \(32\.2 KiB\)\n {4}CRC-32 \(0xBF\) size 4: 0x[0-9A-F]{8}\n/,
  );
  t.match(blocks.stdout, /\n {4}Timestamp \(0xE7\) size 1: 00:00:00\.021000000 \(21\)\n/);
  t.match(blocks.stdout, /\n {4}SimpleBlock \(0xA3\) size \d+: track 1, 00:00:00\.\d{9}, keyframe, 1 frame \(\d+\)\n/);
  t.equal(
    blocks.stdout.split('\n').filter((l) => /SimpleBlock/.test(l)).length,
    truthOf('h264-aac-bframes.mkv').packets.length,
  );

  t.equal(live.code, 0);
  t.match(live.stdout, /^EBML \(0x1A45DFA3\) size \d+ @0 header \d+ data @\d+\n/);
  t.match(live.stdout, /\nSegment \(0x18538067\) size unknown @\d+/);
  t.match(live.stdout, /\n {2}Cluster 1 \(0x1F43B675\) size unknown @\d+ header \d+ data @\d+: 00:00:00\.000000000 - /);
  t.equal(live.stdout.split('\n').filter((l) => /^ {2}Cluster \d+ /.test(l)).length, 3, 'one line per cluster');

  t.match(laced.stdout, /xiph lacing, \d+ frames \(/);
});

interface JNode {
  id: string;
  name: string;
  offset: number;
  headerSize: number;
  size: number | null;
  value?: unknown;
  block?: { track: number; frames: number[] };
  children?: JNode[];
}

function walk(nodes: JNode[], fn: (n: JNode, parent: JNode | undefined) => void, parent?: JNode): void {
  for (const n of nodes) {
    fn(n, parent);
    if (n.children) walk(n.children, fn, n);
  }
}

t.test('element tree --json', async (t) => {
  const cliName = 'gstreamer-streamable.webm';
  const cli = run(['inspect', join(FIX, cliName), '--json']);
  for (const name of fixtures) {
    const r = await inspect(join(FIX, name), { json: true });
    if (name === cliName) t.same(await cli, r, `${name}: the CLI prints the same, exit code ${r.code}`);
    t.equal(r.code, 0, name);
    const doc = JSON.parse(r.stdout) as { elements: JNode[]; errors: unknown[] };
    t.same(doc.errors, [], `${name}: no errors`);
    t.same(
      doc.elements.map((e) => e.name),
      ['EBML', 'Segment'],
      `${name}: top level`,
    );
    const [ebml, seg] = doc.elements as [JNode, JNode];
    t.match(ebml, { id: '0x1A45DFA3', offset: 0 });
    t.equal(seg.offset, ebml.offset + ebml.headerSize + (ebml.size ?? 0), `${name}: Segment follows EBML`);
    if (/pipe-live|gstreamer/.test(name)) t.equal(seg.size, null, `${name}: unknown-size Segment`);
    else t.equal(seg.size, statSync(join(FIX, name)).size - seg.offset - seg.headerSize, `${name}: Segment size`);
    // Each child lies inside its parent; laced blocks split into as many frames as ffprobe has packets.
    let laces = 0;
    const outside: string[] = [];
    walk(doc.elements, (n, p) => {
      if (
        p &&
        p.size !== null &&
        !(
          n.offset >= p.offset + p.headerSize &&
          n.offset + n.headerSize + (n.size ?? 0) <= p.offset + p.headerSize + p.size
        )
      )
        outside.push(`${n.name}@${n.offset}`);
      if (n.block) laces += n.block.frames.length;
    });
    t.same(outside, [], `${name}: every child lies inside its parent`);
    const truth = truthOf(name);
    t.equal(laces, truth.packets.length, `${name}: frames in blocks`);
  }
  const uid = await cli;
  const doc = JSON.parse(uid.stdout) as { elements: JNode[] };
  let trackUid: unknown;
  let codecPrivate: unknown;
  walk(doc.elements, (n) => {
    if (n.name === 'TrackUID') trackUid ??= n.value;
    if (n.name === 'CodecPrivate') codecPrivate ??= n.value;
  });
  t.ok(typeof trackUid === 'string' || typeof trackUid === 'number', 'TrackUID is a number or a decimal string');
  if (typeof trackUid === 'string') t.match(trackUid, /^\d+$/);
  t.match(codecPrivate, { binary: Number, hex: String });
});

t.test('--summary (text and json)', async (t) => {
  const [r, txt] = await Promise.all([
    run(['inspect', join(FIX, 'demo.webm'), '--summary', '--json']),
    run(['inspect', join(FIX, 'pipe-live.mkv'), '--summary']),
  ]);
  t.equal(r.code, 0);
  t.same(
    r,
    await inspect(join(FIX, 'demo.webm'), { summary: true, json: true }),
    'the CLI prints what runInspect prints',
  );
  const s = JSON.parse(r.stdout) as {
    docType: string;
    duration: number;
    bitrate: number;
    tracks: { number: number; codecId: string; frames: number; keyframes: number }[];
  };
  t.equal(s.docType, 'webm');
  t.ok(Math.abs(s.duration - 10e9) < 0.1e9, `duration ${s.duration}`);
  t.ok(s.bitrate > 300_000 && s.bitrate < 700_000, `bitrate ${s.bitrate}`);
  t.match(s.tracks, [
    { number: 1, codecId: 'V_VP8', frames: 300, keyframes: 10 },
    { number: 2, codecId: 'A_OPUS', frames: 501 },
  ]);

  for (const name of fixtures) {
    const j = await inspect(join(FIX, name), { summary: true, json: true });
    t.equal(j.code, 0, name);
    const sum = JSON.parse(j.stdout) as { tracks: { number: number; frames: number }[]; duration: number | null };
    const truth = truthOf(name);
    for (const st of truth.streams) {
      if (st.codec_type === 'attachment') continue;
      t.equal(
        sum.tracks.find((x) => x.number === st.index + 1)?.frames,
        truth.packets.filter((p) => p.stream_index === st.index).length,
        `${name} track ${st.index + 1}`,
      );
    }
    t.ok(sum.duration !== null && sum.duration > 0, `${name}: duration`);
  }

  t.equal(txt.code, 0);
  t.match(txt.stdout, /Duration: +00:00:0\d\.\d{9} \(measured from the frames\)/);
  t.match(txt.stdout, /#1 video V_MPEG4\/ISO\/AVC, 320x240/);
  t.match(txt.stdout, /75 frames \(\d+ keyframes\)/);
});

/** Inserts `garbage` bytes before the Cluster found after `after`. */
function damagedCopy(src: string, dst: string, after: number): void {
  const buf = readFileSync(src);
  const at = buf.indexOf(Buffer.from([0x1f, 0x43, 0xb6, 0x75]), after);
  const garbage = Buffer.alloc(200, 0x00);
  writeFileSync(dst, Buffer.concat([buf.subarray(0, at), garbage, buf.subarray(at)]));
}

t.test('damaged input: errors with offsets on stderr, recovered frames, exit 2', async (t) => {
  const demo = join(FIX, 'demo.webm');
  const total = truthOf('demo.webm').packets.length;
  const bad = join(tmp, 'garbage.webm');
  damagedCopy(demo, bad, 300_000);
  // Bytes overwritten inside a Cluster of an ffmpeg .mkv (which carries CRC-32 elements): CRC_MISMATCH.
  const crc = join(tmp, 'crc.mkv');
  const cbuf = Buffer.from(readFileSync(join(FIX, 'h264-aac-bframes.mkv')));
  cbuf.fill(0x55, 60000, 60010);
  writeFileSync(crc, cbuf);
  const cut = join(tmp, 'truncated.webm');
  const buf = readFileSync(demo);
  writeFileSync(cut, buf.subarray(0, Math.floor(buf.length * 0.6)));
  const [r, cr, c, tree, tj] = await Promise.all([
    run(['inspect', bad, '--frames', '--json']),
    run(['inspect', crc, '--frames', '--json']),
    run(['inspect', cut, '--frames', '--json']),
    run(['inspect', bad]),
    run(['inspect', bad, '--json']),
  ]);

  t.equal(r.code, 2, 'exit 2 on damage');
  t.match(r.stderr, /at byte \d+/, 'stderr names an offset');
  t.match(r.stderr, /mkvserve: damaged input: [A-Z_]+: /);
  const frames = parseFrames(r.stdout);
  // The inserted bytes also make the last Cluster overrun the Segment's declared size: reported once,
  // then the Segment is read as unknown-size, so nothing is lost.
  t.equal(frames.length, total, 'every frame recovered');
  t.match(r.stderr, /CHILD_OVERRUNS_PARENT: .*Segment size is wrong/, 'the wrong Segment size is reported');

  t.equal(cr.code, 2);
  t.match(cr.stderr, /CRC_MISMATCH: .* at byte \d+ in Segment > Cluster/);
  t.equal(parseFrames(cr.stdout).length, truthOf('h264-aac-bframes.mkv').packets.length, 'all frames still delivered');

  t.equal(c.code, 2);
  t.match(c.stderr, /TRUNCATED/);
  const cf = parseFrames(c.stdout);
  t.ok(cf.length > total * 0.4 && cf.length < total, `frames before the cut (${cf.length})`);

  t.equal(tree.code, 2);
  t.match(tree.stderr, /at byte \d+/);
  // The clusters before and after the damage are summed up apart; every block is still counted.
  t.match(tree.stdout, /\n {2}Clusters 1-5 \(0x1F43B675\) .*track 1: 150 blocks \(5 key\)/);
  t.match(tree.stdout, /\n {2}Clusters 6-9 \(0x1F43B675\) .*track 1: 120 blocks \(4 key\)/);

  t.equal(tj.code, 2);
  const doc = JSON.parse(tj.stdout) as { errors: { code: string; offset: number }[] };
  t.ok(doc.errors.length > 0);
  t.ok(doc.errors.every((e) => typeof e.offset === 'number'));
});

t.test('non-Matroska input (MPEG-TS from ffmpeg): clear message, exit 1', async (t) => {
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
    t.skip('ffmpeg not available: cannot make an MPEG-TS file', () => {});
    return;
  }
  writeFileSync(join(tmp, 'empty.mkv'), '');
  const modes = [[], ['--frames'], ['--summary', '--json']];
  const [e, ...results] = await Promise.all([
    run(['inspect', join(tmp, 'empty.mkv')]),
    ...modes.map((mode) => run(['inspect', ts, ...mode])),
  ]);
  for (const [i, mode] of modes.entries()) {
    const r = results[i];
    t.equal(r.code, 1, mode.join(' '));
    t.equal(r.stdout, '');
    t.match(r.stderr, /MPEG-TS/);
    t.match(r.stderr, /ffmpeg -i/);
    t.notMatch(r.stderr, /\n\s+at /);
  }
  t.equal(e.code, 1);
  t.match(e.stderr, /empty/);
});

t.test('stdin input', async (t) => {
  const name = 'vp9-opus.webm';
  const [r, s] = await Promise.all([
    run(['inspect', '-', '--frames', '--json'], join(FIX, name)),
    run(['inspect', '-', '--summary'], join(FIX, 'pipe-live.webm')),
  ]);
  t.equal(r.code, 0);
  checkAgainstTruth(t, name, parseFrames(r.stdout));
  t.equal(s.code, 0);
  t.match(s.stdout, /Input: +stdin/);
});

t.test('http URL input on a local socket', async (t) => {
  const name = 'mkvmerge-features.mkv';
  const body = readFileSync(join(FIX, name));
  const server = createServer((req, res) => {
    if (req.url === '/' + name) {
      res.writeHead(200, { 'content-type': 'video/x-matroska' });
      // Send in small pieces, like a live stream.
      let i = 0;
      const next = (): void => {
        if (i >= body.length) return void res.end();
        res.write(body.subarray(i, i + 4000));
        i += 4000;
        setImmediate(next);
      };
      next();
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => server.close());
  const addr = server.address();
  const base = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  const [r, m] = await Promise.all([
    run(['inspect', `${base}/${name}`, '--frames', '--json']),
    run(['inspect', `${base}/missing.mkv`]),
  ]);
  t.equal(r.code, 0);
  checkAgainstTruth(t, name, parseFrames(r.stdout));
  t.equal(m.code, 1);
  t.equal(m.stderr, `mkvserve: HTTP 404 Not Found from ${base}/missing.mkv\n`);
});

t.test('a closed stdout pipe (| head) ends quietly', async (t) => {
  const p = spawn(process.execPath, [BIN, 'inspect', join(FIX, 'demo.webm'), '--frames'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  p.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  await new Promise<void>((resolve) => p.stdout.once('data', () => resolve()));
  p.stdout.destroy();
  const code = await new Promise<number | null>((resolve) => p.on('close', (c) => resolve(c)));
  t.equal(code, 0);
  t.equal(stderr, '');

  // The same through a real shell pipe into head.
  const sh = spawnSync(
    'sh',
    [
      '-c',
      `"${process.execPath}" "${BIN}" inspect "${join(FIX, 'demo.webm')}" --frames --json | head -n 3; echo "rc=\${PIPESTATUS:-x}"`,
    ],
    { encoding: 'utf8' },
  );
  t.equal(sh.stdout.split('\n').filter((l) => l.startsWith('{')).length, 3);
  t.equal(sh.stderr, '');
});

t.test('--max-frames / --duration stop a live http source that never ends', async (t) => {
  const body = readFileSync(join(FIX, 'pipe-live.webm'));
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'video/webm' });
    let i = 0;
    const iv = setInterval(() => {
      if (i < body.length) res.write(body.subarray(i, (i += 2000)));
    }, 10);
    res.on('close', () => clearInterval(iv));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  const addr = server.address();
  const url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}/live`;
  const t0 = Date.now();
  const [r, d] = await Promise.all([
    run(['inspect', url, '--frames', '--json', '--max-frames', '20']),
    run(['inspect', url, '--summary', '--json', '--duration', '0.5']),
  ]);
  t.equal(r.code, 0);
  t.equal(parseFrames(r.stdout).length, 20);
  t.equal(d.code, 0);
  const s = JSON.parse(d.stdout) as { tracks: { frames: number }[] };
  t.ok(s.tracks[0].frames > 0 && s.tracks[0].frames < 75);
  t.ok(Date.now() - t0 < 15_000, 'stopped promptly');
});
