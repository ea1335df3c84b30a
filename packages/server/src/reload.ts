// Reload: what a new configuration changes in a running server, decided before anything is touched.
// Mounts are added, removed (their clients get a clean end of response), restarted (changed settings
// that shape the stream: input, pacing, fan-out limits...), updated in place (settings read at the
// moment they are used: limits, grace period, source token), or left alone (same sockets, no gap).
// Server keys that a running server can take are applied; the others (the listening addresses, the
// log format...) keep their running values and are reported as needing a restart. Secrets are never
// part of a report: only key names are.

import { isDeepStrictEqual } from 'node:util';
import { diffConfigs } from './config.js';
import type { MountConfig, ResolvedConfig, ServerConfig } from './config.js';

/** Server keys a running server applies at once (to new connections and requests). */
export const LIVE_SERVER_KEYS: ReadonlySet<keyof ServerConfig> = new Set<keyof ServerConfig>([
  'headTimeoutMs',
  'idleTimeoutMs',
  'checkIntervalMs',
  'maxClients',
  'maxClientsPerIp',
  'trustedProxies',
  'xForwardedFor',
  'shutdownGraceMs',
  'keepAlive',
  'adminToken',
]);

/** Mount keys read when they are used: changing only these updates the mount in place, its clients
 *  keep streaming. */
export const LIVE_MOUNT_KEYS = [
  'maxClients',
  'sourceGraceMs',
  'token',
  'takeover',
] as const satisfies readonly (keyof MountConfig)[];

/** What a reload did (or would do), by mount name and server key. The API answers with it. */
export interface ReloadReport {
  added: string[];
  removed: string[];
  /** Settings changed that shape the stream: the mount was replaced, its clients ended cleanly. */
  restarted: string[];
  /** Only live settings changed (limits, grace period, token): applied, clients untouched. */
  updated: string[];
  unchanged: string[];
  /** Server keys applied. */
  serverApplied: string[];
  /** Server keys that changed in the file but need a restart of the process to apply (the running
   *  value stays). */
  restartNeeded: string[];
}

export interface ReloadPlan extends ReloadReport {
  /** The configuration the server runs after the reload: the new one, except the server keys that need a
   *  restart, which keep their running values. */
  config: ResolvedConfig;
}

function withoutLiveKeys(m: MountConfig): Record<string, unknown> {
  const o: Record<string, unknown> = { ...m };
  for (const k of LIVE_MOUNT_KEYS) delete o[k];
  return o;
}

/** Plans the move from the running configuration to `next`. Pure: nothing is changed. */
export function planReload(running: ResolvedConfig, next: ResolvedConfig): ReloadPlan {
  const d = diffConfigs(running, next);
  const old = new Map(running.mounts.map((m) => [m.name, m]));
  const nu = new Map(next.mounts.map((m) => [m.name, m]));
  const restarted: string[] = [];
  const updated: string[] = [];
  for (const name of d.changed) {
    if (isDeepStrictEqual(withoutLiveKeys(old.get(name)!), withoutLiveKeys(nu.get(name)!))) updated.push(name);
    else restarted.push(name);
  }
  const serverApplied: string[] = [];
  const restartNeeded: string[] = [];
  const server = { ...next.server } as Record<string, unknown>;
  for (const k of d.serverChanged as (keyof ServerConfig)[]) {
    if (LIVE_SERVER_KEYS.has(k)) serverApplied.push(k);
    else {
      restartNeeded.push(k);
      server[k] = running.server[k];
    }
  }
  return {
    config: { server: server as ServerConfig, mounts: next.mounts },
    added: d.added,
    removed: d.removed,
    restarted,
    updated,
    unchanged: d.unchanged,
    serverApplied,
    restartNeeded,
  };
}

/** A reload was asked of a server that has nothing to re-read (no `--config` file, no reloader). */
export class ReloadUnavailableError extends Error {
  readonly code = 'NO_CONFIG_FILE';
  constructor(
    message = 'nothing to reload: the server was started without --config FILE; start it with a configuration file to reload it',
  ) {
    super(message);
    this.name = 'ReloadUnavailableError';
  }
}

/** A reload or restart that cannot run now (the server is shutting down). */
export class ServerStoppingError extends Error {
  readonly code = 'STOPPING';
  constructor() {
    super('the server is shutting down');
    this.name = 'ServerStoppingError';
  }
}
