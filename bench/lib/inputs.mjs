// Input files, generated with ffmpeg at run time into bench/.work/ and cached there (never committed).
// Each file is written under a temporary name and renamed when complete, so an interrupted run never
// leaves a truncated file that a later run would take for a cached input. Next to each input a small
// JSON file caches ffprobe facts (duration, packet count) used to cross-check the demuxers.
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { WORK, ensureWork, exists, fileSize, log, run, which } from './common.mjs';

const MB = 1024 * 1024;

async function ff(args, what) {
  const r = await run('ffmpeg', ['-hide_banner', '-v', 'error', '-nostdin', '-y', ...args], { timeoutMs: 30 * 60_000 });
  if (r.code !== 0) throw new Error(`ffmpeg failed (${what}): ${r.stderr.slice(-2000)}`);
}

/** Encodes a short piece once, then repeats it with `-stream_loop -c copy` (fast, valid timestamps). */
async function loopTo(piece, out, loops) {
  const tmp = `${out}.tmp${out.slice(out.lastIndexOf('.'))}`;
  await ff(['-stream_loop', String(loops), '-i', piece, '-map', '0', '-c', 'copy', tmp], `loop ${out}`);
  renameSync(tmp, out);
}

export async function probe(file) {
  const cache = `${file}.json`;
  if (exists(cache)) {
    try {
      const j = JSON.parse(readFileSync(cache, 'utf8'));
      if (j.size === fileSize(file)) return j;
    } catch {
      /* regenerate */
    }
  }
  const r = await run(
    'ffprobe',
    [
      '-v',
      'error',
      '-count_packets',
      '-show_entries',
      'format=duration:stream=index,codec_name,nb_read_packets',
      '-of',
      'json',
      file,
    ],
    { timeoutMs: 10 * 60_000 },
  );
  if (r.code !== 0) throw new Error(`ffprobe ${file}: ${r.stderr}`);
  const j = JSON.parse(r.stdout);
  const info = {
    size: fileSize(file),
    duration: Number(j.format?.duration),
    packets: (j.streams ?? []).reduce((s, x) => s + Number(x.nb_read_packets ?? 0), 0),
    codecs: (j.streams ?? []).map((x) => x.codec_name),
  };
  writeFileSync(cache, JSON.stringify(info));
  return info;
}

function requireFfmpeg() {
  if (!which('ffmpeg')) throw new Error('ffmpeg is needed to generate the inputs (apt-get install ffmpeg)');
}

/** A: H.264 (x264 ultrafast, ~18-20 Mbit/s, 2 s GOP) + AAC in Matroska, at least `sizeMB` MiB. */
export async function inputA(sizeMB) {
  ensureWork();
  const out = join(WORK, `A-h264-aac-${sizeMB}MB.mkv`);
  if (exists(out)) return out;
  const piece = await pieceA();
  const loops = Math.max(0, Math.ceil((sizeMB * MB) / fileSize(piece)) - 1);
  log(`generating A (${sizeMB} MiB: piece repeated ${loops + 1} times)`);
  await loopTo(piece, out, loops);
  return out;
}

async function pieceA() {
  requireFfmpeg();
  const piece = join(WORK, 'A-piece-10s.mkv');
  if (!exists(piece)) {
    log('generating A piece (10 s of 720p30 H.264 at 20 Mbit/s + AAC)');
    const tmp = `${piece}.tmp.mkv`;
    await ff(
      [
        '-f',
        'lavfi',
        '-i',
        'testsrc2=size=1280x720:rate=30',
        '-f',
        'lavfi',
        '-i',
        'sine=frequency=440:sample_rate=48000',
        '-t',
        '10',
        '-c:v',
        'libx264',
        '-preset',
        'ultrafast',
        '-b:v',
        '20M',
        '-minrate',
        '20M',
        '-maxrate',
        '20M',
        '-bufsize',
        '20M',
        '-g',
        '60',
        '-c:a',
        'aac',
        '-b:a',
        '128k',
        tmp,
      ],
      'A piece',
    );
    renameSync(tmp, piece);
  }
  return piece;
}

/** B: Opus 48 kbit/s, 20 ms frames, in WebM, `seconds` long (10,000 s = 500,000 blocks). */
export async function inputB(seconds) {
  ensureWork();
  const out = join(WORK, `B-opus48k-20ms-${seconds}s.webm`);
  if (exists(out)) return out;
  requireFfmpeg();
  const pieceSec = Math.min(seconds, 500);
  const piece = join(WORK, `B-piece-${pieceSec}s.webm`);
  if (!exists(piece)) {
    log(`generating B piece (${pieceSec} s of Opus noise, 48 kbit/s, 20 ms frames)`);
    const tmp = `${piece}.tmp.webm`;
    await ff(
      [
        '-f',
        'lavfi',
        '-i',
        'anoisesrc=sample_rate=48000:amplitude=0.3:seed=1',
        '-t',
        String(pieceSec),
        '-c:a',
        'libopus',
        '-b:a',
        '48k',
        '-frame_duration',
        '20',
        '-application',
        'lowdelay',
        tmp,
      ],
      'B piece',
    );
    renameSync(tmp, piece);
  }
  const loops = Math.max(0, Math.ceil(seconds / pieceSec) - 1);
  log(`generating B (${seconds} s: piece repeated ${loops + 1} times)`);
  await loopTo(piece, out, loops);
  return out;
}

/** BIG: file A's piece repeated to at least `sizeMB` MiB (default 2 GiB), for the streaming-RSS check. */
export async function inputBig(sizeMB = 2048) {
  ensureWork();
  const out = join(WORK, `BIG-h264-aac-${sizeMB}MB.mkv`);
  if (exists(out)) return out;
  const piece = await pieceA();
  const loops = Math.max(0, Math.ceil((sizeMB * MB) / fileSize(piece)) - 1);
  log(`generating BIG (${sizeMB} MiB: piece repeated ${loops + 1} times)`);
  await loopTo(piece, out, loops);
  return out;
}

/**
 * LOAD: ~2 Mbit/s WebM for the load test: VP8 720p30 (CBR 1.9 Mbit/s, keyframe every 60 frames = 2 s)
 * + Opus 64 kbit/s. Temporal noise is added so that the encoder actually reaches its target bitrate.
 */
export async function inputLoad(seconds) {
  ensureWork();
  const out = join(WORK, `LOAD-vp8-opus-2mbit-${seconds}s.webm`);
  if (exists(out)) return out;
  requireFfmpeg();
  log(`generating the load-test WebM (${seconds} s, VP8 720p30 1.9 Mbit/s CBR, GOP 60 + Opus 64k)`);
  const tmp = `${out}.tmp.webm`;
  try {
    await ff(
      [
        '-f',
        'lavfi',
        '-i',
        'testsrc2=size=1280x720:rate=30,noise=alls=12:allf=t',
        '-f',
        'lavfi',
        '-i',
        'sine=frequency=330:sample_rate=48000',
        '-t',
        String(seconds),
        '-c:v',
        'libvpx',
        '-deadline',
        'realtime',
        '-cpu-used',
        '8',
        '-threads',
        '2',
        '-b:v',
        '1.9M',
        '-minrate',
        '1.9M',
        '-maxrate',
        '1.9M',
        '-bufsize',
        '1.9M',
        '-g',
        '60',
        '-keyint_min',
        '60',
        '-c:a',
        'libopus',
        '-b:a',
        '64k',
        tmp,
      ],
      'load WebM',
    );
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  renameSync(tmp, out);
  return out;
}
