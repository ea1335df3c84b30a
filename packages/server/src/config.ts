// One place for every setting: the table of defaults (like hls.js's hlsDefaultConfig), the schema each
// partial configuration is checked against (zod), and the one resolver that turns partial layers into the
// resolved configuration the server runs with. The CLI, the config file and the library API each produce
// a partial layer; nothing else holds a default. Every error names the key path and what was expected,
// one line each. The resolved mounts can be diffed (added / removed / changed / unchanged) for reloads.
//
// The fan-out's own defaults (slow-client limits, history bounds, join mode) are read from
// @mkvserve/fanout itself, so they are not written twice either.

import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { isDeepStrictEqual } from 'node:util';
import * as z from 'zod';
import { LiveStream } from '@mkvserve/fanout';
import type { JoinMode } from '@mkvserve/fanout';
import { mountNameProblem } from './mount-name.js';
import { inputKindFor, inputSpecProblem } from './inputs/kinds.js';
import { addressRuleProblem } from './ingest/allowlist.js';
import { parseTcpListen } from './ingest/tcp-spec.js';

const FANOUT = new LiveStream().options;

/** Server-wide settings and their defaults. `undefined` = not set (no default). */
export const SERVER_DEFAULTS = {
  /** Address to listen on. Loopback by default: nothing outside this machine can connect. */
  host: '127.0.0.1',
  /** TCP port; 0 = any free port. */
  port: 8080,
  /** Access-Control-Allow-Origin of `/`, the API and (unless a mount sets its own) the streams. */
  cors: undefined as string | undefined,
  /** Write coalescing: each client gets everything pending in one write at most this often (ms). */
  flushMs: 100,
  /** When the event loop is saturated (a join storm, a shared core), the coalescing interval is stretched
   *  up to this many ms (doubling from flushMs): fewer, larger writes free the process to accept and
   *  answer new viewers. Equal to flushMs: never stretched. */
  flushMaxMs: 400,
  /** A request head must be complete within this many ms. */
  headTimeoutMs: 5000,
  /** A connection with nothing in flight (its response complete) is closed after this many ms. */
  idleTimeoutMs: 5000,
  /** How often the slow-client policy runs (ms). */
  checkIntervalMs: 1000,
  /** Most stream clients at once over all mounts (viewers waiting for an input's header count). */
  maxClients: 20_000,
  /** Most stream clients from one address (0 = no limit). */
  maxClientsPerIp: 0,
  /** Reverse proxies (addresses or CIDR blocks) whose PROXY protocol header or X-Forwarded-For gives the
   *  client's address; from any other peer both are ignored (a PROXY header is a 400). */
  trustedProxies: [] as string[],
  /** Believe X-Forwarded-For from a trusted proxy (false when the proxy passes it through from clients
   *  instead of setting it, e.g. HAProxy in TCP mode without send-proxy). */
  xForwardedFor: true,
  /** A separate listener for the API, /api/status and /metrics (`{ host, port, exclusive }`; none by
   *  default). `exclusive` (default true): they are then no longer served on the public listener. */
  admin: undefined as AdminListenConfig | undefined,
  /** Listen backlog (Linux caps it at net.core.somaxconn). */
  backlog: 4096,
  /** At shutdown, open responses get this long to finish (ms); a second signal ends it at once. */
  shutdownGraceMs: 1500,
  /** Keep running after every input ended (stream requests then get 503). */
  keepAlive: false,
  /** Log line format. */
  logFormat: 'text' as 'text' | 'json',
  /** Log warnings and errors only. */
  quiet: false,
  /** Cap of V8's young generation in MiB (CLI only; 0 = V8's default). */
  youngGenMiB: 8,
};

/** The optional admin listener (server.admin). */
export interface AdminListenConfig {
  host: string;
  port: number;
  /** Serve the API, status and metrics only here (the public listener answers 404 for them). */
  exclusive: boolean;
}

