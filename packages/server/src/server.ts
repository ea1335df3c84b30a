// MkvServer: the programmatic live server. Owns the listening socket, the mounts (mount.ts), the shared
// write Flusher, the client limits and the shutdown; routing is the route table's (routes.ts), status
// and metrics are built from snapshots (snapshot.ts). Its options are a partial configuration that goes
// through the same resolver as the CLI and the config file (config.ts).

import net from 'node:net';
import type { Socket } from 'node:net';
import { MatroskaDemuxer } from '@mkvserve/ebml';
import type { Logger } from './log.js';
import { nullLogger } from './log.js';
import { acceptConnection } from './http/connection.js';
import type { ConnectionHandler } from './http/connection.js';
import type { RequestHead } from './http/parser.js';
import { adminAccess, isLoopbackHost } from './http/auth.js';
import type { AdminAccess } from './http/auth.js';
import { Flusher } from './http/stream.js';
import type { StreamClient } from './http/stream.js';
import type { DemuxerFactory } from './inputs/source.js';
import type { Input } from './inputs/open.js';
import { inputKindFor } from './inputs/kinds.js';
import { parseLayer, resolveConfig } from './config.js';
import type { MountSettingsInput, ResolvedConfig, ServerConfig, ServerSettingsInput } from './config.js';
import { Mount } from './mount.js';
import { dispatch as routeRequest } from './routes.js';
import type { Refusal, RouteContext } from './routes.js';
import type { ServerSnapshot } from './snapshot.js';
import { buildStatus } from './status.js';
import type { ServerStatus } from './status.js';
import { createMetrics } from './metrics.js';
import type { MetricsRenderer } from './metrics.js';
import { packageVersion } from './version.js';

/** Things a mount can be given in code only (not in a config file). */
export interface MountHooks {
  /** Custom opener (tests, embedding); default: the input kind's (file, stdin, URL). */
  open?: (spec: string, signal: AbortSignal) => Promise<Input>;
  /** How the input is shown in logs, status and `/` (default: the input, redacted). */
  inputName?: string;
}

/** One mount in the library's options: its name and its settings (see MOUNT_DEFAULTS), plus hooks. */
export interface MountOptions extends MountSettingsInput, MountHooks {
  name: string;
  input: string;
}

export interface ServerRuntime {
  log?: Logger;
  createDemuxer?: DemuxerFactory;
}

/**
 * Library options: server settings (see SERVER_DEFAULTS) at the top level and the mounts as a list, or
 * a configuration already resolved (`config`, from resolveConfig) with hooks per mount name.
 */
export type MkvServerOptions = ServerRuntime &
  (
    | (ServerSettingsInput & { mounts: MountOptions[]; config?: undefined })
    | { config: ResolvedConfig; hooks?: Record<string, MountHooks>; mounts?: undefined }
  );

const defaultDemuxer: DemuxerFactory = (cb) =>
  new MatroskaDemuxer({
    onHeader: (h) => cb.onHeader(h),
    onFrame: (f) => cb.onFrame(f),
    onError: (e) => cb.onError(e),
  });

/** Turns library options into a resolved configuration and the hooks per mount. */
function resolveOptions(options: MkvServerOptions): { config: ResolvedConfig; hooks: Map<string, MountHooks> } {
  if (options.config !== undefined) {
    return { config: options.config, hooks: new Map(Object.entries(options.hooks ?? {})) };
  }
  const { mounts, log: _log, createDemuxer: _cd, config: _c, ...server } = options;
  if (!Array.isArray(mounts) || mounts.length === 0) throw new Error('MkvServer: at least one mount is needed');
  const hooks = new Map<string, MountHooks>();
  const layerMounts: Record<string, MountSettingsInput> = {};
  for (const m of mounts) {
    const { name, open, inputName, ...settings } = m;
    const key = typeof name === 'string' && name.startsWith('/') ? name.slice(1) : name;
    if (key in layerMounts) throw new Error(`MkvServer: duplicate mount name "${key}"`);
    layerMounts[key] = settings;
    hooks.set(key, { ...(open ? { open } : {}), ...(inputName !== undefined ? { inputName } : {}) });
  }
  const layer = parseLayer({ server, mounts: layerMounts }, { origin: 'MkvServer options' });
  return { config: resolveConfig([layer]), hooks };
}

const kOwner = Symbol('mkvserve.owner');
type OwnedSocket = Socket & { [kOwner]?: Set<Socket> };
/** Shared 'close' listener (no per-connection closure): forget the socket. */
function onOwnedSocketClose(this: OwnedSocket): void {
  this[kOwner]?.delete(this);
}

