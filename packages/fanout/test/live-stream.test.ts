// LiveStream on synthetic feeds: clustering at keyframes, int16 splits, audio-only clusters, late
// joiners (init + burst, rebased timestamps), shared block bytes, slow-client policy, bounded history,
// end of input, header changes. Output bytes are checked with an independent EBML walker.

import t from 'tap';
import type { Frame } from '@mkvserve/ebml';
import type { Subscriber } from '../src/index.js';
import { LiveStream } from '../src/index.js';
import { concat, drain, makeFeed, makeHeader, walk } from '../testlib/helpers.js';
import type { WalkedSegment } from '../testlib/helpers.js';

/** Limits off: for tests that push a whole feed before pulling (faster than real time). */
const NO_LIMITS = { softLimitNs: Infinity, hardLimitNs: Infinity, idleTimeoutMs: Infinity } as const;

function clock(start = 0) {
  const c = { ms: start, now: () => c.ms };
  return c;
}

function allBlocks(seg: WalkedSegment) {
  return seg.clusters.flatMap((c) => c.blocks);
}

t.test('clusters start at video keyframes; each keyframe is a join point', async (t) => {
  const s = new LiveStream({ clock: () => 0, ...NO_LIMITS });
  s.setHeader(makeHeader());
  const sub = s.subscribe({ join: 'next-keyframe' });
  const feed = makeFeed({ durationMs: 10_000, gop: 25, audioLagMs: 30 });
  for (const f of feed) s.pushFrame(f);
  s.end();
  const out = concat(drain(sub));
  t.equal(sub.pull(), null, 'finished');
  t.equal(sub.state, 'finished');
  const segs = walk(out);
  t.equal(segs.length, 1);
  const seg = segs[0];
  t.equal(seg.tracks, 2);
  t.notOk(seg.hasDuration, 'no Duration in a live Info');
  t.notOk(seg.hasSeekHead);
  t.notOk(seg.hasCues);
  t.equal(seg.clusters.length, 10, 'one cluster per 1 s GOP');
  for (const c of seg.clusters) {
    const first = c.blocks[0];
    t.equal(first.track, 1);
    t.ok(first.keyframe, `cluster at ${c.timestamp} starts with a keyframe`);
    t.equal(c.blocks.filter((b) => b.track === 1 && b.keyframe).length, 1);
  }
  t.equal(allBlocks(seg).length, feed.length, 'every frame delivered');
  t.equal(s.stats.frames, feed.length);
  t.ok(
    allBlocks(seg).some((b) => b.rel < 0),
    'audio muxed late lands before its cluster timestamp (negative relative)',
  );
});

t.test('source timestamps pass through exactly with rebase: false', async (t) => {
  const s = new LiveStream({ rebase: false, ...NO_LIMITS });
  s.setHeader(makeHeader());
  const feed = makeFeed({ durationMs: 3000, startMs: 5000, bframes: true });
  const sub = s.subscribe();
  for (const f of feed) s.pushFrame(f);
  s.end();
  const seg = walk(concat(drain(sub)))[0];
  const got = allBlocks(seg).map((b) => b.ticks);
  t.same(
    got,
    feed.map((f) => f.timestamp / 1e6),
  );
  // payloads identical, in order
  const blocks = allBlocks(seg);
  t.ok(
    feed.every(
      (f, i) =>
        blocks[i].data.length === f.data.length && blocks[i].data[0] === f.data[0] && blocks[i].data[1] === f.data[1],
    ),
  );
});

t.test('a GOP longer than int16 ticks is split into more clusters; only the first is a join point', async (t) => {
  const s = new LiveStream({ rebase: false });
  s.setHeader(makeHeader({ audio: false }));
  const feed = makeFeed({ durationMs: 100_000, gop: 100_000, audioMs: 0, videoBytes: 10 });
  const sub = s.subscribe({ join: 'next-keyframe' });
  for (const f of feed) {
    s.pushFrame(f);
    drain(sub);
  }
  t.equal(s.stats.clusters, 4, '100 s at 1 ms ticks: 4 clusters of <= 32.767 s');
  t.equal(s.stats.historyJoinPoints, 1, 'only the keyframe cluster is a join point');

  // Late joiner: the join point is still in history, so it gets all of it.
  const late = s.subscribe();
  s.end();
  const seg = walk(concat(drain(late)))[0];
  t.equal(seg.clusters.length, 4);
  for (const c of seg.clusters) {
    for (const b of c.blocks) t.ok(b.rel >= -32768 && b.rel <= 32767);
  }
  t.ok(seg.clusters[0].blocks[0].keyframe);
  t.notOk(seg.clusters[1].blocks[0].keyframe);
  t.same(
    allBlocks(seg).map((b) => b.ticks),
    feed.map((f) => f.timestamp / 1e6),
    'timestamps survive the split',
  );
});

t.test('B-frames reaching below a split cluster stay in int16 or force a split', async (t) => {
  const s = new LiveStream({ rebase: false, ...NO_LIMITS });
  s.setHeader(makeHeader({ audio: false }));
  const feed = makeFeed({ durationMs: 70_000, gop: 10_000, audioMs: 0, videoBytes: 10, bframes: true });
  const sub = s.subscribe({ join: 'next-keyframe' });
  for (const f of feed) s.pushFrame(f);
  s.end();
  const seg = walk(concat(drain(sub)))[0];
  t.same(
    allBlocks(seg).map((b) => b.ticks),
    feed.map((f) => f.timestamp / 1e6),
  );
  t.ok(seg.clusters.length >= 3);
});

t.test('audio-only input is clustered about every second; every cluster is a join point', async (t) => {
  const s = new LiveStream(NO_LIMITS);
  s.setHeader(makeHeader({ video: false }));
  const feed = makeFeed({ durationMs: 10_000, videoMs: 0, audioMs: 20 });
  const sub = s.subscribe({ join: 'next-keyframe' });
  for (const f of feed) s.pushFrame(f);
  s.end();
  const seg = walk(concat(drain(sub)))[0];
  t.equal(seg.clusters.length, 10);
  for (const c of seg.clusters) {
    const dur = c.blocks[c.blocks.length - 1].ticks - c.blocks[0].ticks;
    t.ok(dur >= 900 && dur <= 1000, `cluster spans ~1 s (${dur} ms)`);
  }
  t.equal(s.stats.historyJoinPoints, 10);
  const late = s.subscribe();
  t.equal(late.state, 'active');
});

