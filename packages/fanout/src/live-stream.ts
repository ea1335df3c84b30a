// LiveStream: header + frames in, one shared live Matroska stream out to many subscribers.
// Frames are clustered at keyframes and encoded once into a bounded shared history; subscribers are
// cursors into it. The slow-client policy (soft limit: skip to the newest join point; hard limit or
// idle timeout: drop) runs at every cluster start and on checkSubscribers(). No Node APIs.

import { encodeBlockParts, encodeInitPart } from '@mkvserve/ebml/advanced';
import type { Frame, MatroskaHeader, TrackInfo } from '@mkvserve/ebml';
import { Clusterer, primaryVideoTrack } from './clusterer.js';
import { History, RUN_BYTES, defaultAllocate } from './history.js';
import type { Allocate, Epoch } from './history.js';
import { declaredHeader, declaredScale, sameStreamLayout } from './layout.js';
import type { DeclaredHeader } from './layout.js';
import { Subscriber } from './subscriber.js';
import type { DropReason, JoinMode, SubscribeOptions } from './subscriber.js';

export interface LiveStreamOptions {
  /** History bound in block bytes (default 16 MiB). */
  historyMaxBytes?: number;
  /** History bound in clusters (default 32). */
  historyMaxClusters?: number;
  /** A cluster is closed (non-join) once it holds this many bytes (default historyMaxBytes / 4). */
  maxClusterBytes?: number;
  /** Audio-only input: cluster length in ns (default 1e9). */
  audioClusterNs?: number;
  /** Lag (ns) past which a subscriber is moved to the newest join point (default 3e9). */
  softLimitNs?: number;
  /** Lag (ns) since the last data it pulled past which a subscriber is dropped (default 7e9). */
  hardLimitNs?: number;
  /** Lag in shared-stream bytes past which a subscriber is moved to the newest join point (default Infinity). */
  maxLagBytes?: number;
  /** A subscriber that has not called pull() for this long is dropped (default 10,000 ms). */
  idleTimeoutMs?: number;
  /** Rebase allowance (ns, default 0): a subscriber's origin is fixed at its first pull of its first
   *  cluster as min(smallest frame of that cluster so far, cluster timestamp - rebaseLeadNs). A frame
   *  that arrives later with a timestamp below a subscriber's origin is withheld from that subscriber
   *  only (sub.withheld, stats.withheldFrames). > 0 keeps audio muxed after the keyframe with an
   *  earlier timestamp, at the cost of a stream that starts that much after 0. Never drops a frame. */
  rebaseLeadNs?: number;
  /** Video input: non-video frames before the first keyframe are held (for the first cluster) up to
   *  this much media time (ns, default 2e9); older ones are dropped. */
  holdMaxNs?: number;
  /** ... and up to this many bytes (default 1 MiB); the oldest beyond are dropped. */
  holdMaxBytes?: number;
  /** Default join mode of subscribe() (default 'latest-keyframe'). */
  join?: JoinMode;
  /** Default rebase of subscribe() (default true). */
  rebase?: boolean;
  /** DocType of the init part (default: the source's). */
  docType?: string;
  /** Clock in ms (default Date.now). */
  clock?: () => number;
  /** Allocates the memory handed out by pull() (shared runs of blocks, init parts, cluster starts);
   *  default `new Uint8Array`. On Node, `Buffer.allocUnsafeSlow` lets sockets write the parts as they
   *  are. */
  allocate?: (size: number) => Uint8Array;
  /** Called when the policy moves a subscriber forward. */
  onSkip?: (sub: Subscriber) => void;
  /** Called when the policy drops a subscriber (its onReadable fires too; pull() then returns null). */
  onDrop?: (sub: Subscriber, reason: DropReason) => void;
}

