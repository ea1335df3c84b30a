// Which browsers can play a mount, and how to make one they can. The player page asks the browser itself
// (`canPlayType` with the MIME type and RFC 6381 codec strings made here from the tracks' Matroska
// CodecIDs): Chromium plays H.264/AAC in Matroska, Firefox plays no Matroska at all, nobody plays HEVC
// in it. When the answer is no, the page shows the ffmpeg line made here, which turns the mount into
// WebM (copying what WebM can hold, re-encoding the rest to VP9 / Opus) and serves it with mkvserve.
// canPlayType, not MediaSource.isTypeSupported: the page plays the stream as a plain <video src>, and MSE
// answers no for every Matroska type even where Chromium plays it.

import type { TrackSnapshot } from '../snapshot.js';

interface CodecInfo {
  /** RFC 6381 codec string for canPlayType (a common profile when the exact one is not known). */
  mime: string;
  /** How people name it. */
  label: string;
  /** Allowed in WebM (VP8, VP9, AV1, Opus, Vorbis). */
  webm: boolean;
}

const CODECS: Record<string, CodecInfo> = {
  V_VP8: { mime: 'vp8', label: 'VP8', webm: true },
  V_VP9: { mime: 'vp9', label: 'VP9', webm: true },
  V_AV1: { mime: 'av01.0.04M.08', label: 'AV1', webm: true },
  'V_MPEG4/ISO/AVC': { mime: 'avc1.42E01E', label: 'H.264', webm: false },
  'V_MPEGH/ISO/HEVC': { mime: 'hev1.1.6.L93.B0', label: 'HEVC (H.265)', webm: false },
  V_THEORA: { mime: 'theora', label: 'Theora', webm: false },
  A_OPUS: { mime: 'opus', label: 'Opus', webm: true },
  A_VORBIS: { mime: 'vorbis', label: 'Vorbis', webm: true },
  A_AAC: { mime: 'mp4a.40.2', label: 'AAC', webm: false },
  'A_MPEG/L3': { mime: 'mp3', label: 'MP3', webm: false },
  A_FLAC: { mime: 'flac', label: 'FLAC', webm: false },
  A_AC3: { mime: 'ac-3', label: 'AC-3', webm: false },
  A_EAC3: { mime: 'ec-3', label: 'E-AC-3', webm: false },
};

function codecInfo(codecId: string): CodecInfo | undefined {
  const id = codecId.replace(/\0+$/, ''); // GStreamer writes a trailing NUL
  return CODECS[id] ?? (id.startsWith('A_AAC') ? CODECS['A_AAC'] : undefined);
}

/** The media tracks (video, audio) of a mount; subtitles and others do not decide playback. */
function mediaTracks(tracks: readonly TrackSnapshot[]): TrackSnapshot[] {
  return tracks.filter((t) => t.kind === 'video' || t.kind === 'audio');
}

export interface Playability {
  /** `video/webm; codecs="vp8,opus"`; null while the tracks are not known. */
  type: string | null;
  /** Every media track's codec is one WebM allows (and the container is WebM or Matroska). */
  webmCodecs: boolean;
  /** CodecIDs we have no codec string for (the browser is then only asked about the rest). */
  unknown: string[];
  /** One line per track, e.g. `video: VP8 320x240`. */
  describe: string[];
}

/** What the player page asks the browser, from the mount's DocType and tracks. */
export function playability(contentType: string | null, tracks: readonly TrackSnapshot[]): Playability {
  const media = mediaTracks(tracks);
  const codecs: string[] = [];
  const unknown: string[] = [];
  let webmCodecs = media.length > 0;
  const describe: string[] = [];
  for (const t of tracks) {
    const info = codecInfo(t.codecId);
    const name = info?.label ?? t.codecId.replace(/\0+$/, '');
    let line = `${t.kind}: ${name}`;
    if (t.width !== undefined && t.height !== undefined) line += ` ${t.width}×${t.height}`;
    if (t.samplingFrequency !== undefined) line += ` ${Math.round(t.samplingFrequency)} Hz`;
    if (t.channels !== undefined) line += `, ${t.channels} ch`;
    if (t.language !== undefined && t.language !== 'und') line += ` (${t.language})`;
    describe.push(line);
    if (t.kind !== 'video' && t.kind !== 'audio') continue;
    if (info === undefined) {
      unknown.push(t.codecId.replace(/\0+$/, ''));
      webmCodecs = false;
      continue;
    }
    if (!codecs.includes(info.mime)) codecs.push(info.mime);
    if (!info.webm) webmCodecs = false;
  }
  const hasVideo = media.some((t) => t.kind === 'video');
  const base =
    contentType === 'video/webm'
      ? hasVideo
        ? 'video/webm'
        : 'audio/webm'
      : hasVideo
        ? 'video/x-matroska'
        : 'audio/x-matroska';
  const type =
    contentType === null || media.length === 0
      ? null
      : codecs.length > 0
        ? `${base}; codecs="${codecs.join(',')}"`
        : base;
  return { type, webmCodecs, unknown, describe };
}

/**
 * The ffmpeg line that serves `streamUrl` again as WebM on another port: VP8/VP9/AV1 and Opus/Vorbis are
 * copied, other video is encoded to VP9 (real-time settings), other audio to Opus; subtitles are left out.
 * Before the tracks are known, the first video and audio streams (if any) are encoded.
 */
export function webmRecipe(streamUrl: string, tracks: readonly TrackSnapshot[], port = 8081): string {
  const media = mediaTracks(tracks);
  const known = media.length > 0;
  const video = media.find((t) => t.kind === 'video');
  const audio = media.find((t) => t.kind === 'audio');
  const args = ['ffmpeg', '-i', streamUrl];
  if (video || !known) {
    args.push('-map', known ? '0:v:0' : '0:v:0?');
    if (video && codecInfo(video.codecId)?.webm) args.push('-c:v', 'copy');
    else args.push('-c:v', 'libvpx-vp9', '-deadline', 'realtime', '-cpu-used', '8', '-row-mt', '1', '-b:v', '2M');
  }
  if (audio || !known) {
    args.push('-map', known ? '0:a:0' : '0:a:0?');
    if (audio && codecInfo(audio.codecId)?.webm) args.push('-c:a', 'copy');
    else args.push('-c:a', 'libopus', '-b:a', '128k');
  }
  args.push('-f', 'webm', '-', '|', 'mkvserve', '-', '--port', String(port));
  return args.join(' ');
}
