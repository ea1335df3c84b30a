// Kernel memory per slow client: one viewer reading --rate bytes/s (a slice every 100 ms, with a small
// receive buffer, like a slow link where the data waits on the sender's side) from a fresh
// `mkvserve --loop` serving the load-test WebM. Samples the server socket's kernel queue with ss -tm
// (Send-Q: bytes not yet acknowledged; wmem_queued: memory charged; sndbuf: its limit) until the server
// drops the viewer or --seconds pass. The slow-client policy only sees what Node could not hand to the
// kernel: everything in these queues is invisible to it.
//
// --configs runs several kernel settings in one go, each in a private network namespace
// (`unshare -n`, root only; loopback up, the sysctls set there only, nothing changes for the rest of
// the machine): e.g.
//   node bench/slow-client.mjs --configs "default;net.ipv4.tcp_notsent_lowat=131072;net.ipv4.tcp_wmem=4096 16384 1048576"
// Results: bench/.work/slow-client-results.md (+ .json).
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WORK, ensureWork, fmt, log, machineNote, mdTable, parseArgs, which } from './lib/common.mjs';
import { inputLoad, probe } from './lib/inputs.mjs';
import {
  compileClient,
  freePort,
  mkvserveArgv,
  runClient,
  socketMem,
  spawnServer,
  stopProcess,
  waitReady,
} from './lib/servers.mjs';

export const SLOW_DEFAULTS = {
  seconds: 40,
  rate: 10000,
  rcvbuf: 16384,
  configs: 'default',
  loadSeconds: 90,
  path: '/stream',
  nofile: 65536,
  serverCore: 0,
  clientCore: 1,
  mkvserveCli: '',
  mkvserveArgs: '',
  mount: '',
  inner: '',
};

/** Runs one slow viewer against a fresh mkvserve in this process's network namespace. */
export async function measureSlowClient(o, { bin, file, pin }) {
  const port = await freePort();
  const s = spawnServer(o, mkvserveArgv(o, port, file), o.serverCore, pin);
  const info = await probe(file);
  const bitrate = (info.size * 8) / info.duration;
  try {
    const ready = await waitReady({ ...s, port }, o.path);
    if (!ready.ok) return { error: ready.why };
    const series = [];
    let max = { sendQ: 0, wmemQueued: 0, sndbuf: 0 };
    const t0 = performance.now();
    const timer = setInterval(() => {
      const srv = socketMem(port, 'server');
      const cli = socketMem(port, 'client');
      const x = {
        t: (performance.now() - t0) / 1000,
        sendQ: srv.reduce((a, v) => Math.max(a, v.sendQ), 0),
        wmemQueued: srv.reduce((a, v) => Math.max(a, v.wmemQueued || 0), 0),
        sndbuf: srv.reduce((a, v) => Math.max(a, v.sndbuf || 0), 0),
        clientRecvQ: cli[0]?.recvQ ?? 0,
      };
      max = {
        sendQ: Math.max(max.sendQ, x.sendQ),
        wmemQueued: Math.max(max.wmemQueued, x.wmemQueued),
        sndbuf: Math.max(max.sndbuf, x.sndbuf),
      };
      series.push(x);
    }, 250);
    const r = await runClient(
      bin,
      ['-p', String(port), '-u', o.path, '-S', String(o.rate), '-R', String(o.rcvbuf), '-D', String(o.seconds)],
      pin,
      o.clientCore,
      {},
      (o.seconds + 30) * 1000,
    );
    clearInterval(timer);
    // When the server let go of the socket: the first sample where it is gone from ss.
    const last = series.findLastIndex((x) => x.sendQ > 0 || x.sndbuf > 0);
    const goneAtS = last >= 0 && last < series.length - 1 ? series[last + 1].t : NaN;
    return { client: r, max, series, bitrate, goneAtS };
  } finally {
    await stopProcess(s);
  }
}

function sysctlsOf(config) {
  if (config === 'default') return [];
  return config
    .split(',')
    .map((kv) => kv.trim())
    .filter(Boolean);
}

