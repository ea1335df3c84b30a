// What does the input look like? Recognises EBML (Matroska/WebM) and the usual non-Matroska inputs from
// their first bytes, so a wrong input gets a message that names it and says how to convert it.

import { Id } from '../schema.generated.js';
import { readId } from '../vint.js';

/** Container/format families recognised by `sniffContainer`. */
export type ContainerKind =
  | 'matroska'
  | 'webm'
  | 'ebml'
  | 'mpegts'
  | 'm2ts'
  | 'mp4'
  | 'mov'
  | 'flv'
  | 'ogg'
  | 'avi'
  | 'wav'
  | 'riff'
  | 'mpeg-ps'
  | 'mpeg-video'
  | 'adts'
  | 'mp3'
  | 'flac'
  | 'ivf'
  | 'h264'
  | 'h265'
  | 'asf'
  | 'hls-playlist'
  | 'html'
  | 'gzip'
  | 'empty'
  | 'unknown';

export interface SniffResult {
  kind: ContainerKind;
  /** Human name, e.g. "MPEG-TS". */
  name: string;
  /** True for EBML input whose DocType is matroska or webm (or not found in the bytes given). */
  matroska: boolean;
  /** The EBML DocType when found. */
  docType?: string;
  /** For non-Matroska input: what it looks like and how to convert it. */
  message?: string;
}

const NAMES: Record<ContainerKind, string> = {
  matroska: 'Matroska',
  webm: 'WebM',
  ebml: 'EBML (not Matroska)',
  mpegts: 'MPEG-TS',
  m2ts: 'MPEG-TS (M2TS, 192-byte packets)',
  mp4: 'MP4',
  mov: 'QuickTime MOV',
  flv: 'FLV',
  ogg: 'Ogg',
  avi: 'AVI',
  wav: 'WAV',
  riff: 'RIFF',
  'mpeg-ps': 'MPEG-PS (program stream)',
  'mpeg-video': 'raw MPEG-1/2 video',
  adts: 'AAC (ADTS)',
  mp3: 'MP3',
  flac: 'FLAC',
  ivf: 'IVF (raw VP8/VP9/AV1)',
  h264: 'raw H.264 (Annex B)',
  h265: 'raw H.265/HEVC (Annex B)',
  asf: 'ASF/WMV',
  'hls-playlist': 'an HLS playlist (m3u8)',
  html: 'an HTML page',
  gzip: 'gzip-compressed data',
  empty: 'empty input',
  unknown: 'unknown data',
};

function ascii(b: Uint8Array, pos: number, s: string): boolean {
  if (pos + s.length > b.length) return false;
  for (let i = 0; i < s.length; i++) if (b[pos + i] !== s.charCodeAt(i)) return false;
  return true;
}

/** Finds the DocType string in the EBML header bytes, if present in `b`. */
function findDocType(b: Uint8Array): string | undefined {
  const lim = Math.min(b.length - 3, 64);
  for (let i = 4; i < lim; i++) {
    if (b[i] === 0x42 && b[i + 1] === 0x82) {
      const s = b[i + 2];
      if (s < 0x81 || s > 0xa0) continue; // 1-byte size, 1-32 characters
      const n = s & 0x7f;
      if (i + 3 + n > b.length) return undefined;
      let out = '';
      for (let k = 0; k < n; k++) {
        const c = b[i + 3 + k];
        if (c === 0) break;
        out += String.fromCharCode(c);
      }
      return out;
    }
  }
  return undefined;
}

function tsSync(b: Uint8Array, start: number, stride: number): boolean {
  if (b[start] !== 0x47) return false;
  let seen = 0;
  for (let p = start; p < b.length && seen < 5; p += stride, seen++) if (b[p] !== 0x47) return false;
  // One packet alone is weak evidence; accept it only when that is all we have.
  return seen >= 2 || b.length < start + stride;
}

/** Annex B start code at 0: returns the offset of the NAL header byte, or -1. */
function annexB(b: Uint8Array): number {
  if (b.length >= 5 && b[0] === 0 && b[1] === 0 && b[2] === 0 && b[3] === 1) return 4;
  if (b.length >= 4 && b[0] === 0 && b[1] === 0 && b[2] === 1) return 3;
  return -1;
}

