// HTTP push ingest (`input: push`, PUT/POST/SOURCE /<mount>) with real clients as they are: ffmpeg
// `-method PUT` (credentials only after a 401 with a Basic challenge), ffmpeg `icecast://` (Expect:
// 100-continue, a body delimited by the connection), curl -T (Content-Length, and chunked from a pipe),
// GStreamer's souphttpclientsink (one PUT per buffer batch, joined by Content-Range; token in the query).
// Refusals are decided before any 100 Continue and before any body byte is used: 401 (no or wrong
// token), 404 (unknown mount), 405 (not a push mount), 409 (a source is connected), 415 (not Matroska,
// with the format's name). One source at a time unless the mount allows takeover.
import t from 'tap';
import net from 'node:net';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FIX, ffmpegErrors, get, hasFfmpeg, parseMedia, rawRequest, sleep, waitFor } from '../testlib/helpers.js';
import { TOKEN, ffmpegPush, hasCurl, hasGstSoup, proc, startServer, view, waitEvent } from '../testlib/ingest.js';
import type { TestServer } from '../testlib/ingest.js';

const FRAMES = parseMedia(readFileSync(FIX('vp9-opus.webm'))).frames.length;

async function pushServer(extra: Record<string, unknown> = {}): Promise<TestServer> {
  const s = await startServer([
    { name: 'live', input: 'push', token: TOKEN, sourceGraceMs: 1500, sourceIdleTimeoutMs: 1500, ...extra },
    { name: 'movie', input: FIX('vp9-opus.webm'), loop: true },
  ]);
  return s;
}

/** Frames of a capture are in order per track (timestamps never go backwards). */
function monotonic(body: Buffer): boolean {
  const m = parseMedia(body);
  for (const track of new Set(m.frames.map((f) => f.track))) {
    const ts = m.frames.filter((f) => f.track === track).map((f) => f.timestamp);
    for (let i = 1; i < ts.length; i++) if (ts[i] < ts[i - 1]) return false;
  }
  return true;
}

t.test(
  'ffmpeg -method PUT: 401 with a Basic challenge, then the stream; a waiting viewer gets it',
  { skip: !hasFfmpeg && 'no ffmpeg' },
  async (t) => {
    const s = await pushServer();
    t.teardown(() => s.close());
    const viewer = view(s.port, 'live');
    await waitFor(() => s.server.mounts.get('live')!.pending.length === 1, 5000, 'the viewer waiting for a source');
    const ff = ffmpegPush(`http://source:${TOKEN}@127.0.0.1:${s.port}/live`, { extra: ['-method', 'PUT'] });
    await waitEvent(s, 'source_connect');
    const during = s.status('live').ingest!;
    t.equal(during.source?.address, '127.0.0.1', 'the source address is in the status');
    t.equal(during.source?.method, 'PUT');
    t.match(during.source?.userAgent, /^Lavf/);
    const api = JSON.parse((await get(s.port, '/api/mounts/live')).body.toString()) as {
      mount: { ingest: { source: { address: string } | null } };
    };
    t.equal(api.mount.ingest.source?.address, '127.0.0.1', 'and in the management API');
    const exit = await ff.exit;
    t.equal(exit.code, 0, `ffmpeg exit 0 ${ff.stderr()}`);
    const first = s.events('source_refused')[0];
    t.equal(first?.['status'], 401, 'ffmpeg first asks without credentials: 401');
    t.equal(first?.['reason'], 'no_credentials');
    const cap = await viewer;
    t.equal(cap.status, 200);
    t.ok(cap.ended, 'the viewer was ended cleanly after the grace period');
    const m = parseMedia(cap.body);
    t.same(m.errors, []);
    t.equal(m.headers, 1);
    t.equal(m.frames.length, FRAMES, 'every frame of the pushed file');
    t.equal(ffmpegErrors(cap.body), '', 'ffmpeg decodes what the viewer got');
    const st = s.status('live');
    t.equal(st.input.kind, 'push');
    t.equal(st.ingest!.sources, 1);
    t.equal(st.ingest!.drops, 0);
    t.equal(st.ingest!.lastSource?.end, 'ended');
    t.equal(st.ingest!.lastSource?.bytes, st.input.bytesIn, 'bytes per source');
    t.equal(st.ingest!.auth, 'token');
    t.same(s.events('source_end').length, 1);
  },
);

