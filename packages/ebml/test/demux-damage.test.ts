// Damaged input: truncation at many offsets, random byte flips, junk between clusters, absurd declared
// sizes. The demuxer must never throw or hang, must report typed errors, must never deliver half a
// block, and must deliver the frames of intact clusters after the damage.
import t from 'tap';
import { EbmlError } from '../src/errors.js';
import { MatroskaDemuxer } from '../src/matroska/demuxer.js';
import type { Frame } from '../src/matroska/types.js';
import { readSize, UNKNOWN_SIZE, vintLength, writeSize } from '../src/vint.js';
import { load, mulberry32 } from '../testlib/build.js';

function run(bytes: Uint8Array, chunk = 4096) {
  const frames: Frame[] = [];
  const errors: unknown[] = [];
  const clusters: number[] = [];
  const d = new MatroskaDemuxer({
    onFrame: (f) => frames.push(f),
    onError: (e) => errors.push(e),
    onClusterStart: (_ts, off) => clusters.push(off),
  });
  for (let p = 0; p < bytes.length; p += chunk) d.push(bytes.subarray(p, p + chunk));
  d.end();
  return { frames, errors: errors as EbmlError[], clusters, allTyped: errors.every((e) => e instanceof EbmlError) };
}

/** Adds `n` to a known Segment size (keeping its width), so inserted bytes stay inside the Segment. */
function growSegment(b: Uint8Array, n: number): void {
  for (let i = 0; i < 200; i++) {
    if (b[i] === 0x18 && b[i + 1] === 0x53 && b[i + 2] === 0x80 && b[i + 3] === 0x67) {
      const p = i + 4;
      const len = vintLength(b[p]);
      const size = readSize(b, p, len);
      if (size !== UNKNOWN_SIZE) writeSize(b, p, size + n, len);
      return;
    }
  }
}

const key = (f: Frame) => `${f.track}/${f.timestamp}/${f.data.length}/${f.data[0]}/${f.data[f.data.length - 1]}`;
const same = (a: Frame, b: Frame) =>
  a.track === b.track &&
  a.timestamp === b.timestamp &&
  a.data.length === b.data.length &&
  a.data.every((x, i) => x === b.data[i]);

for (const name of ['vp9-opus.webm', 'h264-aac-bframes.mkv', 'gstreamer-streamable.webm', 'mkvmerge-features.mkv']) {
  const bytes = load(name);
  const ref = run(bytes);

  // Upper bound of each block's end: its offset + all its laces + generous header/lacing overhead.
  const blockEnd = new Map<number, number>();
  for (const f of ref.frames) blockEnd.set(f.offset!, (blockEnd.get(f.offset!) ?? f.offset! + 64) + f.data.length + 3);

  t.test(`${name}: truncation`, async (t) => {
    t.same(ref.errors, []);
    const rnd = mulberry32(7);
    const cuts = [1, 3, 4, 5, 20, 40, 100, 200, 300];
    for (let i = 0; i < 120; i++) cuts.push(Math.floor(rnd() * bytes.length));
    let bad = 0;
    for (const cut of cuts) {
      const r = run(bytes.subarray(0, cut), 1000);
      if (!r.allTyped) bad++;
      // Frames are a prefix of the full frame list, each one complete.
      if (r.frames.length > ref.frames.length || !r.frames.every((f, i) => same(f, ref.frames[i]))) bad++;
      // Only the last cluster can be affected: every frame of a block that ends before the cut minus
      // one cluster is there (frames are in file order).
      const expectAtLeast = ref.frames.filter((f) => blockEnd.get(f.offset!)! < cut).length;
      if (r.frames.length < expectAtLeast) bad++;
    }
    t.equal(bad, 0, `${cuts.length} truncations: typed errors, complete frames only, nothing lost before the cut`);
  });

  t.test(`${name}: random byte flips`, async (t) => {
    const rnd = mulberry32(11);
    let untyped = 0;
    let totalFrames = 0;
    for (let i = 0; i < 60; i++) {
      const b = bytes.slice();
      const flips = 1 + Math.floor(rnd() * 20);
      for (let k = 0; k < flips; k++) b[Math.floor(rnd() * b.length)] = Math.floor(rnd() * 256);
      const t0 = performance.now();
      const r = run(b, 1 + Math.floor(rnd() * 10000));
      if (performance.now() - t0 > 5000) t.fail('too slow');
      if (!r.allTyped) untyped++;
      totalFrames += r.frames.length;
    }
    t.equal(untyped, 0, 'all errors typed, no exceptions');
    t.ok(totalFrames > 0);
  });

  t.test(`${name}: junk between clusters`, async (t) => {
    const rnd = mulberry32(3);
    const cl = ref.clusters;
    t.ok(cl.length >= 3, 'several clusters');
    const kinds = ['zeros', 'text', 'random'] as const;
    for (const [k, kind] of [1, cl.length - 1].flatMap((k) => kinds.map((kind) => [k, kind] as const))) {
      const at = cl[k];
      const junk = new Uint8Array(500 + k).map((_, i) =>
        kind === 'zeros'
          ? 0
          : kind === 'text'
            ? 'Lorem ipsum dolor sit amet, '.charCodeAt(i % 28)
            : Math.floor(rnd() * 256),
      );
      const b = new Uint8Array(bytes.length + junk.length);
      b.set(bytes.subarray(0, at), 0);
      b.set(junk, at);
      b.set(bytes.subarray(at), at + junk.length);
      growSegment(b, junk.length);
      const r = run(b, 777);
      t.ok(r.allTyped);
      t.ok(r.errors.length > 0, `${kind} junk before cluster ${k} reported`);
      // Every frame of the clusters after the junk is delivered.
      const after = ref.frames.filter((f) => f.offset! >= at);
      const got = new Set(r.frames.filter((f) => f.offset! >= at + junk.length).map(key));
      const missing = after.filter((f) => !got.has(key(f)));
      // Unknown IDs directly inside a Segment/Cluster are damage (not unknown children), so junk can
      // not swallow the next Cluster's header: every later frame must come through.
      t.equal(missing.length, 0, `${kind} junk before cluster ${k}: all ${after.length} later frames delivered`);
      // And frames before the junk too.
      const before = ref.frames.filter((f) => f.offset! < cl[k - 1 >= 0 ? k - 1 : 0]).length;
      t.ok(r.frames.filter((f) => f.offset! < at).length >= before);
    }
  });
}

