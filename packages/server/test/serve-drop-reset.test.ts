// A viewer dropped by the slow-client policy is reset (RST), not closed: a plain close leaves the
// kernel sending what it queued for the socket (MBs, up to net.ipv4.tcp_wmem's max) to a peer that
// reads at its own pace, long after the server let go of it. Real sockets; the kernel's view from ss.
import t from 'tap';
import net from 'node:net';
import { spawnSync } from 'node:child_process';
import type { Frame } from '@mkvserve/ebml';
import { LiveStream } from '@mkvserve/fanout';
import { Flusher, StreamClient } from '../src/http/stream.js';
import { vp8OnlyHeader, waitFor } from '../testlib/helpers.js';

const hasSs = spawnSync('ss', ['-V']).status === 0;

/** Sockets of the server's port in any state but LISTEN, as the kernel sees them. */
function kernelSockets(port: number): string[] {
  const r = spawnSync('ss', ['-tanH', `( sport = :${port} )`], { encoding: 'utf8' });
  return (r.stdout ?? '').split('\n').filter((l) => l.trim() !== '' && !l.startsWith('LISTEN'));
}

t.test('a dropped viewer is reset and the kernel lets go of its queue', { skip: !hasSs && 'ss missing' }, async (t) => {
  const live = new LiveStream({ hardLimitNs: 2e9, softLimitNs: 1e9, idleTimeoutMs: 60_000 });
  live.setHeader(vp8OnlyHeader());
  const flusher = new Flusher({ intervalMs: 20 });
  flusher.start();
  let client: StreamClient | undefined;
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    socket.once('data', () => {
      client = new StreamClient(socket, live.subscribe(), 'm', { onClientClosed: () => {} });
      flusher.attach(client, 'HTTP/1.1 200 OK\r\n\r\n');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  t.teardown(() => {
    flusher.stop();
    server.close();
  });
  // A viewer that stops reading after the first bytes.
  const viewer = net.connect(port, '127.0.0.1', () => viewer.write('GET /m HTTP/1.1\r\n\r\n'));
  let viewerError = '';
  viewer.on('error', (e: NodeJS.ErrnoException) => (viewerError = e.code ?? e.message));
  let after = -1;
  viewer.on('data', (d: Buffer) => {
    if (after >= 0) after += d.length;
  });
  viewer.once('data', () => viewer.pause());
  await waitFor(() => client !== undefined, 5000, 'the viewer');
  // 40 s of a 4 Mbit/s stream, as fast as the socket takes it: the kernel queues fill up, the viewer
  // falls behind and is dropped past the 2 s hard limit.
  const payload = new Uint8Array(20_000);
  for (let i = 0; i < 1000 && !client!.ended; i++) {
    const f: Frame = { track: 1, timestamp: i * 40e6, keyframe: i % 25 === 0, data: payload, duration: 40e6 };
    live.pushFrame(f);
    if (i % 10 === 0) await new Promise((r) => setTimeout(r, 5));
  }
  await waitFor(() => client!.ended, 10_000, 'the drop');
  t.equal(client!.reason, 'dropped_lag');
  await waitFor(() => kernelSockets(port).length === 0, 3000, 'the kernel to free the socket').catch(() => {});
  t.same(kernelSockets(port), [], 'no socket left in the kernel (no orphan still sending its queue)');
  after = 0;
  viewer.resume();
  await waitFor(() => viewer.destroyed || viewer.readableEnded, 5000, 'the viewer to see the end');
  // What it still reads is what its own receive buffer held: the server's queue was discarded (a plain
  // close let it read the whole ~4 MB queue here).
  t.ok(after < 1024 * 1024, `${after} bytes after the drop (${viewerError || 'end'})`);
  viewer.destroy();
});