t.test(
  'a late subscriber gets init + burst from the newest keyframe, rebased to exactly 0, never negative',
  async (t) => {
    const s = new LiveStream();
    s.setHeader(makeHeader());
    const feed = makeFeed({ durationMs: 20_000, startMs: 3_600_000, gop: 50, bframes: true, audioLagMs: 50 });
    const cut = Math.floor(feed.length * 0.63);
    for (let i = 0; i < cut; i++) s.pushFrame(feed[i]);
    const late = s.subscribe();
    t.equal(late.state, 'active', 'join point available: active at once');
    const first = late.pull()!;
    t.equal(first[0], s.initPart, 'init part first (shared)');
    const rest = [first, drain(late)];
    for (let i = cut; i < feed.length; i++) {
      s.pushFrame(feed[i]);
      if (i % 7 === 0) rest.push(drain(late));
    }
    s.end();
    rest.push(drain(late));
    t.equal(late.pull(), null);
    const segs = walk(concat(rest.flat()));
    t.equal(segs.length, 1);
    const seg = segs[0];
    const c0 = seg.clusters[0];
    t.ok(c0.blocks[0].keyframe && c0.blocks[0].track === 1, 'first block is a video keyframe');
    const firstVideo = allBlocks(seg).find((b) => b.track === 1)!;
    t.ok(firstVideo.keyframe, 'first video frame is a keyframe');
    const ticks = allBlocks(seg).map((b) => b.ticks);
    t.equal(Math.min(...ticks), 0, 'timestamps start at exactly 0');
    t.ok(
      seg.clusters.every((c) => c.timestamp >= 0 && c.blocks.every((b) => b.ticks >= 0)),
      'nothing negative',
    );
    // Every frame from the join point on arrives, shifted by one constant, except audio muxed after the
    // first pull with a timestamp below the origin (smallest frame of the join cluster at that pull).
    const joinIdx = (() => {
      let k = -1;
      for (let i = 0; i < cut; i++) if (feed[i].track === 1 && feed[i].keyframe) k = i;
      return k;
    })();
    const origin = Math.min(...feed.slice(joinIdx, cut).map((f) => f.timestamp));
    const kept = feed.slice(joinIdx).filter((f, k) => joinIdx + k < cut || f.timestamp >= origin);
    const expected = kept.map((f) => (f.timestamp - origin) / 1e6);
    t.same(ticks, expected, 'continuous timeline from the join point, origin = its smallest frame at the first pull');
    t.equal(late.withheld, feed.length - joinIdx - kept.length, 'only the frames below the origin are withheld');
    t.equal(s.stats.withheldFrames, late.withheld);
    t.equal(s.stats.droppedFrames, 0);
    t.ok(late.bytesSent > 0);
  },
);

t.test(
  'audio muxed after the keyframe with an earlier timestamp: withheld only for a subscriber whose origin is after it',
  async (t) => {
    const s = new LiveStream();
    s.setHeader(makeHeader());
    const feed = makeFeed({ durationMs: 6_000, gop: 25, audioLagMs: 60 });
    // One subscriber from the start; three join exactly when a keyframe cluster has just opened (only the
    // keyframe known): their origin is that keyframe, so audio muxed after it with earlier timestamps is
    // withheld from them, and only from them.
    const first = s.subscribe({ join: 'next-keyframe' });
    const firstOut: Uint8Array[] = [...drain(first)];
    const subs: Subscriber[] = [];
    const outs: Uint8Array[][] = [];
    const joinTs: number[] = [];
    let clusters = 0;
    for (const f of feed) {
      s.pushFrame(f);
      if (s.stats.clusters !== clusters) {
        clusters = s.stats.clusters;
        if (clusters >= 2 && subs.length < 3) {
          const sub = s.subscribe();
          subs.push(sub);
          outs.push(sub.pull()!);
          joinTs.push(f.timestamp);
        }
      }
      firstOut.push(...drain(first));
      subs.forEach((sub, i) => outs[i].push(...(sub.pull() ?? [])));
    }
    s.end();
    firstOut.push(...drain(first));
    subs.forEach((sub, i) => outs[i].push(...drain(sub)));
    t.equal(subs.length, 3);
    const firstTicks = allBlocks(walk(concat(firstOut))[0]).map((b) => b.ticks);
    t.same(
      firstTicks,
      feed.map((f) => f.timestamp / 1e6),
      'the subscriber from the start gets every frame (origin 0)',
    );
    t.equal(first.withheld, 0);
    let withheld = 0;
    outs.forEach((o, k) => {
      const seg = walk(concat(o))[0];
      const ticks = allBlocks(seg).map((b) => b.ticks);
      t.equal(Math.min(...ticks), 0, 'starts at exactly 0 (the keyframe)');
      t.ok(seg.clusters[0].blocks[0].keyframe);
      const from = feed.findIndex((f) => f.timestamp === joinTs[k] && f.track === 1);
      const late = feed.slice(from).filter((f) => f.timestamp < joinTs[k]);
      t.ok(late.length > 0 && late.every((f) => f.track === 2), `audio muxed late: ${late.length} frames`);
      t.equal(subs[k].withheld, late.length, 'exactly those are withheld');
      t.same(
        ticks,
        feed
          .slice(from)
          .filter((f) => f.timestamp >= joinTs[k])
          .map((f) => (f.timestamp - joinTs[k]) / 1e6),
        'everything else, one shift',
      );
      withheld += late.length;
    });
    t.equal(s.stats.withheldFrames, withheld);
    t.equal(s.stats.droppedFrames, 0, 'nothing dropped for everyone');
    t.equal(s.stats.frames, feed.length);

    // rebaseLeadNs keeps them, at the cost of a stream starting that much after 0.
    const s2 = new LiveStream({ rebaseLeadNs: 100e6 });
    s2.setHeader(makeHeader());
    let sub: Subscriber | undefined;
    const out: Uint8Array[] = [];
    let from = -1;
    feed.forEach((f, i) => {
      s2.pushFrame(f);
      if (sub === undefined && s2.stats.clusters === 2) {
        sub = s2.subscribe();
        from = i;
      }
      if (sub) out.push(...drain(sub));
    });
    s2.end();
    out.push(...drain(sub!));
    const ticks = allBlocks(walk(concat(out))[0]).map((b) => b.ticks);
    const k0 = feed[from].timestamp / 1e6;
    t.same(
      ticks,
      feed.slice(from).map((f) => f.timestamp / 1e6 - k0 + 100),
      'rebaseLeadNs 100 ms: every frame, keyframe at 100 ms',
    );
    t.equal(sub!.withheld, 0);
  },
);

t.test('two subscribers joining at different times share the same block byte arrays', async (t) => {
  const s = new LiveStream();
  s.setHeader(makeHeader());
  const feed = makeFeed({ durationMs: 8_000, gop: 25 });
  const a = s.subscribe({ join: 'next-keyframe' });
  const aParts: Uint8Array[] = [];
  const bParts: Uint8Array[] = [];
  let b: Subscriber | undefined;
  feed.forEach((f, i) => {
    s.pushFrame(f);
    if (i === Math.floor(feed.length / 2)) b = s.subscribe();
    aParts.push(...(a.pull() ?? []));
    if (b) bParts.push(...(b.pull() ?? []));
  });
  s.end();
  aParts.push(...drain(a));
  bParts.push(...drain(b!));
  // b's parts: init, then per cluster: start + blocks. Blocks must be the very same objects as a's.
  const aSet = new Set(aParts);
  const bBlocks = bParts.filter((p) => p[0] === 0xa3 || p[0] === 0xa0);
  t.ok(bBlocks.length > 100);
  t.ok(
    bBlocks.every((p) => aSet.has(p)),
    'every block b got is === one a got',
  );
  const firstShared = aParts.indexOf(bBlocks[0]);
  const aBlocksFrom = aParts.slice(firstShared).filter((p) => p[0] === 0xa3 || p[0] === 0xa0);
  t.equal(aBlocksFrom.length, bBlocks.length);
  t.ok(
    aBlocksFrom.every((p, i) => p === bBlocks[i]),
    'same order, same objects from the common point on',
  );
  t.equal(bParts[0], aParts[0], 'init part shared too');
  // Cluster starts differ only by timestamp (b is rebased to its join point).
  const segA = walk(concat(aParts))[0];
  const segB = walk(concat(bParts))[0];
  const off = segA.clusters.length - segB.clusters.length;
  const delta = segA.clusters[off].timestamp - segB.clusters[0].timestamp;
  t.ok(delta > 0);
  t.ok(segB.clusters.every((c, i) => segA.clusters[off + i].timestamp - c.timestamp === delta));
});

