// Load benchmark: `mkvserve --loop` serving a ~2 Mbit/s WebM (VP8 720p30 + Opus, 2 s GOP) on loopback,
// the server pinned to core 0 and the C epoll client (bench/loadclient.c) pinned to core 1.
// For each client count N: clients keeping up with the stream, server CPU (% of its core, and per
// Gbit/s sent), server RSS (and growth per client), time to first byte. Then a connect/close cycles check
// (RSS and open fds of the server before/after). Every step is bounded in time; servers are killed at the end.
// Usage: node bench/load.mjs [--quick] [--clients 100,1000,2000,5000] [--window 30] [--warmup 10]
//                            [--cycles 10000] [--self-test] [--path /stream] [--mount /stream]
import { spawn, spawnSync } from 'node:child_process';
import { statSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import {
  BENCH_DIR,
  CLI,
  WORK,
  applyDefaults,
  coreBusyPct,
  coreTimes,
  ensureWork,
  exists,
  fmt,
  log,
  machineNote,
  mdTable,
  parseArgs,
  procCpuSeconds,
  procFdCount,
  procMem,
  which,
} from './lib/common.mjs';
import { inputLoad, probe } from './lib/inputs.mjs';

export const LOAD_DEFAULTS = {
  clients: '100,1000,2000,5000',
  window: 30,
  warmup: 10,
  cycles: 10000,
  cycleConcurrency: 50,
  loadSeconds: 90,
  path: '/stream',
  mount: '',
  connectRate: 2000,
  connectTimeout: 60,
  keep: 0.9,
  tick: 40,
  nofile: 65536,
  serverCore: 0,
  clientCore: 1,
};
export const LOAD_QUICK = { clients: '100,500', window: 5, warmup: 3, cycles: 1000, loadSeconds: 20 };

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.unref();
    s.on('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

function compileClient() {
  const src = join(BENCH_DIR, 'loadclient.c');
  const bin = join(WORK, 'loadclient');
  if (exists(bin) && statSync(bin).mtimeMs >= statSync(src).mtimeMs) return bin;
  const cc = which('cc') ?? which('gcc');
  if (!cc) throw new Error('a C compiler (cc) is needed for the load client');
  const r = spawnSync(cc, ['-O2', '-Wall', '-o', bin, src], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`compiling loadclient.c failed:\n${r.stderr}`);
  return bin;
}

function pinned(core, argv, pin) {
  // taskset + exec keep the PID: the returned child's pid is the server/client process itself.
  return pin ? ['taskset', ['-c', String(core), ...argv]] : [argv[0], argv.slice(1)];
}

/** Starts the server under test; resolves {child, pid, port, stderrTail()}. */
async function startServer(o, file, bitrate, pin) {
  const port = await freePort();
  const server = o.selfTest
    ? [
        process.execPath,
        join(BENCH_DIR, 'selftest-server.mjs'),
        '--port',
        String(port),
        '--bitrate',
        String(Math.round(bitrate)),
        '--tick',
        String(o.tick),
        file,
      ]
    : [
        process.execPath,
        CLI,
        '--loop',
        '--port',
        String(port),
        '--host',
        '127.0.0.1',
        '--quiet',
        ...(o.mount ? ['--mount', o.mount] : []),
        file,
      ];
  const script = `ulimit -n ${o.nofile} 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec "$@"`;
  const [cmd, args] = pinned(o.serverCore, ['bash', '-c', script, 'bash', ...server], pin);
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let tail = '';
  const keep = (d) => {
    tail = (tail + d).slice(-4000);
  };
  child.stdout.setEncoding('utf8').on('data', keep);
  child.stderr.setEncoding('utf8').on('data', keep);
  let exited = null;
  child.on('exit', (code, sig) => {
    exited = { code, sig };
  });
  return { child, pid: child.pid, port, tail: () => tail, exited: () => exited };
}

async function stopServer(s) {
  if (!s || s.exited()) return;
  s.child.kill('SIGTERM');
  for (let i = 0; i < 30 && !s.exited(); i++) await sleep(100);
  if (!s.exited()) {
    s.child.kill('SIGKILL');
    for (let i = 0; i < 20 && !s.exited(); i++) await sleep(100);
  }
}

/** One GET: resolves {status, bytes, ms} after `minBytes` bytes (or an error), within timeoutMs. */
function probeGet(port, path, { minBytes = 2048, timeoutMs = 5000 } = {}) {
  return new Promise((res) => {
    const t0 = performance.now();
    let buf = Buffer.alloc(0);
    let done = false;
    let firstMs;
    const sock = connect({ host: '127.0.0.1', port });
    const finish = (r) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      res({ ...r, ms: performance.now() - t0, firstMs });
    };
    const timer = setTimeout(() => finish({ error: `timeout after ${buf.length} bytes` }), timeoutMs);
    sock.on('connect', () => sock.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`));
    sock.on('data', (d) => {
      firstMs ??= performance.now() - t0;
      buf = Buffer.concat([buf, d]);
      const m = buf.toString('latin1', 0, Math.min(buf.length, 64)).match(/^HTTP\/1\.[01] (\d{3})/);
      if (m && m[1] !== '200')
        finish({ status: Number(m[1]), bytes: buf.length, head: buf.toString('latin1', 0, 200) });
      else if (buf.length >= minBytes) finish({ status: m ? 200 : 0, bytes: buf.length });
    });
    sock.on('error', (e) => finish({ error: e.code ?? String(e) }));
    sock.on('close', () => finish({ error: `closed after ${buf.length} bytes`, status: 0 }));
  });
}

async function waitReady(s, path, timeoutMs = 20000) {
  const t0 = Date.now();
  let last;
  while (Date.now() - t0 < timeoutMs) {
    if (s.exited())
      return {
        ok: false,
        why: `server exited (${JSON.stringify(s.exited())}): ${s.tail().trim().split('\n').slice(-3).join(' | ')}`,
      };
    last = await probeGet(s.port, path, { timeoutMs: 3000 });
    if (last.status === 200) return { ok: true };
    if (last.status && last.status !== 200)
      return { ok: false, why: `GET ${path} answered ${last.status}: ${JSON.stringify(last.head?.split('\r\n')[0])}` };
    await sleep(300);
  }
  return { ok: false, why: `not serving within ${timeoutMs / 1000} s (last: ${last?.error ?? JSON.stringify(last)})` };
}

/** Runs the C client; calls hooks on its WINDOW_START/WINDOW_END lines; resolves its JSON. */
function runClient(bin, args, pin, core, hooks, hardMs) {
  return new Promise((res) => {
    const [cmd, a] = pinned(core, [bin, ...args], pin);
    const child = spawn(cmd, a, { stdio: ['ignore', 'pipe', 'pipe'] });
    let result = null;
    let err = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
    }, hardMs);
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (line.startsWith('WINDOW_START')) hooks.start?.();
      else if (line.startsWith('WINDOW_END')) hooks.end?.();
      else if (line.startsWith('CONNECTED')) hooks.connected?.(line);
      else if (line.startsWith('{')) {
        try {
          result = JSON.parse(line);
        } catch {
          err += line;
        }
      }
    });
    child.stderr.setEncoding('utf8').on('data', (d) => {
      err = (err + d).slice(-2000);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      res(result ?? { error: `client exit ${code}: ${err.trim()}` });
    });
  });
}

async function measureN(o, bin, file, bitrate, n, pin) {
  const s = await startServer(o, file, bitrate, pin);
  try {
    const ready = await waitReady(s, o.path);
    if (!ready.ok) return { n, error: ready.why };
    await sleep(1000);
    const idle = procMem(s.pid);
    // Time to first byte of a lone client on the idle server (the table's ttfb is under a mass join).
    const lone = [];
    for (let i = 0; i < 5; i++) {
      const p = await probeGet(s.port, o.path, { minBytes: 1, timeoutMs: 3000 });
      if (p.firstMs !== undefined) lone.push(p.firstMs);
    }
    lone.sort((a, b) => a - b);
    const loneTtfbMs = lone.length ? lone[lone.length >> 1] : NaN;
    let cpu0 = 0;
    let tw0 = 0;
    let cpu1 = 0;
    let tw1 = 0;
    let memEnd = null;
    let peakRss = 0;
    let core0;
    let core1;
    let connectCpuPct = NaN;
    const cc0 = procCpuSeconds(s.pid);
    const ct0 = performance.now();
    let sampler = null;
    const sample = () => {
      const m = procMem(s.pid);
      if (m?.rssKiB > peakRss) peakRss = m.rssKiB;
    };
    const args = [
      '-p',
      String(s.port),
      '-u',
      o.path,
      '-n',
      String(n),
      '-w',
      String(o.warmup),
      '-W',
      String(o.window),
      '-b',
      String(Math.round(bitrate)),
      '-k',
      String(o.keep),
      '-r',
      String(o.connectRate),
      '-T',
      String(o.connectTimeout),
    ];
    const hardMs = (o.connectTimeout + o.warmup + o.window + 60) * 1000;
    log(`load N=${n}: connecting (window ${o.window} s after ${o.warmup} s warm-up)`);
    const r = await runClient(
      bin,
      args,
      pin,
      o.clientCore,
      {
        connected: (line) => {
          connectCpuPct = ((procCpuSeconds(s.pid) - cc0) / ((performance.now() - ct0) / 1000)) * 100;
          log(
            `load N=${n}: ${line.replace(/^CONNECTED (\d+) ([\d.]+)/, '$1 connected in $2 s')}, server CPU ${fmt(connectCpuPct)} % meanwhile`,
          );
        },
        start: () => {
          cpu0 = procCpuSeconds(s.pid);
          tw0 = performance.now();
          core0 = coreTimes();
          sample();
          sampler = setInterval(sample, 500);
        },
        end: () => {
          cpu1 = procCpuSeconds(s.pid);
          tw1 = performance.now();
          core1 = coreTimes();
          clearInterval(sampler);
          sample();
          memEnd = procMem(s.pid);
        },
      },
      hardMs,
    );
    clearInterval(sampler);
    if (r.error) return { n, error: r.error };
    const cpuPct = tw1 > tw0 && cpu0 !== null && cpu1 !== null ? ((cpu1 - cpu0) / ((tw1 - tw0) / 1000)) * 100 : NaN;
    const serverDied = s.exited()
      ? `server exited during the run: ${s.tail().trim().split('\n').slice(-2).join(' | ')}`
      : undefined;
    // Load on the two cores that was NOT ours: on a busy machine this says how far to trust the row.
    const serverCoreBusy = core0 && core1 ? coreBusyPct(core0, core1, o.serverCore) : NaN;
    const clientCoreBusy = core0 && core1 ? coreBusyPct(core0, core1, o.clientCore) : NaN;
    const othersOnServerCore = Math.max(0, serverCoreBusy - cpuPct);
    const othersOnClientCore = Math.max(0, clientCoreBusy - r.clientCpuPct);
    return {
      n,
      client: r,
      cpuPct,
      connectCpuPct,
      serverCoreBusy,
      clientCoreBusy,
      othersOnServerCore,
      othersOnClientCore,
      gbps: r.windowGbps,
      cpuPerGbps: r.windowGbps > 0 ? cpuPct / r.windowGbps : NaN,
      rssKiB: memEnd?.rssKiB ?? NaN,
      peakRssKiB: peakRss || NaN,
      idleRssKiB: idle?.rssKiB ?? NaN,
      loneTtfbMs,
      error: serverDied,
    };
  } finally {
    await stopServer(s);
  }
}

async function cyclesCheck(o, bin, file, bitrate, pin) {
  const s = await startServer(o, file, bitrate, pin);
  try {
    const ready = await waitReady(s, o.path);
    if (!ready.ok) return { error: ready.why };
    // Warm up the server's code paths (JIT, pools) with a few cycles before the "before" sample.
    const warm = Math.min(200, o.cycles);
    const base = ['-p', String(s.port), '-u', o.path, '-C', String(o.cycleConcurrency), '-B', '1024', '-t', '5'];
    await runClient(bin, [...base, '-c', String(warm), '-x', '60'], pin, o.clientCore, {}, 90_000);
    await sleep(1000);
    const before = { ...procMem(s.pid), fds: procFdCount(s.pid) };
    log(`cycles: ${o.cycles} connect/GET/close cycles, ${o.cycleConcurrency} at a time`);
    const r = await runClient(bin, [...base, '-c', String(o.cycles), '-x', '600'], pin, o.clientCore, {}, 660_000);
    const after = { ...procMem(s.pid), fds: procFdCount(s.pid) };
    await sleep(3000);
    const settled = { ...procMem(s.pid), fds: procFdCount(s.pid) };
    const still = await probeGet(s.port, o.path, { timeoutMs: 5000 });
    return {
      client: r,
      before,
      after,
      settled,
      stillServing: still.status === 200,
      stillServingDetail: still,
      error: r.error,
    };
  } finally {
    await stopServer(s);
  }
}

export async function runLoadBench(o) {
  ensureWork();
  const haveTaskset = !!which('taskset');
  const cores = Number(spawnSync('nproc', { encoding: 'utf8' }).stdout.trim()) || 1;
  const pin = haveTaskset && cores >= 2;
  const bin = compileClient();
  const file = await inputLoad(o.loadSeconds);
  const info = await probe(file);
  const bitrate = (info.size * 8) / info.duration;
  const ns = String(o.clients)
    .split(',')
    .map(Number)
    .filter((x) => x > 0)
    .sort((a, b) => a - b);
  const what = o.selfTest
    ? 'SELF-TEST server (bench/selftest-server.mjs: bare Node byte pump, no Matroska work; NOT mkvserve)'
    : 'mkvserve --loop';
  log(
    `load: ${what}, file ${file.split('/').pop()} at ${fmt(bitrate / 1e6, 2)} Mbit/s, N = ${ns.join(', ')}${pin ? '' : ' (NOT pinned: taskset or a 2nd core missing)'}`,
  );
  const results = [];
  for (const n of ns) {
    const r = await measureN(o, bin, file, bitrate, n, pin);
    if (r.error && !r.client) log(`load N=${n}: ${r.error}`);
    else
      log(
        `load N=${n}: ${r.client.keepingUp}/${n} keeping up, server CPU ${fmt(r.cpuPct)} %, ${fmt(r.gbps, 3)} Gbit/s, RSS ${fmt(r.rssKiB / 1024)} MiB, ttfb p50 ${fmt(r.client.ttfbMs.p50)} ms, client CPU ${fmt(r.client.clientCpuPct)} %`,
      );
    results.push(r);
    if (r.error && !r.client && /not serving|exited|answered/.test(r.error)) break; // the server does not work: stop here
  }
  let cycles = null;
  if (o.cycles > 0 && results.some((r) => r.client)) cycles = await cyclesCheck(o, bin, file, bitrate, pin);
  else if (o.cycles > 0) cycles = { error: 'skipped: the server did not serve' };

  // Report
  const ok = results.filter((r) => r.client);
  let perClient = NaN;
  if (ok.length >= 2) {
    const a = ok[0];
    const b = ok[ok.length - 1];
    perClient = (b.rssKiB - a.rssKiB) / (b.n - a.n);
  }
  const rows = results.map((r) =>
    r.client
      ? [
          r.n.toLocaleString('en-US'),
          `${r.client.connected.toLocaleString('en-US')} (${r.client.status200} x 200)`,
          `${r.client.keepingUp.toLocaleString('en-US')} (${fmt((r.client.keepingUp / r.n) * 100, 0)} %)`,
          `${fmt(r.client.rateKbps.p1, 0)} / ${fmt(r.client.rateKbps.p50, 0)}`,
          fmt(r.gbps, 3),
          fmt(r.cpuPct, 1),
          fmt(r.cpuPerGbps, 1),
          fmt(r.rssKiB / 1024, 1),
          fmt(r.idleRssKiB / 1024, 1),
          `${fmt(r.client.ttfbMs.p50, 1)} / ${fmt(r.client.ttfbMs.p99, 1)}`,
          fmt(r.loneTtfbMs, 1),
          fmt(r.client.clientCpuPct, 0),
          `${fmt(r.othersOnServerCore, 0)} / ${fmt(r.othersOnClientCore, 0)}`,
          [
            r.error,
            r.client.closedBeforeWindowEnd ? `${r.client.closedBeforeWindowEnd} closed early` : '',
            r.client.failedConnect
              ? `${r.client.failedConnect} without a response after the ${fmt(r.client.connectPhaseS, 0)} s connect phase (server CPU ${fmt(r.connectCpuPct, 0)} % meanwhile)`
              : '',
            r.client.opened < r.n ? `only ${r.client.opened} opened` : '',
          ]
            .filter(Boolean)
            .join('; '),
        ]
      : [r.n.toLocaleString('en-US'), 'n/a', 'n/a', '', '', '', '', '', '', '', '', '', '', `not measured: ${r.error}`],
  );
  const out = [];
  out.push(
    '# mkvserve load benchmark',
    '',
    `Run ${new Date().toISOString()} (${machineNote()}).`,
    `Server: ${what}; ${pin ? `server pinned to core ${o.serverCore}, client (bench/loadclient.c) to core ${o.clientCore}` : 'NOT pinned'}; loopback.`,
    `Stream: ${file.split('/').pop()} (${fmt(bitrate / 1e6, 3)} Mbit/s average, ${fmt(info.duration, 0)} s, looped). Warm-up ${o.warmup} s, window ${o.window} s; "keeping up" = open at the end of the window and >= ${o.keep * 100} % of ${fmt(bitrate / 1e6, 3)} Mbit/s received during it.`,
    '**Figures from a busy machine are indicative only: take final figures on a quiet machine.**',
    '',
    mdTable(
      [
        'clients N',
        'connected',
        'keeping up',
        'client kbit/s p1 / p50',
        'Gbit/s sent',
        'server CPU % of core',
        'CPU % per Gbit/s',
        'server RSS MiB',
        'idle RSS MiB',
        'ttfb ms p50 / p99 (mass join)',
        'lone-client ttfb ms',
        'client CPU %',
        'other load on server / client core %',
        'notes',
      ],
      rows,
    ),
    '',
    ...(ok.some((r) => r.othersOnServerCore > 10 || r.othersOnClientCore > 10)
      ? [
          '**Other processes used more than 10 % of a pinned core during a window: those rows measure the machine, not the server.**',
          '',
        ]
      : []),
    `RSS growth per client (${ok.length >= 2 ? `${ok[0].n} -> ${ok[ok.length - 1].n} clients` : 'needs 2 client counts'}): ${Number.isNaN(perClient) ? 'n/a' : `${fmt(perClient, 1)} KiB`}.`,
    '',
  );
  if (cycles) {
    if (cycles.client && !cycles.client.error) {
      const c = cycles.client;
      out.push(
        '## Connect/close cycles',
        '',
        mdTable(
          [
            'cycles',
            'ok (200 + >= 1 KiB)',
            'failed / closed early / timed out',
            'cycles/s',
            'ttfb ms p50 / p99',
            'RSS MiB before -> after -> +3 s',
            'open fds before -> after -> +3 s',
            'still serving',
          ],
          [
            [
              c.done.toLocaleString('en-US'),
              c.ok.toLocaleString('en-US'),
              `${c.failed} / ${c.closedEarly} / ${c.timeouts}`,
              fmt(c.cyclesPerSec, 0),
              `${fmt(c.ttfbMs.p50, 1)} / ${fmt(c.ttfbMs.p99, 1)}`,
              `${fmt(cycles.before.rssKiB / 1024)} -> ${fmt(cycles.after.rssKiB / 1024)} -> ${fmt(cycles.settled.rssKiB / 1024)}`,
              `${cycles.before.fds} -> ${cycles.after.fds} -> ${cycles.settled.fds}`,
              cycles.stillServing ? 'yes' : `NO (${JSON.stringify(cycles.stillServingDetail)})`,
            ],
          ],
        ),
        '',
      );
    } else out.push('## Connect/close cycles', '', `Not measured: ${cycles.error ?? cycles.client?.error}`, '');
  }
  const md = out.join('\n');
  const name = o.selfTest ? 'load-selftest-results' : 'load-results';
  writeFileSync(join(WORK, `${name}.md`), md);
  writeFileSync(
    join(WORK, `${name}.json`),
    JSON.stringify(
      { when: new Date().toISOString(), machine: machineNote(), options: o, bitrate, results, cycles },
      null,
      2,
    ),
  );
  return md;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const o = parseArgs(process.argv.slice(2), { defaults: { ...LOAD_DEFAULTS }, flags: ['quick', 'selfTest'] });
  if (o.quick) applyDefaults(o, LOAD_QUICK);
  runLoadBench(o).then(
    (md) => process.stdout.write(`${md}\n`),
    (e) => {
      console.error(e);
      process.exitCode = 1;
    },
  );
}
