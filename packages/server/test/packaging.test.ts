// The packages as a user gets them: each one packed with `pnpm pack` (which rewrites `workspace:*` to the
// real version), the tarballs installed with `npm install` into a scratch project, offline (a fresh empty
// npm cache and --offline: the third-party dependencies are packed from the workspace's own install, so
// this works without a registry, in CI too), then loaded with `import` and with `require()` (Node >= 20.19
// require(esm); a top-level await anywhere in the graph would break it), the `mkvserve` command run, and a
// server started from the installed package. Also: `"sideEffects": false` lets a browser bundle of
// `import { readSize } from '@mkvserve/ebml'` stay tiny (esbuild, with a same-run baseline that ignores
// the field).
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { build } from 'esbuild';
import type { Plugin } from 'esbuild';
import { ROOT } from '../testlib/helpers.js';

const PACKAGES = [
  { dir: 'packages/ebml', name: '@mkvserve/ebml', tarball: 'mkvserve-ebml' },
  { dir: 'packages/fanout', name: '@mkvserve/fanout', tarball: 'mkvserve-fanout' },
  { dir: 'packages/server', name: 'mkvserve', tarball: 'mkvserve' },
];

interface PackageJson {
  name: string;
  version: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  [k: string]: unknown;
}

const readJson = (p: string): PackageJson => JSON.parse(readFileSync(p, 'utf8')) as PackageJson;

function sh(cmd: string, args: string[], cwd: string, env: Record<string, string> = {}): string {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', env: { ...process.env, ...env }, maxBuffer: 32 << 20 });
  if (r.status !== 0)
    throw new Error(`${cmd} ${args.join(' ')} (in ${cwd}) exited ${r.status}:\n${r.stderr}\n${r.stdout}`);
  return r.stdout;
}

/** Directory of `name` as Node would resolve it from `from` (the pnpm layout puts a package's dependencies
 *  beside it in node_modules/.pnpm/<pkg>/node_modules). */
function resolveDir(from: string, name: string): string | undefined {
  for (let d = from; ; d = dirname(d)) {
    const c = join(d, 'node_modules', name);
    if (existsSync(join(c, 'package.json'))) return realpathSync(c);
    if (dirname(d) === d) return undefined;
  }
}

interface Dep {
  dir: string;
  name: string;
  version: string;
  /** Names of the packages that depend on this exact copy. */
  parents: Set<string>;
}

/** Every third-party package (transitively) needed by the workspace packages, as installed. */
function thirdPartyDeps(): Dep[] {
  const byDir = new Map<string, Dep>();
  const walk = (dir: string): void => {
    const pkg = readJson(join(dir, 'package.json'));
    const deps = { ...pkg.dependencies, ...pkg.optionalDependencies };
    for (const [name, range] of Object.entries(deps)) {
      if (range.startsWith('workspace:')) continue;
      const d = resolveDir(dir, name);
      if (d === undefined) {
        if (pkg.optionalDependencies?.[name] !== undefined) continue;
        throw new Error(`${name} (a dependency of ${pkg.name}) is not installed: run pnpm install`);
      }
      const known = byDir.get(d);
      if (known) {
        known.parents.add(pkg.name);
        continue;
      }
      const v = readJson(join(d, 'package.json')).version;
      byDir.set(d, { dir: d, name, version: v, parents: new Set([pkg.name]) });
      walk(d);
    }
  };
  for (const p of PACKAGES) walk(join(ROOT, p.dir));
  return [...byDir.values()];
}

