// `mkvserve inspect`: the element tree of a Matroska/WebM input (like mkvinfo, values shown by their
// meaning, Clusters collapsed; --json streams the raw tree as JSON), a --summary (tracks, duration, frames,
// bitrate) or the --frames. Input damage is reported on stderr with byte offsets while reading goes on;
// exit 0 clean, 2 damaged, 1 unreadable / not Matroska. The tree is inspect-tree.ts, values
// inspect-format.ts, output and the input pump inspect-io.ts.
import { MatroskaDemuxer } from '@mkvserve/ebml';
import type { EbmlError, Frame, MatroskaHeader, TrackInfo, CuePoint, Edition, Tag, Attachment } from '@mkvserve/ebml';
import { openInput, InputError } from '../inputs/open.js';
import type { Input } from '../inputs/open.js';
import { EXIT_DAMAGED, EXIT_ERROR, EXIT_OK, Output, pump, reportError } from './inspect-io.js';
import type { Ctx } from './inspect-io.js';
import { formatTime } from './inspect-format.js';
import { runTree } from './inspect-tree.js';

export { EXIT_DAMAGED, EXIT_ERROR, EXIT_OK, Output, waitDrain } from './inspect-io.js';
export { formatTime } from './inspect-format.js';

export interface InspectOptions {
  input: string;
  offsets?: boolean;
  json?: boolean;
  summary?: boolean;
  frames?: boolean;
  /** Tree: expand Clusters, one line per block (default: one summary line per run of similar Clusters). */
  blocks?: boolean;
  /** Tree: one summary line per Cluster. */
  clusters?: boolean;
  /** Tree: list every cue point (default: one line for the Cues). */
  cues?: boolean;
  /** Tree: expand everything (blocks, cue points, seek entries). */
  all?: boolean;
  /** Stop after N frames (blocks in tree mode). */
  maxFrames?: number;
  /** Stop after this many seconds of media time. */
  duration?: number;
  /** Output stream (default process.stdout), error stream (default process.stderr): for tests. */
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
}

export async function runInspect(opts: InspectOptions): Promise<number> {
  const out = new Output(opts.stdout ?? process.stdout);
  const err = new Output(opts.stderr ?? process.stderr);
  const ctx: Ctx = { out, err, errors: [], printedErrors: 0, notMatroska: undefined, stop: false };
  let input: Input;
  try {
    input = await openInput(opts.input);
  } catch (e) {
    err.write(`mkvserve: ${e instanceof Error ? e.message : String(e)}\n`);
    await err.end();
    return EXIT_ERROR;
  }
  let finishOutput: () => void = () => {};
  try {
    if (opts.summary) {
      finishOutput = await runSummary(input, ctx, opts);
    } else if (opts.frames) {
      await runFrames(input, ctx, opts);
    } else {
      finishOutput = await runTree(input, ctx, opts);
    }
  } catch (e) {
    input.close();
    if (e instanceof InputError || !(e instanceof Error) || !('code' in e)) {
      // Input failure (HTTP, read error) or a bug: one clear line.
      err.write(`mkvserve: ${e instanceof Error ? e.message : String(e)}\n`);
      await out.flush();
      await err.end();
      return EXIT_ERROR;
    }
    reportError(ctx, e as EbmlError);
  }
  input.close();
  if (ctx.notMatroska !== undefined) {
    await out.flush();
    err.write(`mkvserve: ${ctx.notMatroska}\n`);
    await err.end();
    return EXIT_ERROR;
  }
  finishOutput();
  if (ctx.errors.length > ctx.printedErrors) {
    err.write(`mkvserve: ... ${ctx.errors.length - ctx.printedErrors} more errors not shown\n`);
  }
  if (ctx.errors.length > 0) {
    err.write(
      `mkvserve: ${input.name}: ${ctx.errors.length} problem${ctx.errors.length === 1 ? '' : 's'} found in the input (damaged); shown what could be recovered\n`,
    );
  }
  await out.end();
  await err.end();
  if (out.error) {
    process.stderr.write(`mkvserve: cannot write output: ${out.error.message}\n`);
    return EXIT_ERROR;
  }
  return ctx.errors.length > 0 ? EXIT_DAMAGED : EXIT_OK;
}

// ---------------------------------------------------------------------------------------------
// Frames

function frameLimiter(opts: InspectOptions, ctx: Ctx): (f: Frame) => boolean {
  let count = 0;
  let first: number | undefined;
  const limitNs = opts.duration !== undefined ? opts.duration * 1e9 : undefined;
  return (f) => {
    if (ctx.stop) return false;
    if (opts.maxFrames !== undefined && count >= opts.maxFrames) {
      ctx.stop = true;
      return false;
    }
    first ??= f.timestamp;
    if (limitNs !== undefined && f.timestamp - first >= limitNs) {
      ctx.stop = true;
      return false;
    }
    count++;
    if (opts.maxFrames !== undefined && count >= opts.maxFrames) ctx.stop = true;
    return true;
  };
}

