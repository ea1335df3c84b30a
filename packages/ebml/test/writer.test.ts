// EBML writer: value encodings per type (minimal and fixed widths), master headers, unknown sizes,
// ByteWriter growth, encodeTree with preserveWidths, property tests read back by a small independent
// decoder, and a cross-check with the ebml-stream decoder (an independent implementation).
import t from 'tap';
import type { Transform } from 'node:stream';
import fc from 'fast-check';
import ebmlStream from 'ebml-stream';
import { EbmlError } from '../src/errors.js';
import { ELEMENTS, Id } from '../src/schema.generated.js';
import type { ElementType } from '../src/schema.generated.js';
import {
  ByteWriter,
  encodeElement,
  encodeMasterHeader,
  encodeTree,
  encodeVoid,
  intLength,
  uintLength,
} from '../src/writer.js';
import type { EncodableNode, EncodableValue } from '../src/writer.js';
import { hex } from '../testlib/build.js';

t.test('uinteger / integer widths', async (t) => {
  t.equal(hex(encodeElement(Id.TrackNumber, 0)), 'd7 81 00');
  t.equal(hex(encodeElement(Id.TrackNumber, 255)), 'd7 81 ff');
  t.equal(hex(encodeElement(Id.TrackNumber, 256)), 'd7 82 01 00');
  t.equal(hex(encodeElement(Id.TimestampScale, 1_000_000)), '2a d7 b1 83 0f 42 40');
  t.equal(hex(encodeElement(Id.TrackUID, 0xffffffffffffffffn)), '73 c5 88 ff ff ff ff ff ff ff ff');
  t.equal(hex(encodeElement(Id.TrackUID, 2n ** 53n + 1n)), '73 c5 87 20 00 00 00 00 00 01');
  t.equal(hex(encodeElement(Id.TrackUID, 2 ** 40)), '73 c5 86 01 00 00 00 00 00');
  t.equal(hex(encodeElement(Id.ReferenceBlock, -1)), 'fb 81 ff');
  t.equal(hex(encodeElement(Id.ReferenceBlock, -128)), 'fb 81 80');
  t.equal(hex(encodeElement(Id.ReferenceBlock, -129)), 'fb 82 ff 7f');
  t.equal(hex(encodeElement(Id.ReferenceBlock, 128)), 'fb 82 00 80');
  t.equal(hex(encodeElement(Id.ReferenceBlock, 0)), 'fb 81 00');
  t.equal(hex(encodeElement(Id.DiscardPadding, -(2n ** 63n))), '75 a2 88 80 00 00 00 00 00 00 00');
  t.equal(uintLength(2 ** 53 - 1), 7);
  t.equal(intLength(-(2 ** 47)), 6);
  t.throws(() => encodeElement(Id.TrackNumber, -1), { code: 'ENCODE' });
  t.throws(() => encodeElement(Id.TrackNumber, 1.5), { code: 'ENCODE' });
  t.throws(() => encodeElement(Id.TrackUID, 2n ** 64n), { code: 'ENCODE' });
  t.throws(() => encodeElement(Id.TrackNumber, 'x'), EbmlError);
  // fixed widths through the ByteWriter
  const w = new ByteWriter(4);
  w.uint(1, 4);
  w.int(-2, 3);
  w.uint(0, 0);
  t.equal(hex(w.finish()), '00 00 00 01 ff ff fe');
  t.throws(() => w.uint(256, 1), { code: 'ENCODE' });
  t.throws(() => w.int(128, 1), { code: 'ENCODE' });
});

