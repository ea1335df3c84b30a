// MkvServer: the programmatic live server. Owns the listening sockets (the public one and the optional
// admin one), the mounts (mount.ts), the shared write Flusher, the client limits (total, per mount, per
// client address: behind a trusted proxy the client's, see http/client-address.ts), reloads (reload.ts
// plans them, this applies them) and the shutdown; routing is the route table's (routes.ts), status,
// metrics and the API are built from snapshots (snapshot.ts). Its options are a partial configuration
// that goes through the same resolver as the CLI and the config file (config.ts).

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
import {
  ProxyTrust,
  addressSource,
  clientAddress,
  forwardedClient,
  peerAddress,
  setClientAddress,
} from './http/client-address.js';
import type { DemuxerFactory } from './inputs/source.js';
import type { Input } from './inputs/open.js';
import { inputKindFor } from './inputs/kinds.js';
import { ConfigError, parseLayer, resolveConfig } from './config.js';
import type {
  ConfigIssue,
  MountConfig,
  MountSettingsInput,
  ResolvedConfig,
  ServerConfig,
  ServerSettingsInput,
} from './config.js';
import { Mount } from './mount.js';
import { dispatch as routeRequest } from './routes.js';
import type { Listener, Refusal, RouteContext } from './routes.js';
import { LIVE_MOUNT_KEYS, ReloadUnavailableError, ServerStoppingError, planReload } from './reload.js';
import type { ReloadReport } from './reload.js';
import type { ClientSnapshot, ServerSnapshot } from './snapshot.js';
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

/** A fresh configuration for a reload (re-read from the config file by `mkvserve --config`). */
export type Reloader = () => Promise<{ config: ResolvedConfig; hooks?: Record<string, MountHooks> }>;

export interface ServerRuntime {
  log?: Logger;
  createDemuxer?: DemuxerFactory;
  /** Where reload() gets its configuration; without it, reload() rejects with ReloadUnavailableError
   *  (applyConfig() still works). */
  reloader?: Reloader;
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
  const { mounts, log: _log, createDemuxer: _cd, config: _c, reloader: _r, ...server } = options;
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
const kIpCount = Symbol('mkvserve.ipCount');
type OwnedSocket = Socket & { [kOwner]?: Set<Socket>; [kIpCount]?: Map<string, number> };
/** ConnectionHandler.closed of the public and the admin port (no listener per connection): the server
 *  forgets the socket, and an admitted viewer's address counts one stream less. */
function socketClosed(socket: Socket): void {
  const s = socket as OwnedSocket;
  s[kOwner]?.delete(s);
  const counts = s[kIpCount];
  if (!counts) return;
  s[kIpCount] = undefined;
  const key = clientAddress(s);
  const n = (counts.get(key) ?? 1) - 1;
  if (n <= 0) counts.delete(key);
  else counts.set(key, n);
}

/** Connections of the separate admin listener: the same handling, routed as 'admin'. */
class AdminPort implements ConnectionHandler {
  constructor(private readonly server: MkvServer) {}
  get headTimeoutMs(): number {
    return this.server.headTimeoutMs;
  }
  get idleTimeoutMs(): number {
    return this.server.idleTimeoutMs;
  }
  dispatch(socket: Socket, head: RequestHead): void {
    this.server.route(socket, head, 'admin');
  }
  rejected(socket: Socket, status: number, reason: string): void {
    this.server.rejected(socket, status, reason);
  }
  trustsPeer(socket: Socket): boolean {
    return this.server.trustsPeer(socket);
  }
  closed(socket: Socket): void {
    socketClosed(socket);
  }
}

/** How long a removed or restarted mount's clients may take to get their clean end (ms). */
const RETIRE_DEADLINE_MS = 5000;

export class MkvServer implements ConnectionHandler, RouteContext {
  readonly log: Logger;
  /** The mounts being served, in configuration order (the same Map across reloads). */
  readonly mounts = new Map<string, Mount>();
  /** ConnectionHandler: time allowed for a request head (ms). */
  headTimeoutMs: number;
  /** ConnectionHandler: a connection with nothing in flight is closed after this long (ms). */
  idleTimeoutMs: number;
  readonly startedAt = Date.now();
  readonly flusher: Flusher;
  /** Resolves when every input ended and every client was served (never with keepAlive), or after stop(). */
  readonly done: Promise<void>;
  /** Admin access rule of the public listener. */
  admin: AdminAccess;
  adminToken: string | undefined;
  readonly cors: string | undefined;
  private running: ResolvedConfig;
  private settings: ServerConfig;
  private hooks: Map<string, MountHooks>;
  private readonly createDemuxer: DemuxerFactory;
  private readonly reloader: Reloader | undefined;
  private readonly net: net.Server;
  private adminNet: net.Server | undefined;
  private readonly adminPort = new AdminPort(this);
  private resolveDone!: () => void;
  private checkTimer: NodeJS.Timeout | undefined;
  private stopping: Promise<void> | undefined;
  /** Date.now() after which the shutdown stops waiting for open responses. */
  private stopDeadline = Infinity;
  private started = false;
  private listening = false;
  private boundHost = '127.0.0.1';
  private boundPort = 0;
  private adminHost: string | undefined;
  private adminBoundPort = 0;
  private readonly sockets = new Set<Socket>();
  /** Stream viewers per client address (only kept when maxClientsPerIp is set). */
  private perIp: Map<string, number> | undefined;
  private trust: ProxyTrust;
  /** Removed or restarted mounts whose clients are still getting their clean end, with a deadline. */
  private readonly retired = new Map<Mount, number>();
  /** Reloads and restarts run one at a time. */
  private chain: Promise<unknown> = Promise.resolve();
  private metricsRenderer: MetricsRenderer | undefined;
  /** Totals (for metrics). */
  connections = 0;
  rejectedCount = 0;
  requests = 0;
  reloads = 0;

