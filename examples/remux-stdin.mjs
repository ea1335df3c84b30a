#!/usr/bin/env node
// Remuxes a Matroska/WebM stream from stdin (a pipe, a MediaRecorder upload, ffmpeg -f matroska -) into
// a seekable file with Cues, SeekHead and Duration. Usage: ffmpeg ... -f webm - | node examples/remux-stdin.mjs out.webm
import { demuxBatches, MatroskaFileSink, MatroskaMuxer } from '@mkvserve/ebml/node';

const out = process.argv[2];
if (!out) {
  console.error('usage: node examples/remux-stdin.mjs OUT.mkv < input.mkv');
  process.exit(2);
}

let muxer;
let sink;
let frames = 0;
for await (const batch of demuxBatches(process.stdin)) {
  for (const e of batch.errors) console.error(`input damage: ${e.message}`);
  if (batch.header && !muxer) {
    sink = await MatroskaFileSink.open(out);
    muxer = new MatroskaMuxer(batch.header, { live: false });
    for (const c of muxer.start()) await sink.write(c);
  }
  if (!muxer) continue;
  for (const f of batch.frames) {
    for (const c of muxer.addFrame(f)) await sink.write(c);
    frames++;
  }
}
if (!muxer) {
  console.error('no Matroska header found on stdin');
  process.exit(1);
}
const done = muxer.finish();
for (const c of done.chunks) await sink.write(c);
await sink.applyPatches(done.patches);
await sink.close();
console.error(`wrote ${out}: ${frames} frames, ${(done.duration / 1e9).toFixed(2)} s, ${done.size} bytes`);
