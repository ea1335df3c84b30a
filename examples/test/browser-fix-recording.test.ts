// The README's browser snippet works in a browser: headless Chromium records a canvas and an oscillator
// with MediaRecorder (examples/browser/fix-recording.html), fixes the blob with demuxSync + muxToBytes
// (the three lines of packages/ebml/README.md), and plays the result: its duration is known where the
// recording's is not. Node then checks both files: the recording has unknown sizes and no Cues/Duration,
// the fixed one has Cues, a Duration, the same frames, and mkvinfo/ffprobe accept it. Chromium is driven
// by playwright-core (packages/server/testlib/browser.ts); skips when it is not installed.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, normalize } from 'node:path';
import { demuxSync } from '@mkvserve/ebml';
import { launchChromium, noChromium } from '../../packages/server/testlib/browser.js';

const root = new URL('../..', import.meta.url).pathname;

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

/** Opens `url` in headless Chromium (playwright-core driving Debian's chromium, as the server's browser
 *  tests do) and returns `window.result` once the page set it. */
async function runPage(url: string, timeoutMs: number): Promise<Record<string, unknown>> {
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    await page.goto(url);
    const done = await page
      .waitForFunction(() => (globalThis as unknown as { result?: unknown }).result !== undefined, undefined, {
        timeout: timeoutMs,
        polling: 250,
      })
      .then(() => true)
      .catch(() => false);
    if (!done) {
      const log = await page.evaluate(
        () =>
          (
            globalThis as unknown as { document: { getElementById(id: string): { textContent: string | null } | null } }
          ).document.getElementById('log')?.textContent,
      );
      throw new Error(`the page did not finish in ${timeoutMs} ms (log: ${String(log)})`);
    }
    return await page.evaluate(() => (globalThis as unknown as { result: Record<string, unknown> }).result);
  } finally {
    await browser.close();
  }
}

t.test('a MediaRecorder recording is fixed in Chromium by demuxSync + muxToBytes', { skip: noChromium }, async (t) => {
  const srv = await serve();
  t.teardown(() => srv.close());
  const r = await runPage(srv.url, 30_000);
  t.equal(r.error, undefined, 'the page ran without an exception');
  const original = new Uint8Array(Buffer.from(String(r.original), 'base64'));
  const fixed = new Uint8Array(Buffer.from(String(r.fixed), 'base64'));
  t.equal(r.durationBefore, 'Infinity', "the recording's duration is unknown to the player");
  t.ok(Number(r.durationAfter) > 2 && Number(r.durationAfter) < 4, `fixed: ${String(r.durationAfter)} s in the player`);

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
});
