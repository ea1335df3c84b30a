// Turning parsed level-1 element subtrees (Info, Tracks, Cues, Chapters, Tags, Attachments) into the
// types of matroska/types.ts. Works on any `{id, value?, children?}` tree: the demuxer's collected
// subtrees or tree.ts's ElementNode. Defaults come from the Matroska schema.

import { ELEMENT_BY_ID, Id } from '../schema.generated.js';
import type {
  Attachment,
  AudioSettings,
  ChapterAtom,
  ContentEncoding,
  CuePoint,
  Edition,
  SegmentInfo,
  SimpleTag,
  Tag,
  TrackInfo,
  TrackKind,
  VideoSettings,
} from './types.js';

/** A parsed element: leaves carry `value`, masters `children`. */
export interface MetaNode {
  readonly id: number;
  value?: unknown;
  children?: MetaNode[];
}

const TRACK_KINDS: Record<number, TrackKind> = {
  1: 'video',
  2: 'audio',
  3: 'complex',
  0x10: 'logo',
  0x11: 'subtitle',
  0x12: 'buttons',
  0x20: 'control',
  0x21: 'metadata',
};

/** TrackType number -> kind name. */
export function trackKind(type: number): TrackKind {
  return TRACK_KINDS[type] ?? 'unknown';
}

function num(v: unknown, dflt = 0): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  return dflt;
}
function big(v: unknown): bigint {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number' && Number.isFinite(v)) return BigInt(Math.trunc(v));
  return 0n;
}
function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}
function bin(v: unknown): Uint8Array | undefined {
  // Copied: values are views into input chunks that we should not keep alive.
  return v instanceof Uint8Array ? v.slice() : undefined;
}

/** Parses Info children. `timestampScale` defaults to 1,000,000; Duration is converted to ns. */
export function parseInfo(node: MetaNode): SegmentInfo {
  let scale = 1_000_000;
  let durationTicks: number | undefined;
  const info: SegmentInfo = { timestampScale: scale };
  for (const c of node.children ?? []) {
    switch (c.id) {
      case Id.TimestampScale: {
        const s = num(c.value, 0);
        if (s > 0) scale = s;
        break;
      }
      case Id.Duration:
        if (typeof c.value === 'number' && Number.isFinite(c.value) && c.value >= 0) durationTicks = c.value;
        break;
      case Id.Title:
        info.title = str(c.value);
        break;
      case Id.MuxingApp:
        info.muxingApp = str(c.value);
        break;
      case Id.WritingApp:
        info.writingApp = str(c.value);
        break;
      case Id.DateUTC:
        info.dateUTC = big(c.value);
        break;
      case Id.SegmentUUID:
        info.segmentUUID = bin(c.value);
        break;
    }
  }
  info.timestampScale = scale;
  if (durationTicks !== undefined) info.duration = durationTicks * scale;
  return info;
}

function parseExtra(children: MetaNode[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const c of children) {
    const name = ELEMENT_BY_ID.get(c.id)?.name ?? `0x${c.id.toString(16)}`;
    out[name] = c.children ? parseExtra(c.children) : c.value instanceof Uint8Array ? c.value.slice() : c.value;
  }
  return out;
}

function parseVideo(node: MetaNode): VideoSettings {
  const v: VideoSettings = { pixelWidth: 0, pixelHeight: 0 };
  const extra: MetaNode[] = [];
  for (const c of node.children ?? []) {
    switch (c.id) {
      case Id.PixelWidth:
        v.pixelWidth = num(c.value);
        break;
      case Id.PixelHeight:
        v.pixelHeight = num(c.value);
        break;
      case Id.DisplayWidth:
        v.displayWidth = num(c.value);
        break;
      case Id.DisplayHeight:
        v.displayHeight = num(c.value);
        break;
      case Id.DisplayUnit:
        v.displayUnit = num(c.value);
        break;
      case Id.FlagInterlaced:
        v.flagInterlaced = num(c.value);
        break;
      case Id.Void:
      case Id.CRC32:
        break;
      default:
        extra.push(c);
    }
  }
  if (extra.length) v.extra = parseExtra(extra);
  return v;
}

