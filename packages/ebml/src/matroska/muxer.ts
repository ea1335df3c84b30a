// MatroskaMuxer: header + frames -> Matroska/WebM bytes. Live mode: unknown-size Segment and Clusters,
// output as frames arrive. File mode: the same sequential stream (valid on its own) plus, at finish(),
// patches {position, data} that fill in known sizes, Duration, the SeekHead and point to the Cues.
// Clusters start at video keyframes (audio/subtitle-only: about every second) and are split whenever a
// block's int16 relative timestamp would overflow.

import { EbmlError } from '../errors.js';
import { Id } from '../schema.generated.js';
import { ByteWriter, writeVoid } from '../writer.js';
import { encodeBlock, encodeBlockParts, encodeClusterStart, needsBlockGroup } from './block.js';
import { encodeDurationSlot, initDocType, writeEbmlHeader, writeInfo, writeSegmentStart, writeTracks } from './init.js';
import type {
  Attachment,
  ChapterAtom,
  CuePoint,
  Edition,
  Frame,
  MatroskaHeader,
  SimpleTag,
  Tag,
  TrackInfo,
} from './types.js';

/** Bytes to overwrite at an absolute output position once the stream is finished. */
export interface MuxerPatch {
  position: number;
  data: Uint8Array;
}

export interface MatroskaMuxerOptions {
  /** Live: unknown sizes, no SeekHead/Cues/Duration, nothing to patch. File: patches at finish(). */
  live: boolean;
  /** Overrides header.ebml.docType. */
  docType?: string;
  /** Receives every output chunk, in order (in addition to the chunks returned by each call). */
  write?: (chunk: Uint8Array) => void;
  /** Cluster length when there is no video track (ns), default 1 s. */
  clusterDuration?: number;
  /** Also cut a Cluster (at any frame) once it spans this many ns; default: only keyframes and int16 limits. */
  maxClusterDuration?: number;
  /** Write Cues in file mode (default true). */
  cues?: boolean;
  /**
   * Emit block parts [head, payload, trailer?] with the payload being `frame.data` itself instead of one
   * copied buffer per block (for writev). The caller must then not reuse frame buffers until written.
   */
  zeroCopy?: boolean;
  /** Written before the first Cluster (both modes). Attachments are not written for WebM. */
  chapters?: Edition[];
  tags?: Tag[];
  attachments?: Attachment[];
}

/**
 * Metadata that arrived after the first Cluster (mkvmerge writes Tags, sometimes Chapters and Attachments,
 * after the Clusters; from a pipe they are only known at the end). finish() writes them after the Cues
 * (file mode: with SeekHead entries, room for which is reserved at start). Chapters and Attachments
 * already written at start cannot be written again (ENCODE error); a second Tags element is fine.
 * Attachments are not written for WebM.
 */
export interface MuxerLateMetadata {
  chapters?: Edition[];
  tags?: Tag[];
  attachments?: Attachment[];
}

export interface MuxerFinish {
  /** Last chunks of the stream (end of the last Cluster, Cues). */
  chunks: Uint8Array[];
  /** File mode: overwrite these byte ranges of the output (positional writes). Empty when live. */
  patches: MuxerPatch[];
  /** Total bytes output. */
  size: number;
  /** Nanoseconds: max(timestamp + duration) over the frames. */
  duration: number;
  /** The Cues written (file mode), positions relative to the Segment data start. */
  cues: CuePoint[];
}

interface TrackState {
  info: TrackInfo;
  lastTicks: number | undefined;
}

export class MatroskaMuxer {
  private readonly header: MatroskaHeader;
  private readonly opts: MatroskaMuxerOptions;
  private readonly scale: number;
  private readonly docType: string;
  private readonly tracks = new Map<number, TrackState>();
  /** The track whose keyframes start Clusters (first video track), 0 when none. */
  private readonly cutTrack: number;
  private pos = 0;
  private started = false;
  private finished = false;
  private segmentSizePos = -1;
  private segmentDataStart = -1;
  private durationSlot = -1;
  private seekHeadPos = -1;
  private seekHeadSize = 0;
  private readonly seekEntries: { id: number; position: number }[] = [];
  /** Level-1 metadata elements written at start (IDs), so finish() does not write them twice. */
  private readonly startMeta = new Set<number>();
  private readonly patches: MuxerPatch[] = [];
  private readonly cues: CuePoint[] = [];
  private clusterOpen = false;
  private clusterPos = 0;
  private clusterDataStart = 0;
  private clusterTicks = 0;
  private clusterHasCutTrackKey = false;
  private clusterCued = false;
  private maxEndNs = 0;
  private out: Uint8Array[] = [];

