// Two files in one input (`cat a.webm a.webm | mkvserve -`, a URL body holding two files): the demuxer's
// events are applied in order (the second header after the first file's last frame, even when both
// arrive in one chunk), and a second file with the same layout is spliced: one Segment, timestamps
// increasing, every frame delivered, no client lost (issue 8 item 23).
import t from 'tap';
import { readFileSync } from 'node:fs';
import { MkvServer } from '../src/server.js';
import type { Input } from '../src/inputs/open.js';
import { FIX, get, parseMedia, ffmpegErrors, hasFfmpeg, waitFor } from '../testlib/helpers.js';

/** An input delivering `data` in chunks of `size` bytes once `gate` resolves. */
function bytesInput(data: Buffer, size: number, gate: Promise<void>): () => Promise<Input> {
  return async () => ({
    kind: 'url',
    name: 'two-files',
    chunks: (async function* () {
      await gate;
      for (let off = 0; off < data.length; off += size) yield data.subarray(off, off + size);
    })(),
    close: () => {},
  });
}

async function capture(a: string, b: string, chunk: number) {
  const one = readFileSync(FIX(a));
  const two = readFileSync(FIX(b));
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const s = new MkvServer({
    port: 0,
    mounts: [
      { name: 'stream', input: 'two-files', open: bytesInput(Buffer.concat([one, two]), chunk, gate), speed: 4 },
    ],
  });
  await s.start();
  const mount = s.mounts.get('stream')!;
  const cap = get(s.port, '/stream', 15_000);
  await waitFor(() => mount.pending.length === 1, 5000, 'the client waiting for the header');
  release();
  const r = await cap;
  await s.done;
  return { r, s, one, two };
}

function framesOf(file: string): number {
  return parseMedia(readFileSync(FIX(file))).frames.length;
}

t.test('same layout twice, chunks straddling the second header: spliced, every frame, in order', async (t) => {
  // 64 KiB chunks: the chunk holding the second EBML header also holds the first file's last frames.
  const { r, s } = await capture('vp9-opus.webm', 'vp9-opus.webm', 64 * 1024);
  t.equal(r.status, 200);
  t.ok(r.ended, 'the response ended cleanly at the end of the input');
  const m = parseMedia(r.body);
  t.same(m.errors, []);
  t.equal(m.headers, 1, 'one init part: one Segment');
  const n = framesOf('vp9-opus.webm');
  t.equal(m.frames.length, 2 * n, `all ${2 * n} frames`);
  for (const track of new Set(m.frames.map((f) => f.track))) {
    const ts = m.frames.filter((f) => f.track === track).map((f) => f.timestamp);
    let mono = true;
    for (let i = 1; i < ts.length; i++) if (ts[i] < ts[i - 1]) mono = false;
    t.ok(mono, `track ${track}: timestamps never go backwards`);
  }
  const st = s.status().mounts[0];
  t.equal(st.input.splices, 1, 'one splice counted');
  t.equal(st.input.trackChanges, 0);
  t.equal(st.drops, 0, 'no client dropped');
  if (hasFfmpeg) t.equal(ffmpegErrors(r.body, 'webm'), '', 'ffmpeg decodes the capture without an error');
});

t.test('997-byte chunks do not change the result', async (t) => {
  const { r } = await capture('pipe-live.webm', 'pipe-live.webm', 997);
  const m = parseMedia(r.body);
  t.equal(m.headers, 1);
  t.equal(m.frames.length, 2 * framesOf('pipe-live.webm'));
});

t.test('a second file with another layout ends the clients cleanly after the first', async (t) => {
  const { r } = await capture('vp9-opus.webm', 'vp8-vorbis.webm', 64 * 1024);
  t.ok(r.ended, 'ended cleanly');
  const m = parseMedia(r.body);
  t.same(m.errors, []);
  t.equal(m.headers, 1, 'no second EBML header sent to a connected client');
  t.equal(m.frames.length, framesOf('vp9-opus.webm'), 'the whole first file');
  if (hasFfmpeg) t.equal(ffmpegErrors(r.body, 'webm'), '', 'ffmpeg decodes the capture without an error');
});
