// Request-head parser and helpers: limits, malformed heads, Range, mount names, loopback/admin rules.
import t from 'tap';
import {
  parseRequestHead,
  parseRange,
  MAX_HEAD_BYTES,
  MAX_HEAD_READS,
  HeadReader,
  headScan,
} from '../src/http/parser.js';
import { validateMountName } from '../src/mount-name.js';
import { isLoopbackHost, adminAccess, bearerMatches } from '../src/http/auth.js';
import { contentTypeFor } from '../src/mount.js';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

t.test('parses a normal GET head', async (t) => {
  const r = parseRequestHead(
    b('GET /stream?x=1 HTTP/1.1\r\nHost: a\r\nRange: bytes=0-\r\nX-A: 1\r\nx-a: 2\r\n\r\nleftover'),
  );
  t.equal(r.kind, 'ok');
  if (r.kind !== 'ok') return;
  t.equal(r.head.method, 'GET');
  t.equal(r.head.path, '/stream');
  t.equal(r.head.query, 'x=1');
  t.equal(r.head.headers.get('host'), 'a');
  t.equal(r.head.headers.get('x-a'), '1, 2');
  t.equal(
    r.head.headLength,
    b('GET /stream?x=1 HTTP/1.1\r\nHost: a\r\nRange: bytes=0-\r\nX-A: 1\r\nx-a: 2\r\n\r\n').length,
  );
});

t.test('bare LF, absolute-form, percent-decoding', async (t) => {
  const r = parseRequestHead(b('HEAD http://h:1/a%20b HTTP/1.0\nA: b\n\n'));
  t.equal(r.kind, 'ok');
  if (r.kind === 'ok') t.equal(r.head.path, '/a b');
});

t.test('incomplete, too large, malformed', async (t) => {
  t.equal(parseRequestHead(b('GET / HTTP/1.1\r\nHost: a\r\n')).kind, 'incomplete');
  const big = b('GET / HTTP/1.1\r\nX: ' + 'a'.repeat(MAX_HEAD_BYTES) + '\r\n\r\n');
  const r = parseRequestHead(big);
  t.same(r.kind === 'error' ? r.status : 0, 431);
  const partialBig = b('GET / HTTP/1.1\r\nX: ' + 'a'.repeat(MAX_HEAD_BYTES));
  t.same((parseRequestHead(partialBig) as { status?: number }).status, 431, 'no blank line within the limit');
  for (const bad of [
    'GET /\r\n\r\n',
    'GET / HTTP/1.1 x\r\n\r\n',
    'GET / FOO/1.1\r\n\r\n',
    'GET x HTTP/1.1\r\n\r\n',
    'GET / HTTP/1.1\r\nno colon\r\n\r\n',
    'GET / HTTP/1.1\r\n folded\r\n\r\n',
    'GET /%zz HTTP/1.1\r\n\r\n',
    'G(T / HTTP/1.1\r\n\r\n',
  ]) {
    const r2 = parseRequestHead(b(bad));
    t.equal(r2.kind === 'error' ? r2.status : 0, 400, JSON.stringify(bad));
  }
  const v2 = parseRequestHead(b('GET / HTTP/2.0\r\n\r\n'));
  t.equal(v2.kind === 'error' ? v2.status : 0, 505);
});

