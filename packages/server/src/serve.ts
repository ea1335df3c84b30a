// `mkvserve serve`: partial configuration layers (config file, command line) -> resolved configuration
// -> one MkvServer, until every input ended (and the clients are done) or SIGINT/SIGTERM. With no
// mount anywhere, the input is stdin when it is a pipe or a file, else the built-in demo clip. SIGHUP
// (and POST /api/reload) rebuild the layers (the config file is read again) and reload the server.
// Returns the process exit code; every startup error is one line on stderr.

import { createLogger } from './log.js';
import type { Logger } from './log.js';
import { MkvServer } from './server.js';
import type { MountHooks, Reloader } from './server.js';
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
  /** Rebuilds the layers for a reload (`mkvserve --config FILE` reads the file again); without it a
   *  reload is refused (409 on the API, a warning on SIGHUP). */
  reload?: () => Promise<{
    layers: ConfigLayer[];
    origins?: (string | undefined)[];
    hooks?: Record<string, MountHooks>;
  }>;
  /** Signals that reload (default SIGHUP, unless `signals` is given; [] for none). */
  reloadSignals?: NodeJS.Signals[];
}

/** Layers -> resolved configuration, with the implicit input when no layer names a mount. Throws
 *  ConfigError. */
function buildConfig(
  layersIn: ConfigLayer[],
  originsIn: (string | undefined)[] | undefined,
  hooks: Record<string, MountHooks>,
  stdin: ReturnType<typeof stdinKind> | undefined,
): ResolvedConfig {
  const layers = [...layersIn];
  const origins = [...(originsIn ?? layers.map(() => undefined))];
  if (!layers.some((l) => l.mounts && Object.keys(l.mounts).length > 0)) {
    const { inputName, ...m } = implicitMount(stdin ?? stdinKind());
    layers.unshift({ mounts: { [DEFAULT_MOUNT_NAME]: m } });
    origins.unshift(undefined);
    if (inputName !== undefined) hooks[DEFAULT_MOUNT_NAME] = { ...hooks[DEFAULT_MOUNT_NAME], inputName };
  }
  return resolveConfig(layers, { origins });
}

export async function runServe(opts: ServeOptions = {}): Promise<number> {
  const errOut = opts.err ?? process.stderr;
  const out = opts.out ?? process.stdout;
  const hooks: Record<string, MountHooks> = { ...opts.hooks };
  let config: ResolvedConfig;
  try {
    if (opts.config) config = opts.config;
    else config = buildConfig(opts.layers ?? [], opts.origins, hooks, opts.stdin);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    errOut.write(`mkvserve: ${err.message.includes('\n') ? err.message : `invalid configuration: ${err.message}`}\n`);
    return 1;
  }
  const s = config.server;
  const log = opts.log ?? createLogger({ format: s.logFormat, quiet: s.quiet });
  const rebuild = opts.reload;
  const reloader: Reloader | undefined = rebuild
    ? async () => {
        let next: Awaited<ReturnType<typeof rebuild>>;
        try {
          next = await rebuild();
        } catch (err) {
          if (err instanceof ConfigError) throw err;
          throw new ConfigError([{ path: '(command line)', message: (err as Error).message }]);
        }
        const h: Record<string, MountHooks> = { ...opts.hooks, ...next.hooks };
        return { config: buildConfig(next.layers, next.origins, h, opts.stdin), hooks: h };
      }
    : undefined;
  let server: MkvServer;
  try {
    server = new MkvServer({ config, hooks, log, ...(reloader ? { reloader } : {}) });
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
  const adminUrl = server.adminUrl();
  if (adminUrl !== undefined) out.write(`mkvserve: admin API at ${adminUrl}/api/mounts\n`);

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
  // Reload signals: errors are logged by the server (the running configuration stays).
  const reloadSignals = opts.reloadSignals ?? (opts.signals === undefined ? (['SIGHUP'] as NodeJS.Signals[]) : []);
  const onReloadSignal = (sig: NodeJS.Signals): void => {
    if (signalled) return;
    log.info('reload_signal', { signal: sig });
    server.reload().then(
      (r) => {
        for (const name of r.added) {
          const m = server.mounts.get(name);
          if (m) out.write(`mkvserve: serving ${m.display} at ${server.url(name)}\n`);
        }
      },
      () => {},
    );
  };
  for (const sig of reloadSignals) process.on(sig, onReloadSignal);
  try {
    await server.done;
    if (stopPromise) await stopPromise;
    else await server.stop(0);
  } finally {
    for (const sig of signals) process.off(sig, onSignal);
    for (const sig of reloadSignals) process.off(sig, onReloadSignal);
    stopHeapWatch();
    await closeHttpAgents().catch(() => {});
  }
  const failed = [...server.mounts.values()].some((m) => m.source.state === 'failed');
  const code = failed && !signalled ? 1 : 0;
  log.info('exit', { reason: signalled ?? (failed ? 'input_failed' : 'input_ended'), code });
  return code;
}
