// Streaming responses: one StreamClient per connected viewer (socket + fanout subscriber), and the
// Flusher, a shared timer that serves each client once per interval: the clients are spread over slots,
// one slot per timer tick, and every client of the slot gets everything pending in ONE socket write
// (a caught-up client's pending bytes are one view of the fanout's shared run; a Cluster start makes it
// a short corked writev). Clients are polled, not woken: in the steady state every client has news every
// interval, so per-client notifications (onReadable, 'drain' listeners, ready queues) would only add
// work; a socket that needs draining is skipped until it has drained. A joining client gets its
// response head at once (its own write: the first byte never waits); its burst (init part + GOP)
// follows from a join queue drained on setImmediate with a byte budget per event-loop turn, so a join
// storm cannot starve accepts and other joiners' heads, nor the established clients. Serving a slot
// is bounded in time while viewers are joining, because Node (libuv 1.46) accepts ONE connection per
// event-loop turn: every turn is then kept short (joinTurnBudgetMs of serving, then the poll phase
// accepts the next one). Measured: with 8-150 ms turns during a ramp of 500 joins/s, the accept queue
// grew to 70 and joiners waited 150-600 ms for their first byte, though every accepted one was
// answered within 1 ms. Without joins a slot is served in one go (turnBudgetMs: no limit): its timer
// ticks then come late, which lengthens the real interval a little under load, as in any Node write
// loop; serving in short turns all the time kept the nominal interval and cost 17-20 % more CPU at
// 7,500 clients (more writes, not more work per write). The other way
// round: when the event loop is saturated (a join storm near the core's limit, a core shared with other
// processes), the interval is stretched (x2, x4 ... up to maxIntervalMs), since the cost of serving is
// writes per second, not bytes: fewer, larger writes leave the process time to accept and answer new
// viewers, whose connections otherwise wait in the kernel's accept queue for seconds (measured: see
// the server README, Performance). Established clients lose nothing: seconds of kernel buffer absorb it.

import { PullShare } from '@mkvserve/fanout';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { clientAddress, clientPort } from './client-address.js';
import { canWriteDirect, isDestroyed, mustWait, writeBytes, writeParts } from './socket-write.js';
import type { WriteResult } from './socket-write.js';

/** The fanout Subscriber surface used here (@mkvserve/fanout Subscriber satisfies it). */
export interface SubscriberLike {
  onReadable: (() => void) | undefined;
  pull(maxBytes?: number): Uint8Array[] | null;
  /** pull() into `out`: bytes appended, or -1 where pull() gives null; subscribers at the same place
   *  as the last one pulled with `share` get its result (see @mkvserve/fanout PullShare). */
  pullInto(out: Uint8Array[], maxBytes?: number, share?: PullShare): number;
  close(): void;
  readonly state: string;
  readonly dropReason?: string | undefined;
  /** Why a finished subscriber finished: 'end' of input, or a new track 'layout'. */
  readonly finishReason?: string | undefined;
  readonly lagNs: number;
  readonly bytesSent: number;
  readonly skips: number;
}

export type EndReason =
  'eof' | 'client_closed' | 'error' | 'dropped_lag' | 'dropped_idle' | 'dropped' | 'shutdown' | 'new_input' | 'kicked';

export interface ClientEvents {
  /** The client is gone (socket closed); called exactly once. */
  onClientClosed(c: StreamClient): void;
}

const kClient = Symbol('mkvserve.client');
type ClientSocket = Socket & { [kClient]?: StreamClient };

let nextId = 1;