export interface LiveStreamStats {
  subscribers: number;
  waiting: number;
  active: number;
  /** Totals since creation. */
  skips: number;
  drops: number;
  /** Frames placed in clusters. */
  frames: number;
  /** Frames never placed (for nobody): video non-keyframes before the first keyframe (undecodable), and
   *  frames held before the first keyframe beyond holdMaxNs / holdMaxBytes. */
  droppedFrames: number;
  /** Total over all subscribers (also departed ones) of placed frames withheld from one subscriber
   *  because their timestamp is below its rebase origin (see rebaseLeadNs). */
  withheldFrames: number;
  /** Frames currently held back waiting for the first video keyframe. */
  heldFrames: number;
  /** Frames of a track the current init part does not declare (never placed). */
  undeclaredFrames: number;
  /** Frames that could not be placed: timestamp not a finite number of ticks within +-2^53, or a frame
   *  the block encoder refuses. */
  invalidFrames: number;
  /** TrackEntries of source headers left out of the init parts: a duplicate track number (the first
   *  entry is kept) or a number no block can carry. */
  ignoredTrackEntries: number;
  clusters: number;
  /** Init parts made (1 + track changes). */
  epochs: number;
  historyBytes: number;
  historyClusters: number;
  historyJoinPoints: number;
  /** Media time from the oldest cluster held to the newest frame (ns). */
  historyDurationNs: number;
  /** Bits per second over the history. */
  bitrate: number;
  /** Bytes of blocks ever produced. */
  totalBytes: number;
  ended: boolean;
}

export interface CheckResult {
  skipped: Subscriber[];
  dropped: Subscriber[];
}

const DEFAULTS = {
  historyMaxBytes: 16 * 1024 * 1024,
  historyMaxClusters: 32,
  audioClusterNs: 1e9,
  softLimitNs: 3e9,
  hardLimitNs: 7e9,
  maxLagBytes: Infinity,
  idleTimeoutMs: 10_000,
  rebaseLeadNs: 0,
  holdMaxNs: 2e9,
  holdMaxBytes: 1024 * 1024,
};

/** A track's timing, for the end of a frame that has no duration. */
interface TrackSteps {
  /** The last frame's timestamp (ns, after restart offsets). */
  ts: number;
  /** The last step between two of its frames, and the one before (ns; 0: none yet). */
  step: number;
  prevStep: number;
  /** The last frame's duration, or the step standing in for it (ns; 0: none yet). */
  dur: number;
}

/** A frame held back until the first video keyframe (timestamp after restart offsets). */
interface HeldFrame {
  frame: Frame;
  ts: number;
}

/** Largest |timestamp| in ticks a frame may have: Cluster timestamps must be exact integers. */
const MAX_TICKS = Number.MAX_SAFE_INTEGER;
/** A frame duration past this (ns) is not trusted for where a restarted source continues. */
const MAX_TRUSTED_DURATION_NS = 60e9;

export class LiveStream {
  readonly options: Readonly<
    Required<Omit<LiveStreamOptions, 'onSkip' | 'onDrop' | 'docType' | 'clock' | 'maxClusterBytes' | 'allocate'>>
  > & {
    maxClusterBytes: number;
    docType: string | undefined;
  };
  /** @internal */
  readonly history: History;
  /** @internal */
  currentEpoch: Epoch | undefined = undefined;
  /** @internal */
  newestNs = 0;
  onSkip: ((sub: Subscriber) => void) | undefined;
  onDrop: ((sub: Subscriber, reason: DropReason) => void) | undefined;

  private readonly clockFn: () => number;
  private readonly allocate: Allocate;
  private clusterer: Clusterer | undefined = undefined;
  private readonly subs = new Set<Subscriber>();
  private parked = new Set<Subscriber>();
  private parkedSpare = new Set<Subscriber>();
  private readonly parkedJoin = new Set<Subscriber>();
  private isEnded = false;
  private epochCount = 0;
  private restartPending = false;
  private tsOffset = 0;
  private newestEndNs = 0;
  private anyFrame = false;
  /** Per track: the last frame's timestamp and the last two steps between its frames (ns). */
  private readonly trackSteps = new Map<number, TrackSteps>();
  private frames = 0;
  private dropped = 0;
  private undeclared = 0;
  private invalid = 0;
  private ignoredEntries = 0;
  /** Non-video frames waiting for the epoch's first keyframe (video input only). */
  private held: HeldFrame[] = [];
  private heldBytes = 0;
  private heldMaxTs = -Infinity;
  /** Secondary video tracks with a held keyframe (their later frames are held, earlier ones dropped). */
  private readonly heldKeyTracks = new Set<number>();
  private withheld = 0;
  private skips = 0;
  private drops = 0;

