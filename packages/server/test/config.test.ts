// The one defaults table and resolver (config.ts) and the YAML config file (config-file.ts): errors name
// the key path, the line and what was expected, one line each; unknown keys are errors; layers override
// key by key; secrets come from literals, files or the environment; reload diffs; the example file
// matches the defaults table key by key; no setting default is written a second time in the sources.
import t from 'tap';
import { mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import {
  ConfigError,
  MOUNT_DEFAULTS,
  SERVER_DEFAULTS,
  diffConfigs,
  parseLayer,
  resolveConfig,
  resolveConfigFrom,
} from '../src/config.js';
import { loadConfigFile, parseConfigText } from '../src/config-file.js';
import { LiveStream } from '@mkvserve/fanout';
import { ROOT } from '../testlib/helpers.js';

const EXAMPLE = join(ROOT, 'mkvserve.example.yaml');
const SRC = join(ROOT, 'packages/server/src');

function errorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

t.test('defaults: a mount gets every default; the fanout defaults come from the fanout', async (t) => {
  const c = resolveConfig([parseLayer({ mounts: { cam: { input: 'x.mkv' } } })], { env: {} });
  t.same(c.server, { ...SERVER_DEFAULTS, adminToken: undefined });
  t.same(c.mounts, [{ name: 'cam', input: 'x.mkv', ...MOUNT_DEFAULTS, token: undefined }]);
  const f = new LiveStream().options;
  t.equal(MOUNT_DEFAULTS.slowClients.softLimitMs * 1e6, f.softLimitNs);
  t.equal(MOUNT_DEFAULTS.history.maxBytes, f.historyMaxBytes);
  t.equal(MOUNT_DEFAULTS.join, f.join);
});

t.test('layers override key by key, nested groups too; mounts keep their order', async (t) => {
  const file = parseLayer({
    server: { port: 9000, flushMs: 50 },
    mounts: { b: { input: 'b.mkv', slowClients: { softLimitMs: 1000 } }, a: { input: 'a.mkv', loop: true } },
  });
  const cli = parseLayer({
    server: { port: 9100 },
    mounts: { b: { slowClients: { hardLimitMs: 9000 } }, c: { input: '-' } },
  });
  const c = resolveConfig([file, cli], { env: {} });
  t.equal(c.server.port, 9100, 'the later layer wins');
  t.equal(c.server.flushMs, 50, 'keys it does not set stay');
  t.same(
    c.mounts.map((m) => m.name),
    ['b', 'a', 'c'],
  );
  t.same(c.mounts[0].slowClients, { softLimitMs: 1000, hardLimitMs: 9000, idleTimeoutMs: 10_000 });
  t.equal(c.mounts[1].loop, true);
});

t.test('every error names the key path and what was expected, one line each', async (t) => {
  const e = errorOf(() =>
    parseConfigText(
      [
        'server:',
        '  port: abc',
        '  bogus: 1',
        'mounts:',
        '  cam: { input: "tcp://0.0.0.0:9000?listen", loop: yes }',
        '  api: { input: x.mkv }',
        '  live: { input: push, token: a, tokenEnv: B }',
        '  m: { input: "ftp://x", join: now, speed: 0 }',
        '  "a.b": { input: x.mkv }',
      ].join('\n'),
      'test.yaml',
    ),
  );
  const lines = e.message.split('\n');
  t.equal(lines[0], 'invalid configuration in test.yaml:');
  t.same(
    lines
      .slice(1)
      .map((l) => l.trim())
      .sort(),
    [
      'line 2: server.port: expected an integer from 0 to 65535, got "abc"',
      `line 3: server.bogus: unknown key (known keys: ${Object.keys(SERVER_DEFAULTS).join(', ')}, adminToken, adminTokenFile, adminTokenEnv)`,
      'line 5: mounts.cam.loop: expected true or false, got "yes"',
      'line 8: mounts.m.speed: expected a number from 0.01 to 1000, got 0',
      'line 8: mounts.m.join: expected one of "latest-keyframe", "next-keyframe", got "now"',
      'line 6: mounts.api: mount name "api" is reserved (api, metrics, status, admin are routes of the server)',
      'line 8: mounts.m.input: unsupported input "ftp://..." (expected a file path, -, http(s)://, tcp://HOST:PORT?listen or push)',
      'line 9: mounts.a.b: invalid mount name "a.b": one URL path segment of up to 64 letters, digits, "-", "_" or "~", starting with a letter or digit',
      'line 7: mounts.live.tokenEnv: give only one of token, tokenFile and tokenEnv (got token and tokenEnv)',
    ].sort(),
  );
  t.equal(e.issues.length, 9);
});

t.test('YAML syntax errors name the line; top-level shape errors are clear', async (t) => {
  t.match(
    errorOf(() => parseConfigText('server:\n  port: [1,\n', 'x.yaml')).message,
    /x\.yaml:\n {2}line \d+, column \d+: /,
  );
  t.match(
    errorOf(() => parseConfigText('servers: {}\n', 'x.yaml')).message,
    /line 1: servers: unknown key \(known keys: server, mounts\)/,
  );
  t.match(
    errorOf(() => parseConfigText('- a\n', 'x.yaml')).message,
    /\(top level\): expected a mapping with "server" and "mounts", got a list/,
  );
  t.match(
    errorOf(() => parseConfigText('mounts: [a]\n', 'x.yaml')).message,
    /mounts: expected a mapping of mount names/,
  );
  t.same(parseConfigText('', 'empty.yaml'), {}, 'an empty file is an empty layer');
  t.match(
    errorOf(() => loadConfigFile('/nonexistent/mkvserve.yaml')).message,
    /cannot read the config file: file not found/,
  );
});

t.test('a mount without an input, and inconsistent values, fail at resolve time', async (t) => {
  const e = errorOf(() =>
    resolveConfig(
      [parseLayer({ mounts: { a: { loop: true }, b: { input: 'x', backoffMs: 5000, maxBackoffMs: 100 } } })],
      {
        env: {},
      },
    ),
  );
  t.match(e.message, /^mounts\.a\.input: every mount needs an input/m);
  t.match(e.message, /^mounts\.b\.maxBackoffMs: must not be less than backoffMs/m);
});

t.test('secrets: literal, file, environment; $MKVSERVE_ADMIN_TOKEN; later layers win', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mkvserve-cfg-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, 'from-file\n');
  const env = { MKVSERVE_ADMIN_TOKEN: 'from-default-env', MY_TOKEN: 'from-env' };
  const one = (server: object, e: NodeJS.ProcessEnv = env) =>
    resolveConfig([parseLayer({ server, mounts: { a: { input: 'x' } } })], { env: e }).server.adminToken;
  t.equal(one({}), 'from-default-env');
  t.equal(one({}, {}), undefined);
  t.equal(one({ adminToken: 'lit' }), 'lit');
  t.equal(one({ adminTokenFile: tokenFile }), 'from-file', 'trailing newline dropped');
  t.equal(one({ adminTokenEnv: 'MY_TOKEN' }), 'from-env');
  const file = parseLayer({ server: { adminToken: 'in-file' }, mounts: { a: { input: 'x', tokenEnv: 'MY_TOKEN' } } });
  const cli = parseLayer({ server: { adminTokenFile: tokenFile } });
  const c = resolveConfig([file, cli], { env });
  t.equal(c.server.adminToken, 'from-file', 'the command line file overrides the literal in the config file');
  t.equal(c.mounts[0].token, 'from-env');
  const e = errorOf(() =>
    resolveConfig(
      [
        parseLayer({
          server: { adminTokenFile: join(dir, 'missing') },
          mounts: { a: { input: 'x', tokenEnv: 'UNSET_VAR' } },
        }),
      ],
      { env: {}, origins: ['conf.yaml'] },
    ),
  );
  t.match(e.message, /server\.adminTokenFile \(conf\.yaml\): cannot read .*missing: file not found/);
  t.match(e.message, /mounts\.a\.tokenEnv \(conf\.yaml\): the environment variable UNSET_VAR is not set or empty/);
  t.notMatch(e.message, /from-/, 'no secret value in the error');
});