/** Defaults of the admin listener's keys when `server.admin` is given (its port has none). */
export const ADMIN_LISTEN_DEFAULTS = { host: '127.0.0.1', exclusive: true };

/** Per-mount settings and their defaults (`input` has none: every mount needs one). */
export const MOUNT_DEFAULTS = {
  /** At the end of a file or URL input, open it again (timestamps keep increasing). */
  loop: false,
  /** Open the input again after it ends or fails, with a backoff. */
  reconnect: false,
  /** Pacing: `auto` paces files always and other inputs when they run ahead of real time; true = pace
   *  like a file; false = never. */
  realtime: 'auto' as 'auto' | boolean,
  /** Pacing speed factor (2 = twice real time). */
  speed: 1,
  /** How far ahead of real time a paced file is released (ms). */
  leadMs: 100,
  /** How far ahead of real time a pipe or URL may run before it is paced (ms): a join burst from an
   *  origin passes, a file piped in is paced after this much. */
  liveLeadMs: 2000,
  /** First reconnect delay (ms), doubled up to maxBackoffMs. */
  backoffMs: 500,
  maxBackoffMs: 10_000,
  /** Where a new client starts: the newest keyframe (instant start) or the next one (lowest latency). */
  join: FANOUT.join,
  slowClients: {
    /** More than this much media behind: moved forward to the newest keyframe (ms). */
    softLimitMs: FANOUT.softLimitNs / 1e6,
    /** More than this much media behind what it last received: disconnected (ms). */
    hardLimitMs: FANOUT.hardLimitNs / 1e6,
    /** No progress for this long: disconnected (ms). */
    idleTimeoutMs: FANOUT.idleTimeoutMs,
  },
  history: {
    /** Media kept for late joiners, in bytes. */
    maxBytes: FANOUT.historyMaxBytes,
    /** ... and in clusters (one per keyframe). */
    maxClusters: FANOUT.historyMaxClusters,
  },
  /** Most stream clients of this mount (0 = only the server's limit). */
  maxClients: 0,
  /** Access-Control-Allow-Origin of this mount's stream (default: the server's `cors`). */
  cors: undefined as string | undefined,
  /** When the source is lost, connected clients wait this long for it to come back (ms). */
  sourceGraceMs: 10_000,
  /** Push and TCP inputs: a second source takes over (the current one is closed) instead of being refused
   *  (409 for HTTP push, closed for TCP). */
  takeover: false,
  /** Push and TCP inputs: addresses or CIDR ranges (`192.0.2.7`, `10.0.0.0/8`, `::1`) a source may connect
   *  from; others are refused (403 / closed). Not set: any address (a push mount then needs its token). */
  allowSources: undefined as string[] | undefined,
  /** Push and TCP inputs: a connected source that sends nothing for this long is dropped (ms). There is
   *  never a limit on how long a source streams. */
  sourceIdleTimeoutMs: 10_000,
};

/** Secrets can be given literally (config file, library), from a file, or from an environment variable:
 *  `adminToken` / `adminTokenFile` / `adminTokenEnv`, and per mount `token` / `tokenFile` / `tokenEnv`.
 *  When none is given, the admin token comes from $MKVSERVE_ADMIN_TOKEN. */
export const ADMIN_TOKEN_ENV = 'MKVSERVE_ADMIN_TOKEN';
/** A push mount without `token` / `tokenFile` / `tokenEnv` takes its source token from this variable. */
export const SOURCE_TOKEN_ENV = 'MKVSERVE_SOURCE_TOKEN';

// ---------------------------------------------------------------------------------------------------
// Schema of one partial layer: every key optional, unknown keys refused, each with "expected ..." text.