  constructor(options: LiveStreamOptions = {}) {
    const historyMaxBytes = options.historyMaxBytes ?? DEFAULTS.historyMaxBytes;
    this.options = {
      historyMaxBytes,
      historyMaxClusters: Math.max(1, options.historyMaxClusters ?? DEFAULTS.historyMaxClusters),
      maxClusterBytes: options.maxClusterBytes ?? Math.max(1, Math.floor(historyMaxBytes / 4)),
      audioClusterNs: options.audioClusterNs ?? DEFAULTS.audioClusterNs,
      softLimitNs: options.softLimitNs ?? DEFAULTS.softLimitNs,
      hardLimitNs: options.hardLimitNs ?? DEFAULTS.hardLimitNs,
      maxLagBytes: options.maxLagBytes ?? DEFAULTS.maxLagBytes,
      idleTimeoutMs: options.idleTimeoutMs ?? DEFAULTS.idleTimeoutMs,
      rebaseLeadNs: Math.max(0, options.rebaseLeadNs ?? DEFAULTS.rebaseLeadNs),
      holdMaxNs: Math.max(0, options.holdMaxNs ?? DEFAULTS.holdMaxNs),
      holdMaxBytes: Math.max(0, options.holdMaxBytes ?? DEFAULTS.holdMaxBytes),
      join: options.join ?? 'latest-keyframe',
      rebase: options.rebase ?? true,
      docType: options.docType,
    };
    this.clockFn = options.clock ?? Date.now;
    this.onSkip = options.onSkip;
    this.onDrop = options.onDrop;
    this.allocate = options.allocate ?? defaultAllocate;
    this.history = new History(
      { maxBytes: historyMaxBytes, maxClusters: this.options.historyMaxClusters },
      this.allocate,
      Math.min(RUN_BYTES, Math.max(64 * 1024, Math.floor(historyMaxBytes / 16))),
    );
  }

  /** @internal */
  clock(): number {
    return this.clockFn();
  }

  /** end() was called. */
  get ended(): boolean {
    return this.isEnded;
  }

  /** The current init part (EBML header + unknown-size Segment + Info without Duration + Tracks). */
  get initPart(): Uint8Array | undefined {
    return this.currentEpoch?.init;
  }

  /**
   * Sets the source's header. The init part declares each track number once (the first TrackEntry
   * with a number wins; numbers no block can carry are left out: stats.ignoredTrackEntries).
   * Called again (the source restarted, or a second file follows in the same input):
   * - same layout (sameStreamLayout): the stream goes on in the same Segment. Timestamps stay
   *   increasing, and, as at the very start, nothing of the new source reaches anyone before its
   *   first video keyframe (frames before it are held or dropped);
   * - a different layout: a new init part. Subscribers that were sent the old one finish after the
   *   old layout's data (state 'finished', finishReason 'layout': end the response so the player
   *   reconnects); subscribers sent nothing yet, and new ones, get the new init part and start at its
   *   first keyframe. A Segment never changes inside one subscriber's bytes.
   */
  setHeader(header: MatroskaHeader): void {
    if (this.isEnded) throw new Error('LiveStream: setHeader after end()');
    const declared = declaredHeader(header);
    const prev = this.currentEpoch;
    if (prev !== undefined && sameStreamLayout(prev.header, declared.header)) {
      // A restarted source: continue the Segment from its first keyframe (held frames of a source that
      // never got one stay held for it).
      this.ignoredEntries += declared.ignored;
      this.restartPending = true;
      this.clusterer!.restart();
      return;
    }
    const { header: h, init: encoded, ignored } = this.encodeDeclared(declared);
    const init = this.allocate(encoded.length);
    init.set(encoded);
    this.ignoredEntries += ignored;
    if (prev !== undefined) {
      this.restartPending = true;
      this.flushHeldAlone(); // the old layout never got a keyframe: its held frames go out on their own
      this.history.closeNewest();
      prev.final = true;
    }
    const timestampScale = declaredScale(h);
    const leadTicks = Math.floor(this.options.rebaseLeadNs / timestampScale);
    const tracks = new Map<number, TrackInfo>();
    for (const t of h.tracks) tracks.set(t.number, t);
    const epoch: Epoch = { id: this.epochCount++, header: h, init, timestampScale, leadTicks, tracks, final: false };
    this.currentEpoch = epoch;
    this.clusterer = new Clusterer({
      timestampScale,
      videoTrack: primaryVideoTrack(h),
      audioClusterNs: this.options.audioClusterNs,
      maxClusterBytes: this.options.maxClusterBytes,
    });
    if (prev !== undefined) this.layoutChanged();
  }