t.test('slow subscriber: skipped past the soft limit, dropped past the hard limit; others unaffected', async (t) => {
  const c = clock();
  const s = new LiveStream({ clock: c.now, idleTimeoutMs: 60_000 });
  const skipped: Subscriber[] = [];
  const dropped: [Subscriber, string][] = [];
  s.onSkip = (sub) => skipped.push(sub);
  s.onDrop = (sub, why) => dropped.push([sub, why]);
  s.setHeader(makeHeader());
  const feed = makeFeed({ durationMs: 20_000, gop: 25 }); // 1 s GOPs
  const good = s.subscribe({ join: 'next-keyframe' });
  const slow = s.subscribe({ join: 'next-keyframe' });
  let slowReadable = 0;
  slow.onReadable = () => slowReadable++;
  slow.pull(); // parks: only the init part, waiting for a keyframe
  const goodParts: Uint8Array[] = [];
  let skipAtNs = -1;
  let dropAtNs = -1;
  for (const f of feed) {
    c.ms = f.timestamp / 1e6;
    s.pushFrame(f);
    goodParts.push(...(good.pull() ?? []));
    if (skipAtNs < 0 && slow.skips > 0) skipAtNs = f.timestamp;
    if (dropAtNs < 0 && slow.state === 'dropped') dropAtNs = f.timestamp;
  }
  s.end();
  goodParts.push(...drain(good));
  t.ok(skipAtNs >= 3e9 && skipAtNs <= 4.1e9, `first skip just past 3 s (${skipAtNs / 1e9} s)`);
  t.ok(dropAtNs >= 7e9 && dropAtNs <= 8.1e9, `dropped just past 7 s (${dropAtNs / 1e9} s)`);
  t.equal(slow.dropReason, 'lag');
  t.equal(slow.pull(), null);
  t.ok(slowReadable >= 1, 'onReadable fired (join / drop)');
  t.ok(skipped.includes(slow));
  t.same(
    dropped.map(([, w]) => w),
    ['lag'],
  );
  t.equal(dropped[0][0], slow);
  t.equal(good.skips, 0);
  t.equal(good.state, 'finished');
  t.equal(allBlocks(walk(concat(goodParts))[0]).length, feed.length, 'the good subscriber got every frame');
  t.equal(s.stats.drops, 1);
  t.equal(s.stats.skips, slow.skips);
  t.equal(s.stats.subscribers, 0);
});

t.test('a subscriber that reads slowly is moved forward but stays decodable', async (t) => {
  const c = clock();
  const s = new LiveStream({ clock: c.now });
  s.setHeader(makeHeader());
  const feed = makeFeed({ durationMs: 30_000, gop: 25, videoBytes: 2000 });
  const sub = s.subscribe({ join: 'next-keyframe' });
  const parts: Uint8Array[] = [];
  let n = 0;
  for (const f of feed) {
    c.ms = f.timestamp / 1e6;
    s.pushFrame(f);
    if (n++ % 4 !== 0) continue;
    const p = sub.pull(1500); // about 2/3 of the stream's rate
    if (p) parts.push(...p);
  }
  t.ok(sub.skips >= 2, `skipped ${sub.skips} times`);
  t.equal(sub.state, 'active');
  t.ok(sub.lagNs <= 3.1e9);
  const seg = walk(concat(parts))[0];
  for (const cl of seg.clusters)
    t.ok(cl.blocks.length === 0 || cl.blocks[0].keyframe, 'every cluster starts with a keyframe');
  const ticks = allBlocks(seg).map((b) => b.ticks);
  t.ok(
    ticks.every((x, i) => i === 0 || x >= ticks[i - 1] - 100),
    'timestamps stay continuous in media time after skips (no reset)',
  );
  t.ok(ticks[ticks.length - 1] > 20_000, 'timeline keeps the gaps');
});

t.test('idle subscriber (never pulls) is dropped after the idle timeout', async (t) => {
  const c = clock();
  const s = new LiveStream({ clock: c.now, idleTimeoutMs: 10_000, hardLimitNs: 1e12, softLimitNs: 1e12 });
  s.setHeader(makeHeader());
  const idle = s.subscribe();
  const live = s.subscribe();
  c.ms = 5_000;
  t.same(s.checkSubscribers(), { skipped: [], dropped: [] });
  live.pull();
  c.ms = 10_001;
  const r = s.checkSubscribers();
  t.same(r.dropped, [idle]);
  t.equal(idle.dropReason, 'idle');
  t.equal(live.state, 'waiting');
  t.equal(s.stats.subscribers, 1);
});

t.test('history stays within its byte and cluster bounds under a long feed; cursors never dangle', async (t) => {
  const c = clock();
  const maxBytes = 256 * 1024;
  const s = new LiveStream({
    clock: c.now,
    historyMaxBytes: maxBytes,
    historyMaxClusters: 8,
    softLimitNs: 1e12,
    hardLimitNs: 1e12,
    idleTimeoutMs: 1e12,
  });
  s.setHeader(makeHeader());
  const feed = makeFeed({ durationMs: 600_000, gop: 50, videoBytes: 1500 }); // ~600 s at ~0.4 Mbit/s
  const stuck = s.subscribe({ join: 'next-keyframe' });
  const live = s.subscribe({ join: 'next-keyframe' });
  const first: Uint8Array[] = [];
  let maxSeen = 0;
  let maxClusters = 0;
  let n = 0;
  for (const f of feed) {
    c.ms = f.timestamp / 1e6;
    s.pushFrame(f);
    if (n++ % 3 === 0) drain(live);
    const st = s.stats;
    if (st.historyBytes > maxSeen) maxSeen = st.historyBytes;
    if (st.historyClusters > maxClusters) maxClusters = st.historyClusters;
    if (n === 100) first.push(...stuck.pull()!); // attach, then never again
  }
  t.ok(maxSeen <= maxBytes, `history bytes peak ${maxSeen} <= ${maxBytes}`);
  t.ok(maxClusters <= 8);
  t.ok(s.stats.historyBytes > 0);
  // The stuck cursor points far behind the (evicted) history: the next pull moves it to a join point.
  const parts = [...first, ...drain(stuck)];
  t.ok(stuck.skips >= 1, 'evicted cursor moved forward');
  const seg = walk(concat(parts))[0];
  t.ok(seg.clusters.length >= 1);
  t.ok(seg.clusters[seg.clusters.length - 1].blocks[0].keyframe);
  // ... after the skip it resumes at a join point
  t.ok(seg.clusters.slice(1).every((cl) => cl.blocks[0].keyframe));
});

