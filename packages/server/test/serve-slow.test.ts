// Slow clients: a client that stops reading is skipped then dropped, its queued bytes stay bounded,
// and another client keeps receiving at full rate.
import t from 'tap';
import net from 'node:net';
import { MkvServer } from '../src/server.js';
import { FIX, get, parseMedia, mediaSpan, sleep } from '../testlib/helpers.js';

t.test('a stalled client is skipped, then dropped; a healthy one keeps full rate', async (t) => {
  const speed = 20;
  const s = new MkvServer({
    port: 0,
    mounts: [{ name: 'stream', input: FIX('demo.webm'), loop: true, speed }],
    checkIntervalMs: 200,
  });
  await s.start();
  t.teardown(() => s.stop(0));
  const mount = s.mounts.get('stream')!;
  // The stalled client: sends its request, reads the response head, then never reads again.
  const stalled = net.connect(s.port, '127.0.0.1', () => stalled.write('GET /stream HTTP/1.1\r\n\r\n'));
  let stalledClosed = false;
  let reason: string | undefined;
  mount.on('client-close', (c) => {
    if (c.port === stalled.localPort) {
      stalledClosed = true;
      reason = c.reason;
    }
  });
  stalled.on('error', () => {});
  stalled.once('data', () => stalled.pause());
  await sleep(100);
  const t0 = performance.now();
  const window = 5; // seconds the healthy client reads
  const healthy = get(s.port, '/stream', window * 1000);
  let maxQueued = 0;
  let sawSkip = false;
  while (!stalledClosed && performance.now() - t0 < 30_000) {
    for (const c of mount.clients)
      if (c.port === stalled.localPort) {
        maxQueued = Math.max(maxQueued, c.socket.writableLength);
        if (c.sub.skips > 0) sawSkip = true;
      }
    await sleep(50);
  }
  t.ok(
    stalledClosed,
    `stalled client disconnected by the server after ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
  t.match(reason, /^dropped_/, `reason ${reason}`);
  t.ok(maxQueued <= 1024 * 1024, `at most ${maxQueued} bytes queued in user space for it`);
  t.ok(mount.drops >= 1, 'counted as a drop');
  t.ok(sawSkip || mount.skips >= 1, 'skipped to a newer keyframe before being dropped');
  t.ok(mount.live.stats.historyBytes <= 16 * 1024 * 1024, 'shared history stays bounded');
  const cap = await healthy;
  const span = mediaSpan(parseMedia(cap.body).frames);
  // Full rate is window * speed (100 s); a client held back by the stalled one would get a fraction
  // of it. 0.7 leaves room for a loaded CI machine.
  t.ok(span > window * speed * 0.7, `healthy client got ${span.toFixed(1)} s of media in ${window} s at ${speed}x`);
  const metrics = (await get(s.port, '/metrics')).body.toString();
  t.match(metrics, /mkvserve_client_drops_total\{mount="stream"\} [1-9]/);
  stalled.destroy();
});