  constructor(header: MatroskaHeader, options: MatroskaMuxerOptions) {
    this.header = header;
    this.opts = options;
    this.scale = header.info.timestampScale > 0 ? header.info.timestampScale : 1_000_000;
    this.docType = initDocType(header, options.docType);
    let cut = 0;
    for (const t of header.tracks) {
      this.tracks.set(t.number, { info: t, lastTicks: undefined });
      if (!cut && (t.kind === 'video' || t.type === 1)) cut = t.number;
    }
    this.cutTrack = cut;
  }

  /** Bytes output so far (the absolute position of the next chunk). */
  get position(): number {
    return this.pos;
  }

  /** Absolute offset of the Segment data (Cue and SeekHead positions are relative to it); -1 before start. */
  get segmentDataOffset(): number {
    return this.segmentDataStart;
  }

  private emit(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.out.push(chunk);
    this.pos += chunk.length;
    this.opts.write?.(chunk);
  }

  private take(): Uint8Array[] {
    const r = this.out;
    this.out = [];
    return r;
  }

  /** Emits the init part (EBML header, Segment start, [SeekHead], Info, Tracks, [Chapters, Attachments, Tags]) if not done yet. */
  start(): Uint8Array[] {
    if (!this.started) this.writeStart();
    return this.take();
  }

  private writeStart(): void {
    this.started = true;
    const live = this.opts.live;
    const h = this.header;
    let cap = 512;
    for (const t of h.tracks) cap += 160 + (t.codecPrivate?.length ?? 0);
    for (const a of this.opts.attachments ?? []) cap += a.data.length + 256;
    const w = new ByteWriter(cap);
    writeEbmlHeader(w, this.docType);
    this.segmentSizePos = w.pos + 4;
    writeSegmentStart(w);
    this.segmentDataStart = w.pos;
    const rel = (p: number): number => p - this.segmentDataStart;
    const chapters = this.opts.chapters && this.opts.chapters.length > 0 ? this.opts.chapters : undefined;
    const tags = this.opts.tags && this.opts.tags.length > 0 ? this.opts.tags : undefined;
    const attachments =
      this.opts.attachments && this.opts.attachments.length > 0 && this.docType !== 'webm'
        ? this.opts.attachments
        : undefined;
    if (!live) {
      // Room for a SeekHead with every entry (8-byte positions); filled in at finish(). Info, Tracks, Cues,
      // the metadata written now, and one slot each for Chapters, Tags and Attachments given to finish().
      let entries = 3 + 3;
      if (chapters) entries++;
      if (tags) entries++;
      if (attachments) entries++;
      this.seekHeadSize = 5 + entries * 21;
      this.seekHeadPos = w.pos;
      writeVoid(w, this.seekHeadSize);
    }
    const infoPos = w.pos;
    const slot = writeInfo(w, h.info, live ? {} : { durationPlaceholder: true });
    if (!live) this.durationSlot = slot;
    const tracksPos = w.pos;
    writeTracks(w, h.tracks, this.docType);
    this.seekEntries.push({ id: Id.Info, position: rel(infoPos) }, { id: Id.Tracks, position: rel(tracksPos) });
    if (chapters) {
      this.startMeta.add(Id.Chapters);
      this.seekEntries.push({ id: Id.Chapters, position: rel(w.pos) });
      writeChapters(w, chapters);
    }
    if (attachments) {
      this.startMeta.add(Id.Attachments);
      this.seekEntries.push({ id: Id.Attachments, position: rel(w.pos) });
      writeAttachments(w, attachments);
    }
    if (tags) {
      this.startMeta.add(Id.Tags);
      this.seekEntries.push({ id: Id.Tags, position: rel(w.pos) });
      writeTags(w, tags);
    }
    if (!live) {
      // A SeekHead without Cues already now, so the sequential output is usable without the patches.
      const sh = encodeSeekHead(this.seekEntries, this.seekHeadSize);
      w.buf.set(sh, this.seekHeadPos);
    }
    this.emit(w.finish());
  }

