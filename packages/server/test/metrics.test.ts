// /metrics parsed by a real parser: Python's prometheus_client (Debian python3-prometheus-client) must
// read every family, no two families may share a name (the gauge mkvserve_clients and the counter
// mkvserve_clients_total used to collide), counters are typed as counters, and the standard process_*
// and event-loop families are there. promtool checks the naming rules too when it is installed.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { MkvServer } from '../src/server.js';
import { METRIC_FAMILIES } from '../src/metrics.js';
import { FIX, get, viewer, waitFor } from '../testlib/helpers.js';

// Debian's python3 (a pyenv python may sit first in PATH without the Debian modules).
const python = ['/usr/bin/python3', 'python3'].find(
  (p) => spawnSync(p, ['-c', 'import prometheus_client'], { stdio: 'ignore' }).status === 0,
);
const promtool = spawnSync('promtool', ['--version'], { stdio: 'ignore' }).status === 0;

const PARSE = `
import sys, json, math
from prometheus_client.parser import text_string_to_metric_families
num = lambda v: v if math.isfinite(v) else str(v)  # NaN (an empty event-loop histogram) is not JSON
fams = [{"name": f.name, "type": f.type, "samples": [[s.name, s.labels, num(s.value)] for s in f.samples]}
        for f in text_string_to_metric_families(sys.stdin.read())]
print(json.dumps(fams))
`;

t.test(
  '/metrics parses with prometheus_client; unique families; process metrics',
  { skip: python ? false : 'python3-prometheus-client is not installed (apt-get install python3-prometheus-client)' },
  async (t) => {
    const s = new MkvServer({
      port: 0,
      mounts: [
        { name: 'a', input: FIX('vp9-opus.webm'), loop: true, speed: 4 },
        { name: 'b', input: FIX('vp8-vorbis.webm'), loop: true, speed: 4 },
      ],
    });
    await s.start();
    t.teardown(() => s.stop(0));
    const { sock, got } = viewer(s.port, '/a');
    t.teardown(() => sock.destroy());
    await waitFor(() => got() > 0, 10_000, 'the client to receive data');
    await get(s.port, '/metrics'); // the first scrape starts the event-loop monitor
    const r = await get(s.port, '/metrics');
    t.equal(r.status, 200);
    t.match(r.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
    const p = spawnSync(python!, ['-c', PARSE], { input: r.body, encoding: 'utf8' });
    t.equal(p.status, 0, p.stderr);
    const fams = JSON.parse(p.stdout) as {
      name: string;
      type: string;
      samples: [string, Record<string, string>, number][];
    }[];
    const names = fams.map((f) => f.name);
    t.same([...new Set(names)].sort(), [...names].sort(), 'no two families share a name');
    for (const f of METRIC_FAMILIES) {
      // prometheus_client names a counter family without its _total suffix.
      const fam = fams.find((x) => x.name === f.name.replace(/_total$/, ''));
      t.ok(fam, `${f.name} parsed`);
      t.equal(fam?.type, f.type, `${f.name} is a ${f.type}`);
    }
    for (const name of [
      'process_cpu_seconds',
      'process_resident_memory_bytes',
      'process_open_fds',
      'process_max_fds',
      'process_start_time_seconds',
      'nodejs_eventloop_lag_seconds',
    ])
      t.ok(names.includes(name), `${name} (standard)`);
    const connected = fams.find((f) => f.name === 'mkvserve_clients_connected')!.samples;
    t.same(connected.map(([, l, v]) => [l['mount'], v]).sort(), [
      ['a', 1],
      ['b', 0],
    ]);
    const accepted = fams.find((f) => f.name === 'mkvserve_clients_accepted')!.samples;
    t.ok(accepted.some(([n, l, v]) => n === 'mkvserve_clients_accepted_total' && l['mount'] === 'a' && v === 1));
    t.notOk(names.includes('mkvserve_input_bitrate_bits'), 'no gauge duplicating rate(mkvserve_input_bytes_total)');
    if (promtool) {
      const c = spawnSync('promtool', ['check', 'metrics'], { input: r.body, encoding: 'utf8' });
      t.equal(c.status, 0, `promtool: ${c.stdout}${c.stderr}`);
    } else t.comment('promtool not installed: naming lint skipped');
  },
);