t.test('packed with pnpm, installed offline with npm, loaded with import and require()', async (t) => {
  const tmp = mkdtempSync(join(tmpdir(), 'mkvserve-pack-'));
  t.teardown(() => rmSync(tmp, { recursive: true, force: true }));
  const packs = join(tmp, 'packs');
  const deps = join(tmp, 'deps');
  const scratch = join(tmp, 'scratch');
  sh('mkdir', ['-p', packs, deps, scratch], tmp);

  // 1. pnpm pack each package (its prepack script builds it first).
  const license = readFileSync(join(ROOT, 'LICENSE'), 'utf8');
  const versions = new Map<string, string>();
  for (const p of PACKAGES) {
    const src = readJson(join(ROOT, p.dir, 'package.json'));
    versions.set(p.name, src.version);
    sh('npx', ['--yes', 'pnpm@10', 'pack', '--pack-destination', packs], join(ROOT, p.dir));
    const tgz = join(packs, `${p.tarball}-${src.version}.tgz`);
    t.ok(existsSync(tgz), `${p.name}: ${tgz}`);
    const files = sh('tar', ['-tzf', tgz], tmp).trim().split('\n');
    const manifest = JSON.parse(sh('tar', ['-xzOf', tgz, 'package/package.json'], tmp)) as PackageJson;
    t.notMatch(JSON.stringify(manifest), /workspace:/, `${p.name}: no workspace: ranges left`);
    for (const [dep, range] of Object.entries(manifest.dependencies ?? {}))
      if (dep.startsWith('@mkvserve/')) t.equal(range, src.version, `${p.name}: ${dep} pinned to ${src.version}`);
    t.equal(manifest.license, 'MIT');
    t.equal(sh('tar', ['-xzOf', tgz, 'package/LICENSE'], tmp), license, `${p.name}: LICENSE shipped`);
    t.match(manifest.repository, { type: 'git', directory: p.dir }, `${p.name}: repository`);
    t.type(manifest.homepage, 'string');
    t.match(manifest.bugs, { url: /^https:\/\// });
    t.match(manifest.publishConfig, { access: 'public' });
    if (p.name.startsWith('@')) t.equal(manifest.sideEffects, false, `${p.name}: sideEffects false`);
    t.ok(files.includes('package/dist/index.js') && files.includes('package/dist/index.d.ts'), `${p.name}: dist`);
    t.notOk(
      files.some((f) => /\/(test|testlib)\/|tsbuildinfo|node_modules/.test(f)),
      `${p.name}: no tests, build info or node_modules in the tarball`,
    );
  }

  // 2. The third-party dependencies, packed from the workspace's install (no registry needed).
  //    Made with tar, as npm would (a `package/` prefix): `npm pack` of an installed zod 4 dies with
  //    "Exit handler never called" (npm 11), and these directories are already what npm installed.
  const third = thirdPartyDeps();
  const tgzPath = (d: Dep): string => join(deps, `${d.name.replace(/^@/, '').replace('/', '-')}-${d.version}.tgz`);
  for (const d of third)
    sh('tar', ['--hard-dereference', '-czf', tgzPath(d), '--transform', 's,^\\.,package,', '-C', d.dir, '.'], tmp);
  const tgzOf = (d: Dep): string => `file:${tgzPath(d)}`;

  // 3. A scratch project that depends on the tarballs. One copy of each name at the top; another version
  //    that a package needs goes under it through an npm override.
  const dependencies: Record<string, string> = {};
  for (const p of PACKAGES) dependencies[p.name] = `file:${join(packs, `${p.tarball}-${versions.get(p.name)}.tgz`)}`;
  const overrides: Record<string, Record<string, string>> = {};
  for (const d of third) {
    if (dependencies[d.name] === undefined) dependencies[d.name] = tgzOf(d);
    else if (dependencies[d.name] !== tgzOf(d))
      for (const parent of d.parents) (overrides[parent] ??= {})[d.name] = tgzOf(d);
  }
  writeFileSync(
    join(scratch, 'package.json'),
    JSON.stringify({ name: 'scratch', private: true, dependencies, overrides }, null, 2),
  );
  sh('npm', ['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts'], scratch, {
    npm_config_cache: join(tmp, 'empty-npm-cache'),
  });
  t.ok(existsSync(join(scratch, 'node_modules/mkvserve/package.json')), 'installed offline');
  t.same(readdirSync(join(scratch, 'node_modules/@mkvserve')).sort(), ['ebml', 'fanout']);

  // 4. import (ESM) and require() (CommonJS), from the installed copies only.
  const esm = sh(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `import * as server from 'mkvserve';
       import * as ebml from '@mkvserve/ebml';
       import * as node from '@mkvserve/ebml/node';
       import * as fanout from '@mkvserve/fanout';
       console.log(JSON.stringify({ server: Object.keys(server).sort(), ebml: typeof ebml.readSize,
         node: Object.keys(node).length, fanout: typeof fanout.LiveStream,
         where: import.meta.resolve('mkvserve') }));`,
    ],
    scratch,
  );
  const e = JSON.parse(esm) as { server: string[]; ebml: string; node: number; fanout: string; where: string };
  t.ok(e.server.includes('MkvServer') && e.server.includes('runServe'), 'import mkvserve');
  t.equal(e.ebml, 'function', 'import @mkvserve/ebml');
  t.ok(e.node > 0, 'import @mkvserve/ebml/node');
  t.equal(e.fanout, 'function', 'import @mkvserve/fanout');
  t.match(e.where, /scratch\/node_modules\/mkvserve\//, 'resolved to the installed copy');
  const cjs = spawnSync(
    process.execPath,
    [
      '-e',
      `const server = require('mkvserve'); const ebml = require('@mkvserve/ebml'); const fanout = require('@mkvserve/fanout');
       console.log(JSON.stringify({ server: Object.keys(server).sort(), ebml: typeof ebml.readSize, fanout: typeof fanout.LiveStream,
         where: require.resolve('mkvserve') }));`,
    ],
    { cwd: scratch, encoding: 'utf8' },
  );
  t.notMatch(cjs.stderr, /ERR_REQUIRE_ASYNC_MODULE/, 'no top-level await in the graph');
  t.equal(cjs.status, 0, `require() works: ${cjs.stderr}`);
  const c = JSON.parse(cjs.stdout) as { server: string[]; ebml: string; fanout: string; where: string };
  t.same(c.server, e.server, 'require(mkvserve) gives the same exports as import');
  t.equal(c.ebml, 'function');
  t.equal(c.fanout, 'function');
  t.match(c.where, /scratch\/node_modules\/mkvserve\//);

  // 5. The command, and a server started from the installed package (its demo clip ships with it).
  const bin = join(scratch, 'node_modules/.bin/mkvserve');
  t.equal(sh(bin, ['--version'], scratch).trim(), versions.get('mkvserve'), 'mkvserve --version');
  t.match(sh(bin, ['inspect', '--summary', join(scratch, 'node_modules/mkvserve/assets/demo.webm')], scratch), /webm/);
  const served = sh(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `import { MkvServer, demoPath } from 'mkvserve';
       import net from 'node:net';
       const s = new MkvServer({ port: 0, mounts: [{ name: 'demo', input: demoPath(), loop: true }] });
       await s.start();
       const bytes = await new Promise((resolve) => {
         const c = net.connect(s.port, '127.0.0.1', () => c.write('GET /demo HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n'));
         const parts = [];
         c.on('data', (d) => parts.push(d));
         setTimeout(() => { c.destroy(); resolve(Buffer.concat(parts)); }, 700);
       });
       await s.stop(0);
       const body = bytes.subarray(bytes.indexOf('\\r\\n\\r\\n') + 4);
       console.log(JSON.stringify({ status: bytes.toString('latin1', 9, 12), ebml: body.subarray(0, 4).toString('hex'), n: body.length }));`,
    ],
    scratch,
  );
  const sv = JSON.parse(served) as { status: string; ebml: string; n: number };
  t.equal(sv.status, '200', 'the installed server streams the demo');
  t.equal(sv.ebml, '1a45dfa3', 'starting with an EBML header');
  t.ok(sv.n > 10_000, `${sv.n} bytes in 0.7 s`);
});

t.test('"sideEffects": false: a browser bundle of one small import stays small', async (t) => {
  // Baseline in the same run: the same bundle with every module of our packages marked as having side
  // effects (what esbuild assumes without the field).
  const withoutField: Plugin = {
    name: 'without-sideEffects-field',
    setup(b) {
      b.onResolve({ filter: /^@mkvserve\/|^\.\.?\// }, async (args) => {
        if (args.pluginData === 'inner') return undefined;
        const r = await b.resolve(args.path, {
          kind: args.kind,
          resolveDir: args.resolveDir,
          importer: args.importer,
          pluginData: 'inner',
        });
        if (r.errors.length > 0 || !/packages\/(ebml|fanout)\//.test(r.path)) return undefined;
        return { path: r.path, sideEffects: true };
      });
    },
  };
  const bundle = async (code: string, baseline: boolean): Promise<number> => {
    const r = await build({
      stdin: { contents: code, resolveDir: join(ROOT, 'packages/server'), sourcefile: 'entry.js' },
      bundle: true,
      write: false,
      platform: 'browser',
      format: 'esm',
      minify: true,
      logLevel: 'silent',
      plugins: baseline ? [withoutField] : [],
    });
    return r.outputFiles[0].contents.length;
  };
  for (const [mod, name, max] of [
    ['@mkvserve/ebml', 'readSize', 1024],
    ['@mkvserve/fanout', 'primaryVideoTrack', 1024],
  ] as const) {
    const code = `import { ${name} } from '${mod}'; console.log(${name});`;
    const small = await bundle(code, false);
    const base = await bundle(code, true);
    t.ok(small <= max, `import { ${name} } from '${mod}': ${small} bytes (at most ${max})`);
    t.ok(
      base > 20 * small,
      `without the field: ${base} bytes (${(base / small).toFixed(0)}x; same run, esbuild, minified)`,
    );
  }
});
