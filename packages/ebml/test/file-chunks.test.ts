// readFileChunks: the read-ahead file reader under the Node adapters yields exactly the file's bytes,
// in chunks of the asked size, each in its own memory (frames that are views stay valid), and closes
// its handle when the consumer stops early.
import t from 'tap';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readFileChunks } from '../src/node/file-chunks.js';

const dir = mkdtempSync(join(tmpdir(), 'mkvserve-chunks-'));
const file = join(dir, 'data.bin');
const data = new Uint8Array(1_000_003).map((_, i) => (i * 7 + (i >> 8)) & 0xff);
writeFileSync(file, data);

t.test('yields every byte in order, chunkSize at a time', async (t) => {
  const chunks: Uint8Array[] = [];
  for await (const c of readFileChunks(file, { chunkSize: 65536 })) chunks.push(c);
  t.equal(chunks.length, Math.ceil(data.length / 65536));
  t.ok(
    chunks.slice(0, -1).every((c) => c.length === 65536),
    'full chunks but the last',
  );
  const all = new Uint8Array(data.length);
  let o = 0;
  for (const c of chunks) {
    all.set(c, o);
    o += c.length;
  }
  t.equal(o, data.length);
  t.same(Buffer.from(all).equals(Buffer.from(data)), true, 'same bytes');
  t.not(chunks[0].buffer, chunks[1].buffer, 'each chunk owns its memory');
  t.equal(chunks[0].constructor, Uint8Array, 'plain Uint8Array views');
});

t.test('start offset and an empty file', async (t) => {
  const got: number[] = [];
  for await (const c of readFileChunks(file, { chunkSize: 1 << 20, start: data.length - 10 })) got.push(...c);
  t.same(got, [...data.subarray(data.length - 10)]);
  const empty = join(dir, 'empty.bin');
  writeFileSync(empty, new Uint8Array(0));
  let n = 0;
  for await (const _ of readFileChunks(empty)) n++;
  t.equal(n, 0);
});

t.test('stopping early closes the file (no leaked handles) and a missing file rejects', async (t) => {
  for (let i = 0; i < 50; i++) {
    for await (const c of readFileChunks(file, { chunkSize: 4096 })) {
      t.equal(c.length, 4096);
      break;
    }
  }
  t.pass('50 early stops');
  await t.rejects(
    async () => {
      for await (const _ of readFileChunks(join(dir, 'nope.bin'))) {
        /* none */
      }
    },
    { code: 'ENOENT' },
  );
  t.equal(readFileSync(file).length, data.length);
});
