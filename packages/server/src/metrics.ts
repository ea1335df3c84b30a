// GET /metrics: Prometheus text exposition format (version 0.0.4), one sample per mount label.

import type { MkvServer } from './server.js';

function esc(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

export function renderMetrics(server: MkvServer): string {
  const out: string[] = [];
  const metric = (
    name: string,
    type: 'gauge' | 'counter',
    help: string,
    samples: [Record<string, string>, number][],
  ): void => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, value] of samples) {
      const l = Object.entries(labels)
        .map(([k, v]) => `${k}="${esc(v)}"`)
        .join(',');
      out.push(`${name}${l ? `{${l}}` : ''} ${Number.isFinite(value) ? value : 0}`);
    }
  };
  const mounts = [...server.mounts.values()];
  const per = (f: (m: (typeof mounts)[number]) => number): [Record<string, string>, number][] =>
    mounts.map((m) => [{ mount: m.name }, f(m)]);
  metric(
    'mkvserve_clients',
    'gauge',
    'Connected stream clients.',
    per((m) => m.clients.size),
  );
  metric(
    'mkvserve_clients_total',
    'counter',
    'Stream clients accepted since start.',
    per((m) => m.clientsTotal),
  );
  metric(
    'mkvserve_bytes_sent_total',
    'counter',
    'Bytes written to stream clients (response heads included).',
    per((m) => m.bytesSent),
  );
  metric(
    'mkvserve_client_skips_total',
    'counter',
    'Times a slow client was moved forward to the newest keyframe.',
    per((m) => m.skips),
  );
  metric(
    'mkvserve_client_drops_total',
    'counter',
    'Slow or idle clients disconnected by the server.',
    per((m) => m.drops),
  );
  metric(
    'mkvserve_input_bytes_total',
    'counter',
    'Bytes read from the input.',
    per((m) => m.source.bytesIn),
  );
  metric(
    'mkvserve_frames_total',
    'counter',
    'Frames read from the input and published.',
    per((m) => m.source.frames),
  );
  metric(
    'mkvserve_input_bitrate_bits',
    'gauge',
    'Input payload bitrate over the last seconds (bit/s).',
    per((m) => m.source.bitrate()),
  );
  metric(
    'mkvserve_input_up',
    'gauge',
    '1 while the input is streaming.',
    per((m) => (m.source.state === 'streaming' ? 1 : 0)),
  );
  metric(
    'mkvserve_input_reconnects_total',
    'counter',
    'Input reconnect attempts.',
    per((m) => m.source.reconnects),
  );
  metric(
    'mkvserve_input_loops_total',
    'counter',
    'Times a looped input restarted.',
    per((m) => m.source.loops),
  );
  metric(
    'mkvserve_history_bytes',
    'gauge',
    'Bytes of media held in the shared history.',
    per((m) => m.live.stats.historyBytes),
  );
  metric('mkvserve_connections_total', 'counter', 'TCP connections accepted.', [[{}, server.connections]]);
  metric('mkvserve_requests_total', 'counter', 'HTTP requests parsed.', [[{}, server.requests]]);
  metric('mkvserve_requests_rejected_total', 'counter', 'Malformed, oversized or too slow request heads.', [
    [{}, server.rejectedCount],
  ]);
  metric('mkvserve_writes_total', 'counter', 'Coalesced socket writes by the flusher.', [[{}, server.flusher.writes]]);
  metric('mkvserve_uptime_seconds', 'gauge', 'Seconds since the server started.', [
    [{}, Math.round((Date.now() - server.startedAt) / 100) / 10],
  ]);
  metric('mkvserve_resident_memory_bytes', 'gauge', 'Resident set size of the process.', [
    [{}, process.memoryUsage.rss()],
  ]);
  return out.join('\n') + '\n';
}
