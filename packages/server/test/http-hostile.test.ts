// Hostile clients on real sockets against a real MkvServer running in a child process (so that its open
// file descriptors can be counted in /proc/<pid>/fd): heads dripped one byte at a time (slowloris) get a
// 408 at the head deadline and are closed while normal requests are still served; clients that got a
// complete answer and never close are cut after the idle timeout, and the server's fds return to their
// baseline; heads sent one byte per write are parsed in linear work.
import t from 'tap';
import net from 'node:net';
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { MkvServer } from '../src/server.js';
import { headScan } from '../src/http/parser.js';
import { acceptConnection } from '../src/http/connection.js';
import { sendResponse } from '../src/http/response.js';
import { FIX, ROOT, get, rawRequest, sleep, waitFor } from '../testlib/helpers.js';

interface ChildServer {
  port: number;
  pid: number;
  fds(): number;
  stop(): Promise<void>;
}

/** Starts an MkvServer (from dist) in a child process with the given head timeout (the idle timeout
 *  defaults to it). */
async function childServer(headTimeoutMs: number): Promise<ChildServer> {
  const code = `
    const { MkvServer } = await import(process.argv[1]);
    const s = new MkvServer({ port: 0, headTimeoutMs: Number(process.argv[3]), idleTimeoutMs: Number(process.argv[3]),
      mounts: [{ name: 'stream', input: process.argv[2], loop: true, speed: 4 }] });
    await s.start();
    process.stdout.write(JSON.stringify({ port: s.port }) + '\\n');
    process.stdin.on('end', () => process.exit(0));
    process.stdin.resume();
  `;
  const dist = join(ROOT, 'packages/server/dist/index.js');
  const child = spawn(
    process.execPath,
    ['--input-type=module', '-e', code, dist, FIX('vp9-opus.webm'), String(headTimeoutMs)],
    {
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  );
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /\{"port":(\d+)\}/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.on('exit', (c) => reject(new Error(`server child exited (${c})`)));
  });
  const pid = child.pid!;
  return {
    port,
    pid,
    fds: () => readdirSync(`/proc/${pid}/fd`).length,
    stop: () =>
      new Promise<void>((resolve) => {
        child.on('exit', () => resolve());
        child.stdin.end();
      }),
  };
}

/** A client that never closes its side: allowHalfOpen, so the server's FIN does not close it either. */
function stubbornClient(port: number): { sock: net.Socket; data: () => string; closed: () => boolean } {
  const sock = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  let data = '';
  let closed = false;
  sock.on('data', (d) => (data += d.toString('latin1')));
  sock.on('error', () => {});
  sock.on('close', () => (closed = true));
  return { sock, data: () => data, closed: () => closed };
}

t.test('slowloris: heads dripped one byte at a time get 408 at the head deadline; others are served', async (t) => {
  const HEAD_MS = 1000;
  const srv = await childServer(HEAD_MS);
  t.teardown(() => srv.stop());
  const baseline = srv.fds();
  const N = 300;
  const head = Buffer.from('GET /stream HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: ' + 'a'.repeat(4000));
  const clients = Array.from({ length: N }, () => stubbornClient(srv.port));
  await waitFor(() => clients.every((c) => !c.sock.connecting), 10_000, 'all clients connected');
  const t0 = performance.now();
  let pos = 0;
  // One byte per client every 100 ms: never silent long enough for an inactivity timer.
  const drip = setInterval(() => {
    for (const c of clients) if (!c.closed() && !c.sock.destroyed) c.sock.write(head.subarray(pos, pos + 1));
    pos = (pos + 1) % head.length;
  }, 100);
  t.teardown(() => clearInterval(drip));
  await sleep(HEAD_MS / 2);
  t.ok(srv.fds() >= baseline + N * 0.9, `the dripping connections are open meanwhile (${srv.fds()} fds)`);
  // Normal requests keep being served while the dripping goes on.
  const ok = await get(srv.port, '/');
  t.equal(ok.status, 200, 'GET / served during the slowloris');
  await waitFor(() => clients.every((c) => c.data().startsWith('HTTP/1.1 408')), 10_000, 'every dripper got 408');
  const took = performance.now() - t0;
  t.ok(took < HEAD_MS + 3000, `all 408s within ${took.toFixed(0)} ms (deadline ${HEAD_MS} ms)`);
  t.match(clients[0].data(), /request head not complete within 1 s/);
  // The server closes them although they keep dripping (absolute linger after the 408).
  await waitFor(() => srv.fds() <= baseline + 2, 10_000, `server fds back to baseline ${baseline}`);
  t.pass(`server fds ${srv.fds()} (baseline ${baseline})`);
  clearInterval(drip);
  for (const c of clients) c.sock.destroy();
});

