// Micro-benchmark of the EBML push reader: a synthetic file of 500k tiny SimpleBlocks in Clusters and a
// file of big video-like frames, pushed in 64 KiB chunks. Run after `npx tsc -b packages/ebml`:
//   node bench/reader-micro.mjs
import { EbmlReader } from '../packages/ebml/dist/reader.js';
import { writeId, writeSize, writeUnknownSize } from '../packages/ebml/dist/vint.js';

function build(blocks, blockSize, perCluster) {
  const total = 64 + Math.ceil(blocks / perCluster) * 32 + blocks * (blockSize + 12);
  const buf = new Uint8Array(total);
  let p = 0;
  p = writeId(buf, p, 0x1a45dfa3);
  p = writeSize(buf, p, 4, 1);
  p = writeId(buf, p, 0x4282);
  p = writeSize(buf, p, 1, 1);
  buf[p++] = 0x41; // tiny header
  p = writeId(buf, p, 0x18538067);
  p = writeUnknownSize(buf, p, 8);
  for (let b = 0; b < blocks;) {
    p = writeId(buf, p, 0x1f43b675);
    p = writeUnknownSize(buf, p, 8);
    p = writeId(buf, p, 0xe7);
    p = writeSize(buf, p, 4, 1);
    buf[p + 3] = b & 0xff;
    p += 4;
    for (let k = 0; k < perCluster && b < blocks; k++, b++) {
      p = writeId(buf, p, 0xa3);
      p = writeSize(buf, p, blockSize, blockSize < 127 ? 1 : 4);
      buf[p] = 0x81;
      buf[p + 3] = 0x80;
      p += blockSize;
    }
  }
  return buf.subarray(0, p);
}

function run(name, buf, chunk, rounds) {
  let best = Infinity,
    count = 0;
  for (let r = 0; r < rounds; r++) {
    let n = 0;
    const reader = new EbmlReader({
      onValue(el) {
        if (el.id === 0xa3) n++;
      },
    });
    const t0 = performance.now();
    for (let o = 0; o < buf.length; o += chunk) reader.push(buf.subarray(o, Math.min(buf.length, o + chunk)));
    reader.end();
    const dt = performance.now() - t0;
    if (dt < best) best = dt;
    count = n;
  }
  const s = best / 1000;
  console.log(
    `${name}: ${count} blocks, ${(buf.length / 1e6).toFixed(1)} MB in ${best.toFixed(1)} ms: ` +
      `${(count / s / 1e6).toFixed(2)} M blocks/s, ${(buf.length / 1e6 / s).toFixed(0)} MB/s`,
  );
}

function rawCopy(name, buf, chunk, rounds) {
  // Baseline: what merely receiving the data costs when every chunk is copied once (like a read()).
  let best = Infinity;
  const dst = new Uint8Array(chunk);
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    for (let o = 0; o < buf.length; o += chunk) dst.set(buf.subarray(o, Math.min(buf.length, o + chunk)));
    best = Math.min(best, performance.now() - t0);
  }
  console.log(`${name}: memcpy baseline ${(buf.length / 1e6 / (best / 1000)).toFixed(0)} MB/s`);
}

const tiny = build(500_000, 120, 100);
const big = build(2_000, 100_000, 30);
run('tiny blocks (120 B), 64 KiB chunks', tiny, 65536, 5);
run('tiny blocks (120 B), whole buffer', tiny, tiny.length, 5);
run('big frames (100 KB), 64 KiB chunks', big, 65536, 5);
run('big frames (100 KB), 1 MiB chunks', big, 1 << 20, 5);
rawCopy('big frames', big, 65536, 5);