export class StreamClient {
  readonly id = nextId++;
  readonly socket: Socket;
  readonly sub: SubscriberLike;
  readonly mount: string;
  readonly address: string;
  readonly port: number;
  readonly since = Date.now();
  /** The request's User-Agent (for the API; set by the mount). */
  userAgent: string | undefined = undefined;
  /** Bytes handed to the socket (response head included). */
  bytesWritten = 0;
  /** Why the response ended (set when we end or destroy it). */
  reason: EndReason | undefined;
  ended = false;
  /** @internal The flusher serving this client. */
  flusher: Flusher | undefined;
  /** @internal Flusher slot. */
  slot = 0;
  /** @internal Index in the slot's client list (-1: not in it). */
  slotIndex = -1;
  /** @internal In the flusher's join queue (burst not sent yet). */
  joining = false;
  /** @internal The last write left bytes queued (./socket-write.ts): ask mustWait() before the next. */
  queued = false;
  /** @internal Written under the socket's Writable (./socket-write.ts canWriteDirect, at attach). */
  direct = false;
  private readonly events: ClientEvents;
  private closedOnce = false;

  constructor(socket: Socket, sub: SubscriberLike, mount: string, events: ClientEvents) {
    this.socket = socket;
    this.sub = sub;
    this.mount = mount;
    // Behind a trusted proxy: the client's, not the proxy's (./client-address.ts).
    this.address = clientAddress(socket);
    this.port = clientPort(socket);
    this.events = events;
    (socket as ClientSocket)[kClient] = this;
    socket.on('close', onClientSocketClose);
    socket.on('end', onClientSocketEnd);
  }

  /** The response is over: send what is buffered, then FIN. */
  end(reason: EndReason): void {
    if (this.ended) return;
    this.ended = true;
    this.reason ??= reason;
    this.sub.close();
    this.socket.end();
    // A peer that never reads would keep the socket (and its buffer) forever.
    this.socket.setTimeout(5000);
  }

  /** Cuts the connection now. */
  destroy(reason: EndReason): void {
    this.reason ??= reason;
    this.ended = true;
    this.sub.close();
    // A dropped viewer (too slow, or gone quiet) or one still there after the shutdown grace: reset
    // the connection. A plain close would leave the kernel sending what it queued for this socket (up
    // to net.ipv4.tcp_wmem's max, 4 MiB by default) to a peer that reads at its own pace, for minutes
    // after we let go of it.
    const s = this.socket;
    if ((reason === 'shutdown' || reason.startsWith('dropped')) && typeof s.resetAndDestroy === 'function') {
      s.resetAndDestroy();
    } else s.destroy();
  }

  /** @internal */
  closed(): void {
    if (this.closedOnce) return;
    this.closedOnce = true;
    this.ended = true;
    this.sub.onReadable = undefined;
    if (this.reason === undefined) this.reason = 'client_closed';
    this.sub.close();
    this.flusher?.detach(this);
    this.events.onClientClosed(this);
  }
}

function onClientSocketClose(this: ClientSocket): void {
  this[kClient]?.closed();
}

/** The viewer half-closed: browsers and players never do that mid-stream, so it is gone. */
function onClientSocketEnd(this: ClientSocket): void {
  const c = this[kClient];
  if (c && !c.ended) c.destroy('client_closed');
}

/** The EndReason of a finished response: end of input, or a new track layout (the player reconnects
 *  and gets the new init part; a second EBML header mid-response would break it). */
function finishedReason(sub: SubscriberLike): EndReason {
  return sub.finishReason === 'layout' ? 'new_input' : 'eof';
}

/** The EndReason of a client whose subscriber was dropped. */
function droppedReason(sub: SubscriberLike): EndReason {
  return sub.dropReason === 'idle' ? 'dropped_idle' : sub.dropReason === 'lag' ? 'dropped_lag' : 'dropped';
}

