// Parse benchmark: demux throughput of @mkvserve/ebml against the raw-read ceiling and baselines
// measured in the same run, peak RSS per case, a 2 GB streaming-RSS check (--big) and `mkvserve remux`
// speed. Every case runs in its own child process (bench/parse-case.mjs); each case is repeated
// `reps` times, interleaved with the other cases, and the median time is reported.
// Usage: node bench/parse.mjs [--quick] [--size-mb 200] [--b-seconds 10000] [--reps 3] [--big] [--only parse|remux]
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  BENCH_DIR,
  CLI,
  WORK,
  applyDefaults,
  ensureWork,
  fileSize,
  fmt,
  log,
  machineNote,
  mdTable,
  median,
  parseArgs,
  run,
  which,
} from './lib/common.mjs';
import { inputA, inputB, inputBig, probe } from './lib/inputs.mjs';

const MB = 1e6; // throughput in MB/s = 10^6 bytes per second
const CASE_LABEL = {
  raw: '(a) raw read (createReadStream, same chunk size): the I/O ceiling',
  sync: '(b) @mkvserve/ebml MatroskaDemuxer (sync push over readFileChunks)',
  node: '(c) @mkvserve/ebml/node demuxFrames() async iterator',
  'node-stream': "(c') @mkvserve/ebml/node createDemuxStream() Transform",
  'ebml-stream': '(d) ebml-stream 1.0.3 Decoder (baseline)',
  walker: '(f) minimal sync block walker (yardstick)',
  ffmpeg: '(e) ffmpeg -c copy -f null (baseline)',
};

export const PARSE_QUICK = { sizeMb: 40, bSeconds: 2000, reps: 3 };
export const PARSE_DEFAULTS = {
  sizeMb: 200,
  bSeconds: 10000,
  reps: 5,
  bigMb: 2048,
  chunkKib: 1024,
  passes: 1,
  only: 'parse,remux',
};

async function runCase(kind, file, chunk, passes = 1) {
  if (kind === 'ffmpeg') {
    const r = await run(
      '/usr/bin/time',
      [
        '-f',
        'MAXRSS %M',
        'ffmpeg',
        '-hide_banner',
        '-v',
        'error',
        '-nostdin',
        '-i',
        file,
        '-map',
        '0',
        '-c',
        'copy',
        '-f',
        'null',
        '-',
      ],
      { timeoutMs: 20 * 60_000 },
    );
    const m = r.stderr.match(/MAXRSS (\d+)/);
    if (r.code !== 0) return { case: kind, ok: false, error: r.stderr.trim().split('\n').slice(-2).join(' ') };
    return {
      case: kind,
      ok: true,
      bytes: fileSize(file),
      seconds: r.seconds,
      maxRssKiB: m ? Number(m[1]) : NaN,
      note: 'wall time incl. process start',
    };
  }
  const r = await run(
    process.execPath,
    [join(BENCH_DIR, 'parse-case.mjs'), kind, file, String(chunk), String(passes)],
    { timeoutMs: 20 * 60_000 },
  );
  const line = r.stdout
    .trim()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .pop();
  if (!line)
    return {
      case: kind,
      ok: false,
      error: `no result (exit ${r.code}${r.timedOut ? ', timed out' : ''}): ${r.stderr.trim().split('\n').slice(-3).join(' ')}`,
    };
  return JSON.parse(line);
}

async function warmCache(file) {
  // Read the file once so that every case sees it in the page cache (otherwise the first case pays the disk).
  await run('sh', ['-c', `cat "${file}" > /dev/null`]);
}

