// Flusher: every client is polled once per turn and gets everything pending in one write (one part:
// a plain write; several: one corked writev), burst at attach, no pull while the socket needs drain,
// dropped/finished subscribers end or destroy the socket, slots spread the work, a saturated event loop
// stretches the interval (fewer, larger writes) and a calm one shrinks it back.
import t from 'tap';
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { LiveStream } from '@mkvserve/fanout';
import {
  Flusher,
  JOIN_PRESSURE_MS,
  SERVE_CHECK_EVERY,
  STRETCH_BUSY,
  STRETCH_CALM,
  STRETCH_CALM_CHECKS,
  STRETCH_CHECK_MS,
  STRETCH_RETRY_MAX_MS,
  STRETCH_RETRY_MS,
  STRETCH_TRIAL_CHECKS,
  StreamClient,
} from '../src/http/stream.js';
import type { SubscriberLike } from '../src/http/stream.js';
import { vp8OnlyHeader } from '../testlib/helpers.js';

class FakeSocket extends EventEmitter {
  corks = 0;
  uncorks = 0;
  writes: (string | Uint8Array)[] = [];
  flushes = 0; // uncork calls that had writes since the last one
  private pending = 0;
  writableNeedDrain = false;
  destroyed = false;
  endedBy: string | undefined;
  remoteAddress = '127.0.0.1';
  remotePort = 1234;
  cork(): void {
    this.corks++;
  }
  uncork(): void {
    this.uncorks++;
    if (this.pending > 0) this.flushes++;
    this.pending = 0;
  }
  write(d: string | Uint8Array): boolean {
    this.writes.push(d);
    this.pending++;
    return !this.writableNeedDrain;
  }
  end(): void {
    this.endedBy = 'end';
  }
  destroy(): void {
    this.destroyed = true;
    this.endedBy ??= 'destroy';
    this.emit('close');
  }
  setTimeout(): void {}
}

class FakeSub implements SubscriberLike {
  onReadable: (() => void) | undefined;
  state = 'active';
  dropReason: string | undefined;
  finishReason: string | undefined;
  lagNs = 0;
  bytesSent = 0;
  skips = 0;
  queue: Uint8Array[] = [];
  pulls = 0;
  finishAfter = false;
  pull(max?: number): Uint8Array[] | null {
    this.pulls++;
    if (this.state === 'dropped' || this.state === 'closed' || this.state === 'finished') return null;
    const out: Uint8Array[] = [];
    let n = 0;
    while (this.queue.length > 0 && n < (max ?? Infinity)) {
      const b = this.queue.shift()!;
      out.push(b);
      n += b.length;
    }
    if (this.queue.length === 0 && this.finishAfter) this.state = 'finished';
    return out;
  }
  pullInto(out: Uint8Array[], max?: number): number {
    const parts = this.pull(max);
    if (parts === null) return -1;
    let n = 0;
    for (const p of parts) {
      out.push(p);
      n += p.length;
    }
    return n;
  }
  close(): void {
    if (this.state === 'active') this.state = 'closed';
  }
  push(...sizes: number[]): void {
    for (const s of sizes) this.queue.push(new Uint8Array(s));
    const cb = this.onReadable;
    cb?.();
  }
}

function client(f: Flusher, closed: StreamClient[] = []): { c: StreamClient; sock: FakeSocket; sub: FakeSub } {
  const sock = new FakeSocket();
  const sub = new FakeSub();
  sub.queue.push(new Uint8Array(100), new Uint8Array(200)); // init + burst
  const c = new StreamClient(sock as unknown as Socket, sub, 'stream', { onClientClosed: (x) => closed.push(x) });
  f.attach(c, 'HTTP/1.1 200 OK\r\n\r\n');
  f.drainJoins();
  return { c, sock, sub };
}

