// The element tree of `mkvserve inspect` (the default mode), read as a stream so that huge files and live
// inputs work. Text: one line per element with values shown by their meaning (inspect-format.ts); what
// repeats is collapsed so a file reads in a screenful like mkvinfo: Clusters to one summary line per run
// of similar Clusters (--clusters: one per Cluster, --blocks: every block), Cues to one line (--cues),
// a SeekHead to one line of targets (--all expands everything). --json: the whole tree, raw and stable,
// written while reading (never held in memory).
import { EbmlReader, parseBlock, readBlockHeader } from '@mkvserve/ebml';
import type { EbmlValue, ElementHeader } from '@mkvserve/ebml';
import { ELEMENT_BY_ID, Id } from '@mkvserve/ebml/schema';
import type { Input } from '../inputs/open.js';
import type { Ctx } from './inspect-io.js';
import { pump, reportError } from './inspect-io.js';
import {
  dateIso,
  formatBytes,
  formatSpan,
  formatTime,
  hexBytes,
  idHex,
  showValue,
  sizeText,
} from './inspect-format.js';
import type { FormatContext } from './inspect-format.js';

export interface TreeOptions {
  json?: boolean;
  offsets?: boolean;
  /** Expand Clusters: every block (and the other children). */
  blocks?: boolean;
  /** One summary line per Cluster instead of per run of similar Clusters. */
  clusters?: boolean;
  /** Expand Cues: every cue point. */
  cues?: boolean;
  /** Expand everything: every block, cue point and seek entry. */
  all?: boolean;
  /** Stop after N blocks. */
  maxFrames?: number;
  /** Stop after this many seconds of media time. */
  duration?: number;
}

const LACING_NAMES = ['none', 'xiph', 'fixed', 'ebml'];
/** Binaries larger than this are not buffered in tree mode (big frames, attachments). */
const STREAM_BINARIES = 4 << 20;
/** A run of similar Clusters is printed once it spans this much media time (a long film: a line per 10 min). */
const RUN_MAX_SPAN_NS = 600e9;
/** From a pipe or URL, a run is also printed once it took this long to read, so a live input shows progress. */
const RUN_MAX_WALL_MS = 2000;

interface BlockSummary {
  track: number;
  timestamp: number;
  keyframe?: boolean;
  lacing: string;
  frames: number[];
}

/** Blocks of one track in a Cluster or a run of Clusters. */
interface TrackCount {
  blocks: number;
  frames: number;
  keyframes: number;
}

/** One collapsed Cluster, counted while its children go by. */
interface ClusterStat {
  el: ElementHeader;
  /** 1-based position among the Clusters of the input. */
  index: number;
  timestamp: number | undefined;
  tracks: Map<number, TrackCount>;
  /** Tracks whose first block in the Cluster is not a keyframe. */
  notOnKey: Set<number>;
  minTs: number;
  maxTs: number;
  /** The BlockGroup being read: its Block, and whether a ReferenceBlock says it is not a keyframe. */
  group: { block?: BlockSummary; frames: number; referenced: boolean } | undefined;
  /** An error was reported while the Cluster was read. */
  damaged: boolean;
}

/** Similar consecutive Clusters (same tracks, undamaged), printed as one line. */
interface ClusterRun {
  first: ClusterStat;
  count: number;
  bytes: number;
  shape: string;
  /** When the run started (wall clock, ms). */
  started: number;
  /** Clusters whose first block of every track is a keyframe. */
  onKey: number;
  /** Per track: the Clusters in which its first block is not a keyframe. */
  notOnKey: Map<number, number>;
  tracks: Map<number, TrackCount>;
  minTs: number;
  maxTs: number;
  /** Start time of the last Cluster (for the spacing of Clusters in the run). */
  lastStart: number;
  damaged: boolean;
}

/** A collapsed Cues element. */
interface CuesStat {
  el: ElementHeader;
  points: number;
  minTicks: number;
  maxTicks: number;
  tracks: Set<number>;
}

/** A collapsed SeekHead: the elements it points to, with their Segment Positions. */
interface SeekStat {
  el: ElementHeader;
  entries: { id?: number; position?: number }[];
}

