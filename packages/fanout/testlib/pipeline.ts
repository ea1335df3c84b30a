// Test support: the whole path a server runs, in memory. Bytes -> MatroskaDemuxer (any chunking) ->
// LiveStream -> subscribers joining at chosen moments -> each subscriber's bytes, and a re-demux of
// those bytes with our demuxer (and, when installed, ffprobe) to check they parse cleanly.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MatroskaDemuxer } from '@mkvserve/ebml';
import type { Frame, MatroskaHeader } from '@mkvserve/ebml';
import { LiveStream } from '../src/index.js';
import { concat } from './helpers.js';
import type { JoinMode, LiveStreamOptions, Subscriber } from '../src/index.js';

export type DemuxEvent = { header: MatroskaHeader } | { frame: Frame };

export interface Demuxed {
  events: DemuxEvent[];
  headers: MatroskaHeader[];
  frames: Frame[];
  errors: string[];
}

/** Demuxes `bytes` pushed in pieces of the given sizes (cycled; default whole). Never throws. */
export function demuxBytes(bytes: Uint8Array, chunkSizes: readonly number[] = [bytes.length || 1]): Demuxed {
  const events: DemuxEvent[] = [];
  const headers: MatroskaHeader[] = [];
  const frames: Frame[] = [];
  const errors: string[] = [];
  const d = new MatroskaDemuxer({
    onHeader: (header) => {
      headers.push(header);
      events.push({ header });
    },
    onFrame: (frame) => {
      frames.push(frame);
      events.push({ frame });
    },
    onError: (e) => errors.push(`${e.code}: ${e.message}`),
  });
  try {
    let p = 0;
    let k = 0;
    while (p < bytes.length) {
      const n = Math.max(1, chunkSizes[k++ % chunkSizes.length]);
      d.push(bytes.subarray(p, p + n));
      p += n;
    }
    d.end();
  } catch (e) {
    errors.push(`THROWN: ${(e as Error).message}`);
  }
  return { events, headers, frames, errors };
}

export interface JoinPlan {
  /** Event index at which the subscriber joins (0 = before everything). */
  at: number;
  join?: JoinMode;
  rebase?: boolean;
  /** Bytes per pull (default unlimited). */
  pullBytes?: number;
  /** Pull only every this many events (default 1: after each event). */
  every?: number;
}

export interface SubscriberRun {
  plan: JoinPlan;
  sub: Subscriber;
  bytes: Uint8Array;
}

/**
 * Feeds demuxer events into a LiveStream (throws from it are recorded, not swallowed silently), with
 * subscribers joining and pulling per plan; the clock moves 10 ms per event. Drains everyone at the end.
 */
export function runLive(
  events: readonly DemuxEvent[],
  plans: readonly JoinPlan[],
  options: LiveStreamOptions = {},
): { stream: LiveStream; runs: SubscriberRun[]; thrown: string[] } {
  let now = 0;
  const stream = new LiveStream({ clock: () => now, ...options });
  const runs: { plan: JoinPlan; sub: Subscriber | undefined; parts: Uint8Array[] }[] = plans.map((plan) => ({
    plan,
    sub: undefined,
    parts: [],
  }));
  const thrown: string[] = [];
  let headerSeen = false;
  const pull = (r: (typeof runs)[number], all: boolean): void => {
    const sub = r.sub;
    if (!sub) return;
    for (let k = 0; k < (all ? 1e9 : 1); k++) {
      const parts = sub.pull(r.plan.pullBytes);
      if (parts === null || parts.length === 0) return;
      for (const p of parts) r.parts.push(p.slice()); // copies: what was sent must never change
    }
  };
  events.forEach((e, i) => {
    now += 10;
    for (const r of runs) if (r.sub === undefined && r.plan.at <= i && headerSeen) r.sub = subscribe(stream, r.plan);
    try {
      if ('header' in e) {
        stream.setHeader(e.header);
        headerSeen = true;
      } else if (headerSeen) stream.pushFrame(e.frame);
    } catch (err) {
      thrown.push(`event ${i}: ${(err as Error).message}`);
    }
    for (const r of runs) if (r.sub && i % (r.plan.every ?? 1) === 0) pull(r, r.plan.every === undefined);
  });
  if (headerSeen) {
    for (const r of runs) if (r.sub === undefined) r.sub = subscribe(stream, r.plan);
    stream.end();
  }
  for (const r of runs) pull(r, true);
  return {
    stream,
    thrown,
    runs: runs.filter((r) => r.sub !== undefined).map((r) => ({ plan: r.plan, sub: r.sub!, bytes: concat(r.parts) })),
  };
}