export class MkvServer implements ConnectionHandler, RouteContext {
  readonly config: ResolvedConfig;
  readonly log: Logger;
  readonly mounts = new Map<string, Mount>();
  /** ConnectionHandler: time allowed for a request head (ms). */
  readonly headTimeoutMs: number;
  /** ConnectionHandler: a connection with nothing in flight is closed after this long (ms). */
  readonly idleTimeoutMs: number;
  readonly startedAt = Date.now();
  readonly flusher: Flusher;
  /** Resolves when every input ended and every client was served (never with keepAlive), or after stop(). */
  readonly done: Promise<void>;
  readonly admin: AdminAccess;
  readonly adminToken: string | undefined;
  readonly cors: string | undefined;
  private readonly settings: ServerConfig;
  private readonly net: net.Server;
  private resolveDone!: () => void;
  private checkTimer: NodeJS.Timeout | undefined;
  private stopping: Promise<void> | undefined;
  /** Date.now() after which the shutdown stops waiting for open responses. */
  private stopDeadline = Infinity;
  private started = false;
  private listening = false;
  private boundHost = '127.0.0.1';
  private boundPort = 0;
  private readonly sockets = new Set<Socket>();
  /** Stream clients per address (only kept when maxClientsPerIp is set). */
  private readonly perIp: Map<string, number> | undefined;
  private metricsRenderer: MetricsRenderer | undefined;
  /** Totals (for metrics). */
  connections = 0;
  rejectedCount = 0;
  requests = 0;

  constructor(options: MkvServerOptions) {
    const { config, hooks } = resolveOptions(options);
    this.config = config;
    const s = config.server;
    this.settings = s;
    this.log = options.log ?? nullLogger;
    this.headTimeoutMs = s.headTimeoutMs;
    this.idleTimeoutMs = s.idleTimeoutMs;
    this.cors = s.cors;
    this.adminToken = s.adminToken;
    this.admin = adminAccess(s.host, s.adminToken);
    this.perIp = s.maxClientsPerIp > 0 ? new Map() : undefined;
    if (config.mounts.length === 0) throw new Error('MkvServer: at least one mount is needed');
    this.flusher = new Flusher({ intervalMs: s.flushMs });
    const createDemuxer = options.createDemuxer ?? defaultDemuxer;
    for (const mc of config.mounts) {
      const h = hooks.get(mc.name) ?? {};
      const mount = new Mount(mc, {
        flusher: this.flusher,
        log: this.log,
        createDemuxer,
        serverCors: s.cors,
        lingerMs: s.headTimeoutMs,
        ...(h.open ? { open: h.open } : {}),
        ...(h.inputName !== undefined ? { inputName: h.inputName } : {}),
      });
      mount.on('input-end', () => this.checkDone());
      mount.on('client-close', (c) => this.onClientClose(c));
      if (this.perIp) mount.on('client-open', (c) => this.onClientOpen(c));
      this.mounts.set(mc.name, mount);
    }
    this.done = new Promise((resolve) => {
      this.resolveDone = resolve;
    });
    this.net = net.createServer({ allowHalfOpen: true, pauseOnConnect: false, noDelay: true }, (socket) =>
      this.onConnection(socket),
    );
  }