/** A value for the JSON tree: 64-bit integers beyond 2^53 as strings, binaries as {binary, hex}, dates ISO. */
function jsonValue(type: string | undefined, v: EbmlValue): unknown {
  if (typeof v === 'bigint') return type === 'date' ? dateIso(v) : v.toString();
  if (typeof v === 'number') return Number.isFinite(v) ? v : String(v);
  if (typeof v === 'string') return v;
  return { binary: v.byteLength, hex: hexBytes(v) };
}

function addCount(into: Map<number, TrackCount>, track: number, c: TrackCount): void {
  const t = into.get(track);
  if (t) {
    t.blocks += c.blocks;
    t.frames += c.frames;
    t.keyframes += c.keyframes;
  } else into.set(track, { ...c });
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** Reads the input and prints its element tree; returns what prints the end of the output. */
export async function runTree(input: Input, ctx: Ctx, opts: TreeOptions): Promise<() => void> {
  const json = !!opts.json;
  // JSON is always the whole tree; the text collapses Clusters and Cues unless asked not to.
  const collapseClusters = !json && !opts.blocks && !opts.all;
  const collapseCues = !json && !opts.cues && !opts.all;
  const collapseSeeks = !json && !opts.all;
  const out = ctx.out;
  const fmt: FormatContext = { timestampScale: 1_000_000, segmentDataOffset: undefined };
  let clusterTicks = 0;
  let firstTs: number | undefined;
  let blocks = 0;
  const limitNs = opts.duration !== undefined ? opts.duration * 1e9 : undefined;
  // JSON: the stack of open masters and whether each already has a child (for commas).
  const open: { el: ElementHeader; hasChild: boolean }[] = [];
  let topHasChild = false;
  let stoppedEarly = false;
  // Collapsed output: the Cluster or Cues being counted, the run waiting to be printed, what was collapsed.
  let cluster: ClusterStat | undefined;
  let clusterCount = 0;
  let run: ClusterRun | undefined;
  let runLines = 0;
  let cues: CuesStat | undefined;
  let cuePoints = 0;
  let seek: SeekStat | undefined;
  let seekEntries = 0;
  let damagedClusters = 0;

  const blockInfo = (el: ElementHeader, data: Uint8Array): BlockSummary | undefined => {
    try {
      const b = parseBlock(data, el.id === Id.SimpleBlock);
      return {
        track: b.track,
        timestamp: (clusterTicks + b.relTimestamp) * fmt.timestampScale,
        ...(el.id === Id.SimpleBlock ? { keyframe: b.keyframe } : {}),
        lacing: b.lacing,
        frames: b.frames.map((f) => f.byteLength),
      };
    } catch {
      // A damaged block: shown as a plain binary.
      return undefined;
    }
  };

  /** --duration: true (and reading stops) for the first block at or past the limit, which is left out. */
  const pastLimit = (b: BlockSummary | undefined): boolean => {
    if (!b || limitNs === undefined) return false;
    firstTs ??= b.timestamp;
    if (b.timestamp - firstTs < limitNs) return false;
    ctx.stop = true;
    stoppedEarly = true;
    return true;
  };

  /** --max-frames: the Nth block is the last. */
  const countBlock = (): void => {
    blocks++;
    if (opts.maxFrames !== undefined && blocks >= opts.maxFrames) {
      ctx.stop = true;
      stoppedEarly = true;
    }
  };

  // ---- collapsed Clusters

  /** Counts one block of the Cluster being read (a SimpleBlock, or a BlockGroup when it ends). */
  const clusterBlock = (c: ClusterStat, b: BlockSummary, frames: number, keyframe: boolean): void => {
    const seen = c.tracks.has(b.track);
    addCount(c.tracks, b.track, { blocks: 1, frames, keyframes: keyframe ? 1 : 0 });
    if (!seen && !keyframe) c.notOnKey.add(b.track);
    c.minTs = Math.min(c.minTs, b.timestamp);
    c.maxTs = Math.max(c.maxTs, b.timestamp);
  };

  const trackText = (tracks: Map<number, TrackCount>): string =>
    [...tracks.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([n, t]) => {
        const inner = t.frames !== t.blocks ? `${plural(t.frames, 'frame')}, ${t.keyframes} key` : `${t.keyframes} key`;
        return `track ${n}: ${plural(t.blocks, 'block')} (${inner})`;
      })
      .join(', ');

  const flushRun = (): void => {
    const r = run;
    if (!r) return;
    run = undefined;
    runLines++;
    const el = r.first.el;
    const id = idHex(Id.Cluster);
    let head: string;
    if (r.count === 1) {
      const where = opts.offsets ? ` @${el.offset} header ${el.headerSize} data @${el.dataOffset}` : '';
      head = `Cluster ${r.first.index} (${id}) ${sizeText(el.size, true)}${where}`;
    } else {
      const where = opts.offsets ? ` @${el.offset}` : '';
      head = `Clusters ${r.first.index}-${r.first.index + r.count - 1} (${id}) ${formatBytes(r.bytes)}${where}`;
    }
    let body: string;
    if (r.tracks.size === 0) {
      const ts = r.first.timestamp;
      body = `${ts !== undefined ? formatTime(ts * fmt.timestampScale) + ', ' : ''}no blocks`;
    } else {
      body = `${formatTime(r.minTs)} - ${formatTime(r.maxTs)}, ${trackText(r.tracks)}`;
      if (r.count > 1)
        body += `, a cluster every ${formatSpan(Math.round((r.lastStart - r.first.minTs) / (r.count - 1) / 1e6) * 1e6)}`;
      const notOnKey = [...r.notOnKey].sort((a, b) => a[0] - b[0]);
      if (notOnKey.length === 0) body += r.count > 1 ? ', each starts on a keyframe' : ', starts on a keyframe';
      else if (r.count === 1)
        body += `, track${notOnKey.length > 1 ? 's' : ''} ${notOnKey.map((x) => x[0]).join(', ')} ${notOnKey.length > 1 ? 'start' : 'starts'} without a keyframe`;
      else
        body += `, ${r.onKey} of ${r.count} start on a keyframe (${notOnKey.map(([n, k], i) => `${i === 0 ? 'track ' : ''}${n} not in ${k}`).join(', ')})`;
    }
    if (r.damaged) body += ', damaged (see the errors)';
    out.write(`${'  '.repeat(el.depth)}${head}: ${body}\n`);
  };

  const endCluster = (c: ClusterStat, endOffset: number, closedEarly: boolean): void => {
    cluster = undefined;
    const damaged = closedEarly || c.damaged;
    const tracks = [...c.tracks.keys()].sort((a, b) => a - b);
    if (damaged) damagedClusters++;
    // Damaged clusters stand alone; others join a run with the same tracks.
    const shape = damaged ? `damaged ${damagedClusters}` : tracks.length === 0 ? 'empty' : tracks.join(',');
    const bytes = endOffset - c.el.offset;
    const r = run;
    if (
      r &&
      !opts.clusters &&
      r.shape === shape &&
      r.first.index + r.count === c.index &&
      (tracks.length === 0 || c.minTs - r.first.minTs < RUN_MAX_SPAN_NS) &&
      (input.kind === 'file' || Date.now() - r.started < RUN_MAX_WALL_MS)
    ) {
      r.count++;
      if (c.notOnKey.size === 0) r.onKey++;
      for (const n of c.notOnKey) r.notOnKey.set(n, (r.notOnKey.get(n) ?? 0) + 1);
      r.bytes += bytes;
      for (const [n, t] of c.tracks) addCount(r.tracks, n, t);
      r.minTs = Math.min(r.minTs, c.minTs);
      r.maxTs = Math.max(r.maxTs, c.maxTs);
      r.lastStart = c.minTs;
      return;
    }
    flushRun();
    run = {
      first: c,
      count: 1,
      bytes,
      shape,
      started: Date.now(),
      onKey: c.notOnKey.size === 0 ? 1 : 0,
      notOnKey: new Map([...c.notOnKey].map((n) => [n, 1])),
      tracks: new Map([...c.tracks].map(([n, t]) => [n, { ...t }])),
      minTs: c.minTs,
      maxTs: c.maxTs,
      lastStart: c.minTs,
      damaged,
    };
  };

  /** Ends the open BlockGroup of a collapsed Cluster: a Block without ReferenceBlock is a keyframe. */
  const endGroup = (c: ClusterStat): void => {
    const g = c.group;
    c.group = undefined;
    if (g?.block) clusterBlock(c, g.block, g.frames, !g.referenced);
  };

  // ---- collapsed Cues

  const endCues = (): void => {
    const c = cues;
    if (!c) return;
    cues = undefined;
    const range =
      c.points > 0
        ? `, ${formatTime(c.minTicks * fmt.timestampScale)} - ${formatTime(c.maxTicks * fmt.timestampScale)}`
        : '';
    const tracks = c.tracks.size > 0 ? `, track${c.tracks.size > 1 ? 's' : ''} ${[...c.tracks].join(', ')}` : '';
    writeLine(c.el, `: ${plural(c.points, 'cue point')}${range}${tracks}`, true);
  };

  // ---- collapsed SeekHead

  const endSeek = (): void => {
    const k = seek;
    if (!k) return;
    seek = undefined;
    seekEntries += k.entries.length;
    const base = fmt.segmentDataOffset;
    const targets = k.entries.map((e) => {
      const name = e.id === undefined ? '?' : (ELEMENT_BY_ID.get(e.id)?.name ?? idHex(e.id));
      if (e.position === undefined) return name;
      return base !== undefined ? `${name} at byte ${base + e.position}` : `${name} at Segment position ${e.position}`;
    });
    writeLine(k.el, `: ${targets.length > 0 ? targets.join(', ') : 'no entries'}`, true);
  };

  // ---- lines

  const closeUntil = (parent: ElementHeader | undefined): void => {
    if (!json) return;
    while (open.length > 0 && open[open.length - 1].el !== parent) {
      open.pop();
      out.write(']}');
    }
  };

  const jsonStart = (el: ElementHeader): void => {
    closeUntil(el.parent);
    const top = open[open.length - 1];
    const first = top ? !top.hasChild : !topHasChild;
    if (top) top.hasChild = true;
    else topHasChild = true;
    out.write(`${first ? '' : ','}\n${'  '.repeat(open.length + 1)}`);
    out.write(
      `{"id":"${idHex(el.id)}","name":${JSON.stringify(el.info?.name ?? 'Unknown')},"offset":${el.offset},"headerSize":${el.headerSize},"size":${el.size < 0 ? 'null' : el.size}`,
    );
  };

  /** One text line; a Cluster run waiting to be printed comes first (anything printed is after it). */
  function writeLine(el: ElementHeader, rest: string, humanSize: boolean): void {
    flushRun();
    const name = el.info?.name ?? 'Unknown';
    const where = opts.offsets ? ` @${el.offset} header ${el.headerSize} data @${el.dataOffset}` : '';
    out.write(`${'  '.repeat(el.depth)}${name} (${idHex(el.id)}) ${sizeText(el.size, humanSize)}${where}${rest}\n`);
  }

  const blockText = (b: BlockSummary | undefined): string => {
    if (!b) return '';
    const sizes = b.frames.length > 8 ? b.frames.slice(0, 8).join(',') + ',...' : b.frames.join(',');
    return `: track ${b.track}, ${formatTime(b.timestamp)}${b.keyframe ? ', keyframe' : ''}${b.lacing !== 'none' ? `, ${b.lacing} lacing` : ''}, ${plural(b.frames.length, 'frame')} (${sizes})`;
  };

  /** True when `el` is inside the collapsed Cluster or Cues: counted, not printed. */
  const hidden = (el: ElementHeader): boolean =>
    (cluster !== undefined && el !== cluster.el) ||
    (cues !== undefined && el !== cues.el) ||
    (seek !== undefined && el !== seek.el);

  const onBlock = (el: ElementHeader, block: BlockSummary | undefined): void => {
    const c = cluster;
    if (c && block) {
      if (el.id === Id.SimpleBlock) clusterBlock(c, block, Math.max(1, block.frames.length), !!block.keyframe);
      else if (c.group) {
        c.group.block = block;
        c.group.frames = Math.max(1, block.frames.length);
      }
    }
    countBlock();
  };

  const reader = new EbmlReader(
    {
      onMasterStart(el) {
        if (ctx.stop) return false;
        if (el.id === Id.Segment) fmt.segmentDataOffset = el.dataOffset;
        if (el.id === Id.Cluster) {
          clusterTicks = 0;
          clusterCount++;
          if (cluster) endCluster(cluster, el.offset, true);
          if (collapseClusters) {
            cluster = {
              el,
              index: clusterCount,
              timestamp: undefined,
              tracks: new Map(),
              notOnKey: new Set(),
              minTs: Infinity,
              maxTs: -Infinity,
              group: undefined,
              damaged: false,
            };
            return true;
          }
        }
        if (cluster && el.id === Id.BlockGroup) cluster.group = { frames: 1, referenced: false };
        if (cues && el.id === Id.CuePoint) cues.points++;
        if (seek && el.id === Id.Seek) seek.entries.push({});
        if (json) {
          jsonStart(el);
          out.write(',"children":[');
          open.push({ el, hasChild: false });
          return true;
        }
        if (hidden(el)) return true;
        if (el.id === Id.Cues && collapseCues) {
          cues = { el, points: 0, minTicks: Infinity, maxTicks: -Infinity, tracks: new Set() };
          return true;
        }
        if (el.id === Id.SeekHead && collapseSeeks) {
          seek = { el, entries: [] };
          return true;
        }
        writeLine(el, '', true);
        return true;
      },
      onMasterEnd(el, endOffset, damaged) {
        if (cluster) {
          if (el === cluster.el) endCluster(cluster, endOffset, damaged);
          else if (el.id === Id.BlockGroup) endGroup(cluster);
        }
        if (cues && el === cues.el) {
          cuePoints += cues.points;
          endCues();
        }
        if (seek && el === seek.el) endSeek();
        if (!json) return;
        const i = open.findIndex((o) => o.el === el);
        if (i < 0) return;
        while (open.length > i) {
          open.pop();
          out.write(']}');
        }
      },
      onValue(el, value) {
        if (ctx.stop) return;
        const info = el.info;
        if (el.id === Id.Timestamp && el.parent?.id === Id.Cluster && typeof value === 'number') {
          clusterTicks = value;
          if (cluster) cluster.timestamp = value;
        }
        if (el.id === Id.TimestampScale && typeof value === 'number' && value > 0) fmt.timestampScale = value;
        if (cluster?.group && el.id === Id.ReferenceBlock) cluster.group.referenced = true;
        if (cues) {
          if (el.id === Id.CueTime && typeof value === 'number') {
            cues.minTicks = Math.min(cues.minTicks, value);
            cues.maxTicks = Math.max(cues.maxTicks, value);
          } else if (el.id === Id.CueTrack && typeof value === 'number') cues.tracks.add(value);
        }
        const entry = seek?.entries[seek.entries.length - 1];
        if (entry && el.parent?.id === Id.Seek) {
          if (el.id === Id.SeekID && value instanceof Uint8Array && value.length >= 1 && value.length <= 4)
            entry.id = value.reduce((a, b) => a * 256 + b, 0);
          else if (el.id === Id.SeekPosition && typeof value === 'number') entry.position = value;
        }
        const isBlock = el.id === Id.SimpleBlock || el.id === Id.Block;
        const block = isBlock && value instanceof Uint8Array ? blockInfo(el, value) : undefined;
        if (pastLimit(block)) return;
        if (json) {
          jsonStart(el);
          out.write(`,"value":${JSON.stringify(jsonValue(info?.type, value))}`);
          if (!isBlock) {
            const { display } = showValue(info, value, fmt);
            if (display !== undefined) out.write(`,"display":${JSON.stringify(display)}`);
          }
          if (block) out.write(`,"block":${JSON.stringify(block)}`);
          out.write('}');
        } else if (!hidden(el)) {
          const text = isBlock && block ? blockText(block) : `: ${showValue(info, value, fmt).text}`;
          writeLine(el, text, !isBlock && value instanceof Uint8Array);
        }
        if (isBlock) onBlock(el, block);
      },
      onBinaryPart(el, part, partOffset) {
        // Binaries above STREAM_BINARIES arrive in pieces: described from their first piece.
        if (ctx.stop || partOffset !== 0) return;
        const isBlock = el.id === Id.SimpleBlock || el.id === Id.Block;
        const h = isBlock ? readBlockHeader(part) : undefined;
        const block = h
          ? {
              track: h.track,
              timestamp: (clusterTicks + h.relTimestamp) * fmt.timestampScale,
              ...(el.id === Id.SimpleBlock ? { keyframe: (h.flags & 0x80) !== 0 } : {}),
              lacing: LACING_NAMES[(h.flags >> 1) & 3],
              frames: [] as number[],
            }
          : undefined;
        if (pastLimit(block)) return;
        if (json) {
          jsonStart(el);
          out.write(`,"value":${JSON.stringify({ binary: el.size, hex: hexBytes(part) })}`);
          if (block) out.write(`,"block":${JSON.stringify(block)}`);
          out.write('}');
        } else if (!hidden(el)) {
          writeLine(
            el,
            block
              ? `: track ${block.track}, ${formatTime(block.timestamp)}${block.keyframe ? ', keyframe' : ''}${block.lacing !== 'none' ? `, ${block.lacing} lacing` : ''}`
              : `: <${el.size} bytes> ${hexBytes(part)}`,
            !block,
          );
        }
        if (isBlock) onBlock(el, block);
      },
      onResync(from, to) {
        ctx.out.flushSync();
        ctx.err.write(`mkvserve: resumed reading at byte ${to} (skipped ${to - from} bytes from byte ${from})\n`);
        ctx.err.flushSync();
      },
      onError(e) {
        if (!json) {
          // The Cluster being read is marked damaged, and what came before is printed before the error.
          if (cluster) cluster.damaged = true;
          flushRun();
        }
        reportError(ctx, e);
      },
    },
    { verifyCrc: true, streamBinariesLargerThan: STREAM_BINARIES },
  );

  if (json) out.write('{"elements":[');
  await pump(
    input,
    ctx,
    (c) => reader.push(c),
    () => reader.end(),
  );
  return () => {
    if (!json) {
      // Reading stopped (--max-frames, --duration) inside a Cluster or Cues: what was counted still shows.
      if (cluster) {
        if (cluster.group) endGroup(cluster);
        endCluster(cluster, cluster.el.dataOffset + Math.max(0, cluster.el.size), false);
      }
      if (cues) {
        cuePoints += cues.points;
        endCues();
      }
      endSeek();
      flushRun();
      if (stoppedEarly) out.write(`(stopped after ${plural(blocks, 'block')})\n`);
      // What was collapsed, and the flags that show it.
      const hints: string[] = [];
      if (collapseClusters && clusterCount > 0)
        hints.push(
          opts.clusters
            ? plural(clusterCount, 'cluster')
            : `${plural(clusterCount, 'cluster')} in ${plural(runLines, 'line')}`,
        );
      if (collapseCues && cuePoints > 0) hints.push(plural(cuePoints, 'cue point'));
      if (collapseSeeks && seekEntries > 0) hints.push(`${seekEntries} seek entr${seekEntries === 1 ? 'y' : 'ies'}`);
      const flags = [
        ...(collapseClusters && clusterCount > 0 ? [opts.clusters ? '--blocks' : '--clusters, --blocks'] : []),
        ...(collapseCues && cuePoints > 0 ? ['--cues'] : []),
        '--all',
      ];
      if (hints.length > 0) out.write(`(collapsed: ${hints.join(', ')}; ${flags.join(', ')} show more)\n`);
      return;
    }
    while (open.length > 0) {
      open.pop();
      out.write(']}');
    }
    out.write(
      `\n],"errors":${JSON.stringify(ctx.errors.map((e) => ({ code: e.code, offset: e.offset, path: e.path, fatal: e.fatal, message: e.message })))}`,
    );
    if (stoppedEarly) out.write(`,"stoppedEarly":true`);
    out.write('}\n');
  };
}
