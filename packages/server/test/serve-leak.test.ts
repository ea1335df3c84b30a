// Resource checks on the spawned CLI: 2,000 connect/read/close cycles leave RSS flat (within 10 %)
// and no clients behind; memory per connected client (slope from 1,000 to 3,000 clients).
import t from 'tap';
import net from 'node:net';
import { FIX, get, runCli, sleep } from '../testlib/helpers.js';

const port = (url: string): number => Number(new URL(url).port);

async function status(p: number): Promise<{
  rssBytes: number;
  memory: { heapUsed: number; external: number };
  totals: { clients: number };
  mounts: { clientsTotal: number }[];
}> {
  return JSON.parse((await get(p, '/api/status?gc=1')).body.toString());
}

/** One cycle: connect, send the request, read until some media arrived, close. */
function cycle(p: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let got = 0;
    const s = net.connect(p, '127.0.0.1', () => s.write('GET /stream HTTP/1.1\r\nHost: x\r\n\r\n'));
    s.on('data', (d) => {
      got += d.length;
      if (got > 4096) s.destroy();
    });
    s.on('close', () => (got > 4096 ? resolve() : reject(new Error('no data'))));
    s.on('error', () => {});
  });
}

async function cycles(p: number, n: number, parallel = 50): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < n) {
        next++;
        await cycle(p);
      }
    }),
  );
}

t.test('2,000 connect/read/close cycles leave RSS flat', async (t) => {
  const run = runCli([FIX('demo.webm'), '--loop', '--port', '0', '--quiet'], {
    stdin: 'ignore',
    nodeArgs: ['--expose-gc'],
  });
  t.teardown(() => {
    run.child.kill('SIGKILL');
  });
  const p = port(await run.url);
  await sleep(300);
  // Warm up: JIT, V8's young generation grows to its working size under this allocation rate
  // (heapTotal ~28 -> ~50 MiB, once), socket buffer pools, the shared history filled.
  await cycles(p, 2000);
  await sleep(500);
  const st0 = await status(p);
  const before = st0.rssBytes;
  await cycles(p, 2000);
  await sleep(1000);
  const st = await status(p);
  const growth = (st.rssBytes - before) / before;
  t.ok(
    growth < 0.1,
    `RSS ${(before / 1048576).toFixed(1)} -> ${(st.rssBytes / 1048576).toFixed(1)} MiB (${(growth * 100).toFixed(1)} %)`,
  );
  const heapGrowth = (st.memory.heapUsed - st0.memory.heapUsed) / st0.memory.heapUsed;
  t.ok(
    heapGrowth < 0.1,
    `heap used after GC ${(st0.memory.heapUsed / 1048576).toFixed(1)} -> ${(st.memory.heapUsed / 1048576).toFixed(1)} MiB`,
  );
  t.equal(st.totals.clients, 0, 'no client left behind');
  t.ok(st.mounts[0].clientsTotal >= 4000, `${st.mounts[0].clientsTotal} clients served`);
  run.child.kill('SIGTERM');
  t.equal((await run.exit).code, 0);
});

t.test('memory per connected client (clients reading the demo stream)', async (t) => {
  const run = runCli([FIX('demo.webm'), '--loop', '--port', '0', '--quiet'], {
    stdin: 'ignore',
    nodeArgs: ['--expose-gc'],
  });
  t.teardown(() => {
    run.child.kill('SIGKILL');
  });
  const p = port(await run.url);
  await sleep(300);
  await cycles(p, 3000); // warm up to the steady-state heap size (see above)
  const socks: net.Socket[] = [];
  const connect = async (n: number): Promise<void> => {
    for (let i = 0; i < n; i++) {
      await new Promise<void>((resolve) => {
        const s = net.connect(p, '127.0.0.1', () => s.write('GET /stream HTTP/1.1\r\n\r\n'));
        s.once('data', () => resolve());
        s.on('data', () => {});
        s.on('error', () => {});
        socks.push(s);
      });
    }
    await sleep(2000);
  };
  // Slope between 1,000 and 3,000 connected clients (the first ones reuse pages the warm-up freed).
  await connect(1000);
  const a = await status(p);
  await connect(2000);
  const b = await status(p);
  t.equal(b.totals.clients, 3000, '3000 clients connected');
  const rss = (b.rssBytes - a.rssBytes) / 2000;
  const heap = (b.memory.heapUsed - a.memory.heapUsed) / 2000;
  t.comment(`per connected client: RSS ${(rss / 1024).toFixed(1)} KiB, JS heap ${(heap / 1024).toFixed(1)} KiB`);
  t.ok(heap < 6 * 1024, `JS heap per client ${(heap / 1024).toFixed(1)} KiB`);
  t.ok(rss < 8 * 1024, `RSS per client ${(rss / 1024).toFixed(1)} KiB`);
  for (const s of socks) s.destroy();
  run.child.kill('SIGTERM');
  await run.exit;
});