t.test('float, string, utf-8, date, binary', async (t) => {
  t.equal(hex(encodeElement(Id.SamplingFrequency, 48000)), 'b5 84 47 3b 80 00');
  t.equal(hex(encodeElement(Id.Duration, 0.1)), '44 89 88 3f b9 99 99 99 99 99 9a');
  const w = new ByteWriter();
  w.floatElement(Id.Duration, 1, 8);
  t.equal(hex(w.finish()), '44 89 88 3f f0 00 00 00 00 00 00');
  t.equal(hex(encodeElement(Id.CodecID, 'V_VP8')), '86 85 56 5f 56 50 38');
  t.equal(hex(encodeElement(Id.Title, 'é')), '7b a9 82 c3 a9');
  t.equal(hex(encodeElement(Id.DateUTC, 1n)), '44 61 88 00 00 00 00 00 00 00 01');
  t.equal(hex(encodeElement(Id.DateUTC, -1n)), '44 61 88 ff ff ff ff ff ff ff ff');
  t.equal(hex(encodeElement(Id.CodecPrivate, new Uint8Array([1, 2]))), '63 a2 82 01 02');
  t.equal(hex(encodeElement(0x4001, new Uint8Array([9]))), '40 01 81 09', 'unknown ID: binary');
  // 127 bytes need a 2-byte size (0x7f is reserved for unknown in 1 byte)
  const big = encodeElement(Id.CodecPrivate, new Uint8Array(127));
  t.equal(hex(big.subarray(0, 4)), '63 a2 40 7f');
  t.equal(big.length, 4 + 127);
});

t.test('master headers, unknown sizes, Void', async (t) => {
  t.equal(hex(encodeMasterHeader(Id.Segment, -1)), '18 53 80 67 01 ff ff ff ff ff ff ff');
  t.equal(hex(encodeMasterHeader(Id.Cluster, -1, 1)), '1f 43 b6 75 ff');
  t.equal(hex(encodeMasterHeader(Id.Cluster, 5)), '1f 43 b6 75 85');
  t.equal(hex(encodeMasterHeader(Id.Cluster, 5, 4)), '1f 43 b6 75 10 00 00 05');
  t.throws(() => encodeMasterHeader(Id.Cluster, 200, 1), { code: 'ENCODE' });
  for (const n of [2, 3, 50, 128, 129, 130, 131, 20000]) {
    const v = encodeVoid(n);
    t.equal(v.length, n, `Void of ${n}`);
    t.equal(v[0], 0xec);
  }
  t.throws(() => encodeVoid(1));
  // startMaster/endMaster: content moves back over unused size bytes, nested
  const w = new ByteWriter(8);
  const a = w.startMaster(Id.Info);
  const b = w.startMaster(Id.Seek);
  w.uintElement(Id.SeekPosition, 1);
  w.endMaster(b);
  w.stringElement(Id.MuxingApp, 'x'.repeat(200));
  w.endMaster(a);
  const out = w.finish();
  t.equal(hex(out.subarray(0, 12)), '15 49 a9 66 40 d3 4d bb 84 53 ac 81');
  t.equal(out.length, 4 + 2 + 211);
});

t.test('ByteWriter growth keeps content; finish is a view', async (t) => {
  const w = new ByteWriter(16);
  for (let i = 0; i < 10000; i++) w.u8(i & 0xff);
  const v = w.finish();
  t.equal(v.length, 10000);
  t.equal(v.buffer, w.buf.buffer, 'view, not a copy');
  let ok = true;
  for (let i = 0; i < 10000; i++) if (v[i] !== (i & 0xff)) ok = false;
  t.ok(ok);
  const copy = w.toBytes();
  w.reset();
  w.u8(7);
  t.equal(copy[0], 0);
  t.equal(w.length, 1);
});

