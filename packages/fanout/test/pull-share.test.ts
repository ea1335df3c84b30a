// PullShare: subscribers at the same place share one pull's result. Pinned here: a shared pull gives
// exactly what the subscriber's own pull would have (bytes, state, lag, counters), over the fuzz cases
// (mutated inputs, header changes, slow and fast subscribers, pushes between pulls); caught-up
// subscribers do share (the same part objects); a changed history, the end, or another place is
// computed again.

import t from 'tap';
import type { Frame } from '@mkvserve/ebml';
import { LiveStream, PullShare } from '../src/index.js';
import type { Subscriber } from '../src/index.js';
import { makeFeed, makeHeader } from '../testlib/helpers.js';
import { nextCase, rng } from '../testlib/fuzz.js';

const BUDGET_MS = Number(process.env.MKVSERVE_FUZZ_MS ?? 4000);
const SEED = Number(process.env.MKVSERVE_FUZZ_SEED ?? 20261202);

function bytesOf(parts: readonly Uint8Array[], from: number): string {
  return Buffer.concat(parts.slice(from)).toString('hex');
}

/** What must be the same after a shared pull and an own pull. */
function stateOf(s: Subscriber): string {
  return JSON.stringify([s.state, s.dropReason, s.finishReason, s.bytesSent, s.skips, s.withheld, s.lagNs, s.lagBytes]);
}

t.test(`a shared pull is the subscriber's own pull: fuzz seed ${SEED}, ${BUDGET_MS} ms`, (t) => {
  const r = rng(SEED);
  const start = Date.now();
  let cases = 0;
  let pulls = 0;
  let sharedTotal = 0;
  const failures: string[] = [];
  while (Date.now() - start < BUDGET_MS && failures.length < 3) {
    const fc = nextCase(r, cases++, SEED);
    let now = 0;
    const stream = new LiveStream({ clock: () => now, ...fc.options });
    const share = new PullShare();
    // Every plan gets three subscribers pulled with the share, each with a twin pulled on its own
    // right after it (same moment, same history).
    type Pair = { a: Subscriber; b: Subscriber; pullBytes: number | undefined; every: number; done: boolean };
    const pairs: (Pair & { at: number })[] = [];
    const pending = fc.plans.flatMap((p) => [p, p, p]);
    let headerSeen = false;
    const check = (p: Pair, where: string): void => {
      if (p.done) return;
      const outA: Uint8Array[] = [new Uint8Array(1)];
      const outB: Uint8Array[] = [];
      const na = p.a.pullInto(outA, p.pullBytes, share);
      const nb = p.b.pullInto(outB, p.pullBytes);
      pulls++;
      if (na !== nb || bytesOf(outA, 1) !== bytesOf(outB, 0) || stateOf(p.a) !== stateOf(p.b)) {
        failures.push(
          `${fc.label} ${where}: shared ${na} ${stateOf(p.a)} vs own ${nb} ${stateOf(p.b)}` +
            (bytesOf(outA, 1) !== bytesOf(outB, 0) ? ' (bytes differ)' : ''),
        );
        p.done = true;
      }
      if (na < 0) p.done = true;
    };
    fc.events.forEach((e, i) => {
      now += 10;
      if (headerSeen) {
        for (let k = pending.length - 1; k >= 0; k--) {
          const plan = pending[k];
          if (plan.at > i) continue;
          pending.splice(k, 1);
          const o = {
            ...(plan.join !== undefined ? { join: plan.join } : {}),
            ...(plan.rebase !== undefined ? { rebase: plan.rebase } : {}),
          };
          pairs.push({
            a: stream.subscribe(o),
            b: stream.subscribe(o),
            pullBytes: plan.pullBytes,
            every: plan.every ?? 1,
            done: false,
            at: i,
          });
        }
      }
      // Some pull before the event, the others after it: a share recorded before must not be reused.
      const early = pairs.filter(() => r() < 0.3);
      for (const p of early) if (i % p.every === 0) check(p, `before event ${i}`);
      try {
        if ('header' in e) {
          stream.setHeader(e.header);
          headerSeen = true;
        } else if (headerSeen) stream.pushFrame(e.frame);
      } catch {
        // (the fuzz test covers what throws)
      }
      for (const p of pairs) if (!early.includes(p) && i % p.every === 0) check(p, `after event ${i}`);
    });
    if (headerSeen) stream.end();
    for (let round = 0; round < 10_000 && pairs.some((p) => !p.done); round++) {
      for (const p of pairs) check(p, `after the end (${round})`);
    }
    sharedTotal += share.shared;
  }
  t.same(failures, [], 'every shared pull equals the own pull of its twin');
  t.comment(`${cases} inputs, ${pulls} pulls compared, ${sharedTotal} answered from the share`);
  t.ok(cases >= 10, 'enough inputs tried');
  t.ok(sharedTotal > pulls / 10, 'many pulls were shared');
  t.end();
});

