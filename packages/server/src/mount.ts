// One mount: a LiveStream fed by a Source, the clients streaming it, and the requests waiting for its
// header. A mount knows nothing of the server: it gets the shared Flusher and a logger, and reports
// through events (input ended, client gone), which the server listens to.

import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import type { MatroskaHeader, Frame } from '@mkvserve/ebml';
import { LiveStream } from '@mkvserve/fanout';
import type { MountConfig } from './config.js';
import type { Logger } from './log.js';
import { responseHead, sendText } from './http/response.js';
import type { HeaderList } from './http/response.js';
import type { RequestHead } from './http/parser.js';
import { StreamClient } from './http/stream.js';
import { addressSource, peerAddress } from './http/client-address.js';
import { userAgentOf } from './http/user-agent.js';
import type { ClientEvents, EndReason, Flusher } from './http/stream.js';
import { Source } from './inputs/source.js';
import type { DemuxerFactory, FrameSink } from './inputs/source.js';
import type { Input } from './inputs/open.js';
import { inputKindFor } from './inputs/kinds.js';
import { IngestPoint } from './ingest/point.js';
import { parseTcpListen } from './ingest/tcp-spec.js';
import { redactInput } from './redact.js';
import type { ClientSnapshot, MountSnapshot } from './snapshot.js';

export interface MountEvents {
  /** The input ended for good (no loop or reconnect left) and the LiveStream was ended. */
  'input-end': [];
  /** A stream client started (its response head was written). */
  'client-open': [client: StreamClient];
  /** A stream client is gone. */
  'client-close': [client: StreamClient];
}

export interface MountDeps {
  /** The shared write scheduler. */
  flusher: Flusher;
  log: Logger;
  createDemuxer: DemuxerFactory;
  /** Custom opener (tests, embedding); default: the input kind's. */
  open?: (spec: string, signal: AbortSignal) => Promise<Input>;
  /** How the input is shown (default: the redacted spec). */
  inputName?: string;
  /** Access-Control-Allow-Origin when the mount sets none. */
  serverCors: string | undefined;
  /** Socket timeout after a HEAD response (ms). */
  lingerMs: number;
}

interface PendingClient {
  socket: Socket;
  head: RequestHead;
}

const PENDING_PRUNE_MIN = 64;

/** Shared 'end' listener of a request waiting for the header: the viewer half-closed, so it is gone
 *  (the server runs with allowHalfOpen, so nothing else would close the socket). */
function onPendingSocketEnd(this: Socket): void {
  this.destroy();
}

export function contentTypeFor(docType: string | undefined): string {
  return docType === 'webm' ? 'video/webm' : 'video/x-matroska';
}

/** The ingest point of a push or TCP listen mount (undefined for other inputs). */
function createIngest(config: MountConfig, log: Logger): IngestPoint | undefined {
  const kind = inputKindFor(config.input)?.kind;
  if (kind !== 'push' && kind !== 'tcp') return undefined;
  const tcp = kind === 'tcp' ? parseTcpListen(config.input) : undefined;
  if (typeof tcp === 'string') throw new Error(`mount ${config.name}: ${tcp}`);
  return new IngestPoint({
    mount: config.name,
    tcp,
    live: config,
    allowSources: config.allowSources,
    idleTimeoutMs: config.sourceIdleTimeoutMs,
    log,
  });
}

export class Mount extends EventEmitter<MountEvents> implements FrameSink, ClientEvents {
  readonly name: string;
  readonly config: MountConfig;
  readonly live: LiveStream;
  readonly source: Source;
  readonly clients = new Set<StreamClient>();
  /** The input as it may be shown (redacted; a TCP listen input: its bound address once listening). */
  get display(): string {
    return this.displayName ?? this.ingest?.display ?? '';
  }
  private readonly displayName: string | undefined;
  /** Access-Control-Allow-Origin of the stream (the mount's, else the server's). */
  readonly cors: string | undefined;
  /** Where sources connect, for push and TCP listen inputs (else undefined). */
  readonly ingest: IngestPoint | undefined;
  header: MatroskaHeader | undefined;
  inputEnded = false;
  /** Totals over the mount's life. */
  clientsTotal = 0;
  bytesSentClosed = 0;
  drops = 0;
  skipsClosed = 0;
  refused = 0;
  /** Stream requests waiting for the header. */
  pending: PendingClient[] = [];
  /** Length of `pending` at which closed requests are next pruned from it. */
  private pendingPruneAt = PENDING_PRUNE_MIN;
  private readonly flusher: Flusher;
  private readonly log: Logger;
  private readonly lingerMs: number;
  /** The stream response head, made once per content type. */
  private streamHead = '';
  private graceExpired = false;

