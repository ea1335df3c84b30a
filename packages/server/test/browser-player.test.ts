// The player page in the real headless Chromium from Debian (playwright-core): a page opened late on the
// demo mount plays (currentTime passes 3 s with no `error` event, no CSP violation, nothing loaded from
// elsewhere); an H.264/AAC Matroska mount plays too where the browser says it can; an HEVC mount, which
// Chromium cannot play, gets the plain "cannot play" note, and the ffmpeg line the page gives really
// makes a WebM stream that then plays in the same browser. Skips when Chromium is not installed.
import t from 'tap';
import type { Test } from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { FIX, hasFfmpeg, runCli, sleep } from '../testlib/helpers.js';
import { launchChromium, noChromium, watchedPage } from '../testlib/browser.js';
import type { InPage, Watched } from '../testlib/browser.js';
import { MkvServer } from '../src/server.js';

let browser: Browser | undefined;
async function getBrowser(): Promise<Browser> {
  browser ??= await launchChromium();
  return browser;
}
t.teardown(async () => {
  await browser?.close();
});

interface VideoState {
  t: number;
  w: number;
  h: number;
  err: number | null;
  frames: number;
}

function videoState(w: Watched): Promise<VideoState> {
  return w.page.evaluate(() => {
    const v = (globalThis as unknown as InPage).document.querySelector('video')!;
    return {
      t: v.currentTime,
      w: v.videoWidth,
      h: v.videoHeight,
      err: v.error ? v.error.code : null,
      frames: v.getVideoPlaybackQuality().totalVideoFrames,
    };
  });
}

/** Waits until the page's video has played past `seconds`; fails early on a media error. */
async function playsPast(w: Watched, seconds: number, timeoutMs = 30_000): Promise<void> {
  await w.page.waitForFunction(
    (s) => {
      const v = (globalThis as unknown as InPage).document.querySelector('video');
      if (v?.error) throw new Error(`media error ${v.error.code}: ${v.error.message}`);
      return v !== null && v.currentTime > s;
    },
    seconds,
    { timeout: timeoutMs, polling: 250 },
  );
}

function sameOrigin(t: Test, w: Watched, origin: string): void {
  const foreign = w.requests.filter((u) => !u.startsWith(origin + '/') && !u.startsWith('data:'));
  t.same(foreign, [], 'nothing is loaded from elsewhere');
}

