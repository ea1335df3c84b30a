// Reads a V8 .cpuprofile (node --cpu-prof) and splits its samples by where the time went: idle, garbage
// collection, native socket writes (the C++ writev/writeBuffer bindings: the kernel copy and syscall),
// other native/VM work, Node's own JS (streams, net), mkvserve's JS (packages/*) and other JS. Self time
// by sample count (V8 samples at a fixed interval, idle included).
import { readFileSync } from 'node:fs';

const WRITES = /^(writev|writeBuffer|write(Utf8|Latin1|Ascii|Ucs2)String)$/;

export function categorize(frame) {
  const { functionName: fn, url } = frame;
  if (fn === '(idle)') return 'idle';
  if (fn === '(garbage collector)') return 'gc';
  if (fn === '(program)' || fn === '(root)') return 'native';
  if (!url) return WRITES.test(fn) ? 'writes' : 'native';
  if (url.startsWith('node:')) return 'nodeJs';
  if (url.includes('/packages/')) return 'ours';
  return 'otherJs';
}

export function summarizeProfile(file, topN = 20) {
  const prof = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const counts = new Map();
  for (const id of prof.samples) counts.set(id, (counts.get(id) ?? 0) + 1);
  const cat = { idle: 0, gc: 0, writes: 0, native: 0, nodeJs: 0, ours: 0, otherJs: 0 };
  const fns = new Map();
  let total = 0;
  for (const [id, c] of counts) {
    const n = byId.get(id);
    const k = categorize(n.callFrame);
    cat[k] += c;
    total += c;
    const where = n.callFrame.url
      ? `${n.callFrame.url.replace(/^.*\/packages\//, 'packages/')}:${n.callFrame.lineNumber + 1}`
      : `(${k})`;
    const key = `${n.callFrame.functionName || '(anonymous)'}\t${where}`;
    fns.set(key, (fns.get(key) ?? 0) + c);
  }
  const pct = {};
  for (const [k, v] of Object.entries(cat)) pct[k] = total > 0 ? (v / total) * 100 : NaN;
  const busy = total - cat.idle;
  const top = [...fns.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, topN)
    .map(([k, v]) => {
      const [name, where] = k.split('\t');
      return { name, where, pct: (v / total) * 100 };
    });
  const f = (x) => x.toFixed(1);
  const line =
    `${total} samples: idle ${f(pct.idle)} %, GC ${f(pct.gc)} %, socket writes ${f(pct.writes)} %, ` +
    `other native ${f(pct.native)} %, Node JS ${f(pct.nodeJs)} %, mkvserve JS ${f(pct.ours)} %, other JS ${f(pct.otherJs)} %` +
    ` (busy ${f((busy / total) * 100)} %)`;
  return { samples: total, pct, top, line };
}

if (process.argv[1] && process.argv[1].endsWith('cpuprofile.mjs')) {
  for (const f of process.argv.slice(2)) {
    const s = summarizeProfile(f);
    console.log(`${f}\n  ${s.line}`);
    for (const t of s.top) console.log(`  ${t.pct.toFixed(2).padStart(6)} %  ${t.name}  ${t.where}`);
  }
}
