// Inputs: HTTP URL (file-like = paced, live = not paced) from a local node:http server, with
// --reconnect keeping clients connected across source restarts and failures; custom openers.
import t from 'tap';
import http from 'node:http';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { MkvServer } from '../src/server.js';
import { closeHttpAgents } from '../src/inputs/open.js';
import net from 'node:net';
import {
  FIX,
  get,
  parseMedia,
  videoTrack,
  mediaSpan,
  ffmpegErrors,
  hasFfmpeg,
  silentInput,
  waitFor,
} from '../testlib/helpers.js';

t.teardown(() => closeHttpAgents());

interface Origin {
  url: string;
  requests: number;
  close(): Promise<void>;
}

/** A local origin: `handler(n)` decides what request n (0-based) gets. */
async function origin(handler: (n: number, res: http.ServerResponse) => void): Promise<Origin> {
  const o = { url: '', requests: 0, close: async () => {} };
  const srv = http.createServer((_req, res) => handler(o.requests++, res));
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  o.url = `http://127.0.0.1:${(srv.address() as AddressInfo).port}/src`;
  o.close = () =>
    new Promise<void>((r) => {
      srv.closeAllConnections();
      srv.close(() => r());
    });
  return o;
}

/** Writes `data` in `size`-byte chunks every `ms`, then ends (a live-shaped body: no Content-Length). */
function trickle(res: http.ServerResponse, data: Buffer, size: number, ms: number): void {
  res.writeHead(200, { 'Content-Type': 'video/webm' });
  let off = 0;
  const step = (): void => {
    if (res.destroyed) return;
    if (off >= data.length) {
      res.end();
      return;
    }
    res.write(data.subarray(off, off + size));
    off += size;
    setTimeout(step, ms);
  };
  step();
}

t.test('file-like URL input (Content-Length, Segment size) is paced', async (t) => {
  const data = readFileSync(FIX('vp9-opus.webm'));
  const o = await origin((_n, res) => {
    res.writeHead(200, { 'Content-Type': 'video/webm', 'Content-Length': data.length });
    res.end(data);
  });
  t.teardown(() => o.close());
  const s = new MkvServer({ port: 0, mounts: [{ name: 'stream', input: o.url, speed: 3 }] });
  await s.start();
  t.teardown(() => s.stop(0));
  const t0 = performance.now();
  const cap = await get(s.port, '/stream', 5000);
  const took = (performance.now() - t0) / 1000;
  t.ok(cap.ended, 'ended at end of input');
  // 3 s clip at 3x: ~1 s. Unpaced it would take a few ms, paced at 1x 3 s.
  t.ok(took > 0.75 && took < 2.7, `3 s clip at 3x took ${took.toFixed(2)} s`);
  const st = s.status();
  t.equal(st.mounts[0].input.kind, 'url');
  t.equal(st.mounts[0].input.paced, true);
  await s.done;
});

t.test('live URL input with --reconnect: clients stay connected across restarts and failures', async (t) => {
  const data = readFileSync(FIX('pipe-live.webm'));
  const o = await origin((n, res) => {
    if (n === 1) {
      res.writeHead(503).end('busy'); // the source is briefly down
      return;
    }
    trickle(res, data, 16 * 1024, 30);
  });
  t.teardown(() => o.close());
  const s = new MkvServer({
    port: 0,
    // Not paced: the origin trickles faster than real time, and this test is about reconnects.
    mounts: [{ name: 'stream', input: o.url, reconnect: true, realtime: false, backoffMs: 100, maxBackoffMs: 400 }],
  });
  await s.start();
  t.teardown(() => s.stop(0));
  const cap = await get(s.port, '/stream', 2200);
  t.notOk(cap.ended, 'client still connected');
  t.ok(o.requests >= 3, `origin requested ${o.requests} times`);
  const st = s.status().mounts[0];
  t.equal(st.input.pacing, 'off', 'realtime: false');
  t.ok(st.input.reconnects >= 2, `${st.input.reconnects} reconnects`);
  const m = parseMedia(cap.body);
  t.same(m.errors, []);
  t.equal(m.headers, 1, 'same tracks: one init part, the client stays in the same Segment');
  const v = m.frames.filter((f) => f.track === videoTrack(m));
  let mono = true;
  for (let i = 1; i < v.length; i++) if (v[i].timestamp <= v[i - 1].timestamp) mono = false;
  t.ok(mono, 'video timestamps keep increasing across reconnects');
  t.ok(
    mediaSpan(m.frames) > 5.5,
    `received ${mediaSpan(m.frames).toFixed(1)} s of media: two or more passes of the 3 s source`,
  );
  if (hasFfmpeg) t.equal(ffmpegErrors(cap.body, 'webm'), '', 'decodes cleanly');
});

