// One parse-benchmark case, run in its own process so that peak RSS (process.resourceUsage().maxRSS)
// belongs to that case alone. Prints one JSON line on stdout:
//   {case, ok, bytes, frames, frameBytes, seconds, maxRssKiB, note?, error?}
// Usage: node bench/parse-case.mjs <raw|sync|node|node-stream|ebml-stream|walker> FILE [chunkBytes] [passes]
//
// Timing starts before the file is opened and stops when the last frame has been delivered, so it
// covers open + read + parse. Module loading happens before the clock starts.
import { createReadStream, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { DIST, ROOT } from './lib/common.mjs';

const [kind, file, chunkArg, passesArg] = process.argv.slice(2);
const CHUNK = Number(chunkArg ?? 256 * 1024);
// passes > 1: run the case that many times in this process and report the last pass (JIT warm).
const PASSES = Math.max(1, Number(passesArg ?? 1));

function finish(r) {
  // maxRSS is in KiB (getrusage ru_maxrss).
  r.maxRssKiB = process.resourceUsage().maxRSS;
  process.stdout.write(`${JSON.stringify({ case: kind, ok: !r.error, ...r })}\n`);
}

const short = (names) => {
  const s = names.join(', ') || 'none';
  return s.length > 160 ? `${s.slice(0, 160)}...` : s;
};
const now = () => Number(process.hrtime.bigint()) / 1e9;

/** (a) I/O ceiling: read the file in CHUNK-byte chunks, touching nothing but the length. */
async function raw() {
  const t0 = now();
  let bytes = 0;
  await new Promise((res, rej) => {
    createReadStream(file, { highWaterMark: CHUNK })
      .on('data', (c) => {
        bytes += c.length;
      })
      .on('end', res)
      .on('error', rej);
  });
  return { bytes, frames: 0, seconds: now() - t0 };
}

async function loadEbml() {
  // BENCH_EBML_DIST: another build of the package (e.g. a stashed one) to compare against.
  const m = await import(pathToFileURL(process.env.BENCH_EBML_DIST ?? DIST.ebml).href);
  if (typeof m.MatroskaDemuxer === 'function') return m;
  // Not re-exported from the index (yet): use the module directly, and say so in the report.
  try {
    const d = await import(pathToFileURL(DIST.ebml.replace(/index\.js$/, 'matroska/demuxer.js')).href);
    if (typeof d.MatroskaDemuxer === 'function') return { ...d, viaModule: true };
  } catch {
    /* fall through */
  }
  throw new Error(`@mkvserve/ebml does not export MatroskaDemuxer yet (exports: ${short(Object.keys(m))})`);
}

/** (b) our synchronous core: MatroskaDemuxer.push() per chunk of the same read stream. */
async function sync() {
  const { MatroskaDemuxer, viaModule } = await loadEbml();
  let frames = 0;
  let frameBytes = 0;
  let errors = 0;
  let firstError;
  const t0 = now();
  const demuxer = new MatroskaDemuxer({
    onFrame(f) {
      frames++;
      frameBytes += f.data.length;
    },
    onError(e) {
      errors++;
      firstError ??= String(e?.message ?? e);
    },
  });
  // The library's file reader keeps one read in flight while a chunk is parsed (I/O and parsing overlap).
  const m = await loadNode();
  for await (const c of m.readFileChunks(file, { chunkSize: CHUNK })) demuxer.push(c);
  demuxer.end();
  const seconds = now() - t0;
  const notes = [
    viaModule ? 'imported from dist/matroska/demuxer.js (not in the index)' : '',
    firstError ? `first error: ${firstError}` : '',
  ].filter(Boolean);
  return {
    bytes: statSync(file).size,
    frames,
    frameBytes,
    seconds,
    errors,
    ...(notes.length ? { note: notes.join('; ') } : {}),
  };
}

/**
 * (c) the Node adapter of @mkvserve/ebml/node: `demuxFrames(source)` (async generator yielding the frames
 * of each input chunk as an array) given the file path (read with the same chunk size). If the export is renamed, set
 * BENCH_NODE_API=<export>; items may be Frame, Frame[] or {frames: Frame[]}.
 */
const NODE_CANDIDATES = ['demuxFrames', 'demuxBatches', 'demuxFile', 'demuxStream', 'readFrames', 'iterateFrames'];

async function loadNode() {
  try {
    return await import(pathToFileURL(process.env.BENCH_EBML_NODE_DIST ?? DIST.ebmlNode).href);
  } catch (e) {
    throw new Error(`@mkvserve/ebml/node not built/importable yet: ${String(e?.message ?? e).split('\n')[0]}`, {
      cause: e,
    });
  }
}

function countItem(item, acc) {
  if (Array.isArray(item)) {
    for (const f of item) {
      acc.frames++;
      acc.frameBytes += f.data.length;
    }
    return;
  }
  if (item && Array.isArray(item.frames)) {
    countItem(item.frames, acc);
    return;
  }
  if (item && item.data instanceof Uint8Array) {
    acc.frames++;
    acc.frameBytes += item.data.length;
  }
}

async function nodeAdapter() {
  const m = await loadNode();
  const name = process.env.BENCH_NODE_API ?? NODE_CANDIDATES.find((n) => typeof m[n] === 'function');
  if (!name)
    throw new Error(
      `no known frame iterator in @mkvserve/ebml/node (exports: ${short(Object.keys(m))}); set BENCH_NODE_API=<export>`,
    );
  const acc = { frames: 0, frameBytes: 0 };
  const t0 = now();
  let iterable = m[name](file, { highWaterMark: CHUNK }); // a path: the adapter reads it with read-ahead
  if (iterable && typeof iterable.then === 'function') iterable = await iterable;
  if (!iterable || !iterable[Symbol.asyncIterator]) throw new Error(`${name}() did not return an async iterable`);
  for await (const item of iterable) countItem(item, acc);
  return { bytes: statSync(file).size, ...acc, seconds: now() - t0, note: `${name}(path)` };
}

/** (c') the Node Transform stream adapter: ReadStream.pipe(createDemuxStream()), object-mode batches out. */
async function nodeStream() {
  const m = await loadNode();
  if (typeof m.createDemuxStream !== 'function') throw new Error('@mkvserve/ebml/node has no createDemuxStream');
  const acc = { frames: 0, frameBytes: 0 };
  const t0 = now();
  await new Promise((res, rej) => {
    const t = m.createDemuxStream();
    t.on('data', (b) => countItem(b, acc))
      .on('end', res)
      .on('error', rej);
    createReadStream(file, { highWaterMark: CHUNK }).on('error', rej).pipe(t);
  });
  return { bytes: statSync(file).size, ...acc, seconds: now() - t0, note: 'ReadStream.pipe(createDemuxStream())' };
}

/** (d) baseline: ebml-stream 1.0.3's Decoder over the same read stream, counting SimpleBlock/Block tags. */
async function ebmlStream() {
  const require = createRequire(`${ROOT}/package.json`);
  const { EbmlStreamDecoder, EbmlTagId } = require('ebml-stream');
  const SB = EbmlTagId.SimpleBlock;
  const BL = EbmlTagId.Block;
  let frames = 0;
  let frameBytes = 0;
  const t0 = now();
  await new Promise((res, rej) => {
    const dec = new EbmlStreamDecoder();
    dec.on('data', (tag) => {
      if (tag.id === SB || tag.id === BL) {
        frames++;
        frameBytes += tag.payload?.length ?? 0;
      }
    });
    dec.on('end', res);
    dec.on('error', rej);
    createReadStream(file, { highWaterMark: CHUNK }).on('error', rej).pipe(dec);
  });
  return { bytes: statSync(file).size, frames, frameBytes, seconds: now() - t0 };
}

/** (f) yardstick: the minimal synchronous block walker of lib/walker.mjs (no validation, no lacing). */
async function walker() {
  const { RefWalker } = await import('./lib/walker.mjs');
  let frames = 0;
  let frameBytes = 0;
  const t0 = now();
  const w = new RefWalker((b) => {
    frames++;
    frameBytes += b.length;
  });
  await new Promise((res, rej) => {
    createReadStream(file, { highWaterMark: CHUNK })
      .on('data', (c) => w.push(c))
      .on('end', res)
      .on('error', rej);
  });
  w.end();
  return { bytes: statSync(file).size, frames, frameBytes, seconds: now() - t0 };
}

const CASES = { raw, sync, node: nodeAdapter, 'node-stream': nodeStream, 'ebml-stream': ebmlStream, walker };

process.on('uncaughtException', (e) => {
  finish({
    error: `uncaught: ${String(e?.stack ?? e)
      .split('\n')
      .slice(0, 3)
      .join(' | ')}`,
  });
  process.exit(0);
});

try {
  if (!CASES[kind]) throw new Error(`unknown case ${kind}`);
  let r;
  for (let p = 0; p < PASSES; p++) r = await CASES[kind]();
  finish(PASSES > 1 ? { ...r, note: [r.note, `last of ${PASSES} passes`].filter(Boolean).join('; ') } : r);
} catch (e) {
  finish({ error: String(e?.message ?? e).split('\n')[0] });
}
