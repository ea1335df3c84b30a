// A real browser plays what we serve: headless Chromium opens the server's own `GET /` page (a <video>
// per mount), joining a live WebM stream 3 s after it started, and must play it: no media error, the
// video size known, currentTime advancing, frames decoded. Chromium is driven over the DevTools protocol
// with undici's WebSocket. Skips with a clear message when Chromium is not installed
// (`apt-get install chromium`; .ci/run installs it).
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocket } from 'undici';
import { FIX, runCli, sleep } from '../testlib/helpers.js';

const chromium = ['chromium', 'chromium-browser', 'google-chrome'].find(
  (c) => spawnSync(c, ['--version']).status === 0,
);

interface VideoState {
  t: number;
  rs: number;
  w: number;
  h: number;
  err: number | null;
  frames: number;
}

async function playInChromium(pageUrl: string, seconds: number): Promise<VideoState[]> {
  const profile = mkdtempSync(join(tmpdir(), 'mkvserve-chromium-'));
  const port = 20000 + Math.floor(Math.random() * 20000);
  const cr = spawn(
    chromium!,
    [
      '--headless=new',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--autoplay-policy=no-user-gesture-required',
      `--user-data-dir=${profile}`,
      `--remote-debugging-port=${port}`,
      '--remote-debugging-address=127.0.0.1',
      pageUrl,
    ],
    { stdio: 'ignore', detached: true },
  ); // its own process group: the renderer/GPU helpers go with it
  return runSession(cr, port, profile, seconds);
}

async function runSession(
  cr: ReturnType<typeof spawn>,
  port: number,
  profile: string,
  seconds: number,
): Promise<VideoState[]> {
  try {
    let wsUrl: string | undefined;
    for (let i = 0; i < 150 && !wsUrl; i++) {
      await sleep(100);
      try {
        const list = (await (await fetch(`http://127.0.0.1:${port}/json`)).json()) as {
          type: string;
          webSocketDebuggerUrl: string;
        }[];
        wsUrl = list.find((p) => p.type === 'page')?.webSocketDebuggerUrl;
      } catch {
        /* not up yet */
      }
    }
    if (!wsUrl) throw new Error('Chromium did not open its DevTools endpoint');
    const ws = new WebSocket(wsUrl);
    await new Promise((res, rej) => {
      ws.addEventListener('open', res);
      ws.addEventListener('error', rej);
    });
    let id = 0;
    const evaluate = (expression: string): Promise<unknown> =>
      new Promise((res) => {
        const my = ++id;
        const onMsg = (ev: { data: unknown }): void => {
          const m = JSON.parse(String(ev.data)) as { id?: number; result?: { result?: { value?: unknown } } };
          if (m.id !== my) return;
          ws.removeEventListener('message', onMsg);
          res(m.result?.result?.value);
        };
        ws.addEventListener('message', onMsg);
        ws.send(JSON.stringify({ id: my, method: 'Runtime.evaluate', params: { expression } }));
      });
    const probe = `(() => { const v = document.querySelector('video'); if (!v) return null;
      const q = v.getVideoPlaybackQuality ? v.getVideoPlaybackQuality().totalVideoFrames : 0;
      return JSON.stringify({ t: v.currentTime, rs: v.readyState, w: v.videoWidth, h: v.videoHeight, err: v.error && v.error.code, frames: q }); })()`;
    const states: VideoState[] = [];
    for (let s = 0; s < seconds; s++) {
      await sleep(1000);
      const v = await evaluate(probe);
      if (typeof v === 'string') states.push(JSON.parse(v) as VideoState);
    }
    ws.close();
    return states;
  } finally {
    const exited = new Promise((r) => cr.once('exit', r));
    try {
      process.kill(-cr.pid!, 'SIGKILL'); // the whole group: no helper process keeps writing the profile
    } catch {
      cr.kill('SIGKILL');
    }
    await exited;
    try {
      rmSync(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
    } catch {
      // A temporary profile left behind is not what this test is about.
    }
  }
}

t.test(
  'Chromium plays a live WebM joined late from the server page',
  { skip: chromium ? false : 'Chromium is not installed (apt-get install chromium)' },
  async (t) => {
    const srv = runCli(['--loop', '--port', '0', '--quiet', FIX('vp9-opus.webm')]);
    t.teardown(() => {
      srv.child.kill('SIGKILL');
    });
    const streamUrl = await srv.url;
    const page = streamUrl.replace(/\/stream$/, '/');
    await sleep(3000); // join late: the first video frame it gets must still be a keyframe
    const states = await playInChromium(page, 10);
    t.ok(states.length >= 5, `video element probed ${states.length} times`);
    const last = states[states.length - 1];
    t.equal(last.err, null, 'no media error');
    t.equal(last.w, 320, 'video width known');
    t.equal(last.h, 240, 'video height known');
    t.ok(last.t > 1, `currentTime advanced to ${last.t.toFixed(2)} s`);
    t.ok(last.frames > 20, `${last.frames} video frames decoded`);
    const firstPlaying = states.find((s) => s.t > 0);
    t.ok(firstPlaying && last.t > firstPlaying.t, 'playback keeps going');
  },
);
