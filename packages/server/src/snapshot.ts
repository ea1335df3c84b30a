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
}
