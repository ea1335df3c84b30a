// examples/edge/ as a user runs it: `node examples/edge/start.mjs` starts an origin, two edges and
// Debian's HAProxy on loopback (free ports). HAProxy's health checks (/api/status: the mount streams)
// put both edges UP; viewers through HAProxy are spread over the edges, start on a keyframe and decode
// cleanly; when the origin crashes the script starts it again and a viewer stays connected across it
// (spliced, decodes cleanly); when an edge dies, new viewers all get the other one (also before the
// check marks it DOWN); SIGTERM stops everything. Skips when haproxy is not installed
// (apt-get install haproxy; .ci/run does).
import t from 'tap';
import net from 'node:net';
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import {
  ROOT,
  ffmpegErrors,
  get,
  hasFfmpeg,
  parseMedia,
  rawRequest,
  sleep,
  videoTrack,
  waitFor,
} from '../testlib/helpers.js';

const hasHaproxy = spawnSync('haproxy', ['-v']).status === 0;
const skip = !hasHaproxy
  ? 'haproxy is not installed (apt-get install haproxy)'
  : !hasFfmpeg
    ? 'ffmpeg is not installed'
    : false;

interface Started {
  pids: Map<string, number>;
  ports: Map<string, number>;
  ready: URL;
  stats: string;
}

