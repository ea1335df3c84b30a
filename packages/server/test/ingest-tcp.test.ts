// TCP listen ingest (`tcp://HOST:PORT?listen`, ffmpeg's spelling): the old screencast recipe in one
// command. Plain TCP has no place for a token: it binds 127.0.0.1 unless an address is given, takes an
// optional allowlist of source addresses, says plainly in the log that it is unauthenticated, takes one
// source at a time (others are closed, logged) unless the mount allows takeover, and drops a silent
// source after its idle timeout.
import t from 'tap';
import net from 'node:net';
import { networkInterfaces } from 'node:os';
import { readFileSync } from 'node:fs';
import { MkvServer } from '../src/server.js';
import { FIX, ffmpegErrors, hasFfmpeg, parseMedia, sleep, waitFor } from '../testlib/helpers.js';
import { ffmpegPush, startServer, view, waitEvent } from '../testlib/ingest.js';

const FRAMES = parseMedia(readFileSync(FIX('vp9-opus.webm'))).frames.length;

/** Connects to the TCP ingest port; resolves with the socket, or the connect error's code. */
function connect(port: number, host = '127.0.0.1'): Promise<net.Socket | string> {
  return new Promise((resolve) => {
    const s = net.connect(port, host);
    s.once('connect', () => resolve(s));
    s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
  });
}

