// The Matroska/WebM demuxer: a synchronous push parser on top of EbmlReader that turns bytes into a
// header (EBML header + Info + Tracks), frames (lacing split, content encodings undone, timestamps in ns)
// and metadata (Cues, Chapters, Tags, Attachments). Damage is reported as typed errors; parsing goes on.
//
// Timing rules (documented, matching ffprobe where it can be matched):
// - timestamp = (Cluster Timestamp + int16 block offset) * TimestampScale, in ns; CodecDelay is NOT subtracted.
// - duration = BlockDuration * TimestampScale when present, else the track's DefaultDuration, else the
//   codec's own frame duration (codec-duration.ts: Opus, Vorbis, AAC, MPEG audio, AC-3, E-AC-3, FLAC) in
//   whole TimestampScale ticks, rounded down as FFmpeg does, else undefined.
// - Laced blocks: with BlockDuration D, lace i gets timestamp + floor(D*i/n) and duration floor(D*(i+1)/n) -
//   floor(D*i/n) (D split evenly, like FFmpeg); without it but with DefaultDuration d, lace i gets
//   timestamp + i*d and duration d; with neither, lace i gets the block timestamp + the codec durations of
//   laces 0..i-1 and its own codec duration (what ffprobe reports: lavf fills in those pts from the codec);
//   a lace whose codec duration is unknown gets none and adds nothing. Every lace carries the block's
//   keyframe flag.
// - BlockDuration still wins over the codec: GStreamer's last Opus frame says 6 ms (+ DiscardPadding)
//   where ffprobe reports the TOC's 20 ms.

import { EbmlError } from '../errors.js';
import type { EbmlErrorCode } from '../errors.js';
import { DEFAULT_MAX_ELEMENT_SIZE, EbmlReader, elementPath } from '../reader.js';
import type { EbmlReaderOptions, EbmlValue, ElementHeader } from '../reader.js';
import { Id } from '../schema.generated.js';
import { readSize, vintLength } from '../vint.js';
import { codecFrameDuration } from './codec-duration.js';
import type { CodecFrameDuration } from './codec-duration.js';
import {
  DEFAULT_DECODE_BUDGET,
  DEFAULT_MAX_DECOMPRESSED_SIZE,
  decodeContent,
  MAX_DEFLATE_RATIO,
  planContentDecoding,
} from './content-encoding.js';
import type { ContentDecodingPlan } from './content-encoding.js';
import { readLaceSizes } from './lacing.js';
import { parseAttachments, parseChapters, parseCues, parseInfo, parseTags, parseTracks } from './metadata.js';
import type { MetaNode } from './metadata.js';
import { sniffContainer } from './sniff.js';
import type {
  Attachment,
  BlockAddition,
  CuePoint,
  Edition,
  EbmlHeaderInfo,
  Frame,
  MatroskaHeader,
  SegmentInfo,
  Tag,
  TrackInfo,
} from './types.js';

export interface DemuxHandler {
  /** Once EBML header, Info and Tracks are known (before the first frame); again after a new EBML header. */
  onHeader?(h: MatroskaHeader): void;
  onFrame?: (f: Frame) => void;
  onCues?(c: CuePoint[]): void;
  onChapters?(e: Edition[]): void;
  onTags?(t: Tag[]): void;
  onAttachments?(a: Attachment[]): void;
  /** When a Cluster's Timestamp is known (ns) ; `offset` is the Cluster element's absolute offset. */
  onClusterStart?(timestampNs: number, offset: number): void;
  onError?(e: EbmlError): void;
}

export interface DemuxerOptions {
  /** Cap on the inflated size of one zlib-compressed frame (default 10,000,000 bytes). */
  maxDecompressedSize?: number;
  /**
   * Total content-decoding work (a token bucket, see DEFAULT_DECODE_BUDGET): bytes inflated (zlib) or
   * restored (header stripping), `burst` at once (default 16 MiB, never below maxDecompressedSize), refilled
   * by `ratio` bytes per input byte (default 8). A frame that does not fit is dropped with one DECOMPRESSION
   * error per track (then counted in stats.decodeBudgetDrops).
   */
  decodeBudget?: { ratio?: number; burst?: number };
  /** Options passed to the EbmlReader (limits, ...). */
  reader?: EbmlReaderOptions;
  /** Bytes collected before deciding what non-EBML input looks like (default 4096). */
  sniffBytes?: number;
}

/** The EBML header's ID bytes: every EBML document starts with them. */
const EBML_MAGIC = [Id.EBML >>> 24, (Id.EBML >> 16) & 0xff, (Id.EBML >> 8) & 0xff, Id.EBML & 0xff];
const CLUSTER_PATH = ['Segment', 'Cluster'] as const;
const SIMPLEBLOCK_PATH = ['Segment', 'Cluster', 'SimpleBlock'] as const;
const BLOCK_PATH = ['Segment', 'Cluster', 'BlockGroup', 'Block'] as const;
const INFO_PATH = ['Segment', 'Info'] as const;
const TRACKS_PATH = ['Segment', 'Tracks'] as const;