t.test(
  'ffmpeg icecast:// (Expect: 100-continue, body until close), wrong token refused, legacy SOURCE',
  { skip: !hasFfmpeg && 'no ffmpeg' },
  async (t) => {
    const s = await pushServer();
    t.teardown(() => s.close());
    const ice = (token: string) =>
      ffmpegPush(`icecast://source:${token}@127.0.0.1:${s.port}/live`, {
        format: 'webm',
        extra: ['-content_type', 'video/webm'],
      });
    const bad = ice('wrong');
    const badExit = await bad.exit;
    t.not(badExit.code, 0, 'wrong token: ffmpeg fails');
    t.match(bad.stderr(), /401/);
    t.equal(s.events('source_refused')[0]?.['reason'], 'bad_token');
    t.equal(s.status('live').input.bytesIn, 0, 'nothing of the refused body was used');
    const viewer = view(s.port, 'live');
    await waitFor(() => s.server.mounts.get('live')!.pending.length === 1, 5000, 'viewer waiting');
    const good = ice(TOKEN);
    t.equal((await good.exit).code, 0, `icecast push exit 0 ${good.stderr()}`);
    const cap = await viewer;
    const m = parseMedia(cap.body);
    t.equal(m.headers, 1);
    t.equal(m.frames.length, FRAMES);
    t.equal(m.header?.ebml.docType, 'webm');
    t.equal(cap.headers.get('content-type'), 'video/webm');
    t.equal(ffmpegErrors(cap.body, 'webm'), '');
    t.equal(s.status('live').ingest!.lastSource?.end, 'ended');
    // Icecast's old SOURCE method (ffmpeg -legacy_icecast 1, libshout): the same, body until close.
    const legacy = ffmpegPush(`icecast://source:${TOKEN}@127.0.0.1:${s.port}/live`, {
      format: 'webm',
      extra: ['-content_type', 'video/webm', '-legacy_icecast', '1'],
    });
    t.equal((await legacy.exit).code, 0, legacy.stderr());
    await waitFor(
      () => s.status('live').ingest!.sources === 2 && s.status('live').ingest!.source === null,
      10_000,
      'the SOURCE request',
    );
    t.equal(s.status('live').ingest!.lastSource?.method, 'SOURCE');
    t.equal(s.status('live').input.frames, 2 * FRAMES);
  },
);

t.test('curl -T file (Content-Length) and curl -T - (chunked)', { skip: !hasCurl && 'no curl' }, async (t) => {
  const s = await pushServer();
  t.teardown(() => s.close());
  const url = `http://127.0.0.1:${s.port}/live`;
  const file = FIX('vp9-opus.webm');
  const put = proc('curl', ['-sS', '-f', '-H', `Authorization: Bearer ${TOKEN}`, '-T', file, url]);
  t.equal((await put.exit).code, 0, `curl -T file: ${put.stderr()}`);
  await waitEvent(s, 'source_end');
  t.equal(s.status('live').input.frames, FRAMES, 'every frame of the file');
  // From a pipe: chunked; Basic with the token as the password, any user name.
  const chunked = proc('sh', ['-c', `curl -sS -f -u anyone:${TOKEN} -T - ${url} < ${file}`]);
  t.equal((await chunked.exit).code, 0, `curl -T -: ${chunked.stderr()}`);
  await waitEvent(s, 'source_end', (e) => e['source'] !== s.events('source_end')[0]['source']);
  const st = s.status('live');
  t.equal(st.input.frames, 2 * FRAMES);
  t.equal(st.ingest!.sources, 2);
  t.equal(st.input.splices, 1, 'the second source (same layout) was spliced');
  t.equal(st.input.trackChanges, 0);
  // Wrong token: 401, nothing read.
  const bad = proc('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', '-u', 'source:nope', '-T', file, url]);
  await bad.exit;
  t.equal(bad.stdout(), '401');
  t.equal(s.status('live').ingest!.refused, 1);
  t.equal(s.status('live').input.frames, 2 * FRAMES, 'nothing more came in');
});

