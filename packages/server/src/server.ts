// MkvServer: the programmatic live server. A net.Server with a small bounded HTTP/1.1 head parser,
// one LiveStream + input Source per mount, a shared write Flusher, status/metrics routes, and a
// clean shutdown. Used by `mkvserve serve` and directly by the library API and tests.

import net from 'node:net';
import type { Socket } from 'node:net';
import { MatroskaDemuxer } from '@mkvserve/ebml';
import type { Frame, MatroskaHeader } from '@mkvserve/ebml';
import { LiveStream } from '@mkvserve/fanout';
import type { LiveStreamOptions } from '@mkvserve/fanout';
import type { Logger } from './log.js';
import { nullLogger } from './log.js';
import { acceptConnection } from './http/connection.js';
import type { ConnectionHandler } from './http/connection.js';
import type { RequestHead } from './http/parser.js';
import { responseHead, sendResponse, sendText } from './http/response.js';
import type { HeaderList } from './http/response.js';
import {
  adminAccess,
  bearerMatches,
  contentTypeFor,
  isLoopbackHost,
  renderListing,
  validateMountName,
} from './http/routes.js';
import type { AdminAccess } from './http/routes.js';
import { Flusher, StreamClient } from './http/stream.js';
import type { EndReason } from './http/stream.js';
import { Source } from './inputs/source.js';
import type { DemuxerFactory, FrameSink } from './inputs/source.js';
import type { Input } from './inputs/open.js';
import { buildStatus } from './status.js';
import type { ServerStatus } from './status.js';
import { renderMetrics } from './metrics.js';

export interface MountConfig {
  /** One path segment (not api/metrics, no dot). */
  name: string;
  /** File path, '-' (stdin) or http(s) URL. */
  input: string;
  /** Display name of the input (default `input`). */
  inputName?: string;
  /** Custom opener (tests, embedding); default openInput from ./inputs/open.js. */
  open?: (spec: string, signal: AbortSignal) => Promise<Input>;
  loop?: boolean;
  reconnect?: boolean;
  /** true/false force real-time pacing; undefined = automatic. */
  realtime?: boolean;
  /** Pacing speed factor (default 1). */
  speed?: number;
  /** Reconnect backoff start/max, ms (default 500 / 10 000). */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** Fanout options (history size, slow-client limits). */
  live?: LiveStreamOptions;
}

export interface MkvServerOptions {
  host?: string;
  /** 0 = ephemeral (default 8080). */
  port?: number;
  mounts: MountConfig[];
  /** Access-Control-Allow-Origin value for the stream and status routes. */
  cors?: string;
  /** Bearer token for /api/status and /metrics (required for them when not on loopback). */
  adminToken?: string;
  /** Keep serving after every input ended (stream requests then get 503). */
  keepAlive?: boolean;
  /** Shared flush period, ms (default 100: the cost per client is the number of writes). */
  flushMs?: number;
  /** Time allowed to send the request head, ms (default 5000). */
  headTimeoutMs?: number;
  /** Slow-client policy check period, ms (default 1000). */
  checkIntervalMs?: number;
  /** Most clients at once (default 20 000); more get 503. */
  maxClients?: number;
  /**
   * Listen backlog: connections the kernel queues until they are accepted (default 4096, not Node's
   * 511, so that thousands of clients connecting at once are not refused). Linux caps it at
   * /proc/sys/net/core/somaxconn.
   */
  backlog?: number;
  log?: Logger;
  createDemuxer?: DemuxerFactory;
}

const defaultDemuxer: DemuxerFactory = (cb) =>
  new MatroskaDemuxer({
    onHeader: (h) => cb.onHeader(h),
    onFrame: (f) => cb.onFrame(f),
    onError: (e) => cb.onError(e),
  });

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

/** One mount: a LiveStream fed by a Source, and its clients. */
export class Mount implements FrameSink {
  readonly name: string;
  readonly config: MountConfig;
  readonly live: LiveStream;
  readonly source: Source;
  readonly clients = new Set<StreamClient>();
  header: MatroskaHeader | undefined;
  inputEnded = false;
  /** Totals over the mount's life. */
  clientsTotal = 0;
  bytesSentClosed = 0;
  drops = 0;
  skipsClosed = 0;
  /** Stream requests waiting for the header. */
  pending: PendingClient[] = [];
  /** Length of `pending` at which closed requests are next pruned from it. */
  private pendingPruneAt = PENDING_PRUNE_MIN;
  private readonly server: MkvServer;

