// Library entry of the `mkvserve` package: the CLI's building blocks for use from code
// (serve, inspect, remux, input opening, logging). The Matroska engine itself is @mkvserve/ebml.
export { main } from './cli.js';
export { MkvServer } from './server.js';
export type { MkvServerOptions, MountConfig } from './server.js';
export type { ServerStatus } from './status.js';
export { runServe } from './serve.js';
export type { ServeOptions } from './serve.js';
export { runInspect } from './commands/inspect.js';
export type { InspectOptions } from './commands/inspect.js';
export { runRemux } from './commands/remux.js';
export type { RemuxOptions } from './commands/remux.js';
export { openInput, InputError, closeHttpAgents } from './inputs/open.js';
export type { Input, InputKind, InputErrorCode, OpenInputOptions } from './inputs/open.js';
export { createLogger, nullLogger, formatText, formatJson } from './log.js';
export type { Logger, LoggerOptions, LogFormat, LogLevel } from './log.js';
