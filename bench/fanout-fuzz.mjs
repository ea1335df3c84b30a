// The fanout fuzz test (packages/fanout/test/fuzz.test.ts) run for longer: mutated and spliced inputs,
// header changes, duplicate/undeclared tracks and timestamp jumps through demuxer -> LiveStream ->
// subscribers joining at random moments; every subscriber's bytes must re-demux cleanly (a sample also
// through ffprobe). Prints how many inputs were tried.
// Usage: node bench/fanout-fuzz.mjs [--seconds 600] [--seed N] [--ffprobe 200]
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { ROOT, log, parseArgs } from './lib/common.mjs';

const o = parseArgs(process.argv.slice(2), { defaults: { seconds: 600, seed: Date.now() % 1e9, ffprobe: 200 } });
log(`fanout fuzz: seed ${o.seed}, ${o.seconds} s, up to ${o.ffprobe} outputs through ffprobe`);
const tap = join(ROOT, 'node_modules/.bin/tap');
const child = spawn(
  tap,
  ['--disable-coverage', '--timeout', String(o.seconds + 300), 'packages/fanout/test/fuzz.test.ts'],
  {
    cwd: ROOT,
    env: {
      ...process.env,
      MKVSERVE_FUZZ_MS: String(o.seconds * 1000),
      MKVSERVE_FUZZ_SEED: String(o.seed),
      MKVSERVE_FUZZ_FFPROBE: String(o.ffprobe),
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  },
);
let out = '';
child.stdout.setEncoding('utf8').on('data', (d) => (out += d));
child.on('close', (code) => {
  const tried = out.match(/# (\d+ inputs, .*)/);
  process.stdout.write(`${tried ? tried[1] : 'no summary line'}\n`);
  if (code !== 0) {
    process.stdout.write(
      out
        .split('\n')
        .filter((l) => /case \d+|not ok/.test(l))
        .slice(0, 20)
        .join('\n') + '\n',
    );
    process.stdout.write(`FAILED (seed ${o.seed}): rerun with MKVSERVE_FUZZ_SEED=${o.seed}\n`);
    process.exitCode = 1;
  }
});