function parseAudio(node: MetaNode): AudioSettings {
  const a: AudioSettings = { samplingFrequency: 8000, channels: 1 };
  for (const c of node.children ?? []) {
    switch (c.id) {
      case Id.SamplingFrequency:
        if (typeof c.value === 'number' && c.value > 0) a.samplingFrequency = c.value;
        break;
      case Id.OutputSamplingFrequency:
        if (typeof c.value === 'number' && c.value > 0) a.outputSamplingFrequency = c.value;
        break;
      case Id.Channels:
        a.channels = num(c.value, 1) || 1;
        break;
      case Id.BitDepth:
        a.bitDepth = num(c.value);
        break;
    }
  }
  return a;
}

function parseContentEncodings(node: MetaNode): ContentEncoding[] {
  const out: ContentEncoding[] = [];
  for (const ce of node.children ?? []) {
    if (ce.id !== Id.ContentEncoding) continue;
    const e: ContentEncoding = { order: 0, scope: 1, type: 0 };
    for (const c of ce.children ?? []) {
      switch (c.id) {
        case Id.ContentEncodingOrder:
          e.order = num(c.value);
          break;
        case Id.ContentEncodingScope:
          e.scope = num(c.value, 1);
          break;
        case Id.ContentEncodingType:
          e.type = num(c.value);
          break;
        case Id.ContentCompression:
          e.compAlgo = 0;
          for (const cc of c.children ?? []) {
            if (cc.id === Id.ContentCompAlgo) e.compAlgo = num(cc.value);
            else if (cc.id === Id.ContentCompSettings) e.compSettings = bin(cc.value);
          }
          break;
        case Id.ContentEncryption:
          e.encAlgo = 0;
          for (const cc of c.children ?? []) if (cc.id === Id.ContentEncAlgo) e.encAlgo = num(cc.value);
          break;
      }
    }
    if (e.type === 0 && e.compAlgo === undefined) e.compAlgo = 0;
    out.push(e);
  }
  return out;
}

/** Parses one TrackEntry. Returns undefined when TrackNumber is missing or 0. */
export function parseTrackEntry(node: MetaNode): TrackInfo | undefined {
  const t: TrackInfo = { number: 0, uid: 0n, kind: 'unknown', type: 0, codecId: '' };
  t.language = 'eng';
  t.flagDefault = true;
  t.flagForced = false;
  t.flagEnabled = true;
  t.flagLacing = true;
  for (const c of node.children ?? []) {
    switch (c.id) {
      case Id.TrackNumber:
        t.number = num(c.value);
        break;
      case Id.TrackUID:
        t.uid = big(c.value);
        break;
      case Id.TrackType:
        t.type = num(c.value);
        t.kind = trackKind(t.type);
        break;
      case Id.CodecID:
        t.codecId = str(c.value) ?? '';
        break;
      case Id.CodecPrivate:
        t.codecPrivate = bin(c.value);
        break;
      case Id.CodecName:
        t.codecName = str(c.value);
        break;
      case Id.Name:
        t.name = str(c.value);
        break;
      case Id.Language:
        t.language = str(c.value) ?? 'eng';
        break;
      case Id.LanguageBCP47:
        t.languageBCP47 = str(c.value);
        break;
      case Id.CodecDelay:
        t.codecDelay = num(c.value);
        break;
      case Id.SeekPreRoll:
        t.seekPreRoll = num(c.value);
        break;
      case Id.DefaultDuration: {
        const d = num(c.value);
        if (d > 0) t.defaultDuration = d;
        break;
      }
      case Id.FlagDefault:
        t.flagDefault = num(c.value, 1) !== 0;
        break;
      case Id.FlagForced:
        t.flagForced = num(c.value) !== 0;
        break;
      case Id.FlagEnabled:
        t.flagEnabled = num(c.value, 1) !== 0;
        break;
      case Id.FlagLacing:
        t.flagLacing = num(c.value, 1) !== 0;
        break;
      case Id.Video:
        t.video = parseVideo(c);
        break;
      case Id.Audio:
        t.audio = parseAudio(c);
        break;
      case Id.ContentEncodings: {
        const encs = parseContentEncodings(c);
        if (encs.length) t.contentEncodings = encs;
        break;
      }
    }
  }
  if (!(t.number > 0)) return undefined;
  if (t.contentEncodings?.some((e) => e.type === 1)) t.encrypted = true;
  return t;
}

