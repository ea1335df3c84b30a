// The management API on real sockets: the read-only views (mounts, one mount, clients) and who may read
// them (open on loopback, the admin token otherwise, 403 beyond loopback without a token), the actions
// (kick, restart, reload) that always need the admin token, JSON errors that say what to do, the
// separate admin listener, and no secret in any answer or log line.
import t from 'tap';
import type { Test } from 'tap';
import net from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { MkvServer } from '../src/server.js';
import type { MkvServerOptions } from '../src/server.js';
import { createLogger } from '../src/log.js';
import { resolveConfigFrom } from '../src/config.js';
import type { MountStatus, ClientStatus } from '../src/status.js';
import { FIX, ffmpegErrors, hasFfmpeg, parseMedia, rawRequest, waitFor } from '../testlib/helpers.js';

interface Answer {
  status: number;
  headers: Map<string, string>;
  text: string;
  json: Record<string, unknown>;
}

const bodies: string[] = [];

async function api(port: number, method: string, path: string, token?: string, host = '127.0.0.1'): Promise<Answer> {
  const auth = token !== undefined ? `Authorization: Bearer ${token}\r\n` : '';
  const r = await rawRequest(port, `${method} ${path} HTTP/1.1\r\nHost: x\r\n${auth}\r\n`, 5000, host);
  const text = r.body.toString();
  bodies.push(text);
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    /* not JSON */
  }
  return { status: r.status, headers: r.headers, text, json };
}

interface Viewer {
  sock: net.Socket;
  data: () => Buffer;
  ended: () => boolean;
  closed: () => boolean;
}