t.test('reconnect to a source with different tracks ends the response cleanly (one init part)', async (t) => {
  const a = readFileSync(FIX('pipe-live.webm'));
  const b = readFileSync(FIX('vp9-opus.webm'));
  const o = await origin((n, res) => trickle(res, n % 2 === 0 ? a : b, 64 * 1024, 10));
  t.teardown(() => o.close());
  const s = new MkvServer({
    port: 0,
    mounts: [{ name: 'stream', input: o.url, reconnect: true, realtime: false, backoffMs: 50 }],
  });
  await s.start();
  t.teardown(() => s.stop(0));
  const cap = await get(s.port, '/stream', 5000);
  const m = parseMedia(cap.body);
  t.equal(m.headers, 1, 'never a second EBML header in one response');
  t.same(m.errors, []);
  t.ok(cap.ended, 'the server ended the response (FIN): the player reconnects for the new layout');
  t.ok(s.mounts.get('stream')!.source.headerChanges >= 1);
});

t.test('URL that is refused: without --reconnect the mount fails and done resolves', async (t) => {
  const o = await origin((_n, res) => res.writeHead(404).end());
  t.teardown(() => o.close());
  const s = new MkvServer({ port: 0, mounts: [{ name: 'stream', input: o.url }] });
  await s.start();
  await s.done;
  t.equal(s.mounts.get('stream')!.source.state, 'failed');
  t.match(s.mounts.get('stream')!.source.lastError, /404/);
  await s.stop(0);
});

t.test('not Matroska at all: input fails cleanly', async (t) => {
  const s = new MkvServer({ port: 0, mounts: [{ name: 'stream', input: FIX('README.md') }] });
  await s.start();
  const pending = get(s.port, '/stream', 3000);
  await s.done;
  const r = await pending;
  t.equal(s.mounts.get('stream')!.source.state, 'failed');
  t.ok(r.status === 503 || r.status === 0, `waiting client answered ${r.status}`);
  await s.stop(0);
});

t.test('viewers that leave while the input has no header yet are closed and forgotten', async (t) => {
  // An input that never sends a byte until it is closed: requests wait for the header.
  const open = silentInput;
  const s = new MkvServer({ port: 0, mounts: [{ name: 'stream', input: 'silent', open }] });
  await s.start();
  t.teardown(() => s.stop(0));
  const mount = s.mounts.get('stream')!;
  const owned = (s as unknown as { sockets: Set<net.Socket> }).sockets;
  // One viewer: request, then half-close (what a player that gives up does).
  const one = net.connect(s.port, '127.0.0.1');
  await new Promise<void>((r) => one.once('connect', () => r()));
  one.write('GET /stream HTTP/1.1\r\nHost: x\r\n\r\n');
  await waitFor(() => mount.pending.length === 1, 5000, 'request pending');
  one.end();
  await waitFor(() => owned.size === 0, 5000, 'server closed the socket of the viewer that left');
  one.destroy();
  // Many viewers coming and going: the list of waiting requests stays bounded.
  for (let i = 0; i < 200; i++) {
    const c = net.connect(s.port, '127.0.0.1');
    await new Promise<void>((r) => c.once('connect', () => r()));
    c.write('GET /stream HTTP/1.1\r\nHost: x\r\n\r\n');
    await waitFor(
      () => mount.pending.length > 0 && mount.pending[mount.pending.length - 1].socket.remotePort === c.localPort,
      5000,
      'request pending',
    );
    c.end();
    await new Promise<void>((r) => c.once('close', () => r()).resume());
  }
  await waitFor(() => owned.size === 0, 5000, 'every socket closed');
  t.ok(mount.pending.length <= 128, `pending requests kept: ${mount.pending.length}`);
});

t.test('waiting viewers count toward maxClients', async (t) => {
  const open = silentInput;
  const s = new MkvServer({ port: 0, maxClients: 3, mounts: [{ name: 'stream', input: 'silent', open }] });
  await s.start();
  t.teardown(() => s.stop(0));
  const mount = s.mounts.get('stream')!;
  const waiting: net.Socket[] = [];
  t.teardown(() => waiting.forEach((c) => c.destroy()));
  for (let i = 0; i < 3; i++) {
    const c = net.connect(s.port, '127.0.0.1');
    await new Promise<void>((r) => c.once('connect', () => r()));
    c.write('GET /stream HTTP/1.1\r\nHost: x\r\n\r\n');
    waiting.push(c);
    await waitFor(() => mount.pending.length === i + 1, 5000, 'request pending');
  }
  const r = await get(s.port, '/stream', 2000);
  t.equal(r.status, 503, 'a fourth viewer is refused while three wait for the header');
  t.equal(mount.pending.length, 3, 'the waiting list did not grow past the limit');
});
