// Lacing: property tests (encode with our write side, decode, same frames) and corrupt inputs that must
// only ever produce EbmlError INVALID_BLOCK, never a raw exception.
import t from 'tap';
import fc from 'fast-check';
import { EbmlError } from '../src/errors.js';
import {
  chooseLacing,
  encodeLaceHeader,
  encodeLaces,
  laceHeaderSize,
  parseBlock,
  readBlockHeader,
  readLaceSizes,
  splitLaces,
  LACING_EBML,
  LACING_FIXED,
  LACING_XIPH,
} from '../src/matroska/lacing.js';

const frameArb = fc.uint8Array({ minLength: 0, maxLength: 700 });
const framesArb = fc.array(frameArb, { minLength: 1, maxLength: 40 });

function same(a: Uint8Array[], b: Uint8Array[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    if (a[i].length !== b[i].length) return false;
    for (let k = 0; k < a[i].length; k++) if (a[i][k] !== b[i][k]) return false;
  }
  return true;
}

t.test('xiph and ebml round trip', async (t) => {
  for (const mode of ['xiph', 'ebml'] as const) {
    fc.assert(
      fc.property(framesArb, (frames) => {
        const enc = encodeLaces(frames, mode);
        return same(splitLaces(enc, mode), frames);
      }),
      { numRuns: 400 },
    );
    t.pass(mode);
  }
});

t.test('fixed round trip', async (t) => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 256 }), fc.integer({ min: 0, max: 50 }), fc.integer(), (n, size, seed) => {
      const frames = Array.from({ length: n }, (_, i) => new Uint8Array(size).fill((seed + i) & 0xff));
      return same(splitLaces(encodeLaces(frames, 'fixed'), 'fixed'), frames);
    }),
    { numRuns: 300 },
  );
  t.pass('fixed');
});

t.test('256 laces and big sizes', async (t) => {
  const frames = Array.from({ length: 256 }, (_, i) => new Uint8Array(((i * 37) % 1000) + 1));
  for (const mode of ['xiph', 'ebml'] as const) t.ok(same(splitLaces(encodeLaces(frames, mode), mode), frames));
  const big = [new Uint8Array(70000), new Uint8Array(3), new Uint8Array(20000)];
  for (const mode of ['xiph', 'ebml'] as const) t.ok(same(splitLaces(encodeLaces(big, mode), mode), big));
  t.throws(
    () =>
      encodeLaces(
        Array.from({ length: 257 }, () => new Uint8Array(1)),
        'xiph',
      ),
    { code: 'ENCODE' },
  );
  t.throws(() => encodeLaces([new Uint8Array(1), new Uint8Array(2)], 'fixed'), { code: 'ENCODE' });
});

t.test('header sizes and choice', async (t) => {
  const frames = [new Uint8Array(300), new Uint8Array(10), new Uint8Array(5)];
  t.equal(encodeLaceHeader(frames, 'xiph').length, laceHeaderSize([300, 10, 5], 'xiph'));
  t.equal(encodeLaceHeader(frames, 'xiph').length, 1 + 2 + 1);
  t.same(Array.from(encodeLaceHeader(frames, 'xiph')), [2, 255, 45, 10]);
  t.equal(chooseLacing([new Uint8Array(4), new Uint8Array(4)]), 'fixed');
  t.equal(chooseLacing([new Uint8Array(4)]), 'none');
  t.equal(chooseLacing([new Uint8Array(1000), new Uint8Array(1001), new Uint8Array(999)]), 'ebml');
});

t.test('corrupt lacing never throws a raw exception', async (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 0, maxLength: 64 }), fc.integer({ min: 1, max: 3 }), (bytes, mode) => {
      const sizes: number[] = [];
      const r = readLaceSizes(bytes, 0, bytes.length, mode, sizes);
      if (typeof r === 'string') {
        try {
          splitLaces(bytes, mode);
          return false;
        } catch (e) {
          return e instanceof EbmlError && e.code === 'INVALID_BLOCK';
        }
      }
      // Accepted: every size non-negative and the sizes add up exactly to the rest.
      let total = r;
      for (const s of sizes) {
        if (!(s >= 0)) return false;
        total += s;
      }
      return total === bytes.length && sizes.length === bytes[0] + 1;
    }),
    { numRuns: 3000 },
  );
  t.pass('ok');
});