const expected = (what: string): { error: string } => ({ error: `expected ${what}` });
const intIn = (min: number, max: number) => {
  const e = expected(`an integer from ${min} to ${max}`);
  return z.int(e).min(min, e).max(max, e);
};
const ms = (min = 0, max = 86_400_000) => {
  const e = expected(`a number of milliseconds from ${min} to ${max}`);
  return z.number(e).min(min, e).max(max, e);
};
const bool = () => z.boolean(expected('true or false'));
const text = (what: string) => z.string(expected(what)).min(1, expected(what));
const oneOf = <T extends string>(values: readonly [T, ...T[]]) =>
  z.enum(values, expected(`one of ${values.map((v) => `"${v}"`).join(', ')}`));
const strict = <S extends z.ZodRawShape>(shape: S, what: string) =>
  z.strictObject(shape, {
    error: (iss) =>
      iss.code === 'unrecognized_keys'
        ? `unknown key (known keys: ${Object.keys(shape).join(', ')})`
        : `expected ${what}`,
  });

/** Why `s` is not an IP address or a CIDR block (`10.0.0.0/8`, `fd00::/8`), or undefined. */
export function addressRangeProblem(s: string): string | undefined {
  const slash = s.indexOf('/');
  const addr = slash < 0 ? s : s.slice(0, slash);
  const family = isIP(addr);
  if (family === 0) return 'not an IP address';
  if (slash < 0) return undefined;
  const bits = s.slice(slash + 1);
  const max = family === 4 ? 32 : 128;
  if (!/^\d{1,3}$/.test(bits) || Number(bits) > max) return `the prefix length must be 0 to ${max}`;
  return undefined;
}

const addressRange = () =>
  z
    .string(expected('an IP address or a CIDR block such as 10.0.0.0/8'))
    .refine((s) => addressRangeProblem(s) === undefined, expected('an IP address or a CIDR block such as 10.0.0.0/8'));

const secret = () => text('a non-empty string').optional();
const secretFile = () => text('a file path').optional();
const secretEnv = () => text('an environment variable name').optional();

const serverSchema = strict(
  {
    host: text('an address such as 127.0.0.1, 0.0.0.0 or ::').optional(),
    port: intIn(0, 65535).optional(),
    cors: text('an origin such as * or https://example.com').optional(),
    flushMs: ms(1, 10_000).optional(),
    flushMaxMs: ms(1, 10_000).optional(),
    headTimeoutMs: ms(1).optional(),
    idleTimeoutMs: ms(1).optional(),
    checkIntervalMs: ms(10, 60_000).optional(),
    maxClients: intIn(1, 10_000_000).optional(),
    maxClientsPerIp: intIn(0, 10_000_000).optional(),
    trustedProxies: z
      .array(addressRange(), expected('a list of IP addresses or CIDR blocks'))
      .max(1000, expected('at most 1000 entries'))
      .optional(),
    xForwardedFor: bool().optional(),
    admin: strict(
      {
        host: text('an address such as 127.0.0.1').optional(),
        port: intIn(0, 65535).optional(),
        exclusive: bool().optional(),
      },
      'a mapping with host, port, exclusive',
    ).optional(),
    backlog: intIn(1, 1_000_000).optional(),
    shutdownGraceMs: ms(0, 600_000).optional(),
    keepAlive: bool().optional(),
    logFormat: oneOf(['text', 'json']).optional(),
    quiet: bool().optional(),
    youngGenMiB: z.number(expected('a number of MiB from 0 to 1024')).min(0).max(1024).optional(),
    adminToken: secret(),
    adminTokenFile: secretFile(),
    adminTokenEnv: secretEnv(),
  },
  'a mapping of server settings',
);