  constructor(options: MkvServerOptions) {
    const { config, hooks } = resolveOptions(options);
    this.running = config;
    this.hooks = hooks;
    const s = config.server;
    this.settings = s;
    this.log = options.log ?? nullLogger;
    this.headTimeoutMs = s.headTimeoutMs;
    this.idleTimeoutMs = s.idleTimeoutMs;
    this.cors = s.cors;
    this.adminToken = s.adminToken;
    this.admin = adminAccess(s.host, s.adminToken);
    this.perIp = s.maxClientsPerIp > 0 ? new Map() : undefined;
    this.trust = new ProxyTrust(s.trustedProxies);
    this.reloader = options.reloader;
    if (config.mounts.length === 0) throw new Error('MkvServer: at least one mount is needed');
    this.flusher = new Flusher({
      intervalMs: s.flushMs,
      maxIntervalMs: s.flushMaxMs,
      onStretch: (factor, previous, utilization, retryMs) =>
        this.log[factor > previous ? 'warn' : 'info']('flush_stretch', {
          intervalMs: factor * s.flushMs,
          eventLoopUtilization: Math.round(utilization * 100) / 100,
          reason:
            retryMs > 0
              ? `the shorter interval saturated the event loop: back to ${factor * s.flushMs} ms, the next try in ${Math.round(retryMs / 1000)} s (--flush-max-ms ${s.flushMs} never stretches; more CPU or fewer viewers per process keep it short)`
              : factor > previous
                ? 'the event loop is saturated: fewer, larger writes per client, so new viewers are answered'
                : 'the event loop has time again: trying the shorter interval',
        }),
    });
    this.createDemuxer = options.createDemuxer ?? defaultDemuxer;
    for (const mc of config.mounts) this.mounts.set(mc.name, this.createMount(mc));
    this.done = new Promise((resolve) => {
      this.resolveDone = resolve;
    });
    this.net = net.createServer({ allowHalfOpen: true, pauseOnConnect: false, noDelay: true }, (socket) =>
      this.onConnection(socket, this),
    );
  }

  /** The configuration being served (after reloads: the applied one). */
  get config(): ResolvedConfig {
    return this.running;
  }

  private createMount(mc: MountConfig): Mount {
    const h = this.hooks.get(mc.name) ?? {};
    const mount = new Mount(mc, {
      flusher: this.flusher,
      log: this.log,
      createDemuxer: this.createDemuxer,
      serverCors: this.settings.cors,
      lingerMs: this.settings.headTimeoutMs,
      ...(h.open ? { open: h.open } : {}),
      ...(h.inputName !== undefined ? { inputName: h.inputName } : {}),
    });
    mount.on('input-end', () => this.checkDone());
    mount.on('client-close', () => this.onClientClose(mount));
    return mount;
  }

