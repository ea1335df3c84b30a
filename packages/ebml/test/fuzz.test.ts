// Fuzzing, seeded and bounded in time (issue 8, proof item 3): mutated fixtures (bit flips, byte runs,
// truncation, splices of two files, corrupted sizes, deep nesting, duplicated regions) through the
// demuxer, the reader and the muxer; bench/fuzz-lib.mjs lists the properties checked. A few seconds here
// (FUZZ_SECONDS to change, FUZZ_SEED to vary); `node bench/fuzz.mjs --seconds 60` is the long run.
import t from 'tap';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

interface Failure {
  seed: number;
  index: number;
  name: string;
  steps: string[];
  fails: [string, string][];
}
interface FuzzLib {
  fuzz(o: {
    seconds?: number;
    seed?: number;
    onFailure?: (f: Failure) => void;
  }): Promise<{ inputs: number; failures: number; byProperty: Record<string, number>; bytes: number; peakRss: number }>;
  loadLibrary(): Promise<Record<string, unknown>>;
  documentedCodes(): Set<string>;
  loadCorpus(): [string, Uint8Array][];
  makeInput(corpus: [string, Uint8Array][], seed: number, index: number): { bytes: Uint8Array; rand: () => number };
  checkInput(lib: unknown, codes: Set<string>, input: unknown, deep: boolean): [string, string][];
}

// Plain JS shared with bench/fuzz.mjs (a path in a variable: loaded at run time, typed by FuzzLib).
const libPath = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'bench', 'fuzz-lib.mjs');
const fuzzLib = (await import(libPath)) as FuzzLib;

t.test('mutated inputs keep every property', async (t) => {
  const seconds = Number(process.env.FUZZ_SECONDS ?? 3);
  const seed = Number(process.env.FUZZ_SEED ?? 20_240_101);
  const failures: Failure[] = [];
  const r = await fuzzLib.fuzz({ seconds, seed, onFailure: (f) => failures.push(f) });
  t.comment(
    `${r.inputs} inputs (${(r.bytes / 1e6).toFixed(1)} MB) in ${seconds} s, seed ${seed}; peak RSS ${(r.peakRss / 1048576).toFixed(0)} MiB`,
  );
  t.ok(r.inputs > 20, `${r.inputs} inputs tried`);
  t.same(
    failures
      .slice(0, 5)
      .map((f) => `seed ${f.seed} index ${f.index} (${f.name}; ${f.steps.join('; ')}): ${JSON.stringify(f.fails)}`),
    [],
    'no failure (replay one with: node bench/fuzz.mjs --seed S --only INDEX)',
  );
  t.ok(r.peakRss < 1024 * 1048576, 'peak RSS under 1 GiB');
});

t.test('the checker sees a broken property', async (t) => {
  // A demuxer that reports an undocumented code and a frame of an undeclared track must fail the check.
  const lib = await fuzzLib.loadLibrary();
  const Base = lib.MatroskaDemuxer as new (h: Record<string, (...a: unknown[]) => void>) => {
    push(c: Uint8Array): void;
    end(): void;
  };
  class Broken extends Base {
    private readonly hh: Record<string, (...a: unknown[]) => void>;
    constructor(h: Record<string, (...a: unknown[]) => void>) {
      super(h);
      this.hh = h;
    }
    override end(): void {
      super.end();
      this.hh.onFrame({ track: 99, timestamp: 0, keyframe: true, data: new Uint8Array(1) });
      this.hh.onError(new (lib.EbmlError as new (i: object) => Error)({ code: 'BOGUS', message: 'x' }));
    }
  }
  const corpus = fuzzLib.loadCorpus();
  const input = fuzzLib.makeInput(corpus, 1, 0);
  const fails = fuzzLib.checkInput({ ...lib, MatroskaDemuxer: Broken }, fuzzLib.documentedCodes(), input, false);
  t.ok(
    fails.some(([p]) => p === 'typed'),
    'undocumented error code caught',
  );
  t.ok(
    fails.some(([p]) => p === 'announced'),
    'frame of an undeclared track caught',
  );
});
