// The README's browser snippet works in a browser: headless Chromium records a canvas and an oscillator
// with MediaRecorder (examples/browser/fix-recording.html), fixes the blob with demuxSync + muxToBytes
// (the three lines of packages/ebml/README.md), and plays the result: its duration is known where the
// recording's is not. Node then checks both files: the recording has unknown sizes and no Cues/Duration,
// the fixed one has Cues, a Duration, the same frames, and mkvinfo/ffprobe accept it. Chromium is driven
// over the DevTools protocol (undici's WebSocket); skips when it is not installed.
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, normalize } from 'node:path';
import { WebSocket } from 'undici';
import { demuxSync } from '@mkvserve/ebml';

const root = new URL('../..', import.meta.url).pathname;
const chromium = ['chromium', 'chromium-browser', 'google-chrome'].find(
  (c) => spawnSync(c, ['--version']).status === 0,
);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Serves the page, @mkvserve/ebml's dist/ and fflate's browser build at the paths of the page's import map. */
async function serve(): Promise<{ url: string; close(): void }> {
  const dist = join(root, 'packages', 'ebml', 'dist');
  const fflate = join(
    dirname(createRequire(join(root, 'packages', 'ebml', 'package.json')).resolve('fflate')),
    '..',
    'esm',
    'browser.js',
  );
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    let file: string | undefined;
    if (path === '/') file = join(root, 'examples', 'browser', 'fix-recording.html');
    else if (path === '/fflate/browser.js') file = fflate;
    else if (path.startsWith('/ebml/')) {
      const p = normalize(join(dist, path.slice('/ebml/'.length)));
      if (p.startsWith(dist) && p.endsWith('.js')) file = p;
    }
    if (!file || !existsSync(file)) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': file.endsWith('.html') ? 'text/html' : 'text/javascript' });
    res.end(readFileSync(file));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, close: () => server.close() };
}

/** Opens `url` in headless Chromium and returns `window.result` once the page set it. */
async function runPage(url: string, timeoutMs: number): Promise<Record<string, unknown>> {
  const profile = mkdtempSync(join(tmpdir(), 'ebml-chromium-'));
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
      '--remote-debugging-port=0', // Chromium picks a free port and writes it to DevToolsActivePort
      '--remote-debugging-address=127.0.0.1',
      url,
    ],
    { stdio: 'ignore', detached: true },
  );
  try {
    let port = 0;
    for (let i = 0; i < 150 && !port; i++) {
      await sleep(100);
      const f = join(profile, 'DevToolsActivePort');
      if (existsSync(f)) port = Number(readFileSync(f, 'utf8').split('\n')[0]);
    }
    if (!port) throw new Error('Chromium did not open its DevTools endpoint');
    let wsUrl: string | undefined;
    for (let i = 0; i < 50 && !wsUrl; i++) {
      const list = (await (await fetch(`http://127.0.0.1:${port}/json`)).json()) as {
        type: string;
        webSocketDebuggerUrl: string;
      }[];
      wsUrl = list.find((p) => p.type === 'page')?.webSocketDebuggerUrl;
      if (!wsUrl) await sleep(100);
    }
    if (!wsUrl) throw new Error('no page in Chromium');
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
        ws.send(JSON.stringify({ id: my, method: 'Runtime.evaluate', params: { expression, returnByValue: true } }));
      });
    const until = Date.now() + timeoutMs;
    while (Date.now() < until) {
      const r = await evaluate('window.result ? JSON.stringify(window.result) : ""');
      if (typeof r === 'string' && r) {
        ws.close();
        return JSON.parse(r) as Record<string, unknown>;
      }
      await sleep(250);
    }
    const log = await evaluate('document.getElementById("log")?.textContent');
    throw new Error(`the page did not finish in ${timeoutMs} ms (log: ${String(log)})`);
  } finally {
    const exited = new Promise((r) => cr.once('exit', r));
    try {
      process.kill(-cr.pid!, 'SIGKILL'); // the whole process group
    } catch {
      cr.kill('SIGKILL');
    }
    await exited;
    rmSync(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  }
}

t.test(
  'a MediaRecorder recording is fixed in Chromium by demuxSync + muxToBytes',
  { skip: chromium ? false : 'Chromium is not installed (apt-get install chromium)' },
  async (t) => {
    const srv = await serve();
    t.teardown(() => srv.close());
    const r = await runPage(srv.url, 30_000);
    t.equal(r.error, undefined, 'the page ran without an exception');
    const original = new Uint8Array(Buffer.from(String(r.original), 'base64'));
    const fixed = new Uint8Array(Buffer.from(String(r.fixed), 'base64'));
    t.equal(r.durationBefore, 'Infinity', "the recording's duration is unknown to the player");
    t.ok(
      Number(r.durationAfter) > 2 && Number(r.durationAfter) < 4,
      `fixed: ${String(r.durationAfter)} s in the player`,
    );

    const a = demuxSync(original);
    const b = demuxSync(fixed);
    t.same(a.errors, [], 'the recording demuxes');
    t.equal(a.header?.ebml.docType, 'webm');
    t.equal(a.header?.info.duration, undefined, 'the recording has no Duration');
    t.equal(a.cues.length, 0, 'and no Cues');
    t.same(b.errors, [], 'the fixed file demuxes');
    t.ok((b.header?.info.duration ?? 0) > 2e9, 'the fixed file has a Duration');
    t.ok(b.cues.length > 0, 'and Cues');
    t.ok(b.header!.segmentSize > 0, 'and a known Segment size');
    t.equal(b.frames.length, a.frames.length, `the same ${a.frames.length} frames`);
    t.ok(
      b.frames.every((f, i) => Buffer.compare(f.data, a.frames[i].data) === 0 && f.track === a.frames[i].track),
      'frame for frame',
    );
    // The same tracks in the recording's order (Chromium writes VP8 or Opus first, depending on which
    // encoder delivers first).
    t.same(
      b.header?.tracks.map((x) => x.codecId),
      a.header?.tracks.map((x) => x.codecId),
    );
    const dir = mkdtempSync(join(tmpdir(), 'ebml-fixed-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'fixed.webm');
    writeFileSync(file, fixed);
    if (spawnSync('mkvinfo', ['--version']).status === 0) {
      const info = spawnSync('mkvinfo', ['-v', file], { encoding: 'utf8', maxBuffer: 64 << 20 });
      t.equal(info.status, 0, 'mkvinfo accepts it');
      t.notMatch(info.stdout + info.stderr, /(^|\n)\s*(Error|Warning)/i);
    }
    if (spawnSync('ffprobe', ['-version']).status === 0) {
      const p = spawnSync('ffprobe', ['-v', 'error', '-show_format', '-of', 'json', file], { encoding: 'utf8' });
      t.equal(p.stderr, '', 'ffprobe: no error');
      const d = Number((JSON.parse(p.stdout) as { format: { duration?: string } }).format.duration);
      t.ok(d > 2 && d < 4, `ffprobe duration ${d}`);
    }
  },
);