t.test('head at attach, burst in one corked write on the join turn, then one write per turn', async (t) => {
  const f = new Flusher({ intervalMs: 100, slices: 1 });
  const sock = new FakeSocket();
  const sub = new FakeSub();
  sub.queue.push(new Uint8Array(100), new Uint8Array(200)); // init + burst
  const c = new StreamClient(sock as unknown as Socket, sub, 'stream', { onClientClosed: () => {} });
  f.attach(c, 'HTTP/1.1 200 OK\r\n\r\n');
  t.equal(sock.writes.length, 1, 'the head is written at once');
  t.equal(sock.corks, 0, 'not corked: it goes out now');
  t.equal(f.joinsPending, 1, 'the burst is queued');
  sub.push(5); // wake-ups while joining are covered by the join turn
  await new Promise((r) => setImmediate(r));
  t.equal(f.joinsPending, 0, 'join turn ran on setImmediate');
  t.equal(sock.writes.length, 4, 'head + init + burst + new frame');
  t.equal(sock.flushes, 1, 'burst in one corked flush');
  t.equal(c.bytesWritten, 'HTTP/1.1 200 OK\r\n\r\n'.length + 305);
  sub.push(10);
  sub.push(20);
  sub.push(30);
  t.equal(sock.flushes, 1, 'nothing written before the tick');
  f.tick();
  t.equal(sock.flushes, 2, 'three frames -> one flush');
  t.equal(sock.writes.length, 7);
  f.tick();
  t.equal(sock.flushes, 2, 'nothing new: no write');
});

t.test('backpressure: no pull while the socket needs drain; served again on the turn after it drained', async (t) => {
  const f = new Flusher({ intervalMs: 100, slices: 1 });
  const { sock, sub } = client(f);
  sock.writableNeedDrain = true;
  sub.push(10);
  f.tick(); // this write returns false: the socket's buffer is full
  t.equal(sock.writes.length, 4, 'written');
  sub.push(10);
  const pulls = sub.pulls;
  f.tick();
  f.tick();
  t.equal(sub.pulls, pulls, 'not pulled while full');
  t.equal(sock.listenerCount('drain'), 0, 'no drain listener: polled, not woken');
  sock.writableNeedDrain = false;
  f.tick();
  t.equal(sub.pulls, pulls + 1, 'pulled on the next turn');
  t.equal(sock.writes.length, 5);
});

t.test('one part: a plain write; several: one corked writev; nothing new: no write', async (t) => {
  const f = new Flusher({ intervalMs: 100, slices: 1 });
  const { sock, sub } = client(f);
  const corks = sock.corks;
  sub.push(500);
  f.tick();
  t.equal(sock.corks, corks, 'a single view goes out without cork/uncork');
  t.equal(sock.writes.length, 4);
  sub.push(20, 500);
  f.tick();
  t.equal(sock.corks, corks + 1, 'a Cluster start + view: one corked writev');
  t.equal(sock.writes.length, 6);
  const writes = f.writes;
  f.tick();
  t.equal(f.writes, writes, 'polled with nothing new: no write');
  t.equal(sock.writes.length, 6);
});

t.test('every client of a mount gets the same response head bytes (converted once)', async (t) => {
  const f = new Flusher({ intervalMs: 100, slices: 1 });
  const a = client(f);
  const b = client(f);
  t.ok(a.sock.writes[0] instanceof Uint8Array);
  t.equal(a.sock.writes[0], b.sock.writes[0], 'the very same Buffer');
  t.equal(Buffer.from(a.sock.writes[0]).toString('latin1'), 'HTTP/1.1 200 OK\r\n\r\n');
});

t.test('a closed client is no longer served; the others are', async (t) => {
  const f = new Flusher({ intervalMs: 100, slices: 1 });
  const cs = Array.from({ length: 5 }, () => client(f));
  t.equal(f.clients, 5);
  cs[1].sock.destroy();
  cs[3].sock.destroy();
  t.equal(f.clients, 3, 'detached at close');
  for (const x of cs) x.sub.push(10);
  const pulls = cs.map((x) => x.sub.pulls);
  f.tick();
  t.same(
    cs.map((x, i) => x.sub.pulls - pulls[i]),
    [1, 0, 1, 0, 1],
  );
});