  /** The init part of a declared header; a TrackEntry that cannot be encoded is left out too. */
  private encodeDeclared(d: DeclaredHeader): { header: MatroskaHeader; init: Uint8Array; ignored: number } {
    const docType = this.options.docType;
    const opts = docType !== undefined ? { live: true, docType } : { live: true };
    try {
      return { header: d.header, init: encodeInitPart(d.header, opts), ignored: d.ignored };
    } catch (err) {
      const tracks = d.header.tracks.filter((t) => {
        try {
          encodeInitPart({ ...d.header, tracks: [t] }, opts);
          return true;
        } catch {
          return false;
        }
      });
      if (tracks.length === d.header.tracks.length) throw err; // not a track's fault
      const header = { ...d.header, tracks };
      return {
        header,
        init: encodeInitPart(header, opts),
        ignored: d.ignored + d.header.tracks.length - tracks.length,
      };
    }
  }

  /** A new layout started: subscribers sent the old init part finish after its data (woken so they
   *  find out); the ones sent nothing yet wait for the new layout's first keyframe. */
  private layoutChanged(): void {
    const end = this.history.endSeq;
    for (const sub of this.subs) {
      if (sub.epochId < 0) sub.waitFor(end);
    }
    this.wakeJoin();
    this.wake();
  }

  /**
   * Adds one frame (decode order, timestamp in ns). Available to subscribers at once, except that with
   * video input, frames before the first video keyframe (of the stream, or of a restarted source) are
   * held (non-video, bounded by holdMaxNs / holdMaxBytes) and go into the first cluster right after
   * that keyframe, or are dropped (video non-keyframes: undecodable). Every other frame is placed in
   * the shared history, whatever its timestamp (a subscriber whose origin is after it has it withheld,
   * see rebaseLeadNs). Frames that cannot be placed are counted, never thrown: a track the init part
   * does not declare (stats.undeclaredFrames), a timestamp that is not a finite number of ticks
   * within +-2^53, or a frame that cannot be encoded (stats.invalidFrames).
   * Throws only before setHeader() or after end().
   */
  pushFrame(frame: Frame): void {
    if (this.isEnded) throw new Error('LiveStream: pushFrame after end()');
    const clusterer = this.clusterer;
    const epoch = this.currentEpoch;
    if (clusterer === undefined || epoch === undefined) throw new Error('LiveStream: pushFrame before setHeader');
    const track = epoch.tracks.get(frame.track);
    if (track === undefined) {
      this.undeclared++;
      return;
    }
    let offset = this.tsOffset;
    if (this.restartPending && this.anyFrame && frame.timestamp + offset < this.newestEndNs) {
      offset = this.restartAt(frame) - frame.timestamp; // source restarted: keep time going forward
    }
    const ts = frame.timestamp + offset;
    if (!(Math.abs(ts / epoch.timestampScale) <= MAX_TICKS)) {
      this.invalid++; // NaN, infinite or beyond exact integers
      return;
    }
    const v = clusterer.options.videoTrack;
    const primary = v !== 0 && frame.track === v;

    if (v !== 0 && !clusterer.started && !(primary && frame.keyframe)) {
      // No join point yet (stream start, or a restarted source) on a stream with video: hold what can
      // be decoded later, drop the rest (dropped frames do not move time: the timeline continues at
      // the first frame kept).
      if (!primary && this.holdable(frame, track)) {
        try {
          encodeBlockParts(frame, 0);
        } catch {
          this.invalid++;
          return;
        }
        this.commitTime(frame, ts, offset);
        this.hold(frame, ts);
      } else {
        this.dropped++;
      }
      return;
    }
    let placed;
    try {
      placed = clusterer.push(frame, ts); // nothing changed when the frame cannot be encoded
    } catch {
      this.invalid++;
      return;
    }
    this.commitTime(frame, ts, offset);
    const h = this.history;
    if (placed.newCluster) h.openCluster(epoch, placed.clusterTicks, placed.join);
    h.append(placed.parts, placed.ticks);
    this.frames++;
    if (this.held.length > 0) this.flushHeldInto(ts);
    if (placed.newCluster) {
      this.checkSubscribers(this.clockFn());
      if (placed.join && this.parkedJoin.size > 0) this.wakeJoin();
    }
    if (this.parked.size > 0) this.wake();
  }

