// GET /api/status: a JSON snapshot of the server (mounts, inputs, tracks, bitrate, uptime, clients).

import { createRequire } from 'node:module';
import type { MkvServer } from './server.js';

export interface TrackStatus {
  number: number;
  kind: string;
  codecId: string;
  codecName?: string;
  language?: string;
  width?: number;
  height?: number;
  samplingFrequency?: number;
  channels?: number;
}

export interface ClientStatus {
  id: number;
  address: string;
  port: number;
  mount: string;
  connectedSince: string;
  durationSec: number;
  bytesSent: number;
  lagMs: number;
  skips: number;
  state: string;
}

export interface MountStatus {
  name: string;
  path: string;
  url: string;
  contentType: string | null;
  docType: string | null;
  input: {
    spec: string;
    name: string;
    kind: string | null;
    state: string;
    paced: boolean;
    loop: boolean;
    reconnect: boolean;
    opens: number;
    loops: number;
    reconnects: number;
    bytesIn: number;
    frames: number;
    bitrate: number;
    lastError: string | null;
    /** Newest media timestamp pushed, seconds. */
    positionSec: number;
  };
  tracks: TrackStatus[];
  clients: number;
  clientsTotal: number;
  bytesSent: number;
  skips: number;
  drops: number;
  history: { bytes: number; clusters: number; joinPoints: number; durationSec: number; bitrate: number };
}

export interface ServerStatus {
  name: 'mkvserve';
  version: string;
  pid: number;
  startedAt: string;
  uptimeSec: number;
  listening: string;
  rssBytes: number;
  memory: { rss: number; heapTotal: number; heapUsed: number; external: number; arrayBuffers: number };
  mounts: MountStatus[];
  clients: ClientStatus[];
  totals: { clients: number; connections: number; requests: number; rejected: number; bytesSent: number };
}

// Read synchronously (no top-level await: `require('mkvserve')` must work, Node >= 20.19 require(esm)).
let version = '0.0.0';
try {
  version = (createRequire(import.meta.url)('../package.json') as { version: string }).version;
} catch {
  /* keep default */
}

export function buildStatus(server: MkvServer): ServerStatus {
  const now = Date.now();
  const mounts: MountStatus[] = [];
  const clients: ClientStatus[] = [];
  let bytesSent = 0;
  for (const m of server.mounts.values()) {
    const src = m.source;
    const st = m.live.stats;
    const h = m.header;
    const sent = m.bytesSent;
    bytesSent += sent;
    mounts.push({
      name: m.name,
      path: `/${m.name}`,
      url: server.url(m.name),
      contentType: m.contentType ?? null,
      docType: h?.ebml.docType ?? null,
      input: {
        spec: src.spec,
        name: src.name,
        kind: src.kind ?? null,
        state: src.state,
        paced: src.paced,
        loop: m.config.loop ?? false,
        reconnect: m.config.reconnect ?? false,
        opens: src.opens,
        loops: src.loops,
        reconnects: src.reconnects,
        bytesIn: src.bytesIn,
        frames: src.frames,
        bitrate: src.bitrate(),
        lastError: src.lastError ?? null,
        positionSec: Math.round(src.lastTimestamp / 1e6) / 1000,
      },
      tracks: (h?.tracks ?? []).map((t) => {
        const o: TrackStatus = { number: t.number, kind: t.kind, codecId: t.codecId };
        if (t.codecName) o.codecName = t.codecName;
        if (t.language) o.language = t.language;
        if (t.video) {
          o.width = t.video.pixelWidth;
          o.height = t.video.pixelHeight;
        }
        if (t.audio) {
          o.samplingFrequency = t.audio.samplingFrequency;
          o.channels = t.audio.channels;
        }
        return o;
      }),
      clients: m.clients.size,
      clientsTotal: m.clientsTotal,
      bytesSent: sent,
      skips: m.skips,
      drops: m.drops,
      history: {
        bytes: st.historyBytes,
        clusters: st.historyClusters,
        joinPoints: st.historyJoinPoints,
        durationSec: Math.round(st.historyDurationNs / 1e6) / 1000,
        bitrate: Math.round(st.bitrate),
      },
    });
    for (const c of m.clients) {
      clients.push({
        id: c.id,
        address: c.address,
        port: c.port,
        mount: c.mount,
        connectedSince: new Date(c.since).toISOString(),
        durationSec: Math.round((now - c.since) / 100) / 10,
        bytesSent: c.bytesWritten,
        lagMs: Math.round(c.sub.lagNs / 1e6),
        skips: c.sub.skips,
        state: c.sub.state,
      });
    }
  }
  const mem = process.memoryUsage();
  return {
    name: 'mkvserve',
    version,
    pid: process.pid,
    startedAt: new Date(server.startedAt).toISOString(),
    uptimeSec: Math.round((now - server.startedAt) / 100) / 10,
    listening: server.url(''),
    rssBytes: mem.rss,
    memory: {
      rss: mem.rss,
      heapTotal: mem.heapTotal,
      heapUsed: mem.heapUsed,
      external: mem.external,
      arrayBuffers: mem.arrayBuffers,
    },
    mounts,
    clients,
    totals: {
      clients: clients.length,
      connections: server.connections,
      requests: server.requests,
      rejected: server.rejectedCount,
      bytesSent,
    },
  };
}
