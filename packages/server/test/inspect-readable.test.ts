// `mkvserve inspect` reads like mkvinfo: the element tree's values (times, enum labels, frame rates, UIDs,
// CodecPrivate sizes...) are checked against what mkvinfo prints for the same fixtures, the one-line
// cluster summaries against the blocks mkvinfo -v lists in each cluster, and the collapsed runs against
// the ffprobe truth files. Also: the value formatter on its own (edge values no fixture has), --json's
// added "display" field, the line budget of the default tree, limits inside a collapsed cluster, and a
// complete `inspect --help`. In-process runInspect where possible (a spawn costs ~0.25 s of start-up).
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { ELEMENT_BY_ID, ELEMENT_BY_NAME, Id } from '@mkvserve/ebml/schema';
import type { ElementInfo } from '@mkvserve/ebml/schema';
import { runInspect } from '../src/commands/inspect.js';
import type { InspectOptions } from '../src/commands/inspect.js';
import { formatBytes, formatSpan, formatTime, showValue } from '../src/commands/inspect-format.js';
import type { FormatContext } from '../src/commands/inspect-format.js';

const here = dirname(fileURLToPath(import.meta.url));
const BIN = join(here, '..', 'bin', 'mkvserve.js');
const FIX = join(here, '..', '..', '..', 'fixtures');
const haveMkvinfo = !spawnSync('mkvinfo', ['--version']).error;

const fixtures = existsSync(FIX)
  ? readdirSync(FIX).filter((f) => /\.(mkv|webm)$/.test(f) && existsSync(join(FIX, f + '.truth.json')))
  : [];
if (fixtures.length === 0) t.comment(`no fixtures in ${FIX}`);

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** runInspect in-process with stdout/stderr captured. */
async function inspect(input: string, o: Omit<InspectOptions, 'input' | 'stdout' | 'stderr'> = {}): Promise<RunResult> {
  let stdout = '';
  let stderr = '';
  const sink = (add: (s: string) => void): Writable =>
    new Writable({
      write(chunk: Buffer | string, _enc, cb) {
        add(chunk.toString());
        cb();
      },
    });
  const code = await runInspect({
    input,
    ...o,
    stdout: sink((x) => (stdout += x)),
    stderr: sink((x) => (stderr += x)),
  });
  return { code, stdout, stderr };
}

function mkvinfo(name: string): string {
  const r = spawnSync('mkvinfo', ['-v', join(FIX, name)], { encoding: 'utf8', maxBuffer: 256 << 20 });
  if (r.status !== 0) throw new Error(`mkvinfo ${name}: exit ${r.status}: ${r.stderr}`);
  return r.stdout;
}

/** "-00:00:01.500000000" (mkvinfo and our time format) -> ns. */
function hmsNs(s: string): number {
  const m = /^(-?)(\d+):(\d\d):(\d\d)\.(\d{9})$/.exec(s);
  if (!m) return NaN;
  const v = ((Number(m[2]) * 60 + Number(m[3])) * 60 + Number(m[4])) * 1e9 + Number(m[5]);
  return m[1] ? -v : v;
}

/** A time as our tree shows it ("00:00:01.5...", "40 ms", "6.5 ms", "125 µs", "2.5 s") -> ns; independent of the formatter. */
function shownNs(s: string): number {
  const h = hmsNs(s);
  if (!Number.isNaN(h)) return h;
  const m = /^(-?[\d.]+) (s|ms|µs|ns)$/.exec(s);
  if (!m) return NaN;
  return Math.round(Number(m[1]) * { s: 1e9, ms: 1e6, µs: 1e3, ns: 1 }[m[2] as 's' | 'ms' | 'µs' | 'ns']);
}

interface Shown {
  /** Everything after "size N: ". */
  text: string;
  /** Before the last "(...)": the meaning, when the raw value is shown alongside. */
  meaning: string;
  /** Inside the last "(...)", or the whole text. */
  raw: string;
}

/** Our leaf lines by element name, in file order. */
function ourValues(tree: string): Map<string, Shown[]> {
  const map = new Map<string, Shown[]>();
  for (const line of tree.split('\n')) {
    const m = /^ *([A-Za-z][\w-]*) \(0x[0-9A-F]+\) size \d+(?: \([^)]*\))?: (.*)$/.exec(line);
    if (!m) continue;
    const text = m[2];
    const p = /^(.*) \(([^()]*)\)$/.exec(text);
    const shown = p && !text.startsWith('"') ? { text, meaning: p[1], raw: p[2] } : { text, meaning: text, raw: text };
    const list = map.get(m[1]) ?? [];
    list.push(shown);
    map.set(m[1], list);
  }
  return map;
}

