// examples/edge/nginx.conf, the other choice to HAProxy, as shipped (only its ports changed): viewers
// through nginx get the edges' stream as it arrives (proxy_buffering off: the first bytes at once, then
// a steady flow), start on a keyframe and decode cleanly; when an edge dies, new viewers get the other.
// Runs when nginx is installed (or $MKVSERVE_TEST_NGINX names its binary); skips otherwise: CI installs HAProxy, the
// example the issue asks for, not nginx.
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import {
  FIX,
  ROOT,
  ffmpegErrors,
  hasFfmpeg,
  parseMedia,
  rawRequest,
  runCli,
  sleep,
  videoTrack,
} from '../testlib/helpers.js';

const nginx = [process.env['MKVSERVE_TEST_NGINX'], 'nginx', '/usr/sbin/nginx'].find(
  (p) => p !== undefined && p !== '' && spawnSync(p, ['-v']).status === 0,
);
const skip = !nginx
  ? 'nginx is not installed (apt-get install nginx-light, or MKVSERVE_TEST_NGINX=/path/to/nginx)'
  : !hasFfmpeg
    ? 'ffmpeg is not installed'
    : false;

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.on('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

t.test('two edges behind nginx (examples/edge/nginx.conf)', { skip }, async (t) => {
  const origin = runCli([FIX('demo.webm'), '--loop', '--port', '0', '--quiet'], { stdin: 'ignore' });
  t.teardown(() => origin.child.kill('SIGKILL'));
  const originUrl = await origin.url;
  const edges = [0, 1].map(() => runCli([originUrl, '--reconnect', '--port', '0', '--quiet'], { stdin: 'ignore' }));
  t.teardown(() => edges.forEach((e) => e.child.kill('SIGKILL')));
  const edgePorts = await Promise.all(edges.map(async (e) => new URL(await e.url).port));

  const dir = mkdtempSync(join(tmpdir(), 'mkvserve-nginx-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const front = await freePort();
  const conf = readFileSync(join(ROOT, 'examples/edge/nginx.conf'), 'utf8')
    .replace('127.0.0.1:8081', `127.0.0.1:${edgePorts[0]}`)
    .replace('127.0.0.1:8082', `127.0.0.1:${edgePorts[1]}`)
    .replace('listen 127.0.0.1:8000', `listen 127.0.0.1:${front}`);
  writeFileSync(join(dir, 'nginx.conf'), conf);
  const env = { ...process.env };
  delete env['NGINX']; // nginx reads inherited sockets from it
  const ng = spawn(nginx!, ['-p', dir, '-c', join(dir, 'nginx.conf')], { stdio: ['ignore', 'pipe', 'pipe'], env });
  let ngErr = '';
  ng.stderr.on('data', (d) => (ngErr += d));
  // SIGTERM: the master stops its worker too (SIGKILL would leave the worker holding our pipes).
  t.teardown(async () => {
    if (ng.exitCode === null && ng.signalCode === null) {
      const gone = new Promise((r) => ng.once('exit', r));
      ng.kill('SIGTERM');
      await gone;
    }
  });
  const by = performance.now() + 10_000;
  while (ng.exitCode === null && !(await listening(front)) && performance.now() < by) await sleep(100);
  t.equal(ng.exitCode, null, `nginx runs ${ngErr}`);

  const views = await Promise.all([0, 1].map(() => rawRequest(front, 'GET /stream HTTP/1.1\r\nHost: x\r\n\r\n', 3000)));
  for (const [i, v] of views.entries()) {
    t.equal(v.status, 200, `viewer ${i + 1}: 200 through nginx`);
    t.ok(
      v.ttfbMs >= 0 && v.ttfbMs < 1000,
      `viewer ${i + 1}: first bytes after ${v.ttfbMs.toFixed(0)} ms (not buffered)`,
    );
    t.match(v.headers.get('content-type'), /^video\/webm/);
    const m = parseMedia(dechunk(v));
    const video = m.frames.filter((f) => f.track === videoTrack(m));
    t.ok(video.length > 60 && video[0].keyframe, `viewer ${i + 1}: starts on a keyframe (${video.length} frames)`);
    t.equal(ffmpegErrors(dechunk(v), 'webm'), '', `viewer ${i + 1}: decodes cleanly`);
  }

  edges[0].child.kill('SIGKILL');
  await edges[0].exit;
  const after = await Promise.all(
    [0, 1, 2].map(() => rawRequest(front, 'GET /stream HTTP/1.1\r\nHost: x\r\n\r\n', 2000)),
  );
  for (const [i, v] of after.entries()) {
    t.equal(v.status, 200, `viewer ${i + 1} after edge1 died: 200`);
    t.equal(ffmpegErrors(dechunk(v), 'webm'), '', `viewer ${i + 1} after edge1 died: decodes cleanly`);
  }
});

/** nginx answers an HTTP/1.1 client with chunked encoding (the edges' responses end with the connection). */
function dechunk(v: { headers: Map<string, string>; body: Buffer }): Buffer {
  if (v.headers.get('transfer-encoding') !== 'chunked') return v.body;
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const eol = v.body.indexOf('\r\n', at);
    if (eol < 0) break;
    const size = parseInt(v.body.subarray(at, eol).toString('latin1'), 16);
    if (!Number.isFinite(size) || size === 0) break;
    const start = eol + 2;
    parts.push(v.body.subarray(start, Math.min(start + size, v.body.length)));
    at = start + size + 2;
    if (at > v.body.length) break;
  }
  return Buffer.concat(parts);
}