  constructor(server: MkvServer, config: MountConfig, createDemuxer: DemuxerFactory, log: Logger) {
    this.server = server;
    this.name = config.name;
    this.config = config;
    // Buffers, so that sockets write the fanout's shared views as they are.
    this.live = new LiveStream({ allocate: (n) => Buffer.allocUnsafeSlow(n), ...config.live });
    this.source = new Source(this, {
      spec: config.input,
      name: config.inputName ?? config.input,
      createDemuxer,
      ...(config.open ? { open: config.open } : {}),
      loop: config.loop ?? false,
      reconnect: config.reconnect ?? false,
      ...(config.realtime !== undefined ? { realtime: config.realtime } : {}),
      ...(config.speed !== undefined ? { speed: config.speed } : {}),
      ...(config.backoffMs !== undefined ? { backoffMs: config.backoffMs } : {}),
      ...(config.maxBackoffMs !== undefined ? { maxBackoffMs: config.maxBackoffMs } : {}),
      log: log.child({ mount: config.name }),
    });
  }

  get contentType(): string | undefined {
    return this.header ? contentTypeFor(this.header.ebml.docType) : undefined;
  }

  setHeader(h: MatroskaHeader): void {
    this.header = h;
    this.live.setHeader(h);
    if (this.pending.length > 0) {
      for (const p of this.takePending()) if (!p.socket.destroyed) this.server.startStream(this, p.socket, p.head);
    }
  }

  /** Holds a stream request until the header is known. A viewer that gives up meanwhile (half-closes)
   *  is destroyed, and closed requests are pruned from the list now and then (amortized O(1)), so
   *  viewers coming and going while the input has no header pile up neither sockets nor entries. */
  addPending(socket: Socket, head: RequestHead): void {
    if (this.pending.length >= this.pendingPruneAt) {
      this.pending = this.pending.filter((p) => !p.socket.destroyed);
      this.pendingPruneAt = Math.max(PENDING_PRUNE_MIN, 2 * this.pending.length);
    }
    socket.on('end', onPendingSocketEnd);
    this.pending.push({ socket, head });
  }

  private takePending(): PendingClient[] {
    const list = this.pending;
    this.pending = [];
    this.pendingPruneAt = PENDING_PRUNE_MIN;
    for (const p of list) p.socket.off('end', onPendingSocketEnd);
    return list;
  }

  pushFrame(f: Frame): void {
    this.live.pushFrame(f);
  }

  end(): void {
    this.inputEnded = true;
    this.live.end();
    for (const p of this.takePending())
      sendText(p.socket, 503, 'input ended before any media arrived\n', p.head.method === 'HEAD');
    this.server.checkDone();
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
}

export class MkvServer implements ConnectionHandler {
  readonly options: MkvServerOptions;
  readonly log: Logger;
  readonly mounts = new Map<string, Mount>();
  readonly headTimeoutMs: number;
  readonly startedAt = Date.now();
  readonly flusher: Flusher;
  /** Resolves when every input ended and every client was served (never with keepAlive). */
  readonly done: Promise<void>;
  readonly admin: AdminAccess;
  private readonly net: net.Server;
  private resolveDone!: () => void;
  private checkTimer: NodeJS.Timeout | undefined;
  private stopping: Promise<void> | undefined;
  private started = false;
  private listening = false;
  private boundHost = '127.0.0.1';
  private boundPort = 0;
  private readonly sockets = new Set<Socket>();
  /** Totals (for metrics). */
  connections = 0;
  rejectedCount = 0;
  requests = 0;

  constructor(options: MkvServerOptions) {
    this.options = options;
    this.log = options.log ?? nullLogger;
    this.headTimeoutMs = options.headTimeoutMs ?? 5000;
    if (options.mounts.length === 0) throw new Error('MkvServer: at least one mount is needed');
    const createDemuxer = options.createDemuxer ?? defaultDemuxer;
    for (const m of options.mounts) {
      const name = validateMountName(m.name);
      if (this.mounts.has(name)) throw new Error(`duplicate mount name "${name}"`);
      this.mounts.set(name, new Mount(this, { ...m, name }, createDemuxer, this.log));
    }
    this.admin = adminAccess(options.host ?? '127.0.0.1', options.adminToken);
    this.flusher = new Flusher({
      intervalMs: options.flushMs ?? 100,
      onDropped: (c) => {
        const m = this.mounts.get(c.mount);
        if (m) m.drops++;
      },
    });
    this.done = new Promise((resolve) => {
      this.resolveDone = resolve;
    });
    this.net = net.createServer({ allowHalfOpen: true, pauseOnConnect: false, noDelay: true }, (socket) =>
      this.onConnection(socket),
    );
    this.net.on('error', (err) => this.log.error('server_error', { error: err.message }));
  }

