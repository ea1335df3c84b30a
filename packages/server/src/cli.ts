// The `mkvserve` command line (yargs): `serve` (default, `mkvserve [input]` = `mkvserve serve [input]`), `inspect`, `remux`.
// `main(argv)` returns the exit code; errors become one clear line on stderr, not a stack trace
// (set MKVSERVE_DEBUG=1 for stacks). Exit codes: 0 ok; 1 error: a usage error (bad flag or value, bad
// config file) or a runtime error (input unusable, port in use); 2 damaged input (inspect, remux).
// The serve flags make a partial configuration layer that goes through the same resolver as the config
// file (config.ts): numbers are parsed here from the raw text, so `--port abc` is reported as "abc".
// Start-up cost matters for a CLI: only yargs is loaded up front; each command's modules (and undici,
// for http(s) inputs only) are imported when that command runs, and `--version` alone skips yargs.
import { existsSync } from 'node:fs';
import type { Argv } from 'yargs';
import type * as ConfigModule from './config.js';
import type { ConfigLayer } from './config.js';
import { packageVersion } from './version.js';

/** Thrown (and caught in main) for bad command lines: printed with a hint, exit code 1. */
class UsageError extends Error {}

/** One clear line for an error: the message, plus the stack when MKVSERVE_DEBUG is set. */
export function describeError(err: unknown): string {
  if (process.env['MKVSERVE_DEBUG'] && err instanceof Error && err.stack) return err.stack;
  if (err instanceof Error) return err.message;
  return String(err);
}

const SERVE_EPILOG = `Examples:
  mkvserve                                 the built-in demo clip at http://127.0.0.1:8080/stream
  mkvserve movie.mkv                       serve a file at http://127.0.0.1:8080/stream
  mkvserve --mount movie=movie.mkv --mount live=https://example.org/live.webm --reconnect
  ffmpeg -re -i in.mp4 -c:v libvpx -c:a libopus -f webm - | mkvserve - --port 9000
  mkvserve --mount cam=tcp://0.0.0.0:9000?listen   plain TCP ingest, unauthenticated
    then: ffmpeg -f x11grab -i :0 -c:v libvpx -f webm tcp://SERVER:9000
  MKVSERVE_SOURCE_TOKEN=s3cret mkvserve --mount live=push   HTTP push with a token
    then: ffmpeg -re -i in.mkv -c copy -f matroska -method PUT http://source:s3cret@HOST:8080/live
  mkvserve --config mkvserve.yaml --port 9000      (flags override the file)
  mkvserve inspect movie.mkv --summary
  mkvserve remux live-capture.webm fixed.webm

Other formats (MP4, MPEG-TS, RTMP, SRT, a camera): ffmpeg writes Matroska into a pipe:
  ffmpeg -i IN -c copy -f matroska - | mkvserve -        codecs as they are (VLC, mpv, ffplay)
  ffmpeg -i IN -c:v libvpx-vp9 -deadline realtime -cpu-used 8 -c:a libopus -f webm - | mkvserve -
                                                         WebM: plays in every browser
Scale out: an edge is "mkvserve http://ORIGIN:8080/MOUNT --reconnect" (see examples/edge).

In a browser: / lists the mounts, /MOUNT/player plays one (or says why it cannot, with the
ffmpeg line that makes WebM), /status shows clients and bitrate per mount as they change.
curl http://HOST:PORT/ lists the mounts as text; /api/status is JSON, /metrics Prometheus.
Security: listens on 127.0.0.1 unless --host says otherwise. Streams, / and the player pages
are public; /api/* and /metrics are open on loopback and need the admin token beyond it.
Push mounts need their token; plain TCP ingest has none: it binds 127.0.0.1 unless the input names
an address, and --allow-sources limits who may connect.

Secrets: --admin-token-file FILE or $MKVSERVE_ADMIN_TOKEN keep the token out of "ps" (--admin-token does not).
Reload: with --config, SIGHUP (or POST /api/reload with the admin token) reads the file again.
Behind a proxy, a separate admin listener: the config file's trustedProxies and admin keys (mkvserve.example.yaml).
Exit codes: 0 done; 1 usage, configuration or runtime error (one line on stderr); 2 damaged input (inspect, remux).`;

