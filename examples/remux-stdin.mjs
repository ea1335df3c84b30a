#!/usr/bin/env node
// Remuxes a Matroska/WebM stream from stdin (a pipe, a MediaRecorder upload, ffmpeg -f matroska -) into
// a seekable file with Cues, SeekHead and Duration, with bounded memory whatever the input size.
// Usage: ffmpeg ... -f webm - | node examples/remux-stdin.mjs out.webm
import { remux } from '@mkvserve/ebml/node';

const out = process.argv[2];
if (!out) {
  console.error('usage: node examples/remux-stdin.mjs OUT.mkv < input.mkv');
  process.exit(2);
}

try {
  const r = await remux(process.stdin, out, {
    onError: (e) => console.error(`input damage: ${e.message}`),
  });
  console.error(`wrote ${out}: ${r.frames} frames, ${(r.duration / 1e9).toFixed(2)} s, ${r.bytesOut} bytes`);
} catch (e) {
  console.error(`nothing written: ${e.message}`);
  process.exit(1);
}
