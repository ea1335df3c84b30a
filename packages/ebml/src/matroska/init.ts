// Init part encoding: EBML header, Segment start, Info and Tracks from a MatroskaHeader (what a player
// needs before the first Cluster). ContentEncodings are not written: frames handed out are decoded.

import { EbmlError } from '../errors.js';
import { ELEMENT_BY_NAME, Id } from '../schema.generated.js';
import { ByteWriter, writeVoid } from '../writer.js';
import type { MatroskaHeader, SegmentInfo, TrackInfo } from './types.js';

export const MUXING_APP = 'mkvserve';

/** Byte length of the Duration slot (Duration float64 element, or a Void of the same size). */
export const DURATION_SLOT_SIZE = 11;

export interface InitPartOptions {
  /** Live: Segment of unknown size, no Duration. */
  live: boolean;
  /** Overrides header.ebml.docType ('matroska' or 'webm'). */
  docType?: string;
}

function docTypeOf(header: MatroskaHeader, override?: string): string {
  const d = override ?? header.ebml?.docType ?? 'matroska';
  return d || 'matroska';
}

/** Writes the EBML header element for `docType` (DocTypeVersion 4, DocTypeReadVersion 2). */
export function writeEbmlHeader(w: ByteWriter, docType: string): void {
  const m = w.startMaster(Id.EBML);
  w.uintElement(Id.EBMLVersion, 1);
  w.uintElement(Id.EBMLReadVersion, 1);
  w.uintElement(Id.EBMLMaxIDLength, 4);
  w.uintElement(Id.EBMLMaxSizeLength, 8);
  w.stringElement(Id.DocType, docType);
  w.uintElement(Id.DocTypeVersion, 4);
  w.uintElement(Id.DocTypeReadVersion, 2);
  w.endMaster(m);
}

export interface InfoWriteOptions {
  /** Nanoseconds; written as a float64 Duration in ticks. */
  duration?: number;
  /** Reserve an 11-byte slot (a Void) where a Duration can be patched in later. */
  durationPlaceholder?: boolean;
}

/**
 * Writes the Info element. Returns the offset in `w` of the Duration slot (11 bytes: Duration or the
 * Void placeholder), or -1 when there is none.
 */
export function writeInfo(w: ByteWriter, info: SegmentInfo, opts: InfoWriteOptions = {}): number {
  const scale = info.timestampScale > 0 ? info.timestampScale : 1_000_000;
  const m = w.startMaster(Id.Info);
  w.uintElement(Id.TimestampScale, scale);
  let slot = -1;
  // The slot position is computed after endMaster moves content (see below).
  let slotInData = -1;
  const dataStart = m + 8;
  if (opts.duration !== undefined || opts.durationPlaceholder) {
    slotInData = w.pos - dataStart;
    if (opts.duration !== undefined) encodeDurationInto(w, opts.duration, scale);
    else writeVoid(w, DURATION_SLOT_SIZE);
  }
  if (info.segmentUUID && info.segmentUUID.length === 16) w.binaryElement(Id.SegmentUUID, info.segmentUUID);
  if (info.dateUTC !== undefined) w.dateElement(Id.DateUTC, info.dateUTC);
  if (info.title !== undefined) w.stringElement(Id.Title, info.title);
  w.stringElement(Id.MuxingApp, MUXING_APP);
  w.stringElement(Id.WritingApp, info.writingApp ?? MUXING_APP);
  const before = w.pos;
  w.endMaster(m);
  const shift = before - w.pos;
  if (slotInData >= 0) slot = dataStart - shift + slotInData;
  return slot;
}

function encodeDurationInto(w: ByteWriter, durationNs: number, scale: number): void {
  w.id(Id.Duration);
  w.u8(0x80 | 8); // an 8-byte size: a float64
  w.float(durationNs / scale, 8);
}

/** The 11-byte Duration element (float64, in ticks) to patch into a Duration slot. */
export function encodeDurationSlot(durationNs: number, timestampScale: number): Uint8Array {
  const w = new ByteWriter(DURATION_SLOT_SIZE);
  encodeDurationInto(w, durationNs, timestampScale > 0 ? timestampScale : 1_000_000);
  return w.finish();
}

const VIDEO_KNOWN = /* @__PURE__ */ new Set([
  'PixelWidth',
  'PixelHeight',
  'DisplayWidth',
  'DisplayHeight',
  'DisplayUnit',
  'FlagInterlaced',
]);

function writeExtra(w: ByteWriter, extra: Record<string, unknown>): void {
  for (const [name, value] of Object.entries(extra)) {
    const info = ELEMENT_BY_NAME.get(name);
    if (!info || value === undefined || value === null) continue;
    const values = Array.isArray(value) ? value : [value];
    for (const v of values) {
      if (info.type === 'master') {
        if (typeof v !== 'object' || v === null || v instanceof Uint8Array) continue;
        const m = w.startMaster(info.id);
        writeExtra(w, v as Record<string, unknown>);
        w.endMaster(m);
      } else if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'string' || v instanceof Uint8Array) {
        try {
          w.element(info.id, v, info.type);
        } catch {
          // A value of the wrong shape for its element: left out.
        }
      }
    }
  }
}

