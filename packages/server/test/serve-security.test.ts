// Secrets never reach `/`, the status JSON, /metrics, stdout or the log (issue 8 item 7): an input URL
// with user:password@ and ?token= is shown redacted everywhere; beyond loopback `/` names mounts only;
// the admin token comes from a file (--admin-token-file) or the environment, never needs argv.
import t from 'tap';
import http from 'node:http';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { FIX, get, runCli, waitFor } from '../testlib/helpers.js';
import { redactInput } from '../src/redact.js';

t.test('redactInput removes userinfo, query and fragment, keeps the rest', async (t) => {
  t.equal(redactInput('http://user:pw@host:8080/live.webm?token=SECRET#x'), 'http://host:8080/live.webm?…');
  t.equal(redactInput('https://a@b@host/p'), 'https://host/p');
  t.equal(redactInput('tcp://0.0.0.0:9000?listen'), 'tcp://0.0.0.0:9000?…');
  t.equal(redactInput('/srv/movies/a.mkv'), '/srv/movies/a.mkv');
  t.equal(redactInput('file:///srv/a.mkv?x=1'), 'file:///srv/a.mkv?…');
  t.equal(redactInput('-'), '-');
  t.equal(redactInput('push'), 'push');
});

t.test('an input URL with credentials, served beyond loopback: no secret anywhere', async (t) => {
  const data = readFileSync(FIX('vp9-opus.webm'));
  const origin = http.createServer((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'video/webm', 'Content-Length': data.length });
    res.end(data);
  });
  await new Promise<void>((r) => origin.listen(0, '127.0.0.1', () => r()));
  t.teardown(() => origin.close());
  const oport = (origin.address() as AddressInfo).port;
  const dir = mkdtempSync(join(tmpdir(), 'mkvserve-sec-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const tokenFile = join(dir, 'admin-token');
  writeFileSync(tokenFile, 'ADMINSECRET\n');
  const secrets = ['PWSECRET', 'QSECRET', 'ADMINSECRET'];
  const url = `http://user:PWSECRET@127.0.0.1:${oport}/live.webm?token=QSECRET`;
  // 0.0.0.0: beyond loopback (the test connects over 127.0.0.1).
  const run = runCli(
    [url, '--host', '0.0.0.0', '--port', '0', '--loop', '--admin-token-file', tokenFile, '--log-format', 'json'],
    { stdin: 'ignore' },
  );
  t.teardown(() => run.child.kill('SIGKILL'));
  const streamUrl = await run.url;
  const port = Number(new URL(streamUrl).port);
  await waitFor(() => /input_header/.test(run.stderr()), 10_000, 'the input header');
  const pages = [
    (await get(port, '/')).body.toString(),
    (await get(port, '/', 2000, 'Accept: text/html\r\n')).body.toString(),
  ];
  t.same(pages[0], '/stream\tvideo/webm\n', 'beyond loopback, `/` names the mounts only');
  t.notMatch(pages[1], /127\.0\.0\.1|live\.webm|user/, 'the HTML page shows nothing of the input');
  t.equal((await get(port, '/api/status')).status, 401, 'status needs the token');
  const st = await get(port, '/api/status', 2000, 'Authorization: Bearer ADMINSECRET\r\n');
  t.equal(st.status, 200, 'the token from the file works');
  const status = st.body.toString();
  t.match(
    status,
    new RegExp(`"name": "http://127\\.0\\.0\\.1:${oport}/live\\.webm\\?…"`),
    'status shows the redacted URL',
  );
  const metrics = (await get(port, '/metrics', 2000, 'Authorization: Bearer ADMINSECRET\r\n')).body.toString();
  t.match(metrics, /mkvserve_input_bytes_total\{mount="stream"\}/);
  run.child.kill('SIGTERM');
  await run.exit;
  const out = run.stdout();
  t.match(out, new RegExp(`serving http://127\\.0\\.0\\.1:${oport}/live\\.webm\\?… at`), 'stdout: redacted');
  for (const [what, text] of [
    ['/ (text)', pages[0]],
    ['/ (html)', pages[1]],
    ['status', status],
    ['metrics', metrics],
    ['stdout', out],
    ['log', run.stderr()],
  ] as const)
    for (const s of secrets) t.notOk(text.includes(s), `${s} not in ${what}`);
  t.match(run.stderr(), /"event":"input_open"/, 'the log has input lines (with the redacted input)');
});

t.test('on loopback `/` shows a file input by its base name, not its full path', async (t) => {
  const run = runCli([FIX('vp9-opus.webm'), '--port', '0', '--loop'], { stdin: 'ignore' });
  t.teardown(() => run.child.kill('SIGKILL'));
  const port = Number(new URL(await run.url).port);
  const page = (await get(port, '/')).body.toString();
  t.match(page, /^\/stream\t.*\tvp9-opus\.webm\n$/);
  t.notMatch(page, /fixtures/);
});