  /** Listens and starts the inputs. Resolves with the bound address. */
  async start(): Promise<{ host: string; port: number; url: string }> {
    if (this.started) throw new Error('MkvServer: already started');
    this.started = true;
    const host = this.options.host ?? '127.0.0.1';
    const port = this.options.port ?? 8080;
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      this.net.once('error', onError);
      this.net.listen({ host, port, backlog: this.options.backlog ?? 4096 }, () => {
        this.net.off('error', onError);
        resolve();
      });
    });
    this.listening = true;
    const addr = this.net.address() as net.AddressInfo;
    this.boundHost = addr.address;
    this.boundPort = addr.port;
    if (this.admin === 'forbidden') {
      this.log.warn('admin_disabled', {
        reason: `listening on ${host} (not loopback) without an admin token: /api/status and /metrics answer 403; set --admin-token or MKVSERVE_ADMIN_TOKEN`,
      });
    }
    this.flusher.start();
    this.checkTimer = setInterval(() => this.check(), this.options.checkIntervalMs ?? 1000);
    this.log.info('listening', { url: this.url(), mounts: [...this.mounts.keys()].join(',') });
    for (const m of this.mounts.values()) {
      void m.source.run().then(() => this.checkDone());
    }
    return { host: this.boundHost, port: this.boundPort, url: this.url() };
  }

  /** Base URL (http://host:port), or the URL of a mount. */
  url(mount?: string): string {
    const h = this.boundHost.includes(':') ? `[${this.boundHost}]` : this.boundHost;
    const base = `http://${h}:${this.boundPort}`;
    if (mount === undefined) {
      const first = this.mounts.keys().next().value as string;
      return `${base}/${first}`;
    }
    return mount === '' ? base : `${base}/${mount}`;
  }

  get port(): number {
    return this.boundPort;
  }

  get host(): string {
    return this.boundHost;
  }

  /** Total connected stream clients. */
  /** Requests waiting on mounts whose input has no header yet. */
  private waitingCount(): number {
    let n = 0;
    for (const m of this.mounts.values()) n += m.pending.length;
    return n;
  }

  get clientCount(): number {
    let n = 0;
    for (const m of this.mounts.values()) n += m.clients.size;
    return n;
  }

  /**
   * Stops: no new connections, inputs stopped, every response ended cleanly after what is already
   * queued; connections still open after `graceMs` are destroyed.
   */
  stop(graceMs = 1500): Promise<void> {
    this.stopping ??= this.doStop(graceMs);
    return this.stopping;
  }

  private async doStop(graceMs: number): Promise<void> {
    this.closeListener();
    for (const m of this.mounts.values()) m.source.stop();
    // Idle sockets (reading a head, or finished) go now.
    for (const s of this.sockets) if (!isStreaming(s)) s.destroy();
    const deadline = Date.now() + graceMs;
    for (const m of this.mounts.values()) for (const c of m.clients) this.flusher.mark(c);
    while (this.clientCount > 0 && Date.now() < deadline) {
      this.flusher.flushAll();
      for (const m of this.mounts.values()) for (const c of m.clients) if (!c.ended) c.end('shutdown');
      await new Promise((r) => setTimeout(r, 20));
    }
    for (const s of this.sockets) s.destroy();
    for (const m of this.mounts.values()) for (const c of [...m.clients]) c.destroy('shutdown');
    this.flusher.stop();
    if (this.checkTimer) clearInterval(this.checkTimer);
    this.checkTimer = undefined;
    await new Promise<void>((r) => setImmediate(r));
    this.resolveDone();
  }

  private closeListener(): void {
    if (!this.listening) return;
    this.listening = false;
    this.net.close();
  }

  /** @internal Resolves `done` once all inputs ended and all clients are gone (unless keepAlive). */
  checkDone(): void {
    let allEnded = true;
    for (const m of this.mounts.values()) if (!m.inputEnded) allEnded = false;
    if (!allEnded || this.options.keepAlive) return;
    this.closeListener();
    if (this.clientCount === 0) {
      this.flusher.stop();
      if (this.checkTimer) clearInterval(this.checkTimer);
      this.checkTimer = undefined;
      for (const s of this.sockets) s.destroy();
      this.resolveDone();
    }
  }

  private check(): void {
    const now = Date.now();
    for (const m of this.mounts.values()) {
      // Pull for every writable client now and then: keeps idle-but-healthy clients (input stalled,
      // reconnecting) from counting as idle, and is a safety net for any missed wake-up.
      for (const c of m.clients) if (!c.ended && !c.socket.writableNeedDrain) this.flusher.mark(c);
      const res = m.live.checkSubscribers(now);
      if (res.dropped.length > 0) {
        for (const sub of res.dropped) {
          for (const c of m.clients) if (c.sub === sub) this.flusher.mark(c);
        }
      }
    }
  }

  private onConnection(socket: Socket): void {
    this.connections++;
    if (!this.listening || this.stopping) {
      socket.destroy();
      return;
    }
    this.sockets.add(socket);
    (socket as OwnedSocket)[kOwner] = this.sockets;
    socket.once('close', onOwnedSocketClose);
    acceptConnection(socket, this);
  }

  /** ConnectionHandler: bad or slow request head. */
  rejected(socket: Socket, status: number, reason: string): void {
    this.rejectedCount++;
    this.log.warn('request_rejected', { address: socket.remoteAddress, status, reason });
  }

  /** ConnectionHandler: routes one request. */
  dispatch(socket: Socket, head: RequestHead): void {
    this.requests++;
    const method = head.method;
    const isHead = method === 'HEAD';
    const cors: HeaderList = this.options.cors ? [['Access-Control-Allow-Origin', this.options.cors]] : [];
    if (method === 'OPTIONS' && this.options.cors) {
      sendResponse(socket, 204, [
        ...cors,
        ['Access-Control-Allow-Methods', 'GET, HEAD'],
        ['Access-Control-Allow-Headers', 'Range, Authorization'],
        ['Access-Control-Max-Age', 600],
      ]);
      return;
    }
    if (method !== 'GET' && !isHead) {
      sendText(socket, 405, 'only GET and HEAD\n', false, [['Allow', 'GET, HEAD']]);
      return;
    }
    let path = head.path;
    if (path.length > 1 && path.endsWith('/')) path = path.slice(0, -1);
    if (path === '/') {
      const text = !(head.headers.get('accept') ?? '').includes('text/html');
      const body = renderListing(
        [...this.mounts.values()].map((m) => ({
          name: m.name,
          input: m.source.name,
          state: m.source.state,
          clients: m.clients.size,
          contentType: m.contentType,
        })),
        text,
      );
      sendResponse(
        socket,
        200,
        [
          ['Content-Type', text ? 'text/plain; charset=utf-8' : 'text/html; charset=utf-8'],
          ['Cache-Control', 'no-store'],
          ...cors,
        ],
        body,
        isHead,
      );
      return;
    }
    if (path === '/api/status' || path === '/metrics') {
      if (!this.authorized(socket, head, isHead)) return;
      if (path === '/api/status') {
        // Diagnostics: with node --expose-gc, `?gc=1` collects garbage first (leak checks).
        const gc = (globalThis as { gc?: () => void }).gc;
        if (gc && /(^|&)gc=1(&|$)/.test(head.query)) gc();
        sendResponse(
          socket,
          200,
          [['Content-Type', 'application/json; charset=utf-8'], ['Cache-Control', 'no-store'], ...cors],
          JSON.stringify(this.status(), null, 2) + '\n',
          isHead,
        );
      } else {
        sendResponse(
          socket,
          200,
          [
            ['Content-Type', 'text/plain; version=0.0.4; charset=utf-8'],
            ['Cache-Control', 'no-store'],
          ],
          renderMetrics(this),
          isHead,
        );
      }
      return;
    }
    const mount = path.indexOf('/', 1) < 0 ? this.mounts.get(path.slice(1)) : undefined;
    if (!mount) {
      sendText(socket, 404, 'not found\n', isHead);
      return;
    }
    // Range: a live stream has no byte positions. Every Range (bytes=0- from browsers, or any other)
    // gets the normal 200 stream, with Accept-Ranges: none. A malformed one is ignored too.
    if (mount.inputEnded) {
      sendText(socket, 503, 'input ended\n', isHead, [['Retry-After', 5]]);
      return;
    }
    // Viewers waiting for a header count too: the waiting list is bounded by the same limit (closed
    // requests still in a list until it is next pruned count until then).
    if (this.clientCount + this.waitingCount() >= (this.options.maxClients ?? 20_000)) {
      sendText(socket, 503, 'too many clients\n', isHead, [['Retry-After', 5]]);
      return;
    }
    if (!mount.header) {
      mount.addPending(socket, head);
      return;
    }
    this.startStream(mount, socket, head);
  }

  private authorized(socket: Socket, head: RequestHead, isHead: boolean): boolean {
    if (this.admin === 'open') return true;
    if (this.admin === 'forbidden') {
      sendText(
        socket,
        403,
        'status and metrics need an admin token when listening beyond loopback (--admin-token or MKVSERVE_ADMIN_TOKEN)\n',
        isHead,
      );
      return false;
    }
    if (bearerMatches(head.headers.get('authorization'), this.options.adminToken!)) return true;
    sendText(socket, 401, 'admin token required\n', isHead, [['WWW-Authenticate', 'Bearer realm="mkvserve"']]);
    return false;
  }

  /** @internal Sends the stream response head and the joining burst, then registers the client. */
  startStream(mount: Mount, socket: Socket, head: RequestHead): void {
    const headers: HeaderList = [
      ['Content-Type', mount.contentType ?? 'video/x-matroska'],
      ['Cache-Control', 'no-store'],
      ['Accept-Ranges', 'none'],
      ['X-Content-Type-Options', 'nosniff'],
    ];
    if (this.options.cors) headers.push(['Access-Control-Allow-Origin', this.options.cors]);
    const text = responseHead(200, headers);
    if (head.method === 'HEAD') {
      socket.end(text);
      socket.setTimeout(this.headTimeoutMs);
      return;
    }
    if (mount.inputEnded) {
      sendText(socket, 503, 'input ended\n');
      return;
    }
    const sub = mount.live.subscribe();
    const client = new StreamClient(socket, sub, mount.name, this);
    mount.clients.add(client);
    mount.clientsTotal++;
    markStreaming(socket);
    this.log.info('client_connect', {
      client: client.id,
      address: client.address,
      port: client.port,
      mount: mount.name,
      ua: head.headers.get('user-agent'),
      range: head.headers.get('range'),
    });
    this.flusher.attach(client, text);
  }

  /** StreamClient events: the socket closed. */
  onClientClosed(c: StreamClient): void {
    const m = this.mounts.get(c.mount);
    if (!m) return;
    m.clients.delete(c);
    m.bytesSentClosed += c.bytesWritten;
    m.skipsClosed += c.sub.skips;
    const reason: EndReason = c.reason ?? 'client_closed';
    const fields = {
      client: c.id,
      address: c.address,
      port: c.port,
      mount: c.mount,
      bytes: c.bytesWritten,
      durationMs: Date.now() - c.since,
      reason,
      skips: c.sub.skips,
    };
    if (reason.startsWith('dropped')) this.log.warn('client_drop', fields);
    this.log.info('client_disconnect', fields);
    if (m.inputEnded) this.checkDone();
  }

  status(): ServerStatus {
    return buildStatus(this);
  }

  metrics(): string {
    return renderMetrics(this);
  }
}

const kOwner = Symbol('mkvserve.owner');
type OwnedSocket = Socket & { [kOwner]?: Set<Socket> };
/** Shared 'close' listener (no per-connection closure): forget the socket. */
function onOwnedSocketClose(this: OwnedSocket): void {
  this[kOwner]?.delete(this);
}

const kStreaming = Symbol('mkvserve.streaming');
function markStreaming(s: Socket): void {
  (s as Socket & { [kStreaming]?: boolean })[kStreaming] = true;
}
function isStreaming(s: Socket): boolean {
  return (s as Socket & { [kStreaming]?: boolean })[kStreaming] === true;
}

export { isLoopbackHost };