const mountSchema = strict(
  {
    input: text('an input: a file path, -, http(s)://URL, tcp://HOST:PORT?listen or push').optional(),
    loop: bool().optional(),
    reconnect: bool().optional(),
    realtime: z.union([z.boolean(), z.literal('auto')], expected('true, false or "auto"')).optional(),
    speed: z.number(expected('a number from 0.01 to 1000')).min(0.01).max(1000).optional(),
    leadMs: ms(0, 60_000).optional(),
    liveLeadMs: ms(0, 600_000).optional(),
    backoffMs: ms(1, 3_600_000).optional(),
    maxBackoffMs: ms(1, 3_600_000).optional(),
    join: oneOf(['latest-keyframe', 'next-keyframe']).optional(),
    slowClients: strict(
      { softLimitMs: ms(1).optional(), hardLimitMs: ms(1).optional(), idleTimeoutMs: ms(1).optional() },
      'a mapping with softLimitMs, hardLimitMs, idleTimeoutMs',
    ).optional(),
    history: strict(
      { maxBytes: intIn(64 * 1024, 2 ** 40).optional(), maxClusters: intIn(1, 100_000).optional() },
      'a mapping with maxBytes, maxClusters',
    ).optional(),
    maxClients: intIn(0, 10_000_000).optional(),
    cors: text('an origin such as * or https://example.com').optional(),
    sourceGraceMs: ms(0, 3_600_000).optional(),
    takeover: bool().optional(),
    allowSources: z
      .array(
        z.string(expected('an address or CIDR range')).superRefine((v, ctx) => {
          const problem = addressRuleProblem(v);
          if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
        }),
        expected('a list of addresses or CIDR ranges, such as [127.0.0.1, 10.0.0.0/8, "::1"]'),
      )
      .min(1, expected('a non-empty list of addresses or CIDR ranges (leave the key out to allow any address)'))
      .optional(),
    sourceIdleTimeoutMs: ms(100, 3_600_000).optional(),
    token: secret(),
    tokenFile: secretFile(),
    tokenEnv: secretEnv(),
  },
  'a mapping of mount settings',
);

const layerSchema = strict(
  {
    server: serverSchema.optional(),
    mounts: z.record(z.string(), mountSchema, expected('a mapping of mount names to mount settings')).optional(),
  },
  'a mapping with "server" and "mounts"',
);

/** One partial configuration (a config file, the command line, the library options). */
export type ConfigLayer = z.input<typeof layerSchema>;
export type ServerSettingsInput = NonNullable<ConfigLayer['server']>;
export type MountSettingsInput = z.input<typeof mountSchema>;

// ---------------------------------------------------------------------------------------------------
// Errors

export interface ConfigIssue {
  /** Key path as written by the user: `mounts.cam.loop`, or `--port` for a command-line flag. */
  path: string;
  message: string;
}