const NO_LIMITS = { softLimitNs: Infinity, hardLimitNs: Infinity, idleTimeoutMs: Infinity } as const;

function live(): { stream: LiveStream; feed: Frame[] } {
  const stream = new LiveStream({ clock: () => 0, ...NO_LIMITS });
  stream.setHeader(makeHeader());
  return { stream, feed: makeFeed({ durationMs: 3000, gop: 10 }) };
}

t.test('caught-up subscribers share one pull: the same parts, the same effect', (t) => {
  const { stream, feed } = live();
  const subs = [stream.subscribe(), stream.subscribe(), stream.subscribe()];
  const share = new PullShare();
  let k = 0;
  for (; k < 40; k++) stream.pushFrame(feed[k]);
  // First pulls: the init part and the origin are per subscriber (computed, nothing recorded).
  for (const s of subs) s.pullInto([], undefined, share);
  t.equal(share.shared, 0, 'first pulls are computed');
  for (; k < 60; k++) stream.pushFrame(feed[k]);
  const outs = subs.map(() => [] as Uint8Array[]);
  const n = subs.map((s, i) => s.pullInto(outs[i], undefined, share));
  t.equal(share.shared, 2, 'the second and third were answered from the first');
  t.ok(n[0] > 0);
  t.same(n, [n[0], n[0], n[0]], 'same bytes');
  t.ok(
    outs[1].every((p, i) => p === outs[0][i]) && outs[2].every((p, i) => p === outs[0][i]),
    'the very same part objects',
  );
  t.same(
    subs.map((s) => [s.bytesSent, s.lagNs, s.lagBytes]),
    subs.map(() => [subs[0].bytesSent, 0, 0]),
    'all caught up, the same bytes counted',
  );
  // Nothing new: an empty pull is shared too.
  t.same(
    subs.map((s) => s.pullInto([], undefined, share)),
    [0, 0, 0],
  );
  t.end();
});

t.test('a batch is one moment: only the computed pull reads the clock; the shared ones count as pulled then', (t) => {
  let now = 0;
  let reads = 0;
  const clock = (): number => {
    reads++;
    return now;
  };
  const stream = new LiveStream({ clock, ...NO_LIMITS, idleTimeoutMs: 1000 });
  stream.setHeader(makeHeader());
  const feed = makeFeed({ durationMs: 3000, gop: 10 });
  const subs = [stream.subscribe(), stream.subscribe(), stream.subscribe()];
  const share = new PullShare();
  let k = 0;
  for (; k < 40; k++) stream.pushFrame(feed[k]);
  for (const s of subs) s.pullInto([], undefined, share);
  for (; k < 60; k++) stream.pushFrame(feed[k]);
  share.reset();
  now = 5000;
  const before = reads;
  for (const s of subs) s.pullInto([], undefined, share);
  t.equal(share.shared, 2, 'two answered from the first');
  t.equal(reads - before, 1, 'one clock read for the three pulls');
  // All three pulled at 5000: none is idle 1000 ms later, all are just after.
  t.same(stream.checkSubscribers(6000).dropped, [], 'not idle at the timeout');
  t.same(
    stream.checkSubscribers(6001).dropped.map((s) => subs.indexOf(s)),
    [0, 1, 2],
    'idle past it: the shared pulls counted at the batch time',
  );
  t.end();
});