  /** Where the first frame of a restarted source goes: after the end of every track's last frame; a
   *  video keyframe (an origin's burst starts with one) on the old video's cadence, a whole number of
   *  frame periods after its last frame. ffmpeg maps video to frame slots (1/fps): placed at the
   *  audio's end instead, the keyframe shifted every later frame's phase, and near half a slot whole-ms
   *  timestamps put two frames in one slot ("non monotonically increasing dts"). */
  private restartAt(frame: Frame): number {
    const at = this.newestEndNs;
    if (!frame.keyframe || frame.track !== this.clusterer!.options.videoTrack) return at;
    const st = this.trackSteps.get(frame.track);
    if (st === undefined || !(st.dur > 0)) return at;
    const periods = Math.max(1, Math.ceil((at - st.ts) / st.dur - 1e-6));
    return Math.max(at, st.ts + periods * st.dur);
  }

  /** A frame was accepted (placed or held): time moves on. */
  private commitTime(frame: Frame, ts: number, offset: number): void {
    this.restartPending = false;
    this.tsOffset = offset;
    this.anyFrame = true;
    if (ts > this.newestNs) this.newestNs = ts;
    let st = this.trackSteps.get(frame.track);
    if (st === undefined) {
      st = { ts, step: 0, prevStep: 0, dur: 0 };
      this.trackSteps.set(frame.track, st);
    } else {
      if (ts > st.ts && ts - st.ts <= MAX_TRUSTED_DURATION_NS) {
        st.prevStep = st.step || ts - st.ts;
        st.step = ts - st.ts;
      }
      st.ts = ts;
    }
    // Without a duration (SimpleBlocks, no DefaultDuration), the larger of the track's last two steps
    // stands in: a spliced source then starts at least one frame after this one. (ffmpeg maps video to
    // frame slots: a keyframe placed at the last audio frame's end, a few ms after the last frame of a
    // 30 fps stream, shared its slot: "non monotonically increasing dts". Whole-ms 30 fps alternates
    // steps of 33 and 34 ms: the larger is over one frame period.)
    const d = frame.duration;
    const dur = d !== undefined && d > 0 && d <= MAX_TRUSTED_DURATION_NS ? d : Math.max(st.step, st.prevStep);
    st.dur = dur;
    const end = ts + dur;
    if (end > this.newestEndNs) this.newestEndNs = end;
  }

  /** Before the first keyframe: non-video frames, and secondary video from its own first keyframe on. */
  private holdable(frame: Frame, track: TrackInfo): boolean {
    if (track.kind !== 'video') return true;
    if (frame.keyframe) this.heldKeyTracks.add(frame.track);
    return this.heldKeyTracks.has(frame.track);
  }

  private hold(frame: Frame, ts: number): void {
    const o = this.options;
    this.held.push({ frame, ts });
    this.heldBytes += frame.data.length;
    if (ts > this.heldMaxTs) this.heldMaxTs = ts;
    let n = 0;
    while (
      n < this.held.length &&
      (this.heldBytes > o.holdMaxBytes || this.heldMaxTs - this.held[n].ts > o.holdMaxNs)
    ) {
      this.heldBytes -= this.held[n].frame.data.length;
      n++;
    }
    if (n > 0) {
      this.held.splice(0, n);
      this.dropped += n;
    }
  }