  private closeCluster(): void {
    if (!this.clusterOpen) return;
    this.clusterOpen = false;
    if (!this.opts.live) {
      const size = this.pos - this.clusterDataStart;
      this.patches.push({ position: this.clusterPos + 4, data: sizeVint8(size) });
    }
  }

  private openCluster(ticks: number): void {
    this.closeCluster();
    this.clusterOpen = true;
    this.clusterPos = this.pos;
    this.clusterDataStart = this.pos + 12;
    this.clusterTicks = ticks;
    this.clusterHasCutTrackKey = false;
    this.clusterCued = false;
    this.emit(encodeClusterStart(ticks));
  }

  /** Adds one frame (in decode order); returns the chunks it produced. */
  addFrame(frame: Frame): Uint8Array[] {
    if (this.finished) throw new EbmlError({ code: 'ENCODE', message: 'muxer already finished' });
    if (!this.started) this.writeStart();
    const st = this.tracks.get(frame.track);
    if (!st)
      throw new EbmlError({ code: 'ENCODE', message: `frame for track ${frame.track}, which is not in the header` });
    if (!Number.isFinite(frame.timestamp))
      throw new EbmlError({ code: 'ENCODE', message: `invalid frame timestamp ${frame.timestamp}` });
    const ticks = Math.round(frame.timestamp / this.scale);
    const isCutKey = frame.keyframe && frame.track === this.cutTrack;
    let cut = !this.clusterOpen;
    if (!cut) {
      const rel = ticks - this.clusterTicks;
      if (rel > 32767 || rel < -32768) cut = true;
      else if (this.cutTrack) {
        if (isCutKey && this.clusterHasCutTrackKey) cut = true;
        else if (isCutKey && !this.clusterHasCutTrackKey && rel !== 0) cut = true;
      } else if (rel >= Math.round((this.opts.clusterDuration ?? 1e9) / this.scale)) cut = true;
      if (
        !cut &&
        this.opts.maxClusterDuration !== undefined &&
        rel >= Math.round(this.opts.maxClusterDuration / this.scale)
      )
        cut = true;
    }
    if (cut) {
      const ct = Math.max(0, ticks);
      if (ticks - ct < -32768) {
        throw new EbmlError({
          code: 'ENCODE',
          message: `frame timestamp ${frame.timestamp} ns is too far below 0 to be stored`,
        });
      }
      this.openCluster(ct);
    }
    const relTicks = ticks - this.clusterTicks;
    // Cues: the first cut-track keyframe of a Cluster; without video, each Cluster's first frame.
    if (!this.opts.live && this.opts.cues !== false && !this.clusterCued) {
      if (this.cutTrack ? isCutKey : true) {
        this.clusterCued = true;
        this.cues.push({
          time: Math.max(0, ticks) * this.scale,
          positions: [
            {
              track: frame.track,
              clusterPosition: this.clusterPos - this.segmentDataStart,
              relativePosition: this.pos - this.clusterDataStart,
            },
          ],
        });
      }
    }
    if (isCutKey) this.clusterHasCutTrackKey = true;
    const f = this.prepare(frame, st, ticks);
    st.lastTicks = ticks;
    if (this.opts.zeroCopy) {
      for (const part of encodeBlockParts(f, relTicks)) this.emit(part);
    } else {
      this.emit(encodeBlock(f, relTicks));
    }
    const end = frame.timestamp + (frame.duration ?? 0);
    if (end > this.maxEndNs) this.maxEndNs = end;
    return this.take();
  }