t.test('refusals come before 100 Continue and before any body byte is used', async (t) => {
  const s = await pushServer();
  t.teardown(() => s.close());
  const put = (path: string, headers: string, body = ''): Promise<{ text: string }> =>
    rawRequest(s.port, `PUT ${path} HTTP/1.1\r\nHost: x\r\n${headers}\r\n${body}`, 5000).then((c) => ({
      text: c.head + '\r\n\r\n' + c.body.toString('latin1'),
    }));
  const big = 'Content-Length: 10000000\r\nExpect: 100-continue\r\n';
  const none = await put('/live', big);
  t.match(none.text, /^HTTP\/1\.1 401 Unauthorized/);
  t.notMatch(none.text, /100 Continue/, 'no 100 Continue before the token checked out');
  t.match(none.text, /WWW-Authenticate: Basic realm="mkvserve \/live", charset="UTF-8"/);
  t.match(none.text, /a source token is needed to push to \/live/);
  const wrong = await put('/live', `${big}Authorization: Bearer nope\r\n`);
  t.match(wrong.text, /^HTTP\/1\.1 401 [\s\S]*wrong source token/);
  const wrongQuery = await put('/live?token=nope', big);
  t.match(wrongQuery.text, /^HTTP\/1\.1 401 /);
  // A client that sends its body without waiting: still 401, and none of it reaches the mount.
  const eager = await put('/live', 'Content-Length: 40000\r\n', 'x'.repeat(40000));
  t.match(eager.text, /^HTTP\/1\.1 401 /);
  t.equal(s.status('live').input.bytesIn, 0);
  t.equal(s.status('live').ingest!.refused, 4);
  const notFound = await put('/nope', `${big}Authorization: Bearer ${TOKEN}\r\n`);
  t.match(notFound.text, /^HTTP\/1\.1 404 [\s\S]*no mount \/nope/);
  t.notMatch(notFound.text, /100 Continue/);
  const notPush = await put('/movie', `${big}Authorization: Bearer ${TOKEN}\r\n`);
  t.match(notPush.text, /^HTTP\/1\.1 405 [\s\S]*Allow: GET, HEAD[\s\S]*does not take pushed streams/);
  const empty = await put('/live', `Content-Length: 0\r\nAuthorization: Bearer ${TOKEN}\r\n`);
  t.match(empty.text, /^HTTP\/1\.1 400 [\s\S]*has no body/);
  const range = await put(
    '/live',
    `Content-Length: 5\r\nContent-Range: bytes 100-104/*\r\nAuthorization: Bearer ${TOKEN}\r\n`,
    'abcde',
  );
  t.match(range.text, /^HTTP\/1\.1 409 [\s\S]*no stream from your address waiting to be continued/);
  // OPTIONS / other methods list what the mount route takes.
  const del = await rawRequest(s.port, 'DELETE /live HTTP/1.1\r\n\r\n');
  t.equal(del.status, 405);
  t.equal(del.headers.get('allow'), 'GET, HEAD, PUT, POST, SOURCE');
});

