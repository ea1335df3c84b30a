// The public API is a decision: the export lists of '@mkvserve/fanout' and '@mkvserve/fanout/advanced'
// are pinned here, internals (cursor fields, the host interface) stay out of the published .d.ts
// (stripInternal), and a strict consumer type-checks against the built declarations.

import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as main from '../src/index.js';
import * as advanced from '../src/advanced.js';

const PKG = join(import.meta.dirname, '..');

t.test('export lists', async (t) => {
  t.same(Object.keys(main).sort(), ['LiveStream', 'PullShare', 'Subscriber', 'sameStreamLayout']);
  t.same(Object.keys(advanced).sort(), [
    'Cluster',
    'Clusterer',
    'History',
    'declaredHeader',
    'primaryVideoTrack',
    'validTrackNumber',
  ]);
  const pkg = JSON.parse(readFileSync(join(PKG, 'package.json'), 'utf8'));
  t.same(Object.keys(pkg.exports).sort(), ['.', './advanced', './package.json']);
});

t.test('internals are not in the published declarations', async (t) => {
  const dist = join(PKG, 'dist');
  const dts = readdirSync(dist)
    .filter((f) => f.endsWith('.d.ts'))
    .map((f) => readFileSync(join(dist, f), 'utf8'))
    .join('\n');
  const sub = readFileSync(join(dist, 'subscriber.d.ts'), 'utf8');
  for (const name of ['seq', 'idx', 'base', 'mute', 'epochId', 'cursorOffset', 'parked', 'lastPullMs', 'st', 'sent']) {
    t.notMatch(sub, new RegExp(`^\\s+${name}[?]?[:;]`, 'm'), `Subscriber.${name} is not declared`);
  }
  t.notMatch(dts, /SubscriberHost/, 'the host interface is internal');
  t.notMatch(
    readFileSync(join(dist, 'live-stream.d.ts'), 'utf8'),
    /^\s+(readonly )?(history|currentEpoch|newestNs)[:;]/m,
  );
  t.match(sub, /get state\(\): SubscriberState;/, 'state is read-only for users');
  const share = readFileSync(join(dist, 'pull-share.d.ts'), 'utf8');
  t.same(
    [...share.matchAll(/^\s+(?:readonly )?(\w+)[(:]/gm)].map((m) => m[1]),
    ['shared', 'computed', 'reset'],
    'PullShare declares its counters and reset() only',
  );
});

t.test('a strict consumer type-checks against the built declarations', async (t) => {
  const require = createRequire(import.meta.url);
  const tsc = require.resolve('typescript/bin/tsc');
  // A scratch project outside the repository that depends on the package (a symlink, as a package
  // manager would link it): it sees only what the published declarations say.
  const dir = mkdtempSync(join(tmpdir(), 'fanout-api-'));
  try {
    mkdirSync(join(dir, 'node_modules/@mkvserve'), { recursive: true });
    symlinkSync(PKG, join(dir, 'node_modules/@mkvserve/fanout'), 'dir');
    writeFileSync(
      join(dir, 'consumer.ts'),
      [
        "import { LiveStream, PullShare, Subscriber, sameStreamLayout } from '@mkvserve/fanout';",
        "import type { LiveStreamStats, SubscriberState, FinishReason } from '@mkvserve/fanout';",
        "import { Clusterer, History, primaryVideoTrack } from '@mkvserve/fanout/advanced';",
        'const s = new LiveStream({ historyMaxBytes: 1 << 20 });',
        'const sub: Subscriber = s.subscribe();',
        'const st: SubscriberState = sub.state;',
        'const share = new PullShare();',
        'const n: number = sub.pullInto([], 65536, share) + share.shared + share.computed;',
        'const fin: FinishReason | undefined = sub.finishReason;',
        'const stats: LiveStreamStats = s.stats;',
        'export const used = [st, fin, n, stats.undeclaredFrames, sameStreamLayout, Clusterer, History, primaryVideoTrack];',
        '// @ts-expect-error internal cursor fields are not part of the API',
        'sub.seq = 3;',
        '// @ts-expect-error state is read-only',
        "sub.state = 'closed';",
      ].join('\n'),
    );
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          noEmit: true,
          skipLibCheck: false,
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          target: 'ES2022',
          types: [],
        },
        files: ['consumer.ts'],
      }),
    );
    const r = spawnSync(process.execPath, [tsc, '-p', dir], { encoding: 'utf8', cwd: dir });
    t.equal(r.status, 0, r.stdout + r.stderr);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
