// The write interval's stretch on a real server: the event loop is saturated by a busy loop in this
// process (as a shared core or a join storm would), the interval doubles up to flushMaxMs, comes back
// when the loop is free again, and a halving that saturates the loop again is undone and backed off
// (the next try 30 s later). Read through /api/status (flushIntervalMs, eventLoopUtilization) and the
// flush_stretch log lines, with a viewer connected all along.
import t from 'tap';
import { MkvServer } from '../src/server.js';
import { createLogger } from '../src/log.js';
import { STRETCH_RETRY_MS } from '../src/http/stream.js';
import { FIX, viewer, waitFor } from '../testlib/helpers.js';

/** Keeps the event loop busy (setImmediate after 20 ms of spinning: timers still run) until stopped. */
function saturate(): () => void {
  let on = true;
  const spin = (): void => {
    const t0 = performance.now();
    while (performance.now() - t0 < 20);
    if (on) setImmediate(spin);
  };
  setImmediate(spin);
  return () => {
    on = false;
  };
}

t.test(
  'a saturated loop stretches the interval; it comes back, and a halving that does not fit is backed off',
  async (t) => {
    const lines: { level: string; event: string; intervalMs?: number; reason?: string }[] = [];
    const s = new MkvServer({
      port: 0,
      flushMs: 100,
      flushMaxMs: 400,
      mounts: [{ name: 'a', input: FIX('vp9-opus.webm'), loop: true }],
      log: createLogger({ format: 'json', stream: { write: (l: string) => lines.push(JSON.parse(l)) } }),
    });
    await s.start();
    t.teardown(() => s.stop(0));
    const { sock, got } = viewer(s.port, '/a');
    t.teardown(() => sock.destroy());
    await waitFor(() => got() > 0, 10_000, 'the viewer to get its burst');
    const interval = (): number => s.status().flushIntervalMs;
    await waitFor(() => s.status().eventLoopUtilization !== null, 2000, 'a first utilization check');
    // (A busy machine can make the start look saturated: then it comes back within a few seconds.)
    await waitFor(() => interval() === 100, 8000, 'the interval to be flushMs while the loop has time');

    const from = lines.length;
    let stop = saturate();
    await waitFor(() => interval() === 400, 5000, 'the interval to stretch to flushMaxMs');
    stop();
    const ups = lines.slice(from).filter((l) => l.event === 'flush_stretch' && l.level === 'warn');
    t.same(
      ups.map((l) => l.intervalMs),
      [200, 400],
      'doubled twice, logged as warnings',
    );
    t.match(ups[0].reason, /saturated/);
    const before = got();
    await waitFor(() => interval() === 200, 5000, 'the first halving once the loop is free');
    t.ok(got() > before, 'the viewer was served meanwhile');

    // Saturated again right after that halving: it did not fit; undone, and no halving for 30 s.
    stop = saturate();
    await waitFor(() => interval() === 400, 3000, 'the halving to be undone');
    stop();
    const undone = lines.filter((l) => l.event === 'flush_stretch').at(-1)!;
    t.equal(undone.level, 'warn');
    t.equal(undone.intervalMs, 400);
    t.match(undone.reason, new RegExp(`next try in ${STRETCH_RETRY_MS / 1000} s`), 'says when it tries again');
    await new Promise((r) => setTimeout(r, 3500));
    t.ok(
      s.status().eventLoopUtilization! < 0.6,
      `the loop is calm again (${s.status().eventLoopUtilization}), more than the 2 s a halving needs`,
    );
    t.equal(interval(), 400, 'but the halving waits out its back-off');
    t.equal(sock.destroyed, false, 'the viewer is still connected');
  },
);
