// The ingest settings and their checks: tcp://HOST:PORT?listen syntax (127.0.0.1 when no host), the
// allowlist (addresses and CIDR ranges, IPv4-mapped IPv6 included), a push mount needs a token (or
// allowSources; $MKVSERVE_SOURCE_TOKEN as a fallback), Content-Range of GStreamer's PUTs.
import t from 'tap';
import { parseTcpListen } from '../src/ingest/tcp-spec.js';
import { AddressAllowlist, addressRuleProblem } from '../src/ingest/allowlist.js';
import { parseContentRange } from '../src/ingest/point.js';
import { ConfigError, MOUNT_DEFAULTS, parseLayer, resolveConfig, resolveConfigFrom } from '../src/config.js';
import { inputSpecProblem } from '../src/inputs/kinds.js';

t.test('tcp://HOST:PORT?listen', async (t) => {
  t.same(parseTcpListen('tcp://0.0.0.0:9000?listen'), {
    host: '0.0.0.0',
    port: 9000,
    display: 'tcp://0.0.0.0:9000?listen',
  });
  t.same(parseTcpListen('tcp://:9000?listen=1'), {
    host: '127.0.0.1',
    port: 9000,
    display: 'tcp://127.0.0.1:9000?listen',
  });
  t.same(parseTcpListen('tcp://[::]:9000/?listen'), { host: '::', port: 9000, display: 'tcp://[::]:9000?listen' });
  t.same(parseTcpListen('TCP://localhost:0?listen'), {
    host: 'localhost',
    port: 0,
    display: 'tcp://localhost:0?listen',
  });
  for (const [spec, re] of [
    ['tcp://1.2.3.4:9000', /only listening is supported/],
    ['tcp://1.2.3.4:9000?listen=0', /listen=0 would connect out/],
    ['tcp://1.2.3.4?listen', /a port is needed/],
    ['tcp://1.2.3.4:99999?listen', /at most 65535/],
    ['tcp://user:pw@1.2.3.4:9000?listen', /takes no user or password/],
    ['tcp://1.2.3.4:9000/path?listen', /invalid TCP listen input/],
    ['tcp://1.2.3.4:9000?listen&timeout=5', /unknown option "timeout"/],
  ] as const) {
    const r = parseTcpListen(spec);
    t.type(r, 'string', spec);
    t.match(r, re, spec);
    t.match(inputSpecProblem(spec), re, 'the config check says the same');
  }
});

t.test('allowlist: addresses and CIDR ranges, IPv4 and IPv6, mapped addresses', async (t) => {
  const a = new AddressAllowlist(['10.0.0.0/8', '192.0.2.7', '::1', 'fd00::/8']);
  for (const ok of ['10.1.2.3', '::ffff:10.1.2.3', '192.0.2.7', '::1', 'fd12::5']) t.ok(a.allows(ok), ok);
  for (const no of ['11.0.0.1', '192.0.2.8', '127.0.0.1', '::2', 'fe80::1', '', undefined, 'nonsense'])
    t.notOk(a.allows(no), String(no));
  t.equal(addressRuleProblem('10.0.0.0/8'), undefined);
  t.match(addressRuleProblem('10.0.0.0/33'), /at most 32/);
  t.match(addressRuleProblem('::/129'), /at most 128/);
  t.match(addressRuleProblem('example.com'), /not an address or CIDR range/);
  t.throws(() => new AddressAllowlist(['10.0.0.0/40']), /at most 32/);
});

t.test('Content-Range of a continuing PUT', async (t) => {
  t.same(parseContentRange('bytes 100-199/*'), { start: 100, end: 199 });
  t.same(parseContentRange('bytes 0-9/10'), { start: 0, end: 9 });
  t.equal(parseContentRange(undefined), undefined);
  t.equal(parseContentRange('bytes 10-5/*'), 'invalid');
  t.equal(parseContentRange('bytes=0-5'), 'invalid');
  t.equal(parseContentRange('items 0-5/*'), 'invalid');
});

