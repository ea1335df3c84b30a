// Node adapters: demuxBatches/demuxFrames over a file path, a Node Readable, a web ReadableStream and
// plain chunk iterables, and the createDemuxStream Transform, all give the same frames as the sync core.
import t from 'tap';
import { createReadStream, readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { join } from 'node:path';
import { demuxSync } from '../src/matroska/demuxer.js';
import type { Frame } from '../src/matroska/types.js';
import { createDemuxStream, demuxAll, demuxBatches, demuxFrames } from '../src/node/index.js';
import type { DemuxBatch } from '../src/node/index.js';
import { fixturesDir } from '../testlib/build.js';

const sig = (frames: Frame[]) =>
  frames.map(
    (f) =>
      `${f.track} ${f.timestamp} ${f.duration} ${f.keyframe} ${f.offset} ${f.data.length} ${Buffer.from(f.data).toString('base64').slice(0, 40)}`,
  );

for (const name of ['h264-aac-bframes.mkv', 'mkvmerge-features.mkv', 'gstreamer-streamable.webm']) {
  t.test(name, async (t) => {
    const path = join(fixturesDir, name);
    const bytes = new Uint8Array(readFileSync(path));
    const ref = demuxSync(bytes);
    t.same(ref.errors, []);
    const want = sig(ref.frames);

    const fromPath: Frame[] = [];
    for await (const f of demuxFrames(path, { highWaterMark: 5000 })) fromPath.push(f);
    t.same(sig(fromPath), want, 'demuxFrames(path) yields single frames');

    const fromReadable: Frame[] = [];
    let header = 0;
    for await (const b of demuxBatches(createReadStream(path, { highWaterMark: 1234 }))) {
      if (b.header) header++;
      fromReadable.push(...b.frames);
      t.ok(!b.header || fromReadable.length === b.frames.length, 'header arrives with or before the first frames');
    }
    t.equal(header, 1);
    t.same(sig(fromReadable), want, 'demuxBatches(Readable)');

    const web = Readable.toWeb(
      Readable.from([bytes.subarray(0, 777), bytes.subarray(777)]),
    ) as unknown as ReadableStream<Uint8Array>;
    const fromWeb: Frame[] = [];
    for await (const f of demuxFrames(web)) fromWeb.push(f);
    t.same(sig(fromWeb), want, 'demuxFrames(web ReadableStream)');

    const all = await demuxAll([bytes.subarray(0, 100), bytes.subarray(100)]);
    t.same(sig(all.frames), want, 'demuxAll(iterable)');
    t.same(all.cues, ref.cues);
    t.same(all.attachments, ref.attachments);
    t.same(all.tags.length, ref.tags.length);

    const batches: DemuxBatch[] = [];
    await pipeline(
      createReadStream(path, { highWaterMark: 4096 }),
      createDemuxStream(),
      async (src: AsyncIterable<DemuxBatch>) => {
        for await (const b of src) batches.push(b);
      },
    );
    t.same(sig(batches.flatMap((b) => b.frames)), want, 'createDemuxStream Transform');
    t.ok(
      batches.some((b) => b.header),
      'header delivered',
    );
    t.ok(batches.flatMap((b) => b.clusters).length > 0, 'cluster starts delivered');
  });
}

t.test('not matroska through the adapters', async (t) => {
  const batches: DemuxBatch[] = [];
  for await (const b of demuxBatches([new TextEncoder().encode('#EXTM3U\n#EXT-X-VERSION:3\n')])) batches.push(b);
  t.equal(batches.length, 1);
  t.equal(batches[0].errors[0].code, 'NOT_MATROSKA');
  t.match(batches[0].errors[0].message, /HLS playlist/);
  await t.rejects(
    async () => {
      for await (const _ of demuxBatches([new Uint8Array(5000)], { throwOnFatal: true })) void _;
    },
    { code: 'NOT_MATROSKA' },
  );
});

t.test('file paths are read in 1 MiB chunks by default (fewer straddling frames, fewer iterations)', async (t) => {
  const { DEFAULT_FILE_HWM } = await import('../src/node/index.js');
  t.equal(DEFAULT_FILE_HWM, 1 << 20);
  // demo.webm (~600 KB) fits one default read: one batch with every frame (64 KiB reads gave ten).
  const path = join(fixturesDir, 'demo.webm');
  const ref = demuxSync(new Uint8Array(readFileSync(path)));
  const batches: DemuxBatch[] = [];
  for await (const b of demuxBatches(path)) batches.push(b);
  t.equal(batches.length, 1, 'one read, one batch');
  t.equal(batches[0].frames.length, ref.frames.length);
  const small: DemuxBatch[] = [];
  for await (const b of demuxBatches(path, { highWaterMark: 65536 })) small.push(b);
  t.ok(small.length >= 9, `an explicit highWaterMark is still honoured (${small.length} batches)`);
});

t.test('demuxFrames: frames with fields in plain JS, early break releases the file', async (t) => {
  // The issue: `for await (const f of demuxFrames(p)) console.log(f.track, f.timestamp)` printed
  // "undefined undefined" because arrays were yielded.
  const path = join(fixturesDir, 'vp9-opus.webm');
  const seen: string[] = [];
  for await (const f of demuxFrames(path)) {
    seen.push(`${typeof f.track} ${typeof f.timestamp} ${f.data instanceof Uint8Array}`);
    if (seen.length === 10) break;
  }
  t.same(new Set(seen), new Set(['number number true']), 'every item is a Frame');
  t.equal(seen.length, 10);
  // Errors do not end the iteration; throwOnFatal makes a fatal one reject it.
  const frames: Frame[] = [];
  for await (const f of demuxFrames([readFileSync(path).subarray(0, 30000)])) frames.push(f);
  t.ok(frames.length > 10, 'frames of a truncated input');
  await t.rejects(async () => {
    for await (const f of demuxFrames([new Uint8Array(5000)], { throwOnFatal: true })) void f;
  }, /NOT_MATROSKA|not Matroska|does not look/i);
});