t.test('corrupted valid lacing: bounded or typed error', async (t) => {
  fc.assert(
    fc.property(
      framesArb,
      fc.constantFrom('xiph', 'ebml', 'fixed'),
      fc.nat(),
      fc.integer({ min: 0, max: 255 }),
      (frames, mode, at, val) => {
        if (mode === 'fixed') frames = frames.map(() => frames[0]);
        const enc = encodeLaces(frames, mode);
        enc[at % enc.length] = val;
        try {
          const out = splitLaces(enc, mode);
          let sum = 0;
          for (const f of out) sum += f.length;
          return sum <= enc.length;
        } catch (e) {
          return e instanceof EbmlError && e.code === 'INVALID_BLOCK';
        }
      },
    ),
    { numRuns: 2000 },
  );
  t.pass('ok');
});

t.test('specific malformed headers', async (t) => {
  const sizes: number[] = [];
  t.type(readLaceSizes(new Uint8Array([]), 0, 0, LACING_XIPH, sizes), 'string');
  t.equal(readLaceSizes(new Uint8Array([2, 1, 2, 3]), 0, 4, LACING_FIXED, sizes), 1);
  t.same(sizes, [1, 1, 1]);
  t.type(readLaceSizes(new Uint8Array([1, 1, 2, 3]), 0, 4, LACING_FIXED, sizes), 'string');
  // Xiph: size 255-run running past the end.
  t.type(readLaceSizes(new Uint8Array([1, 255, 255]), 0, 3, LACING_XIPH, sizes), 'string');
  // Xiph: first lace larger than the block.
  t.type(readLaceSizes(new Uint8Array([1, 10, 1, 2]), 0, 4, LACING_XIPH, sizes), 'string');
  // EBML: negative delta.
  t.type(readLaceSizes(new Uint8Array([2, 0x82, 0x80 | (63 - 5), 0, 0, 0]), 0, 6, LACING_EBML, sizes), 'string');
  // EBML: 0x00 is not a vint.
  t.type(readLaceSizes(new Uint8Array([1, 0x00, 1]), 0, 3, LACING_EBML, sizes), 'string');
  // EBML: all-ones first size.
  t.type(readLaceSizes(new Uint8Array([1, 0xff, 1]), 0, 3, LACING_EBML, sizes), 'string');
  // Single-lace header is accepted.
  t.equal(readLaceSizes(new Uint8Array([0, 9, 9]), 0, 3, LACING_XIPH, sizes), 1);
  t.same(sizes, [2]);
});

t.test('block header', async (t) => {
  const b = new Uint8Array([0x81, 0xff, 0xfe, 0x80, 1, 2, 3]);
  t.same(readBlockHeader(b), { track: 1, relTimestamp: -2, flags: 0x80, headerSize: 4 });
  const b2 = new Uint8Array([0x40, 0x82, 0x7f, 0xff, 0x00]);
  t.same(readBlockHeader(b2), { track: 130, relTimestamp: 32767, flags: 0, headerSize: 5 });
  t.equal(readBlockHeader(new Uint8Array([0x81, 0])), undefined);
  t.equal(readBlockHeader(new Uint8Array([0x00, 0, 0, 0])), undefined);
  t.equal(readBlockHeader(new Uint8Array([0x80, 0, 0, 0])), undefined);
  const laced = new Uint8Array([0x82, 0, 5, 0x80 | 0x04 | 0x01, 1, 7, 7, 8, 8]);
  const p = parseBlock(laced);
  t.equal(p.lacing, 'fixed');
  t.equal(p.track, 2);
  t.ok(p.keyframe);
  t.ok(p.discardable);
  t.same(
    p.frames.map((f) => Array.from(f)),
    [
      [7, 7],
      [8, 8],
    ],
  );
  t.throws(() => parseBlock(new Uint8Array([0x81, 0, 0, 0x06])), { code: 'INVALID_BLOCK' });
});