/** Writes one TrackEntry. */
export function writeTrackEntry(w: ByteWriter, t: TrackInfo, docType = 'matroska'): void {
  if (!Number.isInteger(t.number) || t.number < 1)
    throw new EbmlError({ code: 'ENCODE', message: `invalid track number ${t.number}` });
  const m = w.startMaster(Id.TrackEntry);
  w.uintElement(Id.TrackNumber, t.number);
  w.uintElement(Id.TrackUID, t.uid !== undefined && t.uid !== 0n ? t.uid : BigInt(t.number));
  w.uintElement(Id.TrackType, t.type);
  if (t.flagEnabled !== undefined) w.uintElement(Id.FlagEnabled, t.flagEnabled ? 1 : 0);
  if (t.flagDefault !== undefined) w.uintElement(Id.FlagDefault, t.flagDefault ? 1 : 0);
  if (t.flagForced !== undefined) w.uintElement(Id.FlagForced, t.flagForced ? 1 : 0);
  // Blocks are never laced by this muxer.
  w.uintElement(Id.FlagLacing, 0);
  if (t.defaultDuration !== undefined && t.defaultDuration > 0)
    w.uintElement(Id.DefaultDuration, Math.round(t.defaultDuration));
  if (t.name !== undefined) w.stringElement(Id.Name, t.name);
  if (t.language !== undefined) w.stringElement(Id.Language, t.language);
  if (t.languageBCP47 !== undefined && docType !== 'webm') w.stringElement(Id.LanguageBCP47, t.languageBCP47);
  w.stringElement(Id.CodecID, t.codecId);
  if (t.codecPrivate !== undefined && t.codecPrivate.length > 0) w.binaryElement(Id.CodecPrivate, t.codecPrivate);
  if (t.codecName !== undefined) w.stringElement(Id.CodecName, t.codecName);
  if (t.codecDelay !== undefined && t.codecDelay > 0) w.uintElement(Id.CodecDelay, Math.round(t.codecDelay));
  if (t.seekPreRoll !== undefined && t.seekPreRoll > 0) w.uintElement(Id.SeekPreRoll, Math.round(t.seekPreRoll));
  if (t.video) {
    const v = t.video;
    const vm = w.startMaster(Id.Video);
    if (v.flagInterlaced !== undefined) w.uintElement(Id.FlagInterlaced, v.flagInterlaced);
    w.uintElement(Id.PixelWidth, v.pixelWidth);
    w.uintElement(Id.PixelHeight, v.pixelHeight);
    if (v.displayWidth !== undefined) w.uintElement(Id.DisplayWidth, v.displayWidth);
    if (v.displayHeight !== undefined) w.uintElement(Id.DisplayHeight, v.displayHeight);
    if (v.displayUnit !== undefined) w.uintElement(Id.DisplayUnit, v.displayUnit);
    if (v.extra) {
      const rest: Record<string, unknown> = {};
      for (const [k, val] of Object.entries(v.extra)) if (!VIDEO_KNOWN.has(k)) rest[k] = val;
      writeExtra(w, rest);
    }
    w.endMaster(vm);
  }
  if (t.audio) {
    const a = t.audio;
    const am = w.startMaster(Id.Audio);
    w.floatElement(Id.SamplingFrequency, a.samplingFrequency);
    if (a.outputSamplingFrequency !== undefined) w.floatElement(Id.OutputSamplingFrequency, a.outputSamplingFrequency);
    w.uintElement(Id.Channels, a.channels);
    if (a.bitDepth !== undefined) w.uintElement(Id.BitDepth, a.bitDepth);
    w.endMaster(am);
  }
  w.endMaster(m);
}

/** Writes the Tracks element. */
export function writeTracks(w: ByteWriter, tracks: readonly TrackInfo[], docType = 'matroska'): void {
  const m = w.startMaster(Id.Tracks);
  for (const t of tracks) writeTrackEntry(w, t, docType);
  w.endMaster(m);
}

/** Segment ID + unknown size (8 bytes, all ones); a file writer may patch the size in later. */
export function writeSegmentStart(w: ByteWriter): void {
  w.id(Id.Segment);
  w.unknownSize(8);
}

/**
 * EBML header + Segment header (unknown size: the Segment size is not known before the end; a file
 * muxer patches it) + Info (TimestampScale, MuxingApp 'mkvserve', WritingApp, Title; Duration only when
 * not live and header.info.duration is known) + Tracks.
 */
export function encodeInitPart(header: MatroskaHeader, opts: InitPartOptions): Uint8Array {
  const docType = docTypeOf(header, opts.docType);
  let size = 256;
  for (const t of header.tracks) size += 128 + (t.codecPrivate?.length ?? 0);
  const w = new ByteWriter(size);
  writeEbmlHeader(w, docType);
  writeSegmentStart(w);
  const infoOpts: InfoWriteOptions = {};
  if (!opts.live && header.info.duration !== undefined) infoOpts.duration = header.info.duration;
  writeInfo(w, header.info, infoOpts);
  writeTracks(w, header.tracks, docType);
  return w.finish();
}

/** The DocType an init part for this header would declare. */
export function initDocType(header: MatroskaHeader, override?: string): string {
  return docTypeOf(header, override);
}
