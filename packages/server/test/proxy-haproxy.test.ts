// Behind a proxy, on real sockets: Debian's HAProxy in front of the server with `send-proxy` (PROXY v1)
// and `send-proxy-v2`, and in HTTP mode with `option forwardfor`; clients connect to HAProxy from
// different loopback addresses (127.0.0.2, 127.0.0.3, ...). The client's address, not HAProxy's, is what
// the status, the API, the log and the per-address limit see. X-Forwarded-For is believed from a trusted
// peer only, and a PROXY header from an untrusted peer is a 400.
import t from 'tap';
import type { Test } from 'tap';
import net from 'node:net';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MkvServer } from '../src/server.js';
import type { ServerSettingsInput } from '../src/config.js';
import { createLogger } from '../src/log.js';
import { FIX, parseMedia, rawRequest, sleep, waitFor } from '../testlib/helpers.js';
import type { Capture } from '../testlib/helpers.js';

const hasHaproxy = spawnSync('haproxy', ['-v']).status === 0;

interface Started {
  s: MkvServer;
  lines: string[];
}

async function startServer(t: Test, extra: ServerSettingsInput): Promise<Started> {
  const lines: string[] = [];
  const s = new MkvServer({
    port: 0,
    mounts: [{ name: 'stream', input: FIX('vp9-opus.webm'), loop: true, speed: 2 }],
    log: createLogger({ format: 'json', stream: { write: (l: string) => lines.push(l) } }),
    ...extra,
  });
  await s.start();
  t.teardown(() => s.stop(0));
  return { s, lines };
}

/** A free port on 127.0.0.1 right now (HAProxy cannot report a port it chose itself). */
async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

/** Runs HAProxy with one frontend per backend line; resolves with the frontends' ports once they accept. */
async function haproxy(t: Test, mode: 'tcp' | 'http', servers: string[], extra: string[] = []): Promise<number[]> {
  const dir = mkdtempSync(join(tmpdir(), 'mkvserve-haproxy-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const ports: number[] = [];
  for (let i = 0; i < servers.length; i++) ports.push(await freePort());
  const cfg = [
    'global',
    '  maxconn 200',
    'defaults',
    `  mode ${mode}`,
    '  timeout connect 2s',
    '  timeout client 30s',
    '  timeout server 30s',
    ...extra.map((l) => `  ${l}`),
    ...servers.flatMap((srv, i) => [
      `frontend fe${i}`,
      `  bind 127.0.0.1:${ports[i]}`,
      `  default_backend be${i}`,
      `backend be${i}`,
      `  server s${i} ${srv}`,
    ]),
  ].join('\n');
  const file = join(dir, 'haproxy.cfg');
  writeFileSync(file, cfg + '\n');
  const child = spawn('haproxy', ['-f', file, '-db'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  t.teardown(() => child.kill('SIGKILL'));
  for (const port of ports) {
    const end = performance.now() + 10_000;
    for (;;) {
      const ok = await new Promise<boolean>((resolve) => {
        const c = net.connect(port, '127.0.0.1', () => {
          c.destroy();
          resolve(true);
        });
        c.on('error', () => resolve(false));
      });
      if (ok) break;
      if (performance.now() > end || child.exitCode !== null) throw new Error(`haproxy did not start: ${err}`);
      await sleep(50);
    }
  }
  return ports;
}

/** GET through a port from a given local address; resolves once the response head is in, with the socket. */
function openStream(
  port: number,
  from: string,
  extra = '',
): Promise<{ sock: net.Socket; head: string; body: () => Buffer; ended: () => boolean }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let ended = false;
    const sock = net.connect({ port, host: '127.0.0.1', localAddress: from }, () =>
      sock.write(`GET /stream HTTP/1.1\r\nHost: x\r\n${extra}\r\n`),
    );
    sock.on('error', reject);
    sock.on('end', () => (ended = true));
    sock.on('data', (d) => {
      chunks.push(d);
      const all = Buffer.concat(chunks);
      const i = all.indexOf('\r\n\r\n');
      if (i >= 0 && chunks.length > 0 && !(sock as { resolved?: boolean }).resolved) {
        (sock as { resolved?: boolean }).resolved = true;
        resolve({
          sock,
          head: all.subarray(0, i).toString('latin1'),
          body: () => Buffer.concat(chunks).subarray(i + 4),
          ended: () => ended,
        });
      }
    });
  });
}

const statusOf = (head: string): number => Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);

