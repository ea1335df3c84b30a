// No import cycles in packages/*/src: every relative import (static, `import type`, re-exports and
// dynamic `import()`) is an edge; a depth-first search over the graph must find no back edge. A cycle
// such as status.ts -> server.ts -> status.ts fails this test with the cycle spelled out.
import t from 'tap';
import { readdirSync, readFileSync, statSync, existsSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { ROOT } from '../testlib/helpers.js';

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const f of readdirSync(dir)) {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) out.push(...sources(p));
    else if (/\.ts$/.test(f) && !f.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

const IMPORT =
  /(?:import|export)\s+(?:type\s+)?(?:[^'"`;]*?\sfrom\s+)?['"](\.{1,2}\/[^'"]+)['"]|import\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g;

function importGraph(files: string[]): Map<string, string[]> {
  const g = new Map<string, string[]>();
  for (const f of files) {
    const src = readFileSync(f, 'utf8');
    const deps: string[] = [];
    for (const m of src.matchAll(IMPORT)) {
      const spec = (m[1] ?? m[2]).replace(/\.js$/, '.ts');
      const target = resolve(dirname(f), spec);
      if (existsSync(target)) deps.push(target);
    }
    g.set(f, deps);
  }
  return g;
}

function findCycle(g: Map<string, string[]>): string[] | undefined {
  const state = new Map<string, 1 | 2>();
  const stack: string[] = [];
  const visit = (n: string): string[] | undefined => {
    state.set(n, 1);
    stack.push(n);
    for (const d of g.get(n) ?? []) {
      if (state.get(d) === 1) return [...stack.slice(stack.indexOf(d)), d];
      if (state.get(d) === undefined) {
        const c = visit(d);
        if (c) return c;
      }
    }
    stack.pop();
    state.set(n, 2);
    return undefined;
  };
  for (const n of g.keys()) {
    if (state.get(n) === undefined) {
      const c = visit(n);
      if (c) return c;
    }
  }
  return undefined;
}

t.test('the checker finds a cycle when there is one', async (t) => {
  const g = new Map([
    ['a', ['b']],
    ['b', ['c']],
    ['c', ['a']],
    ['d', []],
  ]);
  t.same(findCycle(g), ['a', 'b', 'c', 'a']);
  t.equal(
    findCycle(
      new Map([
        ['a', ['b']],
        ['b', []],
      ]),
    ),
    undefined,
  );
});

for (const pkg of readdirSync(join(ROOT, 'packages'))) {
  const src = join(ROOT, 'packages', pkg, 'src');
  if (!existsSync(src)) continue;
  t.test(`packages/${pkg}/src has no import cycle`, async (t) => {
    const files = sources(src);
    const g = importGraph(files);
    const edges = [...g.values()].reduce((n, d) => n + d.length, 0);
    t.ok(edges > 0 || files.length < 2, `${files.length} modules, ${edges} imports`);
    const cycle = findCycle(g);
    t.equal(cycle?.map((f) => relative(src, f)).join(' -> '), undefined, 'no cycle');
  });
}
