// The registry of input kinds: which spec strings a kind handles, its syntax check (used by the config
// resolver, so a bad input is a config error naming the key), the checks that can run before the port
// is bound (a file exists and is readable), how to open one pass, and how it is paced by default.
// Ingest kinds (`tcp://HOST:PORT?listen`, `push`): a source connects to us, through the mount's ingest
// point (../ingest/point.ts); here are their syntax check and the TCP port check before listening.

import { access, stat } from 'node:fs/promises';
import { constants as fsConstants } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { InputError, openInput } from './open.js';
import type { Input, OpenInputOptions } from './open.js';
import { parseTcpListen } from '../ingest/tcp-spec.js';
import { probeTcpListen } from '../ingest/tcp-listener.js';

export interface InputKindDef {
  /** Short name (`file`, `stdin`, `url`, `tcp`, `push`). */
  readonly kind: string;
  /** True when this kind handles `spec` (kinds are tried in registration order, newest first). */
  matches(spec: string): boolean;
  /** Syntax problem of `spec`, or undefined. Pure and fast (runs during config validation). */
  validate?(spec: string): string | undefined;
  /** Checks that can be made before listening; throws an InputError saying what is wrong. */
  preflight?(spec: string): Promise<void>;
  /** Opens one pass of the input. */
  open(spec: string, opts: OpenInputOptions): Promise<Input>;
  /** Can the input be opened again (--loop, --reconnect)? */
  readonly reopenable: boolean;
}

const kinds: InputKindDef[] = [];

/** Registers (or replaces, by `kind`) an input kind. Later registrations are tried first. */
export function registerInputKind(def: InputKindDef): void {
  const i = kinds.findIndex((k) => k.kind === def.kind);
  if (i >= 0) kinds.splice(i, 1);
  kinds.unshift(def);
}

/** The kind that handles `spec`, or undefined (an unsupported URL scheme). */
export function inputKindFor(spec: string): InputKindDef | undefined {
  for (const k of kinds) if (k.matches(spec)) return k;
  return undefined;
}

/** Why `spec` is not a usable input, or undefined. */
export function inputSpecProblem(spec: string): string | undefined {
  if (spec === '') return 'the input is empty';
  const k = inputKindFor(spec);
  if (!k) {
    const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(spec)?.[1];
    return `unsupported input "${scheme}://..." (expected a file path, -, http(s)://, tcp://HOST:PORT?listen or push)`;
  }
  return k.validate?.(spec);
}

/** Push and TCP listen inputs are served by a mount's ingest point (../ingest/point.ts), never opened alone. */
const ingestOnly = (what: string) => (): Promise<never> =>
  Promise.reject(
    new InputError('UNSUPPORTED', `${what} takes sources through a mount (MkvServer), it cannot be opened on its own`),
  );

// Fallback: a path (registered first = tried last).
registerInputKind({
  kind: 'file',
  matches: (s) => !/^[a-z][a-z0-9+.-]*:\/\//i.test(s) || /^file:/i.test(s),
  validate(s) {
    if (/^file:/i.test(s)) {
      try {
        fileURLToPath(s);
      } catch {
        return `invalid file URL "${s}"`;
      }
    }
    return undefined;
  },
  async preflight(s) {
    const path = /^file:/i.test(s) ? fileURLToPath(s) : s;
    let st;
    try {
      st = await stat(path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') throw new InputError('NOT_FOUND', `file not found: ${path}`);
      if (code === 'EACCES' || code === 'EPERM') throw new InputError('ACCESS', `permission denied: ${path}`);
      throw new InputError('READ', `cannot open ${path}: ${(err as Error).message}`);
    }
    if (st.isDirectory()) throw new InputError('NOT_A_FILE', `not a file: ${path} is a directory`);
    if (!st.isFile() && !st.isFIFO() && !st.isCharacterDevice())
      throw new InputError('NOT_A_FILE', `not a file: ${path}`);
    try {
      await access(path, fsConstants.R_OK);
    } catch {
      throw new InputError('ACCESS', `permission denied: ${path} is not readable`);
    }
  },
  open: (s, o) => openInput(s, o),
  reopenable: true,
});

registerInputKind({
  kind: 'url',
  matches: (s) => /^https?:\/\//i.test(s),
  validate(s) {
    try {
      const u = new URL(s);
      if (u.hostname === '') return `invalid URL "${s}": no host`;
    } catch {
      return `invalid URL "${s}"`;
    }
    return undefined;
  },
  open: (s, o) => openInput(s, o),
  reopenable: true,
});

registerInputKind({
  kind: 'stdin',
  matches: (s) => s === '-',
  open: (s, o) => openInput(s, o),
  reopenable: false,
});

registerInputKind({
  kind: 'tcp',
  matches: (s) => /^tcp:\/\//i.test(s),
  validate(s) {
    const r = parseTcpListen(s);
    return typeof r === 'string' ? r : undefined;
  },
  // Binds and closes the port at once: a port in use is reported before the server starts.
  async preflight(s) {
    const r = parseTcpListen(s);
    if (typeof r === 'string') throw new InputError('BAD_URL', r);
    await probeTcpListen(r);
  },
  open: ingestOnly('a TCP listen input (tcp://HOST:PORT?listen)'),
  reopenable: true,
});

registerInputKind({
  kind: 'push',
  matches: (s) => s === 'push',
  open: ingestOnly('a push input'),
  reopenable: true,
});