/** Counters of a demuxer's work so far (`MatroskaDemuxer.stats`). */
export interface DemuxStats {
  /** Frames delivered to onFrame. */
  frames: number;
  /** Blocks dropped because the announced header does not declare their track number. */
  undeclaredTrackBlocks: number;
  /** Bytes produced by undoing content encodings (inflated, or restored by header stripping): bounded by the decode budget. */
  decodedBytes: number;
  /** Encoded frames dropped because the decode budget could not cover them. */
  decodeBudgetDrops: number;
}

/** Whether a later TrackEntry describes the same track as the announced one (same decoder set-up). */
function sameTrack(a: TrackInfo, b: TrackInfo): boolean {
  if (a.type !== b.type || a.codecId !== b.codecId) return false;
  const p = a.codecPrivate;
  const q = b.codecPrivate;
  if ((p?.length ?? 0) !== (q?.length ?? 0)) return false;
  if (p && q) for (let i = 0; i < p.length; i++) if (p[i] !== q[i]) return false;
  return true;
}

/** Per-track state used on the hot path. */
interface TrackState {
  readonly info: TrackInfo;
  /** ns, or undefined. */
  readonly defaultDuration: number | undefined;
  /** Content encodings to undo on frames (undefined when none). */
  readonly steps: ContentDecodingPlan['steps'] | undefined;
  /** A zlib step among them (its worst case is charged to the decode budget before inflating). */
  readonly inflates: boolean;
  /** Bytes header stripping restores in front of every frame (charged to the decode budget). */
  readonly prefixBytes: number;
  /** Frame durations from the codec when the track has no DefaultDuration (undefined: none known). */
  readonly codec: CodecFrameDuration | undefined;
  /** The last codec duration computed (frames of a track mostly have one size): skips the division. */
  readonly memo: { samples: number; rate: number; scale: number; ns: number };
}

/** Level-1 masters whose subtree is collected and parsed as a whole. */
const COLLECTED = /* @__PURE__ */ new Set<number>([
  Id.EBML,
  Id.Info,
  Id.Tracks,
  Id.Cues,
  Id.Chapters,
  Id.Tags,
  Id.Attachments,
]);

function emptyEbmlHeader(): EbmlHeaderInfo {
  return {
    docType: 'matroska',
    docTypeVersion: 1,
    docTypeReadVersion: 1,
    ebmlVersion: 1,
    ebmlReadVersion: 1,
    ebmlMaxIdLength: 4,
    ebmlMaxSizeLength: 8,
  };
}

export class MatroskaDemuxer {
  private readonly h: DemuxHandler;
  private readonly reader: EbmlReader;
  private readonly maxDecompressed: number;
  private readonly budgetRatio: number;
  private readonly budgetBurst: number;
  /** Inflate budget left (bytes), refilled up to the input offset `budgetRefilledTo`. */
  private budgetTokens: number;
  private budgetRefilledTo = 0;
  /** Tracks whose first budget drop was reported. */
  private budgetReported = new Set<number>();
  /** Largest streamed binary gathered whole (the reader's maxElementSize: it does not bound streamed ones). */
  private readonly maxPart: number;
  private readonly sniffBytes: number;

  /** 0: checking the first bytes, 1: running, 2: stopped by a fatal error. */
  private state = 0;
  private head: Uint8Array | undefined;
  private ended = false;

  // Header state.
  private ebml: EbmlHeaderInfo = emptyEbmlHeader();
  private info: SegmentInfo | undefined;
  private tracks: TrackInfo[] | undefined;
  private headerSent = false;
  private segmentDataOffset = -1;
  private segmentSize = -1;
  private scale = 1_000_000;
  private clusterBeforeTracksReported = false;

  // Subtree collection (Info, Tracks, ...): a stack of open masters, root first.
  private collect: MetaNode[] = [];

  // Track lookup: small numbers in an array, others in a Map.
  private trackArr: (TrackState | undefined)[] = [];
  private trackMap = new Map<number, TrackState>();
  private unknownReported = new Set<number>();
  /** Track numbers a later Tracks element redefined: their blocks are dropped (see lateTracks). */
  private withdrawn = new Set<number>();
  private readonly counts: DemuxStats = {
    frames: 0,
    undeclaredTrackBlocks: 0,
    decodedBytes: 0,
    decodeBudgetDrops: 0,
  };

  // Cluster state.
  private inCluster = false;
  private clusterOffset = 0;
  private clusterTs = 0;
  private clusterTsKnown = false;

  // BlockGroup state.
  private inGroup = false;
  private groupDamaged = false;
  private gBlock: Uint8Array | undefined;
  private gBlockOffset = 0;
  private gDuration: number | undefined;
  private gRefs: number[] | undefined;
  private gDiscard: number | undefined;
  private gAdditions: BlockAddition[] | undefined;
  private gAddId = 1;
  private gAddData: Uint8Array | undefined;

  // Streamed block payloads (a block split over chunks, delivered in parts by the reader).
  private partBuf: Uint8Array | undefined;
  private partLen = 0;

  private readonly laceSizes: number[] = [];