t.test('a single cluster larger than the history cap is cut so eviction can keep the bound', async (t) => {
  const s = new LiveStream({ historyMaxBytes: 64 * 1024 });
  s.setHeader(makeHeader({ audio: false }));
  const feed = makeFeed({ durationMs: 20_000, gop: 100_000, audioMs: 0, videoBytes: 1000 });
  let peak = 0;
  for (const f of feed) {
    s.pushFrame(f);
    peak = Math.max(peak, s.stats.historyBytes);
  }
  t.ok(peak <= 64 * 1024, `peak ${peak}`);
  t.equal(s.stats.historyJoinPoints, 0, 'the keyframe cluster was evicted');
  const sub = s.subscribe();
  t.equal(sub.state, 'waiting', 'no join point: waits for the next keyframe');
});

t.test('next-keyframe join waits (init part at once) and onReadable fires at the keyframe', async (t) => {
  const s = new LiveStream();
  s.setHeader(makeHeader());
  const feed = makeFeed({ durationMs: 3_000, gop: 25 });
  for (const f of feed.slice(0, 10)) s.pushFrame(f);
  const sub = s.subscribe({ join: 'next-keyframe' });
  let woke = 0;
  sub.onReadable = () => woke++;
  const p0 = sub.pull()!;
  t.same(p0, [s.initPart!], 'init part at once');
  t.same(sub.pull(), [], 'nothing until the next keyframe');
  t.equal(sub.state, 'waiting');
  let i = 10;
  while (s.stats.historyJoinPoints < 2) s.pushFrame(feed[i++]);
  t.equal(woke, 1, 'woken once when the keyframe cluster opened');
  const p1 = sub.pull()!;
  t.equal(sub.state, 'active');
  const seg = walk(concat([...p0, ...p1]))[0];
  t.equal(seg.clusters.length, 1);
  t.ok(seg.clusters[0].blocks[0].keyframe);
  t.equal(seg.clusters[0].blocks[0].ticks, 0, 'rebased to 0');
  // caught up: parked; the next frame wakes it once
  woke = 0;
  s.pushFrame(feed[i++]);
  s.pushFrame(feed[i]);
  t.equal(woke, 1);
  const two = sub.pull()!;
  t.equal(two.length, 1, 'two new blocks come as one view of the shared run');
  t.equal(walk(concat([...p0, ...p1, ...two]))[0].clusters[0].blocks.length, seg.clusters[0].blocks.length + 2);
  s.end();
  t.equal(woke, 2, 'end wakes parked subscribers');
  t.equal(sub.pull(), null);
});

t.test('pull(maxBytes) splits at part boundaries and loses nothing', async (t) => {
  const s = new LiveStream();
  s.setHeader(makeHeader());
  const feed = makeFeed({ durationMs: 5_000, gop: 25 });
  for (const f of feed) s.pushFrame(f);
  s.end();
  const a = s.subscribe();
  const b = s.subscribe();
  const whole = concat(drain(a));
  const pieces: Uint8Array[] = [];
  let calls = 0;
  for (;;) {
    const p = b.pull(1000);
    if (p === null) break;
    calls++;
    let n = 0;
    for (const x of p) n += x.length;
    t.ok(p.length >= 1);
    if (p.length > 1) t.ok(n - p[p.length - 1].length < 1000, 'stops once maxBytes is reached');
    pieces.push(...p);
  }
  t.ok(calls > 5);
  t.same(concat(pieces), whole);
  t.equal(b.bytesSent, whole.length);
});

t.test('end(): everything is delivered, then null; subscribers after end finish too', async (t) => {
  const s = new LiveStream();
  s.setHeader(makeHeader());
  const feed = makeFeed({ durationMs: 2_500, gop: 25 });
  const a = s.subscribe({ join: 'next-keyframe' });
  for (const f of feed) s.pushFrame(f);
  s.end();
  const seg = walk(concat(drain(a)))[0];
  t.equal(allBlocks(seg).length, feed.length);
  t.equal(a.pull(), null);
  t.equal(a.state, 'finished');
  const late = s.subscribe();
  const lateSeg = walk(concat(drain(late)))[0];
  t.equal(lateSeg.clusters.length, 1, 'burst of the last GOP');
  t.equal(late.pull(), null);
  const waiting = s.subscribe({ join: 'next-keyframe' });
  t.same(waiting.pull(), [s.initPart!]);
  t.equal(waiting.pull(), null);
  t.throws(() => s.pushFrame(feed[0]));
});

t.test('setHeader: same tracks continue the Segment; new tracks end the old subscribers cleanly', async (t) => {
  const s = new LiveStream();
  s.setHeader(makeHeader());
  const sub = s.subscribe({ join: 'next-keyframe' });
  const parts: Uint8Array[] = [];
  for (const f of makeFeed({ durationMs: 2_000 })) s.pushFrame(f);
  parts.push(...drain(sub));
  // Source reconnects with the same layout; its clock restarts at 0.
  s.setHeader(makeHeader());
  for (const f of makeFeed({ durationMs: 2_000 })) s.pushFrame(f);
  parts.push(...drain(sub));
  let segs = walk(concat(parts));
  t.equal(segs.length, 1, 'same Segment');
  const ticks = allBlocks(segs[0])
    .filter((b) => b.track === 1)
    .map((b) => b.ticks);
  t.ok(
    ticks.every((x, i) => i === 0 || x > ticks[i - 1]),
    'video timestamps stay increasing across the reconnect',
  );
  t.equal(s.stats.epochs, 1);
  // A subscriber that was sent nothing yet goes to the new layout; one that was sent the old init
  // part finishes after the old layout's data.
  const fresh = s.subscribe();
  let woke = 0;
  sub.onReadable = () => woke++;
  t.same(sub.pull(), [], 'caught up, parked');
  // New layout (different codec private): new init part.
  s.setHeader(makeHeader({ codecPrivate: new Uint8Array([1, 2, 3]) }));
  t.equal(woke, 1, 'the parked subscriber is woken to find out');
  t.equal(sub.pull(), null, 'the old subscriber finishes');
  t.equal(sub.state, 'finished');
  t.equal(sub.finishReason, 'layout');
  const late = s.subscribe();
  t.equal(late.state, 'waiting', "joiners wait for the new layout's first keyframe");
  t.equal(fresh.state, 'waiting', 'so does a subscriber that was sent nothing yet');
  for (const f of makeFeed({ durationMs: 2_000 })) s.pushFrame(f);
  s.end();
  segs = walk(concat(parts));
  t.equal(segs.length, 1, 'the old subscriber never got a second EBML header');
  t.equal(s.stats.epochs, 2);
  const lateSegs = walk(concat(drain(late)));
  t.equal(lateSegs.length, 1, 'a new joiner sees only the new layout');
  t.equal(lateSegs[0].clusters[0].blocks[0].ticks, 0, 'rebased to 0 (pulled after end(): exact origin)');
  t.equal(late.finishReason, 'end');
  const freshSegs = walk(concat(drain(fresh)));
  t.equal(freshSegs.length, 1);
  t.same(freshSegs[0].clusters.length, lateSegs[0].clusters.length, 'the fresh one got the new layout whole');
});

