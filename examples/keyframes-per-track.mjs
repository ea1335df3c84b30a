#!/usr/bin/env node
// Counts keyframes and frames per track of a live Matroska/WebM URL (or a file), printing a line per
// second until the stream ends or --seconds N have passed. Uses undici for HTTP.
// Usage: node examples/keyframes-per-track.mjs http://127.0.0.1:8080/stream --seconds 10
import { request } from 'undici';
import { MatroskaDemuxer } from '@mkvserve/ebml';
import { createReadStream } from 'node:fs';

const url = process.argv[2];
const secIdx = process.argv.indexOf('--seconds');
const seconds = secIdx > 0 ? Number(process.argv[secIdx + 1]) : Infinity;
if (!url) {
  console.error('usage: node examples/keyframes-per-track.mjs URL|FILE [--seconds N]');
  process.exit(2);
}

const counts = new Map(); // track -> { frames, keyframes }
const demuxer = new MatroskaDemuxer({
  onHeader: (h) => console.log(`tracks: ${h.tracks.map((t) => `${t.number}=${t.codecId}`).join(' ')}`),
  onFrame: (f) => {
    const c = counts.get(f.track) ?? { frames: 0, keyframes: 0 };
    c.frames++;
    if (f.keyframe) c.keyframes++;
    counts.set(f.track, c);
  },
  onError: (e) => console.error(`error: ${e.message}`),
});

const print = () =>
  console.log([...counts].map(([t, c]) => `track ${t}: ${c.keyframes} keyframes / ${c.frames} frames`).join('  |  '));
const timer = setInterval(print, 1000);
const ac = new AbortController();
const stopAt = Number.isFinite(seconds) ? setTimeout(() => ac.abort(), seconds * 1000) : undefined;

try {
  const body = /^https?:/.test(url) ? (await request(url, { signal: ac.signal })).body : createReadStream(url);
  for await (const chunk of body) demuxer.push(chunk);
  demuxer.end();
} catch (err) {
  if (!ac.signal.aborted) throw err;
} finally {
  clearInterval(timer);
  clearTimeout(stopAt);
  print();
}