/** Resolves when the peer closed the socket (true), or false after `ms`. */
function closedBy(s: net.Socket, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    s.on('error', () => {});
    s.once('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

function nonLoopbackIPv4(): string | undefined {
  for (const list of Object.values(networkInterfaces()))
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  return undefined;
}

t.test('binds 127.0.0.1 unless an address is given, and says it is unauthenticated', async (t) => {
  const s = await startServer([{ name: 'cam', input: 'tcp://:0?listen' }]);
  t.teardown(() => s.close());
  const ev = await waitEvent(s, 'ingest_listen');
  const port = s.server.mounts.get('cam')!.ingest!.tcpPort!;
  t.equal(ev['listen'], `tcp://127.0.0.1:${port}?listen`);
  t.equal(ev['auth'], 'none');
  t.match(String(ev['note']), /unauthenticated/);
  t.equal(s.events('ingest_unauthenticated').length, 0, 'loopback only: no warning');
  const st = s.status('cam');
  t.equal(st.ingest!.listen, `tcp://127.0.0.1:${port}?listen`);
  t.equal(st.ingest!.auth, 'none');
  t.equal(st.input.name, `tcp://127.0.0.1:${port}?listen`, 'the input shows the bound address');
  const other = nonLoopbackIPv4();
  if (other) {
    const r = await connect(port, other);
    t.equal(r, 'ECONNREFUSED', `not reachable on ${other}`);
  }
  // Beyond loopback without an allowlist: a warning that says what to do.
  const open = await startServer([{ name: 'cam', input: 'tcp://0.0.0.0:0?listen' }]);
  t.teardown(() => open.close());
  const warn = await waitEvent(open, 'ingest_unauthenticated');
  t.match(String(warn['reason']), /allowSources/);
});

t.test('a port in use is refused before the server starts, with what to do', async (t) => {
  const busy = net.createServer();
  await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
  t.teardown(() => busy.close());
  const port = (busy.address() as net.AddressInfo).port;
  const s = new MkvServer({ port: 0, mounts: [{ name: 'cam', input: `tcp://127.0.0.1:${port}?listen` }] });
  await t.rejects(s.start(), /mount cam: cannot listen for sources on 127\.0\.0\.1:\d+: the port is already in use/);
});

t.test(
  'ffmpeg -f matroska tcp://: the stream, a viewer decodes it; the source in the status',
  { skip: !hasFfmpeg && 'no ffmpeg' },
  async (t) => {
    const s = await startServer([{ name: 'cam', input: 'tcp://127.0.0.1:0?listen', sourceGraceMs: 1000 }]);
    t.teardown(() => s.close());
    await waitEvent(s, 'ingest_listen');
    const port = s.server.mounts.get('cam')!.ingest!.tcpPort!;
    const viewer = view(s.port, 'cam');
    const ff = ffmpegPush(`tcp://127.0.0.1:${port}`);
    await waitEvent(s, 'source_connect');
    const src = s.status('cam').ingest!.source!;
    t.equal(src.protocol, 'tcp');
    t.equal(src.address, '127.0.0.1');
    t.equal((await ff.exit).code, 0, ff.stderr());
    const cap = await viewer;
    t.ok(cap.ended);
    const m = parseMedia(cap.body);
    t.equal(m.headers, 1);
    t.equal(m.frames.length, FRAMES);
    t.equal(ffmpegErrors(cap.body), '');
    const ing = s.status('cam').ingest!;
    t.equal(ing.lastSource?.end, 'ended');
    t.equal(ing.lastSource?.bytes, s.status('cam').input.bytesIn);
  },
);

t.test('allowlist: other addresses are refused and logged', { skip: !hasFfmpeg && 'no ffmpeg' }, async (t) => {
  const s = await startServer([
    { name: 'cam', input: 'tcp://127.0.0.1:0?listen', allowSources: ['10.0.0.0/8', '::1'] },
  ]);
  t.teardown(() => s.close());
  await waitEvent(s, 'ingest_listen');
  const port = s.server.mounts.get('cam')!.ingest!.tcpPort!;
  const ff = ffmpegPush(`tcp://127.0.0.1:${port}`);
  const exit = await ff.exit;
  t.not(exit.code, 0, `ffmpeg fails: ${ff.stderr().trim()}`);
  const ref = await waitEvent(s, 'source_refused');
  t.equal(ref['reason'], 'address');
  t.equal(ref['address'], '127.0.0.1');
  t.match(String(ref['detail']), /not in allowSources/);
  const st = s.status('cam');
  t.equal(st.ingest!.refused, 1);
  t.same(st.ingest!.allowSources, ['10.0.0.0/8', '::1']);
  t.equal(st.input.bytesIn, 0);
  // The allowed address is taken.
  const ok = await startServer([{ name: 'cam', input: 'tcp://127.0.0.1:0?listen', allowSources: ['127.0.0.0/8'] }]);
  t.teardown(() => ok.close());
  await waitEvent(ok, 'ingest_listen');
  const ff2 = ffmpegPush(`tcp://127.0.0.1:${ok.server.mounts.get('cam')!.ingest!.tcpPort!}`);
  await waitEvent(ok, 'source_connect');
  await ff2.exit;
});

t.test(
  'one source at a time: a second connection is closed (logged); takeover replaces',
  { skip: !hasFfmpeg && 'no ffmpeg' },
  async (t) => {
    const s = await startServer([{ name: 'cam', input: 'tcp://127.0.0.1:0?listen' }]);
    t.teardown(() => s.close());
    await waitEvent(s, 'ingest_listen');
    const port = s.server.mounts.get('cam')!.ingest!.tcpPort!;
    const first = ffmpegPush(`tcp://127.0.0.1:${port}`, { loop: true });
    t.teardown(() => first.child.kill('SIGKILL'));
    await waitEvent(s, 'source_connect');
    const second = await connect(port);
    t.type(second, net.Socket);
    t.ok(await closedBy(second as net.Socket, 3000), 'the second connection is closed by the server');
    const ref = await waitEvent(s, 'source_refused');
    t.equal(ref['reason'], 'busy');
    t.equal(s.status('cam').ingest!.source?.id, s.events('source_connect')[0]['source']);
    first.child.kill('SIGKILL');

    const tk = await startServer([
      { name: 'cam', input: 'tcp://127.0.0.1:0?listen', takeover: true, sourceGraceMs: 1000 },
    ]);
    t.teardown(() => tk.close());
    await waitEvent(tk, 'ingest_listen');
    const p2 = tk.server.mounts.get('cam')!.ingest!.tcpPort!;
    const a = ffmpegPush(`tcp://127.0.0.1:${p2}`, { loop: true });
    t.teardown(() => a.child.kill('SIGKILL'));
    await waitEvent(tk, 'source_connect');
    const viewer = view(tk.port, 'cam');
    await sleep(1200);
    const b = ffmpegPush(`tcp://127.0.0.1:${p2}`, { loop: true });
    t.teardown(() => b.child.kill('SIGKILL'));
    const aExit = await Promise.race([a.exit, sleep(10_000).then(() => 'running')]);
    t.not(aExit, 'running', 'the first source was disconnected');
    await waitFor(() => tk.events('source_connect').length === 2, 5000, 'the new source');
    t.equal(tk.status('cam').ingest!.lastSource?.end, 'taken_over');
    await sleep(1500);
    b.child.kill('SIGKILL');
    const cap = await viewer;
    const m = parseMedia(cap.body);
    t.equal(m.headers, 1);
    t.equal(ffmpegErrors(cap.body), '', 'decodes across the takeover');
  },
);

t.test('not Matroska over TCP: closed and logged with the format; a silent source times out', async (t) => {
  const s = await startServer([{ name: 'cam', input: 'tcp://127.0.0.1:0?listen', sourceIdleTimeoutMs: 400 }]);
  t.teardown(() => s.close());
  await waitEvent(s, 'ingest_listen');
  const port = s.server.mounts.get('cam')!.ingest!.tcpPort!;
  const http = (await connect(port)) as net.Socket;
  http.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n<!DOCTYPE html><html>');
  t.ok(await closedBy(http, 3000), 'closed');
  const ref = await waitEvent(s, 'source_refused');
  t.equal(ref['reason'], 'not_matroska');
  t.match(String(ref['detail']), /not Matroska\/WebM/);
  // A source that sends its header and then nothing: dropped after the idle timeout.
  const data = readFileSync(FIX('vp9-opus.webm'));
  const quiet = (await connect(port)) as net.Socket;
  quiet.write(data.subarray(0, 40_000));
  t.ok(await closedBy(quiet, 5000), 'the silent source is disconnected');
  const drop = await waitEvent(s, 'source_drop');
  t.equal(drop['reason'], 'timeout');
  t.equal(s.status('cam').ingest!.drops, 1);
});
