#!/usr/bin/env node
// Long fuzz run of @mkvserve/ebml (the test suite runs the same fuzzer for a few seconds): mutated
// fixtures through the demuxer, reader and muxer, checking the properties listed in bench/fuzz-lib.mjs.
// Reports how many inputs were tried, inputs per second, failures per property and peak RSS.
//
//   node bench/fuzz.mjs [--seconds 60] [--seed 1] [--only INDEX] [--save DIR]
//
// Build first (`pnpm build`). A failure prints its seed and index: `--seed S --only I` replays that input,
// `--save DIR` writes each failing input to DIR for a regression test.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { fuzz } from './fuzz-lib.mjs';

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : fallback;
};
const seconds = Number(arg('seconds', '60'));
const seed = Number(arg('seed', String(Date.now() % 100000)));
const only = arg('only', undefined);
const save = arg('save', undefined);
if (!(seconds > 0) || !Number.isInteger(seed)) {
  console.error('usage: node bench/fuzz.mjs [--seconds N] [--seed S] [--only INDEX] [--save DIR]');
  process.exit(2);
}
if (save) mkdirSync(save, { recursive: true });

console.log(
  `fuzz: seed ${seed}, ${only !== undefined ? `input ${only}` : `${seconds} s`}, node ${process.version}, ${cpus().length} cores (${cpus()[0]?.model ?? '?'})`,
);
let shown = 0;
const r = await fuzz({
  seconds,
  seed,
  ...(only !== undefined ? { only: Number(only) } : {}),
  onFailure(f) {
    if (save) writeFileSync(join(save, `fuzz-${f.seed}-${f.index}.mkv`), f.bytes);
    if (shown++ >= 20) return;
    console.log(`FAIL seed ${f.seed} index ${f.index} (${f.name}; ${f.steps.join('; ')})`);
    for (const [p, d] of f.fails.slice(0, 3)) console.log(`  ${p}: ${d}`);
  },
});
console.log(
  `fuzz: ${r.inputs} inputs (${(r.bytes / 1e6).toFixed(1)} MB) in ${r.seconds.toFixed(1)} s = ${(r.inputs / r.seconds).toFixed(0)} inputs/s; ` +
    `${r.failures} failing; peak RSS ${(r.peakRss / 1048576).toFixed(0)} MiB`,
);
if (r.failures) console.log(`fuzz: failures by property: ${JSON.stringify(r.byProperty)}`);
process.exit(r.failures ? 1 : 0);
