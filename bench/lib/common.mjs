// Shared helpers for the benchmark scripts: paths, option parsing, statistics, process helpers,
// markdown tables. Benchmarks are not tests: they measure and report, they never fail a build.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const BENCH_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const ROOT = resolve(BENCH_DIR, '..');
export const WORK = join(BENCH_DIR, '.work');
export const CLI = join(ROOT, 'packages/server/bin/mkvserve.js');
export const DIST = {
  ebml: join(ROOT, 'packages/ebml/dist/index.js'),
  ebmlNode: join(ROOT, 'packages/ebml/dist/node/index.js'),
  fanout: join(ROOT, 'packages/fanout/dist/index.js'),
  server: join(ROOT, 'packages/server/dist/index.js'),
};

export function ensureWork() {
  mkdirSync(WORK, { recursive: true });
  return WORK;
}

/**
 * Minimal option parser: `--name value`, `--name=value`, `--flag`. Values listed in `flags` are
 * booleans. Unknown options are an error (a typo must not silently run a 30-minute default).
 */
export function parseArgs(argv, spec) {
  const out = { ...spec.defaults };
  const given = new Set();
  Object.defineProperty(out, 'given', { value: given, enumerable: false });
  const known = new Set([...Object.keys(spec.defaults), ...(spec.flags ?? [])]);
  for (let i = 0; i < argv.length; i++) {
    let a = argv[i];
    if (!a.startsWith('--')) throw new Error(`unexpected argument ${a}`);
    a = a.slice(2);
    let value;
    const eq = a.indexOf('=');
    if (eq >= 0) {
      value = a.slice(eq + 1);
      a = a.slice(0, eq);
    }
    const key = a.replace(/-([a-z])/g, (_, c) => c.toUpperCase());
    if (!known.has(key)) throw new Error(`unknown option --${a}`);
    given.add(key);
    if ((spec.flags ?? []).includes(key)) {
      out[key] = value === undefined ? true : value !== 'false';
      continue;
    }
    if (value === undefined) {
      if (i + 1 >= argv.length) throw new Error(`--${a} needs a value`);
      value = argv[++i];
    }
    const def = spec.defaults[key];
    out[key] = typeof def === 'number' ? Number(value) : value;
    if (typeof def === 'number' && !Number.isFinite(out[key])) throw new Error(`--${a}: not a number: ${value}`);
  }
  return out;
}

/** Applies `values` for the options that were not given explicitly on the command line. */
export function applyDefaults(o, values) {
  for (const [k, v] of Object.entries(values)) if (!o.given?.has(k)) o[k] = v;
  return o;
}

export function median(xs) {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

export function fmt(x, digits = 1) {
  if (x === undefined || x === null || Number.isNaN(x)) return 'n/a';
  if (typeof x === 'string') return x;
  if (!Number.isFinite(x)) return String(x);
  return x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export function mdTable(headers, rows) {
  const lines = [`| ${headers.join(' | ')} |`, `|${headers.map(() => '---').join('|')}|`];
  for (const r of rows) lines.push(`| ${r.map((c) => (c === undefined ? '' : String(c))).join(' | ')} |`);
  return lines.join('\n');
}

export function which(cmd) {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

export function fileSize(p) {
  try {
    return statSync(p).size;
  } catch {
    return 0;
  }
}

/** Runs a command, collecting stdout/stderr, with a hard timeout (ms). Resolves, never rejects. */
export function run(cmd, args, { timeoutMs = 600_000, env, cwd = ROOT, input } = {}) {
  return new Promise((resolveP) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(cmd, args, { cwd, env: env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d) => {
      if (stdout.length < 4e6) stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d) => {
      if (stderr.length < 4e6) stderr += d;
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      resolveP({ code: -1, stdout, stderr: String(err), seconds: 0, timedOut });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      resolveP({ code: code ?? (signal ? 128 : -1), signal, stdout, stderr, seconds, timedOut });
    });
    if (input !== undefined) child.stdin.end(input);
    else child.stdin.end();
  });
}

export function log(...a) {
  process.stderr.write(`[bench] ${a.join(' ')}\n`);
}

/** Reads /proc/<pid>/stat utime+stime in seconds (null when the process is gone). */
export function procCpuSeconds(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = s.slice(s.lastIndexOf(')') + 2).split(' ');
    // rest[0] is field 3 (state); utime is field 14, stime field 15.
    return (Number(rest[11]) + Number(rest[12])) / CLK_TCK;
  } catch {
    return null;
  }
}

/** VmRSS / VmHWM of a process in KiB (null when gone). */
export function procMem(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    const get = (k) => {
      const m = s.match(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm'));
      return m ? Number(m[1]) : null;
    };
    return { rssKiB: get('VmRSS'), hwmKiB: get('VmHWM') };
  } catch {
    return null;
  }
}

export function procFdCount(pid) {
  try {
    return spawnSync('sh', ['-c', `ls /proc/${pid}/fd | wc -l`], { encoding: 'utf8' }).stdout.trim() * 1;
  } catch {
    return null;
  }
}

export const CLK_TCK = (() => {
  const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  const n = Number(r.stdout?.trim());
  return Number.isFinite(n) && n > 0 ? n : 100;
})();

export function machineNote() {
  const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  let cpu = '';
  try {
    cpu = (readFileSync('/proc/cpuinfo', 'utf8').match(/model name\s*:\s*(.*)/) ?? [])[1] ?? '';
  } catch {
    /* */
  }
  return `node ${process.version}, ${cpu || 'cpu ?'}, ${spawnSync('nproc', { encoding: 'utf8' }).stdout.trim()} cores, load average ${load} at start`;
}

export function exists(p) {
  return existsSync(p);
}

/** Per-core busy/total jiffies from /proc/stat: {cpu0: {busy, total}, ...}. */
export function coreTimes() {
  const out = {};
  try {
    for (const line of readFileSync('/proc/stat', 'utf8').split('\n')) {
      const m = line.match(/^(cpu\d+)\s+(.*)$/);
      if (!m) continue;
      const v = m[2].trim().split(/\s+/).map(Number);
      const idle = v[3] + (v[4] ?? 0); // idle + iowait
      const total = v.slice(0, 8).reduce((a, b) => a + b, 0); // user..steal (guest is inside user)
      out[m[1]] = { busy: total - idle, total };
    }
  } catch {
    /* not Linux */
  }
  return out;
}

/** Busy % of core `n` between two coreTimes() snapshots. */
export function coreBusyPct(a, b, n) {
  const x = a[`cpu${n}`];
  const y = b[`cpu${n}`];
  if (!x || !y || y.total <= x.total) return NaN;
  return ((y.busy - x.busy) / (y.total - x.total)) * 100;
}