function subscribe(stream: LiveStream, plan: JoinPlan): Subscriber {
  return stream.subscribe({
    ...(plan.join !== undefined ? { join: plan.join } : {}),
    ...(plan.rebase !== undefined ? { rebase: plan.rebase } : {}),
  });
}

/** What a re-demux of one subscriber's bytes shows; `problems` is empty when they are clean. */
export interface OutputCheck {
  problems: string[];
  frames: number;
  headers: number;
}

/**
 * Re-demuxes a subscriber's bytes: no demuxer error, at most one EBML header (a Segment never changes
 * inside one response), every frame of a declared track, and the first frame of the primary video
 * track (if any) a keyframe. Empty output (a subscriber that got nothing) is fine.
 */
export function checkOutput(bytes: Uint8Array): OutputCheck {
  const problems: string[] = [];
  if (bytes.length === 0) return { problems, frames: 0, headers: 0 };
  const d = demuxBytes(bytes, [4096]);
  problems.push(...d.errors);
  if (d.headers.length !== 1) problems.push(`${d.headers.length} headers in one response`);
  const h = d.headers[0];
  if (h) {
    const numbers = h.tracks.map((t) => t.number);
    if (new Set(numbers).size !== numbers.length) problems.push(`duplicate track numbers ${numbers.join(',')}`);
    const video = h.tracks.filter((t) => t.kind === 'video').sort((a, b) => a.number - b.number)[0];
    const firstVideo = video ? d.frames.find((f) => f.track === video.number) : undefined;
    if (firstVideo && !firstVideo.keyframe) problems.push('the first video frame is not a keyframe');
    for (const f of d.frames) {
      if (!numbers.includes(f.track)) {
        problems.push(`frame of undeclared track ${f.track}`);
        break;
      }
    }
  }
  return { problems, frames: d.frames.length, headers: d.headers.length };
}

let ffprobeChecked: boolean | undefined;
export function hasFfprobe(): boolean {
  ffprobeChecked ??= spawnSync('ffprobe', ['-version']).status === 0;
  return ffprobeChecked;
}

/** Lines a codec or parser logs (`[vp8 @ 0x...] ...`, `[Vorbis parser @ 0x...]`, and ffmpeg's "Last
 *  message repeated" after them): about payload bytes, which the fanout passes through untouched. */
const CODEC_LINE = /^(\[(?!matroska)[^\]@]+ @ 0x[0-9a-f]+\]|\s+Last message repeated)/;

function run(cmd: string, args: string[]): { status: number | null; lines: string[] } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 30_000 });
  const lines = (r.stderr ?? '').split('\n').filter((l) => l.trim() !== '' && !CODEC_LINE.test(l));
  return { status: r.status, lines };
}

/**
 * ffprobe -v error reading every packet: its container-level errors (empty when clean). Lines a codec
 * logs while probing stream parameters are left out (fuzzed or synthetic payloads are not valid video).
 * ffprobe also refuses a stream whose decoder will not open (a CodecPrivate the fuzzer corrupted:
 * exit 1 with no container message); then ffmpeg's demuxer alone (`-c copy`) decides.
 */
export function ffprobeErrors(bytes: Uint8Array, name = 'out.mkv'): string {
  const dir = mkdtempSync(join(tmpdir(), 'fanout-probe-'));
  try {
    const file = join(dir, name);
    writeFileSync(file, bytes);
    let r = run('ffprobe', ['-v', 'error', '-show_entries', 'packet=pts', '-of', 'csv', file]);
    if (r.status !== 0 && r.lines.length === 0) {
      r = run('ffmpeg', ['-nostdin', '-v', 'error', '-i', file, '-map', '0', '-c', 'copy', '-f', 'null', '-']);
    }
    return r.lines.join('\n') + (r.status !== 0 ? ` (exit ${r.status})` : '');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
