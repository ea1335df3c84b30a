// The CLI with several mounts and a config file (flags override the file), the demo when stdin is
// /dev/null, a second SIGTERM cutting the grace period short, 503 (not a bare close) for requests still
// waiting for a header at shutdown, and the client limits (per mount, per address).
import t from 'tap';
import net from 'node:net';
import { mkdtempSync, rmSync, writeFileSync, openSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MkvServer } from '../src/server.js';
import { FIX, get, parseMedia, runCli, sleep, waitFor, silentInput } from '../testlib/helpers.js';

const portOf = (url: string): number => Number(new URL(url).port);

t.test('stdin from /dev/null: the demo plays (not "input is empty")', async (t) => {
  const fd = openSync('/dev/null', 'r');
  t.teardown(() => closeSync(fd));
  const run = runCli(['--port', '0'], { stdin: fd });
  t.teardown(() => run.child.kill('SIGKILL'));
  await run.url;
  await waitFor(() => /serving demo at/.test(run.stdout()), 5000, 'the serving line');
  const url = / at (http:\S+)/.exec(run.stdout())![1];
  const cap = await get(portOf(url), '/stream', 1000);
  t.equal(cap.headers.get('content-type'), 'video/webm');
  t.ok(parseMedia(cap.body).frames.length > 10, 'the demo streams');
});

t.test('--mount NAME=INPUT twice, plus a config file whose settings the flags override', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mkvserve-conf-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const conf = join(dir, 'mkvserve.yaml');
  writeFileSync(
    conf,
    [
      'server: { host: 127.0.0.1, port: 1, logFormat: json }',
      'mounts:',
      `  fromfile: { input: "${FIX('vp8-vorbis.webm')}", loop: false }`,
    ].join('\n'),
  );
  const run = runCli(
    [
      '--config',
      conf,
      '--port',
      '0',
      '--mount',
      `a=${FIX('vp9-opus.webm')}`,
      '--mount',
      `b=${FIX('pipe-live.webm')}`,
      '--loop',
    ],
    { stdin: 'ignore' },
  );
  t.teardown(() => run.child.kill('SIGKILL'));
  await run.url;
  await waitFor(() => (run.stdout().match(/serving/g) ?? []).length === 3, 5000, 'three serving lines');
  const port = portOf(/at (http:\S+\/fromfile)/.exec(run.stdout())![1]);
  t.ok(port > 1, '--port overrides the file');
  const st = JSON.parse((await get(port, '/api/status')).body.toString());
  t.same(
    st.mounts.map((m: { name: string; input: { loop: boolean } }) => [m.name, m.input.loop]),
    [
      ['fromfile', true],
      ['a', true],
      ['b', true],
    ],
    '--loop applies to every mount, also the file one',
  );
  for (const m of ['a', 'b', 'fromfile']) {
    const cap = await get(port, `/${m}`, 500);
    t.equal(cap.status, 200, `/${m}`);
    t.ok(parseMedia(cap.body).frames.length > 0, `/${m} streams`);
  }
  t.match(run.stderr(), /^\{"time"/m, 'logFormat from the file');
});

t.test('a bad config file: every problem on its own line, exit 1, nothing bound', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mkvserve-conf-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const conf = join(dir, 'bad.yaml');
  writeFileSync(conf, 'server:\n  port: abc\nmounts:\n  cam: { input: x.mkv, loop: yes, colour: red }\n');
  const run = runCli(['--config', conf], { stdin: 'ignore' });
  const exit = await run.exit;
  t.equal(exit.code, 1);
  t.match(run.stderr(), new RegExp(`^mkvserve: invalid configuration in ${conf.replace(/[.]/g, '\\.')}:$`, 'm'));
  t.match(run.stderr(), /^ {2}line 2: server\.port: expected an integer from 0 to 65535, got "abc"$/m);
  t.match(run.stderr(), /^ {2}line 4: mounts\.cam\.loop: expected true or false, got "yes"$/m);
  t.match(run.stderr(), /^ {2}line 4: mounts\.cam\.colour: unknown key/m);
  t.equal(run.stdout(), '');
});

