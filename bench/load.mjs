// Load benchmark: mkvserve serving a ~2 Mbit/s WebM (VP8 720p30 + Opus, 2 s GOP) on loopback, measured
// in the same run as its baselines: the bare Node write loop (bench/bare-server.mjs: one shared Buffer
// per client per 100 ms, no Matroska) and Cubemap (C++, sendfile; when installed), fed by a second
// mkvserve. Each server is pinned to core 0, the C epoll client (bench/loadclient.c) to core 1.
// For each client count N, all N clients join at N/10 per second (a mass join), then warm-up and a
// measurement window: clients keeping up, server CPU (% of its core, and per Gbit/s sent), RSS (and its
// growth per client), time to first byte. Also: connect/close cycles (RSS and fds before/after), the
// kernel send queue of one slow client (--slow), and a CPU profile split of mkvserve (--cpu-prof).
// Every step is bounded in time; every server is killed at the end.
// Usage: node bench/load.mjs [--quick] [--clients 1000,5000,7500,10000] [--servers mkvserve,bare,cubemap]
//                            [--rounds 1] [--window 30] [--warmup 10] [--cycles 10000] [--slow 60]
//                            [--cpu-prof DIR] [--ttfb-dump DIR] [--mkvserve-cli PATH] [--mkvserve-args "..."]
//                            [--mkvserve-node-args "..."] [--ref-cli PATH] [--ref-args "..."]
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  BENCH_DIR,
  DIST,
  WORK,
  applyDefaults,
  coreBusyPct,
  coreTimes,
  ensureWork,
  fmt,
  log,
  machineNote,
  mdTable,
  median,
  parseArgs,
  procCpuSeconds,
  procFdCount,
  procMem,
  which,
} from './lib/common.mjs';
import { summarizeProfile } from './lib/cpuprofile.mjs';
import { measureSlowClient } from './slow-client.mjs';
import { inputLoad, probe } from './lib/inputs.mjs';
import {
  compileClient,
  freePort,
  mkvserveArgv,
  runClient,
  sleep,
  spawnServer,
  stopProcess,
  waitReady,
  probeGet,
} from './lib/servers.mjs';

/** How often mkvserve's /metrics is read during the window. Not every second: a scrape costs the
 *  server about 9 ms of CPU with 1,500 viewers (prom-client's process metrics list every open fd and
 *  handle), which read every second was 4-5 % of its CPU in that run, a cost the baselines do not
 *  pay (server README, "Under the Writable"). Every 10 s it is under 1 %. */
const STATUS_READ_MS = 10_000;

export const LOAD_DEFAULTS = {
  clients: '1000,5000,7500,10000',
  servers: 'mkvserve,bare,cubemap',
  rounds: 1,
  window: 30,
  warmup: 10,
  cycles: 10000,
  cycleConcurrency: 50,
  loadSeconds: 90,
  path: '/stream',
  mount: '',
  connectRate: 0,
  connectTimeout: 60,
  keep: 0.9,
  tick: 100,
  nofile: 65536,
  serverCore: 0,
  clientCore: 1,
  cpuProf: '',
  ttfbDump: '',
  slow: 0,
  slowRate: 10000,
  slowRcvbuf: 16384,
  mkvserveCli: '',
  mkvserveArgs: '',
  mkvserveNodeArgs: '',
  refCli: '',
  refArgs: '',
};
export const LOAD_QUICK = {
  clients: '100,500',
  window: 5,
  warmup: 3,
  cycles: 1000,
  loadSeconds: 20,
  slow: 0,
};

/** What each server kind is, for the report. */
const KINDS = {
  mkvserve: 'mkvserve --loop (this build)',
  bare: 'bare Node write loop (bench/bare-server.mjs: raw net, one shared Buffer per client per 100 ms)',
  cubemap: 'Cubemap (C++, sendfile), fed by a second mkvserve (src_encoding=raw)',
  selftest: 'node:http byte pump (bench/selftest-server.mjs, 40 ms, chunked encoding)',
  ref: 'another mkvserve build (--ref-cli, e.g. a checkout of the previous version)',
};

