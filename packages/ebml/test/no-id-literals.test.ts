// Element IDs come from the generated `Id` table, never from hex literals (issue 8 item 14): a literal
// ID beside `Id` drifts (muxer.ts wrote Tags with 0x63c5 beside 0x63c4/0x63c6), and private ID lists
// (init.ts, block.ts, reader.ts had them) are a second place for one fact. This test reads every source
// file of @mkvserve/ebml and fails on a 0x literal whose value is an element ID, unless it is one of the
// few non-ID constants below.
import t from 'tap';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ELEMENT_BY_ID } from '../src/schema.generated.js';

const SRC = join(dirname(fileURLToPath(import.meta.url)), '..', 'src');

/** Values that are not element IDs where they appear (bit masks of vints, flags and codec headers). */
const ALLOWED_VALUES: Record<string, string> = {
  '0x80': 'vint length marker, SimpleBlock keyframe flag and high-bit tests (== ChapterDisplay ID by chance)',
  '0xc0': 'UTF-8 lead-byte mask in FLAC frame numbers',
  '0xe0': 'MPEG audio frame sync mask',
  '0xf0': 'ADTS sync mask',
};
/** Files whose hex literals are not EBML IDs at all. */
const ALLOWED_FILES: Record<string, string> = {
  'matroska/sniff.ts': 'magic numbers of other container formats (MPEG-PS, ASF, BOM, ...)',
  'schema.generated.ts': 'the Id table itself',
};

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const f of readdirSync(dir)) {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) out.push(...sources(p));
    else if (p.endsWith('.ts')) out.push(p);
  }
  return out;
}

t.test('no element ID is written as a hex literal in @mkvserve/ebml', async (t) => {
  const files = sources(SRC);
  t.ok(files.length > 15, `${files.length} source files`);
  const found: string[] = [];
  let checked = 0;
  for (const file of files) {
    const rel = relative(SRC, file).split('\\').join('/');
    if (ALLOWED_FILES[rel]) continue;
    readFileSync(file, 'utf8')
      .split('\n')
      .forEach((line, i) => {
        for (const m of line.matchAll(/\b0x[0-9a-fA-F]{2,8}\b/g)) {
          checked++;
          const lit = m[0].toLowerCase();
          const info = ELEMENT_BY_ID.get(parseInt(lit, 16));
          if (info && !ALLOWED_VALUES[lit])
            found.push(`${rel}:${i + 1}: ${m[0]} is the ID of ${info.name}: use Id.${info.name.replace(/-/g, '')}`);
        }
      });
  }
  t.ok(checked > 50, `${checked} hex literals checked`);
  t.same(found, [], 'element IDs come from the Id table');
});

t.test('the check catches a literal ID', async (t) => {
  // The same scan over a line like the one muxer.ts had.
  const line = 'for (const u of t.targets.trackUIDs) w.uintElement(0x63c5, u);';
  const hits = [...line.matchAll(/\b0x[0-9a-fA-F]{2,8}\b/g)].map((m) => ELEMENT_BY_ID.get(parseInt(m[0], 16))?.name);
  t.same(hits, ['TagTrackUID']);
});
