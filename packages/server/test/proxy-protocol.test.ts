// The PROXY protocol reader (v1 text, v2 binary) and the X-Forwarded-For rules, as units: every header
// split at every byte boundary gives the same answer, HTTP that merely starts like a header ("POST",
// a leading CRLF) is recognised as HTTP, malformed or oversized headers are errors with a reason, and
// X-Forwarded-For is walked from the right past trusted proxies. Real proxies: proxy-haproxy.test.ts.
import t from 'tap';
import type { Test } from 'tap';
import {
  MAX_PROXY_READS,
  MAX_PROXY_V1_BYTES,
  MAX_PROXY_V2_BYTES,
  PROXY_V2_SIGNATURE,
  ProxyHeaderReader,
  ipv6Text,
  startsLikeProxyHeader,
} from '../src/http/proxy-protocol.js';
import type { ProxyReadResult } from '../src/http/proxy-protocol.js';
import { ProxyTrust, forwardedClient, normalizeAddress } from '../src/http/client-address.js';
import { addressRangeProblem } from '../src/config.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const HTTP = 'GET /stream HTTP/1.1\r\nHost: x\r\n\r\n';

const cat = (...parts: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
};

/** Feeds `bytes` in pieces split at `cuts`; the first answer that is not 'incomplete'. For 'ok', `rest`
 *  is extended with the pieces not fed yet (what the connection then reads as HTTP). */
function feed(bytes: Uint8Array, cuts: number[] = []): ProxyReadResult {
  const r = new ProxyHeaderReader();
  let at = 0;
  for (const c of [...cuts, bytes.length]) {
    const res = r.push(bytes.subarray(at, c));
    at = c;
    if (res.kind === 'ok') return { ...res, rest: cat(res.rest, bytes.subarray(at)) };
    if (res.kind === 'none') return { ...res, bytes: cat(res.bytes, bytes.subarray(at)) };
    if (res.kind !== 'incomplete') return res;
  }
  return { kind: 'incomplete' };
}

/** Same answer for the whole input and for every split into two pieces. */
function everySplit(t: Test, bytes: Uint8Array, check: (r: ProxyReadResult, how: string) => void): void {
  check(feed(bytes), 'whole');
  for (let i = 1; i < bytes.length; i++) check(feed(bytes, [i]), `split at ${i}`);
  // One byte per read.
  check(
    feed(
      bytes,
      Array.from({ length: bytes.length - 1 }, (_, i) => i + 1),
    ),
    'byte by byte',
  );
  t.pass(`${bytes.length + 1} ways of reading ${bytes.length} bytes`);
}

function v2(cmd: number, fam: number, body: number[], tlvs: number[] = []): Uint8Array {
  const len = body.length + tlvs.length;
  return Uint8Array.from([...PROXY_V2_SIGNATURE, 0x20 | cmd, fam, len >> 8, len & 0xff, ...body, ...tlvs]);
}

t.test('v1 TCP4 and TCP6: the source and the bytes after the header, however the reads split', async (t) => {
  const bytes = enc(`PROXY TCP4 203.0.113.7 192.0.2.2 51234 8080\r\n${HTTP}`);
  everySplit(t, bytes, (r, how) => {
    if (r.kind !== 'ok') return t.fail(`${how}: ${r.kind}`);
    if (r.header.source?.address !== '203.0.113.7' || r.header.source.port !== 51234 || r.header.local)
      t.fail(`${how}: ${JSON.stringify(r.header)}`);
    if (Buffer.from(r.rest).toString() !== HTTP) t.fail(`${how}: rest`);
  });
  const whole = feed(bytes);
  t.same(whole.kind === 'ok' && Buffer.from(whole.rest).toString(), HTTP, 'rest is the HTTP request');
  const six = feed(enc('PROXY TCP6 2001:db8::1 2001:db8::2 443 80\r\n'));
  t.same(six.kind === 'ok' && six.header.source, { address: '2001:db8::1', port: 443 });
  const unknown = feed(enc('PROXY UNKNOWN ffff:f...f 1.2.3.4 1 2\r\nGET'));
  t.same(unknown.kind === 'ok' && [unknown.header.local, unknown.header.source], [true, undefined], 'UNKNOWN: local');
});

