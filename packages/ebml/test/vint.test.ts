// Property tests for the vint helpers: size, ID and signed-vint round trips, unknown-size markers of every
// width, impossible first bytes.
import t from 'tap';
import fc from 'fast-check';
import {
  UNKNOWN_SIZE,
  idLength,
  isValidId,
  readId,
  readSignedVint,
  readSize,
  signedVintLength,
  sizeLength,
  vintLength,
  writeId,
  writeSignedVint,
  writeSize,
  writeUnknownSize,
} from '../src/vint.js';

t.test('vintLength', async (t) => {
  t.equal(vintLength(0x00), 0, '0x00 is impossible');
  for (let len = 1; len <= 8; len++) {
    const lo = 0x80 >> (len - 1);
    t.equal(vintLength(lo), len);
    t.equal(vintLength((lo << 1) - 1 > 0xff ? 0xff : (lo << 1) - 1), len);
  }
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 255 }), (b) => {
      const len = vintLength(b);
      return len >= 1 && len <= 8 && b >> (8 - len) === 1;
    }),
  );
});

t.test('size round trip at the minimal width', async (t) => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 2 ** 53 - 1 }), (v) => {
      const len = sizeLength(v);
      const buf = new Uint8Array(len + 2);
      const end = writeSize(buf, 1, v, len);
      return end === len + 1 && vintLength(buf[1]) === len && readSize(buf, 1, len) === v;
    }),
    { numRuns: 2000 },
  );
  t.equal(sizeLength(126), 1);
  t.equal(sizeLength(127), 2, '127 would be the 1-byte unknown marker');
  t.equal(sizeLength(2 ** 14 - 2), 2);
  t.equal(sizeLength(2 ** 14 - 1), 3);
});

t.test('size round trip at every wider width', async (t) => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 2 ** 40 }), fc.integer({ min: 1, max: 8 }), (v, extra) => {
      const len = Math.min(8, sizeLength(v) + extra - 1);
      const buf = new Uint8Array(8);
      writeSize(buf, 0, v, len);
      return readSize(buf, 0, len) === v;
    }),
    { numRuns: 2000 },
  );
  t.throws(() => writeSize(new Uint8Array(1), 0, 127, 1), 'all ones does not fit');
  t.throws(() => sizeLength(-1));
  t.throws(() => sizeLength(1.5));
});

t.test('unknown-size markers of every width', async (t) => {
  for (let len = 1; len <= 8; len++) {
    const buf = new Uint8Array(8);
    t.equal(writeUnknownSize(buf, 0, len), len);
    t.equal(vintLength(buf[0]), len);
    t.equal(readSize(buf, 0, len), UNKNOWN_SIZE, `width ${len}`);
    // one value bit cleared: a real (large) size, not unknown
    buf[len - 1] = buf[len - 1] & 0xfe;
    if (len > 1 || buf[0] !== 0) t.not(readSize(buf, 0, len), UNKNOWN_SIZE);
  }
  t.equal(readSize(Uint8Array.of(0xff), 0, 1), UNKNOWN_SIZE, '0xFF is unknown, not 127');
});

t.test('ID round trip', async (t) => {
  const anyId = fc
    .integer({ min: 1, max: 4 })
    .chain((len) => fc.integer({ min: 1, max: 2 ** (7 * len) - 2 }).map((v) => 2 ** (7 * len) + v));
  fc.assert(
    fc.property(anyId, (id) => {
      const len = idLength(id);
      const buf = new Uint8Array(6);
      const end = writeId(buf, 1, id);
      return end === 1 + len && vintLength(buf[1]) === len && readId(buf, 1, len) === id && isValidId(id, len);
    }),
    { numRuns: 2000 },
  );
  t.equal(idLength(0x1a45dfa3), 4);
  t.equal(idLength(0xa3), 1);
  t.notOk(isValidId(0xff, 1), 'all ones reserved');
  t.notOk(isValidId(0x80, 1), 'all zeros reserved');
  t.notOk(isValidId(0x7fff, 2));
  t.notOk(isValidId(0x1fffffff, 4));
  t.ok(isValidId(0x1a45dfa3, 4));
});

t.test('signed vint round trip', async (t) => {
  fc.assert(
    fc.property(fc.integer({ min: -(2 ** 40), max: 2 ** 40 }), (v) => {
      const len = signedVintLength(v);
      const buf = new Uint8Array(8);
      writeSignedVint(buf, 0, v, len);
      return vintLength(buf[0]) === len && readSignedVint(buf, 0, len) === v;
    }),
    { numRuns: 2000 },
  );
  t.equal(signedVintLength(0), 1);
  t.equal(signedVintLength(63), 1);
  t.equal(signedVintLength(-63), 1);
  t.equal(signedVintLength(64), 2);
  const buf = new Uint8Array(1);
  writeSignedVint(buf, 0, -63, 1);
  t.equal(buf[0], 0x80);
});
