// Reload planning as a pure function (reload.ts): which mounts are added, removed, restarted (settings that
// shape the stream), updated in place (settings read when used) or untouched; which server keys apply live
// and which keep their running value and are reported as needing a restart. No value, only key names.
import t from 'tap';
import { parseLayer, resolveConfig } from '../src/config.js';
import type { ConfigLayer } from '../src/config.js';
import { LIVE_MOUNT_KEYS, LIVE_SERVER_KEYS, planReload } from '../src/reload.js';

const cfg = (layer: ConfigLayer) => resolveConfig([parseLayer(layer)], { env: {} });

t.test('mounts: added, removed, restarted, updated in place, unchanged', async (t) => {
  const a = cfg({
    mounts: {
      same: { input: 'a.mkv', loop: true },
      gone: { input: 'b.mkv' },
      input: { input: 'c.mkv' },
      slow: { input: 'd.mkv', slowClients: { softLimitMs: 2000 } },
      limit: { input: 'e.mkv', maxClients: 5, sourceGraceMs: 1000 },
      token: { input: 'push', token: 'one' },
    },
  });
  const b = cfg({
    mounts: {
      same: { input: 'a.mkv', loop: true },
      input: { input: 'c2.mkv' },
      slow: { input: 'd.mkv', slowClients: { softLimitMs: 2500 } },
      limit: { input: 'e.mkv', maxClients: 50, sourceGraceMs: 5000 },
      token: { input: 'push', token: 'two', takeover: true },
      fresh: { input: 'f.mkv' },
    },
  });
  const p = planReload(a, b);
  t.same(p.added, ['fresh']);
  t.same(p.removed, ['gone']);
  t.same(p.restarted.sort(), ['input', 'slow'], 'stream-shaping settings restart');
  t.same(p.updated.sort(), ['limit', 'token'], `only ${LIVE_MOUNT_KEYS.join(', ')}: in place`);
  t.same(p.unchanged, ['same']);
  t.same(
    p.config.mounts.map((m) => m.name),
    ['same', 'input', 'slow', 'limit', 'token', 'fresh'],
    'the new order',
  );
  t.notOk(JSON.stringify({ ...p, config: undefined }).includes('two'), 'the report names keys, never values');
});

t.test('server keys: live ones applied, the others keep their running value and are reported', async (t) => {
  const a = cfg({
    server: { host: '127.0.0.1', port: 8080, maxClients: 10, adminToken: 'old', flushMs: 100 },
    mounts: { m: { input: 'a.mkv' } },
  });
  const b = cfg({
    server: {
      host: '0.0.0.0',
      port: 9090,
      maxClients: 20,
      adminToken: 'new',
      flushMs: 50,
      trustedProxies: ['10.0.0.0/8'],
      admin: { port: 8081 },
    },
    mounts: { m: { input: 'a.mkv' } },
  });
  const p = planReload(a, b);
  t.same(p.serverApplied.sort(), ['adminToken', 'maxClients', 'trustedProxies']);
  t.same(p.restartNeeded.sort(), ['admin', 'flushMs', 'host', 'port']);
  t.equal(p.config.server.port, 8080, 'port stays');
  t.equal(p.config.server.host, '127.0.0.1');
  t.equal(p.config.server.flushMs, 100);
  t.equal(p.config.server.admin, undefined);
  t.equal(p.config.server.maxClients, 20, 'maxClients applied');
  t.equal(p.config.server.adminToken, 'new');
  t.same(p.config.server.trustedProxies, ['10.0.0.0/8']);
  for (const k of p.serverApplied) t.ok(LIVE_SERVER_KEYS.has(k as never), `${k} is live`);
  // The plan of the plan's result against the same file: only what still needs a restart.
  const again = planReload(p.config, b);
  t.same(again.restartNeeded.sort(), ['admin', 'flushMs', 'host', 'port'], 'still reported on the next reload');
  t.same(again.serverApplied, []);
});
