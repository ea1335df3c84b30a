// Subscriber: one client's cursor into the shared history (cluster seq + block index) plus a few
// numbers (rebase origin, lag bookkeeping, counters). pull() hands out the shared block bytes; only
// the Cluster start (ID + unknown size + Timestamp) is per subscriber, because of rebasing.

import type { Cluster, Epoch, History } from './history.js';
import type { PullShare } from './pull-share.js';

export type JoinMode = 'latest-keyframe' | 'next-keyframe';
export type SubscriberState = 'waiting' | 'active' | 'finished' | 'dropped' | 'closed';
/** Why a subscriber was dropped: media-time lag past the hard limit, or no pull for the idle timeout.
 *  (A cursor that fell out of the history is never dropped for it: it moves to the newest join point
 *  or waits for the next keyframe.) */
export type DropReason = 'lag' | 'idle';

export interface SubscribeOptions {
  /** Where to start: the newest join point in the history (burst, default) or the next one to arrive. */
  join?: JoinMode;
  /** Rewrite Cluster timestamps so this subscriber's stream starts at 0 (default true). */
  rebase?: boolean;
  /** Clock value (ms) of the subscription; defaults to the stream's clock. */
  now?: number;
}

/** @internal What a Subscriber needs from its LiveStream. */
export interface SubscriberHost {
  readonly history: History;
  readonly currentEpoch: Epoch | undefined;
  /** Largest frame timestamp pushed (ns, after restart offsets). */
  readonly newestNs: number;
  readonly ended: boolean;
  clock(): number;
  /** Applies the slow-client policy to a subscriber whose cursor was evicted. */
  recover(sub: Subscriber, now: number): void;
  /** Subscriber is caught up (or waiting for a join point): call its onReadable when data arrives. */
  park(sub: Subscriber, forJoin: boolean): void;
  /** A subscriber withheld `n` frames (stats.withheldFrames). */
  noteWithheld(n: number): void;
  detach(sub: Subscriber): void;
}

const NO_BASE = Number.NaN;

/** The byte limit of one pull: maxBytes when it is a positive number, else none. */
function pullLimit(maxBytes: number | undefined): number {
  return maxBytes !== undefined && maxBytes > 0 ? maxBytes : Infinity;
}

/** Why a subscriber finished: the input ended ('end'), or the source's track layout changed
 *  ('layout': its player needs a new response to get the new init part). */
export type FinishReason = 'end' | 'layout';

export class Subscriber {
  /** Called (synchronously, from pushFrame / end / the policy) when a subscriber that found nothing
   *  to pull has something new, or was dropped. Called once per parking; pull again to re-arm. */
  onReadable: (() => void) | undefined = undefined;
  readonly join: JoinMode;
  readonly rebase: boolean;

  /** @internal */
  st: SubscriberState = 'waiting';
  /** @internal */
  why: DropReason | undefined = undefined;
  /** @internal */
  fin: FinishReason | undefined = undefined;
  /** @internal */
  sent = 0;
  /** @internal */
  nSkips = 0;
  /** @internal */
  nWithheld = 0;
  /** @internal Cursor: cluster seq (-1 while waiting for a join point) and next block index. */
  seq = -1;
  /** @internal */
  idx = 0;
  /** @internal Waiting: first cluster seq that may be joined. */
  waitFrom = 0;
  /** @internal The cursor cluster's start has been emitted. */
  started = false;
  /** @internal The cursor cluster is withheld whole: its timestamp is before this subscriber's origin,
   *  so its start cannot be written (Cluster timestamps are unsigned), or it follows such a cluster
   *  without a join point in between. Happens with rebase: false and negative source timestamps, or
   *  when a frame far below the origin (later than int16 allows, or a keyframe going back in time)
   *  opened a cluster. */
  mute = false;
  /** @internal Epoch id whose init part was sent (-1 none). A subscriber never gets a second one. */
  epochId = -1;
  /** @internal Rebase origin in ticks (NaN until the first cluster). */
  base = NO_BASE;
  /** @internal Media time at the cursor when it last moved (ns; used once its cluster is evicted). */
  cursorNs = 0;
  /** @internal Where the last pull() left the cursor (skips do not move it), and its media time. */
  dSeq = -1;
  /** @internal */
  dIdx = 0;
  /** @internal */
  deliveredNs = 0;
  /** @internal Stream byte offset at the cursor. */
  cursorOffset = 0;
  /** @internal Clock (ms) of the last pull() call. */
  lastPullMs: number;
  /** @internal In the host's parked set. */
  parked = false;

