// Helpers for the ingest tests: a server with push/TCP mounts and a log kept in memory, real source
// processes (ffmpeg, curl, gst-launch) as children, and a viewer that records a mount's stream.
import { spawn, spawnSync } from 'node:child_process';
import { connect, createServer } from 'node:net';
import type { Socket } from 'node:net';
import type { ChildProcess } from 'node:child_process';
import { MkvServer } from '../src/server.js';
import type { MountOptions } from '../src/server.js';
import type { ServerSettingsInput } from '../src/config.js';
import { createLogger } from '../src/log.js';
import type { MountStatus } from '../src/status.js';
import { FIX, get, waitFor } from './helpers.js';
import type { Capture } from './helpers.js';

export const hasCurl = spawnSync('curl', ['--version']).status === 0;
export const hasGstSoup = spawnSync('gst-inspect-1.0', ['souphttpclientsink']).status === 0;
export const TOKEN = 'push-s3cret-token';

export interface TestServer {
  server: MkvServer;
  port: number;
  /** Log lines so far (JSON). */
  lines: string[];
  events(name: string): Record<string, unknown>[];
  status(mount?: string): MountStatus;
  close(): Promise<void>;
}

export async function startServer(mounts: MountOptions[], settings: ServerSettingsInput = {}): Promise<TestServer> {
  const lines: string[] = [];
  const log = createLogger({ format: 'json', stream: { write: (l: string) => lines.push(l) } });
  const server = new MkvServer({ port: 0, checkIntervalMs: 100, ...settings, mounts, log });
  await server.start();
  return {
    server,
    port: server.port,
    lines,
    events: (name) => lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((e) => e['event'] === name),
    status: (mount) => {
      const st = server.status();
      return mount ? st.mounts.find((m) => m.name === mount)! : st.mounts[0];
    },
    close: () => server.stop(0),
  };
}

export interface Proc {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Runs a source process; its output is kept (stdout up to 1 MiB). */
export function proc(cmd: string, args: string[], timeoutMs = 60_000): Proc {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  let out = '';
  child.stderr.on('data', (d) => (err += d));
  child.stdout.on('data', (d) => {
    if (out.length < 1 << 20) out += d;
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal });
    }),
  );
  return { child, stdout: () => out, stderr: () => err, exit };
}

/** ffmpeg copying a fixture (or an absolute path) to `out` (a URL), looped forever when `loop`, in real
 *  time when `re`. */
export function ffmpegPush(
  out: string,
  o: {
    file?: string;
    loop?: boolean;
    re?: boolean;
    format?: 'matroska' | 'webm';
    extra?: string[];
    timeoutMs?: number;
  } = {},
): Proc {
  const args = ['-nostdin', '-v', 'error'];
  if (o.re ?? true) args.push('-re');
  if (o.loop) args.push('-stream_loop', '-1');
  const file = o.file ?? 'vp9-opus.webm';
  args.push(
    '-i',
    file.startsWith('/') ? file : FIX(file),
    '-c',
    'copy',
    ...(o.extra ?? []),
    '-f',
    o.format ?? 'matroska',
  );
  args.push(out);
  return proc('ffmpeg', args, o.timeoutMs);
}

/** A viewer of /<mount> until the server ends the response (or `ms`). */
export function view(port: number, mount: string, ms = 30_000): Promise<Capture> {
  return get(port, `/${mount}`, ms);
}

/** Waits for a log event (optionally matching `pred`). */
export async function waitEvent(
  s: TestServer,
  name: string,
  pred: (e: Record<string, unknown>) => boolean = () => true,
  ms = 15_000,
): Promise<Record<string, unknown>> {
  let found: Record<string, unknown> | undefined;
  await waitFor(
    () => {
      found = s.events(name).find(pred);
      return found !== undefined;
    },
    ms,
    `log event ${name}`,
  );
  return found!;
}

/**
 * A Matroska file at a high bitrate (MPEG-4 part 2 with noise, ~18 Mbit/s, and Opus; 25 fps, a keyframe
 * a second) made with ffmpeg: a source that runs ahead of real time is held back by the server's pacing,
 * and what the kernel buffers meanwhile drains in about a second (at a low bitrate it would take minutes).
 */
export async function makeHighBitrate(path: string, seconds = 6): Promise<void> {
  const p = proc('ffmpeg', [
    '-nostdin',
    '-v',
    'error',
    '-y',
    '-f',
    'lavfi',
    '-i',
    'testsrc2=size=640x360:rate=25',
    '-f',
    'lavfi',
    '-i',
    'sine=frequency=440:sample_rate=48000',
    '-t',
    String(seconds),
    '-vf',
    'noise=alls=20:allf=t',
    '-c:v',
    'mpeg4',
    '-q:v',
    '5',
    '-g',
    '25',
    '-c:a',
    'libopus',
    '-b:a',
    '64k',
    '-f',
    'matroska',
    path,
  ]);
  const r = await p.exit;
  if (r.code !== 0) throw new Error(`ffmpeg could not make ${path}: ${p.stderr()}`);
}

/** A TCP relay in front of a server port that ends each connection inside the source's last write. */
export interface CutRelay {
  port: number;
  close(): Promise<void>;
}

/**
 * Relays a source's connection to `targetPort`, holding back the last `hold` bytes it received until
 * more come; when the source goes away, the held bytes are dropped and the server's side is ended. Why:
 * ffmpeg's writes end at packet and Cluster boundaries, so a SIGKILL alone cuts between two elements in
 * about 40 % of the runs here; with the tail held back the cut is always `hold` bytes before the end of
 * ffmpeg's last write, inside the element it was writing (its packets are larger than `hold`). The first
 * `passFirst` bytes go through at once (an HTTP client may wait for an answer to its head). Both
 * directions keep backpressure.
 */
export async function cutRelay(targetPort: number, hold = 100, passFirst = 65_536): Promise<CutRelay> {
  const sockets = new Set<Socket>();
  const server = createServer((source) => {
    const target = connect(targetPort, '127.0.0.1');
    sockets.add(source).add(target);
    let held: Buffer = Buffer.alloc(0);
    let seen = 0;
    source.on('data', (d: Buffer) => {
      held = held.length === 0 ? d : Buffer.concat([held, d]);
      seen += d.length;
      const keep = seen <= passFirst ? 0 : hold;
      if (held.length <= keep) return;
      const out = held.subarray(0, held.length - keep);
      held = Buffer.from(held.subarray(held.length - keep));
      if (!target.write(out)) {
        source.pause();
        target.once('drain', () => source.resume());
      }
    });
    source.on('close', () => target.end());
    source.on('error', () => target.end());
    target.on('error', () => source.destroy());
    target.on('close', () => source.destroy());
    target.pipe(source);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  return {
    port: typeof addr === 'object' && addr ? addr.port : 0,
    close: () =>
      new Promise<void>((resolve) => {
        for (const x of sockets) x.destroy();
        server.close(() => resolve());
      }),
  };
}
