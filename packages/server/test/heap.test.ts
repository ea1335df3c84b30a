// The young-generation cap (../src/heap.ts): V8's new space grows by doubling when enough objects
// survived scavenges, and the cap keeps the growth factor at 1 once one more doubling would pass it.
// Process-wide and dependent on a fresh heap, so each case runs in its own child process doing the
// same survivor-heavy churn (objects that live through a few scavenges, like writes in flight): without
// a cap V8 grows the new space to its 32 MiB maximum. A start-up stretch (synchronous churn, no turn for
// the check to run) is what took the serve command past its cap before holdYoungGeneration.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { capYoungGeneration } from '../src/heap.js';
import { FIX, runCli, waitFor } from '../testlib/helpers.js';

const heapJs = fileURLToPath(new URL('../dist/heap.js', import.meta.url));
// argv: [hold (0/1), synchronous start-up churn rounds, cap MiB]; prints the new space's largest size
// seen after the cap was set, and its size at the end, in MiB.
const child = `
const { holdYoungGeneration, capYoungGeneration, newSpaceBytes } = await import(${JSON.stringify(heapJs)});
const [hold, startup, cap] = process.argv.slice(1).map(Number);
let keep = [];
const churn = () => { for (let i = 0; i < 15000; i++) { keep.push({ a: i, b: [i] }); if (keep.length > 40000) keep = []; } };
if (hold) holdYoungGeneration();
for (let round = 0; round < startup; round++) churn();
capYoungGeneration(cap);
let max = newSpaceBytes();
for (let round = 0; round < 200; round++) {
  churn();
  max = Math.max(max, newSpaceBytes());
  await new Promise((r) => setImmediate(r));
}
process.stdout.write(JSON.stringify({ max: max / 1048576, end: newSpaceBytes() / 1048576 }));
`;

function churned(hold: boolean, startupRounds: number, capMiB: number): { max: number; end: number } {
  const r = spawnSync(
    process.execPath,
    ['--input-type=module', '-e', child, hold ? '1' : '0', String(startupRounds), String(capMiB)],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout) as { max: number; end: number };
}

t.test('0 or less: no cap, nothing to stop', async (t) => {
  t.type(capYoungGeneration(0), 'function');
  t.type(capYoungGeneration(-1), 'function');
});

// The check runs after GCs, between event-loop turns: within one synchronous stretch V8 may double the
// space again before it runs, so "at the cap" is asserted with that one doubling of slack (seen in CI,
// with coverage on: the 4 MiB cap ended at 8).
t.test('without a cap the churn grows the new space; with one it stays at the cap', async (t) => {
  const free = churned(false, 0, 0);
  t.ok(free.end >= 16, `uncapped new space grew to ${free.end} MiB`);
  const capped = churned(false, 0, 4);
  t.ok(capped.max <= 8, `capped at 4 MiB: new space at most ${capped.max} MiB`);
  t.ok(capped.max < free.end, 'the cap made a difference');
});

t.test('a start-up stretch before the cap is set: held, the new space does not grow past the cap', async (t) => {
  // 100 rounds of churn with no turn in between, as module loading and configuration are.
  const unheld = churned(false, 100, 4);
  t.ok(unheld.max >= 16, `not held, start-up took it to ${unheld.max} MiB before the cap was set`);
  const held = churned(true, 100, 4);
  t.ok(held.max <= 8, `held: at most ${held.max} MiB`);
  // Held, then no cap: V8's own growth again.
  t.ok(churned(true, 100, 0).end >= 16, 'held, then a cap of 0: V8 grows it as before');
});

t.test('the serve command: start-up leaves the new space within --young-gen-mb', async (t) => {
  // A probe imported into the real CLI prints the new space's size 1.5 s after start (the server is up
  // and streaming by then). Before the hold, start-up alone took it to 16 MiB whatever the cap.
  const dir = mkdtempSync(join(tmpdir(), 'mkvserve-heap-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const probe = join(dir, 'probe.mjs');
  writeFileSync(
    probe,
    `import { newSpaceBytes } from ${JSON.stringify(pathToFileURL(heapJs).href)};
setTimeout(() => process.stderr.write('NEWSPACE ' + newSpaceBytes() + '\\n'), 1500).unref();`,
  );
  const run = runCli(['--port', '0', '--young-gen-mb', '4', '--loop', FIX('vp9-opus.webm')], {
    stdin: 'ignore',
    nodeArgs: ['--import', pathToFileURL(probe).href],
  });
  t.teardown(() => run.child.kill('SIGKILL'));
  await waitFor(() => /NEWSPACE \d+/.test(run.stderr()), 20_000, 'the probe line');
  const bytes = Number(/NEWSPACE (\d+)/.exec(run.stderr())![1]);
  // (The previous build: 32 MiB here. One doubling of slack, as above.)
  t.ok(bytes <= 8 * 1048576, `new space ${bytes / 1048576} MiB with --young-gen-mb 4`);
});