function request(port: number, path: string, from: string, extra = '', ms = 2000): Promise<Capture> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const sock = net.connect({ port, host: '127.0.0.1', localAddress: from }, () =>
      sock.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n${extra}\r\n`),
    );
    const timer = setTimeout(() => sock.destroy(), ms);
    sock.on('data', (d) => chunks.push(d));
    sock.on('error', reject);
    sock.on('close', () => {
      clearTimeout(timer);
      const all = Buffer.concat(chunks);
      const i = all.indexOf('\r\n\r\n');
      const head = all.subarray(0, Math.max(0, i)).toString('latin1');
      resolve({
        status: statusOf(head),
        headers: new Map(
          head
            .split('\r\n')
            .slice(1)
            .map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]),
        ),
        head,
        body: all.subarray(i + 4),
        ended: true,
        ttfbMs: 0,
      });
    });
  });
}

t.test(
  'HAProxy send-proxy (v1) and send-proxy-v2: the client address everywhere, the per-address limit per client',
  { skip: hasHaproxy ? false : 'haproxy is not installed' },
  async (t) => {
    const { s, lines } = await startServer(t, { trustedProxies: ['127.0.0.1'], maxClientsPerIp: 1 });
    const [v1, v2] = await haproxy(t, 'tcp', [`127.0.0.1:${s.port} send-proxy`, `127.0.0.1:${s.port} send-proxy-v2`]);
    const a = await openStream(v1, '127.0.0.2');
    t.teardown(() => a.sock.destroy());
    t.equal(statusOf(a.head), 200, 'first stream from 127.0.0.2 (through PROXY v1)');
    const again = await openStream(v2, '127.0.0.2');
    t.teardown(() => again.sock.destroy());
    t.equal(statusOf(again.head), 429, 'a second stream from 127.0.0.2 (through PROXY v2): the per-address limit');
    t.match(again.head, /Retry-After: 5/);
    const c = await openStream(v2, '127.0.0.3');
    t.teardown(() => c.sock.destroy());
    t.equal(statusOf(c.head), 200, '127.0.0.3 is another client, although the TCP peer is the same HAProxy');
    await waitFor(() => s.clientCount === 2, 5000, 'two clients');
    const st = s.status();
    t.same(
      st.clients.map((x) => [x.address, x.proxy]).sort(),
      [
        ['127.0.0.2', '127.0.0.1'],
        ['127.0.0.3', '127.0.0.1'],
      ],
      'status: the clients, each via the proxy',
    );
    t.ok(
      st.clients.every((x) => x.port > 1024),
      'the client ports come from the PROXY header',
    );
    const api = await request(s.port, '/api/clients', '127.0.0.1');
    const listed = (JSON.parse(api.body.toString()) as { clients: { address: string }[] }).clients;
    t.same(listed.map((x) => x.address).sort(), ['127.0.0.2', '127.0.0.3'], 'the API');
    const connects = lines
      .filter((l) => l.includes('"client_connect"'))
      .map((l) => JSON.parse(l) as { address: string });
    t.same(connects.map((l) => l.address).sort(), ['127.0.0.2', '127.0.0.3'], 'the log');
    await waitFor(() => parseMedia(a.body()).frames.length > 0, 5000, 'media through HAProxy');
    a.sock.destroy();
    await waitFor(() => s.clientCount === 1, 5000, 'the first client gone');
    const back = await openStream(v1, '127.0.0.2');
    t.teardown(() => back.sock.destroy());
    t.equal(statusOf(back.head), 200, 'room for 127.0.0.2 again once its stream closed');
  },
);

t.test(
  'HAProxy in HTTP mode with option forwardfor: X-Forwarded-For from the trusted proxy, a spoofed one ignored',
  { skip: hasHaproxy ? false : 'haproxy is not installed' },
  async (t) => {
    const { s } = await startServer(t, { trustedProxies: ['127.0.0.1'], maxClientsPerIp: 1 });
    const [fe] = await haproxy(t, 'http', [`127.0.0.1:${s.port}`], ['option forwardfor']);
    // The client claims another address; HAProxy appends the real one, which is what counts.
    const a = await openStream(fe, '127.0.0.4', 'X-Forwarded-For: 6.6.6.6\r\n');
    t.teardown(() => a.sock.destroy());
    t.equal(statusOf(a.head), 200);
    await waitFor(() => s.clientCount === 1, 5000, 'the client');
    t.same(
      s.status().clients.map((c) => [c.address, c.proxy]),
      [['127.0.0.4', '127.0.0.1']],
    );
    const b = await openStream(fe, '127.0.0.4', 'X-Forwarded-For: 7.7.7.7\r\n');
    t.teardown(() => b.sock.destroy());
    t.equal(statusOf(b.head), 429, 'another claimed address does not get around the per-address limit');
  },
);

t.test('X-Forwarded-For from a trusted peer counts per client; from an untrusted peer it is ignored', async (t) => {
  const trusted = await startServer(t, { trustedProxies: ['127.0.0.1'], maxClientsPerIp: 1 });
  const x = await openStream(trusted.s.port, '127.0.0.1', 'X-Forwarded-For: 198.51.100.7\r\n');
  t.teardown(() => x.sock.destroy());
  t.equal(statusOf(x.head), 200);
  const same = await openStream(trusted.s.port, '127.0.0.1', 'X-Forwarded-For: 198.51.100.7\r\n');
  t.teardown(() => same.sock.destroy());
  t.equal(statusOf(same.head), 429, 'the same forwarded client: limited');
  const other = await openStream(trusted.s.port, '127.0.0.1', 'X-Forwarded-For: 198.51.100.8\r\n');
  t.teardown(() => other.sock.destroy());
  t.equal(statusOf(other.head), 200, 'another forwarded client');
  await waitFor(() => trusted.s.clientCount === 2, 5000, 'two clients');
  t.same(
    trusted.s
      .status()
      .clients.map((c) => [c.address, c.port, c.proxy])
      .sort(),
    [
      ['198.51.100.7', 0, '127.0.0.1'],
      ['198.51.100.8', 0, '127.0.0.1'],
    ],
  );

  // The server trusts another address only: 127.0.0.1's header is a claim, not a fact.
  const untrusted = await startServer(t, { trustedProxies: ['127.0.0.9'], maxClientsPerIp: 1 });
  const u = await openStream(untrusted.s.port, '127.0.0.1', 'X-Forwarded-For: 198.51.100.7\r\n');
  t.teardown(() => u.sock.destroy());
  t.equal(statusOf(u.head), 200);
  const u2 = await openStream(untrusted.s.port, '127.0.0.1', 'X-Forwarded-For: 198.51.100.8\r\n');
  t.teardown(() => u2.sock.destroy());
  t.equal(statusOf(u2.head), 429, 'a different claimed address from the same untrusted peer is the same client');
  await waitFor(() => untrusted.s.clientCount === 1, 5000, 'one client');
  t.same(
    untrusted.s.status().clients.map((c) => [c.address, c.proxy]),
    [['127.0.0.1', null]],
  );

  // xForwardedFor: false ignores it from trusted proxies too (a TCP-mode proxy passes the client's own).
  const off = await startServer(t, { trustedProxies: ['127.0.0.1'], xForwardedFor: false });
  const o = await openStream(off.s.port, '127.0.0.1', 'X-Forwarded-For: 198.51.100.7\r\n');
  t.teardown(() => o.sock.destroy());
  await waitFor(() => off.s.clientCount === 1, 5000, 'one client');
  t.equal(off.s.status().clients[0].address, '127.0.0.1');
});

t.test('PROXY headers: 400 from an untrusted peer, malformed, or incomplete past the head deadline', async (t) => {
  const { s, lines } = await startServer(t, { trustedProxies: ['127.0.0.9'], headTimeoutMs: 500 });
  const v1 = 'PROXY TCP4 203.0.113.9 127.0.0.1 40000 80\r\nGET /stream HTTP/1.1\r\nHost: x\r\n\r\n';
  const r = await rawRequest(s.port, v1, 2000);
  t.equal(r.status, 400, 'PROXY v1 from a peer that is not a trusted proxy');
  t.match(r.body.toString(), /PROXY protocol header from 127\.0\.0\.1, which is not a trusted proxy/);
  t.match(r.body.toString(), /server\.trustedProxies/, 'says what to do');
  const sig = Buffer.from('0d0a0d0a000d0a515549540a', 'hex');
  const r2 = await rawRequest(s.port, Buffer.concat([sig, Buffer.from([0x21, 0x11, 0, 12]), Buffer.alloc(12)]), 2000);
  t.equal(r2.status, 400, 'PROXY v2 from an untrusted peer');
  t.ok(
    lines.some((l) => l.includes('"request_rejected"') && l.includes('not a trusted proxy')),
    'logged',
  );
  t.equal(s.clientCount, 0);

  const trusted = await startServer(t, { trustedProxies: ['127.0.0.1'], headTimeoutMs: 500 });
  const bad = await rawRequest(trusted.s.port, 'PROXY TCP4 1.2.3.4 5.6.7.8 1 99999\r\nGET / HTTP/1.1\r\n\r\n', 2000);
  t.equal(bad.status, 400, 'a malformed header from a trusted proxy');
  t.match(bad.body.toString(), /ports must be 0 to 65535/);
  // Half a header, then silence: the head deadline covers the PROXY header too.
  const t0 = performance.now();
  const slow = await rawRequest(trusted.s.port, 'PROXY TCP4 1.2.3.4', 3000);
  const took = performance.now() - t0;
  t.equal(slow.status, 408, 'incomplete PROXY header: 408 at the head deadline');
  t.ok(took >= 400 && took < 2500, `answered after ${took.toFixed(0)} ms (deadline 500 ms)`);
  // A trusted peer may also send plain HTTP (a health check without send-proxy).
  const plain = await rawRequest(trusted.s.port, 'GET /api/status HTTP/1.1\r\nHost: x\r\n\r\n', 2000);
  t.equal(plain.status, 200, 'plain HTTP from a trusted proxy');
  // A PROXY header that arrives one byte per read, then the request.
  const dripped = await new Promise<Capture>((resolve) => {
    const chunks: Buffer[] = [];
    const head = 'PROXY TCP4 203.0.113.50 127.0.0.1 41000 80\r\n';
    const sock = net.connect(trusted.s.port, '127.0.0.1', () => {
      void (async () => {
        for (const ch of head) {
          sock.write(ch);
          await sleep(2);
        }
        sock.write('GET /stream HTTP/1.1\r\nHost: x\r\n\r\n');
      })();
    });
    sock.on('data', (d) => {
      chunks.push(d);
      if (Buffer.concat(chunks).includes('\r\n\r\n')) {
        sock.destroy();
        resolve({
          status: statusOf(Buffer.concat(chunks).toString('latin1')),
          headers: new Map(),
          head: '',
          body: Buffer.alloc(0),
          ended: false,
          ttfbMs: 0,
        });
      }
    });
  });
  t.equal(dripped.status, 200, 'a PROXY header in 44 reads');
  await waitFor(() => trusted.lines.some((l) => l.includes('"client_connect"')), 2000, 'the connect line');
  t.ok(
    trusted.lines.some((l) => l.includes('"client_connect"') && l.includes('"address":"203.0.113.50"')),
    'the address from the dripped header',
  );
});
