// PullShare: one pull's result, handed to the next subscribers found at the same place. A server
// serves hundreds of caught-up subscribers per turn from the same cursor; they all get the same parts
// (block views and Cluster starts are shared objects already), so only the first one needs to walk the
// cluster: the others take its parts and its cursor's new place. The record holds only while the
// history is unchanged (its version), for the same pull size, and only for plain pulls (no init part,
// no origin to fix, nothing withheld, no end, no recovery): anything else is computed as usual.

/** Pass one to `Subscriber.pullInto(out, maxBytes, share)` for a batch of pulls (e.g. one turn of a
 *  server's write loop): subscribers at the same place as the one before share its result. */
export class PullShare {
  /** Pulls answered from the share. */
  shared = 0;
  /** Pulls computed (and, when plain, recorded for the next subscriber). */
  computed = 0;

  /** @internal A plain pull is recorded below. */
  valid = false;
  /** @internal The stream it was pulled from (one server loop serves the subscribers of many). */
  stream: unknown = undefined;
  /** @internal What it started from: the subscriber's place and origin, and what it was given. */
  seq = 0;
  /** @internal */
  idx = 0;
  /** @internal */
  started = false;
  /** @internal */
  mute = false;
  /** @internal */
  base = 0;
  /** @internal */
  epochId = 0;
  /** @internal */
  offset = 0;
  /** @internal */
  limit = 0;
  /** @internal The history's version and newest timestamp then. */
  version = 0;
  /** @internal */
  newestNs = 0;
  /** @internal Its result: the parts, their bytes, and where the cursor went. */
  readonly parts: Uint8Array[] = [];
  /** @internal */
  bytes = 0;
  /** @internal */
  toSeq = 0;
  /** @internal */
  toIdx = 0;
  /** @internal */
  toStarted = false;
  /** @internal */
  toMute = false;
  /** @internal */
  toOffset = 0;
  /** @internal */
  toNs = 0;
  /** @internal The clock when it was pulled (a pull's time for the idle timeout: one clock read per
   *  computed pull, not per subscriber). */
  nowMs = 0;

  /** Forgets the recorded pull (never needed for correctness: a changed history is detected). */
  reset(): void {
    this.valid = false;
    this.stream = undefined;
    this.parts.length = 0;
  }
}
