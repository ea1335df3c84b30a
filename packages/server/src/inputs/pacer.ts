// Real-time pacing of media timestamps against a monotonic clock: a frame with timestamp ts (ns)
// is released once ts <= origin + elapsed * speed + lead. Re-anchors after a long stall instead of
// bursting (and on a big forward jump instead of hanging), and can be reset when a new input (loop, reconnect) starts.

import { MOUNT_DEFAULTS } from '../config.js';

export interface PacerOptions {
  /** Milliseconds, monotonic (default performance.now). */
  now?: () => number;
  /** How far ahead of the clock frames may be released, ms. */
  leadMs: number;
  /** Media seconds per wall-clock second (1 = real time; > 1 for faster-than-real-time tests). */
  speed?: number;
  /** When the input falls this far behind the clock (ms of media), re-anchor instead of bursting (default
   *  1000). 0: the anchor follows every late frame (live inputs: only what runs ahead is held). */
  maxBehindMs?: number;
  /** A timestamp jump further ahead than this (ms) re-anchors instead of waiting (default 5000). */
  maxAheadMs?: number;
  /** Sleep function, for tests (default setTimeout-based). When given, abort() still returns a
   *  pending wait() at once (the custom sleep itself is left to finish on its own). */
  sleep?: (ms: number) => Promise<void>;
}

export class Pacer {
  private readonly now: () => number;
  private readonly leadNs: number;
  private readonly speed: number;
  private readonly maxBehindNs: number;
  private readonly maxAheadNs: number;
  private readonly customSleep: ((ms: number) => Promise<void>) | undefined;
  private originTs: number | undefined; // media ns at the anchor
  private originClock = 0; // clock ms at the anchor
  private aborted = false;
  /** Ends the sleep in progress (clears its timer); undefined when not sleeping. */
  private wake: (() => void) | undefined;
  /** Number of re-anchors after a stall (for stats/tests). */
  reanchors = 0;

  constructor(opts: PacerOptions) {
    this.now = opts.now ?? (() => performance.now());
    this.leadNs = opts.leadMs * 1e6;
    this.speed = opts.speed ?? MOUNT_DEFAULTS.speed;
    this.maxBehindNs = (opts.maxBehindMs ?? 1000) * 1e6;
    this.maxAheadNs = (opts.maxAheadMs ?? 5000) * 1e6;
    this.customSleep = opts.sleep;
    if (!(this.speed > 0)) throw new RangeError('speed must be > 0');
  }

  /** Forget the anchor: the next frame is released at once and becomes the new origin. */
  reset(): void {
    this.originTs = undefined;
  }

  /** Stops any waiting: wait() returns at once from now on, and a wait in progress returns at once
   *  (its timer is cleared). */
  abort(): void {
    this.aborted = true;
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  /** Sleeps `ms`, or less if abort() is called meanwhile. */
  private sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const done = () => {
        if (timer !== undefined) clearTimeout(timer);
        if (this.wake === done) this.wake = undefined;
        resolve();
      };
      this.wake = done;
      if (this.customSleep === undefined) timer = setTimeout(done, ms);
      else {
        this.customSleep(ms).then(done, (err: unknown) => {
          if (this.wake === done) this.wake = undefined;
          reject(err instanceof Error ? err : new Error(String(err)));
        });
      }
    });
  }

  /** Media time (ns) that may be released now, or undefined before the first frame. */
  clockTs(): number | undefined {
    if (this.originTs === undefined) return undefined;
    return this.originTs + (this.now() - this.originClock) * 1e6 * this.speed;
  }

  /** How long (ms) to wait before a frame at `ts` (ns) may be released; 0 = now. Anchors on the first call. */
  delayFor(ts: number): number {
    if (this.originTs === undefined) {
      this.originTs = ts;
      this.originClock = this.now();
      return 0;
    }
    const clock = this.clockTs()!;
    if (ts + this.maxBehindNs < clock || ts - clock > this.maxAheadNs) {
      // The input stalled (slow network, reconnect): continue from here rather than burst to catch up.
      this.originTs = ts;
      this.originClock = this.now();
      this.reanchors++;
      return 0;
    }
    const ahead = ts - this.leadNs - clock;
    return ahead <= 0 ? 0 : ahead / 1e6 / this.speed;
  }

  /** Resolves when a frame with timestamp `ts` (ns) may be released. */
  async wait(ts: number): Promise<void> {
    for (;;) {
      if (this.aborted) return;
      const d = this.delayFor(ts);
      if (d <= 0) return;
      await this.sleep(Math.max(1, Math.ceil(d)));
    }
  }
}
