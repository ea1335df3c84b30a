// Library entry of the `mkvserve` package: the programmatic live server and the CLI's building blocks
// (serve, inspect, remux, input opening, logging). The Matroska engine itself is @mkvserve/ebml, the
// cluster fan-out @mkvserve/fanout. Importing this module does not load yargs or undici (undici is
// loaded on the first http(s) input).

// The live server.
export { MkvServer } from './server.js';
export type { MkvServerOptions, MountOptions, MountHooks, ServerRuntime } from './server.js';
export { Mount } from './mount.js';
export type { MountEvents } from './mount.js';
export type { ServerStatus, MountStatus, ClientStatus, TrackStatus, IngestStatus, SourceStatus } from './status.js';
export type {
  ServerSnapshot,
  MountSnapshot,
  ClientSnapshot,
  InputSnapshot,
  IngestSnapshot,
  SourceSnapshot,
} from './snapshot.js';
export type { SourceState, PacingMode, DemuxerFactory, DemuxerLike, DemuxCallbacks } from './inputs/source.js';

// Configuration: the defaults table, the checker of partial layers, the resolver, reload diffs.
export {
  SERVER_DEFAULTS,
  MOUNT_DEFAULTS,
  DEFAULT_MOUNT_NAME,
  ADMIN_TOKEN_ENV,
  SOURCE_TOKEN_ENV,
  ConfigError,
  parseLayer,
  resolveConfig,
  diffConfigs,
} from './config.js';
export type {
  ConfigLayer,
  ConfigIssue,
  ServerSettingsInput,
  MountSettingsInput,
  ServerConfig,
  MountConfig,
  ResolvedConfig,
  MountDiff,
} from './config.js';
export { loadConfigFile, parseConfigText } from './config-file.js';
export type { EndReason } from './http/stream.js';
export type { LiveStreamOptions } from '@mkvserve/fanout';

// `mkvserve serve` as a function (configuration layers, signals, exit code).
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

// Input kinds (the registry ingest kinds extend) and helpers.
export { registerInputKind, inputKindFor } from './inputs/kinds.js';
export type { InputKindDef } from './inputs/kinds.js';
export { demoPath } from './demo.js';
export { validateMountName, mountNameProblem } from './mount-name.js';
export { isLoopbackHost } from './http/auth.js';
export { redactInput } from './redact.js';