async function benchFile(label, file, kinds, reps, chunk, passes = 1) {
  const info = await probe(file);
  await warmCache(file);
  const runs = Object.fromEntries(kinds.map((k) => [k, []]));
  const failed = {};
  for (let rep = 0; rep < reps; rep++) {
    for (const k of kinds) {
      if (failed[k]) continue;
      const r = await runCase(k, file, chunk, k === 'ffmpeg' ? 1 : passes);
      if (!r.ok) {
        failed[k] = r.error;
        log(`${label} ${k}: ${r.error}`);
        continue;
      }
      runs[k].push(r);
      log(
        `${label} ${k} rep ${rep + 1}/${reps}: ${fmt(r.bytes / MB / r.seconds)} MB/s${r.frames ? `, ${fmt(r.frames / r.seconds / 1e6, 3)} M frames/s` : ''}, RSS ${fmt(r.maxRssKiB / 1024)} MiB`,
      );
    }
  }
  const rows = {};
  for (const k of kinds) {
    const rs = runs[k];
    if (rs.length === 0) {
      rows[k] = { case: k, error: failed[k] ?? 'not run' };
      continue;
    }
    const seconds = median(rs.map((r) => r.seconds));
    const frames = k === 'ffmpeg' ? info.packets : rs[0].frames;
    rows[k] = {
      case: k,
      reps: rs.length,
      seconds,
      mbps: info.size / MB / seconds,
      framesPerSec: k === 'raw' ? NaN : frames / seconds,
      frames: k === 'raw' ? NaN : frames,
      maxRssKiB: Math.max(...rs.map((r) => r.maxRssKiB)),
      framesOk: k === 'raw' ? undefined : frames === info.packets,
      note: [
        rs[0].note,
        failed[k] ? `later rep failed: ${failed[k]}` : undefined,
        rs[0].errors ? `${rs[0].errors} demux errors` : undefined,
      ]
        .filter(Boolean)
        .join('; '),
    };
  }
  const raw = rows.raw?.seconds;
  for (const k of kinds) if (rows[k].seconds) rows[k].vsRaw = raw ? raw / rows[k].seconds : NaN;
  return { label, file, info, rows };
}

function fileTable(res) {
  const headers = [
    'case',
    'MB/s',
    'vs raw read',
    'M frames/s',
    'peak RSS MiB',
    'frames (ffprobe: ' + res.info.packets.toLocaleString('en-US') + ')',
    'notes',
  ];
  const rows = Object.values(res.rows).map((r) =>
    r.error
      ? [CASE_LABEL[r.case], 'n/a', 'n/a', 'n/a', 'n/a', 'n/a', `not measured: ${r.error}`]
      : [
          CASE_LABEL[r.case],
          fmt(r.mbps, 0),
          `${fmt(r.vsRaw * 100, 0)} %`,
          Number.isNaN(r.framesPerSec) ? '' : fmt(r.framesPerSec / 1e6, 3),
          fmt(r.maxRssKiB / 1024, 1),
          Number.isNaN(r.frames) ? '' : `${r.frames.toLocaleString('en-US')}${r.framesOk ? '' : ' (MISMATCH)'}`,
          r.note ?? '',
        ],
  );
  return mdTable(headers, rows);
}

function verdict(value, ok) {
  if (value === undefined || Number.isNaN(value)) return 'n/a (not measured)';
  return ok ? 'met' : 'NOT met';
}