  /** Fills in what a BlockGroup needs: BlockDuration for subtitles, a ReferenceBlock for non-keyframes. */
  private prepare(frame: Frame, st: TrackState, ticks: number): Frame {
    const t = st.info;
    let f = frame;
    if (f.blockDuration === undefined && f.duration !== undefined && (t.kind === 'subtitle' || t.type === 0x11)) {
      f = { ...f, blockDuration: Math.round(f.duration / this.scale) };
    }
    if (!f.keyframe && (!f.references || f.references.length === 0) && needsBlockGroup(f)) {
      let ref = st.lastTicks !== undefined ? st.lastTicks - ticks : -1;
      if (ref === 0) ref = -1;
      f = { ...f, references: [ref] };
    }
    return f;
  }

  /**
   * Ends the stream: closes the last Cluster and writes the Cues (file mode), then `late` metadata (see
   * MuxerLateMetadata). Returns the final chunks and, in file mode, the patches to apply (Segment size,
   * Cluster sizes, Duration, SeekHead).
   */
  finish(late: MuxerLateMetadata = {}): MuxerFinish {
    if (this.finished) throw new EbmlError({ code: 'ENCODE', message: 'muxer already finished' });
    const lateChapters = late.chapters && late.chapters.length > 0 ? late.chapters : undefined;
    const lateTags = late.tags && late.tags.length > 0 ? late.tags : undefined;
    const lateAttachments =
      late.attachments && late.attachments.length > 0 && this.docType !== 'webm' ? late.attachments : undefined;
    if (!this.started) this.writeStart();
    for (const [given, id, what] of [
      [lateChapters, Id.Chapters, 'Chapters'],
      [lateAttachments, Id.Attachments, 'Attachments'],
    ] as const) {
      if (given && this.startMeta.has(id)) {
        throw new EbmlError({
          code: 'ENCODE',
          message: `${what} were already written at the start; they cannot be written again at finish()`,
        });
      }
    }
    this.closeCluster();
    this.finished = true;
    if (!this.opts.live && this.cues.length > 0) {
      this.seekEntries.push({ id: Id.Cues, position: this.pos - this.segmentDataStart });
      this.emit(encodeCues(this.cues, this.scale));
    }
    if (lateChapters || lateTags || lateAttachments) {
      let cap = 256;
      for (const a of lateAttachments ?? []) cap += a.data.length + 256;
      const w = new ByteWriter(cap);
      const put = (id: number, write: () => void): void => {
        // One of the three SeekHead slots reserved at start for late metadata (live: no SeekHead).
        if (!this.opts.live) this.seekEntries.push({ id, position: this.pos + w.pos - this.segmentDataStart });
        write();
      };
      if (lateChapters) put(Id.Chapters, () => writeChapters(w, lateChapters));
      if (lateAttachments) put(Id.Attachments, () => writeAttachments(w, lateAttachments));
      if (lateTags) put(Id.Tags, () => writeTags(w, lateTags));
      this.emit(w.finish());
    }
    if (!this.opts.live) {
      this.patches.push({ position: this.segmentSizePos, data: sizeVint8(this.pos - this.segmentDataStart) });
      if (this.durationSlot >= 0) {
        this.patches.push({ position: this.durationSlot, data: encodeDurationSlot(this.maxEndNs, this.scale) });
      }
      this.patches.push({ position: this.seekHeadPos, data: encodeSeekHead(this.seekEntries, this.seekHeadSize) });
    }
    return {
      chunks: this.take(),
      patches: this.patches.slice(),
      size: this.pos,
      duration: this.maxEndNs,
      cues: this.cues.slice(),
    };
  }
}

/** An 8-byte size vint (0x01 marker + 7 bytes), so a placeholder can be patched in place. */
function sizeVint8(size: number): Uint8Array {
  const out = new Uint8Array(8);
  let v = size;
  for (let i = 7; i > 0; i--) {
    out[i] = v % 256;
    v = Math.floor(v / 256);
  }
  out[0] = 0x01;
  return out;
}