t.test('v1 errors name the problem; the line is bounded by 107 bytes', async (t) => {
  const cases: [string, RegExp][] = [
    ['PROXY TCP4 1.2.3.4 5.6.7.8 1 99999\r\n', /ports/],
    ['PROXY TCP4 ::1 5.6.7.8 1 2\r\n', /IPv4/],
    ['PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n', /IPv6/],
    ['PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n', /protocol "UDP4"/],
    ['PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n', /expected "PROXY TCPn/],
  ];
  for (const [line, why] of cases) {
    const r = feed(enc(line));
    t.equal(r.kind, 'error', line.trim());
    if (r.kind === 'error') t.match(r.reason, why);
  }
  const long = enc(`PROXY TCP4 ${'1'.repeat(200)}`);
  const r = feed(long);
  t.same(r.kind === 'error' && r.reason, `PROXY v1 header: no CRLF within ${MAX_PROXY_V1_BYTES} bytes`);
  // Never more than the bound is waited for: 106 bytes without CRLF is still incomplete, 107 an error.
  t.equal(feed(long.subarray(0, MAX_PROXY_V1_BYTES - 1)).kind, 'incomplete');
  t.equal(feed(long.subarray(0, MAX_PROXY_V1_BYTES)).kind, 'error');
});

t.test('v2 PROXY (IPv4, IPv6 with TLVs), LOCAL, UNIX; split anywhere', async (t) => {
  const four = cat(v2(1, 0x11, [198, 51, 100, 9, 192, 0, 2, 2, 0xc8, 0x12, 0x1f, 0x90]), enc(HTTP));
  everySplit(t, four, (r, how) => {
    if (r.kind !== 'ok' || r.header.version !== 2 || r.header.source?.address !== '198.51.100.9')
      t.fail(`${how}: ${JSON.stringify(r)}`);
    else if (r.header.source.port !== 0xc812 || r.header.destination?.port !== 8080) t.fail(`${how}: ports`);
  });
  const addr6 = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7];
  const dst6 = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
  const tlv = [0x04, 0x00, 0x03, 0x61, 0x62, 0x63]; // PP2_TYPE_NOOP, 3 bytes
  const six = feed(cat(v2(1, 0x21, [...addr6, ...dst6, 0x01, 0xbb, 0x00, 0x50], tlv), enc('GET')));
  t.same(six.kind === 'ok' && six.header.source, { address: '2001:db8::7', port: 443 }, 'IPv6, TLVs skipped');
  t.same(six.kind === 'ok' && Buffer.from(six.rest).toString(), 'GET', 'what follows the TLVs');
  const local = feed(cat(v2(0, 0x00, []), enc(HTTP)));
  t.same(local.kind === 'ok' && [local.header.local, local.header.source], [true, undefined], 'LOCAL (health checks)');
  const unix = feed(v2(1, 0x31, new Array<number>(216).fill(0)));
  t.same(unix.kind === 'ok' && unix.header.local, true, 'UNIX: no IP to take');
});

t.test('v2 errors: version, command, short address block, oversized header', async (t) => {
  const bad = (bytes: Uint8Array, why: RegExp): void => {
    const r = feed(bytes);
    t.equal(r.kind, 'error');
    if (r.kind === 'error') t.match(r.reason, why);
  };
  const b = v2(1, 0x11, [1, 2, 3, 4, 5, 6, 7, 8, 0, 1, 0, 2]);
  const v3 = b.slice();
  v3[12] = 0x31;
  bad(v3, /version 3/);
  const cmd = b.slice();
  cmd[12] = 0x25;
  bad(cmd, /unknown command 5/);
  bad(v2(1, 0x11, [1, 2, 3, 4]), /too short for IPv4/);
  bad(v2(1, 0x21, new Array<number>(20).fill(0)), /too short for IPv6/);
  // The announced length is checked before anything is waited for: no 64 KiB buffer for a liar.
  const huge = Uint8Array.from([...PROXY_V2_SIGNATURE, 0x21, 0x11, 0xff, 0xff]);
  bad(huge, new RegExp(`at most ${MAX_PROXY_V2_BYTES}`));
  // A v2 header with 1 KiB of TLVs, one byte per read: cut off after MAX_PROXY_READS reads.
  const big = v2(1, 0x11, [1, 2, 3, 4, 5, 6, 7, 8, 0, 1, 0, 2], new Array<number>(1024).fill(0));
  const r = feed(
    big,
    Array.from({ length: big.length - 1 }, (_, i) => i + 1),
  );
  t.same(r.kind === 'error' && r.reason, `PROXY header sent in more than ${MAX_PROXY_READS} pieces`);
  t.equal(feed(big, [100, 600]).kind, 'ok', 'the same header in three reads is fine');
});