  constructor(handler: DemuxHandler, options: DemuxerOptions = {}) {
    this.h = handler;
    this.maxDecompressed = options.maxDecompressedSize ?? DEFAULT_MAX_DECOMPRESSED_SIZE;
    const ratio = options.decodeBudget?.ratio ?? DEFAULT_DECODE_BUDGET.ratio;
    const burst = options.decodeBudget?.burst ?? DEFAULT_DECODE_BUDGET.burst;
    for (const [name, v] of [
      ['maxDecompressedSize', this.maxDecompressed],
      ['decodeBudget.ratio', ratio],
      ['decodeBudget.burst', burst],
    ] as const) {
      if (!(v >= 0) || !Number.isFinite(v)) throw new RangeError(`${name} must be a finite number >= 0, got ${v}`);
    }
    this.budgetRatio = ratio;
    this.budgetBurst = Math.max(burst, this.maxDecompressed);
    this.budgetTokens = this.budgetBurst;
    this.maxPart = options.reader?.maxElementSize ?? DEFAULT_MAX_ELEMENT_SIZE;
    this.sniffBytes = options.sniffBytes ?? 4096;
    this.reader = new EbmlReader(
      {
        onMasterStart: (el) => this.masterStart(el),
        onMasterEnd: (el, _end, damaged) => this.masterEnd(el, damaged),
        onValue: (el, v) => this.value(el, v),
        onBinaryPart: (el, part, partOffset, last) => this.binaryPart(el, part, partOffset, last),
        onError: (e) => this.readerError(e),
      },
      options.reader,
    );
  }

  /** The header, once known. */
  get header(): MatroskaHeader | undefined {
    return this.headerSent ? this.makeHeader() : undefined;
  }

  /** Counters so far: frames delivered, blocks of undeclared tracks dropped, bytes inflated. A snapshot. */
  get stats(): DemuxStats {
    return { ...this.counts };
  }

  /** True after a fatal error: further input is ignored. */
  get stopped(): boolean {
    return this.state === 2;
  }

  /** Absolute input offset consumed so far. */
  get position(): number {
    return this.reader.position;
  }

  /** Feeds a chunk; handlers are called synchronously. Chunks are not copied: frame data are views into them. */
  push(chunk: Uint8Array): void {
    if (this.state === 1) {
      this.reader.push(chunk);
      return;
    }
    if (this.state === 2 || this.ended || chunk.length === 0) return;
    // Checking the first bytes.
    let buf = chunk;
    if (this.head) {
      buf = new Uint8Array(this.head.length + chunk.length);
      buf.set(this.head, 0);
      buf.set(chunk, this.head.length);
    }
    const n = Math.min(buf.length, 4);
    let isEbml = true;
    for (let i = 0; i < n; i++) if (buf[i] !== EBML_MAGIC[i]) isEbml = false;
    if (isEbml && buf.length >= 4) {
      this.head = undefined;
      this.state = 1;
      this.reader.push(buf);
      return;
    }
    if (!isEbml && buf.length >= this.sniffBytes) {
      this.notMatroska(buf);
      return;
    }
    this.head = buf === chunk ? chunk.slice() : buf;
  }