export async function runParseBench(o) {
  ensureWork();
  const chunk = o.chunkKib * 1024;
  const haveFfmpeg = !!which('ffmpeg');
  const only = new Set(String(o.only).split(','));
  const out = [];
  out.push(
    '# mkvserve parse benchmark',
    '',
    `Run ${new Date().toISOString()} (${machineNote()}).`,
    `Settings: ${o.reps} repetition(s) per case (median reported, cases interleaved), ${o.chunkKib} KiB read chunks, each case in its own process, ${o.passes > 1 ? `${o.passes} passes per process, the last one timed (JIT warm; ffmpeg: 1 pass)` : '1 pass per process (cold JIT: what a CLI run sees)'}; MB = 10^6 bytes.`,
    '**Figures from a busy machine are indicative only: take final figures on a quiet machine.**',
    '',
  );
  const json = {
    when: new Date().toISOString(),
    machine: machineNote(),
    options: o,
    files: [],
    big: null,
    remux: null,
  };
  let A;
  let resA;
  let resB;
  const kinds = ['raw', 'sync', 'node', 'node-stream', 'ebml-stream', 'walker', ...(haveFfmpeg ? ['ffmpeg'] : [])];
  if (only.has('parse')) {
    A = await inputA(o.sizeMb);
    const B = await inputB(o.bSeconds);
    resA = await benchFile('A', A, kinds, o.reps, chunk, o.passes);
    resB = await benchFile('B', B, kinds, o.reps, chunk, o.passes);
    for (const r of [resA, resB]) {
      json.files.push(r);
      out.push(
        `## ${r.label}: ${r.file.split('/').pop()} (${fmt(r.info.size / MB, 1)} MB, ${r.info.codecs.join('+')}, ${r.info.packets.toLocaleString('en-US')} frames, ${fmt(r.info.duration, 0)} s)`,
        '',
        fileTable(r),
        '',
      );
    }
    if (o.big) {
      const BIG = await inputBig(o.bigMb);
      const resBig = await benchFile('BIG', BIG, ['raw', 'sync', 'node', 'node-stream'], 1, chunk);
      json.big = resBig;
      out.push(
        `## Streaming RSS on ${fmt(resBig.info.size / MB, 0)} MB (${BIG.split('/').pop()}, 1 run per case)`,
        '',
        fileTable(resBig),
        '',
      );
    } else {
      out.push(
        '## Streaming RSS on 2 GB',
        '',
        "Not run (pass `--big` to generate a 2 GiB file by repeating A's 10 s piece and stream it once per case). Peak RSS on A above is the proxy.",
        '',
      );
    }
  }
  if (only.has('remux')) {
    A ??= await inputA(o.sizeMb);
    json.remux = await remuxBench(A, o.reps);
    out.push('## `mkvserve remux` on A', '', json.remux.markdown, '');
  }
  // Targets
  const tRows = [];
  if (resA) {
    const s = resA.rows.sync;
    tRows.push([
      'A: sync demux >= 90 % of raw-read throughput',
      s?.vsRaw ? `${fmt(s.vsRaw * 100, 0)} %` : 'n/a',
      verdict(s?.vsRaw, s?.vsRaw >= 0.9),
    ]);
    const n = resA.rows.node;
    tRows.push([
      'A: node adapter >= 90 % of raw read (same goal)',
      n?.vsRaw ? `${fmt(n.vsRaw * 100, 0)} %` : 'n/a',
      verdict(n?.vsRaw, n?.vsRaw >= 0.9),
    ]);
  }
  if (resB) {
    const s = resB.rows.sync;
    tRows.push([
      'B: sync demux >= 3 M frames/s',
      s?.framesPerSec ? `${fmt(s.framesPerSec / 1e6, 2)} M/s` : 'n/a',
      verdict(s?.framesPerSec, s?.framesPerSec >= 3e6),
    ]);
  }
  if (json.big) {
    for (const k of ['sync', 'node', 'node-stream']) {
      const r = json.big.rows[k];
      tRows.push([
        `2 GB: ${k} peak RSS < 100 MB`,
        r?.maxRssKiB ? `${fmt(r.maxRssKiB / 1024, 1)} MiB` : 'n/a',
        verdict(r?.maxRssKiB, r?.maxRssKiB * 1024 < 100 * MB),
      ]);
    }
  }
  if (json.remux)
    tRows.push([
      'remux A >= 300 MB/s (wall clock, start-up included)',
      json.remux.mbps
        ? `${fmt(json.remux.mbps, 0)} MB/s (${fmt(json.remux.mbpsNoStartup, 0)} without the ${fmt(json.remux.startup, 2)} s start-up)`
        : 'n/a',
      verdict(json.remux.mbps, json.remux.mbps >= 300),
    ]);
  out.push('## Targets', '', mdTable(['target', 'measured', 'verdict'], tRows), '');
  const md = out.join('\n');
  writeFileSync(join(WORK, 'parse-results.md'), md);
  writeFileSync(join(WORK, 'parse-results.json'), JSON.stringify(json, null, 2));
  return md;
}