  /**
   * Checks every input that can be checked without opening it (a file exists and is readable), then
   * listens (the public listener, then the admin listener when configured) and starts the inputs.
   * Resolves with the bound address; rejects (nothing bound) with the input's InputError or a listen
   * error whose message says what to do.
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
    await listenOn(this.net, host, port, backlog, '--port', '--host');
    const admin = this.settings.admin;
    if (admin) {
      const adminNet = net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) =>
        this.onConnection(socket, this.adminPort),
      );
      try {
        await listenOn(adminNet, admin.host, admin.port, backlog, 'server.admin.port', 'server.admin.host');
      } catch (err) {
        this.net.close();
        throw err;
      }
      this.adminNet = adminNet;
      adminNet.on('error', (err) => this.log.error('server_error', { listener: 'admin', error: err.message }));
      const a = adminNet.address() as net.AddressInfo;
      this.adminHost = a.address;
      this.adminBoundPort = a.port;
    }
    this.net.on('error', (err) => this.log.error('server_error', { error: err.message }));
    this.listening = true;
    const addr = this.net.address() as net.AddressInfo;
    this.boundHost = addr.address;
    this.boundPort = addr.port;
    const adminListener: Listener = this.adminNet ? 'admin' : 'public';
    if (this.adminAccessOn(adminListener) === 'forbidden') {
      const where = this.adminNet ? `the admin listener ${this.adminHost}` : host;
      this.log.warn('admin_disabled', {
        reason: `listening on ${where} (not loopback) without an admin token: the API, /api/status and /metrics answer 403; set --admin-token-file FILE or $MKVSERVE_ADMIN_TOKEN`,
      });
    }
    this.flusher.start();
    this.checkTimer = setInterval(() => this.check(), this.settings.checkIntervalMs);
    this.log.info('listening', {
      url: this.url(''),
      mounts: [...this.mounts.keys()].join(','),
      ...(this.adminNet ? { admin: this.adminUrl() } : {}),
    });
    for (const m of this.mounts.values()) void m.run();
    return { host: this.boundHost, port: this.boundPort, url: this.url() };
  }

  /** Base URL (http://host:port) for `''`, the URL of a mount, or of the first mount when omitted. */
  url(mount?: string): string {
    const base = baseUrl(this.boundHost, this.boundPort);
    if (mount === undefined) return `${base}/${this.mounts.keys().next().value as string}`;
    return mount === '' ? base : `${base}/${mount}`;
  }

  /** Base URL of the admin listener, or undefined when there is none. */
  adminUrl(): string | undefined {
    return this.adminHost === undefined ? undefined : baseUrl(this.adminHost, this.adminBoundPort);
  }

  get port(): number {
    return this.boundPort;
  }

  get host(): string {
    return this.boundHost;
  }

  /** Port of the admin listener (0 when there is none). */
  get adminPortNumber(): number {
    return this.adminBoundPort;
  }

  /** The mounts being served and the removed or restarted ones still ending their clients. */
  private *allMounts(): Generator<Mount> {
    yield* this.mounts.values();
    yield* this.retired.keys();
  }

  /** Connected stream clients over all mounts (also those of a mount being removed). */
  get clientCount(): number {
    let n = 0;
    for (const m of this.allMounts()) n += m.clients.size;
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
    for (const m of this.allMounts()) {
      m.source.stop();
      m.closePending(503, 'the server is shutting down\n');
    }
    // Idle sockets (reading a head, or finished) go now; streams are ended cleanly below.
    const streaming = new Set<Socket>();
    for (const m of this.allMounts()) for (const c of m.clients) streaming.add(c.socket);
    for (const s of this.sockets) if (!streaming.has(s)) s.destroy();
    for (const m of this.allMounts()) for (const c of m.clients) this.flusher.mark(c);
    while (this.clientCount > 0 && Date.now() < this.stopDeadline) {
      this.flusher.flushAll();
      for (const m of this.allMounts()) for (const c of m.clients) if (!c.ended) c.end('shutdown');
      await new Promise((r) => setTimeout(r, 20));
    }
    for (const s of this.sockets) s.destroy();
    for (const m of this.allMounts()) for (const c of [...m.clients]) c.destroy('shutdown');
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
    this.adminNet?.close();
  }

  /** Resolves `done` once all inputs ended and all clients are gone (unless keepAlive). */
  private checkDone(): void {
    if (this.stopping) return;
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
    for (const m of this.allMounts()) m.check(now);
    for (const [m, deadline] of this.retired) {
      // A retired mount's source normally ends its stream at once; this is the safety net.
      if (now > deadline) for (const c of m.clients) if (!c.ended) c.end('eof');
      if (m.clients.size === 0) this.retired.delete(m);
    }
  }

