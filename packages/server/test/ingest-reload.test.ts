// Ingest mounts under the management work: a TCP listen mount restarted (API restart, or a reload that
// changes a setting that shapes the stream) binds its port again (the check before the restart knows
// the port is the running mount's own); a push mount's token and takeover are live settings: a reload
// changes them in place, the connected source and the viewers are not touched.
import t from 'tap';
import net from 'node:net';
import { resolveConfigFrom } from '../src/config.js';
import { hasFfmpeg, parseMedia, waitFor } from '../testlib/helpers.js';
import { TOKEN, ffmpegPush, startServer, view, waitEvent } from '../testlib/ingest.js';

/** A port that was free a moment ago (bound on port 0 and released). */
async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

t.test(
  'a TCP listen mount restarted (API, reload) binds its port again',
  { skip: !hasFfmpeg && 'no ffmpeg' },
  async (t) => {
    const port = await freePort();
    const input = `tcp://127.0.0.1:${port}?listen`;
    const s = await startServer([{ name: 'cam', input, sourceGraceMs: 500 }]);
    t.teardown(() => s.close());
    await waitEvent(s, 'ingest_listen');
    const first = ffmpegPush(`tcp://127.0.0.1:${port}`, { loop: true });
    t.teardown(() => first.child.kill('SIGKILL'));
    await waitEvent(s, 'source_connect');
    const viewer = view(s.port, 'cam', 20_000);
    await waitFor(() => s.status('cam').clients === 1, 5000, 'the viewer');
    const r = await s.server.restartMount('cam');
    t.equal(r?.clientsEnded, 1, 'restarted: its viewer ended cleanly');
    const cap = await viewer;
    t.ok(cap.ended);
    t.equal(parseMedia(cap.body).errors.length, 0);
    await waitFor(() => s.events('ingest_listen').length === 2, 5000, 'listening again');
    t.equal(s.events('ingest_listen')[1]['listen'], input, 'on the same port');
    const exit = await first.exit;
    t.not(exit.code, 0, 'the old source was disconnected by the restart');
    const second = ffmpegPush(`tcp://127.0.0.1:${port}`, { loop: true });
    t.teardown(() => second.child.kill('SIGKILL'));
    await waitFor(() => s.events('source_connect').length === 2, 10_000, 'a source on the restarted mount');
    // A reload that changes a setting that shapes the stream restarts the mount: same port again.
    const next = resolveConfigFrom([
      { server: { port: s.port }, mounts: { cam: { input, sourceGraceMs: 500, sourceIdleTimeoutMs: 5000 } } },
    ]);
    const report = await s.server.applyConfig(next);
    t.same(report.restarted, ['cam']);
    await waitFor(() => s.events('ingest_listen').length === 3, 5000, 'listening after the reload');
    second.child.kill('SIGKILL');
    const third = ffmpegPush(`tcp://127.0.0.1:${port}`);
    await waitFor(() => s.events('source_connect').length === 3, 10_000, 'a source after the reload');
    t.equal((await third.exit).code, 0, third.stderr());
  },
);

t.test(
  'push mount: token and takeover are changed in place by a reload',
  { skip: !hasFfmpeg && 'no ffmpeg' },
  async (t) => {
    const s = await startServer([{ name: 'live', input: 'push', token: TOKEN, sourceGraceMs: 1000 }]);
    t.teardown(() => s.close());
    const a = ffmpegPush(`http://source:${TOKEN}@127.0.0.1:${s.port}/live`, { loop: true, extra: ['-method', 'PUT'] });
    t.teardown(() => a.child.kill('SIGKILL'));
    await waitEvent(s, 'source_connect');
    const viewer = view(s.port, 'live', 20_000);
    await waitFor(() => s.status('live').clients === 1, 5000, 'the viewer');
    const NEW = 'rotated-token-77';
    const report = await s.server.applyConfig(
      resolveConfigFrom([
        {
          server: { port: s.port },
          mounts: { live: { input: 'push', token: NEW, takeover: true, sourceGraceMs: 1000 } },
        },
      ]),
    );
    t.same(report.updated, ['live'], 'updated in place, not restarted');
    t.equal(s.status('live').clients, 1, 'the viewer is still there');
    t.equal(s.status('live').ingest!.sources, 1, 'the connected source too');
    t.equal(s.status('live').ingest!.takeover, true);
    // The old token is refused now; the new one takes over (takeover became true).
    const old = ffmpegPush(`icecast://source:${TOKEN}@127.0.0.1:${s.port}/live`, {
      format: 'webm',
      extra: ['-content_type', 'video/webm'],
    });
    t.not((await old.exit).code, 0, 'the old token is refused');
    t.equal(s.events('source_refused').at(-1)?.['reason'], 'bad_token');
    const b = ffmpegPush(`http://source:${NEW}@127.0.0.1:${s.port}/live`, { loop: true, extra: ['-method', 'PUT'] });
    t.teardown(() => b.child.kill('SIGKILL'));
    await waitFor(() => s.events('source_connect').length === 2, 10_000, 'the new source');
    t.equal(s.status('live').ingest!.lastSource?.end, 'taken_over');
    b.child.kill('SIGKILL');
    a.child.kill('SIGKILL');
    const cap = await viewer;
    const m = parseMedia(cap.body);
    t.equal(m.headers, 1, 'one stream across the reload and the takeover');
    t.same(m.errors, []);
  },
);
