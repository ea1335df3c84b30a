// `mkvserve serve`: partial configuration layers (config file, command line) -> resolved configuration
// -> one MkvServer, until every input ended (and the clients are done) or SIGINT/SIGTERM. With no
// mount anywhere, the input is stdin when it is a pipe or a file, else the built-in demo clip. Returns
// the process exit code; every startup error is one line on stderr.

import { createLogger } from './log.js';
import type { Logger } from './log.js';
import { MkvServer } from './server.js';
import type { MountHooks } from './server.js';
import { ConfigError, DEFAULT_MOUNT_NAME, resolveConfig } from './config.js';
import type { ConfigLayer, ResolvedConfig } from './config.js';
import { demoPath } from './demo.js';
import { closeHttpAgents, stdinKind } from './inputs/open.js';
import { capYoungGeneration } from './heap.js';

/** The input of a server given none: stdin when it is a pipe or a file, else the demo clip (looped). */
export function implicitMount(kind: ReturnType<typeof stdinKind>): {
  input: string;
  loop?: boolean;
  inputName?: string;
} {
  if (kind === 'pipe' || kind === 'file') return { input: '-' };
  return { input: demoPath(), loop: true, inputName: 'demo' };
}

export interface ServeOptions {
  /** Checked partial configurations, lowest priority first (e.g. the config file, then the command line). */
  layers?: ConfigLayer[];
  /** Where each layer came from (messages). */
  origins?: (string | undefined)[];
  /** Or a configuration already resolved. */
  config?: ResolvedConfig;
  /** Hooks per mount name (custom openers, display names). */
  hooks?: Record<string, MountHooks>;
  /** Logger override (tests); default from the configuration's logFormat/quiet. */
  log?: Logger;
  /** Where the "serving ... at URL" lines go (default process.stdout). */
  out?: { write(s: string): unknown };
  /** Where startup errors go (default process.stderr). */
  err?: { write(s: string): unknown };
  /** What stdin is (default: fstat of fd 0), for the implicit input. */
  stdin?: ReturnType<typeof stdinKind>;
  /** Signals to handle (default SIGINT, SIGTERM; [] for none). */
  signals?: NodeJS.Signals[];
}

export async function runServe(opts: ServeOptions = {}): Promise<number> {
  const errOut = opts.err ?? process.stderr;
  const out = opts.out ?? process.stdout;
  const hooks: Record<string, MountHooks> = { ...opts.hooks };
  let config: ResolvedConfig;
  try {
    if (opts.config) config = opts.config;
    else {
      const layers = [...(opts.layers ?? [])];
      const origins = [...(opts.origins ?? layers.map(() => undefined))];
      if (!layers.some((l) => l.mounts && Object.keys(l.mounts).length > 0)) {
        const { inputName, ...m } = implicitMount(opts.stdin ?? stdinKind());
        layers.unshift({ mounts: { [DEFAULT_MOUNT_NAME]: m } });
        origins.unshift(undefined);
        if (inputName !== undefined) hooks[DEFAULT_MOUNT_NAME] = { ...hooks[DEFAULT_MOUNT_NAME], inputName };
      }
      config = resolveConfig(layers, { origins });
    }
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    errOut.write(`mkvserve: ${err.message.includes('\n') ? err.message : `invalid configuration: ${err.message}`}\n`);
    return 1;
  }
  const s = config.server;
  const log = opts.log ?? createLogger({ format: s.logFormat, quiet: s.quiet });
  let server: MkvServer;
  try {
    server = new MkvServer({ config, hooks, log });
    await server.start();
  } catch (err) {
    // An input that cannot be used (checked before listening) or a port that cannot be bound: one line.
    errOut.write(`mkvserve: ${(err as Error).message}\n`);
    await closeHttpAgents().catch(() => {});
    return 1;
  }
  const stopHeapWatch = capYoungGeneration(s.youngGenMiB);
  // Always printed (also with --quiet): with --port 0 it is the only way to learn the port.
  for (const m of server.mounts.values()) out.write(`mkvserve: serving ${m.display} at ${server.url(m.name)}\n`);

  let signalled: NodeJS.Signals | undefined;
  const signals = opts.signals ?? (['SIGINT', 'SIGTERM'] as NodeJS.Signals[]);
  let stopPromise: Promise<void> | undefined;
  const onSignal = (sig: NodeJS.Signals): void => {
    if (signalled) {
      // Second signal: do not wait for the grace period.
      log.info('shutdown_now', { signal: sig });
      void server.stop(0);
      return;
    }
    signalled = sig;
    log.info('shutdown', { signal: sig, clients: server.clientCount, graceMs: s.shutdownGraceMs });
    stopPromise = server.stop(s.shutdownGraceMs);
  };
  for (const sig of signals) process.on(sig, onSignal);
  try {
    await server.done;
    if (stopPromise) await stopPromise;
    else await server.stop(0);
  } finally {
    for (const sig of signals) process.off(sig, onSignal);
    stopHeapWatch();
    await closeHttpAgents().catch(() => {});
  }
  const failed = [...server.mounts.values()].some((m) => m.source.state === 'failed');
  const code = failed && !signalled ? 1 : 0;
  log.info('exit', { reason: signalled ?? (failed ? 'input_failed' : 'input_ended'), code });
  return code;
}