async function runFrames(input: Input, ctx: Ctx, opts: InspectOptions): Promise<void> {
  const out = ctx.out;
  const accept = frameLimiter(opts, ctx);
  const demuxer = new MatroskaDemuxer(
    {
      onFrame(f) {
        if (!accept(f)) return;
        const ts = Math.round(f.timestamp);
        if (opts.json) {
          let line = `{"track":${f.track},"timestamp":${ts},"keyframe":${f.keyframe},"size":${f.data.byteLength}`;
          if (f.duration !== undefined) line += `,"duration":${Math.round(f.duration)}`;
          if (f.offset !== undefined) line += `,"offset":${f.offset}`;
          out.write(line + '}\n');
        } else {
          const off = opts.offsets && f.offset !== undefined ? ` @${f.offset}` : '';
          out.write(`track ${f.track} ${formatTime(ts)} ${f.keyframe ? 'key' : '   '} ${f.data.byteLength}${off}\n`);
        }
      },
      onError(e) {
        reportError(ctx, e);
      },
    },
    { reader: { verifyCrc: true } },
  );
  await pump(
    input,
    ctx,
    (c) => demuxer.push(c),
    () => demuxer.end(),
  );
}

// ---------------------------------------------------------------------------------------------
// Summary

interface TrackStats {
  frames: number;
  keyframes: number;
  bytes: number;
  first?: number;
  last?: number;
  end?: number;
}

