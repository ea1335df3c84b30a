// The `mkvserve` command line (yargs): `serve` (default, `mkvserve [input]` = `mkvserve serve [input]`), `inspect`, `remux`.
// `main(argv)` returns the exit code; errors become one clear line on stderr, not a stack trace
// (set MKVSERVE_DEBUG=1 for stacks). Exit codes: 0 ok, 1 error / usage, 2 damaged input (inspect).
// Start-up cost matters for a CLI: only yargs is loaded up front; each command's modules (and undici,
// for http(s) inputs only) are imported when that command runs, and `--version` alone skips yargs.
import { readFileSync } from 'node:fs';
import type { Argv } from 'yargs';
import type { ServeOptions } from './serve.js';

/** Thrown (and caught in main) for bad command lines: printed with a hint, exit code 1. */
class UsageError extends Error {}

function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

/** One clear line for an error: the message, plus the stack when MKVSERVE_DEBUG is set. */
export function describeError(err: unknown): string {
  if (process.env['MKVSERVE_DEBUG'] && err instanceof Error && err.stack) return err.stack;
  if (err instanceof Error) return err.message;
  return String(err);
}

const SERVE_EPILOG = `Examples:
  mkvserve movie.mkv                      serve a file at http://127.0.0.1:8080/stream
  ffmpeg -re -i in.mp4 -c:v libvpx -c:a libopus -f webm - | mkvserve - --port 9000
  mkvserve inspect movie.mkv --summary
  mkvserve remux live-capture.webm fixed.webm`;

