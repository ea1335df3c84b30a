// Byte-identical round trips: every fixture parsed with parseTree and re-encoded with
// encodeTree({ preserveWidths: true }) gives back the same bytes; muxer output too.
import t from 'tap';
import fc from 'fast-check';
import { ELEMENTS } from '../src/schema.generated.js';
import type { EncodableNode } from '../src/writer.js';
import { parseTree } from '../src/tree.js';
import type { ElementNode } from '../src/tree.js';
import { encodeTree } from '../src/writer.js';
import { muxToBytes } from '../src/matroska/muxer.js';
import type { Frame, MatroskaHeader } from '../src/matroska/types.js';
import { fixtureFiles, load } from '../testlib/build.js';

const files = fixtureFiles();

function firstDiff(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}
function count(nodes: ElementNode[]): number {
  let n = 0;
  for (const x of nodes) n += 1 + (x.children ? count(x.children) : 0);
  return n;
}

t.ok(files.length >= 10, `${files.length} fixtures`);
for (const f of files) {
  t.test(`round trip ${f}`, async (t) => {
    const src = load(f);
    const { elements, errors } = parseTree(src);
    t.same(
      errors.map((e) => e.code),
      [],
      'parsed without errors',
    );
    const out = encodeTree(elements, { preserveWidths: true });
    const d = firstDiff(src, out);
    t.equal(
      d,
      -1,
      `byte-identical (${src.length} bytes, ${count(elements)} elements)${d >= 0 ? `; first difference at byte ${d}` : ''}`,
    );
    // Minimal re-encoding is still valid and holds the same elements.
    const min = encodeTree(elements);
    t.ok(min.length <= src.length + 16, 'minimal widths are not larger');
    const again = parseTree(min);
    t.same(
      again.errors.map((e) => e.code),
      [],
    );
    t.equal(count(again.elements), count(elements), 'same element count after minimal re-encoding');
  });
}

t.test('muxer output (file and live) round trips through parseTree/encodeTree', async (t) => {
  const header: MatroskaHeader = {
    ebml: {
      docType: 'webm',
      docTypeVersion: 4,
      docTypeReadVersion: 2,
      ebmlVersion: 1,
      ebmlReadVersion: 1,
      ebmlMaxIdLength: 4,
      ebmlMaxSizeLength: 8,
    },
    info: { timestampScale: 1e6, title: 'rt' },
    segmentDataOffset: 0,
    segmentSize: -1,
    tracks: [
      { number: 1, uid: 1n, kind: 'video', type: 1, codecId: 'V_VP8', video: { pixelWidth: 16, pixelHeight: 16 } },
    ],
  };
  const frames: Frame[] = Array.from({ length: 40 }, (_, i) => ({
    track: 1,
    timestamp: i * 33e6,
    keyframe: i % 10 === 0,
    data: new Uint8Array(20 + i).fill(i),
  }));
  for (const live of [false, true]) {
    const bytes = muxToBytes(header, frames, { live });
    const { elements, errors } = parseTree(bytes);
    t.same(
      errors.map((e) => e.code),
      [],
      `${live ? 'live' : 'file'}: parses cleanly`,
    );
    t.equal(
      firstDiff(bytes, encodeTree(elements, { preserveWidths: true })),
      -1,
      `${live ? 'live' : 'file'}: byte-identical`,
    );
  }
});

// ---- property: arbitrary trees through our own reader ---------------------------------------------

// Trees follow the schema (our reader checks that each element is legal where it appears): every node is
// drawn from the children the schema allows under its parent, starting below Segment.
const SKIP = new Set([0xa3, 0xa1, 0xbf, 0xec]); // blocks (parsed further by the demuxer), CRC-32, Void
function leafFor(e: (typeof ELEMENTS)[number]): fc.Arbitrary<EncodableNode> {
  const base = { id: fc.constant(e.id), type: fc.constant(e.type) };
  switch (e.type) {
    case 'uinteger':
      return fc.record({ ...base, value: fc.oneof(fc.nat(), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })) });
    case 'integer':
      return fc.record({
        ...base,
        value: fc.oneof(fc.integer(), fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n })),
      });
    case 'float':
      return fc.record({ ...base, value: fc.double({ noNaN: true }) });
    case 'string':
      return fc.record({
        ...base,
        value: fc.string({ unit: 'grapheme-ascii', maxLength: 30 }).map((x) => x.replace(/\0+$/, '')),
      });
    case 'utf-8':
      return fc.record({
        ...base,
        value: fc.string({ unit: 'grapheme', maxLength: 30 }).map((x) => x.replace(/\0+$/, '')),
      });
    case 'date':
      return fc.record({ ...base, value: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }) });
    default:
      return fc.record({ ...base, value: fc.uint8Array({ maxLength: 100 }) });
  }
}
const memo = new Map<string, fc.Arbitrary<EncodableNode>>();
function childArb(parentId: number, depth: number): fc.Arbitrary<EncodableNode> | undefined {
  const key = `${parentId}/${depth}`;
  if (memo.has(key)) return memo.get(key);
  const opts: fc.Arbitrary<EncodableNode>[] = [];
  for (const e of ELEMENTS) {
    if (e.parent !== parentId || SKIP.has(e.id)) continue;
    if (e.type !== 'master') opts.push(leafFor(e));
    else if (depth > 0) {
      const c = childArb(e.id, depth - 1);
      opts.push(
        fc.record({
          id: fc.constant(e.id),
          type: fc.constant('master' as const),
          children: c ? fc.array(c, { maxLength: 4 }) : fc.constant([]),
        }),
      );
    } else opts.push(fc.constant({ id: e.id, type: 'master', children: [] }));
  }
  const arb = opts.length ? fc.oneof(...opts) : undefined;
  if (arb) memo.set(key, arb);
  return arb;
}
const SEGMENT = 0x18538067;
const tree = fc
  .array(childArb(SEGMENT, 3)!, { maxLength: 6 })
  .map((children) => ({ id: SEGMENT, type: 'master', children }));

function norm(
  nodes: readonly { id: number; type?: string; value?: unknown; children?: readonly unknown[] | undefined }[],
): unknown[] {
  return nodes.map((n) => {
    if (n.children) return { id: n.id, c: norm(n.children as never) };
    const v = n.value;
    if (v instanceof Uint8Array) return { id: n.id, v: Array.from(v) };
    if (n.type === 'uinteger' || n.type === 'integer' || n.type === 'date')
      return { id: n.id, v: BigInt(v as number | bigint) };
    return { id: n.id, v };
  });
}

t.test('property: arbitrary trees -> encodeTree -> parseTree give the same elements and values', async (t) => {
  let failures = 0;
  fc.assert(
    fc.property(tree, (seg) => {
      const nodes = [seg];
      const bytes = encodeTree(nodes);
      const back = parseTree(bytes);
      const ok =
        back.errors.length === 0 &&
        JSON.stringify(norm(back.elements), (_, x) => (typeof x === 'bigint' ? `${x}n` : x)) ===
          JSON.stringify(norm(nodes), (_, x) => (typeof x === 'bigint' ? `${x}n` : x));
      if (!ok && failures++ === 0) t.comment(JSON.stringify(back.errors.map((e) => e.message)));
      // and the parsed tree re-encodes byte-identically with preserveWidths
      return ok && firstDiff(encodeTree(back.elements, { preserveWidths: true }), bytes) === -1;
    }),
    { numRuns: 300 },
  );
  t.equal(failures, 0);
});
