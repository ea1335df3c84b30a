// Ingest from the command line, as an operator runs it: the screencast recipe in one command
// (`mkvserve --mount cam=tcp://...?listen`) and a push mount with its token from the environment. The
// startup log says plainly that plain TCP is unauthenticated; the push token never reaches stdout, the
// log, `/`, /api/status or /metrics, whether it was sent as Basic, Bearer or ?token=.
import t from 'tap';
import { FIX, get, hasFfmpeg, runCli, waitFor } from '../testlib/helpers.js';
import { ffmpegPush, proc } from '../testlib/ingest.js';

const SECRET = 'Zq7-ingest-SECRET-4411';

t.test(
  'one command: TCP listen and push mounts; the token is never shown',
  { skip: !hasFfmpeg && 'no ffmpeg' },
  async (t) => {
    const run = runCli(
      [
        '--mount',
        'cam=tcp://127.0.0.1:0?listen',
        '--mount',
        'live=push',
        '--port',
        '0',
        '--log-format',
        'json',
        '--source-grace-ms',
        '500',
      ],
      { stdin: 'ignore', env: { MKVSERVE_SOURCE_TOKEN: SECRET } },
    );
    t.teardown(() => run.child.kill('SIGKILL'));
    const url = await run.url;
    const port = Number(new URL(url).port);
    await waitFor(() => /"event":"ingest_listen"/.test(run.stderr()), 10_000, 'the TCP port');
    const listen = /"event":"ingest_listen".*?"listen":"tcp:\/\/127\.0\.0\.1:(\d+)\?listen"/.exec(run.stderr());
    t.ok(listen, 'the log names the bound address');
    t.match(
      run.stderr(),
      /"event":"ingest_listen"[^\n]*"auth":"none"[^\n]*unauthenticated/,
      'and says it is unauthenticated',
    );
    t.match(run.stderr(), /"event":"ingest_push"[^\n]*"path":"\/live"[^\n]*"auth":"token"/);
    t.match(run.stdout(), /serving push at http:\/\/127\.0\.0\.1:\d+\/live/);
    const tcpPort = Number(listen![1]);
    // TCP: the screencast recipe with a file instead of x11grab.
    const cam = ffmpegPush(`tcp://127.0.0.1:${tcpPort}`);
    t.equal((await cam.exit).code, 0, cam.stderr());
    // Push: wrong token, Basic after the challenge, Bearer, and ?token=.
    const wrong = ffmpegPush(`icecast://source:nope@127.0.0.1:${port}/live`, {
      format: 'webm',
      extra: ['-content_type', 'video/webm'],
    });
    await wrong.exit;
    const basic = ffmpegPush(`http://source:${SECRET}@127.0.0.1:${port}/live`, { extra: ['-method', 'PUT'] });
    t.equal((await basic.exit).code, 0, basic.stderr());
    await waitFor(() => (run.stderr().match(/"event":"source_end"/g) ?? []).length >= 2, 10_000, 'two sources ended');
    const query = proc('curl', [
      '-sS',
      '-f',
      '-T',
      FIX('vp8-vorbis.webm'),
      `http://127.0.0.1:${port}/live?token=${SECRET}`,
    ]);
    await query.exit;
    const bearer = proc('curl', [
      '-sS',
      '-f',
      '-H',
      `Authorization: Bearer ${SECRET}`,
      '-T',
      FIX('vp8-vorbis.webm'),
      `http://127.0.0.1:${port}/live`,
    ]);
    await bearer.exit;
    const st = await get(port, '/api/status');
    const status = JSON.parse(st.body.toString()) as {
      mounts: { name: string; ingest: { sources: number; lastSource: { address: string } | null } }[];
    };
    const live = status.mounts.find((m) => m.name === 'live')!;
    t.ok(live.ingest.sources >= 2, `${live.ingest.sources} push sources`);
    t.equal(live.ingest.lastSource?.address, '127.0.0.1', 'the source address is in the status');
    t.ok(status.mounts.find((m) => m.name === 'cam')!.ingest.sources === 1, 'the TCP source');
    const pages = [
      st.body.toString(),
      (await get(port, '/metrics')).body.toString(),
      (await get(port, '/')).body.toString(),
      (await get(port, '/', 2000, 'Accept: text/html\r\n')).body.toString(),
    ];
    t.match(pages[1], /mkvserve_ingest_sources_total\{mount="live"\} \d/);
    t.match(pages[1], /mkvserve_ingest_source_drops_total\{mount="cam"\} 0/);
    run.child.kill('SIGTERM');
    await run.exit;
    for (const [what, text] of [
      ['stdout', run.stdout()],
      ['the log', run.stderr()],
      ['/api/status', pages[0]],
      ['/metrics', pages[1]],
      ['/', pages[2]],
      ['/ (HTML)', pages[3]],
    ] as const)
      t.notOk(text.includes(SECRET), `the token is not in ${what}`);
    t.match(run.stderr(), /"event":"source_refused"[^\n]*"reason":"bad_token"/, 'the wrong token was logged as such');
  },
);

t.test('TCP listen beyond loopback without an allowlist: a warning that says what to do', async (t) => {
  const run = runCli(['--mount', 'cam=tcp://0.0.0.0:0?listen', '--port', '0'], { stdin: 'ignore' });
  t.teardown(() => run.child.kill('SIGKILL'));
  await run.url;
  await waitFor(() => /ingest_unauthenticated/.test(run.stderr()), 10_000, 'the warning');
  t.match(
    run.stderr(),
    /warn ingest_unauthenticated mount=cam listen=tcp:\/\/0\.0\.0\.0:\d+\?listen reason=".*set allowSources/,
  );
  const quiet = runCli(
    ['--mount', 'cam=tcp://0.0.0.0:0?listen', '--allow-sources', '127.0.0.1,10.0.0.0/8', '--port', '0'],
    { stdin: 'ignore' },
  );
  t.teardown(() => quiet.child.kill('SIGKILL'));
  await quiet.url;
  await waitFor(() => /ingest_listen/.test(quiet.stderr()), 10_000, 'listening');
  t.match(quiet.stderr(), /ingest_listen mount=cam .*allow=127\.0\.0\.1,10\.0\.0\.0\/8/);
  t.notMatch(quiet.stderr(), /ingest_unauthenticated/, 'with an allowlist: no warning');
  const bad = runCli(['--mount', 'cam=tcp://0.0.0.0:0?listen', '--allow-sources', 'example.com', '--port', '0'], {
    stdin: 'ignore',
  });
  t.equal((await bad.exit).code, 1);
  t.match(bad.stderr(), /--allow-sources: "example\.com" is not an address or CIDR range/);
});
