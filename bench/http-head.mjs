// Request-head parsing cost (issue 8 item 24: heads re-parsed from the start on every byte). Two parts,
// each with a baseline measured in the same run:
// 1. micro: one 16,000-byte head parsed whole, then pushed one byte at a time into a HeadReader, and
//    (baseline) the old way: Buffer.concat of what came so far + a parse from the start on every byte;
// 2. sockets: a real MkvServer in a child process, 40 connections each sending a 16,000-byte head in
//    100-byte writes (160 pieces), and one byte per write (refused after MAX_HEAD_READS = 256 reads),
//    versus the same heads sent in one write each (baseline); server CPU from /proc/<pid>/stat.
// Run after `pnpm install` (or `npx tsc -b packages/server`):   node bench/http-head.mjs [--conns 40]
// [--server-dist DIR]: the server build the socket part runs (default packages/server/dist), e.g. an
// older build copied beside it, to compare builds in one run.
import net from 'node:net';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { HeadReader, parseRequestHead } from '../packages/server/dist/http/parser.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const arg = (name) => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : undefined);
const conns = Number(arg('--conns')) || 40;
const serverDist = arg('--server-dist') ?? `${ROOT}packages/server/dist`;
const HEAD = Buffer.from(`GET / HTTP/1.1\r\nHost: x\r\nX-Pad: ${'a'.repeat(16_000 - 40)}\r\n\r\n`);

function time(fn, reps) {
  fn();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < reps; i++) fn();
  return Number(process.hrtime.bigint() - t0) / 1e6 / reps;
}

const whole = time(() => parseRequestHead(HEAD), 200);
const drip = time(() => {
  const r = new HeadReader(undefined, Infinity);
  for (let i = 0; i < HEAD.length; i++) if (r.push(HEAD.subarray(i, i + 1)).kind !== 'incomplete') return;
}, 20);
const old = time(() => {
  let buf = Buffer.alloc(0);
  for (let i = 0; i < HEAD.length; i++) {
    buf = Buffer.concat([buf, HEAD.subarray(i, i + 1)]);
    if (parseRequestHead(buf).kind !== 'incomplete') return;
  }
}, 2);

function cpuMs(pid) {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / 100; // utime + stime, 100 Hz ticks
}

async function socketRun(port, pid, piece, expect) {
  const before = cpuMs(pid);
  await Promise.all(
    Array.from(
      { length: conns },
      () =>
        new Promise((resolve, reject) => {
          const c = net.connect(port, '127.0.0.1');
          c.setNoDelay(true);
          let got = '';
          c.on('data', (d) => (got += d.toString('latin1', 0, 12)));
          c.on('close', () =>
            got.startsWith(`HTTP/1.1 ${expect}`) ? resolve() : reject(new Error(got || 'no answer')),
          );
          c.on('error', (e) => (got ? undefined : reject(e)));
          c.on('connect', async () => {
            for (let i = 0; i < HEAD.length && got === '' && !c.destroyed; i += piece) {
              c.write(HEAD.subarray(i, i + piece));
              if (piece < HEAD.length) await new Promise((r) => setImmediate(r));
            }
          });
        }),
    ),
  );
  await new Promise((r) => setTimeout(r, 200));
  return cpuMs(pid) - before;
}

const code = `
  const { MkvServer } = await import(process.argv[1]);
  const s = new MkvServer({ port: 0, headTimeoutMs: 120000, mounts: [{ name: 'stream', input: process.argv[2], loop: true }] });
  await s.start();
  process.stdout.write(JSON.stringify({ port: s.port }) + '\\n');
  process.stdin.on('end', () => process.exit(0));
  process.stdin.resume();`;
const child = spawn(
  process.execPath,
  ['--input-type=module', '-e', code, `${serverDist}/index.js`, `${ROOT}fixtures/vp9-opus.webm`],
  { stdio: ['pipe', 'pipe', 'inherit'] },
);
const port = await new Promise((resolve) => {
  let out = '';
  child.stdout.on('data', (d) => {
    out += d;
    const m = /"port":(\d+)/.exec(out);
    if (m) resolve(Number(m[1]));
  });
});
await new Promise((r) => setTimeout(r, 500));
const sockWhole = await socketRun(port, child.pid, HEAD.length, 200);
const sockPieces = await socketRun(port, child.pid, 100, 200);
const dripStatus = Number(arg('--drip-status') ?? 400);
const sockDrip = await socketRun(port, child.pid, 1, dripStatus);
child.stdin.end();

const f = (x) => x.toFixed(3);
console.log(
  `# http-head benchmark — ${new Date().toISOString()}, Node ${process.version}, ${cpus().length} cores (${cpus()[0]?.model})`,
);
console.log(`head: ${HEAD.length} bytes`);
console.log(
  `micro (per head): whole ${f(whole)} ms | 1 byte per push ${f(drip)} ms (${(drip / whole).toFixed(1)}x whole)`,
);
console.log(
  `                  old way, concat + re-parse per byte ${f(old)} ms (${(old / drip).toFixed(0)}x the incremental reader)`,
);
console.log(`server: ${serverDist}`);
console.log(`sockets, ${conns} connections, server CPU: whole heads ${sockWhole.toFixed(0)} ms (baseline)`);
console.log(
  `  100-byte writes (served): ${sockPieces.toFixed(0)} ms (${(sockPieces / Math.max(1, sockWhole)).toFixed(1)}x baseline)`,
);
console.log(
  `  1-byte writes (${dripStatus === 400 ? '400 after 256 reads' : `answered ${dripStatus}`}): ${sockDrip.toFixed(0)} ms (${(sockDrip / Math.max(1, sockWhole)).toFixed(1)}x baseline)`,
);
console.log('  beyond parsing, every read costs the event loop a few us: that is what the read limit bounds');