t.test(
  'not Matroska: 415 naming the format (MP4 from ffmpeg, an HTML page, MPEG-TS)',
  { skip: !(hasCurl && hasFfmpeg) && 'no curl/ffmpeg' },
  async (t) => {
    const s = await pushServer();
    t.teardown(() => s.close());
    const dir = mkdtempSync(join(tmpdir(), 'mkvserve-415-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const mp4 = join(dir, 'in.mp4');
    const ts = join(dir, 'in.ts');
    const html = join(dir, 'in.html');
    const mk = (out: string, fmt: string) =>
      proc('ffmpeg', ['-nostdin', '-v', 'error', '-i', FIX('h264-aac-bframes.mkv'), '-c', 'copy', '-f', fmt, out]).exit;
    t.equal((await mk(mp4, 'mp4')).code, 0);
    t.equal((await mk(ts, 'mpegts')).code, 0);
    writeFileSync(html, '<!DOCTYPE html><html><body>oops</body></html>\n');
    const url = `http://127.0.0.1:${s.port}/live`;
    for (const [file, name] of [
      [mp4, /MP4/],
      [ts, /MPEG-TS/],
      [html, /HTML page/],
    ] as const) {
      const c = proc('sh', [
        '-c',
        `curl -sS -w '\\n%{http_code}' -H 'Authorization: Bearer ${TOKEN}' -T ${file} ${url}`,
      ]);
      await c.exit;
      const out = c.stdout();
      t.match(out, /\n415$/, `${file}: 415`);
      t.match(out, name, 'the answer names the format');
      t.match(out, /not Matroska\/WebM/);
      t.match(out, /-f matroska -method PUT/, 'and how to push Matroska instead');
    }
    const st = s.status('live');
    t.equal(st.ingest!.sources, 0, 'none became the source');
    t.equal(st.ingest!.refused, 3);
    t.equal(st.input.frames, 0);
    t.equal(s.events('source_refused').filter((e) => e['reason'] === 'not_matroska').length, 3);
    // The mount still takes a good source afterwards.
    const ok = proc('curl', ['-sS', '-f', '-H', `Authorization: Bearer ${TOKEN}`, '-T', FIX('vp8-vorbis.webm'), url]);
    t.equal((await ok.exit).code, 0, ok.stderr());
    t.ok(s.status('live').input.frames > 0);
  },
);

t.test(
  'one source at a time: a second gets 409; with takeover it replaces the first',
  { skip: !hasFfmpeg && 'no ffmpeg' },
  async (t) => {
    const s = await pushServer();
    t.teardown(() => s.close());
    const url = `http://source:${TOKEN}@127.0.0.1:${s.port}/live`;
    const first = ffmpegPush(url, { loop: true, extra: ['-method', 'PUT'] });
    t.teardown(() => first.child.kill('SIGKILL'));
    await waitEvent(s, 'source_connect');
    // icecast:// waits for the answer (Expect: 100-continue) and reports it.
    const second = ffmpegPush(`icecast://source:${TOKEN}@127.0.0.1:${s.port}/live`, {
      format: 'webm',
      extra: ['-content_type', 'video/webm'],
    });
    const exit = await second.exit;
    t.not(exit.code, 0, 'the second ffmpeg fails');
    t.match(second.stderr(), /4XX/);
    const busy = s.events('source_refused').find((e) => e['reason'] === 'busy');
    t.equal(busy?.['status'], 409);
    // -method PUT streams its body after the 401 without waiting and ignores the answer (ffmpeg's way):
    // the server answers 409 all the same and uses none of it.
    const third = ffmpegPush(url, { extra: ['-method', 'PUT'] });
    await third.exit;
    t.equal(s.events('source_refused').filter((e) => e['reason'] === 'busy').length, 2, 'the PUT got 409 too');
    t.equal(s.status('live').ingest!.source?.id, s.events('source_connect')[0]['source'], 'the first source stays');
    first.child.kill('SIGKILL');
    await waitEvent(s, 'source_drop');

    const s2 = await pushServer({ takeover: true });
    t.teardown(() => s2.close());
    const url2 = `http://source:${TOKEN}@127.0.0.1:${s2.port}/live`;
    const a = ffmpegPush(url2, { loop: true, extra: ['-method', 'PUT'] });
    t.teardown(() => a.child.kill('SIGKILL'));
    await waitEvent(s2, 'source_connect');
    const viewer = view(s2.port, 'live');
    await sleep(1500);
    const b = ffmpegPush(url2, { loop: true, extra: ['-method', 'PUT'] });
    t.teardown(() => b.child.kill('SIGKILL'));
    const aExit = await Promise.race([a.exit, sleep(10_000).then(() => 'still running')]);
    t.not(aExit, 'still running', 'the first source was disconnected');
    await waitFor(() => s2.events('source_connect').length === 2, 5000, 'second source');
    const ing = s2.status('live').ingest!;
    t.equal(ing.source?.id, s2.events('source_connect')[1]['source'], 'the second source is in place');
    t.equal(ing.lastSource?.end, 'taken_over');
    t.equal(ing.drops, 1, 'a taken-over source counts as a drop');
    await sleep(2000);
    b.child.kill('SIGKILL');
    const cap = await viewer;
    t.ok(cap.ended, 'the viewer ended cleanly after the grace period');
    const m = parseMedia(cap.body);
    t.equal(m.headers, 1, 'one EBML header across the takeover');
    t.ok(monotonic(cap.body), 'timestamps keep increasing');
    t.ok(s2.status('live').input.splices >= 1, 'spliced');
    t.equal(ffmpegErrors(cap.body), '', 'ffmpeg decodes the stream across the takeover');
  },
);

t.test(
  'GStreamer souphttpclientsink: one PUT per batch, joined into one source; token in the query',
  { skip: !hasGstSoup && 'no souphttpclientsink' },
  async (t) => {
    const s = await pushServer({ sourceIdleTimeoutMs: 3000 });
    t.teardown(() => s.close());
    const viewer = view(s.port, 'live');
    const gst = (location: string): ReturnType<typeof proc> =>
      proc('gst-launch-1.0', [
        '-q',
        'videotestsrc',
        'is-live=true',
        'num-buffers=75',
        '!',
        'video/x-raw,width=160,height=120,framerate=25/1',
        '!',
        'vp8enc',
        'deadline=1',
        'keyframe-max-dist=25',
        '!',
        'webmmux',
        'streamable=true',
        '!',
        'souphttpclientsink',
        `location=${location}`,
      ]);
    const bad = gst(`http://127.0.0.1:${s.port}/live`);
    await bad.exit;
    t.equal(s.events('source_refused')[0]?.['status'], 401, 'without the token: 401');
    const g = gst(`http://127.0.0.1:${s.port}/live?token=${TOKEN}`);
    t.equal((await g.exit).code, 0, `gst-launch exit 0 ${g.stderr()}`);
    await waitEvent(s, 'source_end', () => true, 10_000);
    const ing = s.status('live').ingest!;
    t.equal(ing.sources, 1, 'one source');
    t.ok((ing.lastSource?.requests ?? 0) > 3, `${ing.lastSource?.requests} PUTs made one source`);
    t.equal(ing.drops, 0);
    const cap = await viewer;
    const m = parseMedia(cap.body);
    t.same(m.errors, []);
    t.equal(m.headers, 1);
    t.ok(m.frames.length >= 40, `${m.frames.length} frames of 75 (the sink may drop its tail at EOS)`);
    t.equal(ffmpegErrors(cap.body, 'webm'), '');
  },
);

t.test('a raw client pushing byte by byte with Bearer and POST', async (t) => {
  const s = await pushServer();
  t.teardown(() => s.close());
  const data = readFileSync(FIX('vp8-vorbis.webm'));
  const viewer = view(s.port, 'live');
  const sock = net.connect(s.port, '127.0.0.1');
  await new Promise((r) => sock.on('connect', r));
  sock.write(`POST /live HTTP/1.1\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Length: ${data.length}\r\n\r\n`);
  for (let i = 0; i < 64; i++) {
    sock.write(data.subarray(i, i + 1));
    await sleep(2);
  }
  sock.write(data.subarray(64));
  let answer = '';
  sock.on('data', (d: Buffer) => (answer += d.toString('latin1')));
  await new Promise((r) => sock.on('close', r));
  t.match(answer, new RegExp(`^HTTP/1\\.1 200 OK[\\s\\S]*${data.length} bytes received`));
  const cap = await viewer;
  t.equal(parseMedia(cap.body).frames.length, parseMedia(data).frames.length);
});

/** A raw PUT from `localAddress`; resolves with the whole answer once the server closes. */
function rawPut(port: number, head: string, body: Buffer, localAddress = '127.0.0.1'): Promise<string> {
  return new Promise((resolve) => {
    const sock = net.connect({ port, host: '127.0.0.1', localAddress });
    let answer = '';
    sock.on('data', (d: Buffer) => (answer += d.toString('latin1')));
    sock.on('error', () => {});
    sock.on('close', () => resolve(answer));
    sock.on('connect', () => {
      sock.write(head);
      sock.write(body);
    });
  });
}

t.test('Content-Range continuation: the same address, at exactly the next byte', async (t) => {
  const s = await pushServer({ sourceIdleTimeoutMs: 2000 });
  t.teardown(() => s.close());
  const data = readFileSync(FIX('vp8-vorbis.webm'));
  const cut = 30_000;
  const head = (from: number, to: number, range: boolean): string =>
    `PUT /live HTTP/1.1\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Length: ${to - from}\r\n` +
    (range ? `Content-Range: bytes ${from}-${to - 1}/*\r\n` : '') +
    '\r\n';
  const first = await rawPut(s.port, head(0, cut, false), data.subarray(0, cut));
  t.match(first, new RegExp(`^HTTP/1\\.1 200 OK[\\s\\S]*${cut} bytes received`));
  t.equal(s.status('live').ingest!.source?.state, 'between', 'waiting for the next PUT');
  const wrongOffset = await rawPut(s.port, head(cut + 1, data.length, true), data.subarray(cut + 1));
  t.match(wrongOffset, /^HTTP\/1\.1 409 [\s\S]*continues at byte 30000/);
  const otherAddress = await rawPut(s.port, head(cut, data.length, true), data.subarray(cut), '127.0.0.2');
  t.match(otherAddress, /^HTTP\/1\.1 409 [\s\S]*no stream from your address/);
  const badLength = await rawPut(
    s.port,
    `PUT /live HTTP/1.1\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Length: 5\r\nContent-Range: bytes ${cut}-${cut + 9}/*\r\n\r\n`,
    data.subarray(cut, cut + 5),
  );
  t.match(badLength, /^HTTP\/1\.1 400 [\s\S]*does not match the Content-Range/);
  const rest = await rawPut(s.port, head(cut, data.length, true), data.subarray(cut));
  t.match(rest, new RegExp(`^HTTP/1\\.1 200 OK[\\s\\S]*${data.length} bytes received`));
  await waitEvent(s, 'source_end');
  const ing = s.status('live').ingest!;
  t.equal(ing.sources, 1, 'one source');
  t.equal(ing.lastSource?.requests, 2, 'made of two PUTs');
  t.equal(ing.lastSource?.bytes, data.length);
  t.equal(s.status('live').input.frames, parseMedia(data).frames.length, 'every frame');
});

t.test('allowSources: other addresses get 403; listed ones may push without a token', async (t) => {
  const s = await startServer([
    { name: 'lan', input: 'push', allowSources: ['127.0.0.2'], sourceGraceMs: 500, sourceIdleTimeoutMs: 500 },
  ]);
  t.teardown(() => s.close());
  t.equal(
    (await waitEvent(s, 'ingest_unauthenticated'))['path'],
    '/lan',
    'the log says it takes sources without a token',
  );
  const data = readFileSync(FIX('vp8-vorbis.webm'));
  const head = `PUT /lan HTTP/1.1\r\nContent-Length: ${data.length}\r\nExpect: 100-continue\r\n\r\n`;
  const refused = await rawPut(s.port, head, Buffer.alloc(0));
  t.match(refused, /^HTTP\/1\.1 403 Forbidden[\s\S]*may not push to \/lan/);
  t.notMatch(refused, /100 Continue/);
  const ok = await rawPut(s.port, head, data, '127.0.0.2');
  t.match(ok, /^HTTP\/1\.1 200 OK[\s\S]*bytes received/, 'answered once the body was received');
  await waitEvent(s, 'source_end');
  const st = s.status('lan');
  t.equal(st.ingest!.auth, 'none');
  t.same(st.ingest!.allowSources, ['127.0.0.2']);
  t.equal(st.ingest!.refused, 1);
  t.equal(st.input.frames, parseMedia(data).frames.length);
});

t.test('behind a trusted proxy (X-Forwarded-For): the source address is the client the proxy names', async (t) => {
  const s = await startServer(
    [{ name: 'lan', input: 'push', token: TOKEN, allowSources: ['192.0.2.0/24'], sourceIdleTimeoutMs: 500 }],
    { trustedProxies: ['127.0.0.1'] },
  );
  t.teardown(() => s.close());
  const data = readFileSync(FIX('vp8-vorbis.webm'));
  const head = (xff: string): string =>
    `PUT /lan HTTP/1.1\r\nAuthorization: Bearer ${TOKEN}\r\nX-Forwarded-For: ${xff}\r\nContent-Length: ${data.length}\r\n\r\n`;
  const outside = await rawPut(s.port, head('198.51.100.4'), data);
  t.match(
    outside,
    /^HTTP\/1\.1 403 [\s\S]*your address \(198\.51\.100\.4\)/,
    'allowSources applies to the real client',
  );
  const inside = await rawPut(s.port, head('192.0.2.9'), data);
  t.match(inside, /^HTTP\/1\.1 200 OK/);
  await waitEvent(s, 'source_connect');
  t.equal(s.events('source_connect')[0]['address'], '192.0.2.9', 'the log names the client, not the proxy');
  await waitEvent(s, 'source_end');
  t.equal(s.status('lan').ingest!.lastSource?.address, '192.0.2.9', 'and so does the status');
});
