// Entry point of `pnpm bench`. Builds the packages (incremental tsc -b), generates missing inputs into
// bench/.work/, runs the selected benchmarks and writes their reports to bench/.work/*.md (+ .json).
// See bench/README.md. Examples:
//   pnpm bench                          # everything, full sizes (~15-25 min on a quiet 2-core machine)
//   pnpm bench --quick                  # small inputs, short windows, N = 100,500: checks the harness
//   pnpm bench --only parse --big       # parse benchmark + 2 GB streaming-RSS check
//   pnpm bench --only load --clients 1000,5000 --window 30
//   pnpm bench --only load --servers mkvserve,bare,cubemap --clients 1000,5000,7500,10000 --rounds 2
import { join } from 'node:path';
import { ROOT, WORK, applyDefaults, log, parseArgs, run } from './lib/common.mjs';
import { LOAD_DEFAULTS, LOAD_QUICK, runLoadBench } from './load.mjs';
import { PARSE_DEFAULTS, PARSE_QUICK, runParseBench } from './parse.mjs';

const HELP = `usage: node bench/run.mjs [options]
  --only LIST          parse,remux,load (default: all three)
  --quick              small inputs (A 40 MiB, B 2,000 s), 3 reps, load N=100,500, 3 s warm-up, 5 s window, 1,000 cycles
  --size-mb N          size of input A in MiB (default 200)
  --b-seconds N        length of input B in seconds of 20 ms Opus frames (default 10000 = 500k frames)
  --reps N             repetitions per parse case / remux (median reported; default 5, --quick 3)
  --big                also generate a 2 GiB file and check streaming RSS on it (--big-mb to change)
  --chunk-kib N        read chunk size for the parse cases (default 1024)
  --passes N           parse: passes over the file per process, the last one timed (default 1 = cold JIT)
  --clients LIST       load: client counts (default 1000,5000,7500,10000)
  --servers LIST       load: mkvserve,bare,cubemap (default; cubemap skipped when not installed), selftest
  --rounds R           load: repeat the whole matrix R times, server order rotated (default 1)
  --concurrent         load: run the servers at the same time (same core, same moment): ratios on a busy machine
  --window S           load: measurement window per N (default 30)
  --warmup S           load: warm-up after the clients connected (default 10)
  --connect-rate N     load: new connections per second (default 0 = N/10, a mass join)
  --cycles N           load: connect/close cycles on mkvserve (default 10000; 0 = skip)
  --cycle-concurrency N  load: cycles in flight at once (default 50)
  --slow S             load: one slow viewer for S seconds, its kernel send queue (default 0 = skip)
  --cpu-prof DIR       load: run the Node servers with --cpu-prof into DIR; report the split
  --ttfb-dump DIR      load: write every connection's start (s) and ttfb (ms) to DIR/<server>-N<n>-<t>.txt
  --ref-cli PATH       load: also run another mkvserve build (e.g. a checkout of main) as 'ref'
  --mkvserve-args "A"  load: extra arguments for mkvserve (and ref, unless --ref-args)
  --ref-args "A"       load: extra arguments for ref instead (e.g. the same build with another setting)
  --mkvserve-node-args "A"  load: Node/V8 flags for mkvserve (not ref), e.g. an A/B of a V8 flag
  --load-seconds S     load: length of the generated 2 Mbit/s WebM (default 90)
  --path P             load: request path (default /stream)   --mount M  passed to mkvserve as --mount M
  --self-test          load: same as --servers selftest (node:http byte pump, checks the harness)
  --skip-build         do not run tsc -b before benchmarking
`;

const spec = {
  defaults: { only: 'parse,remux,load', ...PARSE_DEFAULTS, ...LOAD_DEFAULTS },
  flags: ['quick', 'big', 'selfTest', 'skipBuild', 'help', 'concurrent'],
};
spec.defaults.only = 'parse,remux,load';

let o;
try {
  o = parseArgs(process.argv.slice(2), spec);
} catch (e) {
  process.stderr.write(`${e.message}\n\n${HELP}`);
  process.exit(2);
}
if (o.help) {
  process.stdout.write(HELP);
  process.exit(0);
}
if (o.quick) applyDefaults(o, { ...PARSE_QUICK, ...LOAD_QUICK });
const only = new Set(
  String(o.only)
    .split(',')
    .map((s) => s.trim()),
);
for (const k of only)
  if (!['parse', 'remux', 'load'].includes(k)) {
    process.stderr.write(`--only: unknown benchmark ${k}\n`);
    process.exit(2);
  }

if (!o.skipBuild) {
  log('building packages (tsc -b packages/server)');
  const tsc = join(ROOT, 'node_modules/typescript/bin/tsc');
  const r = await run(process.execPath, [tsc, '-b', 'packages/server'], { timeoutMs: 10 * 60_000 });
  if (r.code !== 0)
    log(
      `WARNING: build failed, benchmarking whatever dist/ holds:\n${(r.stdout + r.stderr).trim().split('\n').slice(0, 8).join('\n')}`,
    );
}

const reports = [];
if (only.has('parse') || only.has('remux')) {
  const po = { ...o, only: [...only].filter((k) => k !== 'load').join(',') };
  reports.push(await runParseBench(po));
  log(`parse results: ${join(WORK, 'parse-results.md')}`);
}
if (only.has('load')) {
  reports.push(await runLoadBench(o));
  log(`load results: ${join(WORK, 'load-results.md')}`);
}
process.stdout.write(`${reports.join('\n\n')}\n`);
