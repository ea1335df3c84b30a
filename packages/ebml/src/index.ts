// Public API of @mkvserve/ebml (web-standard core: runs in browsers, Deno, Bun and Node).
// Node-only adapters live in '@mkvserve/ebml/node'.

export * from './errors.js';
export * from './vint.js';
export * from './schema.generated.js';
export * from './crc32.js';
export { decodeDate, decodeFloat, decodeInt, decodeString, decodeUint } from './values.js';
export * from './reader.js';
export * from './tree.js';
export * from './writer.js';
export * from './matroska/types.js';
export * from './matroska/lacing.js';
export * from './matroska/content-encoding.js';
export * from './matroska/sniff.js';
export * from './matroska/metadata.js';
export * from './matroska/demuxer.js';
export * from './matroska/block.js';
export * from './matroska/init.js';
export * from './matroska/muxer.js';