t.test('HTTP that starts like a header is HTTP; untrusted-peer detection', async (t) => {
  for (const req of [
    'POST /x HTTP/1.1\r\n\r\n',
    'PUT /x HTTP/1.1\r\n\r\n',
    '\r\nGET / HTTP/1.1\r\n\r\n',
    HTTP,
    'PROX',
  ]) {
    const r = feed(enc(req));
    if (req === 'PROX') t.equal(r.kind, 'incomplete', 'a prefix of "PROXY " waits for more');
    else t.same(r.kind === 'none' && Buffer.from(r.bytes).toString(), req, `${JSON.stringify(req)}: all bytes back`);
  }
  // Split: "P" then "OST ..." -> none, with both pieces.
  const split = feed(enc('POST / HTTP/1.1\r\n\r\n'), [1]);
  t.same(split.kind === 'none' && Buffer.from(split.bytes).toString(), 'POST / HTTP/1.1\r\n\r\n');
  t.ok(startsLikeProxyHeader(enc('PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n')));
  t.ok(startsLikeProxyHeader(v2(0, 0, [])));
  t.notOk(startsLikeProxyHeader(enc('POST / HTTP/1.1')));
  t.notOk(startsLikeProxyHeader(enc('\r\nGET / HTTP/1.1')));
});

t.test('IPv6 text is canonical; IPv4-mapped addresses read as IPv4', async (t) => {
  const b = (hex: string): Uint8Array => Uint8Array.from(Buffer.from(hex.replace(/\s/g, ''), 'hex'));
  t.equal(ipv6Text(b('20010db8 00000000 00000000 00000001')), '2001:db8::1');
  t.equal(ipv6Text(b('00000000 00000000 00000000 00000001')), '::1');
  t.equal(ipv6Text(b('00000000 00000000 0000ffff c0000202')), '192.0.2.2');
  t.equal(ipv6Text(b('20010db8 00010000 00010000 00000001')), '2001:db8:1:0:1::1', 'longest run only');
  t.equal(ipv6Text(b('20010db8 00010001 00010001 00010001')), '2001:db8:1:1:1:1:1:1');
  t.equal(normalizeAddress('::ffff:127.0.0.1'), '127.0.0.1');
  t.equal(normalizeAddress('::1'), '::1');
});

t.test('trusted proxies: addresses and CIDR blocks, v4 and v6; config validation', async (t) => {
  const trust = new ProxyTrust(['127.0.0.1', '10.0.0.0/8', 'fd00::/8']);
  for (const a of ['127.0.0.1', '::ffff:127.0.0.1', '10.20.30.40', 'fd00::2']) t.ok(trust.has(a), a);
  for (const a of ['127.0.0.2', '11.0.0.1', 'fe80::1', 'not-an-ip', '']) t.notOk(trust.has(a), a);
  t.notOk(new ProxyTrust([]).has('127.0.0.1'), 'an empty list trusts no one');
  t.equal(addressRangeProblem('10.0.0.0/8'), undefined);
  t.equal(addressRangeProblem('::1'), undefined);
  t.match(addressRangeProblem('10.0.0.0/33'), /0 to 32/);
  t.match(addressRangeProblem('example.com'), /not an IP/);
});

t.test('X-Forwarded-For: rightmost address that is not a trusted proxy', async (t) => {
  const trust = new ProxyTrust(['127.0.0.1', '10.0.0.0/8']);
  t.equal(forwardedClient('203.0.113.5', trust), '203.0.113.5');
  t.equal(forwardedClient('1.1.1.1, 203.0.113.5', trust), '203.0.113.5', 'a client-supplied left part is skipped');
  t.equal(forwardedClient('203.0.113.5, 10.1.2.3', trust), '203.0.113.5', 'a chain of trusted proxies');
  t.equal(forwardedClient('203.0.113.5:4711', trust), '203.0.113.5', 'IPv4 with a port');
  t.equal(forwardedClient('[2001:db8::5]:4711', trust), '2001:db8::5', 'IPv6 with a port');
  t.equal(forwardedClient('2001:db8::5', trust), '2001:db8::5');
  t.equal(forwardedClient('10.0.0.1, 10.0.0.2', trust), '10.0.0.1', 'only proxies: the leftmost');
  t.equal(forwardedClient('unknown', trust), undefined, 'not an address: the peer stays');
  t.equal(forwardedClient('203.0.113.5, garbage', trust), undefined);
  t.equal(forwardedClient('', trust), undefined);
});