t.test('a layout change: old subscribers get the old layout to its end, then finish', async (t) => {
  const s = new LiveStream(NO_LIMITS);
  s.setHeader(makeHeader());
  const behind = s.subscribe({ join: 'next-keyframe' });
  t.same(behind.pull(), [s.initPart], 'waiting: only the init part so far');
  const feed = makeFeed({ durationMs: 3_000 });
  for (const f of feed) s.pushFrame(f);
  const waiting = s.subscribe({ join: 'next-keyframe' });
  t.same(waiting.pull(), [s.initPart], 'another one waits for the next keyframe');
  const oldInit = s.initPart!;
  s.setHeader(makeHeader({ audio: false }));
  for (const f of makeFeed({ durationMs: 1_000, audioMs: 0 })) s.pushFrame(f);
  // `behind` has not pulled since the change: it still gets the whole old layout, then nothing more.
  const parts = [oldInit, ...drain(behind, 3000)];
  t.equal(behind.state, 'finished');
  t.equal(behind.finishReason, 'layout');
  const segs = walk(concat(parts));
  t.equal(segs.length, 1);
  t.equal(segs[0].tracks, 2, 'the old layout (2 tracks)');
  t.equal(allBlocks(segs[0]).length, feed.length, 'every frame of the old layout');
  t.equal(waiting.pull(), null, 'the waiting one (sent the old init part) finishes at once');
  t.equal(waiting.finishReason, 'layout');
  t.equal(s.subscribers.size, 0);
});

t.test('a restarted source with the same layout is spliced from its first keyframe', async (t) => {
  const s = new LiveStream({ clock: () => 0 });
  s.setHeader(makeHeader());
  const sub = s.subscribe({ join: 'next-keyframe' });
  const parts = feedPulling(s, sub, [vf(0, true), af(0), vf(40, false), af(20), af(40), vf(80, false)]);
  // The source restarts mid-GOP (an edge reconnecting to an origin): its clock is elsewhere, and it
  // starts with audio and a P-frame that cannot be decoded without what came before.
  s.setHeader(makeHeader());
  parts.push(...feedPulling(s, sub, [af(5000), vf(5010, false), af(5020), af(5040)]));
  const before = walk(concat(parts))[0];
  t.equal(before.clusters.length, 1, 'nothing of the new source before its keyframe');
  t.equal(s.stats.heldFrames, 3, 'its audio is held');
  t.equal(s.stats.droppedFrames, 1, 'its P-frame before the keyframe is dropped');
  parts.push(...feedPulling(s, sub, [vf(5050, true), af(5060), vf(5090, false)]));
  s.end();
  parts.push(...drain(sub));
  const segs = walk(concat(parts));
  t.equal(segs.length, 1, 'one Segment: no second EBML header');
  const seg = segs[0];
  t.equal(seg.clusters.length, 2);
  const second = seg.clusters[1];
  t.ok(second.blocks[0].keyframe && second.blocks[0].track === 1, 'the spliced part starts with a keyframe');
  t.same(
    second.blocks.map((b) => b.track),
    [1, 2, 2, 2, 2, 1],
    'keyframe, the held audio right after it, then the rest',
  );
  const firstEnd = Math.max(...seg.clusters[0].blocks.map((b) => b.ticks));
  t.ok(
    second.blocks.every((b) => b.ticks > firstEnd),
    'timestamps keep increasing across the splice',
  );
  t.equal(sub.finishReason, 'end');
});

t.test('a splice leaves at least one frame step after the last video frame, durations or not', async (t) => {
  // As from a WebM: SimpleBlocks without durations. The last audio frame ends 25 ms after the last
  // video frame; the restarted source starts with a keyframe at 0. Placed at the audio's end, the
  // keyframe came 25 ms after a frame of a 40 ms step, and ffmpeg put both in one frame slot.
  const noDur = (f: Frame): Frame => ({ ...f, duration: undefined });
  const s = new LiveStream({ clock: () => 0 });
  s.setHeader(makeHeader());
  const sub = s.subscribe({ join: 'next-keyframe' });
  const first = [
    vf(0, true),
    af(0),
    vf(40, false),
    af(20),
    af(40),
    af(60),
    vf(80, false),
    { ...af(85), duration: ms(20) },
  ];
  const parts = feedPulling(
    s,
    sub,
    first.map((f) => (f.track === 1 ? noDur(f) : f)),
  );
  s.setHeader(makeHeader());
  parts.push(...feedPulling(s, sub, [vf(0, true), af(0), vf(40, false)].map(noDur)));
  s.end();
  parts.push(...drain(sub));
  const video = allBlocks(walk(concat(parts))[0])
    .filter((b) => b.track === 1)
    .map((b) => b.ticks);
  t.same(video.slice(0, 3), [0, 40, 80]);
  t.ok(video[3] - video[2] >= 40, `the spliced keyframe is ${video[3] - video[2]} ms after the last frame (>= 40)`);
  t.equal(video[4] - video[3], 40, 'and the new source keeps its own steps');

  // 30 fps in whole ms: steps of 33 and 34. A gap of 33 ms is less than a frame period (33.3 ms): the
  // larger of the last two steps is used.
  const s2 = new LiveStream({ clock: () => 0 });
  s2.setHeader(makeHeader());
  const sub2 = s2.subscribe({ join: 'next-keyframe' });
  const parts2 = feedPulling(s2, sub2, [vf(0, true), vf(33, false), vf(67, false), vf(100, false)].map(noDur));
  s2.setHeader(makeHeader());
  parts2.push(...feedPulling(s2, sub2, [vf(0, true)].map(noDur)));
  s2.end();
  parts2.push(...drain(sub2));
  const v2 = allBlocks(walk(concat(parts2))[0]).map((b) => b.ticks);
  t.same(v2, [0, 33, 67, 100, 134], 'spliced 34 ms after the last frame');
});

t.test('a spliced keyframe keeps the old video cadence when the audio ran past the last frame', async (t) => {
  // As demo.webm: 30 fps video with a DefaultDuration of 33.333 ms at 7, 40, 73 ms..., Opus in 20 ms
  // frames. An edge's origin restarts: the edge's new source starts with a keyframe at 0. The last
  // audio frame ends 12 ms after the last video frame's end; placed there, the keyframe moved every
  // later frame off the 1/30 s grid ffmpeg maps video to, and at half a slot two frames fell into
  // one (a CI run: "non monotonically increasing dts to muxer in stream 0: 347 >= 347").
  const period = 1e9 / 30;
  const v30 = (k: number, key: boolean, at = 7): Frame => ({
    ...vf(0, key),
    timestamp: Math.round(ms(at) + k * period),
    duration: Math.round(period),
  });
  const run = (audioEndMs: number): number[] => {
    const s = new LiveStream({ clock: () => 0 });
    s.setHeader(makeHeader());
    const sub = s.subscribe({ join: 'next-keyframe' });
    const parts = feedPulling(s, sub, [v30(0, true), af(0), v30(1, false), af(20), v30(2, false), af(audioEndMs - 20)]);
    s.setHeader(makeHeader());
    parts.push(...feedPulling(s, sub, [v30(0, true, 0), af(0), v30(1, false, 0), v30(2, false, 0)]));
    s.end();
    parts.push(...drain(sub));
    return allBlocks(walk(concat(parts))[0])
      .filter((b) => b.track === 1)
      .map((b) => b.ticks);
  };
  // The last video frame: 7 + 2 x 33.333 = 73.7 ms, ending at 107 ms. (A subscriber's timestamps
  // start at its first keyframe: 7 ms is its 0.)
  const late = run(119);
  t.same(late.slice(0, 3), [0, 33, 67]);
  t.same(
    late.slice(3),
    [133, 167, 200],
    'two frame periods after the last frame (the first ended before the audio did): 4, 5, 6 x 33.3 ms',
  );
  t.ok(late[3] >= 119 - 7, 'and after the end of the audio');
  const slots = late.map((x) => Math.round((x * 30) / 1000));
  t.same(slots, [0, 1, 2, 4, 5, 6], 'one 1/30 s slot each, one left empty at the splice');
  t.same(run(100).slice(3), [100, 133, 167], 'audio ending before the video: one frame period after it');
});