t.test('2^50 declared sizes: no crash, no hang, typed errors', async (t) => {
  const head = load('vp9-opus.webm');
  const ref = run(head);
  const first = ref.clusters[0];
  // Cluster with an 8-byte size of 2^50.
  const size50 = [0x01, 0x04, 0, 0, 0, 0, 0, 0]; // 2^50
  for (const tail of [
    [0x1f, 0x43, 0xb6, 0x75, ...size50, 0xe7, 0x81, 0x00],
    [0x1f, 0x43, 0xb6, 0x75, 0x88, 0xe7, 0x81, 0x00, 0xa3, ...size50, 0x81, 0, 0, 0x80],
    [0x1f, 0x43, 0xb6, 0x75, ...size50, 0xe7, 0x81, 0x00, 0xa0, ...size50, 0xa1, ...size50],
    [0xec, ...size50, 1, 2, 3],
  ]) {
    const b = new Uint8Array(first + tail.length + 1000);
    b.set(head.subarray(0, first));
    b.set(tail, first);
    const t0 = performance.now();
    const r = run(b, 333);
    t.ok(performance.now() - t0 < 2000, 'fast');
    t.ok(r.allTyped, 'typed');
    t.ok(r.errors.length > 0, `errors: ${r.errors.map((e) => e.code).join(',')}`);
  }
});

t.test('garbage input and empty input', async (t) => {
  const r = run(new Uint8Array(0));
  t.same(
    r.errors.map((e) => e.code),
    ['NOT_MATROSKA'],
  );
  const rnd = mulberry32(5);
  for (let i = 0; i < 50; i++) {
    const b = new Uint8Array(2000).map(() => Math.floor(rnd() * 256));
    b.set([0x1a, 0x45, 0xdf, 0xa3]);
    const x = run(b, 1 + Math.floor(rnd() * 500));
    t.ok(x.allTyped);
  }
});

t.test('bytes inserted without fixing the Segment size: every frame is kept (lenient Segment end)', async (t) => {
  // Like FFmpeg: the Cluster that now overruns the Segment's declared end, and the Cues/Clusters after
  // it, are read; one non-fatal CHILD_OVERRUNS_PARENT says the Segment size is wrong.
  for (const name of ['vp9-opus.webm', 'h264-aac-bframes.mkv', 'mkvmerge-features.mkv']) {
    const bytes = load(name);
    const ref = run(bytes);
    // A 40-byte Void element inserted in front of the 2nd Cluster: valid EBML, but the Segment size is now short.
    const at = ref.clusters[1];
    const voidEl = new Uint8Array(40);
    voidEl[0] = 0xec;
    voidEl[1] = 0x80 | 38;
    const bad = new Uint8Array(bytes.length + 40);
    bad.set(bytes.subarray(0, at), 0);
    bad.set(voidEl, at);
    bad.set(bytes.subarray(at), at + 40);
    for (const chunk of [bad.length, 4096, 333]) {
      const r = run(bad, chunk);
      t.same(
        r.errors.map((e) => [e.code, e.fatal]),
        [['CHILD_OVERRUNS_PARENT', false]],
        `${name}/${chunk}: one non-fatal error`,
      );
      t.equal(r.frames.length, ref.frames.length, `${name}/${chunk}: all ${ref.frames.length} frames`);
      t.ok(
        r.frames.every((f, i) => same(f, ref.frames[i])),
        `${name}/${chunk}: frames identical`,
      );
    }
  }
});