function serveBuilder(y: Argv): Argv {
  return y
    .positional('input', {
      type: 'string',
      describe: 'Matroska/WebM file, - for stdin, or an http(s):// URL (default: stdin when piped)',
    })
    .option('host', { type: 'string', default: '127.0.0.1', describe: 'Address to listen on', group: 'Serve:' })
    .option('port', {
      type: 'number',
      default: 8080,
      alias: 'p',
      describe: 'TCP port (0 = any free port)',
      group: 'Serve:',
    })
    .option('mount', {
      type: 'string',
      default: 'stream',
      describe: 'Mount name: the stream is at /<mount>',
      group: 'Serve:',
    })
    .option('loop', { type: 'boolean', describe: 'Loop a file input forever', group: 'Serve:' })
    .option('realtime', {
      type: 'boolean',
      describe:
        'Pace the input at real-time speed (default: on for files, off for live input; --no-realtime to disable)',
      group: 'Serve:',
    })
    .option('reconnect', {
      type: 'boolean',
      describe: 'Reconnect to a URL input when it ends or fails',
      group: 'Serve:',
    })
    .option('cors', {
      type: 'string',
      describe: 'Value of Access-Control-Allow-Origin (e.g. * or https://example.com)',
      group: 'Serve:',
    })
    .option('admin-token', {
      type: 'string',
      describe: 'Bearer token for the admin API (env MKVSERVE_ADMIN_TOKEN)',
      default: process.env['MKVSERVE_ADMIN_TOKEN'],
      defaultDescription: '$MKVSERVE_ADMIN_TOKEN',
      group: 'Serve:',
    })
    .option('keep-alive', {
      type: 'boolean',
      describe: 'Keep the server running after the input ends',
      group: 'Serve:',
    })
    .option('join', {
      choices: ['latest-keyframe', 'next-keyframe'] as const,
      default: 'latest-keyframe',
      describe: 'Where a new client starts: the latest keyframe (fast start) or the next one (low latency)',
      group: 'Serve:',
    })
    .option('speed', {
      type: 'number',
      describe: 'Pacing speed factor: 2 = twice real time (for tests and demos; only applies when the input is paced)',
      defaultDescription: '1',
      group: 'Serve:',
    })
    .option('flush-ms', {
      type: 'number',
      describe: 'Write coalescing interval: each client gets everything pending in one write at most this often (ms)',
      defaultDescription: '100',
      group: 'Serve:',
    })
    .option('backlog', {
      type: 'number',
      describe: 'Listen backlog: connections the kernel queues before they are accepted (capped by net.core.somaxconn)',
      defaultDescription: '4096',
      group: 'Serve:',
    })
    .option('young-gen-mb', {
      type: 'number',
      describe:
        "Cap of V8's young generation in MiB: less RSS per client and over connection churn (0 = V8's default, up to 32)",
      defaultDescription: '8',
      group: 'Serve:',
    })
    .option('quiet', { type: 'boolean', alias: 'q', describe: 'Log warnings and errors only', group: 'Logging:' })
    .option('log-format', {
      choices: ['text', 'json'] as const,
      default: 'text',
      describe: 'Log line format',
      group: 'Logging:',
    })
    .check((a) => {
      const port = a['port'] as number | undefined;
      if (port === undefined) return true; // --help / --version
      if (!Number.isInteger(port) || port < 0 || port > 65535)
        throw new UsageError(`--port must be an integer from 0 to 65535, got ${String(a['port'])}`);
      const mount = a['mount'];
      // Dots and slashes pass here and are refused with the server's own message (exit 2).
      if (!/^[A-Za-z0-9._~-]+(\/[A-Za-z0-9._~-]+)*$/.test(mount))
        throw new UsageError(`--mount must be a URL path segment like "stream" or "cam1", got "${mount}"`);
      const speed = a['speed'];
      if (speed !== undefined && !(Number.isFinite(speed) && speed > 0))
        throw new UsageError(`--speed must be a number greater than 0, got ${String(speed)}`);
      const flushMs = a['flush-ms'];
      if (flushMs !== undefined && !(Number.isFinite(flushMs) && flushMs >= 1 && flushMs <= 10_000))
        throw new UsageError(`--flush-ms must be a number of milliseconds from 1 to 10000, got ${String(flushMs)}`);
      const backlog = a['backlog'];
      if (backlog !== undefined && !(Number.isInteger(backlog) && backlog >= 1))
        throw new UsageError(`--backlog must be a positive integer, got ${String(backlog)}`);
      const young = a['young-gen-mb'];
      if (young !== undefined && !(Number.isFinite(young) && young >= 0))
        throw new UsageError(`--young-gen-mb must be a number of MiB >= 0, got ${String(young)}`);
      return true;
    })
    .epilog(SERVE_EPILOG);
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
    .example('curl -s http://host/live | mkvserve remux - out.mkv', 'record a live stream');
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

  const y = yargs(argv)
    .scriptName('mkvserve')
    .usage('Usage: $0 [input] [options]    serve a Matroska/WebM stream over HTTP\n       $0 <command> ...')
    .command(
      ['$0 [input]', 'serve [input]'],
      'Serve a Matroska/WebM input live over HTTP (default command)',
      serveBuilder,
      async (a) => {
        const { runServe } = await import('./serve.js');
        const opts = {
          input: unToken(a['input']),
          host: a['host'] as string,
          port: a['port'] as number,
          mount: a['mount'] as string,
          loop: a['loop'] as boolean | undefined,
          realtime: a['realtime'] as boolean | undefined,
          reconnect: a['reconnect'] as boolean | undefined,
          cors: a['cors'] as string | undefined,
          adminToken: (a['adminToken'] as string | undefined) || undefined,
          keepAlive: a['keepAlive'] as boolean | undefined,
          quiet: a['quiet'] as boolean | undefined,
          logFormat: a['logFormat'] as 'text' | 'json',
          join: a['join'] as 'latest-keyframe' | 'next-keyframe',
          flushMs: a['flushMs'] as number | undefined,
          speed: a['speed'] as number | undefined,
          backlog: a['backlog'] as number | undefined,
          youngGenMiB: a['youngGenMb'] as number | undefined,
        };
        // Drop unset flags so the server sees only what was given (undefined = its default).
        for (const k of Object.keys(opts) as (keyof typeof opts)[]) if (opts[k] === undefined) delete opts[k];
        const serveOpts: ServeOptions = opts;
        code = await runServe(serveOpts);
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
