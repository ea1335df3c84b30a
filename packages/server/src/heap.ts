// V8 young-generation cap for the `serve` command. V8 doubles the new space (2 semi-spaces, up to
// 2 x 16 MiB on 64-bit) whenever enough objects survived scavenges since the last growth, and only
// shrinks it when allocation almost stops. A streaming server always has writes in flight, so the
// new space would end up at its 32 MiB maximum: RSS that grows with the write rate, not the clients.
//
// --max-semi-space-size cannot be changed once the heap exists, but the growth factor is read at
// every growth: it is kept at V8's 2 while one more doubling fits under the cap, and set to 1 once it
// would not. It is checked after every GC (the new space only changes at one), so it follows V8
// shrinking the space too: it may grow back up to the cap. Start-up allocates a lot in long
// synchronous stretches (modules, configuration, the inputs' first bytes) where no check can run: the
// serve command holds the growth from its first line (holdYoungGeneration) until the cap is set.
// Measured on the load benchmark (see the server README): the start-up used to take the new space to
// 16 MiB past the default cap of 8 before the check ran.
// Process-wide, so only the CLI does it (a library embedding MkvServer keeps its own heap policy).

import v8 from 'node:v8';
import { PerformanceObserver } from 'node:perf_hooks';

/** V8's own --semi-space-growth-factor. */
const V8_GROWTH = 2;
let growth = V8_GROWTH;

function setGrowth(factor: number): void {
  if (factor === growth) return;
  v8.setFlagsFromString(`--semi-space-growth-factor=${factor}`);
  growth = factor;
}

/** The new space's size in bytes (both semi-spaces). */
export function newSpaceBytes(): number {
  for (const s of v8.getHeapSpaceStatistics()) if (s.space_name === 'new_space') return s.space_size;
  return 0;
}

/** Stops the young generation from growing until capYoungGeneration() says how far it may. For the
 *  serve command's first line, before it loads the server and opens its inputs. */
export function holdYoungGeneration(): void {
  setGrowth(1);
}

/**
 * Lets the young generation (the new space, both semi-spaces) grow up to `maxMiB` MiB and no further;
 * 0 or less: no cap (V8's own growth again). Two doublings between two GCs' checks would pass the cap
 * by one; the checks run between event-loop turns, which a server keeps short. Returns a function that
 * stops watching (the growth factor stays as it was then).
 */
export function capYoungGeneration(maxMiB: number): () => void {
  if (!(maxMiB > 0)) {
    setGrowth(V8_GROWTH);
    return () => {};
  }
  const limit = maxMiB * 1024 * 1024;
  const check = (): void => setGrowth(newSpaceBytes() * 2 <= limit ? V8_GROWTH : 1);
  check();
  const obs = new PerformanceObserver(check);
  obs.observe({ entryTypes: ['gc'] });
  return () => obs.disconnect();
}