t.test('a subscriber finished by a new track layout ends with reason new_input', async (t) => {
  const f = new Flusher({ intervalMs: 100, slices: 1 });
  const { sock, sub, c } = client(f);
  sub.finishAfter = true;
  sub.finishReason = 'layout';
  sub.push(50);
  f.tick();
  t.equal(sock.endedBy, 'end', 'FIN, not a reset');
  t.equal(c.reason, 'new_input');
});

t.test('join storm: bursts are bounded per event-loop turn, heads are not', async (t) => {
  const f = new Flusher({ intervalMs: 100, slices: 1, joinBytesPerTurn: 1000, maxBytesPerTick: 700 });
  const cs = Array.from({ length: 6 }, () => {
    const sock = new FakeSocket();
    const sub = new FakeSub();
    sub.queue.push(new Uint8Array(300), new Uint8Array(300), new Uint8Array(300)); // 900-byte burst
    const c = new StreamClient(sock as unknown as Socket, sub, 'stream', { onClientClosed: () => {} });
    f.attach(c, 'HTTP/1.1 200 OK\r\n\r\n');
    return { c, sock, sub };
  });
  t.ok(
    cs.every((x) => x.sock.writes.length === 1),
    'every head written at attach',
  );
  f.drainJoins();
  // 900 + 900 bytes: the 1000-byte budget is spent after two clients.
  t.same(
    cs.map((x) => x.sock.writes.length),
    [4, 4, 1, 1, 1, 1],
    'two bursts this turn, the rest wait',
  );
  f.drainJoins();
  f.drainJoins();
  f.drainJoins();
  f.drainJoins();
  t.equal(f.joinsPending, 0);
  t.ok(
    cs.every((x) => x.sock.writes.length === 4),
    'every burst complete, in order',
  );
  f.stop();
});

t.test('a slot is served within the turn budget; the rest goes on after the poll phase', async (t) => {
  // Node accepts one connection per event-loop turn: a long turn holds back every joiner behind it.
  const f = new Flusher({ intervalMs: 100, slices: 1, turnBudgetMs: 0, joinTurnBudgetMs: 0 });
  const cs = Array.from({ length: 3 * SERVE_CHECK_EVERY + 2 }, () => client(f));
  const writes = (): number[] => cs.map((x) => x.sock.writes.length - 3); // head + init + burst before
  for (const x of cs) x.sub.push(10);
  f.tick();
  t.equal(
    writes().filter((n) => n === 1).length,
    SERVE_CHECK_EVERY,
    'the clock is read every SERVE_CHECK_EVERY clients: a spent budget yields',
  );
  t.equal(f.yields, 1);
  t.equal(f.slotsDue, 1, 'the slot is still due');
  f.tick(); // its next tick while it is still being served: not queued twice
  t.equal(f.slotsDue, 1);
  for (let i = 0; i < 10 && f.slotsDue > 0; i++) await new Promise((r) => setImmediate(r));
  t.equal(f.slotsDue, 0);
  t.same(writes(), Array(cs.length).fill(1), 'every client served exactly once, none twice');
  // A client leaving while its slot is half served: the others are still served once.
  for (const x of cs) x.sub.push(10);
  f.tick();
  cs[0].sock.destroy();
  cs[cs.length - 1].sock.destroy();
  for (let i = 0; i < 10 && f.slotsDue > 0; i++) await new Promise((r) => setImmediate(r));
  const after = writes().slice(1, -1);
  t.ok(
    after.every((n) => n === 2 || n === 3),
    'every remaining client served (a client moved by a removal may be polled twice: nothing new, no write)',
  );
  t.same(
    after.filter((n) => n !== 2),
    [],
    'no client got a second write',
  );
  f.stop();
});