t.test('a player page opened late on the demo mount plays', { skip: noChromium }, async (t) => {
  // No input and stdin from /dev/null: the built-in demo clip, looped and paced.
  const srv = runCli(['--port', '0', '--quiet'], { stdin: 'ignore' });
  t.teardown(() => srv.child.kill('SIGKILL'));
  const streamUrl = await srv.url;
  const origin = new URL(streamUrl).origin;
  await sleep(3500); // open late: the stream is well past its first keyframe
  const w = await watchedPage(await getBrowser());
  const res = await w.page.goto(`${streamUrl}/player`);
  t.equal(res?.status(), 200);
  const csp = res?.headers()['content-security-policy'] ?? '';
  t.match(csp, /default-src 'none'/, 'a Content-Security-Policy locks the page down');
  t.match(csp, /script-src 'sha256-/, 'only the page’s own script may run');
  await playsPast(w, 3);
  const st = await videoState(w);
  t.equal(st.err, null, 'no media error');
  t.same(await w.mediaErrors(), [], 'no error event');
  t.equal(st.w, 320, 'video width known');
  t.equal(st.h, 240, 'video height known');
  t.ok(st.frames > 60, `${st.frames} frames decoded`);
  t.equal(await w.page.getAttribute('body', 'data-can-play'), 'probably', 'the browser was asked and said yes');
  t.equal(await w.page.getAttribute('body', 'data-playable'), 'yes');
  t.ok(await w.page.locator('#unsupported').isHidden(), 'no "cannot play" note');
  t.match(await w.page.textContent('#play-state'), /Playing live/);
  t.match(await w.page.textContent('#tracks'), /VP8 320×240/);
  t.same(await w.cspViolations(), [], 'no CSP violation');
  t.same(w.errors, [], 'no console or page error');
  sameOrigin(t, w, origin);
});

const encoders = hasFfmpeg ? spawnSync('ffmpeg', ['-hide_banner', '-encoders'], { encoding: 'utf8' }).stdout : '';
const missing = ['libx265', 'libvpx-vp9', 'libopus'].filter((e) => !encoders.includes(e));

t.test(
  'H.264 in Matroska plays where the browser says so; HEVC gets the note and a working ffmpeg line',
  {
    skip:
      noChromium ||
      (!hasFfmpeg ? 'ffmpeg is not installed' : missing.length > 0 ? `ffmpeg lacks ${missing.join(', ')}` : false),
  },
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'mkvserve-player-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const hevc = join(dir, 'hevc-aac.mkv');
    const made = spawnSync(
      'ffmpeg',
      [
        '-nostdin',
        '-v',
        'error',
        '-f',
        'lavfi',
        '-i',
        'testsrc2=size=320x240:rate=25:duration=4',
        '-f',
        'lavfi',
        '-i',
        'sine=frequency=440:duration=4',
        '-c:v',
        'libx265',
        '-preset',
        'ultrafast',
        '-x265-params',
        'keyint=25:log-level=error',
        '-c:a',
        'aac',
        '-shortest',
        hevc,
      ],
      { encoding: 'utf8' },
    );
    t.equal(made.status, 0, `made an HEVC/AAC Matroska file ${made.stderr}`);
    const server = new MkvServer({
      port: 0,
      mounts: [
        { name: 'hevc', input: hevc, loop: true },
        { name: 'h264', input: FIX('h264-aac-bframes.mkv'), loop: true },
      ],
    });
    await server.start();
    t.teardown(() => server.stop(0));
    const origin = server.url('');

    const b = await getBrowser();
    const h264 = await watchedPage(b);
    await h264.page.goto(`${origin}/h264/player`);
    t.equal(
      await h264.page.getAttribute('body', 'data-can-play'),
      'probably',
      'Chromium says it plays H.264/AAC in Matroska',
    );
    await playsPast(h264, 1.5);
    t.ok(await h264.page.locator('#unsupported').isHidden(), 'so the note the server rendered is hidden');
    t.same(await h264.mediaErrors(), []);

    const w = await watchedPage(b);
    await w.page.goto(`${origin}/hevc/player`);
    t.equal(await w.page.getAttribute('body', 'data-can-play'), 'no');
    t.ok(await w.page.locator('#unsupported').isVisible(), 'the note is shown');
    t.equal((await w.page.textContent('#unsupported-title'))?.trim(), 'This browser cannot play this stream');
    t.match(await w.page.textContent('#unsupported-why'), /video\/x-matroska; codecs="hev1/);
    t.equal(await w.page.getAttribute('video', 'src'), null, 'the stream that cannot play is not downloaded');
    const recipe = (await w.page.textContent('#recipe')) ?? '';
    t.equal(
      recipe,
      `ffmpeg -i ${origin}/hevc -map 0:v:0 -c:v libvpx-vp9 -deadline realtime -cpu-used 8 -row-mt 1 -b:v 2M -map 0:a:0 -c:a libopus -b:a 128k -f webm - | mkvserve - --port 8081`,
      'the ffmpeg line encodes HEVC to VP9 and AAC to Opus',
    );
    t.same(await w.cspViolations(), []);
    t.same(w.errors, []);

    // Run the line as given (mkvserve on a free port instead of 8081) and play what it serves.
    const [ff, mk] = recipe.split(' | ');
    const ffArgs = ff.split(' ').slice(1);
    const mkArgs = mk
      .split(' ')
      .slice(1)
      .map((a) => (a === '8081' ? '0' : a));
    const enc = spawn('ffmpeg', ['-nostdin', '-v', 'error', ...ffArgs], { stdio: ['ignore', 'pipe', 'pipe'] });
    let encErr = '';
    enc.stderr.on('data', (d) => (encErr += d));
    const relay = runCli(['--quiet', ...mkArgs], { stdin: 'pipe' });
    enc.stdout.pipe(relay.child.stdin!);
    t.teardown(() => {
      enc.kill('SIGKILL');
      relay.child.kill('SIGKILL');
    });
    const relayUrl = await relay.url;
    const p2 = await watchedPage(b);
    await p2.page.goto(`${relayUrl}/player`);
    await playsPast(p2, 2, 45_000);
    t.equal(await p2.page.getAttribute('body', 'data-can-play'), 'probably');
    t.match(await p2.page.textContent('#tracks'), /VP9 320×240/);
    t.match(await p2.page.textContent('#tracks'), /Opus/);
    t.same(await p2.mediaErrors(), [], 'the WebM made by the page’s line plays without error');
    t.equal(encErr.trim(), '', 'ffmpeg reported no error');
  },
);