t.test('a share is not used across a change of the history, another place, or the end', (t) => {
  const { stream, feed } = live();
  const a = stream.subscribe();
  const b = stream.subscribe();
  const c = stream.subscribe();
  const share = new PullShare();
  let k = 0;
  for (; k < 40; k++) stream.pushFrame(feed[k]);
  for (const s of [a, b, c]) s.pullInto([], undefined, share);
  for (; k < 50; k++) stream.pushFrame(feed[k]);
  const outA: Uint8Array[] = [];
  a.pullInto(outA, undefined, share);
  stream.pushFrame(feed[k++]);
  const outB: Uint8Array[] = [];
  const before = share.shared;
  b.pullInto(outB, undefined, share);
  t.equal(share.shared, before, 'a frame pushed in between: computed again');
  t.ok(Buffer.concat(outB).length > Buffer.concat(outA).length, 'and it includes the new frame');
  // c is one pull behind b's start: another place.
  for (; k < 55; k++) stream.pushFrame(feed[k]);
  b.pullInto([], undefined, share);
  const shared = share.shared;
  c.pullInto([], undefined, share);
  t.equal(share.shared, shared, 'a subscriber at another place pulls on its own');
  // The end: a caught-up subscriber's next pull ends it, even right after a shared record.
  a.pullInto([], undefined, share);
  b.pullInto([], undefined, share);
  stream.end();
  t.equal(b.pullInto([], undefined, share), -1, 'after end(): finished, not an old empty result');
  t.equal(b.state, 'finished');
  t.end();
});

t.test('subscribers with an onReadable callback pull on their own', (t) => {
  const { stream, feed } = live();
  const a = stream.subscribe();
  const b = stream.subscribe();
  a.onReadable = () => {};
  b.onReadable = () => {};
  const share = new PullShare();
  for (let k = 0; k < 40; k++) stream.pushFrame(feed[k]);
  a.pullInto([], undefined, share);
  b.pullInto([], undefined, share);
  for (let k = 40; k < 60; k++) stream.pushFrame(feed[k]);
  a.pullInto([], undefined, share);
  b.pullInto([], undefined, share);
  t.equal(share.shared + share.computed, 0, 'the share was not used (parking is per subscriber)');
  t.end();
});

t.test('a share is per stream: another stream at the same position pulls on its own', (t) => {
  // Two streams with the same timing and sizes (same versions, offsets, timestamps), other bytes.
  const streams = [1, 2].map((fill) => {
    const stream = new LiveStream({ clock: () => 0, ...NO_LIMITS });
    stream.setHeader(makeHeader());
    return {
      stream,
      feed: makeFeed({ durationMs: 2000, gop: 10 }).map((f) => ({ ...f, data: f.data.map(() => fill) })),
    };
  });
  const subs = streams.map(({ stream }) => stream.subscribe());
  const share = new PullShare();
  for (let k = 0; k < 40; k++) for (const { stream, feed } of streams) stream.pushFrame(feed[k]);
  for (const s of subs) s.pullInto([], undefined, share);
  for (let k = 40; k < 60; k++) for (const { stream, feed } of streams) stream.pushFrame(feed[k]);
  const outs = subs.map((s) => {
    const out: Uint8Array[] = [];
    s.pullInto(out, undefined, share);
    return Buffer.concat(out);
  });
  t.equal(share.shared, 0, 'not shared across streams');
  t.equal(outs[0].length, outs[1].length, 'same sizes');
  t.not(outs[0].toString('hex'), outs[1].toString('hex'), "each got its own stream's bytes");
  t.end();
});
