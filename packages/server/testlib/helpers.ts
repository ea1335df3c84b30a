// Shared helpers for the server tests (raw-socket HTTP client, capture, ffmpeg/ffprobe checks, media
// parsing of captures, spawning the CLI). Lives outside test/ so that tap does not run it as a test.
import net from 'node:net';
import { spawnSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MatroskaDemuxer } from '@mkvserve/ebml';
import type { Frame, MatroskaHeader } from '@mkvserve/ebml';
import type { Input } from '../src/inputs/open.js';

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const FIX = (name: string): string => join(ROOT, 'fixtures', name);
export const CLI = join(ROOT, 'packages/server/bin/mkvserve.js');

export const hasFfmpeg = spawnSync('ffmpeg', ['-version']).status === 0;
export const hasFfprobe = spawnSync('ffprobe', ['-version']).status === 0;

export interface Capture {
  status: number;
  headers: Map<string, string>;
  head: string;
  body: Buffer;
  /** The server ended the response (FIN) rather than us closing it. */
  ended: boolean;
  /** ms from connect to the first byte of the response. */
  ttfbMs: number;
}

/** Sends `request` (raw) and collects the response until the server closes or `ms` elapse. */
export function rawRequest(port: number, request: string | Buffer, ms = 5000, host = '127.0.0.1'): Promise<Capture> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const start = performance.now();
    let first = -1;
    let ended = false;
    const sock = net.connect(port, host, () => sock.write(request));
    const finish = (): void => {
      clearTimeout(timer);
      const all = Buffer.concat(chunks);
      const sep = all.indexOf('\r\n\r\n');
      const head = sep < 0 ? all.toString('latin1') : all.subarray(0, sep).toString('latin1');
      const lines = head.split('\r\n');
      const status = Number(/^HTTP\/1\.\d (\d{3})/.exec(lines[0] ?? '')?.[1] ?? 0);
      const headers = new Map<string, string>();
      for (const l of lines.slice(1)) {
        const i = l.indexOf(':');
        if (i > 0) headers.set(l.slice(0, i).toLowerCase(), l.slice(i + 1).trim());
      }
      resolve({
        status,
        headers,
        head,
        body: sep < 0 ? Buffer.alloc(0) : all.subarray(sep + 4),
        ended,
        ttfbMs: first < 0 ? -1 : first - start,
      });
    };
    const timer = setTimeout(() => {
      sock.destroy();
      finish();
    }, ms);
    sock.on('data', (c) => {
      if (first < 0) first = performance.now();
      chunks.push(c);
    });
    sock.on('end', () => {
      ended = true;
    });
    sock.on('close', () => {
      if (ended || chunks.length > 0) finish();
      else {
        clearTimeout(timer);
        finish();
      }
    });
    sock.on('error', (e) => {
      if (chunks.length === 0) reject(e);
    });
  });
}

export function get(port: number, path: string, ms = 5000, extra = ''): Promise<Capture> {
  return rawRequest(port, `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${extra}\r\n`, ms);
}

export interface Media {
  header: MatroskaHeader | undefined;
  headers: number;
  frames: Frame[];
  errors: string[];
}

/** Demuxes a captured stream with our own demuxer. */
export function parseMedia(body: Uint8Array): Media {
  const m: Media = { header: undefined, headers: 0, frames: [], errors: [] };
  const d = new MatroskaDemuxer({
    onHeader: (h) => {
      m.header ??= h;
      m.headers++;
    },
    onFrame: (f) => m.frames.push(f),
    onError: (e) => m.errors.push(e.message),
  });
  d.push(body);
  d.end();
  return m;
}

export function videoTrack(m: Media): number {
  return m.header?.tracks.find((t) => t.kind === 'video')?.number ?? 0;
}

/** Media duration covered by the frames (max ts - min ts), seconds. */
export function mediaSpan(frames: Frame[]): number {
  if (frames.length === 0) return 0;
  let lo = Infinity;
  let hi = -Infinity;
  for (const f of frames) {
    lo = Math.min(lo, f.timestamp);
    hi = Math.max(hi, f.timestamp);
  }
  return (hi - lo) / 1e9;
}