function kindFor(b: Uint8Array): { kind: ContainerKind; docType?: string } {
  if (b.length === 0) return { kind: 'empty' };
  if (b.length >= 4 && readId(b, 0, 4) === Id.EBML) {
    const docType = findDocType(b);
    if (docType === undefined || docType === 'matroska')
      return docType ? { kind: 'matroska', docType } : { kind: 'matroska' };
    if (docType === 'webm') return { kind: 'webm', docType };
    return { kind: 'ebml', docType };
  }
  if (tsSync(b, 0, 188)) return { kind: 'mpegts' };
  if (b.length > 4 && tsSync(b, 4, 192)) return { kind: 'm2ts' };
  if (b.length >= 8) {
    const box = String.fromCharCode(b[4], b[5], b[6], b[7]);
    if (box === 'ftyp') return { kind: ascii(b, 8, 'qt  ') ? 'mov' : 'mp4' };
    if (
      box === 'moov' ||
      box === 'mdat' ||
      box === 'free' ||
      box === 'skip' ||
      box === 'wide' ||
      box === 'styp' ||
      box === 'moof' ||
      box === 'pnot'
    ) {
      return { kind: box === 'wide' || box === 'pnot' ? 'mov' : 'mp4' };
    }
  }
  if (ascii(b, 0, 'FLV') && (b.length < 4 || b[3] === 1)) return { kind: 'flv' };
  if (ascii(b, 0, 'OggS')) return { kind: 'ogg' };
  if (ascii(b, 0, 'RIFF') || ascii(b, 0, 'RF64')) {
    if (ascii(b, 8, 'AVI ')) return { kind: 'avi' };
    if (ascii(b, 8, 'WAVE')) return { kind: 'wav' };
    return { kind: 'riff' };
  }
  if (ascii(b, 0, 'fLaC')) return { kind: 'flac' };
  if (ascii(b, 0, 'DKIF')) return { kind: 'ivf' };
  if (ascii(b, 0, 'ID3')) return { kind: 'mp3' };
  if (b[0] === 0x30 && b[1] === 0x26 && b[2] === 0xb2 && b[3] === 0x75) return { kind: 'asf' };
  if (b[0] === 0x1f && b[1] === 0x8b) return { kind: 'gzip' };
  if (b[0] === 0 && b[1] === 0 && b[2] === 1 && b[3] === 0xba) return { kind: 'mpeg-ps' };
  if (b[0] === 0 && b[1] === 0 && b[2] === 1 && b[3] === 0xb3) return { kind: 'mpeg-video' };
  const nal = annexB(b);
  if (nal > 0) {
    const h = b[nal];
    const h2 = b[nal + 1];
    const hevcType = (h >> 1) & 0x3f;
    if ((h & 0x81) === 0 && h2 === 1 && hevcType >= 32 && hevcType <= 40) return { kind: 'h265' };
    const t = h & 0x1f;
    if ((h & 0x80) === 0 && (t === 7 || t === 9 || t === 6 || t === 5 || t === 1 || t === 8)) return { kind: 'h264' };
  }
  if (b[0] === 0xff && b.length >= 2) {
    const b1 = b[1];
    if ((b1 & 0xf6) === 0xf0) return { kind: 'adts' };
    if ((b1 & 0xe0) === 0xe0 && (b1 & 0x06) !== 0 && (b1 & 0x18) !== 0x08) return { kind: 'mp3' };
  }
  // Text formats (a URL that served a playlist or an error page).
  let p = 0;
  if (b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf) p = 3;
  while (p < b.length && (b[p] === 0x20 || b[p] === 0x0a || b[p] === 0x0d || b[p] === 0x09)) p++;
  if (ascii(b, p, '#EXTM3U')) return { kind: 'hls-playlist' };
  if (b[p] === 0x3c /* < */) {
    const head = String.fromCharCode(...b.subarray(p, Math.min(b.length, p + 64))).toLowerCase();
    if (
      head.startsWith('<!doctype html') ||
      head.startsWith('<html') ||
      head.startsWith('<head') ||
      head.startsWith('<!--')
    )
      return { kind: 'html' };
  }
  return { kind: 'unknown' };
}

/**
 * Recognises what `firstBytes` (ideally the first 1 KiB or more of the input) look like. For input that
 * is not Matroska/WebM, `message` names what it looks like and how to convert it with ffmpeg.
 */
export function sniffContainer(firstBytes: Uint8Array): SniffResult {
  const { kind, docType } = kindFor(firstBytes);
  const name = NAMES[kind];
  const matroska = kind === 'matroska' || kind === 'webm';
  const r: SniffResult = { kind, name, matroska };
  if (docType !== undefined) r.docType = docType;
  if (!matroska) r.message = notMatroskaMessage(kind, firstBytes, docType);
  return r;
}

const CONVERT =
  'convert it with: ffmpeg -i IN -c copy -f matroska OUT.mkv (or to a pipe: ffmpeg -i IN -c copy -f matroska -)';

function notMatroskaMessage(kind: ContainerKind, b: Uint8Array, docType?: string): string {
  switch (kind) {
    case 'empty':
      return 'input is empty, not Matroska/WebM';
    case 'ebml':
      return `input is EBML with DocType "${docType}", not Matroska/WebM`;
    case 'hls-playlist':
      return 'input looks like an HLS playlist (m3u8), not Matroska/WebM; give the playlist URL to ffmpeg: ffmpeg -i URL.m3u8 -c copy -f matroska -';
    case 'html':
      return 'input looks like an HTML page (a wrong URL or an error page?), not Matroska/WebM';
    case 'gzip':
      return 'input is gzip-compressed data, not Matroska/WebM; decompress it first (gunzip)';
    case 'h264':
      return `input looks like raw H.264 (Annex B), not Matroska/WebM; convert it with: ffmpeg -f h264 -framerate 25 -i IN -c copy -f matroska OUT.mkv (or to a pipe: ... -f matroska -)`;
    case 'h265':
      return `input looks like raw H.265/HEVC (Annex B), not Matroska/WebM; convert it with: ffmpeg -f hevc -framerate 25 -i IN -c copy -f matroska OUT.mkv (or to a pipe: ... -f matroska -)`;
    case 'unknown':
      return `input is not Matroska/WebM (no EBML header; the first bytes are ${Array.from(b.subarray(0, 8), (x) => x.toString(16).padStart(2, '0')).join(' ')}); if ffmpeg can read it, ${CONVERT}`;
    default:
      return `input looks like ${NAMES[kind]}, not Matroska/WebM; ${CONVERT}`;
  }
}

/** Returns the not-Matroska message for `firstBytes`, or undefined for Matroska/WebM input. */
export function notMatroskaError(firstBytes: Uint8Array): string | undefined {
  const r = sniffContainer(firstBytes);
  return r.matroska ? undefined : r.message;
}