t.test('frames of undeclared tracks are dropped and counted; a duplicate track number is declared once', async (t) => {
  const h = makeHeader();
  const dup = { ...h, tracks: [...h.tracks, { ...h.tracks[1], codecId: 'A_VORBIS' }, { ...h.tracks[0], number: 0 }] };
  const s = new LiveStream({ clock: () => 0 });
  s.setHeader(dup);
  t.equal(s.stats.ignoredTrackEntries, 2, 'the second entry of track 2 and the track numbered 0');
  const sub = s.subscribe({ join: 'next-keyframe' });
  const parts = feedPulling(s, sub, [vf(0, true), af(0), { ...af(20), track: 3 }, { ...vf(40, false), track: 0 }]);
  parts.push(
    ...feedPulling(s, sub, [
      { ...af(40), timestamp: Number.NaN },
      { ...af(60), timestamp: 2 ** 80 },
    ]),
  );
  parts.push(...feedPulling(s, sub, [af(80)]));
  s.end();
  parts.push(...drain(sub));
  t.equal(s.stats.undeclaredFrames, 2, 'tracks 3 and 0');
  t.equal(s.stats.invalidFrames, 2, 'NaN and a timestamp beyond exact integers');
  const seg = walk(concat(parts))[0];
  t.equal(seg.tracks, 2, 'each track number declared once');
  t.same(
    allBlocks(seg).map((b) => [b.track, b.ticks]),
    [
      [1, 0],
      [2, 0],
      [2, 80],
    ],
  );
  // The same header again (with its duplicate) is the same layout: no new init part.
  const s2 = new LiveStream();
  s2.setHeader(dup);
  s2.setHeader(h);
  t.equal(s2.stats.epochs, 1, 'a header that differs only by ignored entries is the same layout');
});

t.test('per-subscriber cost: pushFrame does not touch idle subscribers; memory per subscriber is small', async (t) => {
  const s = new LiveStream({ clock: () => 0 });
  s.setHeader(makeHeader());
  const feed = makeFeed({ durationMs: 4_000, gop: 25 });
  for (const f of feed.slice(0, 60)) s.pushFrame(f);
  const before = process.memoryUsage().heapUsed;
  const subs: Subscriber[] = [];
  for (let i = 0; i < 5000; i++) subs.push(s.subscribe());
  const per = (process.memoryUsage().heapUsed - before) / 5000;
  t.ok(per < 1024, `~${Math.round(per)} bytes of heap per subscriber`);
  for (const sub of subs) drain(sub);
  let readable = 0;
  for (const sub of subs) sub.onReadable = () => readable++;
  for (const sub of subs) sub.pull(); // park
  s.pushFrame(feed[60]);
  t.equal(readable, 5000, 'each parked subscriber woken once');
  s.pushFrame(feed[61]);
  t.equal(readable, 5000, 'not again until it pulls');
  t.equal(s.stats.subscribers, 5000);
  for (const sub of subs) sub.close();
  t.equal(s.stats.subscribers, 0);
});

t.test('a forward jump in source timestamps does not drop caught-up subscribers', async (t) => {
  const c = clock();
  const s = new LiveStream({ clock: c.now });
  s.setHeader(makeHeader());
  const sub = s.subscribe({ join: 'next-keyframe' });
  const parts: Uint8Array[] = [];
  const feed = [...makeFeed({ durationMs: 3_000 }), ...makeFeed({ durationMs: 3_000, startMs: 60_000 })];
  for (const f of feed) {
    c.ms += 10;
    s.pushFrame(f);
    parts.push(...(sub.pull() ?? []));
  }
  t.equal(sub.state, 'active');
  t.equal(sub.skips, 0);
  t.equal(s.stats.drops, 0);
  t.equal(allBlocks(walk(concat(parts))[0]).length, feed.length);
});

t.test('a frame that cannot be placed is counted, not thrown, and leaves the stream usable', async (t) => {
  const s = new LiveStream(NO_LIMITS);
  s.setHeader(makeHeader());
  const sub = s.subscribe({ join: 'next-keyframe' });
  const feed = makeFeed({ durationMs: 2_000 });
  for (const f of feed.slice(0, 20)) s.pushFrame(f);
  s.pushFrame({ ...feed[20], timestamp: Number.NaN });
  s.pushFrame({ ...feed[20], timestamp: Infinity });
  s.pushFrame({ ...feed[20], track: 0 });
  for (const f of feed.slice(20)) s.pushFrame(f);
  s.end();
  t.equal(s.stats.invalidFrames, 2);
  t.equal(s.stats.undeclaredFrames, 1);
  const seg = walk(concat(drain(sub)))[0];
  t.same(
    allBlocks(seg).map((b) => b.ticks),
    feed.map((f) => f.timestamp / 1e6),
    'pulled after end(): the exact origin',
  );
  t.throws(() => new LiveStream().pushFrame(feed[0]), 'pushFrame before setHeader');
  t.throws(() => s.pushFrame(feed[0]), 'pushFrame after end');
});

// ---- Frames before the first keyframe; audio muxed after a keyframe with an earlier timestamp ----

const ms = (x: number) => x * 1e6;
const vf = (tMs: number, key: boolean, size = 100): Frame => ({
  track: 1,
  timestamp: ms(tMs),
  keyframe: key,
  data: new Uint8Array(size).fill(tMs & 0xff),
  duration: ms(40),
});
const af = (tMs: number, size = 20): Frame => ({
  track: 2,
  timestamp: ms(tMs),
  keyframe: true,
  data: new Uint8Array(size).fill(tMs & 0xff),
  duration: ms(20),
});

/** Pushes frames, pulling after every one (like a fast client). */
function feedPulling(s: LiveStream, sub: Subscriber, frames: Frame[]): Uint8Array[] {
  const parts: Uint8Array[] = [...drain(sub)];
  for (const f of frames) {
    s.pushFrame(f);
    parts.push(...drain(sub));
  }
  return parts;
}

