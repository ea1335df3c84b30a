// Clusterer: decides where live Clusters start (at every keyframe of the primary video track; about
// every audioClusterNs for audio-only input; whenever a block's int16 relative timestamp would overflow
// or the open cluster grows past maxClusterBytes) and encodes each frame ONCE relative to its cluster,
// as parts (head, the payload itself, trailer) that the history copies into its shared run. It ignores
// the source's own clustering: only frames go in.

import { encodeBlockParts } from '@mkvserve/ebml/advanced';
import type { Frame, MatroskaHeader } from '@mkvserve/ebml';

export interface ClustererOptions {
  /** Nanoseconds per tick (Info TimestampScale). */
  timestampScale: number;
  /** Track number whose keyframes start clusters (join points); 0 = audio-only (time-based clusters). */
  videoTrack: number;
  /** Audio-only: start a cluster once this much media time (ns) is in the open one. */
  audioClusterNs: number;
  /** Start a (non-join) cluster once the open one holds this many bytes, so history stays bounded. */
  maxClusterBytes: number;
}

/** Where one frame went. */
export interface PlacedBlock {
  /** True when this frame opens a new cluster (at `clusterTicks`). */
  newCluster: boolean;
  /** The new cluster is a join point (starts with a primary video keyframe, or audio-only keyframe). */
  join: boolean;
  /** Timestamp of the frame's cluster, in ticks (source timeline). */
  clusterTicks: number;
  /** The frame's timestamp in ticks (source timeline). */
  ticks: number;
  /** The encoded SimpleBlock / BlockGroup element as parts (head, the frame's payload, trailer). */
  parts: Uint8Array[];
  /** Their total length. */
  length: number;
}

const INT16_MIN = -32768;
const INT16_MAX = 32767;

/** First video track of the header (0 when there is none). */
export function primaryVideoTrack(header: MatroskaHeader): number {
  let best = 0;
  for (const t of header.tracks) {
    if (t.kind === 'video' && (best === 0 || t.number < best)) best = t.number;
  }
  return best;
}

function partsLength(parts: readonly Uint8Array[]): number {
  let n = 0;
  for (let k = 0; k < parts.length; k++) n += parts[k].length;
  return n;
}

export class Clusterer {
  readonly options: ClustererOptions;
  private open = false;
  private everOpened = false;
  private clusterTicks = 0;
  private clusterBytes = 0;

  constructor(options: ClustererOptions) {
    this.options = options;
  }

  /** A cluster has been opened since the start (or the last restart()). */
  get started(): boolean {
    return this.everOpened;
  }

  /** The next frame starts a new cluster whatever it is. */
  breakCluster(): void {
    this.open = false;
  }

  /** A restarted source: as at the very start, no cluster until a join point (a keyframe of the
   *  primary video track; any keyframe for audio-only input). */
  restart(): void {
    this.open = false;
    this.everOpened = false;
  }

  /** Places and encodes one frame (arrival/decode order). `timestampNs` overrides frame.timestamp. */
  push(frame: Frame, timestampNs: number = frame.timestamp): PlacedBlock {
    const o = this.options;
    const ticks = Math.round(timestampNs / o.timestampScale);
    const audioOnly = o.videoTrack === 0;
    const join = audioOnly ? frame.keyframe : frame.keyframe && frame.track === o.videoTrack;
    let start = !this.open;
    if (!start) {
      const rel = ticks - this.clusterTicks;
      if (!audioOnly && join) start = true;
      else if (audioOnly && (ticks - this.clusterTicks) * o.timestampScale >= o.audioClusterNs) start = true;
      else if (rel < INT16_MIN || rel > INT16_MAX) start = true;
      else if (this.clusterBytes >= o.maxClusterBytes) start = true;
    }
    const clusterTicks = start ? ticks : this.clusterTicks;
    // Encode before committing, so a frame that cannot be encoded leaves the state untouched.
    const parts = encodeBlockParts(frame, ticks - clusterTicks);
    const length = partsLength(parts);
    if (start) {
      this.open = true;
      this.everOpened = true;
      this.clusterTicks = ticks;
      this.clusterBytes = 0;
    }
    this.clusterBytes += length;
    return { newCluster: start, join: start && join, clusterTicks: this.clusterTicks, ticks, parts, length };
  }

  /**
   * Encodes a frame into the OPEN cluster whatever its timestamp (no cluster cut): used for frames
   * held back until the first keyframe, which go right after it (negative relative timestamps).
   * Returns undefined (nothing changed) when no cluster is open or the relative timestamp would
   * leave int16. Throws (nothing changed) when the frame cannot be encoded.
   */
  pushInto(frame: Frame, timestampNs: number = frame.timestamp): PlacedBlock | undefined {
    if (!this.open) return undefined;
    const o = this.options;
    const ticks = Math.round(timestampNs / o.timestampScale);
    const rel = ticks - this.clusterTicks;
    if (rel < INT16_MIN || rel > INT16_MAX) return undefined;
    const parts = encodeBlockParts(frame, rel);
    const length = partsLength(parts);
    this.clusterBytes += length;
    return { newCluster: false, join: false, clusterTicks: this.clusterTicks, ticks, parts, length };
  }
}
