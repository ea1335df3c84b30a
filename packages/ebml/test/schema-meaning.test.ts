// What the generated table says a value means, beyond its type: enum labels (taken from the spec's
// <restriction> lists, checked here against the XML itself when ../shared/spec is present), bit fields,
// and the unit of numbers read from the spec's wording (ticks, ns, Segment Positions, bytes, Hz).
// `mkvserve inspect` shows values by these; a wrong unit would show a wrong time.
import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ELEMENTS, ELEMENT_BY_NAME } from '../src/schema.generated.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const specDir = resolve(root, '..', 'shared', 'spec');

t.test('units read from the spec wording', (t) => {
  const unit = (name: string): string | undefined => ELEMENT_BY_NAME.get(name)?.unit;
  for (const n of ['Duration', 'Timestamp', 'CueTime', 'CueDuration', 'CueRefTime'])
    t.equal(unit(n), 'segmentTicks', n);
  for (const n of ['BlockDuration', 'ReferenceBlock']) t.equal(unit(n), 'trackTicks', n);
  for (const n of [
    'TimestampScale',
    'DefaultDuration',
    'CodecDelay',
    'SeekPreRoll',
    'DiscardPadding',
    'ChapterTimeStart',
    'ChapterTimeEnd',
  ])
    t.equal(unit(n), 'ns', n);
  for (const n of ['SeekPosition', 'CueClusterPosition', 'Position']) t.equal(unit(n), 'segmentPosition', n);
  t.equal(unit('PrevSize'), 'bytes');
  t.equal(unit('SamplingFrequency'), 'Hz');
  t.equal(unit('OutputSamplingFrequency'), 'Hz');
  for (const n of ['PixelWidth', 'TrackNumber', 'TrackUID', 'Channels', 'CueRelativePosition'])
    t.equal(unit(n), undefined, `${n}: no unit`);
  t.same(
    ELEMENTS.filter((e) => e.unit !== undefined && !['uinteger', 'integer', 'float'].includes(e.type)).map(
      (e) => e.name,
    ),
    [],
    'only numbers have units',
  );
  t.end();
});

t.test('enum labels and bit fields', (t) => {
  t.same(ELEMENT_BY_NAME.get('TrackType')?.enum, {
    '1': 'video',
    '2': 'audio',
    '3': 'complex',
    '16': 'logo',
    '17': 'subtitle',
    '18': 'buttons',
    '32': 'control',
    '33': 'metadata',
  });
  t.same(ELEMENT_BY_NAME.get('FlagInterlaced')?.enum, { '0': 'undetermined', '1': 'interlaced', '2': 'progressive' });
  t.equal(ELEMENT_BY_NAME.get('ContentCompAlgo')?.enum?.['3'], 'Header Stripping');
  // The spec writes ContentEncodingScope's values in hex ("0x4"): keyed in decimal like every other value.
  t.same(ELEMENT_BY_NAME.get('ContentEncodingScope')?.enum, { '1': 'Block', '2': 'Private', '4': 'Next' });
  t.equal(ELEMENT_BY_NAME.get('ContentEncodingScope')?.bitField, true);
  t.same(
    ELEMENTS.filter((e) => e.bitField).map((e) => e.name),
    ['ContentEncodingScope'],
    'the only bit field',
  );
  t.end();
});

t.test(
  'every <enum> of the spec is in the table',
  {
    skip: existsSync(join(specDir, 'ebml_matroska.xml')) ? false : `spec directory ${specDir} is absent`,
  },
  (t) => {
    const xml = readFileSync(join(specDir, 'ebml_matroska.xml'), 'utf8');
    let elements = 0;
    for (const m of xml.matchAll(/<element\s[^>]*?name="([^"]+)"[^>]*>([\s\S]*?)<\/element>/g)) {
      const labels = [...m[2].matchAll(/<enum value="([^"]*)" label="([^"]*)"/g)];
      if (labels.length === 0) continue;
      elements++;
      const e = ELEMENT_BY_NAME.get(m[1]);
      t.same(
        Object.values(e?.enum ?? {}).sort(),
        labels.map((l) => l[2].replace(/&amp;/g, '&')).sort(),
        `${m[1]}: ${labels.length} labels`,
      );
    }
    t.ok(elements >= 28, `${elements} elements with enums`);
    t.equal(ELEMENTS.filter((e) => e.enum).length, elements, 'and no other');
    t.end();
  },
);
