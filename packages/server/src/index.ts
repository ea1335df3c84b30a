// Library entry of the `mkvserve` package: the programmatic live server and the CLI's building blocks
// (serve, inspect, remux, input opening, logging). The Matroska engine itself is @mkvserve/ebml, the
// cluster fan-out @mkvserve/fanout. Importing this module does not load yargs or undici (undici is
// loaded on the first http(s) input).

// The live server.
export { MkvServer, Mount } from './server.js';
export type { MkvServerOptions, MountConfig } from './server.js';
export type { ServerStatus, MountStatus, ClientStatus, TrackStatus } from './status.js';
export type { SourceState, DemuxerFactory, DemuxerLike, DemuxCallbacks } from './inputs/source.js';
export type { EndReason } from './http/stream.js';
export type { LiveStreamOptions } from '@mkvserve/fanout';

// `mkvserve serve` as a function (one mount, signals, exit code).
export { runServe } from './serve.js';
export type { ServeOptions } from './serve.js';

// `mkvserve inspect` / `mkvserve remux` as functions, and the whole CLI (`main(argv)` -> exit code).
export { runInspect, EXIT_OK, EXIT_ERROR, EXIT_DAMAGED } from './commands/inspect.js';
export type { InspectOptions } from './commands/inspect.js';
export { runRemux } from './commands/remux.js';
export type { RemuxOptions } from './commands/remux.js';
export { main, describeError } from './cli.js';

// Inputs: file path, `-` (stdin), http(s) URL, file: URL.
export { openInput, InputError, closeHttpAgents } from './inputs/open.js';
export type { Input, InputKind, InputErrorCode, OpenInputOptions } from './inputs/open.js';

// Structured logging (text or JSON lines).
export { createLogger, nullLogger, formatText, formatJson } from './log.js';
export type { Logger, LoggerOptions, LogFormat, LogLevel } from './log.js';

// Helpers.
export { demoPath } from './demo.js';
export { validateMountName, isLoopbackHost } from './http/routes.js';
