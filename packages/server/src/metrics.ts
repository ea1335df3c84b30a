// GET /metrics: Prometheus text exposition built with prom-client. The mkvserve_* families are read from
// a server snapshot (snapshot.ts) at each scrape; the standard process_* and nodejs_* families (CPU,
// resident memory, open fds, start time, event-loop lag, GC, heap) come from prom-client's default
// collectors, registered once per process on the first scrape. prom-client is loaded on that first
// scrape too, so a server that is never scraped does not pay for it.
// Naming follows the Prometheus conventions: counters end in _total, units in the name (_bytes,
// _seconds), and no gauge shares its family name with a counter (mkvserve_clients_connected is the
// gauge, mkvserve_clients_accepted_total the counter).

import type * as PromClientModule from 'prom-client';
import type { Registry, Counter, Gauge } from 'prom-client';
import type { MountSnapshot, ServerSnapshot } from './snapshot.js';

type PromClient = typeof PromClientModule;

interface Family {
  name: string;
  type: 'gauge' | 'counter';
  help: string;
}

/** Per mount (label `mount`); a family whose value is undefined for a mount has no sample for it. */
const MOUNT_FAMILIES: (Family & { value: (m: MountSnapshot) => number | undefined })[] = [
  { name: 'mkvserve_clients_connected', type: 'gauge', help: 'Connected stream clients.', value: (m) => m.clients },
  {
    name: 'mkvserve_clients_waiting',
    type: 'gauge',
    help: 'Stream requests waiting for the input header.',
    value: (m) => m.waiting,
  },
  {
    name: 'mkvserve_clients_accepted_total',
    type: 'counter',
    help: 'Stream clients accepted.',
    value: (m) => m.clientsTotal,
  },
  {
    name: 'mkvserve_clients_refused_total',
    type: 'counter',
    help: 'Stream requests refused by a client limit (server, mount or per address).',
    value: (m) => m.refused,
  },
  {
    name: 'mkvserve_bytes_sent_total',
    type: 'counter',
    help: 'Bytes written to stream clients (response heads included).',
    value: (m) => m.bytesSent,
  },
  {
    name: 'mkvserve_client_skips_total',
    type: 'counter',
    help: 'Times a slow client was moved forward to the newest keyframe.',
    value: (m) => m.skips,
  },
  {
    name: 'mkvserve_client_drops_total',
    type: 'counter',
    help: 'Slow or idle clients disconnected by the server.',
    value: (m) => m.drops,
  },
  {
    name: 'mkvserve_input_bytes_total',
    type: 'counter',
    help: 'Bytes read from the input.',
    value: (m) => m.input.bytesIn,
  },
  {
    name: 'mkvserve_input_frames_total',
    type: 'counter',
    help: 'Frames read from the input and published.',
    value: (m) => m.input.frames,
  },
  {
    name: 'mkvserve_input_up',
    type: 'gauge',
    help: '1 while the input is streaming.',
    value: (m) => (m.input.state === 'streaming' ? 1 : 0),
  },
  {
    name: 'mkvserve_input_reconnects_total',
    type: 'counter',
    help: 'Input reconnect attempts.',
    value: (m) => m.input.reconnects,
  },
  {
    name: 'mkvserve_input_loops_total',
    type: 'counter',
    help: 'Times a looped input restarted.',
    value: (m) => m.input.loops,
  },
  {
    name: 'mkvserve_input_splices_total',
    type: 'counter',
    help: 'New input headers with the same track layout, spliced into the running stream.',
    value: (m) => m.input.splices,
  },
  {
    name: 'mkvserve_input_track_changes_total',
    type: 'counter',
    help: 'New input headers with a different track layout.',
    value: (m) => m.input.trackChanges,
  },
  {
    name: 'mkvserve_ingest_source_connected',
    type: 'gauge',
    help: 'Push and TCP listen mounts: 1 while a source is connected.',
    value: (m) => (m.ingest ? (m.ingest.source ? 1 : 0) : undefined),
  },
  {
    name: 'mkvserve_ingest_sources_total',
    type: 'counter',
    help: 'Push and TCP listen mounts: sources accepted.',
    value: (m) => m.ingest?.sources,
  },
  {
    name: 'mkvserve_ingest_source_drops_total',
    type: 'counter',
    help: 'Push and TCP listen mounts: sources lost (connection broken), timed out, taken over or unusable.',
    value: (m) => m.ingest?.drops,
  },
  {
    name: 'mkvserve_ingest_refused_total',
    type: 'counter',
    help: 'Push and TCP listen mounts: sources refused (address, token, busy, not Matroska).',
    value: (m) => m.ingest?.refused,
  },
  {
    name: 'mkvserve_ingest_source_bytes',
    type: 'gauge',
    help: 'Push and TCP listen mounts: bytes received from the source connected now.',
    value: (m) => (m.ingest ? (m.ingest.source?.bytes ?? 0) : undefined),
  },
  {
    name: 'mkvserve_history_bytes',
    type: 'gauge',
    help: 'Bytes of media held in the shared history for late joiners.',
    value: (m) => m.history.bytes,
  },
  {
    name: 'mkvserve_history_seconds',
    type: 'gauge',
    help: 'Media time held in the shared history.',
    value: (m) => m.history.durationNs / 1e9,
  },
];

