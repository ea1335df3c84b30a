// Test support for @mkvserve/fanout (outside test/ so tap does not run it as a test): synthetic
// headers and frame feeds, and a small independent EBML walker that splits a live Matroska byte
// stream into init parts and clusters of blocks, to check what subscribers receive.

import type { Frame, MatroskaHeader, TrackInfo } from '@mkvserve/ebml';

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export function makeHeader(
  opts: { video?: boolean; audio?: boolean; scale?: number; docType?: string; codecPrivate?: Uint8Array } = {},
): MatroskaHeader {
  const tracks: TrackInfo[] = [];
  if (opts.video !== false) {
    tracks.push({
      number: 1,
      uid: 1n,
      kind: 'video',
      type: 1,
      codecId: 'V_VP9',
      video: { pixelWidth: 320, pixelHeight: 240 },
      ...(opts.codecPrivate ? { codecPrivate: opts.codecPrivate } : {}),
    });
  }
  if (opts.audio !== false) {
    tracks.push({
      number: 2,
      uid: 2n,
      kind: 'audio',
      type: 2,
      codecId: 'A_OPUS',
      audio: { samplingFrequency: 48000, channels: 2 },
    });
  }
  return {
    ebml: {
      docType: opts.docType ?? 'webm',
      docTypeVersion: 4,
      docTypeReadVersion: 2,
      ebmlVersion: 1,
      ebmlReadVersion: 1,
      ebmlMaxIdLength: 4,
      ebmlMaxSizeLength: 8,
    },
    info: { timestampScale: opts.scale ?? 1_000_000 },
    tracks,
    segmentDataOffset: 0,
    segmentSize: -1,
  };
}

export interface FeedOptions {
  durationMs: number;
  /** Video frame interval in ms (default 40), 0 = no video. */
  videoMs?: number;
  /** Keyframe every N video frames (default 25). */
  gop?: number;
  /** Audio frame interval in ms (default 20), 0 = no audio. */
  audioMs?: number;
  videoBytes?: number;
  audioBytes?: number;
  /** Video B-frames: decode order I P B (P shown after B). */
  bframes?: boolean;
  /** Audio is muxed this many ms after video of the same time (so it lands after the next keyframe). */
  audioLagMs?: number;
  startMs?: number;
}

/** Interleaved synthetic frames in decode order (timestamps in ns). Payload bytes encode the index. */
export function makeFeed(o: FeedOptions): Frame[] {
  const videoMs = o.videoMs ?? 40;
  const audioMs = o.audioMs ?? 20;
  const gop = o.gop ?? 25;
  const start = o.startMs ?? 0;
  const vb = o.videoBytes ?? 400;
  const ab = o.audioBytes ?? 60;
  const video: Frame[] = [];
  const audio: Frame[] = [];
  let n = 0;
  const payload = (size: number): Uint8Array => {
    const d = new Uint8Array(size);
    d[0] = n & 0xff;
    d[1] = (n >> 8) & 0xff;
    d[2] = (n >> 16) & 0xff;
    n++;
    return d;
  };
  if (videoMs > 0) {
    const count = Math.floor(o.durationMs / videoMs);
    for (let i = 0; i < count; i++) {
      const key = i % gop === 0;
      let pts = i;
      const k = i % gop;
      if (o.bframes && k > 0) {
        // decode order after the keyframe: P(k+1) B(k) P(k+3) B(k+2) ...
        if (k % 2 === 1 && k + 1 <= gop - 1 && i + 1 < count) pts = i + 1;
        else if (k % 2 === 0) pts = i - 1;
      }
      video.push({
        track: 1,
        timestamp: (start + pts * videoMs) * 1e6,
        keyframe: key,
        data: payload(key ? vb * 4 : vb),
        duration: videoMs * 1e6,
      });
    }
  }
  if (audioMs > 0) {
    const count = Math.floor(o.durationMs / audioMs);
    for (let i = 0; i < count; i++) {
      audio.push({
        track: 2,
        timestamp: (start + i * audioMs) * 1e6,
        keyframe: true,
        data: payload(ab),
        duration: audioMs * 1e6,
      });
    }
  }
  // Interleave by decode time (video decode time = index * videoMs, audio a little late like muxers do).
  const out: Frame[] = [];
  let vi = 0;
  let ai = 0;
  while (vi < video.length || ai < audio.length) {
    const vt = vi < video.length ? vi * videoMs : Infinity;
    const at = ai < audio.length ? ai * audioMs : Infinity;
    if (vt <= at + (o.audioLagMs ?? 0)) out.push(video[vi++]);
    else out.push(audio[ai++]);
  }
  return out;
}