t.test('while viewers join, turns are short; without joins, a turn serves a whole slot', async (t) => {
  const f = new Flusher({ intervalMs: 100, slices: 1, turnBudgetMs: 1000, joinTurnBudgetMs: 0 });
  const cs = Array.from({ length: 4 * SERVE_CHECK_EVERY }, () => client(f));
  for (const x of cs) x.sub.push(10);
  f.tick(); // a client attached just now: the join budget (0 ms) applies
  t.equal(f.yields, 1, 'joining: the turn yields after the first clients');
  for (let i = 0; i < 10 && f.slotsDue > 0; i++) await new Promise((r) => setImmediate(r));
  await new Promise((r) => setTimeout(r, JOIN_PRESSURE_MS + 10));
  for (const x of cs) x.sub.push(10);
  const y = f.yields;
  f.tick();
  t.equal(f.yields, y, 'no join for a while: the whole slot in one turn');
  t.equal(f.slotsDue, 0);
  f.stop();
});

t.test('flushAll serves everything at once, whatever the budget', async (t) => {
  const f = new Flusher({ intervalMs: 100, slices: 2, turnBudgetMs: 0, joinTurnBudgetMs: 0 });
  const cs = Array.from({ length: 4 * SERVE_CHECK_EVERY }, () => client(f));
  for (const x of cs) x.sub.push(10);
  f.tick(); // half of the first slot served, the rest due
  f.flushAll();
  t.equal(f.slotsDue, 0);
  t.ok(
    cs.every((x) => x.sock.writes.length === 4),
    'every client got its news in this turn',
  );
  f.stop();
});

t.test('maxBytesPerTick splits a backlog over turns', async (t) => {
  const f = new Flusher({ intervalMs: 100, slices: 1, maxBytesPerTick: 1000 });
  const { sock, sub } = client(f);
  sub.push(600, 600, 600);
  f.tick();
  t.equal(sock.writes.length, 3 + 2, 'first turn: up to the limit');
  f.tick();
  t.equal(sock.writes.length, 3 + 3, 'rest next turn without a new wake-up');
});

t.test('dropped -> destroyed with the reason; finished -> ended after the last bytes', async (t) => {
  const f = new Flusher({ intervalMs: 100, slices: 1 });
  const closed: StreamClient[] = [];
  const a = client(f, closed);
  a.sub.state = 'dropped';
  a.sub.dropReason = 'lag';
  a.sub.onReadable?.();
  f.tick();
  t.ok(a.sock.destroyed);
  t.equal(closed[0]?.reason, 'dropped_lag');
  const b = client(f, closed);
  b.sub.finishAfter = true;
  b.sub.push(50);
  f.tick();
  t.equal(b.sock.endedBy, 'end', 'socket ended (FIN), not destroyed');
  t.equal(b.c.reason, 'eof');
  t.equal(b.sock.writes.length, 4, 'last bytes written before the end');
});

t.test('slots: each client is served on its own tick of the cycle', async (t) => {
  const f = new Flusher({ intervalMs: 100, slices: 5 });
  t.equal(f.slices, 5);
  const cs = Array.from({ length: 10 }, () => client(f));
  for (const x of cs) x.sub.push(10);
  const served: number[] = [];
  for (let k = 0; k < 5; k++) {
    const before = cs.map((x) => x.sock.writes.length);
    f.tick();
    served.push(cs.filter((x, i) => x.sock.writes.length > before[i]).length);
  }
  t.same(served, [2, 2, 2, 2, 2], 'two clients per tick');
  t.ok(
    cs.every((x) => x.sock.writes.length === 4),
    'every client served once per cycle (head, burst, one write)',
  );
  t.equal(new Flusher({ intervalMs: 100 }).slices, 5, 'default: one slot per 20 ms');
});

t.test('half-close by the viewer ends its stream', async (t) => {
  const f = new Flusher({ intervalMs: 100, slices: 1 });
  const closed: StreamClient[] = [];
  const { sock } = client(f, closed);
  sock.emit('end');
  t.ok(sock.destroyed);
  t.equal(closed[0]?.reason, 'client_closed');
});