/** Parses the Tracks element's TrackEntry children (entries without a track number are skipped). */
export function parseTracks(node: MetaNode): TrackInfo[] {
  const out: TrackInfo[] = [];
  for (const c of node.children ?? []) {
    if (c.id !== Id.TrackEntry) continue;
    const t = parseTrackEntry(c);
    if (t) out.push(t);
  }
  return out;
}

/** Parses Cues; times (CueTime, CueDuration) are converted to ns with `timestampScale`. */
export function parseCues(node: MetaNode, timestampScale: number): CuePoint[] {
  const out: CuePoint[] = [];
  for (const cp of node.children ?? []) {
    if (cp.id !== Id.CuePoint) continue;
    const point: CuePoint = { time: 0, positions: [] };
    for (const c of cp.children ?? []) {
      if (c.id === Id.CueTime) point.time = num(c.value) * timestampScale;
      else if (c.id === Id.CueTrackPositions) {
        const p: CuePoint['positions'][number] = { track: 0, clusterPosition: 0 };
        for (const d of c.children ?? []) {
          switch (d.id) {
            case Id.CueTrack:
              p.track = num(d.value);
              break;
            case Id.CueClusterPosition:
              p.clusterPosition = num(d.value);
              break;
            case Id.CueRelativePosition:
              p.relativePosition = num(d.value);
              break;
            case Id.CueBlockNumber:
              p.blockNumber = num(d.value);
              break;
            case Id.CueDuration:
              p.duration = num(d.value) * timestampScale;
              break;
          }
        }
        point.positions.push(p);
      }
    }
    out.push(point);
  }
  return out;
}

function parseChapterAtom(node: MetaNode, depth: number): ChapterAtom {
  const a: ChapterAtom = { uid: 0n, start: 0, displays: [], children: [] };
  for (const c of node.children ?? []) {
    switch (c.id) {
      case Id.ChapterUID:
        a.uid = big(c.value);
        break;
      case Id.ChapterTimeStart:
        a.start = num(c.value);
        break;
      case Id.ChapterTimeEnd:
        a.end = num(c.value);
        break;
      case Id.ChapterFlagHidden:
        a.hidden = num(c.value) !== 0;
        break;
      case Id.ChapterFlagEnabled:
        a.enabled = num(c.value, 1) !== 0;
        break;
      case Id.ChapterDisplay: {
        const d: ChapterAtom['displays'][number] = { string: '', languages: [] };
        const countries: string[] = [];
        for (const e of c.children ?? []) {
          if (e.id === Id.ChapString) d.string = str(e.value) ?? '';
          else if (e.id === Id.ChapLanguage) d.languages.push(str(e.value) ?? '');
          else if (e.id === Id.ChapCountry) countries.push(str(e.value) ?? '');
        }
        if (d.languages.length === 0) d.languages.push('eng');
        if (countries.length) d.countries = countries;
        a.displays.push(d);
        break;
      }
      case Id.ChapterAtom:
        if (depth < 64) a.children.push(parseChapterAtom(c, depth + 1));
        break;
    }
  }
  return a;
}