export interface FlusherOptions {
  /** Each client is written at most once per this many ms (default 40; MkvServer uses 100). */
  intervalMs?: number;
  /** The clients are spread over this many slots, one served per timer tick, so a tick never
   *  blocks the event loop for long (default: one slot per 20 ms of interval). */
  slices?: number;
  /** Most bytes pulled for one client per turn (default 512 KiB); more waits for its next turn. */
  maxBytesPerTick?: number;
  /** Most burst bytes written to joining clients per event-loop turn (default 256 KiB; at least one
   *  client per turn). The rest of the join queue goes on the next turn (setImmediate), after the
   *  pending I/O (accepts, request heads) was handled. */
  joinBytesPerTurn?: number;
  /** Most ms serving slots takes in one event-loop turn before it yields to pending I/O (request
   *  heads, joins, write completions) and goes on at setImmediate (default: no limit; checked every
   *  SERVE_CHECK_EVERY clients, so at least that many are served per turn). */
  turnBudgetMs?: number;
  /** The same while viewers are joining (a client attached in the last JOIN_PRESSURE_MS): Node accepts
   *  one connection per turn, so turns are kept this short (default 0.25). */
  joinTurnBudgetMs?: number;
  /** Most ms between two writes to a client when the event loop is saturated (default: intervalMs,
   *  never stretched). Checked every STRETCH_CHECK_MS: the stretch doubles while the loop is busier
   *  than STRETCH_BUSY and halves when its utilization over the last STRETCH_CALM_CHECKS checks averaged
   *  below STRETCH_CALM; a halving that saturates the loop again is undone and not tried again for
   *  STRETCH_RETRY_MS (doubling each time in a row, up to STRETCH_RETRY_MAX_MS). */
  maxIntervalMs?: number;
  /** Called when the stretch changes: each client is now served every `factor` x intervalMs (it was
   *  `previous` x intervalMs). `retryMs` > 0: a halving just did not fit (the loop saturated again),
   *  and none is tried for this long. */
  onStretch?(factor: number, previous: number, utilization: number, retryMs: number): void;
  /** Called after a subscriber turns out dropped (the socket is destroyed by then). */
  onDropped?(c: StreamClient): void;
  /** Called after a finished response was ended. */
  onFinished?(c: StreamClient): void;
}

/** Response heads are the same text for every client of a mount: converted to bytes once. */
const HEAD_CACHE_MAX = 64;
/** Event-loop utilization above which the write interval is stretched (the loop is saturated). */
export const STRETCH_BUSY = 0.95;
/** Average utilization (over STRETCH_CALM_CHECKS checks) below which a stretched interval is halved:
 *  halving it made the process's work 1.4x on the load benchmark (the bytes are the same, the writes
 *  double), so from below 0.6 the loop should stay under 0.85. If it saturates anyway, the halving is
 *  undone and backed off (STRETCH_RETRY_MS). An average, not every check: the loop's use moves by
 *  +-0.3 from one 250 ms check to the next (a Cluster start, a GC), so a streak of checks each below
 *  the line would hardly ever come (with 5,000 viewers, 47 % of a core, it never did). */
export const STRETCH_CALM = 0.6;
/** How often the utilization is checked (ms). */
export const STRETCH_CHECK_MS = 250;
/** Checks averaged before a stretched interval is halved (2 s, counted from the last change: a
 *  stretched loop looks calm at once). */
export const STRETCH_CALM_CHECKS = 8;
/** A halving followed by a saturated check within this many checks (2 s) did not fit: undone. */
export const STRETCH_TRIAL_CHECKS = 8;
/** After a halving that did not fit, no halving for this long (ms); doubled for each such halving in a
 *  row, up to STRETCH_RETRY_MAX_MS; back to this once a halving holds. */
export const STRETCH_RETRY_MS = 30_000;
/** The longest wait between two halvings that keep not fitting (ms). */
export const STRETCH_RETRY_MAX_MS = 8 * 60_000;
/** Serving a slot looks at the clock after this many clients (the turn budget's granularity: a
 *  client's write costs 10-150 us, the clock 0.1 us). */
export const SERVE_CHECK_EVERY = 4;
/** A client attached within this many ms: viewers are joining, turns are kept short. */
export const JOIN_PRESSURE_MS = 50;
/** Default joinTurnBudgetMs: serving while viewers join yields this often (ms). */
export const JOIN_TURN_BUDGET_MS = 0.25;
/** Default joinBytesPerTurn: a joiner's burst (init part + GOP) is ~250-500 KB at 2 Mbit/s, so about
 *  one burst per turn, as many as Node accepts. */
