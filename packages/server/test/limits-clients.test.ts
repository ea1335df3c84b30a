// Client limits on real sockets: the total and per-mount limits answer 503 with Retry-After (also to
// HEAD, never an empty 200), a burst of simultaneous viewers gets exactly the limit of streams, viewers
// still waiting for an input's header count, the per-address limit (429) counts each client address
// (here 127.0.0.2 and 127.0.0.3 connecting directly; behind a proxy see proxy-haproxy.test.ts) and gives
// the slot back when a viewer leaves, also one that gave up while waiting.
import t from 'tap';
import net from 'node:net';
import { MkvServer } from '../src/server.js';
import type { MkvServerOptions } from '../src/server.js';
import { FIX, parseMedia, rawRequest, sleep, waitFor, silentInput } from '../testlib/helpers.js';
import type { Capture } from '../testlib/helpers.js';

async function start(t: { teardown(fn: () => unknown): void }, opts: Partial<MkvServerOptions>): Promise<MkvServer> {
  const s = new MkvServer({ port: 0, ...opts } as MkvServerOptions);
  await s.start();
  t.teardown(() => s.stop(0));
  return s;
}

const looped = (name: string, extra: Record<string, unknown> = {}) => ({
  name,
  input: FIX('vp9-opus.webm'),
  loop: true,
  speed: 2,
  ...extra,
});

/** An input that sends nothing until it is closed: its viewers wait for the header. */

/** Opens a viewer from `from`; resolves with the socket once the response head is in (or at once for a
 *  request that waits for a header, when `waitHead` is false). */
function viewer(
  port: number,
  path: string,
  from = '127.0.0.1',
  waitHead = true,
): Promise<{ sock: net.Socket; head: string }> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const sock = net.connect({ port, host: '127.0.0.1', localAddress: from }, () => {
      sock.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
      if (!waitHead) resolve({ sock, head: '' });
    });
    sock.on('error', reject);
    sock.on('data', (d) => {
      if (buf.includes('\r\n\r\n')) return;
      buf += d.toString('latin1');
      if (buf.includes('\r\n\r\n')) resolve({ sock, head: buf.slice(0, buf.indexOf('\r\n\r\n')) });
    });
  });
}
const statusOf = (head: string): number => Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);

t.test('total and per-mount limits: 503 with Retry-After and a body, to GET and HEAD', async (t) => {
  const s = await start(t, { maxClients: 3, mounts: [looped('a', { maxClients: 2 }), looped('b')] });
  const open: net.Socket[] = [];
  t.teardown(() => open.forEach((c) => c.destroy()));
  for (const path of ['/a', '/a']) {
    const v = await viewer(s.port, path);
    open.push(v.sock);
    t.equal(statusOf(v.head), 200, path);
  }
  const fullMount = await rawRequest(s.port, 'GET /a HTTP/1.1\r\n\r\n', 2000);
  t.equal(fullMount.status, 503, '/a is full');
  t.equal(fullMount.headers.get('retry-after'), '5');
  t.match(fullMount.body.toString(), /\/a is full, try again later/);
  t.equal(Number(fullMount.headers.get('content-length')), fullMount.body.length, 'a complete answer');
  const head = await rawRequest(s.port, 'HEAD /a HTTP/1.1\r\n\r\n', 2000);
  t.equal(head.status, 503, 'HEAD on a full mount: 503 too, not an empty 200');
  t.equal(head.headers.get('retry-after'), '5');
  const v = await viewer(s.port, '/b');
  open.push(v.sock);
  t.equal(statusOf(v.head), 200, '/b: the third client');
  const fullServer = await rawRequest(s.port, 'GET /b HTTP/1.1\r\n\r\n', 2000);
  t.equal(fullServer.status, 503, 'the server is full (3)');
  t.match(fullServer.body.toString(), /the server is full, try again later/);
  t.equal(fullServer.headers.get('retry-after'), '5');
  const st = s.status();
  t.same(
    st.mounts.map((m) => [m.name, m.refused, m.maxClients]),
    [
      ['a', 2, 2],
      ['b', 1, 0],
    ],
    'refusals counted per mount',
  );
  const metrics = await s.metrics();
  t.match(metrics.text, /mkvserve_clients_refused_total\{mount="a"\} 2/);
  open[0].destroy();
  await waitFor(() => s.clientCount === 2, 5000, 'a slot freed');
  t.equal((await rawRequest(s.port, 'GET /a HTTP/1.1\r\n\r\n', 300)).status, 200, 'room again');
});