/** Serve flags that are server settings: flag -> key of SERVER_DEFAULTS. */
const SERVER_FLAGS = {
  host: 'host',
  port: 'port',
  cors: 'cors',
  'keep-alive': 'keepAlive',
  'flush-ms': 'flushMs',
  'flush-max-ms': 'flushMaxMs',
  backlog: 'backlog',
  'max-clients': 'maxClients',
  'max-clients-per-ip': 'maxClientsPerIp',
  'shutdown-grace-ms': 'shutdownGraceMs',
  'young-gen-mb': 'youngGenMiB',
  quiet: 'quiet',
  'log-format': 'logFormat',
  'admin-token': 'adminToken',
  'admin-token-file': 'adminTokenFile',
} as const;

/** Serve flags that are mount settings (applied to every mount): flag -> key of MOUNT_DEFAULTS. */
const MOUNT_FLAGS = {
  loop: 'loop',
  realtime: 'realtime',
  reconnect: 'reconnect',
  speed: 'speed',
  join: 'join',
  'source-grace-ms': 'sourceGraceMs',
  'source-token-file': 'tokenFile',
  'allow-sources': 'allowSources',
  takeover: 'takeover',
  'source-idle-timeout-ms': 'sourceIdleTimeoutMs',
} as const;

const NUMERIC = new Set([
  'port',
  'flush-ms',
  'flush-max-ms',
  'backlog',
  'max-clients',
  'max-clients-per-ip',
  'shutdown-grace-ms',
  'young-gen-mb',
  'speed',
  'source-grace-ms',
  'source-idle-timeout-ms',
]);