// ---- Minimal EBML walker (independent of @mkvserve/ebml's reader) ----

function vintLen(b: number): number {
  for (let i = 0; i < 8; i++) if (b & (0x80 >> i)) return i + 1;
  return 0;
}
function readId(d: Uint8Array, p: number): [number, number] {
  const len = vintLen(d[p]);
  if (len === 0 || len > 4) throw new Error(`bad id at ${p}`);
  let v = 0;
  for (let i = 0; i < len; i++) v = v * 256 + d[p + i];
  return [v, len];
}
function readSize(d: Uint8Array, p: number): [number, number] {
  const len = vintLen(d[p]);
  if (len === 0) throw new Error(`bad size at ${p}`);
  let v = d[p] & (0xff >> len);
  let allOnes = v === 0xff >> len;
  for (let i = 1; i < len; i++) {
    v = v * 256 + d[p + i];
    if (d[p + i] !== 0xff) allOnes = false;
  }
  return [allOnes ? -1 : v, len];
}
function readUint(d: Uint8Array, p: number, n: number): number {
  let v = 0;
  for (let i = 0; i < n; i++) v = v * 256 + d[p + i];
  return v;
}

export interface WalkedBlock {
  track: number;
  rel: number;
  keyframe: boolean;
  group: boolean;
  /** Absolute timestamp in ticks (cluster + rel). */
  ticks: number;
  /** The block element bytes (a view). */
  bytes: Uint8Array;
  /** Frame payload (a view). */
  data: Uint8Array;
}
export interface WalkedCluster {
  timestamp: number;
  blocks: WalkedBlock[];
}
export interface WalkedSegment {
  docType: string;
  timestampScale: number;
  tracks: number;
  hasSeekHead: boolean;
  hasCues: boolean;
  hasDuration: boolean;
  clusters: WalkedCluster[];
}

const ID_EBML = 0x1a45dfa3;
const ID_SEGMENT = 0x18538067;
const ID_CLUSTER = 0x1f43b675;
const ID_INFO = 0x1549a966;
const ID_TRACKS = 0x1654ae6b;
const ID_SEEKHEAD = 0x114d9b74;
const ID_CUES = 0x1c53bb6b;
const LEVEL1 = new Set([ID_CLUSTER, ID_INFO, ID_TRACKS, ID_SEEKHEAD, ID_CUES, 0x1941a469, 0x1043a770, 0x1254c367]);

