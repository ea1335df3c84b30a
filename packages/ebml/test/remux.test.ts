// The library's streaming remux (@mkvserve/ebml/node `remux`, issue 8 item 12): every kind of source and
// destination gives the input's frames in a clean output; what cannot be written rejects and leaves no
// file behind; `stop` finishes a recording, `signal` cancels it; memory stays bounded on a large input.
import t from 'tap';
import type { Test } from 'tap';
import { spawnSync } from 'node:child_process';
import { createReadStream, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { demuxSync } from '../src/matroska/demuxer.js';
import type { Frame } from '../src/matroska/types.js';
import { remux } from '../src/node/remux.js';
import type { RemuxResult } from '../src/node/remux.js';
import { Id } from '../src/schema.generated.js';
import { cat, el, fixturesDir, load, str, uint } from '../testlib/build.js';

const tmp = mkdtempSync(join(tmpdir(), 'ebml-remux-'));
t.teardown(() => rmSync(tmp, { recursive: true, force: true }));
const fixture = (n: string) => join(fixturesDir, n);
const HAVE_MKVINFO = !spawnSync('mkvinfo', ['--version']).error;

/** What must survive a remux: track, timestamp (in ticks), keyframe flag and bytes of every frame. */
const sig = (frames: Frame[], scale: number) =>
  frames.map(
    (f) => `${f.track} ${Math.round(f.timestamp / scale)} ${f.keyframe} ${Buffer.from(f.data).toString('base64')}`,
  );

function sameFrames(t: Test, out: Uint8Array, src: Uint8Array, what: string): ReturnType<typeof demuxSync> {
  const a = demuxSync(src);
  const b = demuxSync(out);
  t.same(
    b.errors.map((e) => e.message),
    [],
    `${what}: output demuxes cleanly`,
  );
  const scale = a.header!.info.timestampScale;
  t.same(sig(b.frames, scale), sig(a.frames, scale), `${what}: same frames`);
  return b;
}

function mkvinfoClean(t: Test, path: string): void {
  if (!HAVE_MKVINFO) return;
  const r = spawnSync('mkvinfo', ['-v', path], { encoding: 'utf8', maxBuffer: 64 << 20 });
  t.equal(r.status, 0, 'mkvinfo accepts the output');
  t.notMatch(r.stdout + r.stderr, /(^|\n)\s*(Error|Warning)/i, 'mkvinfo: no error or warning');
}

const noPartials = (t: Test, dir: string) =>
  t.same(
    readdirSync(dir).filter((f) => f.includes('partial')),
    [],
    'no temporary file left behind',
  );

t.test('file path -> file path: seekable output with the same frames', async (t) => {
  for (const name of ['pipe-live.webm', 'gstreamer-streamable.webm', 'h264-aac-bframes.mkv', 'mkvmerge-features.mkv']) {
    const out = join(tmp, 'out-' + name);
    const r = await remux(fixture(name), out);
    const b = sameFrames(t, readFileSync(out), load(name), name);
    t.equal(r.frames, b.frames.length, `${name}: frames counted`);
    t.equal(r.errorCount, 0);
    t.equal(r.bytesIn, load(name).length);
    t.equal(r.bytesOut, readFileSync(out).length);
    t.ok(b.cues.length > 0 && r.cuePoints === b.cues.length, `${name}: Cues`);
    t.ok((b.header!.info.duration ?? 0) > 2e9, `${name}: Duration`);
    t.equal(b.header!.segmentSize > 0, true, `${name}: known Segment size`);
    t.equal(b.header!.ebml.docType, name.endsWith('.webm') ? 'webm' : 'matroska', `${name}: DocType kept`);
    mkvinfoClean(t, out);
  }
  // mkvmerge writes Tags after the Clusters: read through the SeekHead of a file path and written.
  const src = demuxSync(load('mkvmerge-features.mkv'));
  const out = demuxSync(readFileSync(join(tmp, 'out-mkvmerge-features.mkv')));
  t.same(out.tags, src.tags, 'tags kept');
  t.same(out.chapters, src.chapters, 'chapters kept');
  t.same(
    out.attachments.map((a) => a.name),
    ['notes.txt'],
  );
  noPartials(t, tmp);
});

t.test('sources: Node Readable, web ReadableStream, chunk iterables', async (t) => {
  const name = 'mkvmerge-features.mkv';
  const bytes = load(name);
  const sources: [string, () => Parameters<typeof remux>[0]][] = [
    ['Readable', () => createReadStream(fixture(name), { highWaterMark: 3000 })],
    ['web ReadableStream', () => new Blob([bytes]).stream()],
    ['array of chunks', () => [bytes.subarray(0, 1000), bytes.subarray(1000, 40_000), bytes.subarray(40_000)]],
    [
      'async generator',
      () =>
        (async function* () {
          for (let p = 0; p < bytes.length; p += 777) yield bytes.subarray(p, p + 777);
        })(),
    ],
  ];
  for (const [what, make] of sources) {
    const out = join(tmp, `src-${what.replace(/ /g, '-')}.mkv`);
    const r = await remux(make(), out);
    const b = sameFrames(t, readFileSync(out), bytes, what);
    // No SeekHead read-ahead from a stream: the Tags after the Clusters are appended after the Cues.
    t.equal(b.tags.length, demuxSync(bytes).tags.length, `${what}: late Tags kept`);
    t.equal(r.lateMetadataLost, false);
  }
});

t.test('destinations: Node Writable and web WritableStream get a live-shaped stream', async (t) => {
  const name = 'h264-aac-bframes.mkv';
  const pass = new PassThrough();
  const got: Buffer[] = [];
  pass.on('data', (d: Buffer) => got.push(d));
  const ended = new Promise((r) => pass.on('end', r));
  const r = await remux(fixture(name), pass, { highWaterMark: 4096 });
  await ended;
  const live = sameFrames(t, Buffer.concat(got), load(name), 'Node Writable');
  t.equal(live.header!.segmentSize, -1, 'unknown-size Segment (a stream cannot be patched)');
  t.equal(r.outputClosed, false);

  const parts: Uint8Array[] = [];
  const ws = new WritableStream<Uint8Array>({ write: (c) => void parts.push(c) });
  await remux(fixture(name), ws, { highWaterMark: 8192 });
  sameFrames(t, cat(parts), load(name), 'web WritableStream');
  t.ok(parts.length > 1, `${parts.length} writes`);
});

t.test('a destination that goes away stops the remux quietly', async (t) => {
  const pass = new PassThrough({ highWaterMark: 1024 });
  let n = 0;
  pass.on('data', () => {
    if (++n === 2) pass.destroy();
  });
  const r = await remux(fixture('demo.webm'), pass, { highWaterMark: 4096 });
  t.equal(r.outputClosed, true);
  t.ok(r.bytesIn < load('demo.webm').length, 'reading stopped early');
  t.equal(r.errorCount, 0, 'the cut input is not reported as damage');
});

t.test('nothing to write: rejects with a typed error, leaves no file', async (t) => {
  const dir = join(tmp, 'rejects');
  mkdirSync(dir);
  const out = join(dir, 'out.mkv');
  await t.rejects(remux([new TextEncoder().encode('#EXTM3U\n#EXT-X-VERSION:3\n')], out), {
    name: 'EbmlError',
    code: 'NOT_MATROSKA',
  });
  await t.rejects(remux([load('vp9-opus.webm').subarray(0, 200)], out), { code: 'TRUNCATED' });
  await t.rejects(remux(fixture('vp9-opus.webm'), fixture('vp9-opus.webm')), /must not be the input/);
  await t.rejects(remux(fixture('vp9-opus.webm'), dir), /is a directory/);
  await t.rejects(remux(fixture('no-such-file.webm'), out), { code: 'ENOENT' });
  t.notOk(existsSync(out));
  noPartials(t, dir);
});

t.test('damaged input: what can be recovered is written, problems counted', async (t) => {
  const bytes = load('demo.webm');
  const half = bytes.subarray(0, bytes.length >> 1);
  const seen: string[] = [];
  const out = join(tmp, 'half.webm');
  const r = await remux([half], out, { onError: (e) => seen.push(e.code) });
  t.same(seen, ['TRUNCATED']);
  t.equal(r.errorCount, 1);
  t.equal(r.errors[0].code, 'TRUNCATED');
  const b = demuxSync(readFileSync(out));
  t.same(b.errors, [], 'the output is clean');
  t.ok(b.frames.length > 300, `${b.frames.length} frames recovered`);
  t.ok(b.cues.length > 0);
});

/** A source that delivers `bytes` in pieces and then never ends (a live pipe). */
function endless(bytes: Uint8Array, piece: number): AsyncIterable<Uint8Array> & { returned: boolean } {
  const src = {
    returned: false,
    async *[Symbol.asyncIterator]() {
      try {
        for (let p = 0; p < bytes.length; p += piece) yield bytes.subarray(p, p + piece);
        await new Promise(() => {}); // the pipe stays open
      } finally {
        src.returned = true;
      }
    },
  };
  return src;
}

t.test('stop: a recording from an endless source is finished properly', async (t) => {
  const bytes = load('pipe-live.webm');
  const stop = new AbortController();
  const out = join(tmp, 'recording.webm');
  let result: RemuxResult | undefined;
  const done = remux(endless(bytes.subarray(0, 60_000), 5000), out, {
    stop: stop.signal,
    onProgress: (p) => {
      if (p.bytesIn >= 60_000) setTimeout(() => stop.abort(), 50);
    },
  }).then((r) => (result = r));
  await done;
  t.equal(result!.stopped, true);
  t.equal(result!.errorCount, 0, 'a cut last block is not damage');
  const b = demuxSync(readFileSync(out));
  t.same(b.errors, []);
  t.ok(b.frames.length > 50, `${b.frames.length} frames`);
  t.ok((b.header!.info.duration ?? 0) > 1e9, 'Duration');
  mkvinfoClean(t, out);
});

t.test('a source that fails midway: the output holds what was received', async (t) => {
  const bytes = load('pipe-live.webm');
  const failing = (async function* () {
    yield bytes.subarray(0, 50_000);
    throw new Error('connection reset');
  })();
  const out = join(tmp, 'reset.webm');
  const r = await remux(failing, out);
  t.match(r.inputError?.message, /connection reset/);
  t.equal(r.errorCount, 0, 'not counted as damage: the input error is reported on its own');
  const b = demuxSync(readFileSync(out));
  t.same(b.errors, []);
  t.ok(b.frames.length > 50 && b.frames.length < demuxSync(bytes).frames.length, `${b.frames.length} frames kept`);
  // Before the header: nothing to keep, the error is the rejection.
  const early = (async function* () {
    yield bytes.subarray(0, 100);
    throw new Error('connection refused');
  })();
  await t.rejects(remux(early, join(tmp, 'early.webm')), /connection refused/);
  t.notOk(existsSync(join(tmp, 'early.webm')));
});

t.test('signal: cancelling rejects and removes the partial file', async (t) => {
  const dir = join(tmp, 'cancel');
  mkdirSync(dir);
  const ac = new AbortController();
  const p = remux(endless(load('pipe-live.webm').subarray(0, 60_000), 5000), join(dir, 'x.webm'), {
    signal: ac.signal,
    onProgress: (q) => {
      if (q.bytesIn >= 60_000) setTimeout(() => ac.abort(new Error('user cancelled')), 20);
    },
  });
  await t.rejects(p, /user cancelled/);
  t.same(readdirSync(dir), [], 'nothing left in the output directory');
});

// ---- bounded memory ------------------------------------------------------------------------------------

/** A ~`mb` MiB synthetic WebM, made while it is read: one video track, 1 MiB Clusters of 32 KiB frames. */
function bigInput(mb: number): AsyncIterable<Uint8Array> {
  const head = cat([
    el(Id.EBML, [str(Id.DocType, 'webm'), uint(Id.DocTypeVersion, 4), uint(Id.DocTypeReadVersion, 2)]),
    el(Id.Segment, [], { unknown: true }),
    el(Id.Info, [uint(Id.TimestampScale, 1_000_000)]),
    el(Id.Tracks, [
      el(Id.TrackEntry, [
        uint(Id.TrackNumber, 1),
        uint(Id.TrackUID, 1),
        uint(Id.TrackType, 1),
        str(Id.CodecID, 'V_VP8'),
        el(Id.Video, [uint(Id.PixelWidth, 64), uint(Id.PixelHeight, 64)]),
      ]),
    ]),
  ]);
  return {
    async *[Symbol.asyncIterator]() {
      yield head;
      for (let c = 0; c < mb; c++) {
        const blocks: Uint8Array[] = [];
        for (let i = 0; i < 32; i++) {
          const b = new Uint8Array(4 + 32 * 1024 - 16);
          b.set([0x81, (i * 20) >> 8, (i * 20) & 0xff, i === 0 ? 0x80 : 0], 0);
          b.fill(c & 0xff, 4);
          blocks.push(el(Id.SimpleBlock, b));
        }
        yield el(Id.Cluster, [uint(Id.Timestamp, c * 640), ...blocks]);
      }
    },
  };
}

t.test('bounded memory: a 192 MiB input never holds more than a few MiB of buffers', async (t) => {
  const out = join(tmp, 'big.webm');
  let peak = 0;
  const sample = () => {
    const m = process.memoryUsage();
    peak = Math.max(peak, m.arrayBuffers);
  };
  const before = process.memoryUsage().arrayBuffers;
  // With the stop signal wired (as the CLI does): a race per read must not keep chunks reachable.
  const r = await remux(bigInput(192), out, { onProgress: sample, stop: new AbortController().signal });
  t.equal(r.frames, 192 * 32);
  t.ok(r.bytesIn > 190 * 1024 * 1024, `${(r.bytesIn / 1048576).toFixed(0)} MiB read`);
  const grew = (peak - before) / 1048576;
  t.comment(`array buffers: ${(before / 1048576).toFixed(1)} MiB before, peak ${(peak / 1048576).toFixed(1)} MiB`);
  // Holding the input or the output would take 192 MiB; the remux keeps one chunk in and ~1 MiB out.
  t.ok(grew < 64, `array buffers grew by ${grew.toFixed(1)} MiB (< 64)`);
  const d = demuxSync(readFileSync(out));
  t.same(d.errors, []);
  t.equal(d.frames.length, 192 * 32);
  rmSync(out);
});