  /**
   * Checks every input that can be checked without opening it (a file exists and is readable), then
   * listens and starts the inputs. Resolves with the bound address; rejects (nothing bound) with the
   * input's InputError or a listen error whose message says what to do.
   */
  async start(): Promise<{ host: string; port: number; url: string }> {
    if (this.started) throw new Error('MkvServer: already started');
    this.started = true;
    for (const m of this.mounts.values()) {
      if (m.source.hasCustomOpener) continue;
      try {
        await inputKindFor(m.config.input)?.preflight?.(m.config.input);
      } catch (err) {
        (err as Error).message = `mount ${m.name}: ${(err as Error).message}`;
        throw err;
      }
    }
    const { host, port, backlog } = this.settings;
    await new Promise<void>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException): void => reject(listenError(err, host, port));
      this.net.once('error', onError);
      this.net.listen({ host, port, backlog }, () => {
        this.net.off('error', onError);
        resolve();
      });
    });
    this.net.on('error', (err) => this.log.error('server_error', { error: err.message }));
    this.listening = true;
    const addr = this.net.address() as net.AddressInfo;
    this.boundHost = addr.address;
    this.boundPort = addr.port;
    if (this.admin === 'forbidden') {
      this.log.warn('admin_disabled', {
        reason: `listening on ${host} (not loopback) without an admin token: /api/status and /metrics answer 403; set --admin-token-file FILE or $MKVSERVE_ADMIN_TOKEN`,
      });
    }
    this.flusher.start();
    this.checkTimer = setInterval(() => this.check(), this.settings.checkIntervalMs);
    this.log.info('listening', { url: this.url(''), mounts: [...this.mounts.keys()].join(',') });
    for (const m of this.mounts.values()) void m.run();
    return { host: this.boundHost, port: this.boundPort, url: this.url() };
  }

  /** Base URL (http://host:port) for `''`, the URL of a mount, or of the first mount when omitted. */
  url(mount?: string): string {
    const h = this.boundHost.includes(':') ? `[${this.boundHost}]` : this.boundHost;
    const base = `http://${h}:${this.boundPort}`;
    if (mount === undefined) return `${base}/${this.mounts.keys().next().value as string}`;
    return mount === '' ? base : `${base}/${mount}`;
  }

  get port(): number {
    return this.boundPort;
  }

  get host(): string {
    return this.boundHost;
  }

  /** Connected stream clients over all mounts. */
  get clientCount(): number {
    let n = 0;
    for (const m of this.mounts.values()) n += m.clients.size;
    return n;
  }

  /**
   * Stops: no new connections, inputs stopped, requests waiting for a header answered 503, every
   * response ended cleanly after what is already queued; connections still open after `graceMs`
   * (default shutdownGraceMs) are destroyed. Calling it again with a shorter grace shortens the wait
   * (a second SIGTERM: stop(0) ends it at once).
   */
  stop(graceMs = this.settings.shutdownGraceMs): Promise<void> {
    this.stopDeadline = Math.min(this.stopDeadline, Date.now() + graceMs);
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    this.closeListener();
    for (const m of this.mounts.values()) {
      m.source.stop();
      m.closePending(503, 'the server is shutting down\n');
    }
    // Idle sockets (reading a head, or finished) go now; streams are ended cleanly below.
    const streaming = new Set<Socket>();
    for (const m of this.mounts.values()) for (const c of m.clients) streaming.add(c.socket);
    for (const s of this.sockets) if (!streaming.has(s)) s.destroy();
    for (const m of this.mounts.values()) for (const c of m.clients) this.flusher.mark(c);
    while (this.clientCount > 0 && Date.now() < this.stopDeadline) {
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

  /** Resolves `done` once all inputs ended and all clients are gone (unless keepAlive). */
  private checkDone(): void {
    for (const m of this.mounts.values()) if (!m.inputEnded) return;
    if (this.settings.keepAlive) return;
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
    for (const m of this.mounts.values()) m.check(now);
  }

  private onClientOpen(c: StreamClient): void {
    this.perIp!.set(c.address, (this.perIp!.get(c.address) ?? 0) + 1);
  }

  private onClientClose(c: StreamClient): void {
    if (this.perIp) {
      const n = (this.perIp.get(c.address) ?? 1) - 1;
      if (n <= 0) this.perIp.delete(c.address);
      else this.perIp.set(c.address, n);
    }
    if (this.mounts.get(c.mount)?.inputEnded) this.checkDone();
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

  /** ConnectionHandler: routes one request (routes.ts). */
  dispatch(socket: Socket, head: RequestHead): void {
    this.requests++;
    routeRequest(this, socket, head);
  }

  // RouteContext

  findMount(name: string): Mount | undefined {
    return this.mounts.get(name);
  }

  admit(mount: Mount, socket: Socket): Refusal | undefined {
    // Viewers waiting for a header count too: the waiting lists are bounded by the same limits (closed
    // requests still in a list until it is next pruned count until then).
    let total = 0;
    for (const m of this.mounts.values()) total += m.viewerCount;
    if (total >= this.settings.maxClients)
      return { status: 503, text: 'too many clients: the server is full, try again later\n' };
    const mountMax = mount.config.maxClients;
    if (mountMax > 0 && mount.viewerCount >= mountMax)
      return { status: 503, text: `too many clients: /${mount.name} is full, try again later\n` };
    if (this.perIp) {
      const n = this.perIp.get(socket.remoteAddress ?? '') ?? 0;
      if (n >= this.settings.maxClientsPerIp)
        return { status: 429, text: 'too many streams from your address, close one and try again\n' };
    }
    return undefined;
  }

  snapshot(withClients = true): ServerSnapshot {
    const mounts = [];
    for (const m of this.mounts.values()) mounts.push(m.snapshot(withClients));
    return {
      version: packageVersion(),
      pid: process.pid,
      startedAt: this.startedAt,
      now: Date.now(),
      listening: this.url(''),
      loopback: isLoopbackHost(this.boundHost),
      mounts,
      totals: {
        connections: this.connections,
        requests: this.requests,
        rejected: this.rejectedCount,
        writes: this.flusher.writes,
      },
    };
  }

  routeError(err: unknown, path: string): void {
    this.log.error('route_error', { path, error: err instanceof Error ? err.message : String(err) });
  }

  /** The /api/status object. */
  status(): ServerStatus {
    return buildStatus(this.snapshot(true));
  }

  /** The /metrics text (Prometheus exposition format). */
  async metrics(): Promise<{ contentType: string; text: string }> {
    this.metricsRenderer ??= createMetrics(() => this.snapshot(false));
    return this.metricsRenderer.render();
  }
}

/** A listen failure as one readable message (the code is kept). */
function listenError(err: NodeJS.ErrnoException, host: string, port: number): Error {
  const msg =
    err.code === 'EADDRINUSE'
      ? `port ${port} on ${host} is already in use: stop the other server or choose another port (--port)`
      : err.code === 'EACCES'
        ? `not allowed to listen on port ${port}: ports below 1024 need privileges; choose another port (--port)`
        : err.code === 'EADDRNOTAVAIL'
          ? `cannot listen on ${host}: that address is not on this machine (--host)`
          : err.code === 'ENOTFOUND' || err.code === 'EAI_AGAIN'
            ? `cannot listen on ${host}: host name not found (--host)`
            : `cannot listen on ${host}:${port}: ${err.message}`;
  const e = new Error(msg) as NodeJS.ErrnoException;
  if (err.code !== undefined) e.code = err.code;
  return e;
}
