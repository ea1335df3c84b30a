// Shared bounded history: a ring of recent live clusters, each an array of shared block byte arrays.
// Clusters are addressed by a monotonically increasing sequence number, so a subscriber's cursor is
// just (seq, block index): eviction can never leave it dangling, only "before the first cluster".

import { encodeClusterStart } from '@mkvserve/ebml/advanced';
import type { MatroskaHeader, TrackInfo } from '@mkvserve/ebml';

/** One init part (EBML header + Segment + Info + Tracks); a new one starts when the tracks change. */
export interface Epoch {
  readonly id: number;
  /** The header as declared (duplicate and invalid TrackEntries left out). */
  readonly header: MatroskaHeader;
  readonly init: Uint8Array;
  readonly timestampScale: number;
  /** The declared tracks by number: frames of any other track are not placed. */
  readonly tracks: ReadonlyMap<number, TrackInfo>;
  /** A new layout superseded this one: no cluster of it will be opened or appended to again. */
  final: boolean;
  /** Rebase allowance in ticks (LiveStream `rebaseLeadNs`, default 0): a subscriber's origin is
   *  min(smallest frame of its first cluster so far, that cluster's timestamp - leadTicks). */
  readonly leadTicks: number;
}

/** Allocates the memory the fanout hands out (runs, init parts, cluster starts). A server on Node passes
 *  `Buffer.allocUnsafeSlow`, so that sockets take the views as they are (no per-write conversion). */
export type Allocate = (size: number) => Uint8Array;

export const defaultAllocate: Allocate = (size) => new Uint8Array(size);

/** Default capacity of a run (a larger block gets a run of its own size). LiveStream uses
 *  historyMaxBytes / 16 within 64 KiB..1 MiB: a run boundary splits a caught-up subscriber's write in
 *  two views, so runs hold seconds of media, and the unused end of the newest run stays small next to
 *  the history bound. */
export const RUN_BYTES = 1024 * 1024;

/**
 * A contiguous byte run: encoded blocks are appended one after another, so a subscriber that is caught
 * up gets everything new in one view. The bytes below `used` are never written again once a block is
 * appended, and a run is never reused: a view handed out never changes.
 */
export class Run {
  readonly bytes: Uint8Array;
  used = 0;
  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
  }
}

/** Entries of a cluster's small caches (shared views, cluster starts). */
const CACHE = 8;

export class Cluster {
  readonly seq: number;
  readonly epoch: Epoch;
  /** Cluster timestamp in ticks (source timeline, after restart offsets). */
  readonly ticks: number;
  /** Starts with a keyframe: a subscriber may join here. */
  readonly join: boolean;
  /** Stream byte offset (blocks only, no per-subscriber cluster headers) at this cluster's start. */
  readonly startOffset: number;
  /** Encoded block elements (views into runs), shared by all subscribers. Never mutated once pushed. */
  readonly blocks: Uint8Array[] = [];
  /** The run each block lives in; consecutive blocks in one run are contiguous in it. */
  readonly blockRun: Run[] = [];
  /** Each block's frame timestamp in ticks. */
  readonly frameTicks: number[] = [];
  /** Sum of block lengths. */
  bytes = 0;
  /** Smallest frame timestamp in ticks so far. */
  minTicks: number;
  /** No more blocks will be added. */
  closed = false;
  private readonly allocate: Allocate;
  private readonly viewKeys: number[] = [];
  private readonly views: Uint8Array[] = [];
  private viewNext = 0;
  private readonly startKeys: number[] = [];
  private readonly starts: Uint8Array[] = [];
  private startNext = 0;

  constructor(
    seq: number,
    epoch: Epoch,
    ticks: number,
    join: boolean,
    startOffset: number,
    allocate: Allocate = defaultAllocate,
  ) {
    this.seq = seq;
    this.epoch = epoch;
    this.ticks = ticks;
    this.join = join;
    this.startOffset = startOffset;
    this.minTicks = ticks;
    this.allocate = allocate;
  }

  get startNs(): number {
    return this.ticks * this.epoch.timestampScale;
  }