/** A number when the text is one, else the text itself (the resolver then says what was expected). */
function numberOrText(v: string): number | string {
  return /^\s*[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?\s*$/i.test(v) ? Number(v) : v;
}

function serveBuilder(y: Argv, cfg: typeof ConfigModule): Argv {
  const { SERVER_DEFAULTS: S, MOUNT_DEFAULTS: M, DEFAULT_MOUNT_NAME } = cfg;
  const d = (v: unknown): { defaultDescription: string } => ({ defaultDescription: String(v) });
  return y
    .positional('input', {
      type: 'string',
      describe: `Matroska/WebM file, - for stdin, or an http(s):// URL, served at /${DEFAULT_MOUNT_NAME} (default: stdin when it is a pipe or a file, else the demo clip)`,
    })
    .option('config', {
      type: 'string',
      alias: 'c',
      describe: 'YAML configuration file (see mkvserve.example.yaml); flags override it',
      group: 'Serve:',
    })
    .option('mount', {
      type: 'string',
      array: true,
      describe: `NAME=INPUT: serve INPUT at /NAME (repeatable); NAME alone: the name of the single input (default "${DEFAULT_MOUNT_NAME}")`,
      group: 'Serve:',
    })
    .option('host', { type: 'string', describe: 'Address to listen on', ...d(S.host), group: 'Serve:' })
    .option('port', {
      requiresArg: true,
      alias: 'p',
      describe: 'TCP port (0 = any free port)',
      ...d(S.port),
      group: 'Serve:',
    })
    .option('loop', { type: 'boolean', describe: 'Loop file and URL inputs forever', ...d(M.loop), group: 'Serve:' })
    .option('realtime', {
      type: 'boolean',
      describe:
        'Pacing: --realtime paces every input like a file, --no-realtime never; default: files always, pipes and URLs when they run ahead of real time',
      ...d(M.realtime),
      group: 'Serve:',
    })
    .option('reconnect', {
      type: 'boolean',
      describe: 'Open the input again when it ends or fails (backoff 0.5 s doubling to 10 s)',
      ...d(M.reconnect),
      group: 'Serve:',
    })
    .option('join', {
      choices: ['latest-keyframe', 'next-keyframe'] as const,
      describe: 'Where a new client starts: the latest keyframe (fast start) or the next one (low latency)',
      ...d(M.join),
      group: 'Serve:',
    })
    .option('speed', {
      requiresArg: true,
      describe: 'Pacing speed factor: 2 = twice real time (tests and demos; only applies when the input is paced)',
      ...d(M.speed),
      group: 'Serve:',
    })
    .option('source-grace-ms', {
      requiresArg: true,
      describe:
        'When a reconnecting input or a pushed source is lost, its clients stay connected this long (ms); a source back in time is spliced in',
      ...d(M.sourceGraceMs),
      group: 'Serve:',
    })
    .option('source-token-file', {
      type: 'string',
      describe: `File holding the token of push mounts (--mount NAME=push; or set $MKVSERVE_SOURCE_TOKEN): sources send it as Authorization: Bearer TOKEN, Basic with the token as the password, or ?token=TOKEN`,
      group: 'Ingest:',
    })
    .option('allow-sources', {
      type: 'string',
      array: true,
      describe:
        'Addresses or CIDR ranges that may push (repeatable or comma-separated); others are refused. Plain TCP (tcp://HOST:PORT?listen) is unauthenticated: this is its only check beyond the address it binds',
      group: 'Ingest:',
    })
    .option('takeover', {
      type: 'boolean',
      describe: 'Push and TCP mounts: a new source replaces the connected one (default: refused, 409)',
      ...d(M.takeover),
      group: 'Ingest:',
    })
    .option('source-idle-timeout-ms', {
      requiresArg: true,
      describe: 'Push and TCP mounts: a source that sends nothing for this long is dropped (ms; never a total limit)',
      ...d(M.sourceIdleTimeoutMs),
      group: 'Ingest:',
    })
    .option('keep-alive', {
      type: 'boolean',
      describe: 'Keep the server running after the inputs ended',
      ...d(S.keepAlive),
      group: 'Serve:',
    })
    .option('cors', {
      type: 'string',
      describe: 'Value of Access-Control-Allow-Origin (e.g. * or https://example.com)',
      group: 'Serve:',
    })
    .option('admin-token-file', {
      type: 'string',
      describe:
        'File holding the bearer token of the management API, /api/status and /metrics (or set $MKVSERVE_ADMIN_TOKEN)',
      group: 'Security:',
    })
    .option('admin-token', {
      type: 'string',
      describe: 'The admin bearer token itself (visible in "ps": prefer --admin-token-file or the environment)',
      group: 'Security:',
    })
    .option('max-clients', {
      requiresArg: true,
      describe: 'Most stream clients at once over all mounts; more get 503',
      ...d(S.maxClients),
      group: 'Limits:',
    })
    .option('max-clients-per-ip', {
      requiresArg: true,
      describe: 'Most stream clients from one address (0 = no limit); more get 429',
      ...d(S.maxClientsPerIp),
      group: 'Limits:',
    })
    .option('flush-ms', {
      requiresArg: true,
      describe: 'Write coalescing interval: each client gets everything pending in one write at most this often (ms)',
      ...d(S.flushMs),
      group: 'Limits:',
    })
    .option('flush-max-ms', {
      requiresArg: true,
      describe:
        'While the event loop is saturated, the coalescing interval doubles up to this (ms; = --flush-ms: never)',
      ...d(S.flushMaxMs),
      group: 'Limits:',
    })
    .option('backlog', {
      requiresArg: true,
      describe: 'Listen backlog: connections the kernel queues before they are accepted (capped by net.core.somaxconn)',
      ...d(S.backlog),
      group: 'Limits:',
    })
    .option('shutdown-grace-ms', {
      requiresArg: true,
      describe: 'At SIGINT/SIGTERM, open responses get this long to finish (a second signal: at once)',
      ...d(S.shutdownGraceMs),
      group: 'Limits:',
    })
    .option('young-gen-mb', {
      requiresArg: true,
      describe: "Cap of V8's young generation in MiB: less RSS per client and over connection churn (0 = V8's default)",
      ...d(S.youngGenMiB),
      group: 'Limits:',
    })
    .option('quiet', { type: 'boolean', alias: 'q', describe: 'Log warnings and errors only', group: 'Logging:' })
    .option('log-format', {
      choices: ['text', 'json'] as const,
      describe: 'Log line format',
      ...d(S.logFormat),
      group: 'Logging:',
    })
    .epilog(SERVE_EPILOG);
}

type CliArgs = Record<string, unknown>;

/**
 * Builds the command line's configuration layer (and, with --config, the file's), checked: flag errors
 * name the flag. The per-mount flags apply to every mount (the file's and the command line's).
 */
async function serveLayers(a: CliArgs): Promise<{
  layers: ConfigLayer[];
  origins: (string | undefined)[];
  hooks: Record<string, { inputName?: string }>;
}> {
  const cfg = await import('./config.js');
  const { loadConfigFile } = await import('./config-file.js');
  const { mountNameProblem } = await import('./mount-name.js');
  const layers: ConfigLayer[] = [];
  const origins: (string | undefined)[] = [];
  const configPath = a['config'] as string | undefined;
  if (configPath !== undefined) {
    layers.push(loadConfigFile(configPath));
    origins.push(configPath);
  }
  const server: Record<string, unknown> = {};
  const flagOf = new Map<string, string>();
  for (const [flag, key] of Object.entries(SERVER_FLAGS)) {
    const v = a[flag];
    if (v === undefined) continue;
    server[key] = typeof v === 'string' && NUMERIC.has(flag) ? numberOrText(v) : v;
    flagOf.set(`server.${key}`, `--${flag}`);
  }
  const perMount: Record<string, unknown> = {};
  for (const [flag, key] of Object.entries(MOUNT_FLAGS)) {
    const v = a[flag];
    if (v === undefined) continue;
    perMount[key] =
      flag === 'allow-sources' && Array.isArray(v)
        ? v.flatMap((x) => String(x).split(',')).filter((x) => x !== '')
        : typeof v === 'string' && NUMERIC.has(flag)
          ? numberOrText(v)
          : v;
    flagOf.set(key, `--${flag}`);
  }
  // --mount NAME=INPUT (repeatable) and the single-input form.
  const mounts: Record<string, Record<string, unknown>> = {};
  let singleName: string | undefined;
  for (const spec of (a['mount'] as string[] | undefined) ?? []) {
    const eq = spec.indexOf('=');
    const name = eq < 0 ? spec : spec.slice(0, eq);
    const problem = mountNameProblem(name);
    if (problem) throw new UsageError(`--mount ${spec}: ${problem}`);
    const key = name.replace(/^\//, '');
    if (eq < 0) {
      if (singleName !== undefined)
        throw new UsageError(
          `--mount ${spec}: only one --mount NAME without =INPUT is allowed (it names the single input)`,
        );
      singleName = key;
      continue;
    }
    if (key in mounts) throw new UsageError(`--mount ${spec}: mount "${key}" is given twice`);
    const input = spec.slice(eq + 1);
    if (input === '') throw new UsageError(`--mount ${spec}: the input after "=" is empty`);
    mounts[key] = { input: input === STDIN_TOKEN ? '-' : input };
  }
  const positional = unToken(a['input']);
  const hooks: Record<string, { inputName?: string }> = {};
  const fileMounts = Object.keys(layers[0]?.mounts ?? {});
  if (positional !== undefined && positional !== '') {
    const name = singleName ?? cfg.DEFAULT_MOUNT_NAME;
    if (name in mounts) throw new UsageError(`the input ${positional} and --mount ${name}=... both name /${name}`);
    mounts[name] = { input: positional };
  } else if (Object.keys(mounts).length === 0 && fileMounts.length === 0) {
    // No input anywhere: stdin when it is a pipe or a file, else the demo clip.
    const { implicitMount } = await import('./serve.js');
    const { stdinKind } = await import('./inputs/open.js');
    const { inputName, ...m } = implicitMount(stdinKind());
    const name = singleName ?? cfg.DEFAULT_MOUNT_NAME;
    mounts[name] = m;
    if (inputName !== undefined) hooks[name] = { inputName };
  } else if (singleName !== undefined) {
    throw new UsageError(
      `--mount ${singleName} names the single input, but there is none (use --mount ${singleName}=INPUT)`,
    );
  }
  for (const name of new Set([...fileMounts, ...Object.keys(mounts)])) mounts[name] = { ...mounts[name], ...perMount };
  const describePath = (p: readonly (string | number)[]): string => {
    if (p[0] === 'server') return flagOf.get(`server.${p[1]}`) ?? p.join('.');
    if (p[0] === 'mounts' && p.length >= 3) {
      if (p[2] === 'input') return `--mount ${p[1]}=INPUT`;
      const f = flagOf.get(String(p[2]));
      if (f) return f;
    }
    if (p[0] === 'mounts' && p.length === 2) return `--mount ${p[1]}`;
    return p.join('.');
  };
  layers.push(cfg.parseLayer({ server, mounts }, { describePath }));
  origins.push(undefined);
  return { layers, origins, hooks };
}

function inspectBuilder(y: Argv): Argv {
  return y
    .positional('input', {
      type: 'string',
      describe: 'Matroska/WebM file, - for stdin, or an http(s):// URL',
      demandOption: true,
    })
    .option('offsets', { type: 'boolean', describe: 'Show byte offsets (and header sizes in the tree; also --frames)' })
    .option('json', { type: 'boolean', describe: 'JSON output (tree, --summary or --frames; see README)' })
    .option('summary', { type: 'boolean', describe: 'Tracks, codecs, duration, frames per track, bitrate' })
    .option('frames', { type: 'boolean', describe: 'One line per frame: track, timestamp, keyframe, size' })
    .option('clusters', { type: 'boolean', describe: 'Tree: one summary line per Cluster, not per run of Clusters' })
    .option('blocks', { type: 'boolean', describe: 'Tree: expand Clusters, one line per block' })
    .option('cues', { type: 'boolean', describe: 'Tree: list every cue point' })
    .option('all', { type: 'boolean', describe: 'Tree: expand everything (blocks, cue points, seek entries)' })
    .option('max-frames', { type: 'number', describe: 'Stop after N frames (blocks in tree mode)' })
    .option('duration', { type: 'number', describe: 'Stop after SECONDS of media time' })
    .conflicts('summary', 'frames')
    .check((a) => {
      const n = a['max-frames'];
      if (n !== undefined && (!Number.isInteger(n) || n < 0))
        throw new UsageError('--max-frames must be a non-negative integer');
      const d = a['duration'];
      if (d !== undefined && (!Number.isFinite(d) || d < 0))
        throw new UsageError('--duration must be a non-negative number of seconds');
      return true;
    })
    .example('mkvserve inspect in.mkv', 'element tree like mkvinfo, clusters collapsed')
    .example('mkvserve inspect in.mkv --clusters --offsets', 'a line per cluster, with byte offsets')
    .example('mkvserve inspect in.mkv --blocks --max-frames 50', 'every block, the first 50')
    .example('mkvserve inspect in.mkv --summary', 'tracks, duration, bitrate')
    .example('mkvserve inspect in.mkv --frames --json | head', 'one JSON object per frame')
    .example('mkvserve inspect in.mkv --json | jq .errors', 'the raw tree as one JSON document')
    .example('curl -s URL | mkvserve inspect - --duration 5', 'five seconds of a live stream')
    .epilog(
      'Exit codes: 0 clean input; 2 damaged input (each problem on stderr with its byte offset, the rest still shown); 1 unreadable or not Matroska/WebM.',
    );
}

function remuxBuilder(y: Argv): Argv {
  return y
    .positional('input', {
      type: 'string',
      describe: 'Matroska/WebM file, - for stdin, or an http(s):// URL',
      demandOption: true,
    })
    .positional('output', {
      type: 'string',
      describe: 'Output file, or - for a live-shaped stream on stdout',
      demandOption: true,
    })
    .option('progress', { type: 'boolean', describe: 'Progress line on stderr (default: when stderr is a terminal)' })
    .example('mkvserve remux capture.webm fixed.webm', 'seekable WebM with Cues and Duration')
    .example('curl -s URL | mkvserve remux - out.mkv', 'record a live stream')
    .example('mkvserve remux in.mkv - | ffprobe -i -', 'a live-shaped stream on stdout')
    .epilog(
      [
        'WebM in gives WebM out. The output is written next to <output> and renamed when it is',
        'complete: a failed remux leaves nothing. Ctrl-C while recording a live input finishes the',
        'file; a second Ctrl-C aborts.',
        'Exit codes: 0 clean input; 2 damaged input (the output holds what could be recovered);',
        '1 nothing could be written.',
      ].join('\n'),
    );
}

const COMMANDS = ['serve', 'inspect', 'remux'];

/** Edit distance (small strings only). */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length];
}