  /** End of input: flushes the reader (reports truncation) and delivers what is pending. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    if (this.state === 0) {
      this.notMatroska(this.head ?? new Uint8Array(0));
      return;
    }
    if (this.state !== 1) return;
    this.reader.end();
    if (this.state !== 1) return;
    // Masters left open by damage: deliver what was collected.
    if (this.collect.length) this.flushCollect();
    if (!this.headerSent && this.tracks) this.sendHeader();
  }

  // ---------------------------------------------------------------------------------------------
  // Errors

  private error(code: EbmlErrorCode, message: string, offset: number, path: readonly string[], fatal = false): void {
    const e = new EbmlError({ code, message, offset, path, fatal });
    if (fatal) this.state = 2;
    this.h.onError?.(e);
  }

  private notMatroska(bytes: Uint8Array): void {
    const s = sniffContainer(bytes);
    this.state = 2;
    this.head = undefined;
    this.h.onError?.(
      new EbmlError({
        code: 'NOT_MATROSKA',
        message: s.message ?? 'input is not Matroska/WebM',
        offset: 0,
        fatal: true,
      }),
    );
  }

  private readerError(e: EbmlError): void {
    if (this.state === 2) return;
    if (this.inGroup) this.groupDamaged = true;
    this.partBuf = undefined;
    if (e.fatal) this.state = 2;
    this.h.onError?.(e);
  }

  // ---------------------------------------------------------------------------------------------
  // Reader events

  private masterStart(el: ElementHeader): boolean | void {
    if (this.state === 2) return false;
    const id = el.id;
    // A collected master left open by damage ends at the next Cluster: deliver what it had.
    if (id === Id.Cluster && this.collect.length) this.flushCollect();
    if (this.collect.length) {
      const node: MetaNode = { id, children: [] };
      this.collect[this.collect.length - 1].children!.push(node);
      this.collect.push(node);
      return;
    }
    switch (id) {
      case Id.Cluster:
        this.clusterStart(el);
        return;
      case Id.BlockGroup:
        this.inGroup = true;
        this.groupDamaged = false;
        this.gBlock = undefined;
        this.gDuration = undefined;
        this.gRefs = undefined;
        this.gDiscard = undefined;
        this.gAdditions = undefined;
        return;
      case Id.BlockMore:
        this.gAddId = 1;
        this.gAddData = undefined;
        return;
      case Id.Segment:
        this.segmentDataOffset = el.dataOffset;
        this.segmentSize = el.size;
        this.inCluster = false;
        return;
      case Id.SeekHead:
        return false;
    }
    if (COLLECTED.has(id)) {
      if (id === Id.EBML) this.resetForNewHeader();
      this.collect.push({ id, children: [] });
    }
  }

  private masterEnd(el: ElementHeader, damaged: boolean): void {
    if (this.state === 2) return;
    if (this.collect.length) {
      const node = this.collect.pop()!;
      if (this.collect.length === 0) this.collected(node, el.offset);
      return;
    }
    switch (el.id) {
      case Id.BlockGroup:
        if (damaged) this.groupDamaged = true;
        this.groupEnd();
        return;
      case Id.BlockMore:
        if (this.inGroup && this.gAddData) (this.gAdditions ??= []).push({ id: this.gAddId, data: this.gAddData });
        return;
      case Id.Cluster:
        this.inCluster = false;
        this.inGroup = false;
        return;
    }
  }

  private value(el: ElementHeader, v: EbmlValue): void {
    const id = el.id;
    if (id === Id.SimpleBlock) {
      if (this.state === 1 && this.inCluster) this.block(v as Uint8Array, el.offset, true);
      return;
    }
    if (this.state === 2) return;
    if (this.collect.length) {
      this.collect[this.collect.length - 1].children!.push({ id, value: v });
      return;
    }
    if (!this.inCluster) return;
    switch (id) {
      case Id.Timestamp:
        if (el.parent?.id === Id.Cluster || el.depth <= 2) {
          this.clusterTs = typeof v === 'number' ? v : Number(v);
          this.clusterTsKnown = true;
          this.h.onClusterStart?.(this.clusterTs * this.scale, this.clusterOffset);
        }
        return;
      case Id.Block:
        if (this.inGroup) {
          this.gBlock = v as Uint8Array;
          this.gBlockOffset = el.offset;
        }
        return;
      case Id.BlockDuration:
        if (this.inGroup) this.gDuration = typeof v === 'number' ? v : Number(v);
        return;
      case Id.ReferenceBlock:
        if (this.inGroup) (this.gRefs ??= []).push(typeof v === 'number' ? v : Number(v));
        return;
      case Id.DiscardPadding:
        if (this.inGroup) this.gDiscard = typeof v === 'number' ? v : Number(v);
        return;
      case Id.BlockAddID:
        if (this.inGroup) this.gAddId = typeof v === 'number' ? v : Number(v);
        return;
      case Id.BlockAdditional:
        if (this.inGroup) this.gAddData = v as Uint8Array;
        return;
    }
  }

  /** Blocks too big for one chunk arrive in parts: gathered here. The reader does not bound streamed
   *  binaries, so one larger than maxElementSize is dropped (ELEMENT_TOO_LARGE) before any allocation. */
  private binaryPart(el: ElementHeader, part: Uint8Array, partOffset: number, last: boolean): void {
    if (this.state !== 1) return;
    const id = el.id;
    if (id !== Id.SimpleBlock && id !== Id.Block && !this.collect.length && id !== Id.BlockAdditional) return;
    if (partOffset === 0) {
      if (el.size > this.maxPart) {
        this.partBuf = undefined;
        const name = el.info?.name ?? 'element';
        this.error(
          'ELEMENT_TOO_LARGE',
          `${name} of ${el.size} bytes exceeds the limit of ${this.maxPart}; dropped`,
          el.offset,
          elementPath(el),
        );
        return;
      }
      this.partBuf = new Uint8Array(el.size);
      this.partLen = 0;
    }
    const buf = this.partBuf;
    if (!buf || partOffset !== this.partLen || this.partLen + part.length > buf.length) {
      this.partBuf = undefined;
      return;
    }
    buf.set(part, this.partLen);
    this.partLen += part.length;
    if (!last) return;
    this.partBuf = undefined;
    if (this.partLen !== buf.length) return; // cut short: dropped
    this.value(el, buf);
  }

  // ---------------------------------------------------------------------------------------------
  // Header

  private resetForNewHeader(): void {
    this.ebml = emptyEbmlHeader();
    this.info = undefined;
    this.tracks = undefined;
    this.headerSent = false;
    this.scale = 1_000_000;
    this.trackArr = [];
    this.trackMap.clear();
    this.unknownReported.clear();
    this.withdrawn.clear();
    this.clusterBeforeTracksReported = false;
    this.inCluster = false;
  }

  private flushCollect(): void {
    const root = this.collect[0];
    this.collect = [];
    this.collected(root, -1);
  }