  private takeHeld(): HeldFrame[] {
    const list = this.held;
    this.held = [];
    this.heldBytes = 0;
    this.heldMaxTs = -Infinity;
    this.heldKeyTracks.clear();
    return list;
  }

  /** The first keyframe (at `keyTs`) just opened the first cluster: the held frames go right after it. */
  private flushHeldInto(keyTs: number): void {
    const h = this.history;
    for (const { frame, ts } of this.takeHeld()) {
      let placed;
      if (ts >= keyTs - this.options.holdMaxNs) {
        try {
          placed = this.clusterer!.pushInto(frame, ts);
        } catch {
          placed = undefined; // validated when held: cannot happen
        }
      }
      if (placed === undefined) {
        this.dropped++; // too old, or outside the int16 range of the first cluster
        continue;
      }
      h.append(placed.parts, placed.ticks);
      this.frames++;
    }
  }

  /** Input ended (or changed layout) before any keyframe: the held frames make an audio-only cluster
   *  (a join point, so waiting subscribers get them). */
  private flushHeldAlone(): void {
    if (this.held.length === 0) return;
    const clusterer = this.clusterer!;
    const epoch = this.currentEpoch!;
    const h = this.history;
    let first = true;
    for (const { frame, ts } of this.takeHeld()) {
      let placed;
      try {
        placed = clusterer.push(frame, ts);
      } catch {
        this.dropped++;
        continue;
      }
      if (placed.newCluster) {
        h.openCluster(epoch, placed.clusterTicks, placed.join || first);
        first = false;
      }
      h.append(placed.parts, placed.ticks);
      this.frames++;
    }
    clusterer.breakCluster();
    if (this.parkedJoin.size > 0) this.wakeJoin();
    if (this.parked.size > 0) this.wake();
  }

  /** End of input: subscribers still get everything, then pull() returns null. Frames held for a
   *  keyframe that never came are sent as an audio-only cluster. */
  end(): void {
    if (this.isEnded) return;
    this.flushHeldAlone();
    this.isEnded = true;
    this.history.closeNewest();
    this.wakeJoin();
    this.wake();
  }

  /** Adds a subscriber. Its first pull() returns the init part, then the burst from the join point. */
  subscribe(options: SubscribeOptions = {}): Subscriber {
    const now = options.now ?? this.clockFn();
    const sub = new Subscriber(this, options.join ?? this.options.join, options.rebase ?? this.options.rebase, now);
    this.subs.add(sub);
    const h = this.history;
    if (sub.join === 'latest-keyframe') {
      const c = this.currentEpoch !== undefined ? h.newestJoin(this.currentEpoch) : undefined;
      if (c !== undefined) {
        sub.moveTo(c);
        sub.markDelivered();
        return sub;
      }
    }
    sub.waitFor(h.endSeq);
    return sub;
  }

  /**
   * Applies the slow-client policy to every subscriber (also done at each cluster start):
   * no pull() for idleTimeoutMs, or more than hardLimitNs of media time since the data it last
   * pulled: dropped. Cursor lag over softLimitNs or maxLagBytes, or cursor evicted from the history:
   * moved to the newest join point (or, without one, made to wait for the next).
   */
  checkSubscribers(nowMs: number = this.clockFn()): CheckResult {
    const res: CheckResult = { skipped: [], dropped: [] };
    for (const sub of this.subs) this.police(sub, nowMs, res);
    return res;
  }

  /** @internal */
  recover(sub: Subscriber, now: number): void {
    this.police(sub, now, undefined);
    // Still behind the history (the policy found it within limits): move it anyway.
    if ((sub.state === 'active' || sub.state === 'waiting') && sub.seq >= 0 && sub.seq < this.history.firstSeq) {
      this.skip(sub, undefined);
    }
  }