/** Server-wide (no labels). */
const SERVER_FAMILIES: (Family & { value: (s: ServerSnapshot) => number })[] = [
  {
    name: 'mkvserve_connections_total',
    type: 'counter',
    help: 'TCP connections accepted.',
    value: (s) => s.totals.connections,
  },
  { name: 'mkvserve_requests_total', type: 'counter', help: 'HTTP requests parsed.', value: (s) => s.totals.requests },
  {
    name: 'mkvserve_requests_rejected_total',
    type: 'counter',
    help: 'Malformed, oversized or too slow request heads.',
    value: (s) => s.totals.rejected,
  },
  {
    name: 'mkvserve_writes_total',
    type: 'counter',
    help: 'Coalesced socket writes to stream clients.',
    value: (s) => s.totals.writes,
  },
  {
    name: 'mkvserve_flush_interval_seconds',
    type: 'gauge',
    help: 'Write coalescing interval now: flushMs, stretched up to flushMaxMs while the event loop is saturated.',
    value: (s) => s.flushIntervalMs / 1000,
  },
  {
    name: 'mkvserve_event_loop_utilization',
    type: 'gauge',
    help: "Share of the last 250 ms the event loop was busy (0..1), as the write interval's stretch judges it (NaN before the first 250 ms).",
    value: (s) => s.eventLoopUtilization ?? NaN,
  },
];

/** Every mkvserve_* family name and type (documentation and tests). */
export const METRIC_FAMILIES: readonly Family[] = [...MOUNT_FAMILIES, ...SERVER_FAMILIES].map(
  ({ name, type, help }) => ({ name, type, help }),
);

let promModule: Promise<PromClient> | undefined;
let processRegistry: Registry | undefined;

async function loadProm(): Promise<PromClient> {
  promModule ??= import('prom-client');
  const prom = await promModule;
  if (!processRegistry) {
    // Process-wide: one set of default collectors (one event-loop monitor) whatever the number of servers.
    processRegistry = new prom.Registry();
    prom.collectDefaultMetrics({ register: processRegistry });
  }
  return prom;
}

export interface MetricsRenderer {
  /** The exposition text and its Content-Type. */
  render(): Promise<{ contentType: string; text: string }>;
}

/** Metrics of one server; `snapshot` is taken once per scrape. */
export function createMetrics(snapshot: () => ServerSnapshot): MetricsRenderer {
  let registry: Registry | undefined;
  let current: ServerSnapshot | undefined;
  const build = (prom: PromClient): Registry => {
    const reg = new prom.Registry();
    for (const f of MOUNT_FAMILIES) {
      const value = f.value;
      const conf = { name: f.name, help: f.help, labelNames: ['mount'] as const, registers: [reg] };
      if (f.type === 'counter') {
        new prom.Counter({
          ...conf,
          collect(this: Counter<'mount'>) {
            this.reset();
            for (const m of current?.mounts ?? []) {
              const v = value(m);
              if (v !== undefined) this.inc({ mount: m.name }, Math.max(0, v));
            }
          },
        });
      } else {
        new prom.Gauge({
          ...conf,
          collect(this: Gauge<'mount'>) {
            this.reset();
            for (const m of current?.mounts ?? []) {
              const v = value(m);
              if (v !== undefined) this.set({ mount: m.name }, v);
            }
          },
        });
      }
    }
    for (const f of SERVER_FAMILIES) {
      const value = f.value;
      const conf = { name: f.name, help: f.help, registers: [reg] };
      if (f.type === 'counter') {
        new prom.Counter({
          ...conf,
          collect(this: Counter) {
            this.reset();
            if (current) this.inc(Math.max(0, value(current)));
          },
        });
      } else {
        new prom.Gauge({
          ...conf,
          collect(this: Gauge) {
            if (current) this.set(value(current));
          },
        });
      }
    }
    return reg;
  };
  return {
    async render() {
      const prom = await loadProm();
      registry ??= build(prom);
      current = snapshot();
      const merged = prom.Registry.merge([registry, processRegistry!]);
      return { contentType: merged.contentType, text: await merged.metrics() };
    },
  };
}