  private collected(node: MetaNode, offset: number): void {
    switch (node.id) {
      case Id.EBML:
        this.ebmlHeader(node, offset);
        return;
      case Id.Info:
        if (this.headerSent || this.info !== undefined) {
          // The header (and every timestamp since) used the first Info: a second one cannot take effect.
          this.error(
            'UNSUPPORTED',
            'a second Info element for one EBML header is not supported; ignored (its TimestampScale is not used)',
            offset,
            INFO_PATH,
          );
          return;
        }
        this.info = parseInfo(node);
        this.scale = this.info.timestampScale;
        if (this.tracks && !this.headerSent) this.sendHeader();
        return;
      case Id.Tracks:
        if (this.tracks !== undefined) {
          this.lateTracks(parseTracks(node), offset);
          return;
        }
        this.setTracks(parseTracks(node), offset);
        if (this.info && !this.headerSent) this.sendHeader();
        return;
      case Id.Cues:
        this.h.onCues?.(parseCues(node, this.scale));
        return;
      case Id.Chapters:
        this.h.onChapters?.(parseChapters(node));
        return;
      case Id.Tags:
        this.h.onTags?.(parseTags(node));
        return;
      case Id.Attachments:
        this.h.onAttachments?.(parseAttachments(node));
        return;
    }
  }

  private ebmlHeader(node: MetaNode, offset: number): void {
    const e = this.ebml;
    for (const c of node.children ?? []) {
      const v = c.value;
      const n = typeof v === 'number' ? v : typeof v === 'bigint' ? Number(v) : NaN;
      switch (c.id) {
        case Id.DocType:
          if (typeof v === 'string') e.docType = v;
          break;
        case Id.DocTypeVersion:
          e.docTypeVersion = n;
          break;
        case Id.DocTypeReadVersion:
          e.docTypeReadVersion = n;
          break;
        case Id.EBMLVersion:
          e.ebmlVersion = n;
          break;
        case Id.EBMLReadVersion:
          e.ebmlReadVersion = n;
          break;
        case Id.EBMLMaxIDLength:
          e.ebmlMaxIdLength = n;
          break;
        case Id.EBMLMaxSizeLength:
          e.ebmlMaxSizeLength = n;
          break;
      }
    }
    const path = ['EBML'];
    if (e.docType !== 'matroska' && e.docType !== 'webm') {
      this.error('UNSUPPORTED_DOCTYPE', `DocType "${e.docType}" is not matroska or webm`, offset, path, true);
    } else if (!(e.docTypeReadVersion <= 4)) {
      this.error(
        'UNSUPPORTED_DOCTYPE',
        `DocTypeReadVersion ${e.docTypeReadVersion} is newer than the supported version 4`,
        offset,
        path,
        true,
      );
    } else if (!(e.ebmlReadVersion <= 1)) {
      this.error(
        'UNSUPPORTED_DOCTYPE',
        `EBMLReadVersion ${e.ebmlReadVersion} is not supported (max 1)`,
        offset,
        path,
        true,
      );
    } else if (!(e.ebmlMaxIdLength <= 4)) {
      this.error(
        'UNSUPPORTED_DOCTYPE',
        `EBMLMaxIDLength ${e.ebmlMaxIdLength} is not supported (max 4)`,
        offset,
        path,
        true,
      );
    } else if (!(e.ebmlMaxSizeLength <= 8)) {
      this.error(
        'UNSUPPORTED_DOCTYPE',
        `EBMLMaxSizeLength ${e.ebmlMaxSizeLength} is not supported (max 8)`,
        offset,
        path,
        true,
      );
    }
  }

  private setTracks(tracks: TrackInfo[], offset: number): void {
    const announced: TrackInfo[] = [];
    this.tracks = announced;
    this.trackArr = [];
    this.trackMap.clear();
    for (const t of tracks) {
      const plan = planContentDecoding(t.contentEncodings);
      for (const m of plan.unsupported) {
        this.error('UNSUPPORTED', `track ${t.number}: ${m}`, offset, ['Segment', 'Tracks', 'TrackEntry']);
      }
      if (plan.encrypted) t.encrypted = true;
      if (t.codecPrivate && plan.codecPrivateSteps.length) {
        try {
          const cps = plan.codecPrivateSteps;
          const cpPrefix = cps.reduce((n, x) => n + (x.compAlgo === 3 ? (x.compSettings?.length ?? 0) : 0), 0);
          const cp = this.budgeted(
            t.codecPrivate,
            cps,
            cps.some((x) => x.compAlgo !== 3),
            cpPrefix,
            offset,
          );
          if (cp === undefined) throw new EbmlError({ code: 'DECOMPRESSION', message: this.budgetMessage(t.number) });
          t.codecPrivate = cp;
        } catch (err) {
          const e = err as EbmlError;
          this.error('DECOMPRESSION', `track ${t.number} CodecPrivate: ${e.message}`, offset, [
            'Segment',
            'Tracks',
            'TrackEntry',
            'CodecPrivate',
          ]);
        }
      }
      const st: TrackState = {
        info: t,
        defaultDuration: t.defaultDuration,
        steps: plan.steps.length ? plan.steps : undefined,
        inflates: plan.steps.some((x) => x.compAlgo !== 3),
        prefixBytes: plan.steps.reduce((n, x) => n + (x.compAlgo === 3 ? (x.compSettings?.length ?? 0) : 0), 0),
        codec: t.defaultDuration === undefined ? codecFrameDuration(t) : undefined,
        memo: { samples: -1, rate: 0, scale: 0, ns: 0 },
      };
      if (this.trackState(t.number) !== undefined) {
        this.error('INVALID_VALUE', `duplicate TrackNumber ${t.number}: the first entry is used`, offset, [
          'Segment',
          'Tracks',
          'TrackEntry',
        ]);
        continue;
      }
      // The header announces each track number once: later duplicates are neither announced nor used.
      announced.push(t);
      if (t.number < 1024) this.trackArr[t.number] = st;
      else this.trackMap.set(t.number, st);
    }
  }