  private onClientClose(mount: Mount): void {
    if (this.retired.has(mount)) {
      if (mount.clients.size === 0) this.retired.delete(mount);
      if (!this.listening) this.checkDone(); // the last clients of a finished server may be these
      return;
    }
    if (mount.inputEnded) this.checkDone();
  }

  private onConnection(socket: Socket, handler: ConnectionHandler): void {
    this.connections++;
    if (!this.listening || this.stopping) {
      socket.destroy();
      return;
    }
    this.sockets.add(socket);
    (socket as OwnedSocket)[kOwner] = this.sockets; // (forgotten in socketClosed)
    acceptConnection(socket, handler);
  }

  /** ConnectionHandler: a trusted proxy may send a PROXY protocol header first. */
  trustsPeer(socket: Socket): boolean {
    return this.trust.size > 0 && this.trust.has(peerAddress(socket));
  }

  /** ConnectionHandler: the socket closed. */
  closed(socket: Socket): void {
    socketClosed(socket);
  }

  /** ConnectionHandler: bad or slow request head. */
  rejected(socket: Socket, status: number, reason: string): void {
    this.rejectedCount++;
    const address = clientAddress(socket);
    const peer = peerAddress(socket);
    this.log.warn('request_rejected', { address, ...(peer !== address ? { proxy: peer } : {}), status, reason });
  }

  /** ConnectionHandler: routes one request (routes.ts). */
  dispatch(socket: Socket, head: RequestHead): void {
    this.route(socket, head, 'public');
  }

  /** @internal Routes a request of either listener, after taking the client address from a trusted
   *  proxy's X-Forwarded-For. */
  route(socket: Socket, head: RequestHead, listener: Listener): void {
    this.requests++;
    if (this.settings.xForwardedFor && this.trust.size > 0 && addressSource(socket) === 'peer') {
      const xff = head.headers.get('x-forwarded-for');
      if (xff !== undefined && this.trust.has(peerAddress(socket))) {
        const client = forwardedClient(xff, this.trust);
        if (client !== undefined) setClientAddress(socket, client, 0, 'x-forwarded-for');
      }
    }
    routeRequest(this, socket, head, listener);
  }

  // RouteContext

  adminAccessOn(listener: Listener): AdminAccess {
    if (listener === 'admin' && this.adminHost !== undefined) return adminAccess(this.adminHost, this.adminToken);
    return this.admin;
  }

  get adminOnPublic(): boolean {
    return this.settings.admin === undefined || !this.settings.admin.exclusive;
  }

  findMount(name: string): Mount | undefined {
    return this.mounts.get(name);
  }

  admit(mount: Mount, socket: Socket, isHead = false): Refusal | undefined {
    // Viewers waiting for a header count too: the waiting lists are bounded by the same limits. Requests
    // that gave up while waiting are dropped from the lists before anyone is refused.
    let total = 0;
    for (const m of this.allMounts()) total += m.viewerCount;
    if (total >= this.settings.maxClients) {
      total = 0;
      for (const m of this.allMounts()) total += m.clients.size + m.prunePending();
      if (total >= this.settings.maxClients)
        return { status: 503, text: 'too many clients: the server is full, try again later\n' };
    }
    const mountMax = mount.config.maxClients;
    if (mountMax > 0 && mount.viewerCount >= mountMax && mount.clients.size + mount.prunePending() >= mountMax)
      return { status: 503, text: `too many clients: /${mount.name} is full, try again later\n` };
    const perIp = this.perIp;
    if (perIp) {
      const key = clientAddress(socket);
      const n = perIp.get(key) ?? 0;
      if (n >= this.settings.maxClientsPerIp)
        return { status: 429, text: 'too many streams from your address, close one and try again\n' };
      if (!isHead) {
        // Counted from admission (also while waiting for the header) until the socket closes.
        perIp.set(key, n + 1);
        (socket as OwnedSocket)[kIpCount] = perIp; // (released in socketClosed)
      }
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
      adminListening: this.adminUrl() ?? null,
      mounts,
      totals: {
        connections: this.connections,
        requests: this.requests,
        rejected: this.rejectedCount,
        writes: this.flusher.writes,
      },
      flushIntervalMs: this.flusher.intervalMs * this.flusher.stretch,
      eventLoopUtilization: Number.isNaN(this.flusher.utilization)
        ? null
        : Math.round(this.flusher.utilization * 1000) / 1000,
    };
  }

  routeError(err: unknown, path: string): void {
    this.log.error('route_error', { path, error: err instanceof Error ? err.message : String(err) });
  }

