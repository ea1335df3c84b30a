// A real browser plays what we serve: headless Chromium (Debian's, driven by playwright-core) opens the
// server's player page for a live VP9/Opus WebM joined 3 s after it started, and must play it: no media
// error, the video size known, currentTime advancing second after second, frames decoded. Skips with a
// clear message when Chromium is not installed (`apt-get install chromium`; .ci/run installs it).
import t from 'tap';
import { FIX, runCli, sleep } from '../testlib/helpers.js';
import { launchChromium, noChromium, watchedPage } from '../testlib/browser.js';
import type { InPage } from '../testlib/browser.js';

interface VideoState {
  t: number;
  w: number;
  h: number;
  err: number | null;
  frames: number;
}

t.test('Chromium plays a live WebM joined late from the server page', { skip: noChromium }, async (t) => {
  const srv = runCli(['--loop', '--port', '0', '--quiet', FIX('vp9-opus.webm')], { stdin: 'ignore' });
  t.teardown(() => srv.child.kill('SIGKILL'));
  const streamUrl = await srv.url;
  await sleep(3000); // join late: the first video frame it gets must still be a keyframe
  const browser = await launchChromium();
  t.teardown(() => browser.close());
  const w = await watchedPage(browser);
  await w.page.goto(`${streamUrl}/player`);
  const states: VideoState[] = [];
  for (let s = 0; s < 10; s++) {
    await sleep(1000);
    states.push(
      await w.page.evaluate(() => {
        const v = (globalThis as unknown as InPage).document.querySelector('video')!;
        return {
          t: v.currentTime,
          w: v.videoWidth,
          h: v.videoHeight,
          err: v.error ? v.error.code : null,
          frames: v.getVideoPlaybackQuality().totalVideoFrames,
        };
      }),
    );
  }
  const last = states[states.length - 1];
  t.equal(last.err, null, 'no media error');
  t.same(await w.mediaErrors(), [], 'no error event');
  t.equal(last.w, 320, 'video width known');
  t.equal(last.h, 240, 'video height known');
  t.ok(last.t > 5, `currentTime advanced to ${last.t.toFixed(2)} s`);
  t.ok(last.frames > 100, `${last.frames} video frames decoded`);
  const playing = states.filter((s) => s.t > 0);
  t.ok(playing.length >= 5, `playing in ${playing.length} of 10 samples`);
  for (let i = 1; i < playing.length; i++) {
    t.ok(playing[i].t > playing[i - 1].t, `sample ${i}: playback keeps going`);
  }
});