  /**
   * A Tracks element after the first one for this EBML header (a second Tracks in the Segment, or the
   * Tracks of a Segment spliced in without its EBML header). The track layout is announced once per EBML
   * header, so it is reported and not applied: tracks it declares the same way as before keep flowing;
   * tracks it adds are undeclared, and tracks it redefines (other type, codec or CodecPrivate) are
   * withdrawn, so their blocks are dropped and counted instead of reaching onFrame as another codec.
   */
  private lateTracks(tracks: TrackInfo[], offset: number): void {
    const added: number[] = [];
    const redefined: number[] = [];
    for (const t of tracks) {
      const st = this.trackState(t.number);
      if (st === undefined) {
        if (!this.withdrawn.has(t.number) && !added.includes(t.number)) added.push(t.number);
      } else if (!sameTrack(st.info, t)) {
        redefined.push(t.number);
        this.withdrawn.add(t.number);
        if (t.number < 1024) this.trackArr[t.number] = undefined;
        else this.trackMap.delete(t.number);
      }
    }
    const what: string[] = [];
    if (added.length) what.push(`blocks of the tracks it adds (${added.join(', ')}) are dropped`);
    if (redefined.length) what.push(`tracks it redefines (${redefined.join(', ')}) are withdrawn`);
    this.error(
      'UNSUPPORTED',
      'a second Tracks element for one EBML header (a track layout change without a new EBML header) is not ' +
        `supported; ignored${what.length ? ': ' + what.join('; ') : ''}`,
      offset,
      TRACKS_PATH,
    );
  }

  private makeHeader(): MatroskaHeader {
    return {
      ebml: this.ebml,
      info: this.info ?? { timestampScale: this.scale },
      tracks: this.tracks ?? [],
      segmentDataOffset: this.segmentDataOffset,
      segmentSize: this.segmentSize,
    };
  }

  private sendHeader(): void {
    this.headerSent = true;
    this.h.onHeader?.(this.makeHeader());
  }

  // ---------------------------------------------------------------------------------------------
  // Clusters and blocks

  private clusterStart(el: ElementHeader): void {
    if (!this.headerSent) {
      if (this.tracks) this.sendHeader();
      else if (!this.clusterBeforeTracksReported) {
        this.clusterBeforeTracksReported = true;
        this.error(
          'INVALID_BLOCK',
          'Cluster before Tracks: blocks of unknown tracks are dropped',
          el.offset,
          CLUSTER_PATH,
        );
      }
    }
    this.inCluster = true;
    this.inGroup = false;
    this.clusterOffset = el.offset;
    this.clusterTs = 0;
    this.clusterTsKnown = false;
  }

  private groupEnd(): void {
    if (!this.inGroup) return;
    this.inGroup = false;
    const data = this.gBlock;
    this.gBlock = undefined;
    if (this.groupDamaged || !data || !this.inCluster) return;
    this.block(data, this.gBlockOffset, false);
  }

  private trackState(n: number): TrackState | undefined {
    return n < 1024 ? this.trackArr[n] : this.trackMap.get(n);
  }

  /** A block of a track number the announced header does not declare: dropped, counted, reported once per number. */
  private unknownTrack(n: number, offset: number, simple: boolean): void {
    this.counts.undeclaredTrackBlocks++;
    if (this.unknownReported.has(n)) return;
    this.unknownReported.add(n);
    this.error(
      'INVALID_BLOCK',
      this.withdrawn.has(n)
        ? `block of track ${n}, redefined by a later Tracks element, dropped (further ones are dropped silently and counted)`
        : `block of track number ${n}, which the header does not declare, dropped (further ones are dropped silently and counted)`,
      offset,
      simple ? SIMPLEBLOCK_PATH : BLOCK_PATH,
    );
  }

  private invalidBlock(message: string, offset: number, simple: boolean): void {
    this.error('INVALID_BLOCK', message, offset, simple ? SIMPLEBLOCK_PATH : BLOCK_PATH);
  }