/** HAProxy's view of the edges: server name -> status (UP, DOWN, ...). */
async function haproxyServers(stats: string): Promise<Map<string, string>> {
  const res = await fetch(`${stats};csv`);
  const lines = (await res.text()).split('\n');
  const cols = lines[0].replace(/^# /, '').split(',');
  const sv = cols.indexOf('svname');
  const st = cols.indexOf('status');
  const px = cols.indexOf('pxname');
  const out = new Map<string, string>();
  for (const l of lines.slice(1)) {
    const f = l.split(',');
    if (f[px] === 'edges' && f[sv]?.startsWith('edge')) out.set(f[sv], f[st]);
  }
  return out;
}

async function edgeClients(port: number): Promise<number> {
  const st = JSON.parse((await get(port, '/api/status')).body.toString()) as { mounts: { clients: number }[] };
  return st.mounts[0].clients;
}

/** A viewer through HAProxy: `ms` of stream. */
function view(port: number, ms: number): Promise<{ status: number; body: Buffer }> {
  return rawRequest(port, 'GET /stream HTTP/1.1\r\nHost: example\r\n\r\n', ms);
}

t.test('two edges behind HAProxy (examples/edge)', { skip }, async (t) => {
  const script = spawn(process.execPath, [join(ROOT, 'examples/edge/start.mjs')], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  script.stdout.on('data', (d) => (out += d));
  script.stderr.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((r) => script.on('exit', (code) => r(code)));
  const started: Started = { pids: new Map(), ports: new Map(), ready: new URL('http://x'), stats: '' };
  t.teardown(() => {
    script.kill('SIGKILL');
    for (const pid of started.pids.values()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });
  await waitFor(() => /^ready /m.test(out) || script.exitCode !== null, 30_000, 'the example to be ready');
  t.equal(script.exitCode, null, `the script runs ${err}`);
  for (const m of out.matchAll(/^(origin|edge1|edge2|haproxy) pid (\d+) (?:stats )?(http:\S+)/gm)) {
    started.pids.set(m[1], Number(m[2]));
    if (m[1] === 'haproxy') started.stats = m[3];
    else started.ports.set(m[1], Number(new URL(m[3]).port));
  }
  started.ready = new URL(/^ready (\S+)/m.exec(out)![1]);
  t.same([...started.pids.keys()].sort(), ['edge1', 'edge2', 'haproxy', 'origin']);
  const front = Number(started.ready.port);

  let servers = new Map<string, string>();
  const upBy = performance.now() + 15_000;
  while (performance.now() < upBy) {
    servers = await haproxyServers(started.stats);
    if (servers.get('edge1') === 'UP' && servers.get('edge2') === 'UP') break;
    await sleep(250);
  }
  t.same(Object.fromEntries(servers), { edge1: 'UP', edge2: 'UP' }, 'both edges pass the /api/status check');

  // Four viewers at once: leastconn gives each edge two; each starts on a keyframe and decodes.
  const viewers = [0, 1, 2, 3].map(() => view(front, 3500));
  await sleep(1500);
  t.equal(await edgeClients(started.ports.get('edge1')!), 2, 'edge1 serves two viewers');
  t.equal(await edgeClients(started.ports.get('edge2')!), 2, 'edge2 serves two viewers');
  t.equal(await edgeClients(started.ports.get('origin')!), 2, 'the origin serves the two edges only');
  for (const [i, v] of (await Promise.all(viewers)).entries()) {
    t.equal(v.status, 200, `viewer ${i + 1}: 200 through HAProxy`);
    const m = parseMedia(v.body);
    const video = m.frames.filter((f) => f.track === videoTrack(m));
    t.ok(video.length > 30 && video[0].keyframe, `viewer ${i + 1}: starts on a keyframe (${video.length} frames)`);
    t.equal(ffmpegErrors(v.body, 'webm'), '', `viewer ${i + 1}: ffmpeg decodes it without error`);
  }

  // The origin crashes: the script starts it again; a viewer through HAProxy stays connected, and what
  // it gets is spliced (one header, timestamps increasing) and decodes cleanly.
  const across = view(front, 9000);
  await sleep(2000);
  process.kill(started.pids.get('origin')!, 'SIGKILL');
  await waitFor(() => /^origin restarted pid \d+/m.test(out), 15_000, 'the script to restart the origin');
  t.pass('the script started the origin again');
  const a = await across;
  t.equal(a.status, 200);
  const am = parseMedia(a.body);
  const av = am.frames.filter((f) => f.track === videoTrack(am));
  t.equal(am.headers, 1, 'one header across the origin restart');
  let back = 0;
  for (let i = 1; i < av.length; i++) if (av[i].timestamp <= av[i - 1].timestamp) back++;
  t.equal(back, 0, 'video timestamps keep increasing');
  const span = (av[av.length - 1].timestamp - av[0].timestamp) / 1e9;
  t.ok(span > 5, `${span.toFixed(1)} s of media in 9 s, across the restart`);
  t.equal(ffmpegErrors(a.body, 'webm'), '', 'the viewer across the origin restart decodes cleanly');
  const upAgain = performance.now() + 15_000;
  while (performance.now() < upAgain) {
    servers = await haproxyServers(started.stats);
    if (servers.get('edge1') === 'UP' && servers.get('edge2') === 'UP') break;
    await sleep(250);
  }
  t.same(Object.fromEntries(servers), { edge1: 'UP', edge2: 'UP' }, 'both edges are UP again');

  // edge1 dies: new viewers get edge2 at once (HAProxy retries and redispatches), and the check marks it DOWN.
  process.kill(started.pids.get('edge1')!, 'SIGKILL');
  const after = await Promise.all([0, 1, 2].map(() => view(front, 2500)));
  for (const [i, v] of after.entries()) {
    t.equal(v.status, 200, `viewer ${i + 1} after edge1 died: 200`);
    t.equal(ffmpegErrors(v.body, 'webm'), '', `viewer ${i + 1} after edge1 died: decodes cleanly`);
  }
  const downBy = performance.now() + 15_000;
  while (performance.now() < downBy) {
    servers = await haproxyServers(started.stats);
    if (servers.get('edge1')?.startsWith('DOWN')) break;
    await sleep(250);
  }
  t.match(servers.get('edge1'), /^DOWN/, 'the health check marks edge1 DOWN');
  t.equal(servers.get('edge2'), 'UP');
  t.match(err, /edge1 exited \(SIGKILL\)/, 'the script says which process went');
  t.equal(script.exitCode, null, 'and keeps running without it');

  // SIGTERM stops everything: nothing listens any more.
  script.kill('SIGTERM');
  t.equal(await exited, 0, 'the script exits 0');
  for (const [name, port] of [...started.ports, ['haproxy', front] as const]) {
    const refused = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.on('connect', () => {
        s.destroy();
        resolve(false);
      });
      s.on('error', () => resolve(true));
    });
    t.ok(refused, `${name} stopped`);
  }
});
