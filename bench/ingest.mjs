#!/usr/bin/env node
// Ingest benchmark: what it costs the server to take a stream pushed to it (HTTP PUT chunked, HTTP PUT
// with Content-Length, plain TCP) against reading the same bytes from a file input, in the same run.
// The server runs in this process (process.cpuUsage() is its CPU); the senders (curl, a small node pipe)
// are child processes whose CPU is not counted. No pacing (realtime: false) and no viewer: the figure is
// the ingest path (socket -> body decoding -> sniff -> demuxer -> fanout clustering), not the serving.
// Not a test: it reports, never fails. Run after `pnpm install` (it imports packages/*/dist):
//   node bench/ingest.mjs [--seconds 60] [--reps 3]
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, statSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const { MkvServer } = await import(join(ROOT, 'packages/server/dist/index.js'));

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const SECONDS = opt('seconds', 60);
const REPS = opt('reps', 3);
const TOKEN = 'bench-token';

const work = join(ROOT, 'bench/.work');
mkdirSync(work, { recursive: true });
const input = join(work, `INGEST-mpeg4-opus-${SECONDS}s.mkv`);
if (!existsSync(input)) {
  process.stderr.write(`generating ${input} (640x360 MPEG-4 with noise + Opus, ${SECONDS} s)...\n`);
  const tmp = `${input}.partial`;
  const r = spawnSync(
    'ffmpeg',
    [
      ...['-nostdin', '-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=25'],
      ...['-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000', '-t', String(SECONDS)],
      ...['-vf', 'noise=alls=20:allf=t', '-c:v', 'mpeg4', '-q:v', '5', '-g', '25', '-c:a', 'libopus'],
      ...['-f', 'matroska', tmp],
    ],
    { stdio: 'inherit' },
  );
  if (r.status !== 0) throw new Error('ffmpeg failed');
  renameSync(tmp, input);
}
const bytes = statSync(input).size;

function child(cmd, argv) {
  const p = spawn(cmd, argv, { stdio: ['ignore', 'ignore', 'inherit'] });
  return new Promise((resolve) => p.on('exit', (code) => resolve(code)));
}

/** One case: a fresh server, the input delivered once, CPU and wall time until every frame is in. */
async function runCase(kind) {
  const mount =
    kind === 'file'
      ? { name: 'm', input, realtime: false }
      : kind === 'tcp'
        ? { name: 'm', input: 'tcp://127.0.0.1:0?listen', realtime: false, sourceIdleTimeoutMs: 100 }
        : { name: 'm', input: 'push', token: TOKEN, realtime: false, sourceIdleTimeoutMs: 100 };
  const server = new MkvServer({ port: 0, checkIntervalMs: 50, keepAlive: true, mounts: [mount] });
  const m = server.mounts.get('m');
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await server.start();
  let send;
  if (kind === 'push-chunked')
    send = child('sh', [
      '-c',
      `curl -sS -f -H 'Authorization: Bearer ${TOKEN}' -T - http://127.0.0.1:${server.port}/m < ${input}`,
    ]);
  else if (kind === 'push-length')
    send = child('curl', [
      '-sS',
      '-f',
      '-o',
      '/dev/null',
      '-H',
      `Authorization: Bearer ${TOKEN}`,
      '-T',
      input,
      `http://127.0.0.1:${server.port}/m`,
    ]);
  else if (kind === 'tcp') {
    while (m.ingest.tcpPort === undefined) await new Promise((r) => setTimeout(r, 5));
    const code = `const s=require('net').connect(${m.ingest.tcpPort},'127.0.0.1',()=>require('fs').createReadStream(${JSON.stringify(input)}).pipe(s))`;
    send = child(process.execPath, ['-e', code]);
  }
  // Done when the input's bytes are all in and the pass is over (file: input ended; ingest: source gone).
  for (;;) {
    const st = m.source.state;
    if (kind === 'file' ? m.inputEnded : m.source.bytesIn >= bytes && st === 'waiting') break;
    await new Promise((r) => setTimeout(r, 2));
  }
  const wall = performance.now() - t0;
  const cpu = process.cpuUsage(c0);
  const frames = m.source.frames;
  await send;
  await server.stop(0);
  return { wall, cpuMs: (cpu.user + cpu.system) / 1000, frames };
}

const CASES = ['file', 'push-chunked', 'push-length', 'tcp'];
const results = Object.fromEntries(CASES.map((c) => [c, []]));
for (let r = 0; r < REPS; r++) for (const c of CASES) results[c].push(await runCase(c));
const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const base = median(results.file.map((x) => x.cpuMs));
const mb = bytes / 1e6;
console.log(
  `ingest benchmark: ${mb.toFixed(0)} MB (${SECONDS} s of ~${((bytes * 8) / SECONDS / 1e6).toFixed(0)} Mbit/s), ${REPS} reps (median), no pacing, no viewer`,
);
console.log(
  `machine: ${cpus().length} x ${cpus()[0]?.model ?? '?'}, load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}, node ${process.version}`,
);
console.log('| input | frames | wall s | server CPU s | CPU ms per 100 MB | MB/s | CPU vs file input |');
console.log('|---|---|---|---|---|---|---|');
for (const c of CASES) {
  const cpu = median(results[c].map((x) => x.cpuMs));
  const wall = median(results[c].map((x) => x.wall));
  console.log(
    `| ${c} | ${results[c][0].frames} | ${(wall / 1000).toFixed(2)} | ${(cpu / 1000).toFixed(2)} | ${((cpu / mb) * 100).toFixed(0)} | ${(mb / (wall / 1000)).toFixed(0)} | ${(cpu / base).toFixed(2)}x |`,
  );
}