  /** One Block or SimpleBlock payload -> frames. The hot path: header parsed inline, one object per frame. */
  private block(buf: Uint8Array, offset: number, simple: boolean): void {
    const n = buf.length;
    if (n < 4) {
      this.invalidBlock('block too short for its header', offset, simple);
      return;
    }
    const b0 = buf[0];
    let track: number;
    let pos: number;
    if (b0 & 0x80) {
      track = b0 & 0x7f;
      pos = 1;
    } else {
      const len = vintLength(b0);
      if (len === 0 || len + 3 > n) {
        this.invalidBlock('invalid track number in block header', offset, simple);
        return;
      }
      track = readSize(buf, 0, len);
      pos = len;
    }
    const st = this.trackState(track);
    if (st === undefined) {
      this.unknownTrack(track, offset, simple);
      return;
    }
    const rel = ((buf[pos] << 24) | (buf[pos + 1] << 16)) >> 16;
    const flags = buf[pos + 2];
    pos += 3;
    if (!this.clusterTsKnown) {
      this.clusterTsKnown = true;
      this.error('INVALID_VALUE', 'Cluster has no Timestamp before its first block: 0 assumed', offset, CLUSTER_PATH);
      this.h.onClusterStart?.(0, this.clusterOffset);
    }
    const scale = this.scale;
    const ts = (this.clusterTs + rel) * scale;
    const lacing = flags & 0x06;
    const onFrame = this.h.onFrame;

    if (simple) {
      const keyframe = (flags & 0x80) !== 0;
      const invisible = (flags & 0x08) !== 0;
      const discardable = (flags & 0x01) !== 0;
      if (lacing === 0) {
        let data = buf.subarray(pos);
        if (st.steps !== undefined) {
          const d = this.decode(data, st, offset, simple);
          if (d === undefined) return;
          data = d;
        }
        const duration = st.codec !== undefined ? this.codecDuration(st, data) : st.defaultDuration;
        this.counts.frames++;
        if (onFrame !== undefined)
          onFrame({ track, timestamp: ts, duration, keyframe, data, discardable, invisible, offset });
        return;
      }
      this.laced(buf, pos, lacing >> 1, st, track, ts, undefined, keyframe, discardable, invisible, offset, true);
      return;
    }

    // Block inside a BlockGroup.
    const invisible = (flags & 0x08) !== 0;
    const keyframe = this.gRefs === undefined;
    const blockDur = this.gDuration;
    if (lacing === 0) {
      let data = buf.subarray(pos);
      if (st.steps !== undefined) {
        const d = this.decode(data, st, offset, simple);
        if (d === undefined) return;
        data = d;
      }
      // The codec reader runs even when BlockDuration wins: Vorbis durations depend on the previous packet.
      const codecDur = st.codec !== undefined ? this.codecDuration(st, data) : st.defaultDuration;
      const duration = blockDur !== undefined ? blockDur * scale : codecDur;
      this.counts.frames++;
      onFrame?.(this.groupFrame(track, ts, duration, keyframe, data, invisible, offset));
      return;
    }
    this.laced(
      buf,
      pos,
      lacing >> 1,
      st,
      track,
      ts,
      blockDur !== undefined ? blockDur * scale : undefined,
      keyframe,
      false,
      invisible,
      offset,
      false,
    );
  }

  private groupFrame(
    track: number,
    ts: number,
    duration: number | undefined,
    keyframe: boolean,
    data: Uint8Array,
    invisible: boolean,
    offset: number,
  ): Frame {
    const f: Frame = {
      track,
      timestamp: ts,
      duration,
      keyframe,
      data,
      discardable: false,
      invisible,
      offset,
      blockGroup: true,
    };
    if (this.gRefs !== undefined) f.references = this.gRefs;
    if (this.gDuration !== undefined) f.blockDuration = this.gDuration;
    if (this.gAdditions !== undefined) f.additions = this.gAdditions;
    if (this.gDiscard !== undefined) f.discardPadding = this.gDiscard;
    return f;
  }

  private laced(
    buf: Uint8Array,
    pos: number,
    mode: number,
    st: TrackState,
    track: number,
    ts: number,
    blockDurNs: number | undefined,
    keyframe: boolean,
    discardable: boolean,
    invisible: boolean,
    offset: number,
    simple: boolean,
  ): void {
    const sizes = this.laceSizes;
    const r = readLaceSizes(buf, pos, buf.length, mode, sizes);
    if (typeof r === 'string') {
      this.invalidBlock(`${r}; block dropped`, offset, simple);
      return;
    }
    const count = sizes.length;
    const dd = st.defaultDuration;
    const codec = st.codec;
    const onFrame = this.h.onFrame;
    let p = r;
    /** Sum of the codec durations of the laces before this one (ns). */
    let acc = 0;
    for (let i = 0; i < count; i++) {
      const size = sizes[i];
      let data = buf.subarray(p, p + size);
      p += size;
      let t = ts;
      let dur: number | undefined;
      if (blockDurNs !== undefined) {
        const a = Math.floor((blockDurNs * i) / count);
        t = ts + a;
        dur = Math.floor((blockDurNs * (i + 1)) / count) - a;
      } else if (dd !== undefined) {
        t = ts + i * dd;
        dur = dd;
      }
      if (st.steps !== undefined) {
        const d = this.decode(data, st, offset, simple);
        if (d === undefined) continue;
        data = d;
      }
      if (codec !== undefined) {
        // Run for every lace (Vorbis keeps state); used when the container gave no duration.
        const c = this.codecDuration(st, data);
        if (blockDurNs === undefined) {
          t = ts + acc;
          dur = c;
          if (c !== undefined) acc += c;
        }
      }
      this.counts.frames++;
      if (onFrame === undefined) continue;
      if (simple) onFrame({ track, timestamp: t, duration: dur, keyframe, data, discardable, invisible, offset });
      else onFrame(this.groupFrame(track, t, dur, keyframe, data, invisible, offset));
    }
  }