t.test('a saturated event loop stretches the interval: the same bytes in fewer writes; calm shrinks it', async (t) => {
  const events: [number, number, number][] = [];
  const f = new Flusher({
    intervalMs: 100,
    slices: 5,
    maxIntervalMs: 400,
    onStretch: (factor, previous, _u, retryMs) => events.push([factor, previous, retryMs]),
  });
  t.equal(f.maxFactor, 4, 'up to 400 ms = 4 x 100 ms');
  t.equal(new Flusher({ intervalMs: 100, maxIntervalMs: 399 }).maxFactor, 2, 'powers of two within the bound');
  t.equal(new Flusher({ intervalMs: 100 }).maxFactor, 1, 'no bound given: never stretched');
  t.equal(new Flusher({ intervalMs: 500, maxIntervalMs: 400 }).maxFactor, 1, 'a bound below the interval: never');
  const cs = Array.from({ length: 5 }, () => client(f));
  /** Runs `rounds` full passes over the slots, each client getting 10 bytes of news per round; returns
   *  the writes and bytes the clients got. */
  const run = (rounds: number): { writes: number; bytes: number } => {
    const w0 = f.writes; // writes and corked writevs
    const b0 = cs.reduce((n, x) => n + x.c.bytesWritten, 0);
    for (let r = 0; r < rounds; r++) {
      for (const x of cs) x.sub.push(10);
      for (let k = 0; k < f.slices; k++) f.tick();
    }
    for (let k = 0; k < 4 * f.slices; k++) f.tick(); // whatever is pending goes out
    return {
      writes: f.writes - w0,
      bytes: cs.reduce((n, x) => n + x.c.bytesWritten, 0) - b0,
    };
  };
  const normal = run(8);
  t.same(normal, { writes: 40, bytes: 400 }, 'not stretched: one write per client per round');

  f.adapt(STRETCH_BUSY + 0.01);
  t.equal(f.stretch, 2);
  f.adapt(1);
  t.equal(f.stretch, 4);
  f.adapt(1);
  t.equal(f.stretch, 4, 'never beyond maxIntervalMs');
  const stretched = run(8);
  t.equal(stretched.bytes, 400, 'stretched: the same bytes');
  t.equal(stretched.writes, 15, 'one write per client every 4th round: 3 of the 12 rounds, not 8 (40 writes)');

  const feed = (u: number, checks: number): number => {
    for (let i = 0; i < checks; i++) f.adapt(u);
    return f.stretch;
  };
  t.equal(feed(0.9, STRETCH_CALM_CHECKS + 4), 4, 'busy but not saturated: stays');
  f.adapt(1);
  t.equal(f.stretch, 4, 'saturated at the largest stretch: stays');
  // 0.9 and 0.2 by turns: never two calm checks in a row, but 0.55 on average over 2 s.
  for (let i = 0; i < STRETCH_CALM_CHECKS - 1; i++) f.adapt(i % 2 === 0 ? 0.9 : 0.2);
  t.equal(f.stretch, 4, `fewer than ${STRETCH_CALM_CHECKS} checks since the last change: stays`);
  f.adapt(0.2);
  t.equal(
    f.stretch,
    2,
    `${STRETCH_CALM_CHECKS} checks averaging below ${STRETCH_CALM} (the loop moving up and down): halved`,
  );
  t.equal(feed(0.1, STRETCH_CALM_CHECKS - 1), 2, 'a stretch just halved waits for its own checks');

  // That halving does not fit: the loop saturates within STRETCH_TRIAL_CHECKS; undone and backed off.
  f.adapt(1);
  t.equal(f.stretch, 4, 'the shorter interval saturated the loop: back to the longer one');
  const retry = STRETCH_RETRY_MS / STRETCH_CHECK_MS;
  t.equal(feed(0.1, retry - 1), 4, `no halving for ${STRETCH_RETRY_MS} ms however calm`);
  t.equal(feed(0.1, 1), 2, 'then it is tried again');
  f.adapt(0.97);
  t.equal(f.stretch, 4, 'and does not fit again');
  t.equal(feed(0.1, 2 * retry - 1), 4, 'the wait doubles after a second halving in a row that did not fit');
  t.equal(feed(0.1, 1), 2);
  t.equal(feed(0.7, STRETCH_TRIAL_CHECKS), 2, `busy but below saturation for ${STRETCH_TRIAL_CHECKS} checks: it fits`);
  t.equal(feed(0.1, 1), 2, 'the average (0.7 x 7 + 0.1) / 8 is not below the line yet');
  t.equal(feed(0.1, 1), 1, '(0.7 x 6 + 0.1 x 2) / 8 is');
  f.adapt(1);
  t.equal(f.stretch, 2, 'that halving did not fit');
  t.equal(feed(0.1, retry - 1), 2, `after a halving that held, the wait starts at ${STRETCH_RETRY_MS} ms again`);
  t.equal(feed(0.1, 1), 1);
  t.equal(feed(0.5, STRETCH_TRIAL_CHECKS + 100), 1, 'held');
  f.adapt(1);
  t.equal(f.stretch, 2, 'saturated long after the halving: new load, stretched with no wait to come');
  t.equal(feed(0.1, STRETCH_CALM_CHECKS), 1, 'so it is halved after the usual 2 s');
  t.same(events, [
    [2, 1, 0],
    [4, 2, 0],
    [2, 4, 0],
    [4, 2, STRETCH_RETRY_MS],
    [2, 4, 0],
    [4, 2, 2 * STRETCH_RETRY_MS],
    [2, 4, 0],
    [1, 2, 0],
    [2, 1, STRETCH_RETRY_MS],
    [1, 2, 0],
    [2, 1, 0],
    [1, 2, 0],
  ]);
  const retryMax = new Flusher({ intervalMs: 100, maxIntervalMs: 200 });
  const waits: number[] = [];
  for (let k = 0; k < 8; k++) {
    retryMax.adapt(1); // stretched (or, after a halving: that halving did not fit)
    let n = 0;
    while (retryMax.stretch > 1) {
      retryMax.adapt(0.1);
      n++;
    }
    waits.push(n);
  }
  t.same(
    waits.map((n) => (n * STRETCH_CHECK_MS) / 1000),
    [2, 30, 60, 120, 240, 480, 480, 480],
    `the wait doubles up to ${STRETCH_RETRY_MAX_MS / 1000} s (s before each halving)`,
  );
  t.same(run(4), { writes: 20, bytes: 200 }, 'back to one write per client per round');
});

