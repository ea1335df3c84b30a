// Content encodings: zlib inflate with a cap, header stripping, planning (order, scope, unsupported).
import t from 'tap';
import { zlibSync } from 'fflate';
import { decodeContent, inflateZlib, planContentDecoding, stripHeader } from '../src/matroska/content-encoding.js';
import type { ContentEncoding } from '../src/matroska/types.js';

const bytes = (n: number, f = (i: number) => (i * 7) & 0xff) => Uint8Array.from({ length: n }, (_, i) => f(i));

t.test('zlib', async (t) => {
  const src = bytes(5000);
  t.same(inflateZlib(zlibSync(src)), src);
  t.same(inflateZlib(zlibSync(new Uint8Array(0))), new Uint8Array(0));
  // Under and over the cap.
  t.same(inflateZlib(zlibSync(src), 5000), src);
  t.throws(() => inflateZlib(zlibSync(src), 4999), { code: 'DECOMPRESSION' });
  // A bomb: 50 MB of zeros compresses to ~50 KB; refused at the default 10 MB cap without inflating it all.
  const bomb = zlibSync(new Uint8Array(50_000_000), { level: 9 });
  const t0 = performance.now();
  t.throws(() => inflateZlib(bomb), { code: 'DECOMPRESSION', message: /exceeds the limit/ });
  t.ok(performance.now() - t0 < 2000);
  // 8 MB of zeros fits under the default cap via the streamed path.
  const eight = zlibSync(new Uint8Array(8_000_000), { level: 9 });
  t.equal(inflateZlib(eight).length, 8_000_000);
  // Corrupt and truncated data.
  t.throws(() => inflateZlib(new Uint8Array([1, 2, 3, 4, 5])), { code: 'DECOMPRESSION' });
  const z = zlibSync(bytes(100000, (i) => (i * i) & 0xff));
  t.throws(() => inflateZlib(z.subarray(0, z.length >> 1)), { code: 'DECOMPRESSION' });
  t.throws(() => inflateZlib(z.subarray(0, 20)), { code: 'DECOMPRESSION' });
});

t.test('header stripping', async (t) => {
  const prefix = new Uint8Array([0xff, 0xf1, 0x50]);
  const steps: ContentEncoding[] = [{ order: 0, scope: 1, type: 0, compAlgo: 3, compSettings: prefix }];
  t.same(Array.from(decodeContent(new Uint8Array([9, 8]), steps)), [0xff, 0xf1, 0x50, 9, 8]);
  t.same(Array.from(stripHeader(new Uint8Array([0xff, 0xf1, 0x50, 1]), prefix)!), [1]);
  t.equal(stripHeader(new Uint8Array([0xff, 0xf2, 0x50, 1]), prefix), undefined);
  // No settings: passes through (same object).
  const d = new Uint8Array([1]);
  t.equal(decodeContent(d, [{ order: 0, scope: 1, type: 0, compAlgo: 3 }]), d);
});

t.test('planning: order, scope, unsupported', async (t) => {
  const p = planContentDecoding([
    { order: 0, scope: 1, type: 0, compAlgo: 3, compSettings: new Uint8Array([1]) },
    { order: 1, scope: 3, type: 0, compAlgo: 0 },
  ]);
  t.same(
    p.steps.map((s) => s.order),
    [1, 0],
    'highest order first',
  );
  t.same(
    p.codecPrivateSteps.map((s) => s.order),
    [1],
  );
  t.notOk(p.encrypted);
  // zlib(order 1) of header-stripped(order 0) data.
  const inner = new Uint8Array([2, 3]);
  t.same(Array.from(decodeContent(zlibSync(inner), p.steps)), [1, 2, 3]);

  const enc = planContentDecoding([{ order: 0, scope: 1, type: 1, encAlgo: 5 }]);
  t.ok(enc.encrypted);
  t.equal(enc.steps.length, 0);
  t.match(enc.unsupported[0], /encrypted/);
  for (const algo of [1, 2, 9]) {
    const u = planContentDecoding([{ order: 0, scope: 1, type: 0, compAlgo: algo }]);
    t.equal(u.steps.length, 0);
    t.equal(u.unsupported.length, 1);
  }
  t.match(planContentDecoding([{ order: 0, scope: 1, type: 0, compAlgo: 1 }]).unsupported[0], /bzlib/);
  t.same(planContentDecoding(undefined), { steps: [], codecPrivateSteps: [], encrypted: false, unsupported: [] });
});
