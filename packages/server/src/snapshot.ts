// A plain snapshot of the server's state: what /api/status, /metrics and the `/` page are built from.
// Status and metrics read this object, never the server or its mounts, so they stay free of them (no
// import cycle) and every figure on every page comes from the same moment. Types only, plus the
// shape the fanout's own types give (a state name typo does not compile).

import type { SubscriberState } from '@mkvserve/fanout';
import type { PacingMode, SourceState } from './inputs/source.js';

export interface TrackSnapshot {
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

export interface ClientSnapshot {
  id: number;
  address: string;
  port: number;
  mount: string;
  /** Date.now() when it connected. */
  since: number;
  bytesSent: number;
  lagMs: number;
  skips: number;
  state: SubscriberState;
  /** The request's User-Agent (cut at 256 characters). */
  userAgent: string | null;
  /** The TCP peer when `address` came from a trusted proxy (PROXY protocol, X-Forwarded-For), else null. */
  proxy: string | null;
}

export interface InputSnapshot {
  /** The input as it may be shown (redacted: no credentials, no query). */
  display: string;
  /** Kind of the opened input (file, stdin, url; tcp, push), null before the first open. */
  kind: string | null;
  state: SourceState;
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
  /** Payload bits per second over the last seconds. */
  bitrate: number;
  /** Redacted. */
  lastError: string | null;
  /** Newest media timestamp pushed, ns. */
  positionNs: number;
}

/** One source connected to a push or TCP listen mount. */
export interface SourceSnapshot {
  id: number;
  protocol: 'http' | 'tcp';
  address: string;
  port: number;
  /** HTTP method (PUT, POST, SOURCE). */
  method?: string;
  userAgent?: string;
  /** Date.now() when it connected. */
  since: number;
  bytes: number;
  /** HTTP requests that made up the stream (a PUT per buffer batch: GStreamer). */
  requests: number;
  state: 'sniffing' | 'streaming' | 'between' | 'ended';
  /** How it ended (null while connected). */
  end: 'ended' | 'lost' | 'timeout' | 'taken_over' | 'error' | 'stopped' | null;
  endedAt: number | null;
}

/** How a push or TCP listen mount takes sources, and what came (no secret in it). */
export interface IngestSnapshot {
  protocol: 'http' | 'tcp';
  /** The bound tcp:// address (TCP listen), else null. */
  listen: string | null;
  /** `token` (the mount's token is checked) or `none` (plain TCP; push with allowSources only). */
  auth: 'token' | 'none';
  allowSources: string[] | null;
  takeover: boolean;
  /** The source connected now. */
  source: SourceSnapshot | null;
  /** The last source that ended. */
  lastSource: SourceSnapshot | null;
  /** Sources accepted. */
  sources: number;
  /** Sources lost (connection broken), timed out, taken over or unusable. */
  drops: number;
  /** Connections and requests refused (address, token, busy, not Matroska). */
  refused: number;
  /** Bytes received from all sources. */
  bytes: number;
}

export interface MountSnapshot {
  name: string;
  contentType: string | null;
  docType: string | null;
  input: InputSnapshot;
  tracks: TrackSnapshot[];
  /** Connected stream clients. */
  clients: number;
  /** Requests waiting for the input's header. */
  waiting: number;
  clientsTotal: number;
  bytesSent: number;
  skips: number;
  drops: number;
  /** Viewers refused by a limit (mount full, server full, per address). */
  refused: number;
  /** This mount's client limit (0 = only the server's). */
  maxClients: number;
  inputEnded: boolean;
  /** Push and TCP listen mounts: their sources; null (or absent) for other inputs. */
  ingest?: IngestSnapshot | null;
  history: { bytes: number; clusters: number; joinPoints: number; durationNs: number; bitrate: number };
  /** Per client (only when asked for: it costs one entry per client). */
  clientList?: ClientSnapshot[];
}

export interface ServerSnapshot {
  version: string;
  pid: number;
  /** Date.now() values. */
  startedAt: number;
  now: number;
  /** Base URL the server listens on. */
  listening: string;
  /** Listening on a loopback address only. */
  loopback: boolean;
  /** Base URL of the separate admin listener, when there is one. */
  adminListening: string | null;
  mounts: MountSnapshot[];
  totals: { connections: number; requests: number; rejected: number; writes: number };
  /** The write coalescing interval now (flushMs, or more while the event loop is saturated). */
  flushIntervalMs: number;
  /** The event loop's utilization (0..1) over the last 250 ms check, or null before the first. */
  eventLoopUtilization: number | null;
}