t.test('frames before the first keyframe are held and go right after it; video before it is dropped', async (t) => {
  for (const join of ['next-keyframe', 'latest-keyframe'] as const) {
    const s = new LiveStream({ clock: () => 0 });
    s.setHeader(makeHeader());
    const sub = s.subscribe({ join });
    const pre = [af(0), af(20), vf(30, false), af(40), af(60)];
    const parts = feedPulling(s, sub, pre);
    t.same(parts, [s.initPart], 'only the init part before the keyframe');
    t.equal(s.stats.heldFrames, 4);
    t.equal(s.stats.droppedFrames, 1, 'the non-keyframe video before the first keyframe');
    parts.push(...feedPulling(s, sub, [vf(80, true), af(80), vf(120, false), af(100), af(120)]));
    s.end();
    parts.push(...drain(sub));
    const seg = walk(concat(parts))[0];
    t.equal(seg.clusters.length, 1);
    const blocks = allBlocks(seg);
    t.same(
      blocks.map((b) => [b.track, b.rel]),
      [
        [1, 0],
        [2, -80],
        [2, -60],
        [2, -40],
        [2, -20],
        [2, 0],
        [1, 40],
        [2, 20],
        [2, 40],
      ],
      `${join}: keyframe, held audio (negative relative), the rest`,
    );
    t.ok(blocks[0].keyframe);
    t.equal(Math.min(...blocks.map((b) => b.ticks)), 0, 'origin: the smallest held frame: starts at exactly 0');
    t.ok(blocks.every((b) => b.ticks >= 0));
    t.equal(s.stats.frames, 9);
    t.equal(s.stats.heldFrames, 0);
  }
});

t.test('held frames are bounded by holdMaxNs and holdMaxBytes (oldest dropped, counted)', async (t) => {
  const s = new LiveStream({ clock: () => 0, holdMaxNs: ms(500) });
  s.setHeader(makeHeader());
  const sub = s.subscribe();
  const audio: Frame[] = [];
  for (let x = 0; x < 3000; x += 20) audio.push(af(x));
  const parts = feedPulling(s, sub, [...audio, vf(3000, true)]);
  s.end();
  parts.push(...drain(sub));
  const blocks = allBlocks(walk(concat(parts))[0]);
  const kept = blocks.filter((b) => b.track === 2).map((b) => b.rel);
  t.equal(kept[0], -500, 'oldest kept: 500 ms before the keyframe');
  t.equal(kept.length, 25, '2500..2980 ms');
  t.equal(s.stats.droppedFrames, audio.length - 25);

  const s2 = new LiveStream({ clock: () => 0, holdMaxBytes: 100 });
  s2.setHeader(makeHeader());
  const sub2 = s2.subscribe();
  const parts2 = feedPulling(s2, sub2, [af(0), af(20), af(40), af(60), af(80), af(100), vf(120, true)]);
  t.equal(allBlocks(walk(concat(parts2))[0]).length, 1 + 5, 'five 20-byte frames fit in 100 bytes');
  t.equal(s2.stats.droppedFrames, 1);
});

t.test('end() before any keyframe: the held frames go out as an audio-only cluster', async (t) => {
  const s = new LiveStream({ clock: () => 0 });
  s.setHeader(makeHeader());
  const sub = s.subscribe();
  let woke = 0;
  sub.onReadable = () => woke++;
  const parts = feedPulling(s, sub, [af(0), af(20), vf(30, false), af(40)]);
  t.equal(sub.state, 'waiting');
  s.end();
  t.ok(woke >= 1, 'woken');
  parts.push(...drain(sub));
  t.equal(sub.pull(), null, 'finished');
  const seg = walk(concat(parts))[0];
  t.same(
    allBlocks(seg).map((b) => [b.track, b.ticks]),
    [
      [2, 0],
      [2, 20],
      [2, 40],
    ],
  );
  t.equal(s.stats.droppedFrames, 1);
  // A new layout before any keyframe does the same for the old layout's held frames.
  const s2 = new LiveStream({ clock: () => 0 });
  s2.setHeader(makeHeader());
  s2.pushFrame(af(0));
  s2.setHeader(makeHeader({ codecPrivate: new Uint8Array([9]) }));
  t.equal(s2.stats.frames, 1);
  t.equal(s2.stats.clusters, 1);
  t.equal(s2.stats.heldFrames, 0);
});

t.test(
  'audio muxed after the very first keyframe with an earlier timestamp: withheld for a subscriber that pulled at the keyframe (default), kept with rebaseLeadNs',
  async (t) => {
    // like h264-aac-bframes.mkv: video from 21 ms, audio from 0, audio muxed after the keyframe
    const frames = [vf(21, true), af(0), af(21), vf(101, false), vf(61, false), af(42), af(64), af(85)];
    for (const join of ['next-keyframe', 'latest-keyframe'] as const) {
      const s = new LiveStream({ clock: () => 0 });
      s.setHeader(makeHeader());
      const sub = s.subscribe({ join });
      const other = s.subscribe({ join }); // subscribed as early, but first pulls once the audio at 0 is in
      const parts = feedPulling(s, sub, frames.slice(0, 1));
      t.equal(sub.state, 'active', 'attached at the keyframe, before the audio was known');
      parts.push(...feedPulling(s, sub, frames.slice(1, 2)));
      const otherParts = drain(other);
      parts.push(...feedPulling(s, sub, frames.slice(2)));
      otherParts.push(...drain(other));
      s.end();
      parts.push(...drain(sub));
      otherParts.push(...drain(other));
      const blocks = allBlocks(walk(concat(parts))[0]);
      t.same(
        blocks.map((b) => b.ticks),
        frames.filter((f) => f.timestamp >= ms(21)).map((f) => f.timestamp / 1e6 - 21),
        `${join}: origin = the keyframe: starts at exactly 0`,
      );
      t.equal(sub.withheld, 1, 'the audio at 0 ms, below its origin, is withheld from it');
      const otherBlocks = allBlocks(walk(concat(otherParts))[0]);
      t.same(
        otherBlocks.map((b) => b.ticks),
        frames.map((f) => f.timestamp / 1e6),
        'a subscriber whose first pull saw the audio at 0 gets every frame, from 0',
      );
      t.equal(other.withheld, 0);
      t.equal(s.stats.withheldFrames, 1);
      t.equal(s.stats.droppedFrames, 0, 'nothing dropped for everyone');
      t.equal(s.stats.frames, frames.length);

      const s2 = new LiveStream({ clock: () => 0, rebaseLeadNs: ms(50) });
      s2.setHeader(makeHeader());
      const sub2 = s2.subscribe({ join });
      const parts2 = feedPulling(s2, sub2, frames);
      s2.end();
      parts2.push(...drain(sub2));
      const blocks2 = allBlocks(walk(concat(parts2))[0]);
      t.same(
        blocks2.map((b) => b.ticks),
        frames.map((f) => f.timestamp / 1e6 - 21 + 50),
        `${join}: rebaseLeadNs 50 ms: every frame, origin = keyframe - 50 ms`,
      );
      t.equal(sub2.withheld, 0);
    }
  },
);