/** SeekHead with the given entries, padded with a Void to exactly `total` bytes. */
export function encodeSeekHead(entries: readonly { id: number; position: number }[], total: number): Uint8Array {
  const w = new ByteWriter(total + 16);
  const m = w.startMaster(Id.SeekHead);
  for (const e of entries) {
    const s = w.startMaster(Id.Seek);
    w.binaryElement(Id.SeekID, idBytes(e.id));
    w.uintElement(Id.SeekPosition, e.position);
    w.endMaster(s);
  }
  const dataLen = w.pos - (m + 8);
  w.endMaster(m);
  let rest = total - w.pos;
  if (rest === 1) {
    // A Void needs 2 bytes: widen the SeekHead size field by one byte instead.
    w.reset();
    const m2 = w.startMaster(Id.SeekHead);
    for (const e of entries) {
      const s = w.startMaster(Id.Seek);
      w.binaryElement(Id.SeekID, idBytes(e.id));
      w.uintElement(Id.SeekPosition, e.position);
      w.endMaster(s);
    }
    w.endMaster(m2, sizeLen(dataLen) + 1);
    rest = total - w.pos;
  }
  if (rest < 0)
    throw new EbmlError({ code: 'ENCODE', message: `SeekHead needs ${w.pos} bytes, only ${total} reserved` });
  if (rest > 0) writeVoid(w, rest);
  return w.finish();
}

function sizeLen(n: number): number {
  let len = 1;
  while (len < 8 && n >= 2 ** (7 * len) - 1) len++;
  return len;
}

function idBytes(id: number): Uint8Array {
  const len = id < 0x100 ? 1 : id < 0x10000 ? 2 : id < 0x1000000 ? 3 : 4;
  const out = new Uint8Array(len);
  let v = id;
  for (let i = len - 1; i >= 0; i--) {
    out[i] = v & 0xff;
    v = Math.floor(v / 256);
  }
  return out;
}

/** Encodes a Cues element (times in ns, converted to ticks; positions relative to the Segment data). */
export function encodeCues(cues: readonly CuePoint[], timestampScale: number): Uint8Array {
  const w = new ByteWriter(32 + cues.length * 24);
  const m = w.startMaster(Id.Cues);
  for (const c of cues) {
    const p = w.startMaster(Id.CuePoint);
    w.uintElement(Id.CueTime, Math.round(c.time / timestampScale));
    for (const tp of c.positions) {
      const q = w.startMaster(Id.CueTrackPositions);
      w.uintElement(Id.CueTrack, tp.track);
      w.uintElement(Id.CueClusterPosition, tp.clusterPosition);
      if (tp.relativePosition !== undefined) w.uintElement(Id.CueRelativePosition, tp.relativePosition);
      if (tp.duration !== undefined) w.uintElement(Id.CueDuration, tp.duration);
      if (tp.blockNumber !== undefined) w.uintElement(Id.CueBlockNumber, tp.blockNumber);
      w.endMaster(q);
    }
    w.endMaster(p);
  }
  w.endMaster(m);
  return w.finish();
}

function writeChapterAtom(w: ByteWriter, a: ChapterAtom): void {
  const m = w.startMaster(Id.ChapterAtom);
  w.uintElement(Id.ChapterUID, a.uid);
  w.uintElement(Id.ChapterTimeStart, Math.max(0, Math.round(a.start)));
  if (a.end !== undefined) w.uintElement(Id.ChapterTimeEnd, Math.max(0, Math.round(a.end)));
  if (a.hidden !== undefined) w.uintElement(Id.ChapterFlagHidden, a.hidden ? 1 : 0);
  if (a.enabled !== undefined) w.uintElement(Id.ChapterFlagEnabled, a.enabled ? 1 : 0);
  for (const d of a.displays) {
    const dm = w.startMaster(Id.ChapterDisplay);
    w.stringElement(Id.ChapString, d.string);
    for (const l of d.languages) w.stringElement(Id.ChapLanguage, l);
    for (const c of d.countries ?? []) w.stringElement(Id.ChapCountry, c);
    w.endMaster(dm);
  }
  for (const c of a.children) writeChapterAtom(w, c);
  w.endMaster(m);
}

