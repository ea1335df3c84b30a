// Node entry point (@mkvserve/ebml/node): adapters from Node streams, files and async iterables to the
// synchronous core, and the muxer's file sink. Re-exports the core so one import is enough.

export * from '../index.js';
export * from './demux.js';
export * from './file-chunks.js';
export * from './file-sink.js';
export * from './remux.js';