async function remuxBench(A, reps) {
  const info = await probe(A);
  const outFile = join(WORK, 'remux-out.mkv');
  const times = [];
  const rss = [];
  let err;
  await warmCache(A);
  for (let i = 0; i < reps; i++) {
    rmSync(outFile, { force: true });
    const r = await run('/usr/bin/time', ['-f', 'MAXRSS %M', process.execPath, CLI, 'remux', A, outFile], {
      timeoutMs: 20 * 60_000,
    });
    const m = r.stderr.match(/MAXRSS (\d+)/);
    if (r.code !== 0 || fileSize(outFile) === 0) {
      err = `exit ${r.code}${r.timedOut ? ' (timed out)' : ''}, output ${fileSize(outFile)} bytes: ${
        r.stderr
          .replace(/MAXRSS \d+/, '')
          .trim()
          .split('\n')
          .slice(-2)
          .join(' ') ||
        r.stdout.trim().split('\n').slice(-1)[0] ||
        ''
      }`;
      log(`remux: ${err}`);
      break;
    }
    times.push(r.seconds);
    rss.push(m ? Number(m[1]) : NaN);
    log(`remux rep ${i + 1}/${reps}: ${fmt(info.size / MB / r.seconds)} MB/s (wall, incl. node start)`);
  }
  if (times.length === 0) {
    rmSync(outFile, { force: true });
    return { error: err, markdown: `Not measured: \`mkvserve remux\` failed: ${err}` };
  }
  // Cross-check the output once: same number of packets as the input, and ffmpeg reads it without errors.
  let check = 'not checked (no ffprobe)';
  if (which('ffprobe')) {
    const p = await probe(outFile).catch((e) => ({ error: String(e.message ?? e) }));
    const v = await run('ffmpeg', [
      '-v',
      'error',
      '-nostdin',
      '-i',
      outFile,
      '-map',
      '0',
      '-c',
      'copy',
      '-f',
      'null',
      '-',
    ]);
    check = p.error
      ? `ffprobe failed: ${p.error.slice(0, 200)}`
      : `${p.packets.toLocaleString('en-US')} packets (input ${info.packets.toLocaleString('en-US')})${p.packets === info.packets ? '' : ' MISMATCH'}, ffmpeg read ${v.code === 0 && !v.stderr.trim() ? 'clean' : `with errors: ${v.stderr.trim().split('\n')[0]}`}, duration ${fmt(p.duration, 2)} s`;
    rmSync(`${outFile}.json`, { force: true });
  }
  const seconds = median(times);
  // The CLI's own start-up (node + yargs + imports), measured as `mkvserve --version`, to show the
  // steady-state remux speed next to the wall-clock figure.
  const st = [];
  for (let i = 0; i < 3; i++) {
    const v = await run(process.execPath, [CLI, '--version']);
    if (v.code === 0) st.push(v.seconds);
  }
  const startup = median(st);
  const res = {
    seconds,
    startup,
    mbpsNoStartup: seconds > startup ? info.size / MB / (seconds - startup) : NaN,
    mbps: info.size / MB / seconds,
    maxRssKiB: Math.max(...rss),
    outSize: fileSize(outFile),
    check,
    reps: times.length,
    error: err,
  };
  rmSync(outFile, { force: true });
  res.markdown = mdTable(
    [
      'input',
      'MB/s (wall, incl. node start)',
      'MB/s excluding CLI start-up',
      'median s',
      'CLI start-up s (`--version`)',
      'peak RSS MiB',
      'output',
      'check',
    ],
    [
      [
        `${fmt(info.size / MB, 1)} MB`,
        fmt(res.mbps, 0),
        fmt(res.mbpsNoStartup, 0),
        fmt(seconds, 3),
        fmt(startup, 3),
        fmt(res.maxRssKiB / 1024, 1),
        `${fmt(res.outSize / MB, 1)} MB`,
        check + (err ? `; a later rep failed: ${err}` : ''),
      ],
    ],
  );
  return res;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const o = parseArgs(process.argv.slice(2), { defaults: { ...PARSE_DEFAULTS }, flags: ['quick', 'big'] });
  if (o.quick) applyDefaults(o, PARSE_QUICK);
  runParseBench(o).then(
    (md) => process.stdout.write(`${md}\n`),
    (e) => {
      console.error(e);
      process.exitCode = 1;
    },
  );
}