  /** Ends stream client `id` now (API: DELETE /api/clients/:id); its snapshot, or undefined. */
  kickClient(id: number): ClientSnapshot | undefined {
    for (const m of this.allMounts()) {
      for (const c of m.clients) {
        if (c.id !== id || c.ended) continue;
        const snap = m.snapshot(true).clientList!.find((x) => x.id === id)!;
        this.log.info('client_kick', { mount: m.name, client: id, address: c.address });
        c.destroy('kicked');
        return snap;
      }
    }
    return undefined;
  }

  /**
   * Replaces mount `name` by a fresh one with the same settings: its input is opened again, its clients
   * get a clean end of response (players reconnect), requests waiting for its header get 503. Rejects
   * with a ConfigError when its input cannot be used (the mount is left as it was).
   */
  restartMount(name: string): Promise<{ name: string; clientsEnded: number } | undefined> {
    return this.serially(async () => {
      if (this.stopping) throw new ServerStoppingError();
      const old = this.mounts.get(name);
      if (!old) return undefined;
      await this.preflight([old.config], this.hooks, [name]);
      if (this.stopping) throw new ServerStoppingError();
      const fresh = this.createMount(old.config);
      this.mounts.set(name, fresh); // same position in the Map
      const clientsEnded = this.retire(old, 'the mount is restarting, try again in a moment\n');
      void fresh.run();
      this.log.info('mount_restart', { mount: name, clients: clientsEnded });
      return { name, clientsEnded };
    });
  }

  /**
   * Reloads: gets a fresh configuration from the reloader (`mkvserve --config` re-reads its file) and
   * applies it (applyConfig). A configuration that does not validate is logged and rejected with its
   * ConfigError; the running configuration stays.
   */
  async reload(): Promise<ReloadReport> {
    if (this.stopping) throw new ServerStoppingError();
    if (!this.reloader) {
      const err = new ReloadUnavailableError();
      this.log.warn('reload_unavailable', { reason: err.message });
      throw err;
    }
    const reloader = this.reloader;
    try {
      const { config, hooks } = await reloader();
      return await this.applyConfig(config, hooks);
    } catch (err) {
      if (err instanceof ConfigError) {
        this.log.error('reload_failed', {
          reason: 'invalid configuration: the running configuration stays',
          issues: err.issues.map((i) => `${i.path}: ${i.message}`).join('; '),
        });
      } else if (!(err instanceof ServerStoppingError)) {
        this.log.error('reload_failed', { error: err instanceof Error ? err.message : String(err) });
      }
      throw err;
    }
  }

  /**
   * Moves the running server to `next` (reload.ts plans it): added mounts start, removed ones end
   * cleanly, changed ones restart (or are updated in place when only live settings changed), the others
   * are not touched; server settings that can change live are applied, the others are reported in
   * `restartNeeded`. The inputs of new and restarted mounts are checked first: if one cannot be used,
   * nothing changes and a ConfigError names it.
   */
  applyConfig(next: ResolvedConfig, hooks?: Record<string, MountHooks>): Promise<ReloadReport> {
    return this.serially(async () => {
      if (this.stopping) throw new ServerStoppingError();
      if (next.mounts.length === 0)
        throw new ConfigError([{ path: 'mounts', message: 'at least one mount is needed' }]);
      const nextHooks = new Map(this.hooks);
      for (const [n, h] of Object.entries(hooks ?? {})) nextHooks.set(n, h);
      const plan = planReload(this.running, next);
      const starting = new Set([...plan.added, ...plan.restarted]);
      await this.preflight(
        plan.config.mounts.filter((m) => starting.has(m.name)),
        nextHooks,
        plan.restarted,
      );
      if (this.stopping) throw new ServerStoppingError();
      this.hooks = nextHooks;
      this.applyServerSettings(plan.config.server, plan.serverApplied);
      const old = new Map(this.mounts);
      const toRun: Mount[] = [];
      this.mounts.clear();
      for (const mc of plan.config.mounts) {
        const current = old.get(mc.name);
        if (current && !starting.has(mc.name)) {
          // Unchanged, or only live settings: the same Mount, the same clients.
          const live = current.config as Record<string, unknown>;
          for (const k of LIVE_MOUNT_KEYS) live[k] = mc[k];
          this.mounts.set(mc.name, current);
          continue;
        }
        const fresh = this.createMount(mc);
        this.mounts.set(mc.name, fresh);
        toRun.push(fresh);
      }
      for (const [name, m] of old) {
        if (this.mounts.get(name) === m) continue;
        this.retire(
          m,
          this.mounts.has(name) ? 'the mount is restarting, try again in a moment\n' : 'this mount was removed\n',
        );
      }
      this.running = plan.config;
      this.reloads++;
      for (const m of toRun) if (this.started) void m.run();
      const { config: _c, ...report } = plan;
      this.log.info('reload', {
        added: report.added.join(','),
        removed: report.removed.join(','),
        restarted: report.restarted.join(','),
        updated: report.updated.join(','),
        unchanged: report.unchanged.join(','),
        serverApplied: report.serverApplied.join(','),
        ...(report.restartNeeded.length > 0
          ? { restartNeeded: report.restartNeeded.join(','), hint: 'restart the process to apply these keys' }
          : {}),
      });
      return report;
    });
  }

