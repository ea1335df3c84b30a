// The listening socket of a `tcp://HOST:PORT?listen` input: accepts connections and hands each one to
// the mount's ingest point, which decides (allowed address, one source at a time). A few connections at
// most are held at once; more are closed by Node as they are accepted. Listen failures become one
// InputError whose message says what to do.

import net from 'node:net';
import type { Socket } from 'node:net';
import { InputError } from '../inputs/open.js';
import type { TcpListenSpec } from './tcp-spec.js';

/** Connections held at once (the source, a taking-over candidate, refusals being closed); more are closed. */
const MAX_TCP_CONNECTIONS = 8;
/** A port still held for a moment by a mount being replaced (restart, reload): bind attempts, 50 ms apart. */
const BIND_ATTEMPTS = 10;

/** `host:port` of the TCP listen inputs bound in this process (a mount being restarted holds its port
 *  until it is replaced: the check before the restart must not call that port "in use"). */
const held = new Set<string>();
const heldKey = (spec: TcpListenSpec): string => `${spec.host}:${spec.port}`;

/** A bind failure as one readable message. */
export function tcpListenError(err: NodeJS.ErrnoException, spec: TcpListenSpec): InputError {
  const where = `${spec.host}:${spec.port}`;
  const msg =
    err.code === 'EADDRINUSE'
      ? `cannot listen for sources on ${where}: the port is already in use (stop the other program or choose another port in ${spec.display})`
      : err.code === 'EACCES'
        ? `not allowed to listen for sources on port ${spec.port}: ports below 1024 need privileges; choose another port`
        : err.code === 'EADDRNOTAVAIL'
          ? `cannot listen for sources on ${spec.host}: that address is not on this machine`
          : err.code === 'ENOTFOUND' || err.code === 'EAI_AGAIN'
            ? `cannot listen for sources on ${spec.host}: host name not found`
            : `cannot listen for sources on ${where}: ${err.message}`;
  return new InputError('LISTEN', msg, { cause: err });
}

/** Binds and closes at once: tells before the server starts whether the port can be had. */
export async function probeTcpListen(spec: TcpListenSpec): Promise<void> {
  if (spec.port !== 0 && held.has(heldKey(spec))) return; // ours: released when its mount is replaced
  const srv = net.createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      srv.once('error', reject);
      srv.listen({ host: spec.host, port: spec.port, exclusive: true }, () => resolve());
    });
  } catch (err) {
    throw tcpListenError(err as NodeJS.ErrnoException, spec);
  }
  await new Promise<void>((resolve) => srv.close(() => resolve()));
}

export class TcpSourceListener {
  readonly spec: TcpListenSpec;
  private readonly server: net.Server;
  private bound: { host: string; port: number } | undefined;
  private closed = false;

  constructor(spec: TcpListenSpec, onSocket: (socket: Socket) => void) {
    this.spec = spec;
    this.server = net.createServer({ allowHalfOpen: false, pauseOnConnect: true, noDelay: true }, onSocket);
    this.server.maxConnections = MAX_TCP_CONNECTIONS;
  }

  /** Binds (a port still held by the mount this one replaces is retried for a moment); rejects with an
   *  InputError (code LISTEN). */
  async listen(): Promise<{ host: string; port: number }> {
    if (this.bound) return this.bound;
    for (let attempt = 1; ; attempt++) {
      try {
        await new Promise<void>((resolve, reject) => {
          const onError = (err: NodeJS.ErrnoException): void => reject(err);
          this.server.once('error', onError);
          this.server.listen({ host: this.spec.host, port: this.spec.port, backlog: 16, exclusive: true }, () => {
            this.server.off('error', onError);
            resolve();
          });
        });
        break;
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        if (e.code !== 'EADDRINUSE' || attempt >= BIND_ATTEMPTS || this.closed) throw tcpListenError(e, this.spec);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    this.server.on('error', () => {}); // after listening: per-connection errors only
    const a = this.server.address() as net.AddressInfo;
    this.bound = { host: a.address, port: a.port };
    if (this.closed)
      this.server.close(); // closed while binding
    else if (this.spec.port !== 0) held.add(heldKey(this.spec));
    return this.bound;
  }

  /** The bound address as a tcp:// URL (the configured one before binding). */
  get display(): string {
    if (!this.bound) return this.spec.display;
    const h = this.bound.host.includes(':') ? `[${this.bound.host}]` : this.bound.host;
    return `tcp://${h}:${this.bound.port}?listen`;
  }

  get port(): number | undefined {
    return this.bound?.port;
  }

  /** Stops listening (connections already accepted belong to their sessions). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.bound && this.spec.port !== 0) held.delete(heldKey(this.spec));
    if (this.server.listening) this.server.close();
  }
}
