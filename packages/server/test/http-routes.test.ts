// HTTP behaviour on real sockets (MkvServer in-process): HEAD, Range, 404, 405, 431, 400, head
// timeout, listing, reserved mounts, status JSON, Prometheus metrics, admin token rules, CORS.
import t from 'tap';
import net from 'node:net';
import { MkvServer } from '../src/server.js';
import type { ServerSettingsInput } from '../src/config.js';
import type { Logger } from '../src/log.js';
import { FIX, get, rawRequest, parseMedia, viewer, waitFor } from '../testlib/helpers.js';

async function start(extra: ServerSettingsInput & { log?: Logger } = {}): Promise<MkvServer> {
  const s = new MkvServer({
    port: 0,
    mounts: [{ name: 'stream', input: FIX('vp9-opus.webm'), loop: true, speed: 4 }],
    headTimeoutMs: 400,
    ...extra,
  });
  await s.start();
  return s;
}

t.test('stream, HEAD, Range, listing, errors', async (t) => {
  const s = await start({ cors: 'https://example.com' });
  t.teardown(() => s.stop(0));
  const port = s.port;

  const g = await get(port, '/stream', 600);
  t.equal(g.status, 200);
  t.equal(g.headers.get('content-type'), 'video/webm');
  t.equal(g.headers.get('cache-control'), 'no-store');
  t.equal(g.headers.get('content-length'), undefined, 'no Content-Length on the stream');
  t.equal(g.headers.get('access-control-allow-origin'), 'https://example.com');
  // The head and the burst are written at attach (no wait for a keyframe or a flush tick); the bound
  // has slack for a loaded CI machine.
  t.ok(g.ttfbMs >= 0 && g.ttfbMs < 1000, `ttfb ${g.ttfbMs.toFixed(1)} ms`);
  const m = parseMedia(g.body);
  t.equal(m.header?.ebml.docType, 'webm');
  t.ok(m.frames.length > 10, `${m.frames.length} frames in 600 ms`);

  const h = await rawRequest(port, 'HEAD /stream HTTP/1.1\r\nHost: x\r\n\r\n', 1000);
  t.equal(h.status, 200);
  t.equal(h.headers.get('content-type'), 'video/webm');
  t.equal(h.body.length, 0, 'HEAD has no body');
  t.ok(h.ended, 'HEAD response ends');

  for (const range of ['bytes=0-', 'bytes=1000-', 'bytes=5-10', 'garbage']) {
    const r = await get(port, '/stream', 400, `Range: ${range}\r\n`);
    t.equal(r.status, 200, `Range ${range} -> 200 stream`);
    t.equal(r.headers.get('accept-ranges'), 'none');
    t.ok(r.body.length > 1000, 'stream body');
    t.notOk(r.ended, 'not closed because of the Range');
  }

  const root = await get(port, '/');
  t.equal(root.status, 200);
  t.match(root.body.toString(), /\/stream\tvideo\/webm/);
  const html = await get(port, '/', 2000, 'Accept: text/html\r\n');
  t.match(html.headers.get('content-type'), /text\/html/);
  t.match(html.body.toString(), /<a href="\/stream\/player">stream<\/a>/);

  t.equal((await get(port, '/nope')).status, 404);
  t.equal((await get(port, '/stream/x')).status, 404);
  t.equal((await get(port, '/stream.webm')).status, 404);
  const post = await rawRequest(port, 'POST /stream HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n');
  t.equal(post.status, 405);
  t.equal(post.headers.get('allow'), 'GET, HEAD');
  t.equal((await rawRequest(port, 'DELETE / HTTP/1.1\r\n\r\n')).status, 405);
  const opt = await rawRequest(port, 'OPTIONS /stream HTTP/1.1\r\n\r\n');
  t.equal(opt.status, 204, 'OPTIONS preflight with --cors');

  const big = await rawRequest(port, 'GET /stream HTTP/1.1\r\nX: ' + 'a'.repeat(20000) + '\r\n\r\n');
  t.equal(big.status, 431);
  t.ok(big.ended);
  t.equal((await rawRequest(port, 'GARBAGE\r\n\r\n')).status, 400);
  t.equal((await rawRequest(port, 'GET / HTTP/3.0\r\n\r\n')).status, 505);

  // Slow head: closed after the head timeout (400 ms here; 5 s by default).
  const t0 = performance.now();
  const slow = await rawRequest(port, 'GET /stream HTTP/1.1\r\n', 3000);
  const took = performance.now() - t0;
  t.equal(slow.status, 408, '408 when part of a head arrived');
  t.ok(took < 2500, `closed after ${took.toFixed(0)} ms (head timeout 400 ms here, 5 s by default)`);
  const t1 = performance.now();
  await new Promise<void>((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    sock.on('close', () => resolve());
    sock.on('error', () => {});
    sock.resume();
  });
  t.ok(performance.now() - t1 < 2500, 'silent connection closed after the head timeout');
});