t.test('finished responses do not keep their sockets: idle timeout, fds back to baseline', async (t) => {
  const IDLE_MS = 1000;
  const srv = await childServer(IDLE_MS);
  t.teardown(() => srv.stop());
  const baseline = srv.fds();
  const requests = [
    'GET / HTTP/1.1\r\nHost: x\r\n\r\n',
    'HEAD /stream HTTP/1.1\r\nHost: x\r\n\r\n',
    'GET /nope HTTP/1.1\r\nHost: x\r\n\r\n',
    'GARBAGE\r\n\r\n',
    'POST /stream HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n',
  ];
  const N = 300;
  const clients = Array.from({ length: N }, (_, i) => {
    const c = stubbornClient(srv.port);
    c.sock.write(requests[i % requests.length]);
    return c;
  });
  await waitFor(() => clients.every((c) => /^HTTP\/1\.1 \d{3}/.test(c.data())), 10_000, 'every client answered');
  const t0 = performance.now();
  const statuses = new Set(clients.map((c) => c.data().slice(9, 12)));
  t.same([...statuses].sort(), ['200', '400', '404', '405'], 'the five kinds of answers');
  const held = srv.fds();
  t.ok(
    held >= baseline + N * 0.5,
    `answered connections are held until the idle timeout (${held} fds, baseline ${baseline})`,
  );
  await waitFor(() => srv.fds() <= baseline + 2, 10_000, `server fds back to baseline ${baseline}`);
  const took = performance.now() - t0;
  t.ok(took >= IDLE_MS * 0.5, `not cut before the idle timeout (${took.toFixed(0)} ms)`);
  t.ok(took < IDLE_MS + 3000, `fds back to baseline ${took.toFixed(0)} ms after the answers (idle ${IDLE_MS} ms)`);
  t.ok(
    clients.every((c) => !c.sock.destroyed),
    'the clients themselves never closed',
  );
  for (const c of clients) c.sock.destroy();
});

t.test('a client that does not read a finished response is cut once the write stops moving', async (t) => {
  // A route with a big answer (32 MiB: far more than the socket buffers hold) and a client that never reads.
  const BIG = 32 << 20;
  const serverSockets: net.Socket[] = [];
  const srv = net.createServer({ allowHalfOpen: true }, (sock) => {
    serverSockets.push(sock);
    acceptConnection(sock, {
      headTimeoutMs: 300,
      dispatch: (s) => sendResponse(s, 200, [['Content-Type', 'application/octet-stream']], Buffer.alloc(BIG)),
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  t.teardown(() => srv.close());
  const port = (srv.address() as net.AddressInfo).port;
  const c = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  c.on('error', () => {});
  c.pause();
  c.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  await waitFor(() => serverSockets.length === 1, 5000, 'accepted');
  const s = serverSockets[0];
  const t0 = performance.now();
  await new Promise<void>((resolve) => (s.destroyed ? resolve() : s.on('close', () => resolve())));
  const took = performance.now() - t0;
  t.ok(took < 5000, `server socket closed ${took.toFixed(0)} ms after the request`);
  t.notOk(s.writableFinished, 'cut before the answer was flushed (the client never read it)');
  c.destroy();
});

t.test('heads in many pieces: linear work (each byte scanned once); one byte per write: refused early', async (t) => {
  const s = new MkvServer({
    port: 0,
    mounts: [{ name: 'stream', input: FIX('vp9-opus.webm'), loop: true, speed: 4 }],
    headTimeoutMs: 30_000,
  });
  await s.start();
  t.teardown(() => s.stop(0));
  const head = Buffer.from(`GET / HTTP/1.1\r\nHost: x\r\nX-Pad: ${'a'.repeat(16_000 - 40)}\r\n\r\n`);
  t.ok(head.length < 16 * 1024 && head.length > 15_900, `${head.length}-byte head`);
  /** Sends `head` in writes of `piece` bytes, each in its own event-loop turn (so mostly its own read). */
  const send = (piece: number): Promise<string> =>
    new Promise<string>((resolve, reject) => {
      const c = net.connect(s.port, '127.0.0.1');
      c.setNoDelay(true);
      let got = '';
      c.on('data', (d) => (got += d.toString('latin1')));
      c.on('close', () => resolve(got));
      c.on('error', (e) => (got ? resolve(got) : reject(e)));
      c.on('connect', () => {
        void (async () => {
          for (let i = 0; i < head.length && !c.destroyed && got === ''; i += piece) {
            c.write(head.subarray(i, i + piece));
            await new Promise((r) => setImmediate(r));
          }
        })();
      });
    });
  const N = 20;
  const before = headScan.bytes;
  const answers = await Promise.all(Array.from({ length: N }, () => send(100)));
  for (const a of answers) t.match(a, /^HTTP\/1\.1 200 /, 'a head in 160 pieces of 100 bytes is served');
  const scanned = headScan.bytes - before;
  t.equal(scanned, N * head.length, `${scanned} bytes scanned for ${N} heads of ${head.length} bytes (each once)`);
  // One byte per write: refused once the head has taken more than MAX_HEAD_READS reads.
  const drip = await send(1);
  t.match(drip, /^HTTP\/1\.1 400 [\s\S]*more than 256 pieces/);
});

t.test('a silent connection is closed at the head deadline without a response', async (t) => {
  const s = new MkvServer({
    port: 0,
    mounts: [{ name: 'stream', input: FIX('vp9-opus.webm'), loop: true, speed: 4 }],
    headTimeoutMs: 300,
  });
  await s.start();
  t.teardown(() => s.stop(0));
  const r = await rawRequest(s.port, '', 5000);
  t.equal(r.status, 0, 'no response');
  t.equal(r.body.length + r.head.length, 0, 'nothing sent');
});