/** mkvinfo's "label: value" lines by label, in file order. */
function mkvinfoValues(out: string): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const line of out.split('\n')) {
    const m = /^\|? *\+ ([^:]+): (.*)$/.exec(line);
    if (!m) continue;
    const list = map.get(m[1]) ?? [];
    list.push(m[2]);
    map.set(m[1], list);
  }
  return map;
}

/** mkvinfo label -> our element name, and what must agree between the two. */
const AGREE: { label: string; name: string; same: (mkv: string, ours: Shown) => boolean }[] = [
  { label: 'Duration', name: 'Duration', same: (m, o) => o.meaning === m },
  { label: 'Timestamp scale', name: 'TimestampScale', same: (m, o) => o.raw === m },
  { label: 'Track number', name: 'TrackNumber', same: (m, o) => m.startsWith(o.text + ' ') },
  // The spec's label is "subtitle"; mkvinfo says "subtitles".
  { label: 'Track type', name: 'TrackType', same: (m, o) => m === o.meaning || m === o.meaning + 's' },
  {
    label: 'Default duration',
    name: 'DefaultDuration',
    same: (m, o) => {
      const x = /^(\S+) \(([\d.]+) frames\/fields per second/.exec(m);
      const f = /^(.*), ([\d.]+) fps$/.exec(o.meaning);
      return (
        !!x &&
        !!f &&
        hmsNs(x[1]) === Number(o.raw) &&
        Math.abs(shownNs(f[1]) - Number(o.raw)) <= 1 &&
        Math.abs(Number(x[2]) - Number(f[2])) < 0.001
      );
    },
  },
  {
    label: 'Codec-inherent delay',
    name: 'CodecDelay',
    same: (m, o) => hmsNs(m) === Number(o.raw) && shownNs(o.meaning) === hmsNs(m),
  },
  {
    label: 'Seek pre-roll',
    name: 'SeekPreRoll',
    same: (m, o) => hmsNs(m) === Number(o.raw) && shownNs(o.meaning) === hmsNs(m),
  },
  { label: 'Segment UID', name: 'SegmentUUID', same: (m, o) => m.replace(/0x| /g, '') === o.text.replace(/^0x/, '') },
  { label: 'Chapter time start', name: 'ChapterTimeStart', same: (m, o) => o.meaning === m },
  { label: 'Cluster timestamp', name: 'Timestamp', same: (m, o) => o.meaning === m },
  { label: 'Reference block', name: 'ReferenceBlock', same: (m, o) => shownNs(o.meaning) === hmsNs(m) },
  { label: 'Block duration', name: 'BlockDuration', same: (m, o) => shownNs(o.meaning) === hmsNs(m) },
  { label: 'Sampling frequency', name: 'SamplingFrequency', same: (m, o) => o.text === `${m} Hz` },
  { label: 'Date', name: 'DateUTC', same: (m, o) => `${o.meaning.slice(0, 19).replace('T', ' ')} UTC` === m },
  { label: 'Interlaced', name: 'FlagInterlaced', same: (m, o) => o.raw === m },
  { label: 'Pixel width', name: 'PixelWidth', same: (m, o) => o.text === m },
  { label: 'Codec ID', name: 'CodecID', same: (m, o) => o.text === JSON.stringify(m) },
  { label: 'Language', name: 'Language', same: (m, o) => o.text === JSON.stringify(m) },
  {
    label: "Codec's private data",
    name: 'CodecPrivate',
    same: (m, o) => o.text.startsWith(`<${/^size (\d+)/.exec(m)?.[1]} bytes>`),
  },
  { label: 'Discard padding', name: 'DiscardPadding', same: (m, o) => o.raw === m },
];

t.test('values read like mkvinfo on every fixture', { skip: !haveMkvinfo && 'mkvinfo not installed' }, async (t) => {
  const seen = new Set<string>();
  for (const name of fixtures) {
    const r = await inspect(join(FIX, name), { all: true });
    t.equal(r.code, 0, `${name}: exit code`);
    const ours = ourValues(r.stdout);
    const theirs = mkvinfoValues(mkvinfo(name));
    for (const a of AGREE) {
      const m = theirs.get(a.label) ?? [];
      const o = ours.get(a.name) ?? [];
      if (m.length === 0 && o.length === 0) continue;
      seen.add(a.label);
      t.equal(o.length, m.length, `${name}: as many ${a.name} as mkvinfo's "${a.label}"`);
      const bad = m.map((v, i) => ({ mkvinfo: v, ours: o[i]?.text })).filter((_x, i) => !o[i] || !a.same(m[i], o[i]));
      t.same(bad.slice(0, 3), [], `${name}: ${a.name} agrees with mkvinfo's "${a.label}" (${m.length} values)`);
    }
  }
  // Every comparison met at least one value somewhere, so none of them passes by being empty.
  t.same(
    AGREE.map((a) => a.label).filter((l) => !seen.has(l)),
    [],
    'every compared label occurs in the fixtures',
  );
});

interface ClusterCount {
  min: number;
  max: number;
  tracks: Map<number, { blocks: number; frames: number; keys: number }>;
}

function add(c: ClusterCount, track: number, frames: number, key: boolean, ts: number): void {
  const x = c.tracks.get(track) ?? { blocks: 0, frames: 0, keys: 0 };
  x.blocks++;
  x.frames += frames;
  if (key) x.keys++;
  c.tracks.set(track, x);
  c.min = Math.min(c.min, ts);
  c.max = Math.max(c.max, ts);
}

/** The blocks mkvinfo -v lists per cluster (a BlockGroup is a keyframe when it has no Reference block). */
function mkvinfoClusters(out: string): ClusterCount[] {
  const clusters: ClusterCount[] = [];
  let cur: ClusterCount | undefined;
  let group: { track: number; frames: number; ts: number; ref: boolean } | undefined;
  const endGroup = (): void => {
    if (cur && group) add(cur, group.track, group.frames, !group.ref, group.ts);
    group = undefined;
  };
  for (const line of out.split('\n')) {
    if (/^\|\+ /.test(line)) {
      endGroup();
      cur = undefined;
      if (line === '|+ Cluster') clusters.push((cur = { min: Infinity, max: -Infinity, tracks: new Map() }));
      continue;
    }
    if (!cur) continue;
    let m = /^\| \+ Simple block: ((?:[a-z]+, )*)track number (\d+), (\d+) frame\(s\), timestamp (\S+)/.exec(line);
    if (m) {
      endGroup();
      add(cur, Number(m[2]), Number(m[3]), m[1].includes('key,'), hmsNs(m[4]));
      continue;
    }
    if (/^\| \+ /.test(line)) endGroup();
    if (line === '| + Block group') group = { track: 0, frames: 0, ts: 0, ref: false };
    m = /^\| {2}\+ Block: track number (\d+), (\d+) frame\(s\), timestamp (\S+)/.exec(line);
    if (m && group) Object.assign(group, { track: Number(m[1]), frames: Number(m[2]), ts: hmsNs(m[3]) });
    if (/^\| {2}\+ Reference block/.test(line) && group) group.ref = true;
  }
  endGroup();
  return clusters;
}

/** Our cluster summary lines ("Cluster 3 ..." or "Clusters 1-10 ...") -> counts, with the cluster range. */
function ourClusterLines(tree: string): (ClusterCount & { first: number; last: number; line: string })[] {
  const out: (ClusterCount & { first: number; last: number; line: string })[] = [];
  for (const line of tree.split('\n')) {
    const m = /^ *Clusters? (\d+)(?:-(\d+))? \(0x1F43B675\) [^:]*: (\S+) - (\S+), (.*)$/.exec(line);
    if (!m) continue;
    const tracks = new Map<number, { blocks: number; frames: number; keys: number }>();
    for (const x of m[5].matchAll(/track (\d+): (\d+) blocks? \((?:(\d+) frames?, )?(\d+) key\)/g)) {
      tracks.set(Number(x[1]), { blocks: Number(x[2]), frames: Number(x[3] ?? x[2]), keys: Number(x[4]) });
    }
    out.push({ first: Number(m[1]), last: Number(m[2] ?? m[1]), min: hmsNs(m[3]), max: hmsNs(m[4]), tracks, line });
  }
  return out;
}

t.test(
  '--clusters: each line counts the blocks mkvinfo -v lists in that cluster',
  { skip: !haveMkvinfo && 'mkvinfo not installed' },
  async (t) => {
    for (const name of fixtures) {
      const theirs = mkvinfoClusters(mkvinfo(name));
      const r = await inspect(join(FIX, name), { clusters: true });
      const ours = ourClusterLines(r.stdout);
      t.equal(ours.length, theirs.length, `${name}: one line per cluster (${theirs.length})`);
      t.ok(theirs.length > 0, `${name}: mkvinfo lists clusters`);
      theirs.forEach((c, i) => {
        const o = ours[i];
        if (!o) return;
        t.same(
          { first: o.first, min: o.min, max: o.max, tracks: [...o.tracks].sort((a, b) => a[0] - b[0]) },
          { first: i + 1, min: c.min, max: c.max, tracks: [...c.tracks].sort((a, b) => a[0] - b[0]) },
          `${name} cluster ${i + 1}`,
        );
      });
    }
  },
);

interface Truth {
  streams: { index: number; codec_type: string }[];
  packets: { stream_index: number; flags: string }[];
}

t.test('the default tree: collapsed runs add up to the ffprobe truth, in few lines', async (t) => {
  for (const name of fixtures) {
    const truth = JSON.parse(readFileSync(join(FIX, name + '.truth.json'), 'utf8')) as Truth;
    const [r, clusters] = await Promise.all([inspect(join(FIX, name)), inspect(join(FIX, name), { clusters: true })]);
    t.equal(r.code, 0, name);
    t.notMatch(
      r.stdout,
      /\n *(SimpleBlock|BlockGroup|CuePoint|Seek) \(/,
      `${name}: no block, cue point or seek entry listed`,
    );
    const runs = ourClusterLines(r.stdout);
    const perCluster = ourClusterLines(clusters.stdout);
    // The runs cover every cluster once, in order.
    t.same(
      runs.map((x) => [x.first, x.last]),
      runs.map((x, i) => [i === 0 ? 1 : runs[i - 1].last + 1, x.last]),
      `${name}: runs are consecutive`,
    );
    t.equal(runs[runs.length - 1]?.last, perCluster.length, `${name}: runs cover all ${perCluster.length} clusters`);
    const total = new Map<number, { frames: number; keys: number }>();
    for (const x of runs)
      for (const [n, c] of x.tracks) {
        const s = total.get(n) ?? { frames: 0, keys: 0 };
        s.frames += c.frames;
        s.keys += c.keys;
        total.set(n, s);
      }
    for (const s of truth.streams) {
      if (s.codec_type === 'attachment') continue;
      const packets = truth.packets.filter((p) => p.stream_index === s.index);
      t.equal(total.get(s.index + 1)?.frames ?? 0, packets.length, `${name} track ${s.index + 1}: frames`);
      if (s.codec_type === 'video')
        t.equal(
          total.get(s.index + 1)?.keys,
          packets.filter((p) => p.flags.includes('K')).length,
          `${name} track ${s.index + 1}: keyframes`,
        );
    }
    const lines = r.stdout.split('\n').length - 1;
    const all = await inspect(join(FIX, name), { all: true });
    t.ok(
      lines < all.stdout.split('\n').length - 1,
      `${name}: ${lines} lines instead of ${all.stdout.split('\n').length - 1}`,
    );
  }
  // The demo: mkvinfo needs 65 lines (it stops at the first cluster); every block took 960.
  const demo = await inspect(join(FIX, 'demo.webm'));
  const n = demo.stdout.split('\n').length - 1;
  t.ok(n <= 70, `demo.webm: ${n} lines`);
  t.match(
    demo.stdout,
    /\n {2}Clusters 1-10 \(0x1F43B675\) 597\.8 KiB: 00:00:00\.000000000 - 00:00:10\.001000000, track 1: 300 blocks \(10 key\), track 2: 501 blocks \(501 key\), a cluster every 1 s, each starts on a keyframe\n/,
  );
  // Clusters that do not all start on a keyframe still make one run, which counts them.
  const [live, gst] = await Promise.all([
    inspect(join(FIX, 'pipe-live.mkv')),
    inspect(join(FIX, 'gstreamer-streamable.webm')),
  ]);
  t.match(live.stdout, /\n {2}Clusters 1-4 \(0x1F43B675\) .*, 3 of 4 start on a keyframe \(track 1 not in 1\)\n/);
  t.match(gst.stdout, /\n {2}Clusters 1-3 \(0x1F43B675\) .*, 0 of 3 start on a keyframe \(track 2 not in 3\)\n/);
  t.match(
    demo.stdout,
    /\n {2}SeekHead \(0x114D9B74\) size 59: Info at byte 209, Tracks at byte 246, Tags at byte 419, Cues at byte 612747\n/,
  );
});

interface JNode {
  name: string;
  value?: unknown;
  display?: string;
  children?: JNode[];
}

t.test('--all lists every element of the JSON tree; --json adds "display" and keeps the raw value', async (t) => {
  for (const name of ['demo.webm', 'mkvmerge-features.mkv', 'gstreamer-streamable.webm']) {
    if (!fixtures.includes(name)) continue;
    const [all, json] = await Promise.all([
      inspect(join(FIX, name), { all: true }),
      inspect(join(FIX, name), { json: true }),
    ]);
    const doc = JSON.parse(json.stdout) as { elements: JNode[] };
    const nodes: JNode[] = [];
    const walk = (list: JNode[]): void => {
      for (const n of list) {
        nodes.push(n);
        if (n.children) walk(n.children);
      }
    };
    walk(doc.elements);
    t.equal(all.stdout.split('\n').length - 1, nodes.length, `${name}: one text line per element`);
    t.notMatch(all.stdout, /collapsed/, `${name}: nothing collapsed`);
    for (const n of nodes) {
      if (n.name === 'TrackType') {
        t.equal(
          n.display,
          ELEMENT_BY_ID.get(Id.TrackType)!.enum![String(n.value)],
          `${name}: TrackType label from the schema`,
        );
        t.type(n.value, 'number', 'raw value stays a number');
      }
      if (n.name === 'SeekID')
        t.equal(n.display, ELEMENT_BY_ID.get(Number.parseInt((n.value as { hex: string }).hex, 16))?.name);
      if (n.name === 'Duration') t.match(n.display, /^\d\d:\d\d:\d\d\.\d{9}$/);
      if (n.name === 'CodecID' || n.name === 'SimpleBlock') t.equal(n.display, undefined, `${n.name}: no display`);
    }
  }
});

t.test('limits inside a collapsed cluster: what was read is summed up', async (t) => {
  const r = await inspect(join(FIX, 'demo.webm'), { maxFrames: 10 });
  t.equal(r.code, 0);
  const lines = ourClusterLines(r.stdout);
  t.equal(lines.length, 1);
  const blocks = [...lines[0].tracks.values()].reduce((a, c) => a + c.blocks, 0);
  t.equal(blocks, 10, 'the ten blocks read');
  t.match(r.stdout, /\n\(stopped after 10 blocks\)\n/);
  const d = await inspect(join(FIX, 'demo.webm'), { duration: 2.5 });
  const dl = ourClusterLines(d.stdout);
  t.same(
    dl.map((x) => [x.first, x.last]),
    [[1, 3]],
    'three clusters in one run',
  );
  t.ok(dl[0].max < 2.5e9 && dl[0].max > 2.4e9, `up to 2.5 s (${formatTime(dl[0].max)})`);
});

t.test('the value formatter', (t) => {
  const info = (name: string): ElementInfo => ELEMENT_BY_NAME.get(name)!;
  const ctx: FormatContext = { timestampScale: 1_000_000, segmentDataOffset: 48 };
  const show = (name: string, v: number | bigint | string | Uint8Array, c = ctx): string =>
    showValue(info(name), v, c).text;
  t.equal(formatTime(3_723_004_005_006), '01:02:03.004005006');
  t.equal(formatTime(-40e6), '-00:00:00.040000000');
  t.equal(formatSpan(40e6), '40 ms');
  t.equal(formatSpan(6.5e6), '6.5 ms');
  t.equal(formatSpan(125_000), '125 µs');
  t.equal(formatSpan(2.5e9), '2.5 s');
  t.equal(formatSpan(90e9), '00:01:30.000000000');
  t.equal(formatBytes(1000), '1000 bytes');
  t.equal(formatBytes(1536), '1.5 KiB');
  t.equal(formatBytes(3 * 1024 ** 3), '3.0 GiB');
  // Enum labels and bit fields, from the generated table.
  t.equal(show('TrackType', 17), 'subtitle (17)');
  t.equal(show('TrackType', 99), '99', 'a value the spec does not name: raw only');
  t.equal(show('ContentCompAlgo', 3), 'Header Stripping (3)');
  t.equal(show('ContentEncodingScope', 3), 'Block|Private (3)');
  t.equal(show('ContentEncodingScope', 9), 'Block|0x8 (9)');
  t.equal(show('StereoMode', 1), 'side by side (left eye first) (1)');
  t.equal(show('FlagDefault', 1), 'yes (1)');
  // Times: ticks scaled by TimestampScale, ns as they are.
  t.equal(show('Duration', 8008), '00:00:08.008000000 (8008)');
  t.equal(show('Duration', 30213, { timestampScale: 100_000, segmentDataOffset: 48 }), '00:00:03.021300000 (30213)');
  t.equal(show('DefaultDuration', 40_000_000), '40 ms, 25 fps (40000000)');
  t.equal(show('DefaultDuration', 41_708_333), '41.708333 ms, 23.976 fps (41708333)');
  t.equal(show('TimestampScale', 1_000_000), '1 ms per tick (1000000)');
  t.equal(show('ReferenceBlock', -40), '-40 ms (-40)');
  t.equal(show('Timestamp', 0), '00:00:00.000000000 (0)', 'a time point stays HH:MM:SS');
  t.equal(show('DateUTC', 0n), '2001-01-01T00:00:00.000Z (0)');
  // IDs, positions, sizes, frequencies.
  t.equal(show('TrackUID', 16536694722986441709n), '0xE57E243C42AEFBED (16536694722986441709)');
  t.equal(show('SegmentUUID', new Uint8Array(16).fill(0xab)), '0x' + 'ab'.repeat(16));
  t.equal(show('SeekID', Uint8Array.of(0x1f, 0x43, 0xb6, 0x75)), 'Cluster (0x1F43B675)');
  t.equal(show('SeekID', Uint8Array.of(0x12, 0x34)), '0x1234', 'an ID the schema does not know');
  t.equal(show('SeekPosition', 161), 'byte 209 (161)');
  t.equal(show('SeekPosition', 161, { timestampScale: 1e6, segmentDataOffset: undefined }), '161');
  t.equal(show('PrevSize', 56675), '55.3 KiB (56675)');
  t.equal(show('SamplingFrequency', 44100), '44100 Hz');
  t.equal(show('CRC-32', Uint8Array.of(0x78, 0x56, 0x34, 0x12)), '0x12345678', 'CRC-32 is little-endian');
  t.equal(show('CodecPrivate', Uint8Array.of(1, 2, 3)), '<3 bytes> 010203');
  t.equal(show('Void', new Uint8Array(88)), '<88 bytes>');
  t.equal(show('CodecID', 'V_VP8'), '"V_VP8"');
  t.equal(showValue(undefined, 5, ctx).text, '5', 'an element the schema does not know');
  t.end();
});

t.test('inspect --help names every flag, with examples and the exit codes', async (t) => {
  const r = await new Promise<RunResult>((resolve) => {
    const p = spawn(process.execPath, [BIN, 'inspect', '--help'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    p.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
  t.equal(r.code, 0);
  // Every option of runInspect has its flag.
  const flags = [
    '--summary',
    '--frames',
    '--json',
    '--offsets',
    '--clusters',
    '--blocks',
    '--cues',
    '--all',
    '--max-frames',
    '--duration',
  ];
  for (const f of flags) t.match(r.stdout, new RegExp(`\\n +${f} +\\S`), f);
  t.match(r.stdout, /\nExamples:\n/);
  t.ok(r.stdout.split('\n').filter((l) => /^ {2}(mkvserve inspect|curl)/.test(l)).length >= 6, 'examples');
  t.match(r.stdout, /Exit codes: 0 clean input; 2 damaged input/);
});

t.test('a live URL that never ends: cluster lines appear while it is read', async (t) => {
  // pipe-live.webm up to its 4th Cluster (3 similar ones: one run) over ~6 s, then the connection stays open:
  // the run is printed because it took more than 2 s to read, not because something else followed it.
  const file = readFileSync(join(FIX, 'pipe-live.webm'));
  const id = Buffer.from([0x1f, 0x43, 0xb6, 0x75]);
  let at = -1;
  for (let n = 0; n < 4; n++) at = file.indexOf(id, at + 1);
  const body = file.subarray(0, at);
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'video/webm' });
    let i = 0;
    const iv = setInterval(() => {
      if (i < body.length) res.write(body.subarray(i, (i += 1000)));
    }, 60);
    res.on('close', () => clearInterval(iv));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  const addr = server.address();
  const url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}/live`;
  const p = spawn(process.execPath, [BIN, 'inspect', url], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  p.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  const exited = new Promise<number | null>((resolve) => p.on('close', (c) => resolve(c)));
  const deadline = Date.now() + 20_000;
  while (!/\n {2}Clusters? 1[ -]/.test(stdout) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  t.match(stdout, /\n {2}Clusters? 1[ -].*track 1: \d+ blocks/, 'a cluster line before the input ends');
  t.equal(p.exitCode, null, 'still reading');
  p.kill();
  await exited;
});