t.test('HeadReader: any chunking gives the same head and rest; each byte is scanned once', async (t) => {
  const head = 'PUT /live?x=1 HTTP/1.1\r\nHost: a\r\nX-Pad: ' + 'p'.repeat(5000) + '\r\nExpect: 100-continue\r\n\r\n';
  const all = b(head + 'BODY');
  const whole = new HeadReader().push(all);
  if (whole.kind !== 'ok') throw new Error('whole head did not parse');
  t.equal(Buffer.from(whole.rest).toString(), 'BODY', 'rest: the bytes after the head');
  t.equal(whole.head.headLength, head.length);
  // One byte per push (read limit lifted): the head is found at its last byte, every byte scanned once.
  const r = new HeadReader(MAX_HEAD_BYTES, Infinity);
  const before = headScan.bytes;
  let res = r.push(all.subarray(0, 1));
  let i = 1;
  while (res.kind === 'incomplete') res = r.push(all.subarray(i, ++i));
  t.equal(i, head.length, 'complete at the blank line');
  t.equal(headScan.bytes - before, head.length, 'linear: each byte scanned once');
  if (res.kind !== 'ok') throw new Error('not ok');
  t.same(res.head, whole.head, 'same head as in one piece');
  // Random splits (seeded), including ones through the CR LF CR LF.
  let seed = 7;
  const rnd = (n: number): number => ((seed = (seed * 1103515245 + 12345) >>> 0) % n) + 1;
  for (let round = 0; round < 200; round++) {
    const rd = new HeadReader();
    let p = 0;
    let out: ReturnType<HeadReader['push']> = { kind: 'incomplete' };
    while (out.kind === 'incomplete' && p < all.length) {
      const n = round < 8 ? head.length - 4 + round - p : rnd(300);
      out = rd.push(all.subarray(p, Math.min(all.length, p + Math.max(1, n))));
      p = Math.min(all.length, p + Math.max(1, n));
    }
    if (out.kind !== 'ok') {
      t.fail(`round ${round}: ${out.kind}`);
      continue;
    }
    t.same(out.head, whole.head);
    t.equal(Buffer.concat([out.rest, all.subarray(p)]).toString(), 'BODY', `round ${round}: rest`);
  }
  // Bare LF heads across pieces, and the limit across pieces.
  const lf = new HeadReader();
  t.equal(lf.push(b('GET / HTTP/1.0\n')).kind, 'incomplete');
  t.equal(lf.push(b('\n')).kind, 'ok');
  const big = new HeadReader();
  let last: ReturnType<HeadReader['push']> = { kind: 'incomplete' };
  for (let k = 0; k < 20 && last.kind === 'incomplete'; k++) last = big.push(b('X-A: ' + 'a'.repeat(1000) + '\r\n'));
  t.same(
    last,
    { kind: 'error', status: 431, reason: 'request head too large' },
    '431 once 16 KiB pass without a blank line',
  );
});

t.test('HeadReader: a head dripped in more than MAX_HEAD_READS pieces is refused', async (t) => {
  const r = new HeadReader();
  let res: ReturnType<HeadReader['push']> = { kind: 'incomplete' };
  let n = 0;
  while (res.kind === 'incomplete') {
    res = r.push(b('a'));
    n++;
  }
  t.equal(n, MAX_HEAD_READS, `refused at read ${n}`);
  t.match(res, { kind: 'error', status: 400, reason: /more than 256 pieces/ });
  // A head that completes on its last allowed read is fine.
  const ok = new HeadReader(MAX_HEAD_BYTES, 3);
  t.equal(ok.push(b('GET / HTTP/1.1\r\n')).kind, 'incomplete');
  t.equal(ok.push(b('Host: x\r\n')).kind, 'incomplete');
  t.equal(ok.push(b('\r\n')).kind, 'ok');
});

t.test('header values with control characters are refused', async (t) => {
  const r = parseRequestHead(b('GET / HTTP/1.1\r\nX: a\rb\r\n\r\n'));
  t.equal(r.kind === 'error' ? r.status : 0, 400);
  const nul = parseRequestHead(b('GET / HTTP/1.1\r\nX: a\x00b\r\n\r\n'));
  t.equal(nul.kind === 'error' ? nul.status : 0, 400);
});

t.test('Range parsing', async (t) => {
  t.same(parseRange(undefined), undefined);
  t.same(parseRange('bytes=0-'), { start: 0 });
  t.same(parseRange('bytes=10-20'), { start: 10, end: 20 });
  t.equal(parseRange('bytes=-5'), 'suffix');
  t.equal(parseRange('bytes=5-1'), 'invalid');
  t.equal(parseRange('items=1-2'), 'invalid');
});

t.test('mount names', async (t) => {
  t.equal(validateMountName('stream'), 'stream');
  t.equal(validateMountName('/live-1'), 'live-1');
  for (const bad of ['api', 'metrics', 'API', 'a.webm', 'a/b', '', 'favicon.ico'])
    t.throws(() => validateMountName(bad), bad);
});

t.test('loopback, admin access and bearer tokens', async (t) => {
  for (const h of ['127.0.0.1', '127.1.2.3', '::1', 'localhost', '[::1]']) t.ok(isLoopbackHost(h), h);
  for (const h of ['0.0.0.0', '::', '192.168.1.2', 'example.com']) t.notOk(isLoopbackHost(h), h);
  t.equal(adminAccess('127.0.0.1', undefined), 'open');
  t.equal(adminAccess('0.0.0.0', undefined), 'forbidden');
  t.equal(adminAccess('0.0.0.0', 'tok'), 'token');
  t.equal(adminAccess('127.0.0.1', 'tok'), 'token');
  t.ok(bearerMatches('Bearer tok', 'tok'));
  t.notOk(bearerMatches('Bearer tok2', 'tok'));
  t.notOk(bearerMatches('Basic tok', 'tok'));
  t.notOk(bearerMatches(undefined, 'tok'));
  t.equal(contentTypeFor('webm'), 'video/webm');
  t.equal(contentTypeFor('matroska'), 'video/x-matroska');
});