/** A stream client that keeps reading; resolves once media arrived. */
async function view(port: number, path: string, ua = 'test-player/1.0', host = '127.0.0.1'): Promise<Viewer> {
  const chunks: Buffer[] = [];
  let ended = false;
  let closed = false;
  const sock = net.connect(port, host, () =>
    sock.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nUser-Agent: ${ua}\r\n\r\n`),
  );
  sock.on('data', (d) => chunks.push(d));
  sock.on('end', () => (ended = true));
  sock.on('close', () => (closed = true));
  sock.on('error', () => {});
  const data = (): Buffer => {
    const all = Buffer.concat(chunks);
    const i = all.indexOf('\r\n\r\n');
    return i < 0 ? Buffer.alloc(0) : all.subarray(i + 4);
  };
  await waitFor(() => data().length > 2000 || closed, 5000, `media on ${path}`);
  return { sock, data, ended: () => ended, closed: () => closed };
}

const log: string[] = [];
async function start(t: Test, opts: Partial<MkvServerOptions> & Record<string, unknown> = {}): Promise<MkvServer> {
  const s = new MkvServer({
    port: 0,
    mounts: [
      { name: 'a', input: FIX('vp9-opus.webm'), loop: true, speed: 2 },
      { name: 'b', input: FIX('vp8-vorbis.webm'), loop: true, speed: 2 },
    ],
    log: createLogger({ format: 'json', stream: { write: (l: string) => log.push(l) } }),
    ...opts,
  } as MkvServerOptions);
  await s.start();
  t.teardown(() => s.stop(0));
  return s;
}

t.test('on loopback: reads are open, actions need the admin token even here (401 JSON)', async (t) => {
  const s = await start(t);
  const v = await view(s.port, '/a');
  t.teardown(() => v.sock.destroy());
  await waitFor(() => s.status().mounts[0].input.bitrate > 0, 5000, 'a bitrate');

  const mounts = await api(s.port, 'GET', '/api/mounts');
  t.equal(mounts.status, 200);
  t.match(mounts.headers.get('content-type'), /^application\/json/);
  const list = mounts.json['mounts'] as MountStatus[];
  t.same(
    list.map((m) => m.name),
    ['a', 'b'],
  );
  const a = list[0];
  t.equal(a.input.state, 'streaming', 'input state');
  t.same(
    a.tracks.map((x) => [x.kind, x.codecId]),
    [
      ['video', 'V_VP9'],
      ['audio', 'A_OPUS'],
    ],
    'tracks',
  );
  t.ok(a.input.bitrate > 0, 'bitrate');
  t.equal(a.clients, 1, 'clients');
  t.ok(a.input.frames > 0 && a.input.bytesIn > 0 && a.clientsTotal === 1, 'counters');
  t.equal(a.maxClients, 0);

  const one = await api(s.port, 'GET', '/api/mounts/a');
  t.equal(one.status, 200);
  t.equal((one.json['mount'] as MountStatus).name, 'a');
  const clients = one.json['clients'] as ClientStatus[];
  t.equal(clients.length, 1);
  t.equal(clients[0].userAgent, 'test-player/1.0');
  t.equal(clients[0].address, '127.0.0.1');

  const all = await api(s.port, 'GET', '/api/clients');
  const c = (all.json['clients'] as ClientStatus[])[0];
  t.same(
    Object.keys(c).sort(),
    [
      'address',
      'bytesSent',
      'connectedSince',
      'durationSec',
      'id',
      'lagMs',
      'mount',
      'port',
      'proxy',
      'skips',
      'state',
      'userAgent',
    ],
    'id, mount, address, since, bytes, lag, state, user agent',
  );
  t.ok(c.bytesSent > 0 && c.state !== undefined && Date.parse(c.connectedSince) > 0);
  t.same((await api(s.port, 'GET', '/api/clients?mount=b')).json['clients'], [], 'filtered by mount');
  const noMount = await api(s.port, 'GET', '/api/mounts/zzz');
  t.equal(noMount.status, 404);
  t.equal(noMount.json['error'], 'no_such_mount');
  t.match(noMount.json['message'], /no mount "zzz" \(mounts: a, b\); GET \/api\/mounts lists them/);

  for (const [method, path] of [
    ['DELETE', `/api/clients/${c.id}`],
    ['POST', '/api/mounts/a/restart'],
    ['POST', '/api/reload'],
  ]) {
    const r = await api(s.port, method, path);
    t.equal(r.status, 401, `${method} ${path} without a token, on loopback: 401`);
    t.equal(r.json['error'], 'no_admin_token');
    t.match(r.json['message'], /needs the admin token.*adminTokenFile/);
    t.match(r.headers.get('www-authenticate'), /^Bearer/);
  }
  t.equal(s.clientCount, 1, 'nobody was kicked');
  t.notOk(v.closed());

  const wrong = await api(s.port, 'GET', '/api/reload');
  t.equal(wrong.status, 405);
  t.equal(wrong.headers.get('allow'), 'POST');
  t.equal(wrong.json['error'], 'method_not_allowed');
  const nope = await api(s.port, 'GET', '/api/nope');
  t.equal(nope.status, 404);
  t.equal(nope.json['error'], 'not_found');
  t.equal((await api(s.port, 'GET', '/api/status')).status, 200, '/api/status is kept');
});

t.test('with the admin token: reads need it, kick, restart; reload without a config file is 409', async (t) => {
  const ADMIN = 'ADMIN-SECRET-1';
  const MOUNT = 'MOUNT-SECRET-2';
  const s = await start(t, {
    adminToken: ADMIN,
    mounts: [
      { name: 'a', input: FIX('vp9-opus.webm'), loop: true, speed: 2, token: MOUNT },
      { name: 'b', input: FIX('vp8-vorbis.webm'), loop: true, speed: 2 },
    ],
  });
  t.equal((await api(s.port, 'GET', '/api/mounts')).status, 401, 'a configured token is needed for reads too');
  t.equal((await api(s.port, 'GET', '/api/clients', 'nope')).status, 401);
  t.equal((await api(s.port, 'GET', '/api/mounts', ADMIN)).status, 200);

  const k = await view(s.port, '/a', 'kick-me/1');
  const r = await view(s.port, '/a', 'restart-me/1');
  const b = await view(s.port, '/b', 'bystander/1');
  t.teardown(() => [k, r, b].forEach((x) => x.sock.destroy()));
  const ids = (await api(s.port, 'GET', '/api/clients', ADMIN)).json['clients'] as ClientStatus[];
  const kid = ids.find((c) => c.userAgent === 'kick-me/1')!.id;

  t.equal((await api(s.port, 'DELETE', `/api/clients/${kid}`, 'nope')).status, 401, 'wrong token');
  const kicked = await api(s.port, 'DELETE', `/api/clients/${kid}`, ADMIN);
  t.equal(kicked.status, 200);
  t.equal((kicked.json['kicked'] as ClientStatus).id, kid);
  await waitFor(() => k.closed(), 2000, 'the kicked client disconnected');
  const after = (await api(s.port, 'GET', '/api/clients', ADMIN)).json['clients'] as ClientStatus[];
  t.notOk(
    after.some((c) => c.id === kid),
    'gone from the list',
  );
  const again = await api(s.port, 'DELETE', `/api/clients/${kid}`, ADMIN);
  t.equal(again.status, 404);
  t.match(again.json['message'], /GET \/api\/clients lists/);
  t.equal((await api(s.port, 'DELETE', '/api/clients/abc', ADMIN)).status, 400);
  t.ok(
    log.some((l) => l.includes('"client_disconnect"') && l.includes('"reason":"kicked"')),
    'the log says why',
  );

  const bBefore = b.data().length;
  const opensBefore = s.status().mounts[0].input.opens;
  const restarted = await api(s.port, 'POST', '/api/mounts/a/restart', ADMIN);
  t.equal(restarted.status, 200);
  t.same(restarted.json, { restarted: 'a', clientsEnded: 1 });
  await waitFor(() => r.ended(), 3000, "the restarted mount's client gets a clean end");
  const got = parseMedia(r.data());
  t.same(got.errors, [], 'what it got parses cleanly');
  t.equal(got.headers, 1, 'one EBML header');
  if (hasFfmpeg) t.equal(ffmpegErrors(r.data(), 'webm'), '', 'ffmpeg decodes it without error');
  const fresh = await view(s.port, '/a', 'after-restart/1');
  t.teardown(() => fresh.sock.destroy());
  t.ok(parseMedia(fresh.data()).frames.length > 0, 'the restarted mount serves');
  const st = s.status().mounts[0];
  t.equal(st.input.opens, 1, `a fresh input (was ${opensBefore} opens)`);
  t.equal(st.clientsTotal, 1, 'a fresh mount');
  await waitFor(() => b.data().length > bBefore + 1000, 3000, 'the other mount keeps streaming');
  t.notOk(b.ended(), "the other mount's client is untouched");
  t.equal((await api(s.port, 'POST', '/api/mounts/zzz/restart', ADMIN)).status, 404);

  const reload = await api(s.port, 'POST', '/api/reload', ADMIN);
  t.equal(reload.status, 409);
  t.equal(reload.json['error'], 'no_config_file');
  t.match(reload.json['message'], /started without --config FILE/);

  for (const text of [...bodies, ...log]) {
    t.notOk(text.includes(ADMIN), 'no admin token in any answer or log line');
    t.notOk(text.includes(MOUNT), 'no mount token in any answer or log line');
  }
});

/** A non-loopback IPv4 address of this machine, if it has one. */
function outsideAddress(): string | undefined {
  for (const list of Object.values(networkInterfaces()))
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  return undefined;
}

t.test('beyond loopback: reads need the token (403 without one configured)', async (t) => {
  const host = outsideAddress();
  // Without such an address (a bare container), 0.0.0.0 is "beyond loopback" as well.
  const bind = host ?? '0.0.0.0';
  const connect = host ?? '127.0.0.1';
  t.comment(`listening on ${bind}`);
  const open = await start(t, { host: bind });
  const r = await api(open.port, 'GET', '/api/mounts', undefined, connect);
  t.equal(r.status, 403);
  t.equal(r.json['error'], 'admin_disabled');
  t.match(r.json['message'], /admin-token-file/);
  t.equal((await api(open.port, 'GET', '/api/clients', undefined, connect)).status, 403);
  const tok = await start(t, { host: bind, adminToken: 'T0K' });
  t.equal((await api(tok.port, 'GET', '/api/mounts', undefined, connect)).status, 401);
  t.equal((await api(tok.port, 'GET', '/api/mounts', 'T0K', connect)).status, 200);
  t.equal((await api(tok.port, 'GET', '/api/mounts/a', 'T0K', connect)).status, 200);
});

t.test('a separate admin listener: the API, status and metrics there, not on the public one', async (t) => {
  const s = await start(t, { admin: { host: '127.0.0.1', port: 0 } });
  const ap = s.adminPortNumber;
  t.ok(ap > 0 && ap !== s.port, 'its own port');
  for (const path of ['/api/status', '/api/mounts', '/api/clients', '/metrics']) {
    t.equal((await api(s.port, 'GET', path)).status, 404, `public ${path}: 404`);
    t.equal((await api(ap, 'GET', path)).status, 200, `admin ${path}: 200`);
  }
  t.equal((await api(s.port, 'GET', '/api/mounts')).json['error'], 'not_found');
  t.equal((await api(ap, 'GET', '/a')).status, 404, 'no streams on the admin listener');
  t.equal((await api(s.port, 'GET', '/status')).status, 404, 'the status page moves with the API');
  const page = await api(ap, 'GET', '/status');
  t.equal(page.status, 200, 'the status page on the admin listener');
  t.match(page.text, /data-access="open"/, "with the admin listener's access rule");
  t.equal((await api(ap, 'POST', '/api/reload')).status, 401, 'actions still need the token there');
  const v = await view(s.port, '/a');
  t.teardown(() => v.sock.destroy());
  t.ok(v.data().length > 0, 'streams on the public listener');
  const st = await api(ap, 'GET', '/api/status');
  t.equal(st.json['admin'], `http://127.0.0.1:${ap}`);

  const shared = await start(t, { admin: { host: '127.0.0.1', port: 0, exclusive: false } });
  t.equal((await api(shared.port, 'GET', '/api/mounts')).status, 200, 'exclusive: false serves it on both');
  t.equal((await api(shared.adminPortNumber, 'GET', '/api/mounts')).status, 200);

  // A port in use: a clear error, nothing left listening.
  const busy = new MkvServer({
    port: 0,
    admin: { port: s.port },
    mounts: [{ name: 'a', input: FIX('vp9-opus.webm') }],
  });
  await t.rejects(busy.start(), { message: /already in use.*server\.admin\.port/ });
});

