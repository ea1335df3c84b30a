// `mkvserve remux <in> <out>`: any Matroska/WebM input (file, `-`, URL; live or damaged) -> a clean,
// seekable file (MatroskaMuxer file mode: keyframe-aligned Clusters, Cues, SeekHead, Duration), written
// to a temporary name and renamed when done. `-` as output writes a live-shaped stream to stdout.
// Ctrl-C while recording a live input finishes the file properly (a second Ctrl-C aborts).
import { open, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import {
  EbmlReader,
  Id,
  MatroskaDemuxer,
  MatroskaMuxer,
  parseAttachments,
  parseChapters,
  parseTags,
  readSize,
  vintLength,
} from '@mkvserve/ebml';
import type { MetaNode } from '@mkvserve/ebml';
import type { Attachment, EbmlError, Edition, Frame, MatroskaHeader, Tag } from '@mkvserve/ebml';
import { MatroskaFileSink } from '@mkvserve/ebml/node';
import { openInput } from '../inputs/open.js';
import type { Input } from '../inputs/open.js';
import { EXIT_DAMAGED, EXIT_ERROR, EXIT_OK, Output, waitDrain } from './inspect.js';

export interface RemuxOptions {
  input: string;
  /** Output path, or `-` for a live-shaped stream on stdout. */
  output: string;
  /** Progress line on stderr (default: when stderr is a TTY). */
  progress?: boolean;
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream & { isTTY?: boolean };
}

interface Metadata {
  chapters?: Edition[];
  tags?: Tag[];
  attachments?: Attachment[];
}

/** Largest metadata element read ahead (attachments can be big). */
const MAX_METADATA_ELEMENT = 256 << 20;

/** Parses one whole EBML element (bytes) into a MetaNode tree. */
function metaTree(bytes: Uint8Array): MetaNode | undefined {
  let root: MetaNode | undefined;
  const stack: MetaNode[] = [];
  const reader = new EbmlReader({
    onMasterStart(el) {
      const n: MetaNode = { id: el.id, children: [] };
      if (stack.length) stack[stack.length - 1].children!.push(n);
      else root ??= n;
      stack.push(n);
    },
    onMasterEnd() {
      stack.pop();
    },
    onValue(el, value) {
      if (stack.length) stack[stack.length - 1].children!.push({ id: el.id, value });
    },
  });
  reader.push(bytes);
  reader.end();
  return root;
}

/**
 * For a seekable file: reads Chapters, Tags and Attachments through the SeekHead (mkvmerge writes Tags
 * after the Clusters, too late for a muxer that writes metadata before the first Cluster). Best effort:
 * anything unexpected gives an empty result and the streamed metadata is used instead.
 */
async function prescanMetadata(path: string, size: number): Promise<Metadata> {
  const result: Metadata = {};
  const fh = await open(path, 'r');
  const readAt = async (pos: number, len: number): Promise<Uint8Array> => {
    const buf = new Uint8Array(Math.max(0, Math.min(len, size - pos)));
    let done = 0;
    while (done < buf.length) {
      const { bytesRead } = await fh.read(buf, done, buf.length - done, pos + done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    return buf.subarray(0, done);
  };
  try {
    let segData = -1;
    const seeks: { id: number; position: number }[] = [];
    const seekHeads = new Set<number>();
    const readSeekHead = (bytes: Uint8Array, base: number): void => {
      let seekId = 0;
      let seekPos = -1;
      const reader = new EbmlReader({
        onMasterStart(el) {
          if (el.id === Id.Segment && segData < 0) segData = base + el.dataOffset;
          if (el.id === Id.Cluster) return false;
          if (el.id === Id.Seek) {
            seekId = 0;
            seekPos = -1;
          }
          return true;
        },
        onMasterEnd(el) {
          if (el.id === Id.Seek && seekId && seekPos >= 0) seeks.push({ id: seekId, position: seekPos });
        },
        onValue(el, v) {
          if (el.id === Id.SeekID && v instanceof Uint8Array) seekId = v.reduce((a, b) => a * 256 + b, 0);
          else if (el.id === Id.SeekPosition && typeof v === 'number') seekPos = v;
        },
      });
      reader.push(bytes);
    };
    readSeekHead(await readAt(0, 64 * 1024), 0);
    if (segData < 0) return result;
    const readElement = async (abs: number): Promise<Uint8Array | undefined> => {
      const head = await readAt(abs, 16);
      const idLen = head.length ? vintLength(head[0]) : 0;
      if (idLen === 0 || idLen > 4 || head.length < idLen + 1) return undefined;
      const sizeLen = vintLength(head[idLen]);
      if (sizeLen === 0 || head.length < idLen + sizeLen) return undefined;
      const dataSize = readSize(head, idLen, sizeLen);
      if (dataSize < 0 || dataSize > MAX_METADATA_ELEMENT) return undefined;
      return readAt(abs, idLen + sizeLen + dataSize);
    };
    // Follow one level of secondary SeekHeads (mkvmerge may put one at the end).
    for (const s of seeks.slice()) {
      if (s.id !== Id.SeekHead || seekHeads.has(s.position)) continue;
      seekHeads.add(s.position);
      const bytes = await readElement(segData + s.position);
      if (bytes) readSeekHead(bytes, -Infinity);
    }
    for (const s of seeks) {
      if (s.id !== Id.Tags && s.id !== Id.Chapters && s.id !== Id.Attachments) continue;
      const bytes = await readElement(segData + s.position);
      const node = bytes && metaTree(bytes);
      if (!node || node.id !== s.id) continue;
      if (s.id === Id.Tags) result.tags = (result.tags ?? []).concat(parseTags(node));
      else if (s.id === Id.Chapters) result.chapters = (result.chapters ?? []).concat(parseChapters(node));
      else result.attachments = (result.attachments ?? []).concat(parseAttachments(node));
    }
    return result;
  } catch {
    return {};
  } finally {
    await fh.close();
  }
}

/** Where muxed bytes go: a file sink (with patches) or a pipe. */
interface Sink {
  write(chunk: Uint8Array): void;
  /** Called after each input chunk: flush when enough is queued. */
  pace(): Promise<void>;
  /** File: flush + patches + close + rename. Pipe: flush. */
  finish(patches: { position: number; data: Uint8Array }[]): Promise<void>;
  abort(): Promise<void>;
  readonly closed: boolean;
}

async function fileSink(path: string): Promise<Sink> {
  const target = resolve(path);
  const tmp = join(dirname(target), `.${basename(target)}.mkvserve-${process.pid}.partial`);
  const sink = await MatroskaFileSink.open(tmp);
  return {
    closed: false,
    write: (c) => sink.write(c),
    async pace() {
      if (sink.needsFlush) await sink.flush();
    },
    async finish(patches) {
      await sink.applyPatches(patches);
      await sink.close();
      await rename(tmp, target);
    },
    async abort() {
      await sink.close().catch(() => {});
      await rm(tmp, { force: true });
    },
  };
}

function pipeSink(stream: NodeJS.WritableStream): Sink {
  const out = new Output(stream);
  let pending: Uint8Array[] = [];
  let bytes = 0;
  const flush = async (): Promise<void> => {
    if (pending.length === 0 || out.closed) return;
    const data = Buffer.concat(pending, bytes);
    pending = [];
    bytes = 0;
    if (!stream.write(data)) await waitDrain(stream, () => out.closed);
  };
  return {
    get closed() {
      return out.closed;
    },
    write(c) {
      pending.push(c);
      bytes += c.byteLength;
    },
    async pace() {
      if (bytes >= 1 << 16) await flush();
    },
    async finish() {
      await flush();
      await out.end();
    },
    async abort() {
      await flush();
    },
  };
}

function fmtBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

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
  if (!toStdout) {
    const st = await stat(opts.output).catch(() => undefined);
    if (st?.isDirectory()) {
      say(`output ${opts.output} is a directory`);
      return EXIT_ERROR;
    }
  }
  let input: Input;
  try {
    input = await openInput(opts.input);
  } catch (e) {
    say(e instanceof Error ? e.message : String(e));
    return EXIT_ERROR;
  }

  let header: MatroskaHeader | undefined;
  // Metadata read ahead through the SeekHead (seekable files) wins over the streamed copies.
  const pre: Metadata =
    input.kind === 'file' && input.size !== undefined ? await prescanMetadata(input.name, input.size) : {};
  let chapters: Edition[] | undefined = pre.chapters;
  let tags: Tag[] | undefined = pre.tags;
  let attachments: Attachment[] | undefined = pre.attachments;
  let muxer: MatroskaMuxer | undefined;
  let sink: Sink | undefined;
  let notMatroska: string | undefined;
  let fatal: EbmlError | undefined;
  // Metadata that arrives after the first Cluster (mkvmerge writes Tags after the Clusters; from a pipe
  // or URL there is no SeekHead read-ahead): written at finish, after the Cues (file mode, with SeekHead
  // entries) or after the last Cluster (stdout). Only what cannot be written there is reported as lost.
  const late: Required<Metadata> = { chapters: [], tags: [], attachments: [] };
  let lateLost = false;
  const errors: EbmlError[] = [];
  let frames = 0;
  let skipped = 0;
  let bytesIn = 0;
  const started = Date.now();
  const showProgress = opts.progress ?? Boolean(stderr.isTTY);
  let lastProgress = 0;
  let interrupted = false;

  const onSigint = (): void => {
    if (interrupted) {
      say('interrupted twice, aborting');
      void sink?.abort().finally(() => process.exit(130));
      return;
    }
    interrupted = true;
    if (showProgress) stderr.write('\n');
    say('interrupted: finishing the output (Ctrl-C again to abort)');
    input.close();
  };
  process.on('SIGINT', onSigint);

  const ensureMuxer = (): MatroskaMuxer | undefined => {
    if (muxer || !header) return muxer;
    muxer = new MatroskaMuxer(header, {
      live: toStdout,
      ...(chapters ? { chapters } : {}),
      ...(tags ? { tags } : {}),
      ...(attachments ? { attachments } : {}),
      write: (c) => sink!.write(c),
    });
    muxer.start();
    return muxer;
  };

  const demuxer = new MatroskaDemuxer({
    onHeader(h) {
      header ??= h;
    },
    onChapters(e) {
      if (pre.chapters) return;
      // The muxer writes Chapters once: late ones can only be added when none were written at the start.
      if (muxer && chapters) lateLost = true;
      else if (muxer) late.chapters.push(...e);
      else chapters = (chapters ?? []).concat(e);
    },
    onTags(t) {
      if (pre.tags) return;
      if (muxer) late.tags.push(...t);
      else tags = (tags ?? []).concat(t);
    },
    onAttachments(a) {
      if (pre.attachments) return;
      if (muxer && attachments) lateLost = true;
      else if (muxer) late.attachments.push(...a);
      else attachments = (attachments ?? []).concat(a);
    },
    onFrame(f: Frame) {
      const m = ensureMuxer();
      if (!m) return;
      try {
        m.addFrame(f);
        frames++;
      } catch (e) {
        skipped++;
        if (skipped <= 10)
          say(
            `skipped a frame of track ${f.track} at ${f.timestamp} ns: ${e instanceof Error ? e.message : String(e)}`,
          );
      }
    },
    onError(e) {
      if (e.code === 'NOT_MATROSKA') {
        notMatroska ??= e.message;
        return;
      }
      errors.push(e);
      if (errors.length <= 20) say(`damaged input: ${e.code}: ${e.message}`);
      if (e.fatal) fatal = e;
    },
  });

  const progress = (final: boolean): void => {
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

  try {
    sink = toStdout ? pipeSink(opts.stdout ?? process.stdout) : await fileSink(opts.output);
  } catch (e) {
    input.close();
    process.off('SIGINT', onSigint);
    say(`cannot write ${opts.output}: ${e instanceof Error ? e.message : String(e)}`);
    return EXIT_ERROR;
  }

  try {
    for await (const chunk of input.chunks) {
      bytesIn += chunk.byteLength;
      demuxer.push(chunk);
      if (notMatroska || fatal || sink.closed) break;
      await sink.pace();
      progress(false);
    }
    // After Ctrl-C the input was cut on purpose: a partial last block is not damage.
    if (!notMatroska && !fatal && !interrupted) demuxer.end();
  } catch (e) {
    input.close();
    process.off('SIGINT', onSigint);
    if (showProgress) stderr.write('\n');
    // An input that fails midway (HTTP reset...): keep what was received, like an interrupted recording.
    if (muxer && !notMatroska) {
      say(`${e instanceof Error ? e.message : String(e)}; finishing the output with what was received`);
      errors.push(e as EbmlError);
    } else {
      await sink.abort();
      say(e instanceof Error ? e.message : String(e));
      return EXIT_ERROR;
    }
  }
  input.close();
  process.off('SIGINT', onSigint);
  progress(true);

  if (notMatroska) {
    await sink.abort();
    say(notMatroska);
    return EXIT_ERROR;
  }
  const m = ensureMuxer();
  if (!m) {
    await sink.abort();
    say(`${input.name}: no Matroska header (EBML, Info, Tracks) found, nothing written`);
    return EXIT_ERROR;
  }
  try {
    const fin = m.finish(late);
    await sink.finish(fin.patches);
    if (lateLost) say('note: a second set of chapters/attachments found after the first Cluster was not copied');
    if (skipped > 0) say(`${skipped} frame(s) could not be written and were skipped`);
    if (!toStdout && showProgress) {
      say(
        `wrote ${opts.output}: ${fmtBytes(fin.size)}, ${frames} frames, duration ${(fin.duration / 1e9).toFixed(3)} s`,
      );
    }
  } catch (e) {
    await sink.abort();
    say(`cannot write ${opts.output}: ${e instanceof Error ? e.message : String(e)}`);
    return EXIT_ERROR;
  }
  if (errors.length > 0) {
    say(
      `${input.name}: ${errors.length} problem${errors.length === 1 ? '' : 's'} in the input; the output holds what could be recovered`,
    );
    return EXIT_DAMAGED;
  }
  return EXIT_OK;
}
