// Fuzz (seeded, time-bounded): mutated and spliced inputs, header changes, duplicate and undeclared
// tracks and timestamp jumps go through demuxer -> LiveStream -> subscribers joining at random moments
// with random pull sizes and speeds. Every subscriber's bytes must re-demux cleanly under our demuxer
// (one header, declared tracks only, no error, video starting on a keyframe), and the fanout must never
// throw; a small sample also goes through ffprobe -v error.
// MKVSERVE_FUZZ_MS (default 6000) sets the time budget, MKVSERVE_FUZZ_SEED the seed; a failure prints
// the seed and case number that reproduce it. bench/fanout-fuzz.mjs runs it for longer.

import t from 'tap';
import { checkOutput, ffprobeErrors, hasFfprobe, runLive } from '../testlib/pipeline.js';
import { nextCase, rng } from '../testlib/fuzz.js';

const BUDGET_MS = Number(process.env.MKVSERVE_FUZZ_MS ?? 6000);
const SEED = Number(process.env.MKVSERVE_FUZZ_SEED ?? 20261125);
const FFPROBE_SAMPLES = Number(process.env.MKVSERVE_FUZZ_FFPROBE ?? 4);

t.test(`fanout fuzz: seed ${SEED}, ${BUDGET_MS} ms`, async (t) => {
  const r = rng(SEED);
  const start = Date.now();
  let cases = 0;
  let subscribers = 0;
  let withFrames = 0;
  let probed = 0;
  const failures: string[] = [];
  while (Date.now() - start < BUDGET_MS && failures.length < 5) {
    const fc = nextCase(r, cases, SEED);
    const { runs, thrown } = runLive(fc.events, fc.plans, fc.options);
    if (thrown.length > 0) failures.push(`${fc.label}: thrown ${thrown[0]}`);
    for (const [i, run] of runs.entries()) {
      subscribers++;
      const c = checkOutput(run.bytes);
      if (c.problems.length > 0) {
        failures.push(`${fc.label}: subscriber ${i} ${JSON.stringify(run.plan)}: ${c.problems[0]}`);
      }
      if (c.frames > 0) {
        withFrames++;
        if (hasFfprobe() && probed < FFPROBE_SAMPLES && (cases % 7 === 3 || fc.eventMutations > 0)) {
          probed++;
          const err = ffprobeErrors(run.bytes);
          if (err !== '') failures.push(`${fc.label}: subscriber ${i}: ffprobe: ${err.split('\n')[0]}`);
        }
      }
    }
    cases++;
  }
  t.comment(
    `${cases} inputs, ${subscribers} subscribers (${withFrames} with frames), ${probed} checked by ffprobe, in ${Date.now() - start} ms`,
  );
  t.same(failures, [], 'every subscriber output re-demuxes cleanly; nothing thrown');
  t.ok(cases >= 10, 'enough inputs tried');
});