export const JOIN_BYTES_PER_TURN = 256 * 1024;

/**
 * Shared write scheduler. Each attached client belongs to one of `slices` slots; the timer fires every
 * intervalMs / slices and serves one slot: every client in it whose socket can take more is pulled
 * and written once. So every client gets one coalesced write per interval (latency added: at most one
 * interval), and the work, and the pause new connections see, is spread evenly.
 */
export class Flusher {
  readonly intervalMs: number;
  readonly slices: number;
  readonly maxBytesPerTick: number;
  readonly joinBytesPerTurn: number;
  /** Largest stretch: each client served every maxFactor x intervalMs at most. */
  readonly maxFactor: number;
  /** Current stretch (1 = every interval): a power of two up to maxFactor. */
  private factor = 1;
  /** Utilization of the checks since the last change (the last STRETCH_CALM_CHECKS of them). */
  private readonly recent: number[] = [];
  /** Checks so far (the stretch's clock). */
  private checks = 0;
  /** Check number of the last halving (-Infinity: none). */
  private halvedAt = -Infinity;
  /** No halving before this check number (a halving did not fit). */
  private retryAt = 0;
  /** Checks to wait after the next halving that does not fit (0: the first wait, STRETCH_RETRY_MS). */
  private retryChecks = 0;
  /** The event loop's utilization (0..1) over the last check (every STRETCH_CHECK_MS while started;
   *  NaN before the first). */
  utilization = NaN;
  /** Rounds (passes over all slots) so far: a stretched flusher serves every factor-th round. */
  private round = 0;
  private adaptTimer: NodeJS.Timeout | undefined;
  private elu: ReturnType<typeof performance.eventLoopUtilization> | undefined;
  private readonly slots: StreamClient[][];
  readonly turnBudgetMs: number;
  readonly joinTurnBudgetMs: number;
  /** performance.now() of the last attach. */
  private lastJoinMs = -Infinity;
  /** Slots due to be served, in order, from dueHead on (a slot at most once: queued[slot]). */
  private due: number[] = [];
  private dueHead = 0;
  private readonly queued: boolean[];
  /** Where serving the first due slot stopped (the next index to serve, going down; -1: not begun). */
  private resumeAt = -1;
  private serveImmediate: NodeJS.Immediate | undefined;
  private readonly serveDueFn = (): void => this.serveDue();
  /** Turns that ran out of budget and yielded (for tests). */
  yields = 0;
  /** Joined clients waiting for their burst, oldest first, from joinHead on. */
  private joins: StreamClient[] = [];
  private joinHead = 0;
  private joinImmediate: NodeJS.Immediate | undefined;
  private readonly drainJoinsFn = (): void => this.drainJoins();
  /** What pullInto() fills for one client (reused: no array per write). */
  private readonly parts: Uint8Array[] = [];
  /** The last slot pull, for the next client at the same place (most of a slot, once caught up). */
  readonly share = new PullShare();
  private readonly heads = new Map<string, Buffer>();
  private slot = 0;
  private nextSlot = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly opts: FlusherOptions;
  /** Counters (for metrics). */
  writes = 0;
  ticks = 0;
  bytes = 0;