  constructor(config: MountConfig, deps: MountDeps) {
    super();
    this.name = config.name;
    this.config = config;
    this.flusher = deps.flusher;
    this.lingerMs = deps.lingerMs;
    this.cors = config.cors ?? deps.serverCors;
    this.log = deps.log.child({ mount: config.name });
    this.ingest = deps.open ? undefined : createIngest(config, this.log);
    this.displayName =
      deps.inputName ?? (this.ingest ? undefined : config.input === '-' ? 'stdin' : redactInput(config.input));
    const sc = config.slowClients;
    this.live = new LiveStream({
      // Buffers, so that sockets write the fanout's shared views as they are.
      allocate: (n) => Buffer.allocUnsafeSlow(n),
      join: config.join,
      softLimitNs: sc.softLimitMs * 1e6,
      hardLimitNs: sc.hardLimitMs * 1e6,
      idleTimeoutMs: sc.idleTimeoutMs,
      historyMaxBytes: config.history.maxBytes,
      historyMaxClusters: config.history.maxClusters,
    });
    this.source = new Source(this, {
      spec: config.input,
      name: this.display,
      createDemuxer: deps.createDemuxer,
      ...(deps.open ? { open: deps.open } : {}),
      ...(this.ingest ? { ingest: this.ingest } : {}),
      loop: config.loop,
      reconnect: config.reconnect,
      realtime: config.realtime,
      speed: config.speed,
      leadMs: config.leadMs,
      liveLeadMs: config.liveLeadMs,
      backoffMs: config.backoffMs,
      maxBackoffMs: config.maxBackoffMs,
      log: this.log,
    });
  }

  get contentType(): string | undefined {
    return this.header ? contentTypeFor(this.header.ebml.docType) : undefined;
  }

  /** Starts the input; resolves when it is finished (never rejects). */
  run(): Promise<void> {
    return this.source.run();
  }

  // FrameSink (the Source feeds these).

  setHeader(h: MatroskaHeader): void {
    this.header = h;
    this.live.setHeader(h);
    const headers: HeaderList = [
      ['Content-Type', contentTypeFor(h.ebml.docType)],
      ['Cache-Control', 'no-store'],
      ['Accept-Ranges', 'none'],
      ['X-Content-Type-Options', 'nosniff'],
    ];
    if (this.cors !== undefined) headers.push(['Access-Control-Allow-Origin', this.cors]);
    this.streamHead = responseHead(200, headers);
    if (this.pending.length > 0) {
      for (const p of this.takePending()) if (!p.socket.destroyed) this.start(p.socket, p.head);
    }
  }

  pushFrame(f: Frame): void {
    this.graceExpired = false;
    this.live.pushFrame(f);
  }

  end(): void {
    this.inputEnded = true;
    this.live.end();
    this.closePending(503, 'input ended before any media arrived\n');
    this.emit('input-end');
  }

  /** Answers every request still waiting for the header (input ended, server shutting down). */
  closePending(status: number, text: string): void {
    for (const p of this.takePending())
      sendText(p.socket, status, text, p.head.method === 'HEAD', [['Retry-After', 5]]);
  }

  /** Connected clients plus requests waiting for the header. */
  get viewerCount(): number {
    return this.clients.size + this.pending.length;
  }

  /**
   * Takes a viewer's request: streams at once when the header is known, else holds it until then.
   * A viewer that gives up meanwhile (half-closes) is destroyed, and closed requests are pruned from
   * the list now and then (amortized O(1)).
   */
  accept(socket: Socket, head: RequestHead): void {
    if (this.sourceGone(Date.now())) {
      // A push/TCP mount whose source left longer than sourceGraceMs ago: nothing is coming for now.
      this.refused++;
      sendText(
        socket,
        503,
        `no source is connected to /${this.name} right now; try again later\n`,
        head.method === 'HEAD',
        [['Retry-After', 5]],
      );
      return;
    }
    if (this.header) {
      this.start(socket, head);
      return;
    }
    if (this.pending.length >= this.pendingPruneAt) this.prunePending();
    socket.on('end', onPendingSocketEnd);
    this.pending.push({ socket, head });
  }

  /** Drops the requests that gave up while waiting (closed sockets); returns how many still wait. The
   *  client limits call it before refusing, so a viewer that left frees its slot at once. */
  prunePending(): number {
    this.pending = this.pending.filter((p) => !p.socket.destroyed);
    this.pendingPruneAt = Math.max(PENDING_PRUNE_MIN, 2 * this.pending.length);
    return this.pending.length;
  }

  private takePending(): PendingClient[] {
    const list = this.pending;
    this.pending = [];
    this.pendingPruneAt = PENDING_PRUNE_MIN;
    for (const p of list) p.socket.off('end', onPendingSocketEnd);
    return list;
  }

  /** Sends the stream response head and the joining burst, then registers the client. */
  private start(socket: Socket, head: RequestHead): void {
    if (head.method === 'HEAD') {
      socket.end(this.streamHead);
      socket.setTimeout(this.lingerMs);
      return;
    }
    if (this.inputEnded) {
      sendText(socket, 503, 'input ended\n', false, [['Retry-After', 5]]);
      return;
    }
    const sub = this.live.subscribe();
    const client = new StreamClient(socket, sub, this.name, this);
    client.userAgent = userAgentOf(head);
    this.clients.add(client);
    this.clientsTotal++;
    this.log.info('client_connect', {
      client: client.id,
      address: client.address,
      port: client.port,
      ua: head.headers.get('user-agent'),
      range: head.headers.get('range'),
    });
    this.flusher.attach(client, this.streamHead);
    this.emit('client-open', client);
  }