/** What write interval mkvserve used over the window (samples once a second): each value's share, the
 *  first and last, and the event loop's utilization. */
function intervalNote(flushMs, loopUse) {
  if (!flushMs?.length) return '';
  const counts = new Map();
  for (const ms of flushMs) counts.set(ms, (counts.get(ms) ?? 0) + 1);
  const shares = [...counts.keys()]
    .sort((a, b) => a - b)
    .map((ms) => `${ms} ms ${fmt((counts.get(ms) / flushMs.length) * 100, 0)} %`)
    .join(', ');
  const use = loopUse?.length
    ? `; event loop utilization ${fmt(median(loopUse), 2)} (median; ${fmt(Math.min(...loopUse), 2)}-${fmt(Math.max(...loopUse), 2)})`
    : '';
  return `write interval over the window (${flushMs.length} samples): ${shares}; ${flushMs[0]} ms at its start, ${flushMs.at(-1)} ms at its end${use}`;
}

/** Starts one server under test; resolves {pid, port, tail(), exited(), stop()}. */
async function startServer(kind, o, file, bitrate, pin) {
  const port = await freePort();
  const parts = [];
  const stopAll = async (graceMs) => {
    for (const p of parts.reverse()) await stopProcess(p, graceMs);
  };
  if (kind === 'mkvserve' || kind === 'ref') {
    const prof = o.cpuProf ? ['--cpu-prof', '--cpu-prof-dir', o.cpuProfRunDir] : [];
    // Node/V8 flags for this build only (not ref): an A/B of a flag in one run.
    const flags = kind === 'mkvserve' ? o.mkvserveNodeArgs.split(/\s+/).filter(Boolean) : [];
    const oo = kind === 'ref' ? { ...o, mkvserveCli: o.refCli, mkvserveArgs: o.refArgs || o.mkvserveArgs } : o;
    const s = spawnServer(o, mkvserveArgv(oo, port, file, [...flags, ...prof]), o.serverCore, pin);
    parts.push(s);
    return { ...s, port, stop: () => stopAll(o.cpuProf ? 15_000 : 3000) };
  }
  if (kind === 'bare' || kind === 'selftest') {
    const script = kind === 'bare' ? 'bare-server.mjs' : 'selftest-server.mjs';
    const tick = kind === 'bare' ? o.tick : 40;
    const prof = o.cpuProf ? ['--cpu-prof', '--cpu-prof-dir', o.cpuProfRunDir] : [];
    const argv = [
      process.execPath,
      ...prof,
      join(BENCH_DIR, script),
      '--port',
      String(port),
      '--bitrate',
      String(Math.round(bitrate)),
      '--tick',
      String(tick),
      file,
    ];
    const s = spawnServer(o, argv, o.serverCore, pin);
    parts.push(s);
    return { ...s, port, stop: () => stopAll(3000) };
  }
  if (kind === 'cubemap') {
    // The feeder is a second mkvserve on the client's core (one client: negligible CPU).
    const feedPort = await freePort();
    const feeder = spawnServer(o, mkvserveArgv({ ...o, mkvserveArgs: '' }, feedPort, file), o.clientCore, pin);
    parts.push(feeder);
    const ready = await waitReady({ ...feeder, port: feedPort }, o.path);
    if (!ready.ok) {
      await stopAll(3000);
      return { error: `Cubemap's feeder: ${ready.why}` };
    }
    const dir = mkdtempSync(join(tmpdir(), 'mkvserve-cubemap-'));
    // Loopback only; no stats/access files; raw (not Metacube) input: Cubemap relays bytes as they come.
    writeFileSync(
      join(dir, 'cubemap.config'),
      [
        'num_servers 1',
        `listen 127.0.0.1:${port}`,
        'error_log type=console',
        `stream ${o.path} src=http://127.0.0.1:${feedPort}${o.path} src_encoding=raw`,
        '',
      ].join('\n'),
    );
    const s = spawnServer(o, [which('cubemap'), join(dir, 'cubemap.config')], o.serverCore, pin, dir);
    parts.push(s);
    return {
      ...s,
      port,
      stop: async () => {
        await stopAll(3000);
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  throw new Error(`unknown server kind ${kind}`);
}

/**
 * A joiner's first bytes, demuxed: does its stream start with a header and, on the video track, a
 * keyframe? Reads up to 256 KiB or 3 s (the cut at the end is not an error).
 */
async function keyframeProbe(port, path) {
  const { MatroskaDemuxer } = await import(DIST.ebml);
  const r = await probeGet(port, path, { minBytes: 256 * 1024, timeoutMs: 3000, keep: true });
  if (!r.body) return { ok: false, why: r.error ?? `status ${r.status}` };
  const sep = r.body.indexOf('\r\n\r\n');
  let header;
  let first;
  const errors = [];
  const d = new MatroskaDemuxer({
    onHeader: (h) => (header ??= h),
    onFrame: (f) => {
      const v = header?.tracks.find((t) => t.kind === 'video')?.number;
      if (first === undefined && f.track === v) first = f;
    },
    onError: (e) => errors.push(e.code),
  });
  d.push(r.body.subarray(sep + 4));
  if (!header) return { ok: false, noData: true, why: `no header within 3 s (${r.body.length} bytes)` };
  if (errors.length) return { ok: false, why: errors.join(',') };
  if (!first) return { ok: false, why: 'no video frame in the first bytes' };
  return first.keyframe ? { ok: true } : { ok: false, why: 'first video frame is not a keyframe' };
}

function connectRate(o, n) {
  return o.connectRate > 0 ? o.connectRate : Math.max(10, Math.round(n / 10));
}

async function measureN(kind, o, bin, file, bitrate, n, pin) {
  const s = await startServer(kind, o, file, bitrate, pin);
  if (s.error) return { kind, n, error: s.error };
  try {
    const ready = await waitReady(s, o.path);
    if (!ready.ok) return { kind, n, error: ready.why };
    await sleep(1000);
    const idle = procMem(s.pid);
    // Time to first byte of a lone client on the idle server (the table's ttfb is under a mass join).
    const lone = [];
    for (let i = 0; i < 5; i++) {
      const p = await probeGet(s.port, o.path, { minBytes: 1, timeoutMs: 3000 });
      if (p.firstMs !== undefined) lone.push(p.firstMs);
    }
    const loneTtfbMs = median(lone);
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
    const rate = connectRate(o, n);
    // mkvserve: a few joiners during the mass join are demuxed: each must start on a keyframe.
    const probes = [];
    let probeTimer;
    // mkvserve stretches its write interval while its event loop is saturated: read it (and the loop's
    // utilization) every STATUS_READ_MS over the window (from /metrics: no per-client listing), so the
    // table says what interval was measured; each doubling is also logged (the flush_stretch count).
    const isMkvserve = kind === 'mkvserve' || kind === 'ref';
    const flushMs = [];
    const loopUse = [];
    const readFlush = () =>
      isMkvserve
        ? fetch(`http://127.0.0.1:${s.port}/metrics`)
            .then((res) => res.text())
            .then((txt) => {
              const m = /^mkvserve_flush_interval_seconds (\S+)/m.exec(txt);
              if (m) flushMs.push(Math.round(Number(m[1]) * 1000));
              const u = /^mkvserve_event_loop_utilization (\S+)/m.exec(txt);
              if (u) loopUse.push(Number(u[1]));
            })
            .catch(() => {})
        : Promise.resolve();
    const flushReads = [];
    let flushSampler;
    if (isMkvserve) {
      const every = Math.max(200, (n / rate) * 50); // about 20 over the ramp
      probeTimer = setInterval(() => {
        if (probes.length < 20) probes.push(keyframeProbe(s.port, o.path));
      }, every);
    }
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
      String(rate),
      '-T',
      String(o.connectTimeout),
    ];
    // --ttfb-dump DIR: every connection's start (s into the ramp) and ttfb (ms), one file per run.
    if (o.ttfbDump) {
      mkdirSync(o.ttfbDump, { recursive: true });
      args.push('-J', join(o.ttfbDump, `${kind}-N${n}-${Date.now()}.txt`));
    }
    const hardMs = (o.connectTimeout + o.warmup + o.window + 60) * 1000;
    log(`${kind} N=${n}: connecting at ${rate}/s (window ${o.window} s after ${o.warmup} s warm-up)`);
    const r = await runClient(
      bin,
      args,
      pin,
      o.clientCore,
      {
        connected: (line) => {
          connectCpuPct = ((procCpuSeconds(s.pid) - cc0) / ((performance.now() - ct0) / 1000)) * 100;
          log(
            `${kind} N=${n}: ${line.replace(/^CONNECTED (\d+) ([\d.]+)/, '$1 connected in $2 s')}, server CPU ${fmt(connectCpuPct)} % meanwhile`,
          );
        },
        start: () => {
          cpu0 = procCpuSeconds(s.pid);
          tw0 = performance.now();
          core0 = coreTimes();
          sample();
          sampler = setInterval(sample, 500);
          flushReads.push(readFlush());
          if (isMkvserve) flushSampler = setInterval(() => flushReads.push(readFlush()), STATUS_READ_MS);
        },
        end: () => {
          cpu1 = procCpuSeconds(s.pid);
          tw1 = performance.now();
          core1 = coreTimes();
          clearInterval(sampler);
          clearInterval(flushSampler);
          sample();
          memEnd = procMem(s.pid);
          flushReads.push(readFlush());
        },
      },
      hardMs,
    );
    clearInterval(sampler);
    clearInterval(flushSampler);
    clearInterval(probeTimer);
    const probed = await Promise.all(probes);
    await Promise.all(flushReads);
    const keyframeJoins = probes.length
      ? {
          ok: probed.filter((p) => p.ok).length,
          of: probed.length,
          why: [...new Set(probed.filter((p) => !p.ok).map((p) => p.why))],
        }
      : undefined;
    if (r.error) return { kind, n, error: r.error };
    const cpuPct = tw1 > tw0 && cpu0 !== null && cpu1 !== null ? ((cpu1 - cpu0) / ((tw1 - tw0) / 1000)) * 100 : NaN;
    const serverDied = s.exited()
      ? `server exited during the run: ${s.tail().trim().split('\n').slice(-2).join(' | ')}`
      : undefined;
    // Load on the two cores that was NOT ours: on a busy machine this says how far to trust the row.
    const serverCoreBusy = core0 && core1 ? coreBusyPct(core0, core1, o.serverCore) : NaN;
    const clientCoreBusy = core0 && core1 ? coreBusyPct(core0, core1, o.clientCore) : NaN;
    const stretches = s.stretches ?? [];
    return {
      kind,
      n,
      rate,
      keyframeJoins,
      flushMs,
      loopUse,
      stretchUps: isMkvserve ? stretches.length : undefined,
      halvingsUndone: stretches.filter((l) => l.includes('next try')).length,
      client: r,
      cpuPct,
      connectCpuPct,
      othersOnServerCore: Math.max(0, serverCoreBusy - cpuPct),
      othersOnClientCore: Math.max(0, clientCoreBusy - r.clientCpuPct),
      gbps: r.windowGbps,
      cpuPerGbps: r.windowGbps > 0 ? cpuPct / r.windowGbps : NaN,
      rssKiB: memEnd?.rssKiB ?? NaN,
      peakRssKiB: peakRss || NaN,
      idleRssKiB: idle?.rssKiB ?? NaN,
      loneTtfbMs,
      error: serverDied,
    };
  } finally {
    await s.stop();
  }
}

async function cyclesCheck(o, bin, file, bitrate, pin) {
  const s = await startServer('mkvserve', { ...o, cpuProf: '' }, file, bitrate, pin);
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
    return { client: r, before, after, settled, stillServing: still.status === 200, stillServingDetail: still };
  } finally {
    await s.stop();
  }
}

function profileRunDir(o, kind, n) {
  const dir = join(o.cpuProf, `${kind}-N${n}-${Date.now()}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

export async function runLoadBench(o) {
  ensureWork();
  if (o.selfTest) o.servers = 'selftest';
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
  const notes = [];
  const kinds = String(o.servers)
    .split(',')
    .map((k) => k.trim())
    .filter(Boolean);
  for (const k of kinds)
    if (!KINDS[k]) throw new Error(`--servers: unknown server ${k} (${Object.keys(KINDS).join(', ')})`);
  if (o.refCli && !kinds.includes('ref')) kinds.push('ref');
  const servers = kinds.filter((k) => {
    if (k === 'ref' && !o.refCli) {
      notes.push('ref: no --ref-cli given, left out.');
      return false;
    }
    if (k === 'cubemap' && !which('cubemap')) {
      notes.push('Cubemap is not installed (Debian: `apt-get install cubemap`): its rows are missing.');
      return false;
    }
    return true;
  });
  log(
    `load: ${servers.join(', ')}; file ${file.split('/').pop()} at ${fmt(bitrate / 1e6, 2)} Mbit/s, N = ${ns.join(', ')}, ${o.rounds} round(s)${pin ? '' : ' (NOT pinned: taskset or a 2nd core missing)'}`,
  );
  const results = [];
  const profiles = [];
  let stop = false;
  for (let round = 0; round < o.rounds && !stop; round++) {
    for (const n of ns) {
      // Rotate the order per round, so that drift in the machine's load does not favour one server.
      const order = servers.map((_, i) => servers[(i + round + ns.indexOf(n)) % servers.length]);
      const runOne = async (kind) => {
        const runDir = kind !== 'cubemap' && o.cpuProf ? profileRunDir(o, kind, n) : '';
        const r = await measureN(kind, { ...o, cpuProfRunDir: runDir }, bin, file, bitrate, n, pin);
        r.round = round;
        if (r.error && !r.client) log(`${kind} N=${n}: ${r.error}`);
        else
          log(
            `${kind} N=${n}: ${r.client.keepingUp}/${n} keeping up, server CPU ${fmt(r.cpuPct)} %, ${fmt(r.cpuPerGbps, 2)} %/Gbit/s, RSS ${fmt(r.rssKiB / 1024)} MiB, ttfb p50/p99 ${fmt(r.client.ttfbMs.p50)}/${fmt(r.client.ttfbMs.p99)} ms, others on server core ${fmt(r.othersOnServerCore, 0)} %`,
          );
        if (runDir) {
          const f = readdirSync(runDir).find((x) => x.endsWith('.cpuprofile'));
          if (f) {
            const p = summarizeProfile(join(runDir, f));
            profiles.push({ kind, n, round, file: join(runDir, f), ...p });
            log(`profile ${kind} N=${n}: ${p.line}`);
          } else log(`profile ${kind} N=${n}: no .cpuprofile written in ${runDir}`);
        }
        results.push(r);
        if (kind === 'mkvserve' && r.error && !r.client && /not serving|exited|answered/.test(r.error)) stop = true;
      };
      // --concurrent: every server at once (same core, same moment: the same load from others), for
      // ratios on a shared machine; otherwise one after the other (capacity figures).
      if (o.concurrent) await Promise.all(order.map(runOne));
      else for (const kind of order) await runOne(kind);
    }
  }
  let cycles = null;
  if (o.cycles > 0 && servers.includes('mkvserve')) cycles = await cyclesCheck(o, bin, file, bitrate, pin);
  let slow = null;
  if (o.slow > 0 && servers.includes('mkvserve')) {
    slow = await measureSlowClient(
      { ...o, seconds: o.slow, rate: o.slowRate, rcvbuf: o.slowRcvbuf },
      { bin, file, pin },
    );
  }
  const md = report(o, { file, info, bitrate, pin, ns, servers, results, cycles, slow, profiles, notes });
  writeFileSync(join(WORK, 'load-results.md'), md);
  writeFileSync(
    join(WORK, 'load-results.json'),
    JSON.stringify(
      {
        when: new Date().toISOString(),
        machine: machineNote(),
        options: o,
        bitrate,
        results,
        cycles,
        slow,
        profiles: profiles.map(({ top: _t, ...p }) => p),
      },
      null,
      2,
    ),
  );
  return md;
}

function report(o, { file, info, bitrate, pin, ns, servers, results, cycles, slow, profiles, notes }) {
  const out = [];
  out.push(
    '# mkvserve load benchmark',
    '',
    `Run ${new Date().toISOString()} (${machineNote()}).`,
    `${pin ? `Each server pinned to core ${o.serverCore}, the client (bench/loadclient.c) to core ${o.clientCore}` : 'NOT pinned'}; loopback.`,
    `Stream: ${file.split('/').pop()} (${fmt(bitrate / 1e6, 3)} Mbit/s average, ${fmt(info.duration, 0)} s, looped). All N clients join at N/10 per second${o.connectRate > 0 ? ` (here: ${o.connectRate}/s)` : ''}; then warm-up ${o.warmup} s, window ${o.window} s. "Keeping up" = open at the end of the window and >= ${o.keep * 100} % of ${fmt(bitrate / 1e6, 3)} Mbit/s received during it.`,
    `Servers: ${servers.map((k) => `**${k}**: ${KINDS[k]}`).join('; ')}.`,
    ...(o.mkvserveCli ? [`mkvserve CLI: ${o.mkvserveCli}`] : []),
    ...(o.refCli ? [`ref CLI: ${o.refCli}${o.refArgs ? `, with arguments ${o.refArgs}` : ''}`] : []),
    ...(o.mkvserveArgs ? [`mkvserve extra arguments: ${o.mkvserveArgs}`] : []),
    ...(o.mkvserveNodeArgs ? [`mkvserve (not ref) started with Node flags: ${o.mkvserveNodeArgs}`] : []),
    ...notes,
    ...(o.concurrent
      ? [
          '**Concurrent mode**: all servers ran at the same time on the same core, each with its own N clients, so they met the same load from other processes; figures are for ratios (a server\'s "other load" includes the other servers under test), not capacity.',
        ]
      : []),
    '**Figures from a busy machine are indicative only: the ratios between servers in the same run are what counts.**',
    '',
  );
  const rows = results.map((r) =>
    r.client
      ? [
          r.kind,
          r.n.toLocaleString('en-US'),
          o.rounds > 1 ? String(r.round + 1) : '',
          `${r.client.connected.toLocaleString('en-US')} (${r.client.status200} x 200)`,
          `${r.client.keepingUp.toLocaleString('en-US')} (${fmt((r.client.keepingUp / r.n) * 100, 1)} %)`,
          `${fmt(r.client.rateKbps.p1, 0)} / ${fmt(r.client.rateKbps.p50, 0)}`,
          fmt(r.gbps, 3),
          fmt(r.cpuPct, 1),
          fmt(r.cpuPerGbps, 2),
          `${fmt(r.rssKiB / 1024, 1)} (${fmt(r.idleRssKiB / 1024, 1)})`,
          `${fmt(r.client.ttfbMs.p50, 1)} / ${fmt(r.client.ttfbMs.p99, 1)}`,
          fmt(r.loneTtfbMs, 1),
          fmt(r.client.clientCpuPct, 0),
          `${fmt(r.othersOnServerCore, 0)} / ${fmt(r.othersOnClientCore, 0)}`,
          [
            r.keyframeJoins
              ? `joiners probed during the ramp starting on a keyframe: ${r.keyframeJoins.ok}/${r.keyframeJoins.of}${r.keyframeJoins.why.length ? ` (${r.keyframeJoins.why.join('; ')})` : ''}${r.keyframeJoins.noData ? `, ${r.keyframeJoins.noData} more got no data within 3 s` : ''}`
              : '',
            intervalNote(r.flushMs, r.loopUse),
            r.stretchUps
              ? `interval doubled ${r.stretchUps}x over the run (${r.halvingsUndone} undoing a halving that did not fit)`
              : '',
            r.error,
            r.client.closedBeforeWindowEnd ? `${r.client.closedBeforeWindowEnd} closed early` : '',
            r.client.failedConnect
              ? `${r.client.failedConnect} without a response after the ${fmt(r.client.connectPhaseS, 0)} s connect phase (server CPU ${fmt(r.connectCpuPct, 0)} % meanwhile)`
              : '',
            r.client.opened < r.n ? `only ${r.client.opened} opened` : '',
            // The client notices a first byte when it handles that epoll batch: a slow batch inflates ttfb.
            r.client.clientBatchMaxMs > 20
              ? `the load client's longest epoll batch took ${fmt(r.client.clientBatchMaxMs, 0)} ms (ttfb includes it)`
              : '',
          ]
            .filter(Boolean)
            .join('; '),
        ]
      : [
          r.kind,
          r.n.toLocaleString('en-US'),
          o.rounds > 1 ? String(r.round + 1) : '',
          'n/a',
          'n/a',
          '',
          '',
          '',
          '',
          '',
          '',
          '',
          '',
          '',
          `not measured: ${r.error}`,
        ],
  );
  out.push(
    mdTable(
      [
        'server',
        'clients N',
        'round',
        'connected',
        'keeping up',
        'client kbit/s p1 / p50',
        'Gbit/s sent',
        'server CPU % of core',
        'CPU % per Gbit/s',
        'RSS MiB (idle)',
        'ttfb ms p50 / p99 (mass join)',
        'lone-client ttfb ms',
        'client CPU %',
        'other load on server / client core %',
        'notes',
      ],
      rows,
    ),
    '',
  );
  const ok = results.filter((r) => r.client);
  if (ok.some((r) => r.othersOnServerCore > 10 || r.othersOnClientCore > 10))
    out.push('**Other processes used more than 10 % of a pinned core during some windows: see the last columns.**', '');

  // Ratios: mkvserve's CPU per Gbit/s against each baseline in the same round.
  const baselines = servers.filter((k) => k !== 'mkvserve');
  if (servers.includes('mkvserve') && baselines.length > 0) {
    const rrows = [];
    for (const n of ns) {
      const cells = [n.toLocaleString('en-US')];
      for (const b of baselines) {
        const ratios = [];
        for (let round = 0; round < o.rounds; round++) {
          const m = ok.find((r) => r.kind === 'mkvserve' && r.n === n && r.round === round);
          const x = ok.find((r) => r.kind === b && r.n === n && r.round === round);
          if (m && x && x.cpuPerGbps > 0) ratios.push(m.cpuPerGbps / x.cpuPerGbps);
        }
        cells.push(
          ratios.length
            ? `${fmt(median(ratios), 2)}x${ratios.length > 1 ? ` (${ratios.map((v) => fmt(v, 2)).join(', ')})` : ''}`
            : 'n/a',
        );
      }
      rrows.push(cells);
    }
    out.push(
      '## mkvserve CPU per Gbit/s relative to the baselines (same run)',
      '',
      mdTable(['clients N', ...baselines.map((b) => `mkvserve / ${b}`)], rrows),
      '',
    );
  }
  // RSS growth per client from the smallest N to 5,000 (the issue's measure) or the largest N, per server
  // and round, from rows where every client connected (a starved run says nothing about memory).
  const growth = [];
  for (const k of servers) {
    for (let round = 0; round < o.rounds; round++) {
      const rs = ok
        .filter((r) => r.kind === k && r.round === round && r.client.connected === r.n)
        .sort((a, b) => a.n - b.n);
      if (rs.length < 2) continue;
      const a = rs[0];
      const b = rs.find((r) => r.n === 5000 && r !== a) ?? rs[rs.length - 1];
      growth.push(
        `${k}${o.rounds > 1 ? ` (round ${round + 1})` : ''}: ${fmt((b.rssKiB - a.rssKiB) / (b.n - a.n), 2)} KiB per client (${a.n} -> ${b.n})`,
      );
    }
  }
  if (growth.length) out.push(`RSS growth per client: ${growth.join('; ')}.`, '');

  if (profiles.length) {
    out.push('## Where the time goes (node --cpu-prof, whole run: ramp, warm-up, window)', '');
    out.push(
      mdTable(
        [
          'server',
          'N',
          'round',
          'samples',
          'idle %',
          'GC %',
          'socket writes (native) %',
          'other native/VM %',
          'Node JS (streams/net) %',
          'mkvserve JS %',
          'other JS %',
        ],
        profiles.map((p) => [
          p.kind,
          p.n,
          p.round + 1,
          p.samples,
          fmt(p.pct.idle, 1),
          fmt(p.pct.gc, 1),
          fmt(p.pct.writes, 1),
          fmt(p.pct.native, 1),
          fmt(p.pct.nodeJs, 1),
          fmt(p.pct.ours, 1),
          fmt(p.pct.otherJs, 1),
        ]),
      ),
      '',
      ...profiles.flatMap((p) => [
        `Top self time, ${p.kind} N=${p.n} round ${p.round + 1}:`,
        '',
        mdTable(
          ['function', 'where', 'self %'],
          p.top.map((x) => [x.name, x.where, fmt(x.pct, 2)]),
        ),
        '',
      ]),
    );
  }
  if (cycles) {
    if (cycles.client && !cycles.client.error) {
      const c = cycles.client;
      out.push(
        '## Connect/close cycles (mkvserve)',
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
  if (slow) {
    if (slow.client && !slow.client.error) {
      const c = slow.client;
      out.push(
        '## One slow client (mkvserve)',
        '',
        `A client reading ${o.slowRate} B/s with a ${o.slowRcvbuf}-byte receive buffer, while the stream runs at ${fmt(slow.bitrate / 8000, 0)} kB/s.`,
        `Largest kernel send queue of its socket on the server: Send-Q ${fmt(slow.max.sendQ / 1024, 0)} KiB, wmem_queued ${fmt(slow.max.wmemQueued / 1024, 0)} KiB, sndbuf ${fmt(slow.max.sndbuf / 1024, 0)} KiB (ss -tm); the server let go of it ${Number.isNaN(slow.goneAtS) ? 'never during the run' : `after ${fmt(slow.goneAtS, 1)} s`}.`,
        `The client read ${fmt(c.bytes / 1024, 0)} KiB in ${fmt(c.seconds, 1)} s; it saw ${c.closed === 'open' ? 'an open connection at the end' : `${c.closed} after ${fmt(c.closedAtS, 1)} s`}. More kernel settings: bench/slow-client.mjs.`,
        '',
      );
    } else out.push('## One slow client', '', `Not measured: ${slow.error ?? slow.client?.error}`, '');
  }
  return out.join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const o = parseArgs(process.argv.slice(2), {
    defaults: { ...LOAD_DEFAULTS },
    flags: ['quick', 'selfTest', 'concurrent'],
  });
  if (o.quick) applyDefaults(o, LOAD_QUICK);
  runLoadBench(o).then(
    (md) => process.stdout.write(`${md}\n`),
    (e) => {
      console.error(e);
      process.exitCode = 1;
    },
  );
}