t.test('encodeTree preserveWidths keeps widths, padding and unknown sizes', async (t) => {
  const nodes: EncodableNode[] = [
    {
      id: Id.Segment,
      type: 'master',
      headerSize: 12,
      size: -1,
      children: [
        {
          id: Id.Info,
          type: 'master',
          headerSize: 7,
          size: 0,
          children: [
            { id: Id.TimestampScale, type: 'uinteger', headerSize: 4, size: 4, value: 1_000_000 },
            { id: Id.Duration, type: 'float', headerSize: 3, size: 4, value: 1.5 },
            { id: Id.Title, type: 'utf-8', headerSize: 3, size: 6, value: 'ab' },
            { id: Id.DiscardPadding, type: 'integer', headerSize: 3, size: 3, value: -5 },
          ],
        },
      ],
    },
  ];
  const out = encodeTree(nodes, { preserveWidths: true });
  t.equal(
    hex(out),
    [
      '18 53 80 67 01 ff ff ff ff ff ff ff',
      '15 49 a9 66 20 00 1e',
      '2a d7 b1 84 00 0f 42 40',
      '44 89 84 3f c0 00 00',
      '7b a9 86 61 62 00 00 00 00',
      '75 a2 83 ff ff fb',
    ].join(' '),
  );
  const min = encodeTree(nodes);
  t.equal(hex(min.subarray(0, 5)), '18 53 80 67 9c', 'without preserveWidths: minimal known sizes');
  t.equal(min.length, 5 + 28);
  const keep = encodeTree(nodes, { keepUnknownSizes: true });
  t.equal(hex(keep.subarray(0, 12)), '18 53 80 67 01 ff ff ff ff ff ff ff');
});

// ---- property tests -------------------------------------------------------------------------------

/** A small independent decoder for read-back: returns nodes with values decoded per our schema. */
interface Decoded {
  id: number;
  size: number;
  value?: unknown;
  children?: Decoded[];
}
const TYPE_BY_ID = new Map(ELEMENTS.map((e) => [e.id, e.type] as const));
function decode(buf: Uint8Array, start = 0, end = buf.length): Decoded[] {
  const out: Decoded[] = [];
  let p = start;
  while (p < end) {
    const b0 = buf[p];
    const il = Math.clz32(b0) - 23;
    let id = 0;
    for (let i = 0; i < il; i++) id = id * 256 + buf[p + i];
    p += il;
    const sl = Math.clz32(buf[p]) - 23;
    let size = buf[p] & (0xff >> sl);
    let ones = size === 0xff >> sl;
    for (let i = 1; i < sl; i++) {
      size = size * 256 + buf[p + i];
      if (buf[p + i] !== 0xff) ones = false;
    }
    p += sl;
    const type = TYPE_BY_ID.get(id) ?? 'binary';
    if (ones) {
      out.push({ id, size: -1, children: decode(buf, p, end) });
      return out;
    }
    const data = buf.subarray(p, p + size);
    const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
    let value: unknown;
    switch (type) {
      case 'master':
        value = undefined;
        break;
      case 'uinteger': {
        let v = 0n;
        for (const x of data) v = v * 256n + BigInt(x);
        value = v;
        break;
      }
      case 'integer':
      case 'date': {
        let v = 0n;
        for (const x of data) v = v * 256n + BigInt(x);
        value = data.length ? BigInt.asIntN(data.length * 8, v) : 0n;
        break;
      }
      case 'float':
        value = size === 4 ? dv.getFloat32(0) : size === 8 ? dv.getFloat64(0) : 0;
        break;
      case 'string':
      case 'utf-8':
        value = new TextDecoder().decode(data);
        break;
      default:
        value = Array.from(data);
    }
    out.push(type === 'master' ? { id, size, children: decode(buf, p, p + size) } : { id, size, value });
    p += size;
  }
  return out;
}

function normalize(nodes: readonly EncodableNode[]): unknown[] {
  return nodes.map((n) => {
    if (n.children) return { id: n.id, children: normalize(n.children) };
    const v = n.value;
    const type = n.type as ElementType;
    if (v instanceof Uint8Array) return { id: n.id, value: Array.from(v) };
    if (type === 'uinteger' || type === 'integer' || type === 'date')
      return { id: n.id, value: BigInt(v as number | bigint) };
    return { id: n.id, value: v };
  });
}
function strip(nodes: Decoded[]): unknown[] {
  return nodes.map((n) => (n.children ? { id: n.id, children: strip(n.children) } : { id: n.id, value: n.value }));
}