  /** ClientEvents: the client's socket closed. */
  onClientClosed(c: StreamClient): void {
    if (!this.clients.delete(c)) return;
    this.bytesSentClosed += c.bytesWritten;
    this.skipsClosed += c.sub.skips;
    const reason: EndReason = c.reason ?? 'client_closed';
    const fields = {
      client: c.id,
      address: c.address,
      port: c.port,
      bytes: c.bytesWritten,
      durationMs: Date.now() - c.since,
      reason,
      skips: c.sub.skips,
    };
    if (reason.startsWith('dropped')) {
      this.drops++;
      this.log.warn('client_drop', fields);
    }
    this.log.info('client_disconnect', fields);
    this.emit('client-close', c);
  }

  /**
   * Periodic work (the server's check timer): keeps writable clients pulling, applies the slow-client
   * policy, and ends the clients once the source has been lost for longer than sourceGraceMs.
   */
  check(now: number): void {
    // Pull for every writable client now and then: keeps idle-but-healthy clients (input stalled,
    // reconnecting) from counting as idle, and is a safety net for any missed wake-up.
    for (const c of this.clients) if (!c.ended && !c.socket.writableNeedDrain) this.flusher.mark(c);
    const res = this.live.checkSubscribers(now);
    if (res.dropped.length > 0) {
      for (const sub of res.dropped) for (const c of this.clients) if (c.sub === sub) this.flusher.mark(c);
    }
    const st = this.source.state;
    if (
      !this.graceExpired &&
      (st === 'waiting' || st === 'opening') &&
      this.source.lastFrameAt > 0 &&
      now - this.source.lastFrameAt > this.config.sourceGraceMs &&
      this.clients.size > 0
    ) {
      // Lost for longer than the grace period: end the responses cleanly so players reconnect.
      this.graceExpired = true;
      this.log.warn('source_lost', { clients: this.clients.size, graceMs: this.config.sourceGraceMs });
      for (const c of this.clients) c.end('eof');
    }
  }

  /** A push or TCP listen mount whose last source left more than sourceGraceMs ago (none since). */
  sourceGone(now: number): boolean {
    return (
      this.ingest !== undefined &&
      !this.ingest.connected &&
      this.source.state === 'waiting' &&
      this.source.lastFrameAt > 0 &&
      now - this.source.lastFrameAt > this.config.sourceGraceMs
    );
  }

  get skips(): number {
    let n = this.skipsClosed;
    for (const c of this.clients) n += c.sub.skips;
    return n;
  }

  get bytesSent(): number {
    let n = this.bytesSentClosed;
    for (const c of this.clients) n += c.bytesWritten;
    return n;
  }

  /** A plain snapshot of the mount (with one entry per client when `withClients`). */
  snapshot(withClients: boolean): MountSnapshot {
    const src = this.source;
    const st = this.live.stats;
    const h = this.header;
    const snap: MountSnapshot = {
      name: this.name,
      contentType: this.contentType ?? null,
      docType: h?.ebml.docType ?? null,
      input: {
        display: this.display,
        kind: src.kind ?? null,
        state: src.state,
        pacing: src.pacing,
        loop: this.config.loop,
        reconnect: this.config.reconnect,
        opens: src.opens,
        loops: src.loops,
        reconnects: src.reconnects,
        splices: src.splices,
        trackChanges: src.headerChanges,
        bytesIn: src.bytesIn,
        frames: src.frames,
        bitrate: src.bitrate(),
        lastError: src.lastError === undefined ? null : src.lastError,
        positionNs: src.lastTimestamp,
      },
      tracks: (h?.tracks ?? []).map((t) => {
        const o: MountSnapshot['tracks'][number] = { number: t.number, kind: t.kind, codecId: t.codecId };
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
      clients: this.clients.size,
      waiting: this.pending.length,
      clientsTotal: this.clientsTotal,
      bytesSent: this.bytesSent,
      skips: this.skips,
      drops: this.drops,
      refused: this.refused,
      maxClients: this.config.maxClients,
      inputEnded: this.inputEnded,
      ingest: this.ingest?.snapshot() ?? null,
      history: {
        bytes: st.historyBytes,
        clusters: st.historyClusters,
        joinPoints: st.historyJoinPoints,
        durationNs: st.historyDurationNs,
        bitrate: Math.round(st.bitrate),
      },
    };
    if (withClients) {
      const list: ClientSnapshot[] = [];
      for (const c of this.clients) {
        list.push({
          id: c.id,
          address: c.address,
          port: c.port,
          mount: this.name,
          since: c.since,
          bytesSent: c.bytesWritten,
          lagMs: Math.round(c.sub.lagNs / 1e6),
          skips: c.sub.skips,
          state: c.sub.state as ClientSnapshot['state'],
          userAgent: c.userAgent ?? null,
          proxy: addressSource(c.socket) === 'peer' ? null : peerAddress(c.socket),
        });
      }
      snap.clientList = list;
    }
    return snap;
  }
}
