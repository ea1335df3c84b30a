// Data types shared by the demuxer (bytes -> header + frames), the muxer (header + frames -> bytes)
// and the live fanout. Timestamps are number nanoseconds; 64-bit UIDs are bigint.

/** TrackType values from the schema (1 video, 2 audio, 17 subtitle, ...). */
export type TrackKind =
  'video' | 'audio' | 'complex' | 'logo' | 'subtitle' | 'buttons' | 'control' | 'metadata' | 'unknown';

export interface VideoSettings {
  pixelWidth: number;
  pixelHeight: number;
  displayWidth?: number;
  displayHeight?: number;
  displayUnit?: number;
  flagInterlaced?: number;
  /** Any other Video child, as parsed (for round trips). */
  extra?: Record<string, unknown>;
}

export interface AudioSettings {
  samplingFrequency: number;
  outputSamplingFrequency?: number;
  channels: number;
  bitDepth?: number;
}

/** One ContentEncoding of a track, in ContentEncodingOrder. */
export interface ContentEncoding {
  order: number;
  /** Bit flags: 1 = frames, 2 = CodecPrivate, 4 = next ContentEncoding. */
  scope: number;
  /** 0 = compression, 1 = encryption. */
  type: number;
  /** ContentCompAlgo: 0 zlib, 1 bzlib, 2 lzo1x, 3 header stripping. */
  compAlgo?: number;
  compSettings?: Uint8Array;
  /** ContentEncAlgo when type is 1 (encryption). */
  encAlgo?: number;
}

export interface TrackInfo {
  number: number;
  uid: bigint;
  kind: TrackKind;
  /** The raw TrackType value. */
  type: number;
  codecId: string;
  codecPrivate?: Uint8Array;
  codecName?: string;
  name?: string;
  language?: string;
  languageBCP47?: string;
  /** Nanoseconds. */
  codecDelay?: number;
  /** Nanoseconds. */
  seekPreRoll?: number;
  /** Nanoseconds per frame. */
  defaultDuration?: number;
  flagDefault?: boolean;
  flagForced?: boolean;
  flagEnabled?: boolean;
  flagLacing?: boolean;
  video?: VideoSettings;
  audio?: AudioSettings;
  contentEncodings?: ContentEncoding[];
  /** True when a ContentEncoding encrypts the frames: their data is passed through undecoded. */
  encrypted?: boolean;
}

export interface SegmentInfo {
  /** Nanoseconds per tick (default 1,000,000). */
  timestampScale: number;
  /** Nanoseconds, when the file says. */
  duration?: number;
  title?: string;
  muxingApp?: string;
  writingApp?: string;
  /** Nanoseconds since 2001-01-01T00:00:00 UTC, as stored (DateUTC). */
  dateUTC?: bigint;
  segmentUUID?: Uint8Array;
}

export interface EbmlHeaderInfo {
  docType: string;
  docTypeVersion: number;
  docTypeReadVersion: number;
  ebmlVersion: number;
  ebmlReadVersion: number;
  ebmlMaxIdLength: number;
  ebmlMaxSizeLength: number;
}

/** Everything a player needs before the first frame: EBML header, Info and Tracks. */
export interface MatroskaHeader {
  ebml: EbmlHeaderInfo;
  info: SegmentInfo;
  tracks: TrackInfo[];
  /** Byte offset where the Segment's data starts (Segment positions are relative to it). */
  segmentDataOffset: number;
  /** Declared Segment data size, or -1 when unknown (live). */
  segmentSize: number;
}

export interface BlockAddition {
  /** BlockAddID (1 when absent). */
  id: number;
  data: Uint8Array;
}

/** One frame of one track, after lacing is split and content encodings are undone. */
export interface Frame {
  track: number;
  /** Nanoseconds, as stored: (Cluster Timestamp + block offset) * TimestampScale. CodecDelay is not subtracted. */
  timestamp: number;
  /** Nanoseconds: BlockDuration, else the track's DefaultDuration, else undefined. */
  duration?: number;
  /** The container's flag: SimpleBlock keyframe bit; a BlockGroup without ReferenceBlock. */
  keyframe: boolean;
  /** The frame payload (a view into the input when possible). */
  data: Uint8Array;
  /** SimpleBlock discardable flag. */
  discardable?: boolean;
  invisible?: boolean;
  /** True when the frame came from a BlockGroup (so a muxer can write a BlockGroup again). */
  blockGroup?: boolean;
  /** ReferenceBlock values (ticks relative to this block), when in a BlockGroup. */
  references?: number[];
  /** BlockDuration in ticks exactly as stored, when present. */
  blockDuration?: number;
  additions?: BlockAddition[];
  /** DiscardPadding in nanoseconds. */
  discardPadding?: number;
  /** Absolute byte offset of the block element that carried this frame. */
  offset?: number;
}

export interface CuePoint {
  /** Nanoseconds. */
  time: number;
  positions: {
    track: number;
    clusterPosition: number;
    relativePosition?: number;
    blockNumber?: number;
    duration?: number;
  }[];
}

export interface Attachment {
  uid: bigint;
  name: string;
  mediaType: string;
  description?: string;
  data: Uint8Array;
}

export interface ChapterAtom {
  uid: bigint;
  /** Nanoseconds. */
  start: number;
  end?: number;
  hidden?: boolean;
  enabled?: boolean;
  displays: { string: string; languages: string[]; countries?: string[] }[];
  children: ChapterAtom[];
}

export interface Edition {
  uid?: bigint;
  hidden?: boolean;
  default?: boolean;
  ordered?: boolean;
  chapters: ChapterAtom[];
}

export interface SimpleTag {
  name: string;
  language?: string;
  default?: boolean;
  string?: string;
  binary?: Uint8Array;
  children: SimpleTag[];
}

export interface Tag {
  targets: {
    typeValue?: number;
    type?: string;
    trackUIDs: bigint[];
    editionUIDs: bigint[];
    chapterUIDs: bigint[];
    attachmentUIDs: bigint[];
  };
  simpleTags: SimpleTag[];
}