t.test(
  'no frame is ever dropped for everyone: a late frame reaches the earlier subscriber, and is withheld (counted) only for the fresh one',
  async (t) => {
    const s = new LiveStream({ clock: () => 0 });
    s.setHeader(makeHeader());
    const a = s.subscribe();
    const aParts = feedPulling(s, a, [vf(1000, true), af(1000), vf(1040, false), af(1020)]);
    s.pushFrame(vf(2000, true));
    aParts.push(...drain(a));
    const b = s.subscribe(); // latest-keyframe: the cluster at 2000, its origin
    const bParts = drain(b);
    const later = [
      af(1960),
      af(1980),
      vf(2040, false),
      af(2000), // audio muxed late, below b's origin
      vf(1900, true),
      vf(1940, false),
      af(2020), // a keyframe going back in time: a cluster starting below b's origin (muted for b)
      vf(3000, true),
      af(2040),
    ];
    for (const f of later) {
      s.pushFrame(f);
      aParts.push(...drain(a));
      bParts.push(...drain(b));
    }
    s.end();
    aParts.push(...drain(a));
    bParts.push(...drain(b));
    t.equal(s.stats.droppedFrames, 0, 'nothing dropped');
    t.equal(s.stats.frames, 5 + later.length, 'every frame placed in the shared history');
    const aSeg = walk(concat(aParts))[0];
    t.same(
      allBlocks(aSeg).map((b) => [b.track, b.ticks]),
      [
        [1, 0],
        [2, 0],
        [1, 40],
        [2, 20],
        [1, 1000],
        [2, 960],
        [2, 980],
        [1, 1040],
        [2, 1000],
        [1, 900],
        [1, 940],
        [2, 1020],
        [1, 2000],
        [2, 1040],
      ],
      'the earlier subscriber (origin 1000) gets every frame',
    );
    t.equal(a.withheld, 0);
    const bSeg = walk(concat(bParts))[0];
    t.same(
      allBlocks(bSeg).map((x) => [x.track, x.ticks]),
      [
        [1, 0],
        [1, 40],
        [2, 0],
        [1, 1000],
        [2, 40],
      ],
      'the fresh subscriber (origin 2000): nothing below it',
    );
    t.ok(
      bSeg.clusters.every((c) => c.timestamp >= 0 && c.blocks.every((x) => x.ticks >= 0)),
      'nothing negative in its bytes',
    );
    t.equal(b.withheld, 5, 'audio at 1960 and 1980, and the whole cluster at 1900 (its start would be negative)');
    t.equal(s.stats.withheldFrames, 5);
    t.equal(a.skips + b.skips, 0);
  },
);

// ---- Shared runs: the invariants the serving path relies on ----

t.test('shared runs: a caught-up subscriber gets one view per pull; bytes handed out never change', async (t) => {
  class Tagged extends Uint8Array {}
  let allocations = 0;
  const s = new LiveStream({
    clock: () => 0,
    historyMaxClusters: 3, // eviction while views are held
    allocate: (n) => {
      allocations++;
      return new Tagged(n);
    },
  });
  s.setHeader(makeHeader());
  const feed = makeFeed({ durationMs: 30_000, gop: 25, videoBytes: 3000 });
  const subs: { sub: Subscriber; parts: Uint8Array[]; copies: Uint8Array[] }[] = [];
  const take = (x: (typeof subs)[number]) => {
    const parts = x.sub.pull() ?? [];
    for (const p of parts) {
      x.parts.push(p);
      x.copies.push(p.slice());
    }
    return parts;
  };
  let caughtUpPulls = 0;
  let singleViewPulls = 0;
  let notShared = 0;
  feed.forEach((f, i) => {
    s.pushFrame(f);
    if (i % 97 === 0) subs.push({ sub: s.subscribe(), parts: [], copies: [] });
    // Every 4th frame the subscribers pull, as a flusher turn would; all caught up at the same place.
    if (i % 4 === 3) {
      const first = subs.length > 1 ? take(subs[0]) : [];
      for (const x of subs.slice(1)) {
        const parts = take(x);
        if (
          parts.length > 0 &&
          first.length > 0 &&
          x.parts.length > parts.length &&
          subs[0].parts.length > first.length
        ) {
          caughtUpPulls++;
          // One view; or a Cluster start and one view; at most 3 parts (the end of a Cluster, the next
          // Cluster's start, its blocks; or two views when the run filled up and a new one began).
          if (parts.length === 1 || (parts.length === 2 && parts[0][0] === 0x1f)) singleViewPulls++;
          if (parts.length > 3) t.fail(`${parts.length} parts in one caught-up pull`);
          if (parts[parts.length - 1] !== first[first.length - 1]) notShared++;
        }
      }
    }
  });
  s.end();
  for (const x of subs) {
    for (;;) {
      const p = take(x);
      if (p.length === 0) break;
    }
  }
  t.ok(caughtUpPulls > 100, `${caughtUpPulls} caught-up pulls checked`);
  t.equal(notShared, 0, 'same turn, same position: the very same view object for everyone');
  t.ok(
    singleViewPulls >= caughtUpPulls * 0.9,
    `${singleViewPulls} of them are one view of the run (plus the Cluster start when a Cluster began)`,
  );
  let changed = 0;
  let parts = 0;
  for (const x of subs) {
    x.parts.forEach((p, k) => {
      parts++;
      if (!(p instanceof Tagged)) changed++;
      if (p.length !== x.copies[k].length || p.some((b, j) => b !== x.copies[k][j])) changed++;
    });
  }
  t.equal(changed, 0, `none of the ${parts} parts handed out changed, after eviction and thousands of appends`);
  t.ok(allocations > 3, 'runs, init part and cluster starts come from the allocator');
  for (const x of subs) {
    const seg = walk(concat(x.parts))[0];
    t.ok(
      seg.clusters[0].blocks[0].keyframe && seg.clusters[0].blocks[0].track === 1,
      'every joiner starts on a keyframe',
    );
  }
});

t.test('per-subscriber Cluster starts, shared blocks: different origins, the same block views', async (t) => {
  const s = new LiveStream({ clock: () => 0 });
  s.setHeader(makeHeader());
  const feed = makeFeed({ durationMs: 4_000, gop: 25 });
  const a = s.subscribe({ join: 'next-keyframe' });
  const aParts: Uint8Array[] = [];
  const bParts: Uint8Array[] = [];
  let b: Subscriber | undefined;
  let bFirst = -1;
  feed.forEach((f, i) => {
    s.pushFrame(f);
    if (i === 100) b = s.subscribe(); // joins at the second keyframe (1 s): another origin
    aParts.push(...(a.pull() ?? []));
    if (b) bParts.push(...(b.pull() ?? []));
    if (b && bFirst < 0) bFirst = bParts.length;
  });
  const segA = walk(concat(aParts))[0];
  const segB = walk(concat(bParts))[0];
  const last = (seg: typeof segA) => seg.clusters[seg.clusters.length - 1];
  t.not(last(segA).timestamp, last(segB).timestamp, 'the same Cluster, each with its own rebased timestamp');
  const startsA = aParts.filter((p) => p[0] === 0x1f);
  const startsB = bParts.filter((p) => p[0] === 0x1f);
  t.ok(
    startsB.every((x) => !startsA.includes(x)),
    'Cluster starts are per origin',
  );
  // After b's first pull (its burst, one view of many blocks), both pull one new block at a time.
  const blocksB = bParts.slice(bFirst).filter((p) => p[0] === 0xa3 || p[0] === 0xa0);
  const setA = new Set(aParts);
  t.ok(blocksB.length > 20 && blocksB.every((x) => setA.has(x)), 'block views are the same objects');
});