/** ffmpeg -v error -i capture -f null -: the error text ('' = clean). */
export function ffmpegErrors(body: Uint8Array, ext = 'mkv'): string {
  const dir = mkdtempSync(join(tmpdir(), 'mkvserve-cap-'));
  try {
    const f = join(dir, `cap.${ext}`);
    writeFileSync(f, body);
    const r = spawnSync('ffmpeg', ['-nostdin', '-v', 'error', '-i', f, '-f', 'null', '-'], { encoding: 'utf8' });
    return (r.stderr ?? '').trim() + (r.status === 0 ? '' : `\n(exit ${r.status})`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** ffprobe packets of a capture: [{stream, pts, flags}] in file order, plus stream codec types. */
export function ffprobePackets(body: Uint8Array): {
  packets: { stream_index: number; flags: string; pts_time?: string }[];
  streams: { index: number; codec_type: string }[];
} {
  const dir = mkdtempSync(join(tmpdir(), 'mkvserve-cap-'));
  try {
    const f = join(dir, 'cap.mkv');
    writeFileSync(f, body);
    const r = spawnSync('ffprobe', ['-v', 'error', '-show_packets', '-show_streams', '-of', 'json', f], {
      encoding: 'utf8',
      maxBuffer: 64 << 20,
    });
    return JSON.parse(r.stdout || '{"packets":[],"streams":[]}');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface CliRun {
  child: ChildProcess;
  url: Promise<string>;
  stdout: () => string;
  stderr: () => string;
  exit: Promise<{ code: number | null; signal: string | null; ms: number }>;
}

/** Spawns the real CLI; `url` resolves with the printed stream URL. */
export function runCli(
  args: string[],
  opts: { env?: Record<string, string>; stdin?: 'pipe' | 'ignore' | number; nodeArgs?: string[] } = {},
): CliRun {
  const start = performance.now();
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), CLI, ...args], {
    env: { ...process.env, ...opts.env },
    stdio: [opts.stdin ?? 'pipe', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  let resolveUrl!: (u: string) => void;
  let rejectUrl!: (e: Error) => void;
  const url = new Promise<string>((res, rej) => {
    resolveUrl = res;
    rejectUrl = rej;
  });
  url.catch(() => {}); // tests that expect an early exit never await it
  const scan = (): void => {
    // "mkvserve: serving INPUT at URL": the URL after " at " (the input can be a URL too).
    const m = / at (http:\/\/[^\s]+)/.exec(out) ?? /url=(http:\/\/[^\s"]+)/.exec(err);
    if (m) resolveUrl(m[1]);
  };
  child.stdout!.on('data', (d) => {
    out += d;
    scan();
  });
  child.stderr!.on('data', (d) => {
    err += d;
    scan();
  });
  const exit = new Promise<{ code: number | null; signal: string | null; ms: number }>((resolve) => {
    child.on('exit', (code, signal) => {
      rejectUrl(new Error(`CLI exited (${code}) before printing a URL: ${err}`));
      resolve({ code, signal, ms: performance.now() - start });
    });
  });
  return { child, url, stdout: () => out, stderr: () => err, exit };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A stream viewer on loopback: GETs `path` and counts the bytes it receives (errors ignored). */
export function viewer(port: number, path: string): { sock: net.Socket; got: () => number } {
  const sock = net.connect(port, '127.0.0.1', () => sock.write(`GET ${path} HTTP/1.1\r\n\r\n`));
  let got = 0;
  sock.on('data', (d: Buffer) => (got += d.length));
  sock.on('error', () => {});
  return { sock, got: () => got };
}

/** Polls `cond` every `everyMs` until it is true; rejects after `timeoutMs` (an event wait, not a fixed sleep). */
export async function waitFor(
  cond: () => boolean,
  timeoutMs = 10_000,
  what = 'condition',
  everyMs = 10,
): Promise<void> {
  const end = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** An input that never sends a byte until it is closed: stream requests wait for its header. */
export async function silentInput(): Promise<Input> {
  let release: (() => void) | undefined;
  return {
    kind: 'url',
    name: 'silent',
    // eslint-disable-next-line require-yield -- an input that stays silent until it is closed
    chunks: (async function* () {
      await new Promise<void>((r) => {
        release = r;
      });
    })(),
    close: () => release?.(),
  };
}

/** A WebM header with one 64x64 VP8 track (number 1, ms timestamps): for tests that feed a LiveStream
 *  synthetic frames directly. */
export function vp8OnlyHeader(): MatroskaHeader {
  return {
    ebml: {
      docType: 'webm',
      docTypeVersion: 4,
      docTypeReadVersion: 2,
      ebmlVersion: 1,
      ebmlReadVersion: 1,
      ebmlMaxIdLength: 4,
      ebmlMaxSizeLength: 8,
    },
    info: { timestampScale: 1e6 },
    tracks: [
      { number: 1, uid: 1n, kind: 'video', type: 1, codecId: 'V_VP8', video: { pixelWidth: 64, pixelHeight: 64 } },
    ],
    segmentDataOffset: 0,
    segmentSize: -1,
  };
}
