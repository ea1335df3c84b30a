// The committed src/schema.generated.ts must be exactly what scripts/gen-schema.mjs generates from the
// official schemas in ../shared/spec/ (relative to the repository root): nobody edits it by hand, and a
// change to the generator is committed together with its output. Generates into a temporary file
// (`--out`) so the working tree is never touched. Skipped when the spec directory is not checked out.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const specDir = resolve(root, '..', 'shared', 'spec');
const script = join(root, 'scripts', 'gen-schema.mjs');
const committed = join(root, 'packages', 'ebml', 'src', 'schema.generated.ts');
const haveSpec = existsSync(join(specDir, 'ebml.xml')) && existsSync(join(specDir, 'ebml_matroska.xml'));

t.test(
  'schema.generated.ts is what scripts/gen-schema.mjs generates',
  {
    skip: haveSpec
      ? false
      : `spec directory ${specDir} (../shared/spec from the repository root) is absent: cannot regenerate the schema`,
  },
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'mkvserve-schema-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const out = join(dir, 'schema.generated.ts');
    const before = readFileSync(committed);
    execFileSync(process.execPath, [script, specDir, '--out', out], { stdio: ['ignore', 'pipe', 'pipe'] });
    t.ok(readFileSync(committed).equals(before), 'the committed file was not touched');
    const generated = readFileSync(out, 'utf8');
    const expected = before.toString('utf8');
    if (generated === expected) {
      t.pass('identical');
      return;
    }
    // Name the first differing line so the failure says what to look at.
    const g = generated.split('\n');
    const e = expected.split('\n');
    let i = 0;
    while (i < g.length && i < e.length && g[i] === e[i]) i++;
    t.fail(
      `schema.generated.ts differs from the generator output at line ${i + 1} (run \`pnpm gen:schema\` and commit the result)`,
      {
        committed: e[i],
        generated: g[i],
      },
    );
  },
);