  private readonly host: SubscriberHost;

  /** @internal Created by LiveStream.subscribe(). */
  constructor(host: SubscriberHost, join: JoinMode, rebase: boolean, now: number) {
    this.host = host;
    this.join = join;
    this.rebase = rebase;
    this.lastPullMs = now;
  }

  /** 'waiting' (for a join point), 'active', or why it stopped: 'finished' (see finishReason),
   *  'dropped' (see dropReason), 'closed' (close() was called). */
  get state(): SubscriberState {
    return this.st;
  }
  /** Why the slow-client policy dropped it. */
  get dropReason(): DropReason | undefined {
    return this.why;
  }
  /** Why it finished: 'end' of input, or a new track 'layout' (the response should end, so that the
   *  player reconnects and gets the new init part). */
  get finishReason(): FinishReason | undefined {
    return this.fin;
  }
  /** Bytes handed out by pull(). */
  get bytesSent(): number {
    return this.sent;
  }
  /** Times the slow-client policy moved this cursor forward. */
  get skips(): number {
    return this.nSkips;
  }
  /** Frames passed over without being sent because their timestamp (or their cluster's) is below this
   *  subscriber's origin (late audio / B-frames with rebase; negative timestamps with rebase: false).
   *  Other subscribers still get them. */
  get withheld(): number {
    return this.nWithheld;
  }

  /** Media time (ns) between the newest frame and the first one this subscriber has not been handed. */
  get lagNs(): number {
    if (this.seq < 0) return 0;
    return Math.max(0, this.host.newestNs - this.posNs(this.seq, this.idx, this.cursorNs));
  }

  /** @internal Media time (ns) between the newest frame and where the last pull() left off. */
  get behindNs(): number {
    if (this.dSeq < 0) return 0;
    return Math.max(0, this.host.newestNs - this.posNs(this.dSeq, this.dIdx, this.deliveredNs));
  }

  /** Timestamp of the first block after (seq, idx); `fallback` when evicted; newest when none yet. */
  private posNs(seq: number, idx: number, fallback: number): number {
    const h = this.host.history;
    const c = h.get(seq);
    if (c === undefined) return seq < h.firstSeq ? fallback : this.host.newestNs;
    if (idx < c.blocks.length) return c.frameTicks[idx] * c.epoch.timestampScale;
    const n = h.get(seq + 1);
    return n !== undefined ? n.startNs : this.host.newestNs;
  }

  /** @internal First attachment: a subscriber that never pulls is behind from here. */
  markDelivered(): void {
    this.dSeq = this.seq;
    this.dIdx = this.idx;
    this.deliveredNs = this.cursorNs;
  }

  /** Shared-stream bytes between this subscriber's cursor and the newest block. */
  get lagBytes(): number {
    if (this.seq < 0) return 0;
    return Math.max(0, this.host.history.totalBytes - this.cursorOffset);
  }

  /** @internal Moves the cursor to the start of cluster `c`. */
  moveTo(c: Cluster): void {
    this.seq = c.seq;
    this.idx = 0;
    this.started = false;
    this.mute = false;
    this.cursorNs = c.startNs;
    this.cursorOffset = c.startOffset;
    this.st = 'active';
  }

  /** @internal Waits for a join point from cluster `seq` on. */
  waitFor(seq: number): void {
    this.seq = -1;
    this.idx = 0;
    this.started = false;
    this.waitFrom = seq;
    this.st = 'waiting';
  }

  /** @internal Attaches a waiting subscriber to the first join point at or after waitFrom (current epoch). */
  tryAttach(): boolean {
    if (this.seq >= 0) return true;
    const h = this.host.history;
    let c = h.firstJoinFrom(this.waitFrom);
    const ep = this.host.currentEpoch;
    while (c !== undefined && c.epoch !== ep) c = h.firstJoinFrom(c.seq + 1);
    if (c === undefined) return false;
    this.moveTo(c);
    if (this.dSeq < 0) this.markDelivered();
    return true;
  }

  /**
   * Everything pending, in order: the init part (first time), then Cluster starts and shared block
   * bytes. Stops once `maxBytes` are reached (always at a part boundary, at least one part).
   * [] = nothing new (onReadable fires when there is); null = finished (input ended, or the track
   * layout changed, and everything of its layout was handed out), dropped or closed. A pull that
   * hands out the last bytes may already leave the state 'finished'.
   * Consecutive blocks come as one view of the shared run they were appended to: a caught-up
   * subscriber gets one array per call (plus a Cluster start when a Cluster began).
   * The arrays are shared with other subscribers: never modify them.
   * Call it only when the socket can take more: every call counts as progress for the idle timeout.
   */
  pull(maxBytes?: number): Uint8Array[] | null {
    const out: Uint8Array[] = [];
    return this.pullOwn(out, maxBytes) < 0 ? null : out;
  }