/** A configuration that does not validate; `issues` has one entry per problem, `message` one line each. */
export class ConfigError extends Error {
  readonly code = 'CONFIG';
  readonly issues: ConfigIssue[];
  constructor(issues: ConfigIssue[], origin?: string) {
    const lines = issues.map((i) => `${i.path}: ${i.message}`);
    super(origin ? `invalid configuration in ${origin}:\n  ${lines.join('\n  ')}` : lines.join('\n'));
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

function show(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null (an empty value)';
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return typeof v;
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let v = root;
  for (const k of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[k];
  }
  return v;
}

export interface LayerOptions {
  /** Where the layer comes from, for messages (`mkvserve.yaml`, `the command line`). */
  origin?: string;
  /** How a key path is shown (the CLI shows flags: ['server','port'] -> '--port'). */
  describePath?: (path: readonly (string | number)[]) => string;
}

/** Keys whose values are secrets: an error about them never shows the value. */
const SECRET_VALUE_KEYS = new Set(['adminToken', 'token']);

const dotted = (path: readonly (string | number)[]): string => (path.length === 0 ? '(top level)' : path.join('.'));

/** Checks one partial layer. Throws ConfigError listing every problem. */
export function parseLayer(raw: unknown, opts: LayerOptions = {}): ConfigLayer {
  const describe = opts.describePath ?? dotted;
  const issues: ConfigIssue[] = [];
  const res = layerSchema.safeParse(raw ?? {});
  if (!res.success) {
    for (const iss of res.error.issues) {
      const path = iss.path.filter((p): p is string | number => typeof p !== 'symbol');
      if (iss.code === 'unrecognized_keys') {
        for (const k of iss.keys) issues.push({ path: describe([...path, k]), message: iss.message });
      } else {
        // A secret's value is never echoed (messages reach logs and the reload API).
        const got = SECRET_VALUE_KEYS.has(String(path.at(-1)))
          ? 'a value (not shown: it is a secret)'
          : show(valueAt(raw, path));
        issues.push({ path: describe(path), message: `${iss.message}, got ${got}` });
      }
    }
  }
  const layer = res.success ? res.data : undefined;
  const mounts = (raw as { mounts?: unknown } | null)?.mounts;
  if (mounts && typeof mounts === 'object' && !Array.isArray(mounts)) {
    for (const [name, m] of Object.entries(mounts)) {
      const problem = mountNameProblem(name);
      if (problem) issues.push({ path: describe(['mounts', name]), message: problem });
      const input = (m as { input?: unknown } | null)?.input;
      if (typeof input === 'string' && input !== '') {
        const p = inputSpecProblem(input);
        if (p) issues.push({ path: describe(['mounts', name, 'input']), message: p });
      }
    }
  }
  for (const [section, key] of [
    [['server'], 'adminToken'],
    ...Object.keys(mounts && typeof mounts === 'object' ? mounts : {}).map((n) => [['mounts', n], 'token'] as const),
  ] as [string[], string][]) {
    const o = valueAt(raw, section) as Record<string, unknown> | undefined;
    if (!o || typeof o !== 'object') continue;
    const given = [key, `${key}File`, `${key}Env`].filter((k) => o[k] !== undefined);
    if (given.length > 1)
      issues.push({
        path: describe([...section, given[1]]),
        message: `give only one of ${key}, ${key}File and ${key}Env (got ${given.join(' and ')})`,
      });
  }
  if (issues.length > 0) throw new ConfigError(issues, opts.origin);
  return layer!;
}

// ---------------------------------------------------------------------------------------------------
// Resolved configuration

type Widen<T> = T extends string ? string : T extends number ? number : T extends boolean ? boolean : T;
type Settings<T> = { -readonly [K in keyof T]: T[K] extends object ? Settings<T[K]> : Widen<T[K]> };

export type ServerConfig = Omit<Settings<typeof SERVER_DEFAULTS>, 'admin'> & {
  logFormat: 'text' | 'json';
  admin: AdminListenConfig | undefined;
  /** Resolved admin token (from adminToken, adminTokenFile, adminTokenEnv or $MKVSERVE_ADMIN_TOKEN). */
  adminToken: string | undefined;
};

export type MountConfig = Settings<typeof MOUNT_DEFAULTS> & {
  name: string;
  input: string;
  realtime: 'auto' | boolean;
  join: JoinMode;
  /** Resolved source token (from token, tokenFile or tokenEnv). */
  token: string | undefined;
};

export interface ResolvedConfig {
  server: ServerConfig;
  /** In the order they were first named. */
  mounts: MountConfig[];
}

/** Where a secret comes from, and the layer it was given in (for messages). */
type SecretRef = { literal: string } | { file: string } | { env: string };

function secretRef(o: Record<string, unknown> | undefined, key: string): SecretRef | undefined {
  if (!o) return undefined;
  if (typeof o[key] === 'string') return { literal: o[key] };
  if (typeof o[`${key}File`] === 'string') return { file: o[`${key}File`] as string };
  if (typeof o[`${key}Env`] === 'string') return { env: o[`${key}Env`] as string };
  return undefined;
}

function readSecret(
  ref: SecretRef,
  env: NodeJS.ProcessEnv,
  path: string,
  issues: ConfigIssue[],
  origin: (p: string) => string,
): string | undefined {
  if ('literal' in ref) return ref.literal;
  if ('env' in ref) {
    const v = env[ref.env];
    if (v === undefined || v === '') {
      issues.push({ path: origin(`${path}Env`), message: `the environment variable ${ref.env} is not set or empty` });
      return undefined;
    }
    return v;
  }
  let v: string;
  try {
    v = readFileSync(ref.file, 'utf8').replace(/\r?\n$/, '');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'file not found' : code === 'EACCES' ? 'permission denied' : (err as Error).message;
    issues.push({ path: origin(`${path}File`), message: `cannot read ${ref.file}: ${why}` });
    return undefined;
  }
  if (v === '' || /[\r\n]/.test(v)) {
    issues.push({ path: origin(`${path}File`), message: `${ref.file} must hold the token on one line` });
    return undefined;
  }
  return v;
}

function assignDefined(
  target: Record<string, unknown>,
  src: Record<string, unknown> | undefined,
  skip: string[],
): void {
  if (!src) return;
  for (const [k, v] of Object.entries(src)) {
    if (v === undefined || skip.includes(k)) continue;
    const cur = target[k];
    if (cur && typeof cur === 'object' && v && typeof v === 'object')
      assignDefined(cur as Record<string, unknown>, v as Record<string, unknown>, []);
    else target[k] = v && typeof v === 'object' ? structuredClone(v) : v;
  }
}

export interface ResolveOptions {
  /** Environment for secrets (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Where each layer came from, for messages (same order as the layers). */
  origins?: (string | undefined)[];
}

const SECRET_KEYS = (key: string): string[] => [key, `${key}File`, `${key}Env`];

/**
 * Merges checked layers over the defaults (later layers win; per mount and per nested group key by key),
 * reads secrets from files and the environment, and checks what needs the whole picture (every mount has
 * an input, backoff bounds). Throws ConfigError.
 */
export function resolveConfig(layers: ConfigLayer[], opts: ResolveOptions = {}): ResolvedConfig {
  const env = opts.env ?? process.env;
  const issues: ConfigIssue[] = [];
  const server = structuredClone(SERVER_DEFAULTS) as Record<string, unknown>;
  let adminRef: SecretRef | undefined;
  let adminOrigin: string | undefined;
  if (env[ADMIN_TOKEN_ENV]) {
    adminRef = { env: ADMIN_TOKEN_ENV };
    adminOrigin = `$${ADMIN_TOKEN_ENV}`;
  }
  const mounts = new Map<string, { cfg: Record<string, unknown>; ref?: SecretRef; origin?: string }>();
  layers.forEach((layer, i) => {
    const origin = opts.origins?.[i];
    assignDefined(server, layer.server, SECRET_KEYS('adminToken'));
    const ref = secretRef(layer.server, 'adminToken');
    if (ref) {
      adminRef = ref;
      adminOrigin = origin;
    }
    for (const [rawName, m] of Object.entries(layer.mounts ?? {})) {
      const name = rawName.startsWith('/') ? rawName.slice(1) : rawName;
      let entry = mounts.get(name);
      if (!entry) {
        entry = { cfg: { name, ...structuredClone(MOUNT_DEFAULTS) } };
        mounts.set(name, entry);
      }
      assignDefined(entry.cfg, m, SECRET_KEYS('token'));
      const r = secretRef(m, 'token');
      if (r) {
        entry.ref = r;
        entry.origin = origin;
      }
    }
  });
  const at = (origin: string | undefined) => (p: string) => (origin ? `${p} (${origin})` : p);
  server['adminToken'] = adminRef ? readSecret(adminRef, env, 'server.adminToken', issues, at(adminOrigin)) : undefined;
  const admin = server['admin'] as Partial<AdminListenConfig> | undefined;
  if (admin !== undefined) {
    server['admin'] = { ...ADMIN_LISTEN_DEFAULTS, ...admin };
    if (admin.port === undefined)
      issues.push({ path: 'server.admin.port', message: 'the admin listener needs a port (0 = any free port)' });
  }
  const list: MountConfig[] = [];
  /** TCP listen ports already taken by a mount (0 = any free port: never shared). */
  const tcpPorts = new Map<number, string>();
  for (const [name, { cfg, ref, origin }] of mounts) {
    cfg['token'] = ref ? readSecret(ref, env, `mounts.${name}.token`, issues, at(origin)) : undefined;
    const kind = typeof cfg['input'] === 'string' ? inputKindFor(cfg['input'])?.kind : undefined;
    const tcp = kind === 'tcp' ? parseTcpListen(cfg['input'] as string) : undefined;
    if (tcp !== undefined && typeof tcp !== 'string' && tcp.port !== 0) {
      const other = tcpPorts.get(tcp.port);
      if (other !== undefined)
        issues.push({
          path: `mounts.${name}.input`,
          message: `port ${tcp.port} is already the TCP listen input of mount ${other}: give each TCP mount its own port`,
        });
      else tcpPorts.set(tcp.port, name);
    }
    if (kind === 'push' && cfg['token'] === undefined && !ref) {
      const fromEnv = env[SOURCE_TOKEN_ENV];
      if (fromEnv !== undefined && fromEnv !== '') cfg['token'] = fromEnv;
      else if (cfg['allowSources'] === undefined)
        issues.push({
          path: `mounts.${name}.token`,
          message: `a push mount needs a source token (token, tokenFile or tokenEnv; --source-token-file FILE or $${SOURCE_TOKEN_ENV}), or allowSources to take sources from listed addresses without one`,
        });
    }
    if (typeof cfg['input'] !== 'string')
      issues.push({
        path: `mounts.${name}.input`,
        message: 'every mount needs an input (a file path, -, http(s)://URL, tcp://HOST:PORT?listen or push)',
      });
    if ((cfg['maxBackoffMs'] as number) < (cfg['backoffMs'] as number))
      issues.push({ path: `mounts.${name}.maxBackoffMs`, message: 'must not be less than backoffMs' });
    list.push(cfg as unknown as MountConfig);
  }
  if (issues.length > 0) throw new ConfigError(issues);
  return { server: server as unknown as ServerConfig, mounts: list };
}

/** parseLayer for each raw layer, then resolveConfig. */
export function resolveConfigFrom(
  raw: unknown[],
  opts: ResolveOptions & { layerOptions?: LayerOptions[] } = {},
): ResolvedConfig {
  const layers = raw.map((r, i) => parseLayer(r, opts.layerOptions?.[i] ?? { origin: opts.origins?.[i] }));
  return resolveConfig(layers, opts);
}

export interface MountDiff {
  added: string[];
  removed: string[];
  /** Present in both with different settings: to be restarted. */
  changed: string[];
  unchanged: string[];
  /** Server keys whose value changed. */
  serverChanged: string[];
}

/** What a reload has to do to go from `a` to `b`. */
export function diffConfigs(a: ResolvedConfig, b: ResolvedConfig): MountDiff {
  const am = new Map(a.mounts.map((m) => [m.name, m]));
  const bm = new Map(b.mounts.map((m) => [m.name, m]));
  const d: MountDiff = { added: [], removed: [], changed: [], unchanged: [], serverChanged: [] };
  for (const [name, m] of bm) {
    const old = am.get(name);
    if (!old) d.added.push(name);
    else if (isDeepStrictEqual(old, m)) d.unchanged.push(name);
    else d.changed.push(name);
  }
  for (const name of am.keys()) if (!bm.has(name)) d.removed.push(name);
  for (const k of Object.keys(b.server) as (keyof ServerConfig)[])
    if (!isDeepStrictEqual(a.server[k], b.server[k])) d.serverChanged.push(k);
  return d;
}

/** Name of the mount of the single-input form (`mkvserve movie.mkv`) unless --mount NAME says otherwise. */
export const DEFAULT_MOUNT_NAME = 'stream';