  /**
   * One view over blocks [from, to), which must lie in one run. Subscribers asking for the same range
   * (all those served in the same turn at the same position) get the very same view object.
   */
  view(from: number, to: number): Uint8Array {
    const key = from * 0x100000 + to;
    const keys = this.viewKeys;
    for (let k = 0; k < keys.length; k++) if (keys[k] === key) return this.views[k];
    const first = this.blocks[from];
    const last = this.blocks[to - 1];
    const run = this.blockRun[from].bytes;
    const v =
      from + 1 === to
        ? first
        : run.subarray(first.byteOffset - run.byteOffset, last.byteOffset - run.byteOffset + last.length);
    const slot = this.viewNext;
    this.viewNext = (slot + 1) % CACHE;
    keys[slot] = key;
    this.views[slot] = v;
    return v;
  }

  /** Cluster ID + unknown size + Timestamp for a subscriber writing timestamp `ts` ticks; the last few
   *  asked are cached (subscribers with the same origin share the bytes). */
  clusterStart(ts: number): Uint8Array {
    const keys = this.startKeys;
    for (let k = 0; k < keys.length; k++) if (keys[k] === ts) return this.starts[k];
    const enc = encodeClusterStart(ts);
    const b = this.allocate(enc.length);
    b.set(enc);
    const slot = this.startNext;
    this.startNext = (slot + 1) % CACHE;
    keys[slot] = ts;
    this.starts[slot] = b;
    return b;
  }
}

export interface HistoryLimits {
  maxBytes: number;
  maxClusters: number;
}

export class History {
  readonly limits: HistoryLimits;
  private readonly allocate: Allocate;
  private readonly runBytes: number;
  /** The run blocks are appended to. */
  private run: Run | undefined = undefined;
  /** Oldest first; clusters[i].seq === clusters[0].seq + i. */
  private readonly clusters: Cluster[] = [];
  private nextSeq = 0;
  /** Bytes of all blocks in the history. */
  bytes = 0;
  /** Bytes of all blocks ever appended (the stream's byte position). */
  totalBytes = 0;
  /** Clusters ever evicted. */
  evicted = 0;
  /** Bumped by every change to what is held (a block, a cluster opened, closed or evicted): a pull
   *  result computed at one version holds as long as the version does (PullShare). */
  version = 0;

  constructor(limits: HistoryLimits, allocate: Allocate = defaultAllocate, runBytes = RUN_BYTES) {
    this.limits = limits;
    this.allocate = allocate;
    this.runBytes = Math.max(1, runBytes);
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
    const c = new Cluster(this.nextSeq++, epoch, ticks, join, this.totalBytes, this.allocate);
    this.clusters.push(c);
    this.version++;
    this.evict();
    return c;
  }

  /** Closes the newest cluster. Always a new version: LiveStream calls it when the input ends and when
   *  the layout changes, which end the pulls of caught-up subscribers differently. */
  closeNewest(): void {
    this.version++;
    const last = this.newest;
    if (last !== undefined && !last.closed) {
      last.closed = true;
    }
  }

  /** Appends one block (the concatenation of `parts`) to the newest cluster: copied to the end of the
   *  current run (a new run when it does not fit). Returns the block's view. */
  append(parts: readonly Uint8Array[], ticks: number): Uint8Array {
    const c = this.newest;
    if (c === undefined || c.closed) throw new Error('History.append: no open cluster');
    let length = 0;
    for (let k = 0; k < parts.length; k++) length += parts[k].length;
    let run = this.run;
    if (run === undefined || run.used + length > run.bytes.length) {
      run = new Run(this.allocate(Math.max(this.runBytes, length)));
      this.run = run;
    }
    const at = run.used;
    let p = at;
    for (let k = 0; k < parts.length; k++) {
      run.bytes.set(parts[k], p);
      p += parts[k].length;
    }
    run.used = p;
    const view = run.bytes.subarray(at, p);
    c.blocks.push(view);
    c.blockRun.push(run);
    c.frameTicks.push(ticks);
    if (ticks < c.minTicks) c.minTicks = ticks;
    c.bytes += length;
    this.bytes += length;
    this.totalBytes += length;
    this.version++;
    if (this.bytes > this.limits.maxBytes) this.evict();
    return view;
  }

  /** Drops oldest clusters past the limits; the newest (open) cluster is always kept. */
  private evict(): void {
    const { maxBytes, maxClusters } = this.limits;
    while (this.clusters.length > 1 && (this.clusters.length > maxClusters || this.bytes > maxBytes)) {
      const c = this.clusters.shift()!;
      this.bytes -= c.bytes;
      this.evicted++;
      this.version++;
    }
  }
}