/** Parses Chapters: EditionEntry list with recursive ChapterAtoms (times in ns, unscaled as stored). */
export function parseChapters(node: MetaNode): Edition[] {
  const out: Edition[] = [];
  for (const ee of node.children ?? []) {
    if (ee.id !== Id.EditionEntry) continue;
    const e: Edition = { chapters: [] };
    for (const c of ee.children ?? []) {
      switch (c.id) {
        case Id.EditionUID:
          e.uid = big(c.value);
          break;
        case Id.EditionFlagHidden:
          e.hidden = num(c.value) !== 0;
          break;
        case Id.EditionFlagDefault:
          e.default = num(c.value) !== 0;
          break;
        case Id.EditionFlagOrdered:
          e.ordered = num(c.value) !== 0;
          break;
        case Id.ChapterAtom:
          e.chapters.push(parseChapterAtom(c, 0));
          break;
      }
    }
    out.push(e);
  }
  return out;
}

function parseSimpleTag(node: MetaNode, depth: number): SimpleTag {
  const s: SimpleTag = { name: '', children: [] };
  for (const c of node.children ?? []) {
    switch (c.id) {
      case Id.TagName:
        s.name = str(c.value) ?? '';
        break;
      case Id.TagLanguage:
        s.language = str(c.value);
        break;
      case Id.TagDefault:
        s.default = num(c.value, 1) !== 0;
        break;
      case Id.TagString:
        s.string = str(c.value);
        break;
      case Id.TagBinary:
        s.binary = bin(c.value);
        break;
      case Id.SimpleTag:
        if (depth < 64) s.children.push(parseSimpleTag(c, depth + 1));
        break;
    }
  }
  return s;
}

/** Parses Tags: Targets and recursive SimpleTags. */
export function parseTags(node: MetaNode): Tag[] {
  const out: Tag[] = [];
  for (const tg of node.children ?? []) {
    if (tg.id !== Id.Tag) continue;
    const tag: Tag = {
      targets: { trackUIDs: [], editionUIDs: [], chapterUIDs: [], attachmentUIDs: [] },
      simpleTags: [],
    };
    for (const c of tg.children ?? []) {
      if (c.id === Id.Targets) {
        for (const d of c.children ?? []) {
          switch (d.id) {
            case Id.TargetTypeValue:
              tag.targets.typeValue = num(d.value);
              break;
            case Id.TargetType:
              tag.targets.type = str(d.value);
              break;
            case Id.TagTrackUID:
              tag.targets.trackUIDs.push(big(d.value));
              break;
            case Id.TagEditionUID:
              tag.targets.editionUIDs.push(big(d.value));
              break;
            case Id.TagChapterUID:
              tag.targets.chapterUIDs.push(big(d.value));
              break;
            case Id.TagAttachmentUID:
              tag.targets.attachmentUIDs.push(big(d.value));
              break;
          }
        }
      } else if (c.id === Id.SimpleTag) tag.simpleTags.push(parseSimpleTag(c, 0));
    }
    out.push(tag);
  }
  return out;
}

/** Parses Attachments: AttachedFile name, media type, description, UID and data (copied). */
export function parseAttachments(node: MetaNode): Attachment[] {
  const out: Attachment[] = [];
  for (const af of node.children ?? []) {
    if (af.id !== Id.AttachedFile) continue;
    const a: Attachment = { uid: 0n, name: '', mediaType: '', data: new Uint8Array(0) };
    for (const c of af.children ?? []) {
      switch (c.id) {
        case Id.FileName:
          a.name = str(c.value) ?? '';
          break;
        case Id.FileMediaType:
          a.mediaType = str(c.value) ?? '';
          break;
        case Id.FileDescription:
          a.description = str(c.value);
          break;
        case Id.FileUID:
          a.uid = big(c.value);
          break;
        case Id.FileData:
          a.data = bin(c.value) ?? a.data;
          break;
      }
    }
    out.push(a);
  }
  return out;
}
