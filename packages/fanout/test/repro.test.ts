// Regression tests for inputs that made the fanout emit Matroska that does not parse (issue 8, item 17):
// a second Tracks element declaring more tracks, a duplicated TrackEntry, two files spliced together.
// Whatever the demuxer makes of them, every subscriber's bytes must re-demux cleanly under our demuxer
// and ffprobe: frames of undeclared tracks dropped and counted, each track number declared once.

import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkOutput, demuxBytes, ffprobeErrors, hasFfprobe, runLive } from '../testlib/pipeline.js';

const DIR = join(import.meta.dirname, 'repro');

for (const name of ['second-tracks.webm', 'duplicate-tracknumber.webm', 'spliced-files.mkv']) {
  t.test(name, async (t) => {
    const input = demuxBytes(readFileSync(join(DIR, name)), [4096]);
    t.ok(input.headers.length >= 1, 'the demuxer finds a header');
    const declared = new Set(input.headers.flatMap((h) => h.tracks.map((x) => x.number)));
    const undeclaredIn = input.frames.filter((f) => !input.headers[0].tracks.some((x) => x.number === f.track));
    const mid = Math.floor(input.events.length / 2);
    const { stream, runs, thrown } = runLive(input.events, [
      { at: 0, join: 'next-keyframe' },
      { at: mid },
      { at: mid, join: 'next-keyframe', pullBytes: 1000, every: 3 },
    ]);
    t.same(thrown, [], 'the fanout never throws');
    const st = stream.stats;
    t.equal(
      st.frames + st.droppedFrames + st.undeclaredFrames + st.invalidFrames + st.heldFrames,
      input.frames.length,
      'every frame is placed or counted',
    );
    if (input.headers.length === 1 && undeclaredIn.length > 0) {
      t.equal(st.undeclaredFrames, undeclaredIn.length, `${undeclaredIn.length} frames of undeclared tracks counted`);
    }
    for (const [i, r] of runs.entries()) {
      const check = checkOutput(r.bytes);
      t.same(check.problems, [], `subscriber ${i}: its bytes re-demux cleanly`);
      if (i === 0) {
        t.equal(check.frames, st.frames, 'the first subscriber gets every placed frame');
        t.ok(check.frames > 0);
      }
      // (A subscriber that got only the init part, when no keyframe followed its join, is checked by
      // our demuxer only: ffprobe reports "End of file" for a stream without frames.)
      if (hasFfprobe() && check.frames > 0) {
        t.equal(ffprobeErrors(r.bytes), '', `subscriber ${i}: ffprobe -v error is silent`);
      }
    }
    t.ok(declared.size >= 1);
  });
}
