// Stream layout: what an init part declares, and when two headers need different init parts.
// A source header is cleaned before the fanout declares it (one TrackEntry per track number, only
// numbers a block can carry), so every init part the fanout sends re-demuxes cleanly, whatever the
// input's header holds; frames of tracks the cleaned header does not declare are then dropped.

import type { MatroskaHeader, TrackInfo } from '@mkvserve/ebml';

/** Largest track number kept: a block header could carry up to 2^56 - 2, a JS number holds 2^53 - 1 exactly. */
const MAX_TRACK_NUMBER = 2 ** 53 - 1;

/** A header as the fanout declares it, and how many of the source's TrackEntries it left out. */
export interface DeclaredHeader {
  header: MatroskaHeader;
  /** TrackEntries left out: a track number already declared (the first entry is kept, as the demuxer
   *  does), or a number no block can carry (0, fractional, too large). */
  ignored: number;
}

export function validTrackNumber(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 1 && n <= MAX_TRACK_NUMBER;
}

/** The header with one TrackEntry per valid track number (first one wins) and a usable TimestampScale.
 *  Returns `h` itself when nothing had to change. */
export function declaredHeader(h: MatroskaHeader): DeclaredHeader {
  const seen = new Set<number>();
  const tracks: TrackInfo[] = [];
  let ignored = 0;
  for (const t of h.tracks) {
    if (!validTrackNumber(t.number) || seen.has(t.number)) {
      ignored++;
      continue;
    }
    seen.add(t.number);
    tracks.push(t);
  }
  const scale = declaredScale(h);
  if (ignored === 0 && scale === h.info.timestampScale) return { header: h, ignored };
  return { header: { ...h, info: { ...h.info, timestampScale: scale }, tracks }, ignored };
}

/** The TimestampScale an init part declares: the source's when it is a positive integer, else the
 *  default 1,000,000 (frame timestamps are in ns: only their precision depends on it). */
export function declaredScale(h: MatroskaHeader): number {
  const s: unknown = h.info.timestampScale;
  return typeof s === 'number' && Number.isSafeInteger(s) && s > 0 ? s : 1_000_000;
}

function sameBytes(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function sameTrack(a: TrackInfo, b: TrackInfo): boolean {
  return (
    a.number === b.number &&
    a.type === b.type &&
    a.codecId === b.codecId &&
    sameBytes(a.codecPrivate, b.codecPrivate) &&
    a.video?.pixelWidth === b.video?.pixelWidth &&
    a.video?.pixelHeight === b.video?.pixelHeight &&
    a.audio?.samplingFrequency === b.audio?.samplingFrequency &&
    a.audio?.channels === b.audio?.channels &&
    !!a.encrypted === !!b.encrypted
  );
}

/** True when a player needs no new init part to go from header a to header b (compared as the fanout
 *  declares them: duplicate and invalid TrackEntries left out). */
export function sameStreamLayout(a: MatroskaHeader, b: MatroskaHeader): boolean {
  if (declaredScale(a) !== declaredScale(b)) return false;
  if (a.ebml.docType !== b.ebml.docType) return false;
  const ta = declaredHeader(a).header.tracks;
  const tb = declaredHeader(b).header.tracks;
  if (ta.length !== tb.length) return false;
  for (let i = 0; i < ta.length; i++) if (!sameTrack(ta[i], tb[i])) return false;
  return true;
}