  constructor(opts: FlusherOptions = {}) {
    this.opts = opts;
    this.intervalMs = Math.max(1, opts.intervalMs ?? 40);
    this.slices = Math.max(1, Math.floor(opts.slices ?? Math.round(this.intervalMs / 20)));
    this.maxBytesPerTick = opts.maxBytesPerTick ?? 512 * 1024;
    this.joinBytesPerTurn = Math.max(1, opts.joinBytesPerTurn ?? JOIN_BYTES_PER_TURN);
    let f = 1;
    while (f * 2 * this.intervalMs <= (opts.maxIntervalMs ?? 0)) f *= 2;
    this.maxFactor = f;
    this.slots = Array.from({ length: this.slices }, () => []);
    this.queued = Array.from({ length: this.slices }, () => false);
    this.turnBudgetMs = Math.max(0, opts.turnBudgetMs ?? Infinity);
    this.joinTurnBudgetMs = Math.max(0, opts.joinTurnBudgetMs ?? JOIN_TURN_BUDGET_MS);
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.tick(), this.intervalMs / this.slices);
    // Measured even when the interval cannot stretch: status and metrics show it.
    this.elu = performance.eventLoopUtilization();
    this.adaptTimer = setInterval(() => {
      const now = performance.eventLoopUtilization();
      const d = performance.eventLoopUtilization(now, this.elu);
      // A check that came late runs right before the next one: judge spans of a full period only.
      if (d.idle + d.active < STRETCH_CHECK_MS / 2) return;
      this.elu = now;
      this.utilization = d.utilization;
      if (this.maxFactor > 1) this.adapt(d.utilization);
    }, STRETCH_CHECK_MS);
    this.adaptTimer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.adaptTimer) clearInterval(this.adaptTimer);
    this.adaptTimer = undefined;
    if (this.joinImmediate) clearImmediate(this.joinImmediate);
    this.joinImmediate = undefined;
    if (this.serveImmediate) clearImmediate(this.serveImmediate);
    this.serveImmediate = undefined;
  }

  /** Starts serving a client: writes `head` right now, and queues the joining burst for this turn. */
  attach(c: StreamClient, head: string | Uint8Array): void {
    this.lastJoinMs = performance.now();
    c.flusher = this;
    c.slot = this.nextSlot;
    this.nextSlot = (this.nextSlot + 1) % this.slices;
    const bytes = typeof head === 'string' ? this.headBytes(head) : head;
    c.bytesWritten += bytes.byteLength;
    // From here on, this socket is written by this flusher only (its Writable stays empty).
    c.direct = canWriteDirect(c.socket);
    if (!this.wrote(c, writeBytes(c.socket, bytes, c.direct))) return;
    c.joining = true;
    this.joins.push(c);
    this.joinImmediate ??= setImmediate(this.drainJoinsFn);
  }

  private headBytes(head: string): Buffer {
    let b = this.heads.get(head);
    if (b === undefined) {
      if (this.heads.size >= HEAD_CACHE_MAX) this.heads.clear();
      b = Buffer.from(head, 'latin1');
      this.heads.set(head, b);
    }
    return b;
  }

  /** Clients whose burst is still queued. */
  get joinsPending(): number {
    return this.joins.length - this.joinHead;
  }

  /** Clients served every interval (their burst was sent). */
  get clients(): number {
    let n = 0;
    for (const list of this.slots) n += list.length;
    return n;
  }

  /** Writes the queued bursts, at most joinBytesPerTurn (at least one client) per call. */
  drainJoins(budget = this.joinBytesPerTurn): void {
    if (this.joinImmediate) clearImmediate(this.joinImmediate);
    this.joinImmediate = undefined;
    const list = this.joins;
    let spent = 0;
    while (this.joinHead < list.length && spent < budget) {
      const c = list[this.joinHead];
      list[this.joinHead++] = undefined as unknown as StreamClient;
      c.joining = false;
      if (c.ended) continue;
      const bytes = this.serve(c, this.maxBytesPerTick, true);
      spent += bytes;
      if (c.ended) continue;
      // A burst bigger than one turn's share: the rest goes first thing next turn.
      if (bytes >= this.maxBytesPerTick && !this.mustWait(c)) {
        c.joining = true;
        list.push(c);
      } else this.addToSlot(c);
    }
    if (this.joinHead >= list.length) {
      list.length = 0;
      this.joinHead = 0;
    } else {
      if (this.joinHead > 1024 && this.joinHead * 2 > list.length) {
        this.joins = list.slice(this.joinHead);
        this.joinHead = 0;
      }
      this.joinImmediate ??= setImmediate(this.drainJoinsFn);
    }
  }

  private addToSlot(c: StreamClient): void {
    if (c.slotIndex >= 0) return;
    const list = this.slots[c.slot];
    c.slotIndex = list.length;
    list.push(c);
  }

  /** Stops serving a client (its socket closed). */
  detach(c: StreamClient): void {
    const i = c.slotIndex;
    if (i < 0) return;
    const list = this.slots[c.slot];
    const last = list.pop()!;
    if (last !== c) {
      list[i] = last;
      last.slotIndex = i;
    }
    c.slotIndex = -1;
  }

  /** Kept for callers of the event-driven flusher: every attached client is served on its slot's
   *  turn anyway, so there is nothing to queue. */
  mark(_c: StreamClient): void {}

  /** The current stretch: each client is served every `stretch` x intervalMs (1 = not stretched). */
  get stretch(): number {
    return this.factor;
  }

  /** Takes the event loop's utilization (0..1) over the last check: stretches the interval (x2, up to
   *  maxFactor) while the loop is saturated; shrinks it (/2) once the checks since the last change (at
   *  least STRETCH_CALM_CHECKS) averaged below STRETCH_CALM and no halving is being backed off. A
   *  halving followed by saturation within STRETCH_TRIAL_CHECKS did not fit: it is undone (the doubling)
   *  and halving waits STRETCH_RETRY_MS, twice that after the next such one, and so on. */
  adapt(utilization: number): void {
    const before = this.factor;
    const check = ++this.checks;
    const recent = this.recent;
    let retryMs = 0;
    if (utilization > STRETCH_BUSY) {
      if (check - this.halvedAt <= STRETCH_TRIAL_CHECKS) {
        // The last halving did not fit: back off before trying again.
        const min = Math.ceil(STRETCH_RETRY_MS / STRETCH_CHECK_MS);
        this.retryChecks = Math.min(
          this.retryChecks > 0 ? this.retryChecks * 2 : min,
          Math.ceil(STRETCH_RETRY_MAX_MS / STRETCH_CHECK_MS),
        );
        this.retryAt = check + this.retryChecks;
        this.halvedAt = -Infinity;
        retryMs = this.retryChecks * STRETCH_CHECK_MS;
      }
      if (this.factor < this.maxFactor) this.factor *= 2;
      recent.length = 0;
    } else {
      if (check - this.halvedAt === STRETCH_TRIAL_CHECKS) this.retryChecks = 0; // that halving held
      recent.push(utilization);
      if (recent.length > STRETCH_CALM_CHECKS) recent.shift();
      if (this.factor > 1 && recent.length >= STRETCH_CALM_CHECKS && check >= this.retryAt) {
        let sum = 0;
        for (const u of recent) sum += u;
        if (sum / recent.length < STRETCH_CALM) {
          this.factor /= 2;
          this.halvedAt = check;
          recent.length = 0;
        }
      }
    }
    if (this.factor !== before) this.opts.onStretch?.(this.factor, before, utilization, retryMs);
  }

  /** Serves the clients of the next slot (every factor-th round only, while stretched), within this
   *  turn's budget; the rest of it goes on at setImmediate. */
  tick(): void {
    this.ticks++;
    const i = this.slot;
    this.slot = (i + 1) % this.slices;
    if (this.round % this.factor === 0 && !this.queued[i]) {
      this.queued[i] = true;
      this.due.push(i);
      if (this.serveImmediate === undefined) this.serveDue();
    }
    if (this.slot === 0) this.round++;
  }

  /** Slots due and not fully served yet. */
  get slotsDue(): number {
    return this.due.length - this.dueHead;
  }

  /** Serves every queued burst and every client of every slot now (shutdown). */
  flushAll(): void {
    while (this.joinsPending > 0) this.drainJoins(Infinity);
    this.serveDue(Infinity);
    for (let i = 0; i < this.slices; i++) {
      this.queued[i] = true;
      this.due.push(i);
    }
    this.serveDue(Infinity);
  }

  /** Serves the due slots, in order, until the turn's budget is spent (checked every
   *  SERVE_CHECK_EVERY clients); what is left goes on at setImmediate, after the poll phase. */
  private serveDue(budgetMs?: number): void {
    if (this.serveImmediate) clearImmediate(this.serveImmediate);
    this.serveImmediate = undefined;
    const t = performance.now();
    const budget = budgetMs ?? (t - this.lastJoinMs < JOIN_PRESSURE_MS ? this.joinTurnBudgetMs : this.turnBudgetMs);
    const deadline = t + budget;
    const max = this.maxBytesPerTick;
    let served = 0;
    while (this.dueHead < this.due.length) {
      const i = this.due[this.dueHead];
      const list = this.slots[i];
      // Backwards: a client that ends during its serve is swapped out with the last one, already
      // served. Between turns, clients may leave (one served already may then move below `k` and be
      // polled twice: harmless, it has nothing new) or join (at the end: they just had their burst).
      let k = this.resumeAt < 0 ? list.length - 1 : Math.min(this.resumeAt, list.length - 1);
      for (; k >= 0; k--) {
        const c = list[k];
        if (c.ended) this.detach(c);
        else this.serve(c, max, false);
        if (deadline !== Infinity && ++served % SERVE_CHECK_EVERY === 0 && k > 0 && performance.now() >= deadline) {
          this.resumeAt = k - 1;
          this.yields++;
          this.serveImmediate = setImmediate(this.serveDueFn);
          return;
        }
      }
      this.resumeAt = -1;
      this.queued[i] = false;
      this.dueHead++;
    }
    this.due.length = 0;
    this.dueHead = 0;
    this.share.reset(); // (lets go of the last parts)
  }

  /** Bytes of `c`'s last write still wait to be taken by the kernel: write nothing more yet. (Asks the
   *  socket only after a write that was 'queued'.) */
  private mustWait(c: StreamClient): boolean {
    if (!c.queued) return false;
    if (mustWait(c.socket)) return true;
    c.queued = false;
    return false;
  }

  /** Records what a write to `c` did; false when the kernel refused it (the peer is gone: reset, or the
   *  socket closed under us), and `c` was destroyed ('close' follows). */
  private wrote(c: StreamClient, r: WriteResult): boolean {
    if (r instanceof Error) {
      c.destroy('error');
      return false;
    }
    // (Cleared by mustWait() once the bytes are gone, not by a later write that went through.)
    if (r === 'queued') c.queued = true;
    return true;
  }

  /** Pulls and writes (one write, or one corked writev) for one client; returns the bytes written.
   *  `join`: its first serve (the burst). */
  private serve(c: StreamClient, maxBytes: number, join: boolean): number {
    const s = c.socket;
    const sub = c.sub;
    if (sub.state === 'dropped') {
      c.destroy(droppedReason(sub));
      this.opts.onDropped?.(c);
      return 0;
    }
    if (isDestroyed(s, c.direct)) return 0;
    // Not pulling counts against the subscriber's lag. (A joiner's head alone never fills the
    // socket's buffer.)
    if (!join && this.mustWait(c)) return 0;
    const parts = this.parts;
    // A joiner's burst is its own; the slot's clients share pulls.
    const n = sub.pullInto(parts, maxBytes === Infinity ? undefined : maxBytes, join ? undefined : this.share);
    let r: WriteResult = 'sent';
    if (parts.length > 0) {
      r = writeParts(s, parts, c.direct);
      this.writes++;
    }
    while (parts.length > 0) parts.pop(); // (cheaper than setting length)
    if (!this.wrote(c, r)) return 0;
    const bytes = n > 0 ? n : 0;
    c.bytesWritten += bytes;
    this.bytes += bytes;
    if (n < 0 || sub.state === 'finished') {
      // Finished (after the last bytes just written, if any), dropped or closed.
      if (sub.state === 'dropped') {
        c.destroy(droppedReason(sub));
        this.opts.onDropped?.(c);
      } else {
        c.end(sub.state === 'finished' ? finishedReason(sub) : 'shutdown');
        this.opts.onFinished?.(c);
      }
    }
    return bytes;
  }
}
