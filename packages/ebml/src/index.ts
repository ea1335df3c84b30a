// Public API of @mkvserve/ebml (web-standard core: runs in browsers, Deno, Bun and Node): what a user
// needs to read, demux, mux and inspect Matroska/WebM. Every name is listed on purpose (a test pins the
// list, so growth is a decision). Building blocks (block and init-part encoders, lacing, vint writers,
// CRC-32, codec frame durations, content decoding) are in '@mkvserve/ebml/advanced'; Node adapters (files,
// streams, remux) in '@mkvserve/ebml/node'.

// Errors
export { EbmlError } from './errors.js';
export type { EbmlErrorCode, EbmlErrorInit } from './errors.js';

// The element table (the whole generated module is also '@mkvserve/ebml/schema')
export { ELEMENT_BY_ID, ELEMENT_BY_NAME, Id } from './schema.generated.js';
export type { ElementInfo, ElementType } from './schema.generated.js';

// Reading EBML: the push reader, element trees, leaf values, vints
export { DEFAULT_MAX_ELEMENT_SIZE, EbmlReader, elementPath } from './reader.js';
export type { EbmlReaderHandler, EbmlReaderOptions, EbmlValue, ElementHeader } from './reader.js';
export { parseTree } from './tree.js';
export type { ElementNode, ParseTreeResult } from './tree.js';
export { decodeDate, decodeFloat, decodeInt, decodeString, decodeUint } from './values.js';
export { readId, readSize, UNKNOWN_SIZE, vintLength } from './vint.js';

// Writing EBML: elements and trees (byte-identical round trips)
export { encodeElement, encodeMasterHeader, encodeTree } from './writer.js';
export type { EncodableNode, EncodableValue, EncodeTreeOptions } from './writer.js';

// Matroska: data types
export type {
  Attachment,
  AudioSettings,
  BlockAddition,
  ChapterAtom,
  ContentEncoding,
  CuePoint,
  EbmlHeaderInfo,
  Edition,
  Frame,
  MatroskaHeader,
  SegmentInfo,
  SimpleTag,
  Tag,
  TrackInfo,
  TrackKind,
  VideoSettings,
} from './matroska/types.js';

// Matroska: demuxing (bytes -> header + frames), block payloads, sniffing other formats
export { demuxSync, MatroskaDemuxer } from './matroska/demuxer.js';
export type { DemuxerOptions, DemuxHandler, DemuxResult, DemuxStats } from './matroska/demuxer.js';
export { DEFAULT_DECODE_BUDGET, DEFAULT_MAX_DECOMPRESSED_SIZE } from './matroska/content-encoding.js';
export { parseBlock, readBlockHeader } from './matroska/lacing.js';
export type { BlockHeader, LacingMode, ParsedBlock } from './matroska/lacing.js';
export { sniffContainer } from './matroska/sniff.js';
export type { ContainerKind, SniffResult } from './matroska/sniff.js';

// Matroska: muxing (header + frames -> bytes)
export { applyPatches, MatroskaMuxer, muxToBytes } from './matroska/muxer.js';
export type { MatroskaMuxerOptions, MuxerFinish, MuxerLateMetadata, MuxerPatch } from './matroska/muxer.js';
