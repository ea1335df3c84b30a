// '@mkvserve/ebml/advanced': building blocks under the public API, for code that assembles Matroska
// itself (the live fanout encodes each block once and writes its own Cluster starts and init parts) or
// parses below the demuxer. Stable enough to build on, but shaped by their callers: expect them to move
// more than the main entry does. Each name is listed on purpose (a test pins the list).

// Block and Cluster encoding (one frame -> SimpleBlock/BlockGroup; a live Cluster start)
export {
  encodeBlock,
  encodeBlockParts,
  encodeClusterStart,
  encodedBlockLength,
  needsBlockGroup,
} from './matroska/block.js';
// The init part (EBML header, Segment start, Info, Tracks) and its pieces
export {
  DURATION_SLOT_SIZE,
  encodeDurationSlot,
  encodeInitPart,
  initDocType,
  MUXING_APP,
  writeEbmlHeader,
  writeInfo,
  writeSegmentStart,
  writeTrackEntry,
  writeTracks,
} from './matroska/init.js';
export type { InfoWriteOptions, InitPartOptions } from './matroska/init.js';
// Level-1 metadata encoders
export { encodeCues, encodeSeekHead, writeAttachments, writeChapters, writeTags } from './matroska/muxer.js';
// Metadata parsers (over collected element trees)
export {
  parseAttachments,
  parseChapters,
  parseCues,
  parseInfo,
  parseTags,
  parseTrackEntry,
  parseTracks,
  trackKind,
} from './matroska/metadata.js';
export type { MetaNode } from './matroska/metadata.js';
// Lacing, both directions
export {
  chooseLacing,
  encodeLaceHeader,
  encodeLaces,
  LACING_EBML,
  LACING_FIXED,
  LACING_NONE,
  LACING_XIPH,
  laceHeaderSize,
  lacingName,
  lacingNumber,
  MAX_LACES,
  readLaceSizes,
  splitLaces,
  writeLaceHeader,
} from './matroska/lacing.js';
// Content encodings (header stripping, capped zlib)
export {
  decodeContent,
  inflateZlib,
  planContentDecoding,
  SCOPE_CODEC_PRIVATE,
  SCOPE_FRAMES,
  SCOPE_NEXT,
  stripHeader,
} from './matroska/content-encoding.js';
export type { ContentDecodingPlan } from './matroska/content-encoding.js';
// Frame durations from codec headers
export {
  codecFrameDuration,
  opusPacketDuration,
  opusPacketSamples,
  parseAudioSpecificConfig,
  parseVorbisSetup,
} from './matroska/codec-duration.js';
export type { CodecFrameDuration, VorbisSetup } from './matroska/codec-duration.js';
// What non-Matroska input looks like, as a message
export { notMatroskaError } from './matroska/sniff.js';
// Byte-level writing: the growable writer, element sizes, vints, CRC-32
export { ByteWriter, encodeVoid, intLength, typeOfId, uintLength, writeVoid } from './writer.js';
export {
  idLength,
  isValidId,
  MAX_SAFE_SIZE,
  readSignedVint,
  signedVintLength,
  sizeLength,
  writeId,
  writeSignedVint,
  writeSize,
  writeUnknownSize,
} from './vint.js';
export { crc32, CRC32_INIT, crc32Final, crc32Update } from './crc32.js';