const leafElems = (type: ElementType): number[] =>
  ELEMENTS.filter((e) => e.type === type && !e.global).map((e) => e.id);
const masterIds = ELEMENTS.filter((e) => e.type === 'master').map((e) => e.id);
const pick = (ids: number[]) => fc.constantFrom(...ids);

const leafArb: fc.Arbitrary<EncodableNode> = fc.oneof(
  fc.record({
    id: pick(leafElems('uinteger')),
    type: fc.constant('uinteger'),
    value: fc.oneof(fc.nat(), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.maxSafeNat()),
  }),
  fc.record({
    id: pick(leafElems('integer')),
    type: fc.constant('integer'),
    value: fc.oneof(fc.integer(), fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), fc.maxSafeInteger()),
  }),
  fc.record({ id: pick(leafElems('float')), type: fc.constant('float'), value: fc.double({ noNaN: true }) }),
  fc.record({
    id: pick(leafElems('string')),
    type: fc.constant('string'),
    value: fc.string({ unit: 'grapheme-ascii', maxLength: 40 }).map((s) => s.replace(/\0+$/, '')),
  }),
  fc.record({
    id: pick(leafElems('utf-8')),
    type: fc.constant('utf-8'),
    value: fc.string({ unit: 'grapheme', maxLength: 40 }).map((s) => s.replace(/\0+$/, '')),
  }),
  fc.record({
    id: pick(leafElems('date')),
    type: fc.constant('date'),
    value: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
  }),
  fc.record({ id: pick(leafElems('binary')), type: fc.constant('binary'), value: fc.uint8Array({ maxLength: 300 }) }),
);

const treeArb = fc.letrec<{ node: EncodableNode }>((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leafArb,
    fc.record({
      id: pick(masterIds),
      type: fc.constant('master'),
      children: fc.array(tie('node'), { maxLength: 5 }),
    }) as fc.Arbitrary<EncodableNode>,
  ),
})).node;

t.test('property: arbitrary trees encode and decode back to the same elements', async (t) => {
  fc.assert(
    fc.property(fc.array(treeArb, { maxLength: 6 }), (nodes) => {
      const bytes = encodeTree(nodes);
      t.same(strip(decode(bytes)), normalize(nodes));
      return true;
    }),
    { numRuns: 300 },
  );
  t.pass('ok');
});

t.test('property: encodeElement is encodeTree of one leaf', async (t) => {
  fc.assert(
    fc.property(leafArb, (n) => {
      const a = encodeElement(n.id, n.value as EncodableValue, n.type as ElementType);
      const b = encodeTree([n]);
      return hex(a) === hex(b);
    }),
    { numRuns: 500 },
  );
  t.pass('ok');
});

t.test('property: preserveWidths re-encodes decoded widths byte-identically', async (t) => {
  // Encode with arbitrary (non-minimal) size widths and value paddings, decode with the independent
  // decoder into nodes carrying headerSize/size, re-encode with preserveWidths: identical bytes.
  const widened = fc.record({
    n: leafArb,
    extraSize: fc.integer({ min: 0, max: 3 }),
    pad: fc.integer({ min: 0, max: 3 }),
  });
  fc.assert(
    fc.property(fc.array(widened, { minLength: 1, maxLength: 8 }), (items) => {
      const w = new ByteWriter();
      const nodes: EncodableNode[] = [];
      for (const { n, extraSize, pad } of items) {
        const type = n.type as ElementType;
        const v = n.value!;
        const inner = new ByteWriter();
        const valueWidthOk = true;
        if (type === 'uinteger') inner.uint(v as number | bigint, Math.min(8, uintLength(v as number | bigint) + pad));
        else if (type === 'integer')
          inner.int(v as number | bigint, Math.min(8, intLength(v as number | bigint) + pad));
        else if (type === 'float') inner.float(v as number, 8);
        else if (type === 'date') inner.int(v as bigint, 8);
        else if (v instanceof Uint8Array) inner.bytes(v);
        else {
          inner.bytes(new TextEncoder().encode(v as string));
          inner.zeros(pad);
        }
        if (!valueWidthOk) return true;
        const data = inner.finish();
        const idLen = n.id < 0x100 ? 1 : n.id < 0x10000 ? 2 : n.id < 0x1000000 ? 3 : 4;
        let sl = 1;
        while (data.length >= 2 ** (7 * sl) - 1) sl++;
        sl = Math.min(8, sl + extraSize);
        w.id(n.id);
        w.size(data.length, sl);
        w.bytes(data);
        nodes.push({ id: n.id, type, headerSize: idLen + sl, size: data.length, value: v });
      }
      const original = w.toBytes();
      const again = encodeTree(nodes, { preserveWidths: true });
      return hex(original) === hex(again);
    }),
    { numRuns: 300 },
  );
  t.pass('ok');
});

