// Shared bounded history: a ring of recent live clusters, each an array of shared block byte arrays.
// Clusters are addressed by a monotonically increasing sequence number, so a subscriber's cursor is
// just (seq, block index): eviction can never leave it dangling, only "before the first cluster".

import { encodeClusterStart } from '@mkvserve/ebml/advanced';
import type { MatroskaHeader } from '@mkvserve/ebml';

/** One init part (EBML header + Segment + Info + Tracks); a new one starts when the tracks change. */
export interface Epoch {
  readonly id: number;
  readonly header: MatroskaHeader;
  readonly init: Uint8Array;
  readonly timestampScale: number;
  /** Rebase allowance in ticks (LiveStream `rebaseLeadNs`, default 0): a subscriber's origin is
   *  min(smallest frame of its first cluster so far, that cluster's timestamp - leadTicks). */
  readonly leadTicks: number;
}

export class Cluster {
  readonly seq: number;
  readonly epoch: Epoch;
  /** Cluster timestamp in ticks (source timeline, after restart offsets). */
  readonly ticks: number;
  /** Starts with a keyframe: a subscriber may join here. */
  readonly join: boolean;
  /** Stream byte offset (blocks only, no per-subscriber cluster headers) at this cluster's start. */
  readonly startOffset: number;
  /** Encoded block elements, shared by all subscribers. Never mutated once pushed. */
  readonly blocks: Uint8Array[] = [];
  /** Each block's frame timestamp in ticks. */
  readonly frameTicks: number[] = [];
  /** Sum of block lengths. */
  bytes = 0;
  /** Smallest frame timestamp in ticks so far. */
  minTicks: number;
  /** No more blocks will be added. */
  closed = false;
  private startCacheTs = -1;
  private startCacheBytes: Uint8Array | undefined;

  constructor(seq: number, epoch: Epoch, ticks: number, join: boolean, startOffset: number) {
    this.seq = seq;
    this.epoch = epoch;
    this.ticks = ticks;
    this.join = join;
    this.startOffset = startOffset;
    this.minTicks = ticks;
  }

  get startNs(): number {
    return this.ticks * this.epoch.timestampScale;
  }

  /** Cluster ID + unknown size + Timestamp for a subscriber writing timestamp `ts` ticks; cached for
   *  the last value asked (subscribers that joined together share the bytes). */
  clusterStart(ts: number): Uint8Array {
    if (ts !== this.startCacheTs || this.startCacheBytes === undefined) {
      this.startCacheBytes = encodeClusterStart(ts);
      this.startCacheTs = ts;
    }
    return this.startCacheBytes;
  }
}

export interface HistoryLimits {
  maxBytes: number;
  maxClusters: number;
}

export class History {
  readonly limits: HistoryLimits;
  /** Oldest first; clusters[i].seq === clusters[0].seq + i. */
  private readonly clusters: Cluster[] = [];
  private nextSeq = 0;
  /** Bytes of all blocks in the history. */
  bytes = 0;
  /** Bytes of all blocks ever appended (the stream's byte position). */
  totalBytes = 0;
  /** Clusters ever evicted. */
  evicted = 0;

  constructor(limits: HistoryLimits) {
    this.limits = limits;
  }

  get length(): number {
    return this.clusters.length;
  }
  /** Seq of the oldest cluster held (== nextSeq when empty). */
  get firstSeq(): number {
    return this.clusters.length > 0 ? this.clusters[0].seq : this.nextSeq;
  }
  /** Seq the next cluster will get. */
  get endSeq(): number {
    return this.nextSeq;
  }
  get newest(): Cluster | undefined {
    return this.clusters[this.clusters.length - 1];
  }
  get oldest(): Cluster | undefined {
    return this.clusters[0];
  }

  /** The cluster with this seq, or undefined when evicted or not yet created. */
  get(seq: number): Cluster | undefined {
    const first = this.clusters[0];
    if (first === undefined) return undefined;
    return this.clusters[seq - first.seq];
  }

  /** Newest join point held, optionally restricted to one epoch and to seq >= minSeq. */
  newestJoin(epoch?: Epoch, minSeq = 0): Cluster | undefined {
    for (let i = this.clusters.length - 1; i >= 0; i--) {
      const c = this.clusters[i];
      if (c.seq < minSeq) return undefined;
      if (c.join && (epoch === undefined || c.epoch === epoch)) return c;
    }
    return undefined;
  }

  /** Oldest join point held with seq >= minSeq. */
  firstJoinFrom(minSeq: number): Cluster | undefined {
    const first = this.clusters[0];
    if (first === undefined) return undefined;
    for (let i = Math.max(0, minSeq - first.seq); i < this.clusters.length; i++) {
      const c = this.clusters[i];
      if (c.join) return c;
    }
    return undefined;
  }

  /** Closes the newest cluster and opens a new one. Returns it. */
  openCluster(epoch: Epoch, ticks: number, join: boolean): Cluster {
    this.closeNewest();
    const c = new Cluster(this.nextSeq++, epoch, ticks, join, this.totalBytes);
    this.clusters.push(c);
    this.evict();
    return c;
  }

  closeNewest(): void {
    const last = this.newest;
    if (last !== undefined && !last.closed) {
      last.closed = true;
    }
  }

  /** Appends one block to the newest cluster. */
  append(bytes: Uint8Array, ticks: number): void {
    const c = this.newest;
    if (c === undefined || c.closed) throw new Error('History.append: no open cluster');
    c.blocks.push(bytes);
    c.frameTicks.push(ticks);
    if (ticks < c.minTicks) c.minTicks = ticks;
    c.bytes += bytes.length;
    this.bytes += bytes.length;
    this.totalBytes += bytes.length;
    if (this.bytes > this.limits.maxBytes) this.evict();
  }

  /** Drops oldest clusters past the limits; the newest (open) cluster is always kept. */
  private evict(): void {
    const { maxBytes, maxClusters } = this.limits;
    while (this.clusters.length > 1 && (this.clusters.length > maxClusters || this.bytes > maxBytes)) {
      const c = this.clusters.shift()!;
      this.bytes -= c.bytes;
      this.evicted++;
    }
  }
}