t.test('a slot of caught-up viewers shares one pull: each gets the same bytes, one write each', async (t) => {
  const live = new LiveStream({ softLimitNs: Infinity, hardLimitNs: Infinity, idleTimeoutMs: Infinity });
  live.setHeader(vp8OnlyHeader());
  let i = 0;
  const push = (n: number): void => {
    for (const end = i + n; i < end; i++) {
      const data = new Uint8Array(500).fill(i & 0xff);
      live.pushFrame({ track: 1, timestamp: i * 40e6, keyframe: i % 25 === 0, data, duration: 40e6 });
    }
  };
  push(10);
  const f = new Flusher({ intervalMs: 20, slices: 1 });
  const socks = Array.from({ length: 8 }, () => {
    const sock = new FakeSocket();
    f.attach(new StreamClient(sock as unknown as Socket, live.subscribe(), 'm', { onClientClosed: () => {} }), 'H');
    return sock;
  });
  f.drainJoins();
  const bursts = socks.map((s) => s.writes.length);
  for (let round = 0; round < 3; round++) {
    push(round === 1 ? 20 : 3); // round 1 crosses a keyframe: a new Cluster (a Cluster start per viewer)
    const before = f.share.shared;
    f.tick();
    t.equal(f.share.shared - before, socks.length - 1, `round ${round}: one pull, shared by the 7 others`);
  }
  const bytes = socks.map((s) =>
    Buffer.concat(s.writes.slice(bursts[0]).map((w) => (typeof w === 'string' ? Buffer.from(w) : w))).toString('hex'),
  );
  t.ok(bytes[0].length > 0);
  t.same(new Set(bytes).size, 1, 'every viewer got the same bytes after its burst');
  t.same(
    socks.map((s) => s.writes.length - bursts[0]),
    socks.map(() => socks[0].writes.length - bursts[0]),
    'the same writes each',
  );
});