  private police(sub: Subscriber, now: number, res: CheckResult | undefined): void {
    if (sub.state !== 'active' && sub.state !== 'waiting') return;
    const o = this.options;
    if (now - sub.lastPullMs > o.idleTimeoutMs) {
      this.drop(sub, 'idle', res);
      return;
    }
    if (sub.seq < 0 && !sub.tryAttach()) return;
    const h = this.history;
    if (sub.behindNs > o.hardLimitNs) {
      this.drop(sub, 'lag', res);
      return;
    }
    const evicted = sub.seq < h.firstSeq;
    if (evicted || sub.lagNs > o.softLimitNs || h.totalBytes - sub.cursorOffset > o.maxLagBytes) {
      this.skip(sub, res);
    }
  }

  private skip(sub: Subscriber, res: CheckResult | undefined): void {
    const h = this.history;
    const evicted = sub.seq < h.firstSeq;
    const j = this.currentEpoch !== undefined ? h.newestJoin(this.currentEpoch) : undefined;
    if (j !== undefined && (evicted || j.seq > sub.seq)) sub.moveTo(j);
    else if (evicted) sub.waitFor(h.endSeq);
    else return; // no join point ahead of it: nothing to gain; the hard limit decides
    sub.nSkips++;
    this.skips++;
    res?.skipped.push(sub);
    this.onSkip?.(sub);
  }

  private drop(sub: Subscriber, reason: DropReason, res: CheckResult | undefined): void {
    sub.st = 'dropped';
    sub.why = reason;
    this.detach(sub);
    this.drops++;
    res?.dropped.push(sub);
    this.onDrop?.(sub, reason);
    sub.onReadable?.();
  }

  /** @internal */
  park(sub: Subscriber, forJoin: boolean): void {
    if (sub.parked || sub.onReadable === undefined) return;
    sub.parked = true;
    (forJoin ? this.parkedJoin : this.parked).add(sub);
  }

  /** @internal A subscriber skipped `n` placed frames below its origin. */
  noteWithheld(n: number): void {
    this.withheld += n;
  }

  /** @internal */
  detach(sub: Subscriber): void {
    this.subs.delete(sub);
    if (sub.parked) {
      sub.parked = false;
      this.parked.delete(sub);
      this.parkedJoin.delete(sub);
    }
  }

  private wake(): void {
    const list = this.parked;
    this.parked = this.parkedSpare;
    this.parkedSpare = list;
    for (const sub of list) {
      sub.parked = false;
      sub.onReadable?.();
    }
    list.clear();
  }

  private wakeJoin(): void {
    const list = [...this.parkedJoin];
    this.parkedJoin.clear();
    for (const sub of list) {
      sub.parked = false;
      sub.onReadable?.();
    }
  }

  /** Subscribers currently attached (not finished, dropped or closed). */
  get subscribers(): ReadonlySet<Subscriber> {
    return this.subs;
  }

  get stats(): LiveStreamStats {
    const h = this.history;
    let waiting = 0;
    for (const s of this.subs) if (s.state === 'waiting') waiting++;
    let joins = 0;
    for (let seq = h.firstSeq; seq < h.endSeq; seq++) if (h.get(seq)!.join) joins++;
    const oldest = h.oldest;
    const durationNs = oldest !== undefined ? Math.max(0, this.newestNs - oldest.startNs) : 0;
    return {
      subscribers: this.subs.size,
      waiting,
      active: this.subs.size - waiting,
      skips: this.skips,
      drops: this.drops,
      frames: this.frames,
      droppedFrames: this.dropped,
      withheldFrames: this.withheld,
      heldFrames: this.held.length,
      undeclaredFrames: this.undeclared,
      invalidFrames: this.invalid,
      ignoredTrackEntries: this.ignoredEntries,
      clusters: h.endSeq,
      epochs: this.epochCount,
      historyBytes: h.bytes,
      historyClusters: h.length,
      historyJoinPoints: joins,
      historyDurationNs: durationNs,
      bitrate: durationNs > 0 ? (h.bytes * 8e9) / durationNs : 0,
      totalBytes: h.totalBytes,
      ended: this.isEnded,
    };
  }
}
