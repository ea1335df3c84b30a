// A browser recording served from disk (issue 8 item 2): a MediaRecorder WebM (unknown-size Segment
// and Clusters, no Cues, no Duration; testlib/media/mediarecorder.webm, made by
// testlib/make-mediarecorder.mjs with headless Chromium) looks live by its header, but a file input is
// always paced: it plays in real time to late clients, and the server does not exit while they join.
import t from 'tap';
import { fileURLToPath } from 'node:url';
import { MkvServer } from '../src/server.js';
import { get, parseMedia, videoTrack, mediaSpan, ffmpegErrors, hasFfmpeg, sleep } from '../testlib/helpers.js';

const REC = fileURLToPath(new URL('../testlib/media/mediarecorder.webm', import.meta.url));

t.test('a MediaRecorder recording from disk is paced: late clients get it in real time', async (t) => {
  const speed = 2; // 6 s of media in ~3 s
  const s = new MkvServer({ port: 0, mounts: [{ name: 'rec', input: REC, speed }] });
  const t0 = performance.now();
  await s.start();
  t.teardown(() => s.stop(0));
  const first = get(s.port, '/rec', 10_000);
  await sleep(1500); // ~3 s of media in
  const lateAt = performance.now();
  const late = await get(s.port, '/rec', 10_000);
  const lateMs = performance.now() - lateAt;
  const a = await first;
  await s.done;
  const total = (performance.now() - t0) / 1000;
  const st = s.status().mounts[0];
  t.equal(st.input.pacing, 'file', 'paced like a file although its header looks live');
  t.ok(total > 2.4, `the server served the 6 s recording for ${total.toFixed(2)} s at ${speed}x (unpaced: ~30 ms)`);
  t.ok(a.ended && late.ended, 'both responses ended cleanly at the end');
  const ma = parseMedia(a.body);
  t.ok(mediaSpan(ma.frames) > 5.5, `the first client got the whole recording (${mediaSpan(ma.frames).toFixed(2)} s)`);
  const ml = parseMedia(late.body);
  const span = mediaSpan(ml.frames);
  // Joined ~3 s in: it gets the rest (~3 s) plus at most one GOP (1 s) of burst, over ~1.5 s of wall time.
  t.ok(span > 1.5 && span < 4.6, `the late client got ${span.toFixed(2)} s of media`);
  t.ok(lateMs > 900, `... spread over ${lateMs.toFixed(0)} ms (real time at ${speed}x), not at once`);
  t.ok(ml.frames.find((f) => f.track === videoTrack(ml))?.keyframe, 'the late client starts on a keyframe');
  if (hasFfmpeg) t.equal(ffmpegErrors(late.body, 'webm'), '', 'ffmpeg decodes the late capture without an error');
});