t.test('tokens from a file and the environment never reach the API, status, metrics, pages or the log', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mkvserve-secrets-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'admin'), 'FILE-ADMIN-SECRET\n');
  writeFileSync(join(dir, 'a'), 'FILE-MOUNT-SECRET\n');
  const config = resolveConfigFrom(
    [
      {
        server: { port: 0, adminTokenFile: join(dir, 'admin') },
        mounts: {
          a: { input: FIX('vp9-opus.webm'), loop: true, speed: 2, tokenFile: join(dir, 'a') },
          b: { input: FIX('vp8-vorbis.webm'), loop: true, speed: 2, tokenEnv: 'B_TOKEN' },
        },
      },
    ],
    { env: { B_TOKEN: 'ENV-MOUNT-SECRET' } },
  );
  const lines: string[] = [];
  const s = new MkvServer({ config, log: createLogger({ stream: { write: (l: string) => lines.push(l) } }) });
  await s.start();
  t.teardown(() => s.stop(0));
  const admin = 'FILE-ADMIN-SECRET';
  t.equal((await api(s.port, 'GET', '/api/mounts', admin)).status, 200, 'the token from the file works');
  const v = await view(s.port, '/b');
  t.teardown(() => v.sock.destroy());
  const texts: string[] = [];
  for (const path of ['/api/mounts', '/api/mounts/a', '/api/mounts/b', '/api/clients', '/api/status', '/metrics'])
    texts.push((await api(s.port, 'GET', path, admin)).text);
  texts.push((await rawRequest(s.port, 'GET / HTTP/1.1\r\nAccept: text/html\r\n\r\n', 2000)).body.toString());
  texts.push((await api(s.port, 'POST', '/api/mounts/a/restart', admin)).text);
  texts.push((await api(s.port, 'DELETE', '/api/clients/999999', admin)).text);
  texts.push(JSON.stringify(s.status()));
  for (const text of [...texts, lines.join('')])
    for (const secret of ['FILE-ADMIN-SECRET', 'FILE-MOUNT-SECRET', 'ENV-MOUNT-SECRET'])
      t.notOk(text.includes(secret), `${secret} not in ${text.slice(0, 40).replace(/\s+/g, ' ')}...`);
  t.ok(lines.length > 3, 'the log was written');
});