t.test('config: ingest keys, their defaults and errors', async (t) => {
  t.equal(MOUNT_DEFAULTS.sourceIdleTimeoutMs, 10_000);
  t.equal(MOUNT_DEFAULTS.allowSources, undefined);
  t.equal(MOUNT_DEFAULTS.takeover, false);
  const env = {};
  const c = resolveConfigFrom(
    [
      {
        mounts: {
          cam: { input: 'tcp://:9000?listen', allowSources: ['127.0.0.1'] },
          live: { input: 'push', token: 'x' },
        },
      },
    ],
    { env },
  );
  t.same(c.mounts[0].allowSources, ['127.0.0.1']);
  t.equal(c.mounts[1].token, 'x');
  // A push mount needs its token: one error that names the key and the ways to give one.
  try {
    resolveConfigFrom([{ mounts: { live: { input: 'push' } } }], { env });
    t.fail('no error');
  } catch (e) {
    t.ok(e instanceof ConfigError);
    t.match((e as ConfigError).issues[0], {
      path: 'mounts.live.token',
      message:
        /a push mount needs a source token \(token, tokenFile or tokenEnv; --source-token-file FILE or \$MKVSERVE_SOURCE_TOKEN\), or allowSources/,
    });
  }
  // ... from the environment, or none with an allowlist.
  t.equal(
    resolveConfigFrom([{ mounts: { live: { input: 'push' } } }], { env: { MKVSERVE_SOURCE_TOKEN: 'e' } }).mounts[0]
      .token,
    'e',
  );
  t.equal(
    resolveConfigFrom([{ mounts: { live: { input: 'push', allowSources: ['10.0.0.0/8'] } } }], { env }).mounts[0].token,
    undefined,
  );
  // A file mount needs no token.
  t.equal(resolveConfig([parseLayer({ mounts: { m: { input: 'a.mkv' } } })], { env }).mounts[0].token, undefined);
  const bad = (raw: unknown): string[] => {
    try {
      parseLayer(raw);
      return [];
    } catch (e) {
      return (e as ConfigError).issues.map((i) => `${i.path}: ${i.message}`);
    }
  };
  t.match(bad({ mounts: { m: { input: 'push', allowSources: ['10.0.0.0/33'] } } }), [
    /^mounts\.m\.allowSources\.0: "10\.0\.0\.0\/33": the prefix length must be at most 32/,
  ]);
  t.match(bad({ mounts: { m: { input: 'push', allowSources: [] } } }), [
    /^mounts\.m\.allowSources: expected a non-empty list/,
  ]);
  t.match(bad({ mounts: { m: { input: 'push', allowSources: '10.0.0.1' } } }), [
    /^mounts\.m\.allowSources: expected a list of addresses/,
  ]);
  t.match(bad({ mounts: { m: { input: 'push', sourceIdleTimeoutMs: 5 } } }), [
    /^mounts\.m\.sourceIdleTimeoutMs: expected a number of milliseconds from 100/,
  ]);
  t.match(bad({ mounts: { m: { input: 'tcp://x:1' } } }), [/^mounts\.m\.input: .*only listening is supported/]);
  // Two TCP mounts on one port: refused (port 0, any free port, may repeat).
  try {
    resolveConfigFrom(
      [
        {
          mounts: {
            a: { input: 'tcp://:9000?listen' },
            b: { input: 'tcp://0.0.0.0:9000?listen' },
            c: { input: 'tcp://:0?listen' },
            d: { input: 'tcp://:0?listen' },
          },
        },
      ],
      { env },
    );
    t.fail('no error');
  } catch (e) {
    t.same((e as ConfigError).issues, [
      {
        path: 'mounts.b.input',
        message: 'port 9000 is already the TCP listen input of mount a: give each TCP mount its own port',
      },
    ]);
  }
});
