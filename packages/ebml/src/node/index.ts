// Node entry point (@mkvserve/ebml/node): adapters from Node streams, files and async iterables to the
// synchronous core, the muxer's file sink and the streaming remux. Re-exports the core's public API
// (not the advanced building blocks) so one import is enough.

export * from '../index.js';
export { createDemuxStream, DEFAULT_FILE_HWM, demuxAll, demuxBatches, demuxFrames } from './demux.js';
export type { DemuxBatch, DemuxSource, NodeDemuxOptions } from './demux.js';
export { readFileChunks } from './file-chunks.js';
export type { FileChunksOptions } from './file-chunks.js';
export { MatroskaFileSink, writeMatroskaFile } from './file-sink.js';
export { readSeekHeadMetadata, remux } from './remux.js';
export type { RemuxDestination, RemuxMetadata, RemuxOptions, RemuxResult } from './remux.js';