async function runSummary(input: Input, ctx: Ctx, opts: InspectOptions): Promise<() => void> {
  let header: MatroskaHeader | undefined;
  const stats = new Map<number, TrackStats>();
  let cues: CuePoint[] = [];
  let chapters: Edition[] = [];
  let tags: Tag[] = [];
  let attachments: Attachment[] = [];
  let bytesRead = 0;
  let clusters = 0;
  const accept = frameLimiter(opts, ctx);
  const demuxer = new MatroskaDemuxer(
    {
      onHeader(h) {
        header = h;
      },
      onFrame(f) {
        if (!accept(f)) return;
        let s = stats.get(f.track);
        if (!s) stats.set(f.track, (s = { frames: 0, keyframes: 0, bytes: 0 }));
        s.frames++;
        if (f.keyframe) s.keyframes++;
        s.bytes += f.data.byteLength;
        if (s.first === undefined || f.timestamp < s.first) s.first = f.timestamp;
        if (s.last === undefined || f.timestamp > s.last) s.last = f.timestamp;
        const end = f.timestamp + (f.duration ?? 0);
        if (s.end === undefined || end > s.end) s.end = end;
      },
      onClusterStart() {
        clusters++;
      },
      onCues(c) {
        cues = cues.concat(c);
      },
      onChapters(e) {
        chapters = chapters.concat(e);
      },
      onTags(t) {
        tags = tags.concat(t);
      },
      onAttachments(a) {
        attachments = attachments.concat(a);
      },
      onError(e) {
        reportError(ctx, e);
      },
    },
    { reader: { verifyCrc: true } },
  );
  await pump(
    input,
    ctx,
    (c) => {
      bytesRead += c.byteLength;
      demuxer.push(c);
    },
    () => demuxer.end(),
  );

  return () => {
    const out = ctx.out;
    if (!header) {
      if (opts.json)
        out.write(
          JSON.stringify({ input: input.name, bytes: bytesRead, tracks: [], errors: ctx.errors.length }) + '\n',
        );
      else out.write(`${input.name}: no Matroska header found\n`);
      return;
    }
    let minTs = Infinity;
    let maxEnd = -Infinity;
    for (const s of stats.values()) {
      if (s.first !== undefined) minTs = Math.min(minTs, s.first);
      if (s.end !== undefined) maxEnd = Math.max(maxEnd, s.end);
    }
    const measured = Number.isFinite(minTs) && Number.isFinite(maxEnd) ? maxEnd - minTs : undefined;
    const duration = header.info.duration ?? measured;
    const durationSource = header.info.duration !== undefined ? 'info' : measured !== undefined ? 'frames' : 'none';
    const secs = duration !== undefined && duration > 0 ? duration / 1e9 : undefined;
    const size = input.size ?? bytesRead;
    const bitrate = secs ? Math.round((size * 8) / secs) : undefined;
    const tracks = header.tracks.map((t) => trackSummary(t, stats.get(t.number), secs));
    if (opts.json) {
      const obj = {
        input: input.name,
        bytes: size,
        docType: header.ebml.docType,
        docTypeVersion: header.ebml.docTypeVersion,
        muxingApp: header.info.muxingApp,
        writingApp: header.info.writingApp,
        title: header.info.title,
        timestampScale: header.info.timestampScale,
        live: header.segmentSize < 0,
        duration: duration !== undefined ? Math.round(duration) : null,
        durationSource,
        bitrate: bitrate ?? null,
        clusters,
        cuePoints: cues.length,
        chapters: chapters.reduce((n, e) => n + countAtoms(e.chapters), 0),
        editions: chapters.length,
        tags: tags.length,
        attachments: attachments.map((a) => ({ name: a.name, mediaType: a.mediaType, size: a.data.byteLength })),
        tracks,
        errors: ctx.errors.length,
      };
      out.write(JSON.stringify(obj, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)) + '\n');
      return;
    }
    const lines: string[] = [];
    lines.push(`Input:      ${input.name} (${size} bytes)`);
    lines.push(
      `Container:  ${header.ebml.docType} v${header.ebml.docTypeVersion}${header.segmentSize < 0 ? ', live (unknown-size Segment)' : ''}`,
    );
    if (header.info.title) lines.push(`Title:      ${header.info.title}`);
    if (header.info.muxingApp || header.info.writingApp)
      lines.push(`Written by: ${[header.info.muxingApp, header.info.writingApp].filter(Boolean).join(' / ')}`);
    lines.push(
      `Duration:   ${duration !== undefined ? formatTime(duration) : 'unknown'}${durationSource === 'frames' ? ' (measured from the frames)' : ''}`,
    );
    lines.push(`Bitrate:    ${bitrate !== undefined ? `${(bitrate / 1000).toFixed(1)} kb/s` : 'unknown'}`);
    lines.push(
      `Clusters:   ${clusters}, cue points: ${cues.length}, chapters: ${chapters.reduce((n, e) => n + countAtoms(e.chapters), 0)}, tags: ${tags.length}, attachments: ${attachments.length}`,
    );
    lines.push(`Tracks:     ${tracks.length}`);
    for (const t of tracks) {
      const parts: string[] = [`  #${t.number} ${t.kind} ${t.codecId}`];
      if (t.width !== undefined) parts.push(`${t.width}x${t.height}`);
      if (t.fps !== undefined) parts.push(`${t.fps} fps`);
      if (t.sampleRate !== undefined) parts.push(`${t.sampleRate} Hz ${t.channels} ch`);
      if (t.language) parts.push(`lang ${t.language}`);
      if (t.name) parts.push(JSON.stringify(t.name));
      if (t.encrypted) parts.push('encrypted');
      lines.push(parts.join(', '));
      lines.push(
        `      ${t.frames} frames (${t.keyframes} keyframes), ${t.bytes} bytes${t.bitrate !== null ? `, ${(t.bitrate / 1000).toFixed(1)} kb/s` : ''}${t.firstTimestamp !== null ? `, ${formatTime(t.firstTimestamp)} .. ${formatTime(t.lastTimestamp!)}` : ''}`,
      );
    }
    out.write(lines.join('\n') + '\n');
  };
}

function countAtoms(atoms: { children: unknown[] }[]): number {
  let n = 0;
  for (const a of atoms) n += 1 + countAtoms(a.children as { children: unknown[] }[]);
  return n;
}

function trackSummary(t: TrackInfo, s: TrackStats | undefined, secs: number | undefined) {
  const fps = t.defaultDuration && t.kind === 'video' ? Math.round((1e9 / t.defaultDuration) * 1000) / 1000 : undefined;
  return {
    number: t.number,
    kind: t.kind,
    codecId: t.codecId,
    ...(t.codecName ? { codecName: t.codecName } : {}),
    ...(t.name ? { name: t.name } : {}),
    ...(t.language ? { language: t.language } : {}),
    ...(t.video ? { width: t.video.pixelWidth, height: t.video.pixelHeight } : {}),
    ...(fps !== undefined ? { fps } : {}),
    ...(t.audio ? { sampleRate: t.audio.samplingFrequency, channels: t.audio.channels } : {}),
    ...(t.encrypted ? { encrypted: true } : {}),
    frames: s?.frames ?? 0,
    keyframes: s?.keyframes ?? 0,
    bytes: s?.bytes ?? 0,
    firstTimestamp: s?.first !== undefined ? Math.round(s.first) : null,
    lastTimestamp: s?.last !== undefined ? Math.round(s.last) : null,
    bitrate: secs && s ? Math.round((s.bytes * 8) / secs) : null,
  };
}