t.test('a burst of 20 simultaneous viewers on a mount of 5: exactly 5 streams, 15 refusals', async (t) => {
  const s = await start(t, { mounts: [looped('m', { maxClients: 5 })] });
  await waitFor(() => s.status().mounts[0].input.frames > 0, 5000, 'the input');
  const caps: Promise<Capture>[] = [];
  for (let i = 0; i < 20; i++) caps.push(rawRequest(s.port, 'GET /m HTTP/1.1\r\n\r\n', 1500));
  const res = await Promise.all(caps);
  const ok = res.filter((r) => r.status === 200);
  const refused = res.filter((r) => r.status === 503);
  t.equal(ok.length, 5, '5 streams');
  t.equal(refused.length, 15, '15 x 503');
  t.ok(
    ok.every((r) => parseMedia(r.body).frames.length > 0),
    'every 200 carries media',
  );
  t.ok(
    refused.every((r) => r.headers.get('retry-after') === '5' && r.body.length > 0),
    'every 503 has Retry-After and a body',
  );
});

t.test('viewers waiting for a header count toward the limits (total, mount, address)', async (t) => {
  const s = await start(t, {
    maxClientsPerIp: 1,
    mounts: [{ name: 'wait', input: 'silent', open: silentInput, maxClients: 2 }],
  });
  const a = await viewer(s.port, '/wait', '127.0.0.2', false);
  t.teardown(() => a.sock.destroy());
  await waitFor(() => s.mounts.get('wait')!.pending.length === 1, 5000, 'waiting');
  const sameIp = await viewer(s.port, '/wait', '127.0.0.2');
  t.teardown(() => sameIp.sock.destroy());
  t.equal(statusOf(sameIp.head), 429, 'the same address again: 429 (its first request is still waiting)');
  t.match(sameIp.head, /^HTTP\/1\.1 429 Too Many Requests\r\n/, 'with its reason phrase');
  t.match(sameIp.head, /Retry-After: 5/);
  const b = await viewer(s.port, '/wait', '127.0.0.3', false);
  t.teardown(() => b.sock.destroy());
  await waitFor(() => s.mounts.get('wait')!.pending.length === 2, 5000, 'two waiting');
  const third = await viewer(s.port, '/wait', '127.0.0.4');
  t.teardown(() => third.sock.destroy());
  t.equal(statusOf(third.head), 503, 'the mount is full with two waiting requests');
  // A waiting viewer that gives up frees its address's slot.
  a.sock.destroy();
  await sleep(100);
  const back = await viewer(s.port, '/wait', '127.0.0.2', false);
  t.teardown(() => back.sock.destroy());
  await waitFor(
    () => s.mounts.get('wait')!.pending.filter((p) => !p.socket.destroyed).length === 2,
    5000,
    '127.0.0.2 waiting again',
  );
  t.pass('127.0.0.2 admitted again after its first request gave up');
});

t.test('per address: each client address has its own count, HEAD is not counted', async (t) => {
  const s = await start(t, { maxClientsPerIp: 2, mounts: [looped('a'), looped('b')] });
  const open: net.Socket[] = [];
  t.teardown(() => open.forEach((c) => c.destroy()));
  for (const [path, from] of [
    ['/a', '127.0.0.2'],
    ['/b', '127.0.0.2'],
    ['/a', '127.0.0.3'],
  ]) {
    const v = await viewer(s.port, path, from);
    open.push(v.sock);
    t.equal(statusOf(v.head), 200, `${from} ${path}`);
  }
  const h = await rawRequest(s.port, 'HEAD /a HTTP/1.1\r\n\r\n', 1000);
  t.equal(h.status, 200, 'HEAD from 127.0.0.1');
  const over = await viewer(s.port, '/a', '127.0.0.2');
  open.push(over.sock);
  t.equal(statusOf(over.head), 429, '127.0.0.2: a third stream');
  const other = await viewer(s.port, '/b', '127.0.0.3');
  open.push(other.sock);
  t.equal(statusOf(other.head), 200, '127.0.0.3: its second stream');
  t.same(
    s
      .status()
      .clients.map((c) => c.address)
      .sort(),
    ['127.0.0.2', '127.0.0.2', '127.0.0.3', '127.0.0.3'],
  );
  open[0].destroy();
  await waitFor(() => s.clientCount === 3, 5000, 'one of 127.0.0.2 gone');
  const again = await viewer(s.port, '/a', '127.0.0.2');
  open.push(again.sock);
  t.equal(statusOf(again.head), 200, '127.0.0.2 has room again');
});
