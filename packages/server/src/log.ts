// Tiny structured logger: one line per event, as text (`<time> <level> <event> k=v ...`) or as
// one JSON object per line (`{"time","level","event",...fields}`). `quiet` drops info events.

import { SERVER_DEFAULTS } from './config.js';

export type LogFormat = 'text' | 'json';
export type LogLevel = 'info' | 'warn' | 'error';

export interface LoggerOptions {
  format?: LogFormat;
  /** Drop `info` events (warnings and errors are still written). */
  quiet?: boolean;
  /** Where lines go (default process.stderr). Anything with a `write(string)` method. */
  stream?: { write(chunk: string): unknown };
  /** Clock, for tests (default Date.now). */
  now?: () => number;
}

export interface Logger {
  info(event: string, fields?: Record<string, unknown>): void;
  warn(event: string, fields?: Record<string, unknown>): void;
  error(event: string, fields?: Record<string, unknown>): void;
  /** A logger that adds `fields` to every event (e.g. `{mount: 'stream'}`). */
  child(fields: Record<string, unknown>): Logger;
  readonly format: LogFormat;
  readonly quiet: boolean;
}

/** JSON.stringify replacer: bigint as string, Uint8Array as {binary: length}, Error as {message, code}. */
function jsonSafe(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Uint8Array) return { binary: value.byteLength };
  if (value instanceof Error) {
    const code = (value as { code?: unknown }).code;
    return code !== undefined ? { message: value.message, code } : { message: value.message };
  }
  return value;
}

/** Formats one value for the text format: bare when it is simple, JSON-quoted otherwise. */
function textValue(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (value === null) return 'null';
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (value instanceof Error) return textValue(value.message);
  if (value instanceof Uint8Array) return `<${value.byteLength} bytes>`;
  if (typeof value === 'string') {
    return value !== '' && /^[^\s"=\\\x00-\x1f\x7f]+$/.test(value) ? value : JSON.stringify(value);
  }
  return JSON.stringify(value, jsonSafe) ?? Object.prototype.toString.call(value);
}

export function formatText(time: number, level: LogLevel, event: string, fields: Record<string, unknown>): string {
  let line = `${new Date(time).toISOString()} ${level} ${event}`;
  for (const [k, v] of Object.entries(fields)) {
    if (v === undefined) continue;
    line += ` ${k}=${textValue(v)}`;
  }
  return line + '\n';
}

export function formatJson(time: number, level: LogLevel, event: string, fields: Record<string, unknown>): string {
  // Fixed keys first; fields cannot overwrite them.
  const obj: Record<string, unknown> = { time: new Date(time).toISOString(), level, event };
  for (const [k, v] of Object.entries(fields)) {
    if (k === 'time' || k === 'level' || k === 'event' || v === undefined) continue;
    obj[k] = v;
  }
  return JSON.stringify(obj, jsonSafe) + '\n';
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  const format: LogFormat = opts.format ?? SERVER_DEFAULTS.logFormat;
  const quiet = opts.quiet ?? SERVER_DEFAULTS.quiet;
  const stream = opts.stream ?? process.stderr;
  const now = opts.now ?? Date.now;
  const make = (base: Record<string, unknown>): Logger => {
    const emit = (level: LogLevel, event: string, fields?: Record<string, unknown>): void => {
      if (quiet && level === 'info') return;
      const all = fields ? { ...base, ...fields } : base;
      const line = format === 'json' ? formatJson(now(), level, event, all) : formatText(now(), level, event, all);
      try {
        stream.write(line);
      } catch {
        // A closed log stream must never take the process down.
      }
    };
    return {
      format,
      quiet,
      info: (e, f) => emit('info', e, f),
      warn: (e, f) => emit('warn', e, f),
      error: (e, f) => emit('error', e, f),
      child: (fields) => make({ ...base, ...fields }),
    };
  };
  return make({});
}

/** A logger that writes nothing (library default). */
export const nullLogger: Logger = createLogger({ quiet: true, stream: { write: () => true } });
