// The ebml core must run in browsers: no file in packages/ebml/src outside node/ may import `node:`
// modules (or bare Node built-ins) or use Buffer / process.
import t from 'tap';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const src = join(dirname(fileURLToPath(import.meta.url)), '..', 'src');

function walk(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) {
      if (p !== join(src, 'node')) walk(p, out);
    } else if (p.endsWith('.ts')) out.push(p);
  }
  return out;
}

/** Source without comments and string contents of comments (keeps import specifiers). */
function code(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`\\])\/\/.*$/gm, '$1');
}

const builtins = new Set(builtinModules);
const files = walk(src);

t.ok(files.length >= 5, 'found the core sources');
for (const f of files) {
  const rel = relative(src, f);
  const c = code(readFileSync(f, 'utf8'));
  const specs = [
    ...c.matchAll(
      /(?:import|export)\s[^;]*?from\s*['"]([^'"]+)['"]|import\s*\(\s*['"]([^'"]+)['"]\s*\)|import\s+['"]([^'"]+)['"]/g,
    ),
  ].map((m) => m[1] ?? m[2] ?? m[3]);
  const bad = specs.filter((s) => s.startsWith('node:') || builtins.has(s) || builtins.has(s.split('/')[0]));
  t.same(bad, [], `${rel}: no Node built-in imports`);
  t.notMatch(c, /\bBuffer\b/, `${rel}: no Buffer`);
  t.notMatch(c, /\bprocess\s*[.[]/, `${rel}: no process`);
  t.notMatch(c, /\brequire\s*\(/, `${rel}: no require`);
  t.notMatch(c, /\bconsole\s*\./, `${rel}: prints nothing`);
}
