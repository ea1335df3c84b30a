// Pacer: real-time release of frames by timestamp against a (fake) monotonic clock.
import t from 'tap';
import { Pacer } from '../src/inputs/pacer.js';

t.test('first frame anchors, later frames wait until their time minus the lead', async (t) => {
  let now = 1000;
  const p = new Pacer({ now: () => now, leadMs: 100 });
  t.equal(p.delayFor(5e9), 0, 'first frame released at once');
  t.equal(p.delayFor(5e9 + 50e6), 0, 'within the lead');
  t.equal(p.delayFor(5e9 + 1e9), 900, '1 s ahead waits 900 ms with a 100 ms lead');
  now += 500;
  t.equal(p.delayFor(5e9 + 1e9), 400);
  now += 400;
  t.equal(p.delayFor(5e9 + 1e9), 0);
});

t.test('speed factor scales the wait', async (t) => {
  let now = 0;
  const p = new Pacer({ now: () => now, leadMs: 0, speed: 4 });
  p.delayFor(0);
  t.equal(p.delayFor(4e9), 1000, '4 s of media at 4x takes 1 s');
  now = 1000;
  t.equal(p.delayFor(4e9), 0);
});

t.test('stall re-anchors instead of bursting; big forward jumps re-anchor too', async (t) => {
  let now = 0;
  const p = new Pacer({ now: () => now, leadMs: 0, maxBehindMs: 1000, maxAheadMs: 5000 });
  p.delayFor(0);
  now = 5000; // input stalled 5 s
  t.equal(p.delayFor(1e9), 0, 'late frame released');
  t.equal(p.reanchors, 1);
  t.equal(p.delayFor(1.5e9), 500, 'paced relative to the new anchor');
  t.equal(p.delayFor(100e9), 0, 'a 100 s jump does not hang');
  t.equal(p.reanchors, 2);
});

t.test('reset and wait() with a fake sleep', async (t) => {
  let now = 0;
  const slept: number[] = [];
  const p = new Pacer({
    now: () => now,
    leadMs: 0,
    sleep: async (ms) => {
      slept.push(ms);
      now += ms;
    },
  });
  await p.wait(0);
  await p.wait(2e9);
  t.same(slept, [2000]);
  t.equal(now, 2000);
  p.reset();
  await p.wait(50e9);
  t.same(slept, [2000], 'after reset the next frame is the new origin');
  p.abort();
  await p.wait(60e9);
  t.same(slept, [2000], 'aborted pacer never waits');
});

t.test('real clock: 20 frames over 200 ms of media take about 300 ms with a 100 ms lead', async (t) => {
  const p = new Pacer({ leadMs: 100 });
  const start = performance.now();
  for (let i = 0; i <= 20; i++) await p.wait(i * 10e6 * 2); // 0..400 ms
  const took = performance.now() - start;
  t.ok(took >= 280 && took < 450, `took ${took.toFixed(0)} ms`);
});

t.test('abort() cuts a pending sleep short and clears its timer', async (t) => {
  const p = new Pacer({ leadMs: 0 });
  await p.wait(0);
  const countTimers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
  const before = countTimers();
  const start = performance.now();
  const waiting = p.wait(4e9); // 4 s ahead
  t.equal(countTimers(), before + 1, 'the wait runs a timer');
  setTimeout(() => p.abort(), 20);
  await waiting;
  const took = performance.now() - start;
  t.ok(took < 120, `resolved ${took.toFixed(0)} ms after the wait began (abort at 20 ms)`);
  t.equal(countTimers(), before, 'its timer is cleared (process.getActiveResourcesInfo)');
  await p.wait(10e9);
  t.ok(performance.now() - start < 150, 'later waits return at once');
});

t.test('abort() also ends a wait on a custom sleep at once', async (t) => {
  const now = 0;
  const p = new Pacer({ now: () => now, leadMs: 0, sleep: () => new Promise<void>(() => {}) }); // never resolves
  await p.wait(0);
  let done = false;
  const waiting = p.wait(3e9).then(() => {
    done = true;
  });
  await Promise.resolve();
  t.notOk(done, 'still waiting');
  p.abort();
  await waiting;
  t.ok(done, 'resolved after abort');
});

t.test('live mode (maxBehindMs 0): real-time arrival is never held; a faster source is paced', async (t) => {
  let now = 0;
  const p = new Pacer({ now: () => now, leadMs: 2000, maxBehindMs: 0 });
  // Real time with jitter: frame i (40 ms apart) arrives at 40*i ms, up to 150 ms late.
  for (let i = 0; i < 500; i++) {
    now = 40 * i + ((i * 37) % 150);
    t.equal(p.delayFor(i * 40e6), 0, `frame ${i} released as it arrives`);
  }
  // A source that delivers 10 s of media at once (a file piped in): held beyond the 2 s lead.
  const q = new Pacer({ now: () => now, leadMs: 2000, maxBehindMs: 0 });
  now = 1000;
  t.equal(q.delayFor(0), 0);
  t.equal(q.delayFor(1.9e9), 0, 'within the lead: at once');
  t.equal(q.delayFor(5e9), 3000, '5 s of media arriving at once waits 3 s');
});