/** Runs one config: in this namespace ('default'), or re-executes itself in a private one. */
async function runConfig(o, config, ctx) {
  const sysctls = sysctlsOf(config);
  if (sysctls.length === 0) return measureSlowClient(o, ctx);
  if (!which('unshare') || process.getuid?.() !== 0) return { error: 'needs root and unshare for a private netns' };
  const args = process.argv.slice(2).filter((a, i, all) => a !== '--configs' && all[i - 1] !== '--configs');
  const script = [
    'ip link set lo up',
    ...sysctls.map((kv) => {
      const [k, v] = kv.split('=');
      return `echo '${v}' > /proc/sys/${k.replace(/\./g, '/')}`;
    }),
    `exec "${process.execPath}" "${fileURLToPath(import.meta.url)}" ${args.map((a) => `'${a}'`).join(' ')} --inner yes`,
  ].join(' && ');
  return new Promise((res) => {
    const child = spawn('unshare', ['-n', 'bash', '-c', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (out += d));
    child.on('close', (code) => {
      try {
        res(JSON.parse(out.trim().split('\n').pop()));
      } catch {
        res({ error: `inner run exited ${code}: ${out.slice(-300)}` });
      }
    });
  });
}

export async function runSlowBench(o) {
  ensureWork();
  const cores = Number(spawnSync('nproc', { encoding: 'utf8' }).stdout.trim()) || 1;
  const pin = !!which('taskset') && cores >= 2;
  const ctx = { bin: compileClient(), file: await inputLoad(o.loadSeconds), pin };
  if (o.inner) {
    process.stdout.write(`${JSON.stringify(await measureSlowClient(o, ctx))}\n`);
    return '';
  }
  const configs = o.configs
    .split(';')
    .map((c) => c.trim())
    .filter(Boolean);
  const results = [];
  for (const config of configs) {
    log(`slow client: ${config}, reading ${o.rate} B/s for up to ${o.seconds} s`);
    const r = await runConfig(o, config, ctx);
    results.push({ config, ...r });
    if (r.error) log(`  ${r.error}`);
    else
      log(
        `  max Send-Q ${fmt(r.max.sendQ / 1024, 0)} KiB, wmem ${fmt(r.max.wmemQueued / 1024, 0)} KiB, sndbuf ${fmt(r.max.sndbuf / 1024, 0)} KiB, ${r.client.closed} after ${fmt(r.client.closedAtS, 1)} s`,
      );
  }
  const md = [
    '# Kernel memory per slow client',
    '',
    `Run ${new Date().toISOString()} (${machineNote()}). mkvserve --loop on the load-test WebM; one viewer reading ${o.rate} B/s with a ${o.rcvbuf}-byte receive buffer, for up to ${o.seconds} s. Kernel settings other than "default" were set in a private network namespace.`,
    '',
    mdTable(
      [
        'kernel settings',
        'max Send-Q KiB',
        'max wmem_queued KiB',
        'max sndbuf KiB',
        'server let go after',
        'viewer read KiB',
        'viewer saw',
      ],
      results.map((r) =>
        r.error
          ? [r.config, 'n/a', '', '', '', '', r.error]
          : [
              r.config,
              fmt(r.max.sendQ / 1024, 0),
              fmt(r.max.wmemQueued / 1024, 0),
              fmt(r.max.sndbuf / 1024, 0),
              Number.isNaN(r.goneAtS) ? `still held at ${o.seconds} s` : `${fmt(r.goneAtS, 1)} s`,
              fmt(r.client.bytes / 1024, 0),
              r.client.closed === 'open' ? 'still open' : `${r.client.closed} at ${fmt(r.client.closedAtS, 1)} s`,
            ],
      ),
    ),
    '',
  ].join('\n');
  writeFileSync(join(WORK, 'slow-client-results.md'), md);
  writeFileSync(join(WORK, 'slow-client-results.json'), JSON.stringify({ options: o, results }, null, 2));
  return md;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const o = parseArgs(process.argv.slice(2), { defaults: { ...SLOW_DEFAULTS } });
  runSlowBench(o).then(
    (md) => md && process.stdout.write(`${md}\n`),
    (e) => {
      console.error(e);
      process.exitCode = 1;
    },
  );
}