t.test('reload diff: added, removed, changed, unchanged', async (t) => {
  const a = resolveConfigFrom(
    [{ mounts: { keep: { input: 'a.mkv' }, change: { input: 'b.mkv' }, gone: { input: 'c.mkv' } } }],
    { env: {} },
  );
  const b = resolveConfigFrom(
    [
      {
        server: { port: 9000 },
        mounts: { keep: { input: 'a.mkv' }, change: { input: 'b.mkv', loop: true }, fresh: { input: '-' } },
      },
    ],
    { env: {} },
  );
  t.same(diffConfigs(a, b), {
    added: ['fresh'],
    removed: ['gone'],
    changed: ['change'],
    unchanged: ['keep'],
    serverChanged: ['port'],
  });
  t.same(diffConfigs(a, a), {
    added: [],
    removed: [],
    changed: [],
    unchanged: ['keep', 'change', 'gone'],
    serverChanged: [],
  });
});

t.test('mkvserve.example.yaml validates and documents every key with its default', async (t) => {
  const layer = loadConfigFile(EXAMPLE);
  const c = resolveConfig([layer], { env: { MKVSERVE_LIVE_TOKEN: 'x' } });
  t.same(
    c.mounts.map((m) => m.name),
    ['movie', 'cam', 'live', 'demo'],
  );
  const text = readFileSync(EXAMPLE, 'utf8');
  const raw = parseYaml(text) as { server: Record<string, unknown>; mounts: { movie: Record<string, unknown> } };
  const lines = text.split('\n');
  const documented = (key: string, indent: string): void => {
    const i = lines.findIndex((l) => l.startsWith(`${indent}${key}:`) || l.startsWith(`${indent}# ${key}:`));
    t.ok(i > 0, `${key} is in the example`);
    t.match(lines[i - 1].trim(), /^#/, `${key} has a comment`);
  };
  for (const [k, v] of Object.entries(SERVER_DEFAULTS)) {
    documented(k, '  ');
    if (v !== undefined) t.same(raw.server[k], v, `server.${k} shows the default`);
  }
  for (const k of ['adminTokenFile']) documented(k, '  ');
  for (const [k, v] of Object.entries(MOUNT_DEFAULTS)) {
    documented(k, '    ');
    if (v !== undefined) t.same(raw.mounts.movie[k], v, `mounts.movie.${k} shows the default`);
  }
  for (const k of ['tokenFile', 'input']) documented(k, '    ');
});

t.test('no setting default is written a second time in the server sources', async (t) => {
  // A `?? <number>` fallback outside config.ts would be a second default. The allowed ones are not
  // settings of the defaults table (arithmetic identities, input-opening timeouts, pacer internals) or
  // live in files other helpers own.
  const allowed = new Map([
    ['inputs/pacer.ts', ['1000', '5000']], // re-anchor thresholds of the pacer, not settings
    ['inputs/open.ts', ['15_000', '30_000', '5']], // HTTP input timeouts and redirects of openInput()
    ['http/stream.ts', ['40', '512']], // the stream helper's Flusher (owned by the fanout work)
  ]);
  const files: string[] = [];
  const walk = (d: string): void => {
    for (const f of readdirSync(d)) {
      const p = join(d, f);
      if (statSync(p).isDirectory()) walk(p);
      else if (p.endsWith('.ts')) files.push(p);
    }
  };
  walk(SRC);
  for (const f of files) {
    const rel = f.slice(SRC.length + 1);
    if (rel === 'config.ts' || rel.startsWith('commands/')) continue;
    const src = readFileSync(f, 'utf8');
    for (const m of src.matchAll(/\?\?\s*\(?\s*([0-9][0-9_.]*)/g)) {
      const v = m[1];
      if (v === '0' || v === '1') continue;
      t.ok(allowed.get(rel)?.includes(v), `${rel}: "?? ${v}" is a default outside the defaults table`);
    }
  }
});
