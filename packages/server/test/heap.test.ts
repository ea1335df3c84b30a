// capYoungGeneration: once V8's new space reached the cap it stops doubling (the growth factor is read
// at every growth). Process-wide and dependent on a fresh heap, so each case runs in its own child
// process doing the same survivor-heavy churn (objects that live through a few scavenges, like writes
// in flight): without a cap V8 grows the new space to its 32 MiB maximum, with one it stays small.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { capYoungGeneration } from '../src/heap.js';

const heapJs = fileURLToPath(new URL('../dist/heap.js', import.meta.url));
const child = `
import v8 from 'node:v8';
const { capYoungGeneration } = await import(${JSON.stringify(heapJs)});
capYoungGeneration(Number(process.argv[1]));
const newSpace = () => v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size;
let keep = [];
for (let round = 0; round < 200; round++) {
  for (let i = 0; i < 15000; i++) { keep.push({ a: i, b: [i] }); if (keep.length > 40000) keep = []; }
  await new Promise((r) => setImmediate(r));
}
process.stdout.write(String(newSpace() / 1048576));
`;

function newSpaceAfterChurn(capMiB: number): number {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', child, String(capMiB)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  return Number(r.stdout);
}

t.test('0 or less: no cap, nothing to stop', async (t) => {
  t.type(capYoungGeneration(0), 'function');
  t.type(capYoungGeneration(-1), 'function');
});

t.test('without a cap the churn grows the new space; with one it stays near the cap', async (t) => {
  const free = newSpaceAfterChurn(0);
  const capped = newSpaceAfterChurn(4);
  t.ok(free >= 16, `uncapped new space grew to ${free} MiB`);
  // The check runs after GCs between event-loop turns: it may overshoot by a doubling.
  t.ok(capped <= 8, `capped at 4 MiB: new space ${capped} MiB`);
  t.ok(capped < free, 'the cap made a difference');
});