t.test('status JSON and metrics text', async (t) => {
  const s = await start();
  t.teardown(() => s.stop(0));
  const port = s.port;
  // One client connected while we look.
  const { sock, got } = viewer(port, '/stream');
  await waitFor(() => got() > 0, 10_000, 'the stream client to receive its burst');
  const st = await get(port, '/api/status');
  t.equal(st.status, 200);
  t.match(st.headers.get('content-type'), /application\/json/);
  const j = JSON.parse(st.body.toString());
  t.equal(j.name, 'mkvserve');
  t.equal(j.flushIntervalMs, 100, 'the write interval now: flushMs (not stretched: the loop is not saturated)');
  t.equal(j.mounts.length, 1);
  const m = j.mounts[0];
  t.equal(m.name, 'stream');
  t.equal(m.contentType, 'video/webm');
  t.equal(m.input.state, 'streaming');
  t.equal(m.input.paced, true);
  t.ok(m.input.frames > 0 && m.input.bytesIn > 0);
  t.same(
    m.tracks.map((x: { codecId: string }) => x.codecId),
    ['V_VP9', 'A_OPUS'],
  );
  t.equal(m.clients, 1);
  t.equal(j.clients.length, 1);
  t.equal(j.clients[0].address, '127.0.0.1');
  t.ok(j.clients[0].bytesSent > 0);
  t.type(j.clients[0].lagMs, 'number');
  t.type(j.clients[0].skips, 'number');
  t.ok(j.uptimeSec >= 0);

  const me = await get(port, '/metrics');
  t.equal(me.status, 200);
  t.match(me.headers.get('content-type'), /text\/plain; version=0\.0\.4/);
  const text = me.body.toString();
  for (const name of [
    'mkvserve_clients_connected{mount="stream"} 1',
    'mkvserve_bytes_sent_total{mount="stream"}',
    'mkvserve_client_skips_total',
    'mkvserve_client_drops_total',
    'mkvserve_input_bytes_total',
    'mkvserve_input_frames_total',
    'process_start_time_seconds',
    '# TYPE mkvserve_clients_connected gauge',
  ]) {
    t.ok(text.includes(name), name);
  }
  // The exposition is checked with a real parser in metrics.test.ts.
  // The loop's utilization, as the interval's stretch judges it: checked every 250 ms.
  let use: unknown = null;
  for (let i = 0; i < 40 && use === null; i++) {
    await new Promise((r) => setTimeout(r, 50));
    use = JSON.parse((await get(port, '/api/status')).body.toString()).eventLoopUtilization;
  }
  t.ok(typeof use === 'number' && use >= 0 && use < 0.95, `eventLoopUtilization in /api/status: ${String(use)}`);
  t.match((await get(port, '/metrics')).body.toString(), /^mkvserve_event_loop_utilization 0(\.\d+)?$/m);
  sock.destroy();
});

t.test('admin token rules', async (t) => {
  const s = await start({ adminToken: 'sekret' });
  t.teardown(() => s.stop(0));
  const a = await get(s.port, '/api/status');
  t.equal(a.status, 401);
  t.match(a.headers.get('www-authenticate'), /Bearer/);
  t.equal((await get(s.port, '/metrics', 2000, 'Authorization: Bearer nope\r\n')).status, 401);
  t.equal((await get(s.port, '/metrics', 2000, 'Authorization: Bearer sekret\r\n')).status, 200);
  t.equal((await get(s.port, '/api/status', 2000, 'Authorization: Bearer sekret\r\n')).status, 200);
  t.equal((await get(s.port, '/stream', 300)).status, 200, 'the stream itself needs no token');
});

t.test('non-loopback without a token: 403 and a log line', async (t) => {
  const lines: string[] = [];
  const { createLogger } = await import('../src/log.js');
  const log = createLogger({ stream: { write: (l: string) => lines.push(l) } });
  const s = await start({ host: '0.0.0.0', log });
  t.teardown(() => s.stop(0));
  const r = await get(s.port, '/api/status');
  t.equal(r.status, 403);
  t.equal((await get(s.port, '/metrics')).status, 403);
  t.ok(
    lines.some((l) => l.includes('admin_disabled')),
    'logged why',
  );
});

t.test('reserved and invalid mount names are refused', async (t) => {
  for (const name of ['api', 'metrics', 'a.webm', 'a/b', '']) {
    t.throws(() => new MkvServer({ port: 0, mounts: [{ name, input: FIX('vp9-opus.webm') }] }), name);
  }
});

t.test('404 for an unknown mount on a matroska input; content type x-matroska', async (t) => {
  const s = new MkvServer({
    port: 0,
    mounts: [{ name: 'cam', input: FIX('pipe-live.mkv'), realtime: true, speed: 4 }],
  });
  await s.start();
  t.teardown(() => s.stop(0));
  const r = await get(s.port, '/cam', 300);
  t.equal(r.headers.get('content-type'), 'video/x-matroska');
  t.equal((await get(s.port, '/stream')).status, 404);
});
