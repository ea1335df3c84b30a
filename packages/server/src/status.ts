// GET /api/status: the JSON form of a server snapshot (mounts, inputs, tracks, bitrate, clients).
// Built from the plain snapshot (snapshot.ts), never from the server object. The management API
// (api.ts) uses the same per-mount and per-client forms, so a mount or a client reads the same
// everywhere.

import type { SubscriberState } from '@mkvserve/fanout';
import type { PacingMode, SourceState } from './inputs/source.js';
import type {
  ClientSnapshot,
  IngestSnapshot,
  MountSnapshot,
  ServerSnapshot,
  SourceSnapshot,
  TrackSnapshot,
} from './snapshot.js';

export type TrackStatus = TrackSnapshot;

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
  state: SubscriberState;
  userAgent: string | null;
  /** The TCP peer (a trusted proxy) when `address` came from it, else null. */
  proxy: string | null;
}

/** A source of a push or TCP listen mount, with readable times. */
export type SourceStatus = Omit<SourceSnapshot, 'since' | 'endedAt'> & {
  connectedSince: string;
  endedAt: string | null;
  durationSec: number;
};

export type IngestStatus = Omit<IngestSnapshot, 'source' | 'lastSource'> & {
  source: SourceStatus | null;
  lastSource: SourceStatus | null;
};

export interface MountStatus {
  name: string;
  path: string;
  url: string;
  contentType: string | null;
  docType: string | null;
  input: {
    /** The input as it may be shown: URLs without credentials or query. */
    name: string;
    kind: string | null;
    state: SourceState;
    /** True while the input is paced (`pacing` says how). */
    paced: boolean;
    pacing: PacingMode;
    loop: boolean;
    reconnect: boolean;
    opens: number;
    loops: number;
    reconnects: number;
    splices: number;
    trackChanges: number;
    bytesIn: number;
    frames: number;
    bitrate: number;
    lastError: string | null;
    /** Newest media timestamp pushed, seconds. */
    positionSec: number;
  };
  tracks: TrackStatus[];
  clients: number;
  waiting: number;
  clientsTotal: number;
  bytesSent: number;
  skips: number;
  drops: number;
  refused: number;
  /** This mount's client limit (0 = only the server's). */
  maxClients: number;
  /** Push and TCP listen mounts: how sources connect, the source now (with its address), counters. */
  ingest: IngestStatus | null;
  history: { bytes: number; clusters: number; joinPoints: number; durationSec: number; bitrate: number };
}

export interface ServerStatus {
  name: 'mkvserve';
  version: string;
  pid: number;
  startedAt: string;
  uptimeSec: number;
  listening: string;
  /** Base URL of the separate admin listener (API, status, metrics), or null. */
  admin: string | null;
  rssBytes: number;
  memory: { rss: number; heapTotal: number; heapUsed: number; external: number; arrayBuffers: number };
  mounts: MountStatus[];
  clients: ClientStatus[];
  totals: { clients: number; connections: number; requests: number; rejected: number; bytesSent: number };
  /** The write coalescing interval now (ms): flushMs, more while the event loop is saturated. */
  flushIntervalMs: number;
  /** The event loop's utilization (0..1) over the last 250 ms (what the interval's stretch judges), or
   *  null before the first 250 ms. */
  eventLoopUtilization: number | null;
}

const round3 = (ns: number): number => Math.round(ns / 1e6) / 1000;

function sourceStatus(s: SourceSnapshot | null, now: number): SourceStatus | null {
  if (s === null) return null;
  const { since, endedAt, ...rest } = s;
  return {
    ...rest,
    connectedSince: new Date(since).toISOString(),
    endedAt: endedAt === null ? null : new Date(endedAt).toISOString(),
    durationSec: Math.round(((endedAt ?? now) - since) / 100) / 10,
  };
}

function ingestStatus(i: IngestSnapshot | null, now: number): IngestStatus | null {
  if (i === null) return null;
  return { ...i, source: sourceStatus(i.source, now), lastSource: sourceStatus(i.lastSource, now) };
}

/** The status form of one mount (`listening`: the public base URL; `now`: Date.now() of the snapshot). */
export function mountStatus(m: MountSnapshot, listening: string, now = Date.now()): MountStatus {
  const i = m.input;
  return {
    name: m.name,
    path: `/${m.name}`,
    url: `${listening}/${m.name}`,
    contentType: m.contentType,
    docType: m.docType,
    input: {
      name: i.display,
      kind: i.kind,
      state: i.state,
      paced: i.pacing !== 'off',
      pacing: i.pacing,
      loop: i.loop,
      reconnect: i.reconnect,
      opens: i.opens,
      loops: i.loops,
      reconnects: i.reconnects,
      splices: i.splices,
      trackChanges: i.trackChanges,
      bytesIn: i.bytesIn,
      frames: i.frames,
      bitrate: i.bitrate,
      lastError: i.lastError,
      positionSec: round3(i.positionNs),
    },
    tracks: m.tracks,
    clients: m.clients,
    waiting: m.waiting,
    clientsTotal: m.clientsTotal,
    bytesSent: m.bytesSent,
    skips: m.skips,
    drops: m.drops,
    refused: m.refused,
    maxClients: m.maxClients,
    ingest: ingestStatus(m.ingest ?? null, now),
    history: {
      bytes: m.history.bytes,
      clusters: m.history.clusters,
      joinPoints: m.history.joinPoints,
      durationSec: round3(m.history.durationNs),
      bitrate: m.history.bitrate,
    },
  };
}

/** The status form of one client (`now`: Date.now() of the snapshot). */
export function clientStatus(c: ClientSnapshot, now: number): ClientStatus {
  return {
    id: c.id,
    address: c.address,
    port: c.port,
    mount: c.mount,
    connectedSince: new Date(c.since).toISOString(),
    durationSec: Math.round((now - c.since) / 100) / 10,
    bytesSent: c.bytesSent,
    lagMs: c.lagMs,
    skips: c.skips,
    state: c.state,
    userAgent: c.userAgent,
    proxy: c.proxy,
  };
}

export function buildStatus(snap: ServerSnapshot): ServerStatus {
  const now = snap.now;
  const mounts: MountStatus[] = [];
  const clients: ClientStatus[] = [];
  let bytesSent = 0;
  for (const m of snap.mounts) {
    bytesSent += m.bytesSent;
    mounts.push(mountStatus(m, snap.listening, now));
    for (const c of m.clientList ?? []) clients.push(clientStatus(c, now));
  }
  const mem = process.memoryUsage();
  return {
    name: 'mkvserve',
    version: snap.version,
    pid: snap.pid,
    startedAt: new Date(snap.startedAt).toISOString(),
    uptimeSec: Math.round((now - snap.startedAt) / 100) / 10,
    listening: snap.listening,
    admin: snap.adminListening,
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
      connections: snap.totals.connections,
      requests: snap.totals.requests,
      rejected: snap.totals.rejected,
      bytesSent,
    },
    flushIntervalMs: snap.flushIntervalMs,
    eventLoopUtilization: snap.eventLoopUtilization,
  };
}
