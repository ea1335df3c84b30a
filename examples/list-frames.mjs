#!/usr/bin/env node
// Lists the frames of a Matroska/WebM file (or stdin with "-"): track, timestamp, keyframe, size.
// Usage: node examples/list-frames.mjs fixtures/vp9-opus.webm
import { demuxBatches } from '@mkvserve/ebml/node';

// Exit quietly when the reader of our output goes away (e.g. `| head`).
process.stdout.on('error', (err) => process.exit(err.code === 'EPIPE' ? 0 : 1));

const input = process.argv[2] ?? '-';
const source = input === '-' ? process.stdin : input;

for await (const batch of demuxBatches(source)) {
  if (batch.header) {
    for (const t of batch.header.tracks) console.log(`# track ${t.number}: ${t.kind} ${t.codecId}`);
  }
  for (const f of batch.frames) {
    console.log(
      `track ${f.track}  ${(f.timestamp / 1e6).toFixed(3).padStart(10)} ms  ${f.keyframe ? 'K' : '-'}  ${f.data.length} bytes`,
    );
  }
  for (const e of batch.errors) console.error(`error: ${e.message}`);
}