  /** Runs reloads and restarts one after the other. */
  private serially<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch(() => undefined);
    return run;
  }

  /** Checks the inputs of mounts about to start (`reopening`: those that had one already); throws a
   *  ConfigError naming each one that cannot be used. */
  private async preflight(mounts: MountConfig[], hooks = this.hooks, reopening: string[] = []): Promise<void> {
    const issues: ConfigIssue[] = [];
    for (const m of mounts) {
      if (hooks.get(m.name)?.open) continue;
      const kind = inputKindFor(m.input);
      if (kind?.reopenable === false && reopening.includes(m.name)) {
        issues.push({
          path: `mounts.${m.name}.input`,
          message: `${m.input === '-' ? 'stdin' : m.input} cannot be opened a second time: restart the process to change this mount`,
        });
        continue;
      }
      try {
        await kind?.preflight?.(m.input);
      } catch (err) {
        issues.push({ path: `mounts.${m.name}.input`, message: (err as Error).message });
      }
    }
    if (issues.length > 0) throw new ConfigError(issues);
  }

  /** Takes the live server settings of a reload (reload.ts LIVE_SERVER_KEYS). */
  private applyServerSettings(s: ServerConfig, changed: string[]): void {
    this.settings = s;
    this.headTimeoutMs = s.headTimeoutMs;
    this.idleTimeoutMs = s.idleTimeoutMs;
    this.adminToken = s.adminToken;
    this.admin = adminAccess(s.host, s.adminToken);
    if (s.maxClientsPerIp === 0) this.perIp = undefined;
    else this.perIp ??= new Map();
    this.trust = new ProxyTrust(s.trustedProxies);
    if (changed.includes('checkIntervalMs') && this.checkTimer) {
      clearInterval(this.checkTimer);
      this.checkTimer = setInterval(() => this.check(), s.checkIntervalMs);
    }
    if (changed.includes('keepAlive')) queueMicrotask(() => this.checkDone());
  }

  /** Takes a mount out of service: waiting requests get 503, its input stops, which ends its stream, so
   *  its clients get what is queued and a clean end of response. Returns how many clients it had. */
  private retire(m: Mount, why: string): number {
    m.closePending(503, why);
    const n = m.clients.size;
    if (n > 0) this.retired.set(m, Date.now() + RETIRE_DEADLINE_MS);
    m.source.stop();
    return n;
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

function baseUrl(host: string, port: number): string {
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** Listens, or rejects with a readable error (`portKey`/`hostKey` name the setting to change). */
function listenOn(
  server: net.Server,
  host: string,
  port: number,
  backlog: number,
  portKey: string,
  hostKey: string,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => reject(listenError(err, host, port, portKey, hostKey));
    server.once('error', onError);
    server.listen({ host, port, backlog }, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

/** A listen failure as one readable message (the code is kept). */
function listenError(
  err: NodeJS.ErrnoException,
  host: string,
  port: number,
  portKey = '--port',
  hostKey = '--host',
): Error {
  const msg =
    err.code === 'EADDRINUSE'
      ? `port ${port} on ${host} is already in use: stop the other server or choose another port (${portKey})`
      : err.code === 'EACCES'
        ? `not allowed to listen on port ${port}: ports below 1024 need privileges; choose another port (${portKey})`
        : err.code === 'EADDRNOTAVAIL'
          ? `cannot listen on ${host}: that address is not on this machine (${hostKey})`
          : err.code === 'ENOTFOUND' || err.code === 'EAI_AGAIN'
            ? `cannot listen on ${host}: host name not found (${hostKey})`
            : `cannot listen on ${host}:${port}: ${err.message}`;
  const e = new Error(msg) as NodeJS.ErrnoException;
  if (err.code !== undefined) e.code = err.code;
  return e;
}
