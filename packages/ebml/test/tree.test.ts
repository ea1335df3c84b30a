// parseTree: tree shape, exact offsets/headerSize/size, errors collected, chunk iterables, and every
// fixture read with zero errors and plausible Cluster/block counts.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseTree, type ElementNode } from '../src/tree.js';
import { Id } from '../src/schema.generated.js';
import { writeId, writeSize, writeUnknownSize } from '../src/vint.js';
import { fixtureFilesIfAny, fixturesDir, loadView } from '../testlib/build.js';

function walk(nodes: ElementNode[], f: (n: ElementNode) => void): void {
  const stack = [...nodes].reverse();
  while (stack.length) {
    const n = stack.pop()!;
    f(n);
    if (n.children) for (let i = n.children.length - 1; i >= 0; i--) stack.push(n.children[i]);
  }
}

t.test('hand-built document', async (t) => {
  // EBML{DocType "webm"} Segment(unknown, 8-byte marker){ Cluster(size in 2 bytes){ Timestamp 5, SimpleBlock } }
  const b = new Uint8Array(64);
  let p = writeId(b, 0, Id.EBML);
  p = writeSize(b, p, 7, 1);
  p = writeId(b, p, Id.DocType);
  p = writeSize(b, p, 4, 1);
  b.set([0x77, 0x65, 0x62, 0x6d], p);
  p += 4;
  const segAt = p;
  p = writeId(b, p, Id.Segment);
  p = writeUnknownSize(b, p, 8);
  const clAt = p;
  p = writeId(b, p, Id.Cluster);
  p = writeSize(b, p, 9, 2);
  p = writeId(b, p, Id.Timestamp);
  p = writeSize(b, p, 1, 1);
  b[p++] = 5;
  p = writeId(b, p, 0xa3);
  p = writeSize(b, p, 4, 1);
  b.set([0x81, 0, 0, 0x80], p);
  p += 4;
  const doc = b.subarray(0, p);
  const { elements, errors } = parseTree(doc);
  t.same(errors, []);
  t.same(
    elements.map((e) => [e.name, e.offset, e.headerSize, e.size]),
    [
      ['EBML', 0, 5, 7],
      ['Segment', segAt, 12, -1],
    ],
  );
  t.same(
    elements[0].children!.map((c) => [c.name, c.type, c.value]),
    [['DocType', 'string', 'webm']],
  );
  const cl = elements[1].children![0];
  t.same([cl.name, cl.offset, cl.headerSize, cl.size], ['Cluster', clAt, 6, 9]);
  t.same(
    cl.children!.map((c) => [c.name, c.headerSize, c.size]),
    [
      ['Timestamp', 2, 1],
      ['SimpleBlock', 2, 4],
    ],
  );
  t.equal(cl.children![0].value, 5);
  // same tree from 1-byte chunks
  const chunks = Array.from(doc, (_, i) => doc.subarray(i, i + 1));
  t.same(
    JSON.stringify(parseTree(chunks).elements, (_k, v) => (v instanceof Uint8Array ? [...v] : v)),
    JSON.stringify(elements, (_k, v) => (v instanceof Uint8Array ? [...v] : v)),
  );
  // truncated: error collected, node marked damaged
  const cut = parseTree(doc.subarray(0, doc.length - 2));
  t.same(
    cut.errors.map((e) => e.code),
    ['TRUNCATED'],
  );
  t.equal(cut.elements[1].children![0].damaged, true);
});

t.test('fixtures: zero errors, plausible counts, exact geometry', async (t) => {
  const files = fixtureFilesIfAny();
  if (!files.length) return t.skip('no fixtures yet', () => {});
  for (const f of files) {
    const buf = loadView(f);
    const { elements, errors } = parseTree(buf, { verifyCrc: true });
    t.same(
      errors.map((e) => e.message),
      [],
      `${f}: no errors`,
    );
    let clusters = 0;
    let blocks = 0;
    let geometryOk = true;
    walk(elements, (n) => {
      if (n.name === 'Cluster') clusters++;
      if (n.name === 'SimpleBlock' || n.name === 'BlockGroup') blocks++;
      if (n.children && n.size >= 0) {
        // children tile the parent's data exactly
        let at = n.offset + n.headerSize;
        for (const c of n.children) {
          if (c.offset !== at) geometryOk = false;
          at = c.offset + c.headerSize + Math.max(0, c.size);
        }
        if (at !== n.offset + n.headerSize + n.size) geometryOk = false;
      }
    });
    t.ok(geometryOk, `${f}: children tile their parents`);
    const last = elements.at(-1)!;
    t.equal(
      last.size >= 0 ? last.offset + last.headerSize + last.size : buf.length,
      buf.length,
      `${f}: top level covers the file`,
    );
    let packets = 0;
    try {
      packets = JSON.parse(readFileSync(join(fixturesDir, f + '.truth.json'), 'utf8')).packets.length;
    } catch {
      // no truth file: the block count is checked against the cluster count only
    }
    t.ok(clusters >= 1, `${f}: ${clusters} Clusters`);
    t.ok(
      blocks >= 1 && (!packets || (blocks <= packets && blocks >= packets / 16)),
      `${f}: ${blocks} blocks for ${packets} packets`,
    );
  }
});