/** Writes a Chapters element. */
export function writeChapters(w: ByteWriter, editions: readonly Edition[]): void {
  const m = w.startMaster(Id.Chapters);
  for (const e of editions) {
    const em = w.startMaster(Id.EditionEntry);
    if (e.uid !== undefined) w.uintElement(Id.EditionUID, e.uid);
    if (e.hidden !== undefined) w.uintElement(Id.EditionFlagHidden, e.hidden ? 1 : 0);
    if (e.default !== undefined) w.uintElement(Id.EditionFlagDefault, e.default ? 1 : 0);
    if (e.ordered !== undefined) w.uintElement(Id.EditionFlagOrdered, e.ordered ? 1 : 0);
    for (const a of e.chapters) writeChapterAtom(w, a);
    w.endMaster(em);
  }
  w.endMaster(m);
}

function writeSimpleTag(w: ByteWriter, s: SimpleTag): void {
  const m = w.startMaster(Id.SimpleTag);
  w.stringElement(Id.TagName, s.name);
  if (s.language !== undefined) w.stringElement(Id.TagLanguage, s.language);
  if (s.default !== undefined) w.uintElement(Id.TagDefault, s.default ? 1 : 0);
  if (s.string !== undefined) w.stringElement(Id.TagString, s.string);
  else if (s.binary !== undefined) w.binaryElement(Id.TagBinary, s.binary);
  for (const c of s.children) writeSimpleTag(w, c);
  w.endMaster(m);
}

/** Writes a Tags element. */
export function writeTags(w: ByteWriter, tags: readonly Tag[]): void {
  const m = w.startMaster(Id.Tags);
  for (const t of tags) {
    const tm = w.startMaster(Id.Tag);
    const tg = w.startMaster(Id.Targets);
    if (t.targets.typeValue !== undefined) w.uintElement(Id.TargetTypeValue, t.targets.typeValue);
    if (t.targets.type !== undefined) w.stringElement(Id.TargetType, t.targets.type);
    for (const u of t.targets.trackUIDs) w.uintElement(Id.TagTrackUID, u);
    for (const u of t.targets.editionUIDs) w.uintElement(Id.TagEditionUID, u);
    for (const u of t.targets.chapterUIDs) w.uintElement(Id.TagChapterUID, u);
    for (const u of t.targets.attachmentUIDs) w.uintElement(Id.TagAttachmentUID, u);
    w.endMaster(tg);
    for (const s of t.simpleTags) writeSimpleTag(w, s);
    w.endMaster(tm);
  }
  w.endMaster(m);
}

/** Writes an Attachments element. */
export function writeAttachments(w: ByteWriter, files: readonly Attachment[]): void {
  const m = w.startMaster(Id.Attachments);
  for (const a of files) {
    const am = w.startMaster(Id.AttachedFile);
    if (a.description !== undefined) w.stringElement(Id.FileDescription, a.description);
    w.stringElement(Id.FileName, a.name);
    w.stringElement(Id.FileMediaType, a.mediaType);
    w.binaryElement(Id.FileData, a.data);
    w.uintElement(Id.FileUID, a.uid);
    w.endMaster(am);
  }
  w.endMaster(m);
}

/** Applies patches to a complete in-memory output (the concatenated chunks). */
export function applyPatches(bytes: Uint8Array, patches: readonly MuxerPatch[]): Uint8Array {
  for (const p of patches) bytes.set(p.data, p.position);
  return bytes;
}

/** Convenience: mux frames into one in-memory file (file mode, patches applied). */
export function muxToBytes(
  header: MatroskaHeader,
  frames: Iterable<Frame>,
  options: Omit<MatroskaMuxerOptions, 'live' | 'write'> & { live?: boolean } = {},
): Uint8Array {
  const chunks: Uint8Array[] = [];
  const mux = new MatroskaMuxer(header, { ...options, live: options.live ?? false, write: (c) => chunks.push(c) });
  mux.start();
  for (const f of frames) mux.addFrame(f);
  const fin = mux.finish();
  const out = new Uint8Array(fin.size);
  let p = 0;
  for (const c of chunks) {
    out.set(c, p);
    p += c.length;
  }
  return applyPatches(out, fin.patches);
}