  /**
   * pull() into a caller's array (appended to it; no array allocated per call): returns the bytes
   * appended, or -1 where pull() returns null (what was appended before finishing is still the last of
   * the stream). With a `share`, a subscriber at the same place as the last one pulled with it (same
   * stream, position and origin, unchanged history, same maxBytes) gets that pull's result without walking the
   * cluster again: the same parts and the same effect, with that pull's clock reading as its pull
   * time (a batch is one moment; reset the share between batches). Subscribers with an onReadable
   * callback always pull on their own.
   */
  pullInto(out: Uint8Array[], maxBytes?: number, share?: PullShare): number {
    if (share === undefined || this.onReadable !== undefined) return this.pullOwn(out, maxBytes);
    const h = this.host.history;
    const limit = pullLimit(maxBytes);
    if (
      share.valid &&
      share.stream === this.host &&
      this.st === 'active' &&
      this.seq === share.seq &&
      this.idx === share.idx &&
      this.cursorOffset === share.offset &&
      this.started === share.started &&
      this.mute === share.mute &&
      this.base === share.base &&
      this.epochId === share.epochId &&
      limit === share.limit &&
      h.version === share.version &&
      this.host.newestNs === share.newestNs
    ) {
      share.shared++;
      const parts = share.parts;
      for (let k = 0; k < parts.length; k++) out.push(parts[k]);
      this.lastPullMs = share.nowMs;
      this.sent += share.bytes;
      this.seq = share.toSeq;
      this.idx = share.toIdx;
      this.started = share.toStarted;
      this.mute = share.toMute;
      this.cursorOffset = share.toOffset;
      this.cursorNs = share.toNs;
      this.markDelivered();
      return share.bytes;
    }
    share.computed++;
    const { seq, idx, started, mute, base, epochId, cursorOffset, nWithheld } = this;
    const active = this.st === 'active';
    const out0 = out.length;
    const n = this.pullOwn(out, maxBytes);
    // Plain: from a place in the history to a place in it, nothing set or withheld on the way, not ended.
    share.valid =
      n >= 0 &&
      active &&
      this.st === 'active' &&
      seq >= h.firstSeq &&
      !Number.isNaN(base) &&
      epochId === this.epochId &&
      nWithheld === this.nWithheld &&
      !this.host.ended;
    if (share.valid) {
      share.stream = this.host;
      share.seq = seq;
      share.idx = idx;
      share.started = started;
      share.mute = mute;
      share.base = base;
      share.epochId = epochId;
      share.offset = cursorOffset;
      share.limit = limit;
      share.version = h.version;
      share.newestNs = this.host.newestNs;
      const parts = share.parts;
      parts.length = 0;
      for (let k = out0; k < out.length; k++) parts.push(out[k]);
      share.bytes = n;
      share.toSeq = this.seq;
      share.toIdx = this.idx;
      share.toStarted = this.started;
      share.toMute = this.mute;
      share.toOffset = this.cursorOffset;
      share.toNs = this.cursorNs;
      share.nowMs = this.lastPullMs;
    } else share.parts.length = 0;
    return n;
  }

