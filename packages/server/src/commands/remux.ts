// `mkvserve remux <in> <out>`: any Matroska/WebM input (file, `-`, URL; live or damaged) -> a clean,
// seekable file (keyframe-aligned Clusters, Cues, SeekHead, Duration), written to a temporary name and
// renamed when done. `-` as output writes a live-shaped stream to stdout. The work is the library's
// streaming `remux()` (@mkvserve/ebml/node, bounded memory); this command opens the input, shows progress,
// prints what was damaged and picks the exit code. Ctrl-C while recording a live input finishes the file
// properly (a second Ctrl-C aborts and removes the partial file).
import { resolve } from 'node:path';
import type { EbmlError } from '@mkvserve/ebml';
import { readSeekHeadMetadata, remux } from '@mkvserve/ebml/node';
import type { RemuxResult } from '@mkvserve/ebml/node';
import { openInput } from '../inputs/open.js';
import type { Input } from '../inputs/open.js';
import { EXIT_DAMAGED, EXIT_ERROR, EXIT_OK } from './inspect.js';

export interface RemuxOptions {
  input: string;
  /** Output path, or `-` for a live-shaped stream on stdout. */
  output: string;
  /** Progress line on stderr (default: when stderr is a TTY). */
  progress?: boolean;
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream & { isTTY?: boolean };
}

/** Damage lines printed before the rest are only counted. */
const MAX_PRINTED_ERRORS = 20;
const MAX_PRINTED_SKIPS = 10;

function fmtBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

const messageOf = (e: unknown): string => (e instanceof Error ? e.message : String(e));

export async function runRemux(opts: RemuxOptions): Promise<number> {
  const stderr = opts.stderr ?? process.stderr;
  const say = (s: string): void => {
    stderr.write(`mkvserve: ${s}\n`);
  };
  const toStdout = opts.output === '-';
  if (!toStdout && opts.input !== '-' && !/^[a-z]+:\/\//i.test(opts.input)) {
    if (resolve(opts.input) === resolve(opts.output)) {
      say('the output must not be the input file');
      return EXIT_ERROR;
    }
  }
  let input: Input;
  try {
    input = await openInput(opts.input);
  } catch (e) {
    say(messageOf(e));
    return EXIT_ERROR;
  }

  const started = Date.now();
  const showProgress = opts.progress ?? Boolean(stderr.isTTY);
  let lastProgress = 0;
  let printed = 0;
  let skips = 0;
  const progress = (bytesIn: number, frames: number, final: boolean): void => {
    if (!showProgress) return;
    const now = Date.now();
    if (!final && now - lastProgress < 250) return;
    lastProgress = now;
    const secs = Math.max(0.001, (now - started) / 1000);
    const pct = input.size ? ` (${((bytesIn / input.size) * 100).toFixed(0)}%)` : '';
    stderr.write(
      `\r${fmtBytes(bytesIn)} read${pct}, ${frames} frames, ${fmtBytes(bytesIn / secs)}/s   ${final ? '\n' : ''}`,
    );
  };

  // First Ctrl-C: stop reading and finish the output with what was received. Second: cancel (the partial
  // file is removed) and exit 130.
  const stop = new AbortController();
  const cancel = new AbortController();
  const onSigint = (): void => {
    if (stop.signal.aborted) {
      say('interrupted twice, aborting');
      cancel.abort(new Error('interrupted twice'));
      return;
    }
    if (showProgress) stderr.write('\n');
    say('interrupted: finishing the output (Ctrl-C again to abort)');
    stop.abort();
    input.close();
  };
  process.on('SIGINT', onSigint);

  let result: RemuxResult;
  try {
    result = await remux(input.chunks, toStdout ? (opts.stdout ?? process.stdout) : opts.output, {
      // A seekable file: Chapters/Tags/Attachments through its SeekHead (mkvmerge writes Tags at the end).
      ...(input.kind === 'file' ? { metadata: await readSeekHeadMetadata(input.name) } : {}),
      stop: stop.signal,
      signal: cancel.signal,
      onError(e: EbmlError) {
        if (++printed <= MAX_PRINTED_ERRORS) say(`damaged input: ${e.code}: ${e.message}`);
      },
      onSkippedFrame(f, e) {
        if (++skips <= MAX_PRINTED_SKIPS) say(`skipped a frame of track ${f.track} at ${f.timestamp} ns: ${e.message}`);
      },
      onProgress: (p) => progress(p.bytesIn, p.frames, false),
    });
  } catch (e) {
    if (showProgress) stderr.write('\n');
    if (cancel.signal.aborted) process.exit(130);
    // Input problems (not Matroska, no header, a fatal error or a failed read before the header) are the
    // input's; anything else is the output's (a directory, no permission, a full disk).
    const name = (e as Error | undefined)?.name;
    if (name === 'EbmlError') say(`${input.name}: ${messageOf(e)}`);
    else if (name === 'InputError') say(messageOf(e));
    else say(`cannot write ${opts.output}: ${messageOf(e)}`);
    return EXIT_ERROR;
  } finally {
    input.close();
    process.off('SIGINT', onSigint);
  }
  progress(result.bytesIn, result.frames, true);

  if (result.inputError) say(`${messageOf(result.inputError)}; the output holds what was received`);
  if (result.lateMetadataLost) {
    say('note: a second set of chapters/attachments found after the first Cluster was not copied');
  }
  if (result.skippedFrames > 0) say(`${result.skippedFrames} frame(s) could not be written and were skipped`);
  if (!toStdout && showProgress) {
    say(
      `wrote ${opts.output}: ${fmtBytes(result.bytesOut)}, ${result.frames} frames, duration ${(result.duration / 1e9).toFixed(3)} s`,
    );
  }
  const problems = result.errorCount + (result.inputError ? 1 : 0);
  if (problems > 0) {
    say(
      `${input.name}: ${problems} problem${problems === 1 ? '' : 's'} in the input; the output holds what could be recovered`,
    );
    return EXIT_DAMAGED;
  }
  return EXIT_OK;
}