// ---- cross-check with ebml-stream -----------------------------------------------------------------

const { EbmlStreamDecoder, EbmlTagFactory, EbmlTagPosition } = ebmlStream as unknown as {
  EbmlStreamDecoder: new () => Transform;
  EbmlTagFactory: { create(id: number): { type?: string } };
  EbmlTagPosition: { Start: number; Content: number; End: number };
};

const ES_TYPE: Record<ElementType, string> = {
  master: 'm',
  uinteger: 'u',
  integer: 'i',
  float: 'f',
  string: 's',
  'utf-8': '8',
  binary: 'b',
  date: 'd',
};
/** Elements whose type both schemas agree on. */
// (Block and SimpleBlock are parsed into track/flags/payload by ebml-stream: tested in block.test.ts.)
const agreed = ELEMENTS.filter(
  (e) =>
    !e.global && e.id !== Id.Block && e.id !== Id.SimpleBlock && EbmlTagFactory.create(e.id).type === ES_TYPE[e.type],
);

interface EsTag {
  id: number;
  size: number;
  position: number;
  data?: unknown;
  type?: string;
}
async function esDecode(bytes: Uint8Array): Promise<EsTag[]> {
  const dec = new EbmlStreamDecoder();
  const tags: EsTag[] = [];
  dec.on('data', (tag: EsTag) => tags.push(tag));
  const done = new Promise<void>((resolve, reject) => {
    dec.on('end', () => resolve());
    dec.on('error', reject);
  });
  // Stream it in small chunks to exercise the streaming API.
  for (let i = 0; i < bytes.length; i += 97) dec.write(Buffer.from(bytes.subarray(i, i + 97)));
  dec.end();
  await done;
  return tags;
}

function flatten(
  nodes: readonly EncodableNode[],
  out: { id: number; start: boolean; end: boolean; value?: unknown; type?: string }[] = [],
) {
  for (const n of nodes) {
    if (n.children) {
      out.push({ id: n.id, start: true, end: false });
      flatten(n.children, out);
      out.push({ id: n.id, start: false, end: true });
    } else out.push({ id: n.id, start: false, end: false, value: n.value, type: n.type });
  }
  return out;
}

