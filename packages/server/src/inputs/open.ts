// Opens an input given on the command line as a stream of byte chunks: a file path (or file: URL),
// `-` for stdin, or an http(s):// URL read with undici. Failures become InputError with a message
// a person understands (file not found, not a file, HTTP status, timeout), never a stack trace.
import { createReadStream, fstatSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { Readable } from 'node:stream';
import { redactInput } from '../redact.js';
// undici is loaded on first use (http(s) inputs only): it costs ~90 ms of start-up for every command.
import type { Agent, Dispatcher } from 'undici';

import type * as UndiciModule from 'undici';
type Undici = typeof UndiciModule;
let undiciModule: Promise<Undici> | undefined;
function loadUndici(): Promise<Undici> {
  undiciModule ??= import('undici');
  return undiciModule;
}

/** `push` and `tcp`: a source that connected to us (../ingest/). */
export type InputKind = 'file' | 'stdin' | 'url' | 'push' | 'tcp';

export interface Input {
  kind: InputKind;
  /** Display name: the path, `stdin`, or the URL. */
  name: string;
  /** Total size in bytes when known (file size, HTTP Content-Length). */
  size?: number;
  /** The bytes come from a regular file (a file path, or stdin redirected from a file): they arrive far
   *  faster than real time, so `auto` pacing treats the input as a file. */
  regularFile?: boolean;
  /** The bytes, in order. Can be iterated once. Errors are InputError. */
  chunks: AsyncIterable<Uint8Array>;
  /** Stops reading and releases the file / socket. Safe to call more than once. */
  close(): void;
}

export type InputErrorCode =
  | 'NOT_FOUND'
  | 'NOT_A_FILE'
  | 'ACCESS'
  | 'READ'
  | 'STDIN_TTY'
  | 'BAD_URL'
  | 'HTTP_STATUS'
  | 'HTTP'
  | 'TIMEOUT'
  | 'UNSUPPORTED'
  | 'LISTEN';

export class InputError extends Error {
  readonly code: InputErrorCode;
  /** HTTP status for HTTP_STATUS. */
  readonly status?: number;
  constructor(code: InputErrorCode, message: string, opts?: { status?: number; cause?: unknown }) {
    super(message, opts?.cause !== undefined ? { cause: opts.cause } : undefined);
    this.name = 'InputError';
    this.code = code;
    if (opts?.status !== undefined) this.status = opts.status;
  }
}

export interface OpenInputOptions {
  /** Read size for files (default 256 KiB). */
  highWaterMark?: number;
  /** HTTP: time allowed to connect and receive the response headers (default 15 s). */
  headersTimeoutMs?: number;
  /** HTTP: longest silence allowed between two body chunks (default 30 s; 0 disables it). */
  bodyTimeoutMs?: number;
  /** HTTP: redirects to follow (default 5). */
  maxRedirections?: number;
  /** HTTP: extra request headers. */
  headers?: Record<string, string>;
  /** Aborts opening / reading. */
  signal?: AbortSignal;
  /** Stream used for `-` (default process.stdin); for tests. */
  stdin?: NodeJS.ReadableStream;
  /** Accept `-` even when stdin is a terminal (default false: that is almost always a mistake). */
  allowTtyStdin?: boolean;
}

const DEFAULT_HWM = 256 * 1024;

/** Opens `spec`: `-` (stdin), `http://` / `https://` (undici), `file:` URL, or a path. */
export async function openInput(spec: string, opts: OpenInputOptions = {}): Promise<Input> {
  if (spec === '-') return openStdin(opts);
  if (/^https?:\/\//i.test(spec)) return openUrl(spec, opts);
  if (/^file:/i.test(spec)) {
    let path: string;
    try {
      path = fileURLToPath(spec);
    } catch {
      throw new InputError('BAD_URL', `invalid file URL: ${spec}`);
    }
    return openFile(path, opts);
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(spec)) {
    throw new InputError(
      'BAD_URL',
      `unsupported URL scheme in ${redactInput(spec)} (use a file path, -, http:// or https://)`,
    );
  }
  return openFile(spec, opts);
}

/** Iterates a Node readable, converting its errors with `mapError`; stops quietly once closed. */
async function* iterate(
  stream: Readable | NodeJS.ReadableStream,
  isClosed: () => boolean,
  mapError: (err: unknown) => Error,
): AsyncGenerator<Uint8Array> {
  try {
    for await (const chunk of stream as AsyncIterable<Uint8Array | string>) {
      if (isClosed()) return;
      yield typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    }
  } catch (err) {
    if (isClosed()) return;
    throw mapError(err);
  }
}

function errnoCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null ? ((err as { code?: unknown }).code as string | undefined) : undefined;
}

async function openFile(path: string, opts: OpenInputOptions): Promise<Input> {
  let st;
  try {
    st = await stat(path);
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new InputError('NOT_FOUND', `file not found: ${path}`);
    if (code === 'EACCES' || code === 'EPERM') throw new InputError('ACCESS', `permission denied: ${path}`);
    throw new InputError('READ', `cannot open ${path}: ${(err as Error).message}`, { cause: err });
  }
  if (st.isDirectory()) throw new InputError('NOT_A_FILE', `not a file: ${path} is a directory`);
  const regular = st.isFile();
  // FIFOs and character devices are allowed (e.g. /dev/stdin, named pipes): they just have no size.
  if (!regular && !st.isFIFO() && !st.isCharacterDevice()) {
    throw new InputError('NOT_A_FILE', `not a file: ${path}`);
  }
  const stream = createReadStream(path, { highWaterMark: opts.highWaterMark ?? DEFAULT_HWM });
  // Surface open errors (e.g. EACCES on open) through the iterator; avoid an unhandled 'error'.
  let closed = false;
  const onAbort = (): void => input.close();
  const input: Input = {
    kind: 'file',
    name: path,
    regularFile: regular,
    ...(regular ? { size: st.size } : {}),
    chunks: iterate(
      stream,
      () => closed,
      (err) => {
        const code = errnoCode(err);
        if (code === 'EACCES' || code === 'EPERM') return new InputError('ACCESS', `permission denied: ${path}`);
        if (code === 'EISDIR') return new InputError('NOT_A_FILE', `not a file: ${path} is a directory`);
        return new InputError('READ', `error reading ${path}: ${(err as Error).message}`, { cause: err });
      },
    ),
    close() {
      if (closed) return;
      closed = true;
      opts.signal?.removeEventListener('abort', onAbort);
      stream.destroy();
    },
  };
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  return input;
}

function openStdin(opts: OpenInputOptions): Input {
  const stdin = opts.stdin ?? process.stdin;
  if (!opts.allowTtyStdin && (stdin as { isTTY?: boolean }).isTTY) {
    throw new InputError(
      'STDIN_TTY',
      'stdin is a terminal: pipe Matroska data in (e.g. `ffmpeg ... -f matroska - | mkvserve ... -`)',
    );
  }
  let closed = false;
  const onAbort = (): void => input.close();
  const input: Input = {
    kind: 'stdin',
    name: 'stdin',
    ...(opts.stdin === undefined && stdinIsRegularFile() ? { regularFile: true } : {}),
    chunks: iterate(
      stdin,
      () => closed,
      (err) => new InputError('READ', `error reading stdin: ${(err as Error).message}`, { cause: err }),
    ),
    close() {
      if (closed) return;
      closed = true;
      opts.signal?.removeEventListener('abort', onAbort);
      const s = stdin as { destroy?: () => void; pause?: () => void };
      if (typeof s.destroy === 'function') s.destroy();
      else s.pause?.();
    },
  };
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  return input;
}

/** What fd 0 is: 'pipe' (FIFO or socket), 'file' (a regular file: `< movie.mkv`), 'terminal' (a TTY or
 *  another character device such as /dev/null: what systemd, `docker run` without -t and nohup give),
 *  or 'closed'. Only a pipe or a file is worth reading. */
export function stdinKind(): 'pipe' | 'file' | 'terminal' | 'closed' {
  try {
    const st = fstatSync(0);
    if (st.isFIFO() || st.isSocket()) return 'pipe';
    if (st.isFile()) return 'file';
    return 'terminal';
  } catch {
    return 'closed';
  }
}

function stdinIsRegularFile(): boolean {
  return stdinKind() === 'file';
}

function noop(): void {}

let sharedDispatchers: Map<string, Dispatcher> | undefined;
const agents: Agent[] = [];

/** Closes the shared HTTP connection pools (idle keep-alive sockets would delay process exit). */
export async function closeHttpAgents(): Promise<void> {
  const list = agents.splice(0);
  sharedDispatchers = undefined;
  await Promise.all(list.map((a) => a.destroy().catch(() => {})));
}

function dispatcherFor(
  undici: Undici,
  headersTimeout: number,
  bodyTimeout: number,
  maxRedirections: number,
): Dispatcher {
  const { Agent, interceptors } = undici;
  sharedDispatchers ??= new Map();
  const key = `${headersTimeout}/${bodyTimeout}/${maxRedirections}`;
  let d = sharedDispatchers.get(key);
  if (!d) {
    const agent = new Agent({ headersTimeout, bodyTimeout, connectTimeout: headersTimeout || undefined });
    agents.push(agent);
    d = maxRedirections > 0 ? agent.compose(interceptors.redirect({ maxRedirections })) : agent;
    sharedDispatchers.set(key, d);
  }
  return d;
}

function describeHttpError(
  undici: Undici,
  err: unknown,
  url: string,
  headersTimeout: number,
  bodyTimeout: number,
): InputError {
  if (err instanceof InputError) return err;
  const undiciErrors = undici.errors;
  if (err instanceof undiciErrors.HeadersTimeoutError || err instanceof undiciErrors.ConnectTimeoutError) {
    return new InputError('TIMEOUT', `timed out after ${headersTimeout / 1000} s waiting for ${url}`, { cause: err });
  }
  if (err instanceof undiciErrors.BodyTimeoutError) {
    return new InputError('TIMEOUT', `no data from ${url} for ${bodyTimeout / 1000} s`, { cause: err });
  }
  if (err instanceof undiciErrors.RequestAbortedError || (err as Error)?.name === 'AbortError') {
    return new InputError('HTTP', `request to ${url} aborted`, { cause: err });
  }
  const code = errnoCode(err) ?? errnoCode((err as { cause?: unknown })?.cause);
  const reason =
    code === 'ECONNREFUSED'
      ? 'connection refused'
      : code === 'ENOTFOUND'
        ? 'host not found'
        : code === 'ECONNRESET' || code === 'UND_ERR_SOCKET'
          ? 'connection reset'
          : ((err as Error)?.message ?? String(err));
  return new InputError('HTTP', `cannot read ${url}: ${reason}`, { cause: err });
}

async function openUrl(url: string, opts: OpenInputOptions): Promise<Input> {
  // What messages and the input's name show: no credentials, no query (see redact.ts).
  const shown = redactInput(url);
  try {
    new URL(url);
  } catch {
    throw new InputError('BAD_URL', `invalid URL: ${shown}`);
  }
  const undici = await loadUndici();
  const headersTimeout = opts.headersTimeoutMs ?? 15_000;
  const bodyTimeout = opts.bodyTimeoutMs ?? 30_000;
  const dispatcher = dispatcherFor(undici, headersTimeout, bodyTimeout, opts.maxRedirections ?? 5);
  const ac = new AbortController();
  const onAbort = (): void => ac.abort();
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  let res: Dispatcher.ResponseData;
  try {
    res = await undici.request(url, {
      method: 'GET',
      dispatcher,
      signal: ac.signal,
      headers: { 'user-agent': 'mkvserve', accept: 'video/x-matroska, video/webm, audio/webm, */*', ...opts.headers },
    });
  } catch (err) {
    opts.signal?.removeEventListener('abort', onAbort);
    throw describeHttpError(undici, err, shown, headersTimeout, bodyTimeout);
  }
  if (res.statusCode < 200 || res.statusCode > 299) {
    res.body.on('error', noop);
    res.body.destroy();
    opts.signal?.removeEventListener('abort', onAbort);
    const text = HTTP_REASONS[res.statusCode] ?? '';
    throw new InputError('HTTP_STATUS', `HTTP ${res.statusCode}${text ? ' ' + text : ''} from ${shown}`, {
      status: res.statusCode,
    });
  }
  const len = res.headers['content-length'];
  const size = typeof len === 'string' && /^\d+$/.test(len) ? Number(len) : undefined;
  let closed = false;
  const body = res.body;
  return {
    kind: 'url',
    name: shown,
    ...(size !== undefined ? { size } : {}),
    chunks: iterate(
      body,
      () => closed,
      (err) => describeHttpError(undici, err, shown, headersTimeout, bodyTimeout),
    ),
    close() {
      if (closed) return;
      closed = true;
      opts.signal?.removeEventListener('abort', onAbort);
      body.on('error', noop);
      body.destroy();
      ac.abort();
    },
  };
}

const HTTP_REASONS: Record<number, string> = {
  301: 'Moved Permanently',
  302: 'Found',
  304: 'Not Modified',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  410: 'Gone',
  416: 'Range Not Satisfiable',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};
