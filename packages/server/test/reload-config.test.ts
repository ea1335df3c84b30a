// Reload with the real CLI and a config file: SIGHUP and POST /api/reload re-read it. Added mounts start,
// removed ones end their clients cleanly, changed ones restart, live settings are applied in place, and
// the clients of unchanged mounts are not touched (same socket, one EBML header, no gap, ffmpeg decodes
// it). A file that does not validate, or names an input that does not exist, is rejected with the key
// paths (logged and returned by the API) and the running configuration stays. Server keys that cannot
// change live are reported. Without --config, reload is refused (409) and SIGHUP only warns.
import t from 'tap';
import net from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  FIX,
  ffmpegErrors,
  hasFfmpeg,
  parseMedia,
  rawRequest,
  runCli,
  sleep,
  videoTrack,
  waitFor,
} from '../testlib/helpers.js';
import type { CliRun } from '../testlib/helpers.js';

interface Viewer {
  sock: net.Socket;
  raw: () => Buffer;
  data: () => Buffer;
  ended: () => boolean;
}

async function view(port: number, path: string): Promise<Viewer> {
  const chunks: Buffer[] = [];
  let ended = false;
  const sock = net.connect(port, '127.0.0.1', () => sock.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`));
  sock.on('data', (d) => chunks.push(d));
  sock.on('end', () => (ended = true));
  sock.on('error', () => {});
  const raw = (): Buffer => Buffer.concat(chunks);
  const data = (): Buffer => {
    const all = raw();
    const i = all.indexOf('\r\n\r\n');
    return i < 0 ? Buffer.alloc(0) : all.subarray(i + 4);
  };
  await waitFor(() => data().length > 2000 || ended, 5000, `media on ${path}`);
  return { sock, raw, data, ended: () => ended };
}

async function api(port: number, method: string, path: string, token?: string) {
  const auth = token ? `Authorization: Bearer ${token}\r\n` : '';
  const r = await rawRequest(port, `${method} ${path} HTTP/1.1\r\nHost: x\r\n${auth}\r\n`, 5000);
  const text = r.body.toString();
  return { status: r.status, head: r.head, text, json: JSON.parse(text || '{}') as Record<string, unknown> };
}

/** Log events (JSON lines) of a CLI run. */
function events(run: CliRun, name: string): Record<string, unknown>[] {
  return run
    .stderr()
    .split('\n')
    .filter((l) => l.startsWith('{') && l.includes(`"event":"${name}"`))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

const yaml = (o: { server: string; mounts: Record<string, string> }): string =>
  [`server: { ${o.server} }`, 'mounts:', ...Object.entries(o.mounts).map(([k, v]) => `  ${k}: { ${v} }`)].join('\n') +
  '\n';

t.test('SIGHUP: added, removed, restarted, updated, untouched mounts; restart-only keys reported', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mkvserve-reload-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const tokenFile = join(dir, 'admin-token');
  writeFileSync(tokenFile, 'ADMIN-ONE\n');
  const conf = join(dir, 'mkvserve.yaml');
  const server = `host: 127.0.0.1, port: 0, logFormat: json, adminTokenFile: "${tokenFile}"`;
  const vp9 = `input: "${FIX('vp9-opus.webm')}", loop: true`;
  const vp8 = `input: "${FIX('vp8-vorbis.webm')}", loop: true`;
  writeFileSync(conf, yaml({ server, mounts: { keep: vp9, gone: vp8, change: vp9, limit: `${vp9}, maxClients: 1` } }));
  const run = runCli(['--config', conf], { stdin: 'ignore' });
  t.teardown(() => run.child.kill('SIGKILL'));
  const port = Number(new URL(await run.url).port);
  await waitFor(() => (run.stdout().match(/serving/g) ?? []).length === 4, 5000, 'four mounts');

  const keep = await view(port, '/keep');
  const gone = await view(port, '/gone');
  const change = await view(port, '/change');
  const limit = await view(port, '/limit');
  t.teardown(() => [keep, gone, change, limit].forEach((v) => v.sock.destroy()));
  t.equal((await rawRequest(port, 'GET /limit HTTP/1.1\r\n\r\n', 1000)).status, 503, '/limit is full (1)');

  // The new file: gone removed, change gets another input, limit a live setting, added is new, the
  // port (needs a restart) and the admin token (live) change.
  writeFileSync(tokenFile, 'ADMIN-TWO\n');
  writeFileSync(
    conf,
    yaml({
      server: server.replace('port: 0', 'port: 9'),
      mounts: { keep: vp9, change: vp8, limit: `${vp9}, maxClients: 2`, added: vp9 },
    }),
  );
  const keepBefore = keep.data().length;
  run.child.kill('SIGHUP');
  await waitFor(() => events(run, 'reload').length === 1, 5000, 'the reload line');
  const ev = events(run, 'reload')[0];
  t.match(ev, {
    added: 'added',
    removed: 'gone',
    restarted: 'change',
    updated: 'limit',
    unchanged: 'keep',
    restartNeeded: 'port',
    hint: /restart the process/,
  });
  t.match(ev['serverApplied'], /adminToken/, 'the admin token is applied live');

  await waitFor(() => gone.ended(), 3000, "the removed mount's client ends");
  await waitFor(() => change.ended(), 3000, "the restarted mount's client ends");
  for (const [name, v] of [
    ['gone', gone],
    ['change', change],
  ] as const) {
    const m = parseMedia(v.data());
    t.same(m.errors, [], `${name}: a clean end, what was sent parses`);
    t.equal(m.headers, 1, `${name}: one EBML header`);
    if (hasFfmpeg) t.equal(ffmpegErrors(v.data(), 'webm'), '', `${name}: ffmpeg decodes what it got`);
  }
  t.equal((await rawRequest(port, 'GET /gone HTTP/1.1\r\n\r\n', 1000)).status, 404, '/gone is gone');
  const added = await view(port, '/added');
  t.teardown(() => added.sock.destroy());
  t.ok(parseMedia(added.data()).frames.length > 0, '/added serves');
  const changed = await view(port, '/change');
  t.teardown(() => changed.sock.destroy());
  t.equal(parseMedia(changed.data()).header?.tracks[0].codecId, 'V_VP8', '/change serves its new input');
  const second = await view(port, '/limit');
  t.teardown(() => second.sock.destroy());
  t.ok(second.data().length > 0, '/limit takes a second client now (maxClients 2, applied in place)');
  t.notOk(limit.ended(), "/limit's first client was not touched");

  t.equal((await api(port, 'GET', '/api/mounts', 'ADMIN-ONE')).status, 401, 'the old admin token is refused');
  const st = await api(port, 'GET', '/api/status', 'ADMIN-TWO');
  t.equal(st.status, 200, 'the new admin token works');
  t.equal(new URL(st.json['listening'] as string).port, String(port), 'still on the running port');

  // The untouched mount: its client kept one response across the reload.
  await waitFor(() => keep.data().length > keepBefore + 100_000, 10_000, 'more media on /keep');
  await sleep(1000);
  t.notOk(keep.ended(), '/keep was not ended');
  t.equal(
    keep
      .raw()
      .toString('latin1')
      .match(/HTTP\/1\.1 200/g)?.length,
    1,
    'one response',
  );
  const m = parseMedia(keep.data());
  t.equal(m.headers, 1, 'one EBML header (no second init part)');
  t.same(m.errors, [], 'parses cleanly');
  const v = videoTrack(m);
  const ts = m.frames.filter((f) => f.track === v).map((f) => f.timestamp / 1e6);
  let maxGap = 0;
  for (let i = 1; i < ts.length; i++) maxGap = Math.max(maxGap, ts[i] - ts[i - 1]);
  t.ok(maxGap < 200, `no gap in the video timestamps (largest step ${maxGap.toFixed(0)} ms)`);
  t.ok(ts.length > 100, `${ts.length} video frames`);
  if (hasFfmpeg) t.equal(ffmpegErrors(keep.data(), 'webm'), '', 'ffmpeg decodes /keep without error');
  t.notOk(/ADMIN-(ONE|TWO)/.test(run.stdout() + run.stderr()), 'no token in stdout or the log');
});

t.test(
  'an invalid file or a missing input: rejected with the key paths, the running configuration stays',
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'mkvserve-reload-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const conf = join(dir, 'mkvserve.yaml');
    const vp9 = `input: "${FIX('vp9-opus.webm')}", loop: true`;
    const good = yaml({ server: 'port: 0, logFormat: json', mounts: { keep: vp9 } });
    writeFileSync(conf, good);
    const run = runCli(['--config', conf], { stdin: 'ignore', env: { MKVSERVE_ADMIN_TOKEN: 'ENV-ADMIN' } });
    t.teardown(() => run.child.kill('SIGKILL'));
    const port = Number(new URL(await run.url).port);
    const keep = await view(port, '/keep');
    t.teardown(() => keep.sock.destroy());

    writeFileSync(
      conf,
      [
        'server: { port: 0, logFormat: json, adminToken: 12345 }',
        'mounts:',
        `  keep: { ${vp9}, colour: red }`,
        `  more: { input: "${FIX('vp8-vorbis.webm')}", loop: yes }`,
      ].join('\n') + '\n',
    );
    const bad = await api(port, 'POST', '/api/reload', 'ENV-ADMIN');
    t.equal(bad.status, 422);
    t.match(bad.head, /^HTTP\/1\.1 422 Unprocessable Content/);
    t.equal(bad.json['error'], 'invalid_configuration');
    t.match(bad.json['message'], /running one stays.*reload again/);
    const issues = bad.json['issues'] as { path: string; message: string }[];
    t.same(
      issues.map((i) => i.path),
      ['line 1: server.adminToken', 'line 3: mounts.keep.colour', 'line 4: mounts.more.loop'],
      'every problem, with its line and key path',
    );
    t.match(issues[2].message, /expected true or false, got "yes"/);
    t.notOk(bad.text.includes('12345'), "a secret's bad value is not echoed");
    t.equal(events(run, 'reload_failed').length, 1, 'logged');
    t.match(events(run, 'reload_failed')[0]['issues'], /mounts\.keep\.colour: unknown key/);
    t.notOk(run.stderr().includes('12345'), 'nor logged');

    run.child.kill('SIGHUP');
    await waitFor(() => events(run, 'reload_failed').length === 2, 5000, 'SIGHUP: the second reload_failed');
    t.equal(run.child.exitCode, null, 'still running');

    writeFileSync(
      conf,
      yaml({ server: 'port: 0, logFormat: json', mounts: { keep: vp9, more: `input: "${join(dir, 'missing.mkv')}"` } }),
    );
    const missing = await api(port, 'POST', '/api/reload', 'ENV-ADMIN');
    t.equal(missing.status, 422);
    t.match(missing.json['issues'], [{ path: 'mounts.more.input', message: /file not found: .*missing\.mkv/ }]);

    const st = await api(port, 'GET', '/api/mounts', 'ENV-ADMIN');
    t.same(
      (st.json['mounts'] as { name: string }[]).map((m) => m.name),
      ['keep'],
      'the running configuration stayed',
    );
    await sleep(500);
    t.notOk(keep.ended(), 'and its client streams on');
    t.same(parseMedia(keep.data()).errors, []);

    writeFileSync(
      conf,
      good.replace('mounts:', 'mounts:\n  more: { input: "' + FIX('vp8-vorbis.webm') + '", loop: true }'),
    );
    const ok = await api(port, 'POST', '/api/reload', 'ENV-ADMIN');
    t.equal(ok.status, 200, 'a good file again');
    t.match(ok.json, { reloaded: true, added: ['more'], unchanged: ['keep'], removed: [], restartNeeded: [] });
    t.equal((await rawRequest(port, 'GET /more HTTP/1.1\r\n\r\n', 500)).status, 200);
  },
);

t.test('without --config: POST /api/reload is 409, SIGHUP warns and the server keeps serving', async (t) => {
  const run = runCli([FIX('vp9-opus.webm'), '--loop', '--port', '0', '--log-format', 'json'], {
    stdin: 'ignore',
    env: { MKVSERVE_ADMIN_TOKEN: 'ENV-ADMIN' },
  });
  t.teardown(() => run.child.kill('SIGKILL'));
  const port = Number(new URL(await run.url).port);
  const r = await api(port, 'POST', '/api/reload', 'ENV-ADMIN');
  t.equal(r.status, 409);
  t.match(r.json['message'], /without --config FILE/);
  run.child.kill('SIGHUP');
  await waitFor(() => events(run, 'reload_unavailable').length === 2, 5000, 'the SIGHUP warning');
  await sleep(200);
  t.equal(run.child.exitCode, null, 'SIGHUP did not end the process');
  t.equal((await rawRequest(port, 'GET /stream HTTP/1.1\r\n\r\n', 500)).status, 200);
});

t.test('a mount reading stdin cannot be restarted (it cannot be opened twice): 422, nothing changes', async (t) => {
  const { readFileSync } = await import('node:fs');
  const run = runCli(['-', '--port', '0', '--log-format', 'json'], {
    stdin: 'pipe',
    env: { MKVSERVE_ADMIN_TOKEN: 'ENV-ADMIN' },
  });
  t.teardown(() => run.child.kill('SIGKILL'));
  // A pipe that stays open: the first file, then nothing (the server keeps serving what it has).
  run.child.stdin!.write(readFileSync(FIX('vp9-opus.webm')));
  const port = Number(new URL(await run.url).port);
  const r = await api(port, 'POST', '/api/mounts/stream/restart', 'ENV-ADMIN');
  t.equal(r.status, 422);
  t.match(r.json['issues'], [{ path: 'mounts.stream.input', message: /stdin cannot be opened a second time/ }]);
  t.equal(events(run, 'mount_restart').length, 0, 'not restarted');
  run.child.stdin!.end();
});