  private pullOwn(out: Uint8Array[], maxBytes: number | undefined): number {
    if (this.st !== 'waiting' && this.st !== 'active') return -1;
    const host = this.host;
    const now = host.clock();
    this.lastPullMs = now;
    const limit = pullLimit(maxBytes);
    const out0 = out.length;
    let bytes = 0;
    const h = host.history;

    if (this.seq >= 0 && this.seq < h.firstSeq) {
      host.recover(this, now); // evicted under us: skip forward (or wait)
      if (this.st !== 'waiting' && this.st !== 'active') return -1;
    }
    if (this.seq < 0 && !this.tryAttach()) {
      const ep = host.currentEpoch;
      if (ep !== undefined && this.epochId !== ep.id) {
        if (this.epochId >= 0) return this.finish('layout', out, out0, 0);
        out.push(ep.init);
        bytes += ep.init.length;
        this.epochId = ep.id;
        this.base = NO_BASE;
      }
      this.sent += bytes;
      if (host.ended) return this.finish('end', out, out0, bytes);
      if (this.onReadable !== undefined) host.park(this, true);
      return bytes;
    }

    let c: Cluster | undefined;
    for (;;) {
      c = h.get(this.seq)!;
      if (!this.started) {
        if (c.epoch.id !== this.epochId) {
          // Another layout: a subscriber sent one init part never gets a second (a new EBML header
          // mid-response breaks players); it finishes here, after everything of its layout.
          if (this.epochId >= 0) {
            this.sent += bytes;
            return this.finish('layout', out, out0, bytes);
          }
          out.push(c.epoch.init);
          bytes += c.epoch.init.length;
          this.epochId = c.epoch.id;
          this.base = NO_BASE;
        }
        if (Number.isNaN(this.base)) {
          // Fixed here, at the first pull of the first cluster (of this epoch): the smallest frame of
          // c so far, or c.ticks - leadTicks if smaller. Frames placed later below it are withheld
          // from this subscriber only (below), so nothing it is sent is negative. Once no frame can be
          // added to this epoch any more (input ended, or the layout changed), the exact smallest
          // timestamp from here on is known and is the origin.
          this.base = !this.rebase
            ? 0
            : host.ended || c.epoch !== host.currentEpoch
              ? this.minTicksFrom(c)
              : Math.min(c.minTicks, c.ticks - c.epoch.leadTicks);
        }
        // A cluster that starts below the origin is withheld whole, and so is every non-join cluster
        // after it (its video depends on frames this subscriber never got) up to the next join point.
        this.mute = c.ticks < this.base || (this.mute && !c.join);
        if (!this.mute) {
          const start = c.clusterStart(c.ticks - this.base);
          out.push(start);
          bytes += start.length;
        }
        this.started = true;
      }
      const blocks = c.blocks;
      const runs = c.blockRun;
      const frameTicks = c.frameTicks;
      const n = blocks.length;
      const base = this.base;
      const mute = this.mute;
      let i = this.idx;
      let skipped = 0;
      let offset = this.cursorOffset;
      // Blocks sent go out as views over runs of consecutive blocks [from, i) in one shared run.
      let from = -1;
      while (i < n && bytes < limit) {
        const len = blocks[i].length;
        offset += len;
        if (!mute && frameTicks[i] >= base) {
          if (from >= 0 && runs[i] !== runs[from]) {
            out.push(c.view(from, i));
            from = i;
          } else if (from < 0) from = i;
          bytes += len;
        } else {
          if (from >= 0) {
            out.push(c.view(from, i));
            from = -1;
          }
          skipped++;
        }
        i++;
      }
      if (from >= 0) out.push(c.view(from, i));
      this.cursorOffset = offset;
      this.idx = i;
      if (skipped > 0) {
        this.nWithheld += skipped;
        host.noteWithheld(skipped);
      }
      if (i < n || !c.closed || this.seq + 1 >= h.endSeq) break;
      this.seq++;
      this.idx = 0;
      this.started = false;
      if (bytes >= limit) break;
    }

    this.sent += bytes;
    const cur = h.get(this.seq)!;
    const caughtUp = this.idx >= cur.blocks.length && this.seq + 1 >= h.endSeq;
    this.cursorNs = caughtUp ? host.newestNs : this.posNs(this.seq, this.idx, this.cursorNs);
    this.markDelivered();
    if (caughtUp) {
      if (host.ended) return this.finish('end', out, out0, bytes);
      // Everything of a superseded layout was handed out (its clusters are all closed).
      if (cur.epoch.final && this.started) return this.finish('layout', out, out0, bytes);
      if (this.onReadable !== undefined) host.park(this, false); // polling servers set none
    }
    return bytes;
  }

  /** Finished: what was appended to `out` from `out0` on is the last of it (-1 when nothing). */
  private finish(reason: FinishReason, out: Uint8Array[], out0: number, bytes: number): number {
    this.st = 'finished';
    this.fin = reason;
    this.host.detach(this);
    return out.length > out0 ? bytes : -1;
  }

  /** Smallest frame timestamp (ticks) from cluster `c` to the end of its epoch in the history. */
  private minTicksFrom(c: Cluster): number {
    const h = this.host.history;
    let min = c.minTicks;
    for (let n = h.get(c.seq + 1); n !== undefined && n.epoch === c.epoch; n = h.get(n.seq + 1)) {
      if (n.minTicks < min) min = n.minTicks;
    }
    return min;
  }

  /** Stops the subscription (the server closed the socket). Idempotent. */
  close(): void {
    if (this.st === 'waiting' || this.st === 'active') {
      this.st = 'closed';
      this.host.detach(this);
    }
  }
}