  /** A codec frame duration in ns: whole TimestampScale ticks, rounded down (as ffprobe reports them). */
  private codecDuration(st: TrackState, data: Uint8Array): number | undefined {
    const codec = st.codec!;
    const samples = codec.samples(data);
    const rate = codec.rate;
    if (samples === undefined || !(rate > 0)) return undefined;
    const scale = this.scale;
    const m = st.memo;
    if (samples === m.samples && rate === m.rate && scale === m.scale) return m.ns;
    m.samples = samples;
    m.rate = rate;
    m.scale = scale;
    return (m.ns = Math.floor((samples * 1e9) / (rate * scale)) * scale);
  }

  /** Undoes a frame's content encodings; a frame that cannot be decoded is dropped with an error. */
  private decode(data: Uint8Array, st: TrackState, offset: number, simple: boolean): Uint8Array | undefined {
    const path = simple ? SIMPLEBLOCK_PATH : BLOCK_PATH;
    try {
      // The block's end (its offset + payload size) marks the input read so far: the same for any chunking.
      const out = this.budgeted(data, st.steps!, st.inflates, st.prefixBytes, offset + data.length);
      if (out !== undefined) return out;
      this.counts.decodeBudgetDrops++;
      if (this.budgetReported.has(st.info.number)) return undefined;
      this.budgetReported.add(st.info.number);
      this.error('DECOMPRESSION', this.budgetMessage(st.info.number), offset, path);
    } catch (err) {
      const e = err as EbmlError;
      this.error('DECOMPRESSION', `track ${st.info.number}: ${e.message}; frame dropped`, offset, path);
    }
    return undefined;
  }

  /**
   * Undoes content encodings under the decode budget (a token bucket refilled up to input offset
   * `inputEnd`): everything decoding produces beyond the stored bytes is work bounded per input byte,
   * inflated output as well as header-stripping prefixes (1 KiB restored in front of each of 100,000
   * one-byte frames would be 100 MB out of a few hundred KB). A frame is decoded only when the budget
   * covers the most it could produce (for zlib: its size x the deflate ratio bound, capped at
   * maxDecompressedSize), so no work is spent on a frame that is then dropped. Returns undefined when
   * the budget cannot cover the frame; throws the DECOMPRESSION error of corrupt data or of a frame above
   * maxDecompressedSize.
   */
  private budgeted(
    data: Uint8Array,
    steps: ContentDecodingPlan['steps'],
    inflates: boolean,
    prefixBytes: number,
    inputEnd: number,
  ): Uint8Array | undefined {
    if (inputEnd > this.budgetRefilledTo) {
      this.budgetTokens = Math.min(
        this.budgetBurst,
        this.budgetTokens + (inputEnd - this.budgetRefilledTo) * this.budgetRatio,
      );
      this.budgetRefilledTo = inputEnd;
    }
    const need = (inflates ? Math.min(this.maxDecompressed, data.length * MAX_DEFLATE_RATIO) : 0) + prefixBytes;
    if (this.budgetTokens < need) return undefined;
    let out: Uint8Array;
    try {
      out = decodeContent(data, steps, this.maxDecompressed);
    } catch (err) {
      this.budgetTokens -= need; // the work done, at most
      throw err;
    }
    const work = inflates ? out.length : prefixBytes;
    this.budgetTokens = Math.max(0, this.budgetTokens - work);
    this.counts.decodedBytes += work;
    return out;
  }

  private budgetMessage(track: number): string {
    return (
      `track ${track}: content decoding budget used up (${this.counts.decodedBytes} bytes inflated or restored; ` +
      `the budget is ${this.budgetBurst} bytes at once, refilled by ${this.budgetRatio} per input byte): ` +
      'encoded frames that do not fit are dropped (counted in stats.decodeBudgetDrops); a decompression bomb?'
    );
  }
}

/** Everything demuxed from a whole input (see `demuxSync`). */
export interface DemuxResult {
  header: MatroskaHeader | undefined;
  frames: Frame[];
  cues: CuePoint[];
  chapters: Edition[];
  tags: Tag[];
  attachments: Attachment[];
  errors: EbmlError[];
}

/** Demuxes a whole input held in memory (one buffer or several chunks), synchronously. */
export function demuxSync(input: Uint8Array | Iterable<Uint8Array>, options?: DemuxerOptions): DemuxResult {
  const r: DemuxResult = {
    header: undefined,
    frames: [],
    cues: [],
    chapters: [],
    tags: [],
    attachments: [],
    errors: [],
  };
  const d = new MatroskaDemuxer(
    {
      onHeader: (h) => (r.header = h),
      onFrame: (f) => r.frames.push(f),
      onCues: (c) => r.cues.push(...c),
      onChapters: (c) => r.chapters.push(...c),
      onTags: (t) => r.tags.push(...t),
      onAttachments: (a) => r.attachments.push(...a),
      onError: (e) => r.errors.push(e),
    },
    options,
  );
  if (input instanceof Uint8Array) d.push(input);
  else for (const c of input) d.push(c);
  d.end();
  return r;
}
