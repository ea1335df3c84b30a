// The programs in examples/ run as they are: each is spawned on a real fixture (and a real local HTTP
// server for the URL example) and its output is checked against the fixture's truth file.
import t from 'tap';
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { readFileSync, mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { demuxAll } from '@mkvserve/ebml/node';

const root = new URL('../..', import.meta.url).pathname;
const fixture = (n: string) => join(root, 'fixtures', n);

function run(args: string[], stdinFile?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, args, { cwd: root, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, stdout, stderr }));
    if (stdinFile) p.stdin.end(readFileSync(stdinFile));
    else p.stdin.end();
  });
}

const truth = (n: string) =>
  JSON.parse(readFileSync(fixture(n + '.truth.json'), 'utf8')) as {
    packets: { stream_index: number; size: string | number }[];
  };

t.test('list-frames prints one line per frame with the truth sizes', async (t) => {
  const r = await run(['examples/list-frames.mjs', fixture('vp9-opus.webm')]);
  t.equal(r.code, 0, r.stderr);
  const lines = r.stdout.split('\n').filter((l) => l.startsWith('track '));
  const pk = truth('vp9-opus.webm').packets;
  t.equal(lines.length, pk.length, 'one line per ffprobe packet');
  const sizes = lines.map((l) => Number(/(\d+) bytes/.exec(l)![1])).sort((a, b) => a - b);
  t.same(
    sizes,
    pk.map((p) => Number(p.size)).sort((a, b) => a - b),
    'same multiset of sizes',
  );
});

t.test('remux-stdin makes a seekable file with the same frames', async (t) => {
  const out = join(mkdtempSync(join(tmpdir(), 'mkvserve-ex-')), 'out.webm');
  const r = await run(['examples/remux-stdin.mjs', out], fixture('pipe-live.webm'));
  t.equal(r.code, 0, r.stderr);
  t.ok(statSync(out).size > 1000);
  const a = await demuxAll(fixture('pipe-live.webm'));
  const b = await demuxAll(out);
  t.equal(b.errors.length, 0, 'output parses cleanly');
  t.equal(b.frames.length, a.frames.length, 'same frame count');
  t.ok(b.cues.length > 0, 'output has Cues');
  t.ok((b.header?.info.duration ?? 0) > 2e9, 'output has a Duration');
  t.equal(b.header?.ebml.docType, 'webm', 'WebM in gives WebM out');
});

t.test('keyframes-per-track reads a live URL', async (t) => {
  const bytes = readFileSync(fixture('h264-aac-bframes.mkv'));
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'video/x-matroska' });
    res.end(bytes);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => server.close());
  const port = (server.address() as AddressInfo).port;
  const r = await run(['examples/keyframes-per-track.mjs', `http://127.0.0.1:${port}/`, '--seconds', '10']);
  t.equal(r.code, 0, r.stderr);
  const pk = truth('h264-aac-bframes.mkv').packets;
  const videoFrames = pk.filter((p) => p.stream_index === 0).length;
  t.match(r.stdout, new RegExp(`track 1: \\d+ keyframes / ${videoFrames} frames`), 'video frame count from the URL');
});