/** The command `arg` is a typo of (`inpsect` -> `inspect`), when it is not a command, an option, a URL or an
 *  existing path. */
function commandTypo(arg: string): string | undefined {
  if (arg.startsWith('-') || COMMANDS.includes(arg) || /[/.:\\]/.test(arg) || arg.length < 3) return undefined;
  const near = COMMANDS.find((c) => distance(arg.toLowerCase(), c) <= 2);
  if (near === undefined) return undefined;
  return existsSync(arg) ? undefined : near;
}

/** yargs-parser turns a bare `-` into '' or true: it is carried through as this token instead. */
const STDIN_TOKEN = '\u0000stdin';
const unToken = (v: unknown): string | undefined =>
  v === STDIN_TOKEN
    ? '-'
    : typeof v === 'string'
      ? v
      : typeof v === 'number' || typeof v === 'boolean'
        ? String(v)
        : undefined;

export async function main(argv: string[]): Promise<number> {
  // `mkvserve --version` alone needs none of the parser.
  if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-V')) {
    process.stdout.write(packageVersion() + '\n');
    return 0;
  }
  // The serve command (the default): anything but inspect and remux.
  const serving = argv[0] !== 'inspect' && argv[0] !== 'remux';
  // V8's young generation may not grow until the serve command sets its cap (./heap.ts).
  if (serving) (await import('./heap.js')).holdYoungGeneration();
  const { default: yargs } = await import('yargs');
  const { closeHttpAgents } = await import('./inputs/open.js');
  let code = 0;
  argv = argv.map((a) => (a === '-' ? STDIN_TOKEN : a));
  // A closed stdout (e.g. `| head`) must end the program quietly, not crash it.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') {
      process.exitCode = code;
      return;
    }
    process.stderr.write(`mkvserve: cannot write to stdout: ${err.message}\n`);
  });

  const firstArg = argv[0];
  const typo = firstArg !== undefined ? commandTypo(firstArg) : undefined;
  if (typo !== undefined) {
    process.stderr.write(
      `mkvserve: unknown command "${firstArg}": did you mean "${typo}"? (to serve a file named ${firstArg}, write ./${firstArg})\nRun "mkvserve --help" for usage.\n`,
    );
    return 1;
  }
  // The serve flags describe their defaults from the defaults table (config.ts).
  const cfg = serving ? await import('./config.js') : undefined;

  const y = yargs(argv)
    .scriptName('mkvserve')
    .usage('Usage: $0 [input] [options]    serve Matroska/WebM streams over HTTP\n       $0 <command> ...')
    .command(
      ['$0 [input]', 'serve [input]'],
      'Serve Matroska/WebM inputs live over HTTP (default command)',
      (yy) => (cfg ? serveBuilder(yy, cfg) : yy),
      async (a) => {
        const { ConfigError } = await import('./config.js');
        let parts: Awaited<ReturnType<typeof serveLayers>>;
        try {
          parts = await serveLayers(a);
        } catch (err) {
          if (!(err instanceof ConfigError)) throw err;
          process.stderr.write(`mkvserve: ${err.message}\nRun "mkvserve --help" for usage.\n`);
          code = 1;
          return;
        }
        const { runServe } = await import('./serve.js');
        // With a config file, SIGHUP and POST /api/reload read it again (the flags still override it).
        const reload = a['config'] !== undefined ? () => serveLayers(a) : undefined;
        code = await runServe({ ...parts, ...(reload ? { reload } : {}) });
      },
    )
    .command(
      'inspect <input>',
      'Show the element tree, a summary, or the frames of a Matroska/WebM input',
      inspectBuilder,
      async (a) => {
        const { runInspect } = await import('./commands/inspect.js');
        code = await runInspect({
          input: unToken(a['input'])!,
          offsets: Boolean(a['offsets']),
          json: Boolean(a['json']),
          summary: Boolean(a['summary']),
          frames: Boolean(a['frames']),
          blocks: Boolean(a['blocks']),
          clusters: Boolean(a['clusters']),
          cues: Boolean(a['cues']),
          all: Boolean(a['all']),
          maxFrames: a['maxFrames'] as number | undefined,
          duration: a['duration'] as number | undefined,
        });
      },
    )
    .command(
      'remux <input> <output>',
      'Rewrite any Matroska/WebM input as a clean, seekable file (Cues, SeekHead, Duration)',
      remuxBuilder,
      async (a) => {
        const { runRemux } = await import('./commands/remux.js');
        code = await runRemux({
          input: unToken(a['input'])!,
          output: unToken(a['output'])!,
          progress: a['progress'] as boolean | undefined,
        });
      },
    )
    .strict()
    .recommendCommands()
    .version(packageVersion())
    .alias('version', 'V')
    .help()
    .alias('help', 'h')
    .wrap(Math.min(110, process.stdout.columns || 100))
    .exitProcess(false)
    .fail((msg, err) => {
      // Errors thrown by command handlers arrive here too: rethrow them for main's catch.
      if (err && !(err instanceof UsageError)) throw err;
      throw new UsageError(msg || err?.message || 'invalid command line');
    });

  try {
    await y.parseAsync();
  } catch (err) {
    await closeHttpAgents();
    if (err instanceof UsageError) {
      process.stderr.write(`mkvserve: ${err.message}\nRun "mkvserve --help" for usage.\n`);
      return 1;
    }
    process.stderr.write(`mkvserve: ${describeError(err)}\n`);
    return 1;
  }
  await closeHttpAgents();
  return code;
}
