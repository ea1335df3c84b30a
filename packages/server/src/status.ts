// GET /api/status: the JSON form of a server snapshot (mounts, inputs, tracks, bitrate, clients).
// Built from the plain snapshot (snapshot.ts), never from the server object.

import type { SubscriberState } from '@mkvserve/fanout';
import type { PacingMode, SourceState } from './inputs/source.js';
import type { IngestSnapshot, ServerSnapshot, SourceSnapshot, TrackSnapshot } from './snapshot.js';

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
  rssBytes: number;
  memory: { rss: number; heapTotal: number; heapUsed: number; external: number; arrayBuffers: number };
  mounts: MountStatus[];
  clients: ClientStatus[];
  totals: { clients: number; connections: number; requests: number; rejected: number; bytesSent: number };
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

export function buildStatus(snap: ServerSnapshot): ServerStatus {
  const now = snap.now;
  const mounts: MountStatus[] = [];
  const clients: ClientStatus[] = [];
  let bytesSent = 0;
  for (const m of snap.mounts) {
    bytesSent += m.bytesSent;
    const i = m.input;
    mounts.push({
      name: m.name,
      path: `/${m.name}`,
      url: `${snap.listening}/${m.name}`,
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
      ingest: ingestStatus(m.ingest ?? null, now),
      history: {
        bytes: m.history.bytes,
        clusters: m.history.clusters,
        joinPoints: m.history.joinPoints,
        durationSec: round3(m.history.durationNs),
        bitrate: m.history.bitrate,
      },
    });
    for (const c of m.clientList ?? []) {
      clients.push({
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
      });
    }
  }
  const mem = process.memoryUsage();
  return {
    name: 'mkvserve',
    version: snap.version,
    pid: snap.pid,
    startedAt: new Date(snap.startedAt).toISOString(),
    uptimeSec: Math.round((now - snap.startedAt) / 100) / 10,
    listening: snap.listening,
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
  };
}
