// V8 young-generation cap for the `serve` command. V8 doubles the new space (2 semi-spaces, up to
// 2 x 16 MiB on 64-bit) whenever enough objects survived scavenges since the last growth, and only
// shrinks it when allocation almost stops. A streaming server always has writes in flight, so the
// new space ends up at its 32 MiB maximum: measured, that is most of the RSS added by 1,000 ->
// 5,000 clients (8 -> 32 MiB of new space) and of the growth over connect/close cycles. Capping it
// at a few MiB costs no measurable CPU here (scavenges cost the survivors, not the garbage).
//
// --max-semi-space-size cannot be changed once the heap exists, but the growth factor is read at
// every growth: once the new space reached the cap, it is set to 1 and the new space stays there.
// Process-wide, so only the CLI does it (a library embedding MkvServer keeps its own heap policy).

import v8 from 'node:v8';
import { PerformanceObserver } from 'node:perf_hooks';

function newSpaceBytes(): number {
  for (const s of v8.getHeapSpaceStatistics()) if (s.space_name === 'new_space') return s.space_size;
  return 0;
}

/**
 * Stops the young generation from growing past about `maxMiB` MiB. The check runs after GCs, between
 * event-loop turns, so a long synchronous stretch can overshoot by a doubling or two (synthetic churn:
 * cap 2 -> stays at 8; cap 8 -> stays at 8). 0 or less: no cap. Returns a function that removes the
 * watcher (a cap already applied stays).
 */
export function capYoungGeneration(maxMiB: number): () => void {
  if (!(maxMiB > 0)) return () => {};
  const limit = maxMiB * 1024 * 1024;
  let capped = false;
  const check = (): boolean => {
    if (!capped && newSpaceBytes() >= limit) {
      v8.setFlagsFromString('--semi-space-growth-factor=1');
      capped = true;
    }
    return capped;
  };
  if (check()) return () => {};
  // Growth happens at the end of a scavenge: look after each one until the cap is reached.
  const obs = new PerformanceObserver(() => {
    if (check()) obs.disconnect();
  });
  obs.observe({ entryTypes: ['gc'] });
  return () => obs.disconnect();
}