/** Splits a live stream (possibly several concatenated Segments) into segments and clusters. Throws on malformed input. */
export function walk(d: Uint8Array): WalkedSegment[] {
  const segs: WalkedSegment[] = [];
  let p = 0;
  let seg: WalkedSegment | undefined;
  let cluster: WalkedCluster | undefined;
  let segEnd = Infinity;
  let clusterEnd = Infinity;
  while (p < d.length) {
    const [id, il] = readId(d, p);
    const [size, sl] = readSize(d, p + il);
    const data = p + il + sl;
    if (cluster && (p >= clusterEnd || LEVEL1.has(id) || id === ID_EBML)) cluster = undefined;
    if (id === ID_EBML) {
      let docType = '';
      for (let q = data; q < data + size;) {
        const [cid, cil] = readId(d, q);
        const [cs, csl] = readSize(d, q + cil);
        if (cid === 0x4282) docType = new TextDecoder().decode(d.subarray(q + cil + csl, q + cil + csl + cs));
        q += cil + csl + cs;
      }
      seg = {
        docType,
        timestampScale: 1e6,
        tracks: 0,
        hasSeekHead: false,
        hasCues: false,
        hasDuration: false,
        clusters: [],
      };
      segs.push(seg);
      p = data + size;
      continue;
    }
    if (!seg) throw new Error(`element 0x${id.toString(16)} before the EBML header at ${p}`);
    if (id === ID_SEGMENT) {
      segEnd = size < 0 ? Infinity : data + size;
      p = data;
      continue;
    }
    if (id === ID_CLUSTER) {
      cluster = { timestamp: -1, blocks: [] };
      seg.clusters.push(cluster);
      clusterEnd = size < 0 ? Infinity : data + size;
      p = data;
      continue;
    }
    if (id === ID_INFO) {
      for (let q = data; q < data + size;) {
        const [cid, cil] = readId(d, q);
        const [cs, csl] = readSize(d, q + cil);
        if (cid === 0x2ad7b1) seg.timestampScale = readUint(d, q + cil + csl, cs);
        if (cid === 0x4489) seg.hasDuration = true;
        q += cil + csl + cs;
      }
    } else if (id === ID_TRACKS) {
      for (let q = data; q < data + size;) {
        const [cid, cil] = readId(d, q);
        const [cs, csl] = readSize(d, q + cil);
        if (cid === 0xae) seg.tracks++;
        q += cil + csl + cs;
      }
    } else if (id === ID_SEEKHEAD) seg.hasSeekHead = true;
    else if (id === ID_CUES) seg.hasCues = true;
    else if (cluster && id === 0xe7) cluster.timestamp = readUint(d, data, size);
    else if (cluster && (id === 0xa3 || id === 0xa0)) {
      if (cluster.timestamp < 0) throw new Error('block before the Cluster Timestamp');
      let bp = data;
      let bsize = size;
      let hasRef = false;
      if (id === 0xa0) {
        let found = -1;
        for (let q = data; q < data + size;) {
          const [cid, cil] = readId(d, q);
          const [cs, csl] = readSize(d, q + cil);
          if (cid === 0xa1) {
            found = q + cil + csl;
            bsize = cs;
          }
          if (cid === 0xfb) hasRef = true;
          q += cil + csl + cs;
        }
        if (found < 0) throw new Error('BlockGroup without Block');
        bp = found;
      }
      const tl = vintLen(d[bp]);
      const track = readUint(d, bp, tl) - (0x80 >> (tl - 1)) * 256 ** (tl - 1);
      let rel = (d[bp + tl] << 8) | d[bp + tl + 1];
      if (rel >= 0x8000) rel -= 0x10000;
      const flags = d[bp + tl + 2];
      cluster.blocks.push({
        track,
        rel,
        keyframe: id === 0xa3 ? (flags & 0x80) !== 0 : !hasRef,
        group: id === 0xa0,
        ticks: cluster.timestamp + rel,
        bytes: d.subarray(p, data + size),
        data: d.subarray(bp + tl + 3, bp + bsize),
      });
    }
    if (size < 0) throw new Error(`unexpected unknown size for 0x${id.toString(16)}`);
    p = data + size;
    if (p > segEnd) throw new Error('element overruns its Segment');
  }
  return segs;
}

/** Pulls everything a subscriber has pending (repeatedly), returning the parts (null when finished). */
export function drain(sub: { pull(max?: number): Uint8Array[] | null }, maxBytes?: number): Uint8Array[] {
  const all: Uint8Array[] = [];
  for (;;) {
    const parts = sub.pull(maxBytes);
    if (parts === null || parts.length === 0) return all;
    all.push(...parts);
  }
}
