// `mkvserve serve`: options from the CLI -> one MkvServer with one input, until the input ends
// (and the clients are done) or SIGINT/SIGTERM. Returns the process exit code.

import { createLogger } from './log.js';
import type { Logger } from './log.js';
import { MkvServer } from './server.js';
import type { MountConfig } from './server.js';
import { validateMountName } from './http/routes.js';
import { demoPath } from './demo.js';
import { closeHttpAgents } from './inputs/open.js';
import { capYoungGeneration, DEFAULT_YOUNG_GEN_MIB } from './heap.js';

export interface ServeOptions {
  /** File path, '-' for stdin, http(s) URL; undefined = stdin when piped, else the built-in demo clip. */
  input?: string;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 8080; 0 = ephemeral (the real URL is printed). */
  port?: number;
  /** Default 'stream'. */
  mount?: string;
  loop?: boolean;
  reconnect?: boolean;
  /** true/false force real-time pacing on/off; undefined = automatic (files paced, live not). */
  realtime?: boolean;
  /** Pacing speed factor (default 1 = real time; `--speed`). Only applies when the input is paced. */
  speed?: number;
  keepAlive?: boolean;
  /** Where a new client starts: newest keyframe with a burst (default) or the next keyframe. */
  join?: 'latest-keyframe' | 'next-keyframe';
  cors?: string;
  /** Default env MKVSERVE_ADMIN_TOKEN. */
  adminToken?: string;
  quiet?: boolean;
  logFormat?: 'text' | 'json';
  /** Write coalescing interval for client writes, ms (default 100; `--flush-ms`). */
  flushMs?: number;
  /** Listen backlog (default 4096; the kernel caps it at net.core.somaxconn). */
  backlog?: number;
  /** Cap of V8's young generation, MiB (default 8; 0 = V8's default, up to 32): see heap.ts. */
  youngGenMiB?: number;
  /** Grace period for open responses at SIGINT/SIGTERM, ms (default 1500). */
  shutdownGraceMs?: number;
  /** Logger override (tests). */
  log?: Logger;
  /** Where the "serving ... at URL" line goes (default process.stdout). */
  out?: { write(s: string): unknown };
  /** stdin's isTTY override (tests). */
  stdinIsTTY?: boolean;
  /** Signals to handle (default SIGINT, SIGTERM; [] for none). */
  signals?: NodeJS.Signals[];
}

export async function runServe(opts: ServeOptions): Promise<number> {
  const log = opts.log ?? createLogger({ format: opts.logFormat ?? 'text', quiet: opts.quiet ?? false });
  const out = opts.out ?? process.stdout;
  let mountName: string;
  try {
    mountName = validateMountName(opts.mount ?? 'stream');
  } catch (err) {
    process.stderr.write(`mkvserve: ${(err as Error).message}\n`);
    return 2;
  }
  const isTTY = opts.stdinIsTTY ?? Boolean(process.stdin.isTTY);
  let input = opts.input;
  let loop = opts.loop ?? false;
  let realtime = opts.realtime;
  let inputName: string | undefined;
  if (input === undefined || input === '') {
    if (isTTY) {
      input = demoPath();
      inputName = 'demo';
      loop = opts.loop ?? true;
      realtime = opts.realtime ?? true;
    } else {
      input = '-';
    }
  }
  const speed = opts.speed;
  const adminToken = opts.adminToken ?? (process.env['MKVSERVE_ADMIN_TOKEN'] || undefined);
  const mount: MountConfig = {
    name: mountName,
    input,
    loop,
    reconnect: opts.reconnect ?? false,
    ...(inputName !== undefined ? { inputName } : {}),
    ...(realtime !== undefined ? { realtime } : {}),
    ...(speed !== undefined ? { speed } : {}),
    ...(opts.join !== undefined ? { live: { join: opts.join } } : {}),
  };
  const server = new MkvServer({
    host: opts.host ?? '127.0.0.1',
    port: opts.port ?? 8080,
    mounts: [mount],
    keepAlive: opts.keepAlive ?? false,
    log,
    ...(opts.cors !== undefined ? { cors: opts.cors } : {}),
    ...(adminToken !== undefined ? { adminToken } : {}),
    ...(opts.flushMs !== undefined ? { flushMs: opts.flushMs } : {}),
    ...(opts.backlog !== undefined ? { backlog: opts.backlog } : {}),
  });
  try {
    await server.start();
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const msg =
      e.code === 'EADDRINUSE'
        ? `port ${opts.port ?? 8080} on ${opts.host ?? '127.0.0.1'} is already in use`
        : e.code === 'EACCES'
          ? `not allowed to listen on port ${opts.port ?? 8080}`
          : e.code === 'EADDRNOTAVAIL'
            ? `cannot listen on ${opts.host}: address not available`
            : e.message;
    log.error('listen_error', { error: msg });
    process.stderr.write(`mkvserve: ${msg}\n`);
    return 1;
  }
  const stopHeapWatch = capYoungGeneration(opts.youngGenMiB ?? DEFAULT_YOUNG_GEN_MIB);
  // Always printed (also with --quiet): with --port 0 it is the only way to learn the port.
  out.write(`mkvserve: serving ${inputName ?? input} at ${server.url(mountName)}\n`);

  let signalled: NodeJS.Signals | undefined;
  const signals = opts.signals ?? (['SIGINT', 'SIGTERM'] as NodeJS.Signals[]);
  let stopPromise: Promise<void> | undefined;
  const onSignal = (sig: NodeJS.Signals): void => {
    if (signalled) {
      // Second signal: do not wait for the grace period.
      void server.stop(0);
      return;
    }
    signalled = sig;
    log.info('shutdown', { signal: sig, clients: server.clientCount });
    stopPromise = server.stop(opts.shutdownGraceMs ?? 1500);
  };
  for (const s of signals) process.on(s, onSignal);
  try {
    await server.done;
    if (stopPromise) await stopPromise;
    else await server.stop(0);
  } finally {
    for (const s of signals) process.off(s, onSignal);
    stopHeapWatch();
    await closeHttpAgents().catch(() => {});
  }
  const failed = [...server.mounts.values()].some((m) => m.source.state === 'failed');
  log.info('exit', {
    reason: signalled ?? (failed ? 'input_failed' : 'input_ended'),
    code: failed && !signalled ? 1 : 0,
  });
  return failed && !signalled ? 1 : 0;
}