const pickAgreed = (type: ElementType) => fc.constantFrom(...agreed.filter((e) => e.type === type).map((e) => e.id));
// ebml-stream emits an empty master's End late (after the next leaf), so masters get at least one child.
// ebml-stream reads integers only of 1, 2 or 4 bytes and 'string' as latin1, so values are chosen to fit that.
const esLeafArb: fc.Arbitrary<EncodableNode> = fc.oneof(
  fc.record({
    id: pickAgreed('uinteger'),
    type: fc.constant('uinteger'),
    value: fc.oneof(fc.nat(), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })),
  }),
  fc.record({
    id: pickAgreed('integer'),
    type: fc.constant('integer'),
    value: fc.oneof(
      fc.integer({ min: -128, max: 127 }),
      fc.integer({ min: -32768, max: 32767 }),
      fc.integer({ min: -(2 ** 23) - 100, max: -(2 ** 23) - 1 }),
    ),
  }),
  fc.record({ id: pickAgreed('float'), type: fc.constant('float'), value: fc.double({ noNaN: true }) }),
  fc.record({
    id: pickAgreed('string'),
    type: fc.constant('string'),
    value: fc.string({ unit: 'grapheme-ascii', maxLength: 30 }),
  }),
  fc.record({
    id: pickAgreed('utf-8'),
    type: fc.constant('utf-8'),
    value: fc.string({ unit: 'grapheme', maxLength: 30 }),
  }),
  fc.record({ id: pickAgreed('binary'), type: fc.constant('binary'), value: fc.uint8Array({ maxLength: 200 }) }),
);
const esTreeArb = fc.letrec<{ node: EncodableNode }>((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    esLeafArb,
    fc.record({
      id: pickAgreed('master'),
      type: fc.constant('master'),
      children: fc.array(tie('node'), { minLength: 1, maxLength: 4 }),
    }) as fc.Arbitrary<EncodableNode>,
  ),
})).node;

t.test('cross-check: ebml-stream decodes our output to the same elements', async (t) => {
  t.ok(agreed.length > 150, `${agreed.length} elements with the same type in both schemas`);
  const samples = fc.sample(fc.array(esTreeArb, { minLength: 1, maxLength: 5 }), { numRuns: 150, seed: 42 });
  let checked = 0;
  for (const nodes of samples) {
    const bytes = encodeTree(nodes);
    const tags = await esDecode(bytes);
    const want = flatten(nodes);
    // ebml-stream emits Start/End for masters and Content for leaves, in document order.
    const got = tags.map((g) => ({
      id: g.id,
      start: g.position === EbmlTagPosition.Start,
      end: g.position === EbmlTagPosition.End,
      g,
    }));
    if (got.length !== want.length) {
      t.equal(got.length, want.length, 'tag count');
      break;
    }
    for (let i = 0; i < want.length; i++) {
      const w = want[i];
      const g = got[i];
      if (g.id !== w.id || g.start !== w.start || g.end !== w.end) {
        t.fail(`tag ${i}: ${g.id} vs ${w.id}`);
        return;
      }
      if (w.start || w.end) continue;
      const d = g.g.data;
      const v = w.value;
      let same: boolean;
      switch (w.type) {
        case 'uinteger':
          same = BigInt(typeof d === 'string' ? `0x${d}` : (d as number)) === BigInt(v as number | bigint);
          break;
        case 'integer':
        case 'float':
        case 'string':
        case 'utf-8':
          same = d === v || (Number.isNaN(d) && Number.isNaN(v));
          break;
        default:
          same = hex(Buffer.from(d as Uint8Array)) === hex(v as Uint8Array);
      }
      if (!same) {
        t.fail(`value of 0x${w.id.toString(16)} (${w.type}): ebml-stream ${String(d)} vs ${String(v)}`);
        return;
      }
      checked++;
    }
  }
  t.ok(checked > 300, `${checked} leaf values agree`);
});

t.test('cross-check: element sizes seen by ebml-stream', async (t) => {
  const nodes: EncodableNode[] = [
    {
      id: Id.Tracks,
      type: 'master',
      children: [
        {
          id: Id.TrackEntry,
          type: 'master',
          children: [
            { id: Id.TrackNumber, type: 'uinteger', value: 1 },
            { id: Id.CodecPrivate, type: 'binary', value: new Uint8Array(300) },
            { id: Id.CodecID, type: 'string', value: 'V_VP9' },
          ],
        },
      ],
    },
  ];
  const tags = await esDecode(encodeTree(nodes));
  t.same(
    tags.map((x) => [x.id, x.size]),
    [
      [Id.Tracks, 3 + 314],
      [Id.TrackEntry, 3 + 304 + 7],
      [Id.TrackNumber, 1],
      [Id.CodecPrivate, 300],
      [Id.CodecID, 5],
      [Id.TrackEntry, 314],
      [Id.Tracks, 317],
    ],
  );
});