t.test(
  'a push mount without a token is refused at start, saying what to do (ingest tests: ingest-*.test.ts)',
  async (t) => {
    const run = runCli(['--mount', 'live=push', '--port', '0'], {
      stdin: 'ignore',
      env: { MKVSERVE_SOURCE_TOKEN: '' },
    });
    const exit = await run.exit;
    t.equal(exit.code, 1);
    t.match(run.stderr(), /mounts\.live\.token: a push mount needs a source token .*allowSources/);
  },
);

t.test('a second SIGTERM ends the grace period at once', async (t) => {
  const run = runCli([FIX('demo.webm'), '--loop', '--port', '0', '--speed', '20', '--shutdown-grace-ms', '5000'], {
    stdin: 'ignore',
  });
  const url = await run.url;
  const s = net.connect(portOf(url), '127.0.0.1', () => s.write('GET /stream HTTP/1.1\r\n\r\n'));
  s.on('error', () => {});
  s.once('data', () => s.pause()); // never reads again: the grace period would run its 5 s
  t.teardown(() => s.destroy());
  await sleep(800);
  const t0 = performance.now();
  run.child.kill('SIGTERM');
  await waitFor(() => /shutdown signal=SIGTERM/.test(run.stderr()), 5000, 'the first SIGTERM handled');
  run.child.kill('SIGTERM');
  const exit = await run.exit;
  const took = performance.now() - t0;
  t.equal(exit.code, 0);
  t.ok(took < 2500, `exited ${took.toFixed(0)} ms after the first SIGTERM (grace 5 s)`);
  t.match(run.stderr(), /shutdown_now/);
});

t.test('requests waiting for a header get 503 at shutdown', async (t) => {
  const s = new MkvServer({ port: 0, mounts: [{ name: 'stream', input: 'silent', open: silentInput }] });
  await s.start();
  const cap = get(s.port, '/stream', 5000);
  await waitFor(() => s.mounts.get('stream')!.pending.length === 1, 5000, 'the request waiting');
  await s.stop(1000);
  const r = await cap;
  t.equal(r.status, 503);
  t.match(r.body.toString(), /shutting down/);
  t.equal(r.headers.get('retry-after'), '5');
});

t.test('limits: a full mount answers 503 with Retry-After, the per-address limit 429', async (t) => {
  const s = new MkvServer({
    port: 0,
    maxClientsPerIp: 2,
    mounts: [
      { name: 'small', input: FIX('vp9-opus.webm'), loop: true, speed: 2, maxClients: 1 },
      { name: 'big', input: FIX('vp9-opus.webm'), loop: true, speed: 2 },
    ],
  });
  await s.start();
  t.teardown(() => s.stop(0));
  const open: net.Socket[] = [];
  t.teardown(() => open.forEach((c) => c.destroy()));
  const connect = async (path: string): Promise<void> => {
    const c = net.connect(s.port, '127.0.0.1', () => c.write(`GET ${path} HTTP/1.1\r\n\r\n`));
    c.on('error', () => {});
    open.push(c);
    await new Promise<void>((r) => c.once('data', () => r()));
  };
  await connect('/small');
  const full = await get(s.port, '/small', 2000);
  t.equal(full.status, 503, 'the mount is full');
  t.equal(full.headers.get('retry-after'), '5');
  t.match(full.body.toString(), /\/small is full/);
  await connect('/big');
  const perIp = await get(s.port, '/big', 2000);
  t.equal(perIp.status, 429, 'two streams from this address already');
  t.equal(perIp.headers.get('retry-after'), '5');
  t.equal(s.status().mounts.find((m) => m.name === 'small')!.refused, 1);
  open[0].destroy();
  await waitFor(() => s.mounts.get('small')!.clients.size === 0, 5000, 'the first client gone');
  t.equal((await get(s.port, '/small', 300)).status, 200, 'room again');
});
