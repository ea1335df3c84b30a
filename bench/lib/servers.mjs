// Processes for the load benchmarks: free ports, the C load client (compiled on first use), servers
// spawned pinned to a core with a raised open-files limit, readiness probes, and the kernel's view of
// a port's TCP sockets (ss -tm).
import { spawn, spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { BENCH_DIR, CLI, WORK, exists, which } from './common.mjs';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function freePort() {
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

export function compileClient() {
  const src = join(BENCH_DIR, 'loadclient.c');
  const bin = join(WORK, 'loadclient');
  if (exists(bin) && statSync(bin).mtimeMs >= statSync(src).mtimeMs) return bin;
  const cc = which('cc') ?? which('gcc');
  if (!cc) throw new Error('a C compiler (cc) is needed for the load client');
  const r = spawnSync(cc, ['-O2', '-Wall', '-o', bin, src], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`compiling loadclient.c failed:\n${r.stderr}`);
  return bin;
}

export function pinned(core, argv, pin) {
  // taskset + exec keep the PID: the returned child's pid is the server/client process itself.
  return pin ? ['taskset', ['-c', String(core), ...argv]] : [argv[0], argv.slice(1)];
}

/** Spawns `argv` (pinned, with a raised open-files limit); returns a handle with the PID and output tail. */
export function spawnServer(o, argv, core, pin, cwd) {
  const script = `ulimit -n ${o.nofile} 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec "$@"`;
  const [cmd, args] = pinned(core, ['bash', '-c', script, 'bash', ...argv], pin);
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...(cwd ? { cwd } : {}) });
  let tail = '';
  let partial = '';
  // mkvserve's flush_stretch warnings (the interval doubled; "next try": a halving was undone), kept
  // apart from the tail so that the load report can count them.
  const stretches = [];
  const keep = (d) => {
    tail = (tail + d).slice(-4000);
    const lines = (partial + d).split('\n');
    partial = lines.pop().slice(-4000);
    for (const line of lines) if (line.includes('flush_stretch') && stretches.length < 1000) stretches.push(line);
  };
  child.stdout.setEncoding('utf8').on('data', keep);
  child.stderr.setEncoding('utf8').on('data', keep);
  let exited = null;
  child.on('exit', (code, sig) => {
    exited = { code, sig };
  });
  return { child, pid: child.pid, tail: () => tail, exited: () => exited, stretches };
}

export function mkvserveArgv(o, port, file, extraNode = []) {
  return [
    process.execPath,
    ...extraNode,
    o.mkvserveCli || CLI,
    '--loop',
    '--port',
    String(port),
    '--host',
    '127.0.0.1',
    '--quiet',
    ...(o.mount ? ['--mount', o.mount] : []),
    ...(o.mkvserveArgs ? o.mkvserveArgs.split(/\s+/).filter(Boolean) : []),
    file,
  ];
}

export async function stopProcess(s, graceMs = 3000) {
  if (!s || s.exited()) return;
  s.child.kill('SIGTERM');
  for (let i = 0; i < graceMs / 100 && !s.exited(); i++) await sleep(100);
  if (!s.exited()) {
    s.child.kill('SIGKILL');
    for (let i = 0; i < 20 && !s.exited(); i++) await sleep(100);
  }
}

/** One GET: resolves {status, bytes, firstMs, ms} or {error}; reads until minBytes or timeoutMs. */
export function probeGet(port, path, { minBytes = 2048, timeoutMs = 5000, keep = false } = {}) {
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
      res({ ...r, ms: performance.now() - t0, firstMs, ...(keep ? { body: buf } : {}) });
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

export async function waitReady(s, path, timeoutMs = 20000) {
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

/** Runs the C client; calls hooks on its WINDOW_START/WINDOW_END/CONNECTED/SLOW lines; resolves its JSON. */
export function runClient(bin, args, pin, core, hooks, hardMs) {
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
      else if (line.startsWith('SLOW')) hooks.slow?.(line);
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

/** `ss` memory of the established TCP sockets on one local port (server side) or peer port (client side). */
export function socketMem(port, side) {
  const filter = side === 'server' ? `( sport = :${port} )` : `( dport = :${port} )`;
  const r = spawnSync('ss', ['-tmnH', 'state', 'established', filter], { encoding: 'utf8' });
  const out = [];
  const lines = (r.stdout ?? '').split('\n');
  for (let i = 0; i < lines.length; i++) {
    const m = lines[i].match(/^\s*(\d+)\s+(\d+)\s/);
    if (!m) continue;
    const sk = (lines[i] + (lines[i + 1] ?? '')).match(/skmem:\(([^)]*)\)/);
    const f = {};
    for (const kv of (sk?.[1] ?? '').split(',')) {
      const mm = kv.match(/^([a-z_]+)(\d+)$/);
      if (mm) f[mm[1]] = Number(mm[2]);
    }
    out.push({
      recvQ: Number(m[1]),
      sendQ: Number(m[2]),
      wmemQueued: f.w ?? NaN,
      sndbuf: f.tb ?? NaN,
      rcvbuf: f.rb ?? NaN,
    });
  }
  return out;
}
