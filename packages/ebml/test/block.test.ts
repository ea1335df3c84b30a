// Block encoding: SimpleBlock bytes and flags, BlockGroup children, int16 limits, the parts variant
// (zero-copy payload) equal to the one-buffer variant, Cluster start, and ebml-stream reading our blocks.
import t from 'tap';
import type { Transform } from 'node:stream';
import fc from 'fast-check';
import ebmlStream from 'ebml-stream';
import { EbmlError } from '../src/errors.js';
import {
  encodeBlock,
  encodeBlockParts,
  encodeClusterStart,
  encodedBlockLength,
  needsBlockGroup,
} from '../src/matroska/block.js';
import { encodeInitPart } from '../src/matroska/init.js';
import { encodeMasterHeader } from '../src/writer.js';
import type { Frame, MatroskaHeader } from '../src/matroska/types.js';
import { cat as concat, hex } from '../testlib/build.js';

const frame = (f: Partial<Frame>): Frame => ({
  track: 1,
  timestamp: 0,
  keyframe: false,
  data: new Uint8Array([0xaa, 0xbb]),
  ...f,
});

t.test('SimpleBlock bytes and flags', async (t) => {
  t.equal(hex(encodeBlock(frame({ keyframe: true }), 5)), 'a3 86 81 00 05 80 aa bb');
  t.equal(hex(encodeBlock(frame({}), -1)), 'a3 86 81 ff ff 00 aa bb');
  t.equal(hex(encodeBlock(frame({ discardable: true, invisible: true }), 0)), 'a3 86 81 00 00 09 aa bb');
  t.equal(hex(encodeBlock(frame({ keyframe: true }), 32767).subarray(3, 6)), '7f ff 80');
  t.equal(hex(encodeBlock(frame({ keyframe: true }), -32768).subarray(3, 6)), '80 00 80');
  t.equal(
    hex(encodeBlock(frame({ track: 200, keyframe: true }), 0)),
    'a3 87 40 c8 00 00 80 aa bb',
    '2-byte track vint',
  );
  const big = encodeBlock(frame({ data: new Uint8Array(1000), keyframe: true }), 0);
  t.equal(hex(big.subarray(0, 3)), 'a3 43 ec', '2-byte size for 1004 bytes');
  t.equal(big.length, 3 + 1004);
});

t.test('int16 limits and bad input throw ENCODE', async (t) => {
  for (const rel of [32768, -32769, 1.5, NaN]) {
    t.throws(() => encodeBlock(frame({}), rel), { code: 'ENCODE' }, `rel ${rel}`);
    t.throws(() => encodeBlockParts(frame({}), rel), { code: 'ENCODE' });
  }
  t.throws(() => encodeBlock(frame({ track: 0 }), 0), EbmlError);
  t.throws(() => encodeClusterStart(-1), { code: 'ENCODE' });
});

t.test('BlockGroup: Block, BlockDuration, ReferenceBlock, BlockAdditions, DiscardPadding', async (t) => {
  t.notOk(needsBlockGroup(frame({})));
  t.ok(needsBlockGroup(frame({ blockGroup: true })));
  // keyframe in a BlockGroup: no ReferenceBlock
  t.equal(hex(encodeBlock(frame({ keyframe: true, blockGroup: true }), 3)), 'a0 88 a1 86 81 00 03 00 aa bb');
  t.equal(hex(encodeBlock(frame({ keyframe: true, blockDuration: 40 }), 0)), 'a0 8b a1 86 81 00 00 00 aa bb 9b 81 28');
  t.equal(hex(encodeBlock(frame({ references: [-40, 80] }), 0)), 'a0 8e a1 86 81 00 00 00 aa bb fb 81 d8 fb 81 50');
  t.equal(
    hex(encodeBlock(frame({ blockGroup: true }), 0)),
    'a0 8b a1 86 81 00 00 00 aa bb fb 81 ff',
    'non-key without refs: ReferenceBlock -1',
  );
  t.equal(
    hex(encodeBlock(frame({ keyframe: true, discardPadding: 6_500_000 }), 0)),
    'a0 8e a1 86 81 00 00 00 aa bb 75 a2 83 63 2e a0',
  );
  t.equal(
    hex(encodeBlock(frame({ keyframe: true, invisible: true, blockGroup: true }), 0).subarray(7, 8)),
    '08',
    'invisible bit in Block',
  );
  t.equal(
    hex(
      encodeBlock(
        frame({
          keyframe: true,
          additions: [
            { id: 1, data: new Uint8Array([1]) },
            { id: 4, data: new Uint8Array([2, 3]) },
          ],
        }),
        0,
      ),
    ),
    'a0 99 a1 86 81 00 00 00 aa bb 75 a1 8e a6 83 a5 81 01 a6 87 ee 81 04 a5 82 02 03',
  );
});

const frameArb: fc.Arbitrary<Frame> = fc.record(
  {
    track: fc.integer({ min: 1, max: 20000 }),
    timestamp: fc.constant(0),
    keyframe: fc.boolean(),
    data: fc.uint8Array({ maxLength: 400 }),
    discardable: fc.option(fc.boolean(), { nil: undefined }),
    invisible: fc.option(fc.boolean(), { nil: undefined }),
    blockGroup: fc.option(fc.boolean(), { nil: undefined }),
    references: fc.option(fc.array(fc.integer({ min: -100000, max: 100000 }), { maxLength: 2 }), { nil: undefined }),
    blockDuration: fc.option(fc.nat(), { nil: undefined }),
    additions: fc.option(
      fc.array(fc.record({ id: fc.integer({ min: 1, max: 300 }), data: fc.uint8Array({ maxLength: 20 }) }), {
        maxLength: 2,
      }),
      { nil: undefined },
    ),
    discardPadding: fc.option(fc.integer(), { nil: undefined }),
  },
  { requiredKeys: ['track', 'timestamp', 'keyframe', 'data'] },
);

t.test('property: parts concatenate to encodeBlock; payload is not copied; length helper agrees', async (t) => {
  fc.assert(
    fc.property(frameArb, fc.integer({ min: -32768, max: 32767 }), (f, rel) => {
      const one = encodeBlock(f, rel);
      const parts = encodeBlockParts(f, rel);
      if (parts[1] !== f.data) return false;
      return hex(concat(parts)) === hex(one) && encodedBlockLength(f) === one.length;
    }),
    { numRuns: 500 },
  );
  t.pass('ok');
});

t.test('Cluster start', async (t) => {
  t.equal(hex(encodeClusterStart(0)), '1f 43 b6 75 01 ff ff ff ff ff ff ff e7 81 00');
  t.equal(hex(encodeClusterStart(70000)), '1f 43 b6 75 01 ff ff ff ff ff ff ff e7 83 01 11 70');
  t.equal(hex(encodeClusterStart(2 ** 40).subarray(12)), 'e7 86 01 00 00 00 00 00');
});

// ---- ebml-stream reads what we wrote ----------------------------------------------------------------

const { EbmlStreamDecoder } = ebmlStream as unknown as { EbmlStreamDecoder: new () => Transform };
interface EsTag {
  id: number;
  size: number;
  position: number;
  data?: unknown;
  track?: number;
  value?: number;
  keyframe?: boolean;
  discardable?: boolean;
  payload?: Uint8Array;
}
async function esDecode(bytes: Uint8Array): Promise<EsTag[]> {
  const dec = new EbmlStreamDecoder();
  const tags: EsTag[] = [];
  dec.on('data', (tag: EsTag) => tags.push(tag));
  const done = new Promise<void>((resolve, reject) => {
    dec.on('end', () => resolve());
    dec.on('error', reject);
  });
  dec.end(Buffer.from(bytes));
  await done;
  return tags;
}

t.test('cross-check: ebml-stream parses our SimpleBlocks and BlockGroups', async (t) => {
  const frames = fc.sample(frameArb, { numRuns: 200, seed: 7 });
  const rels = fc.sample(fc.integer({ min: -32768, max: 32767 }), { numRuns: 200, seed: 8 });
  // a known-size wrapper (ebml-stream mishandles unknown sizes): a Cluster with known size
  const blocks = frames.map((f, i) => encodeBlock(f, rels[i]));
  const body = concat(blocks);
  const head = encodeMasterHeader(0x1f43b675, body.length);
  const tags = await esDecode(concat([head, body]));
  const blockTags = tags.filter((x) => x.id === 0xa3 || x.id === 0xa1);
  t.equal(blockTags.length, frames.length);
  let ok = 0;
  for (let i = 0; i < frames.length; i++) {
    const f = frames[i];
    const g = blockTags[i];
    const simple = !needsBlockGroup(f);
    const good =
      g.id === (simple ? 0xa3 : 0xa1) &&
      g.track === f.track &&
      g.value === rels[i] &&
      hex(Buffer.from(g.payload!)) === hex(f.data) &&
      (!simple || (g.keyframe === f.keyframe && g.discardable === !!f.discardable));
    if (good) ok++;
    else t.fail(`block ${i} differs`);
  }
  t.equal(ok, frames.length, 'every block: id, track, relative timestamp, flags, payload');
  const refs = tags.filter((x) => x.id === 0xfb).length;
  t.equal(
    refs,
    frames
      .filter((f) => needsBlockGroup(f) && !f.keyframe)
      .reduce((n, f) => n + Math.max(1, f.references?.length ?? 0), 0),
    'ReferenceBlock count',
  );
});

const header: MatroskaHeader = {
  ebml: {
    docType: 'webm',
    docTypeVersion: 4,
    docTypeReadVersion: 2,
    ebmlVersion: 1,
    ebmlReadVersion: 1,
    ebmlMaxIdLength: 4,
    ebmlMaxSizeLength: 8,
  },
  info: { timestampScale: 1_000_000, title: 'test', duration: 5000e6 },
  segmentDataOffset: 0,
  segmentSize: -1,
  tracks: [
    {
      number: 1,
      uid: 0xdeadbeefcafen,
      kind: 'video',
      type: 1,
      codecId: 'V_VP9',
      defaultDuration: 40e6,
      flagDefault: true,
      language: 'und',
      name: 'v',
      video: {
        pixelWidth: 320,
        pixelHeight: 240,
        displayWidth: 640,
        displayHeight: 480,
        extra: { Colour: { Range: 1 }, StereoMode: 0 },
      },
    },
    {
      number: 2,
      uid: 2n,
      kind: 'audio',
      type: 2,
      codecId: 'A_OPUS',
      codecPrivate: new Uint8Array(19),
      codecDelay: 6_500_000,
      seekPreRoll: 80_000_000,
      audio: { samplingFrequency: 48000, channels: 2, bitDepth: 16 },
    },
  ],
};

t.test('init part: EBML header, unknown-size Segment, Info, Tracks (ebml-stream view)', async (t) => {
  const live = encodeInitPart(header, { live: true });
  t.equal(hex(live.subarray(0, 4)), '1a 45 df a3');
  const segAt = live.indexOf(0x18);
  t.equal(hex(live.subarray(segAt, segAt + 12)), '18 53 80 67 01 ff ff ff ff ff ff ff');
  // Replace the Segment header by nothing to let ebml-stream walk known-size elements only.
  const tags = await esDecode(concat([live.subarray(0, segAt), live.subarray(segAt + 12)]));
  const byId = (id: number) => tags.filter((x) => x.id === id && x.position === 1).map((x) => x.data);
  t.same(byId(0x4282), ['webm']);
  t.same(byId(0x4287), [4]);
  t.same(byId(0x4285), [2]);
  t.same(byId(0x2ad7b1), [1_000_000]);
  t.same(byId(0x4d80), ['mkvserve']);
  t.same(byId(0x7ba9), ['test']);
  t.same(byId(0x4489), [], 'no Duration when live');
  t.same(byId(0x86), ['V_VP9', 'A_OPUS']);
  t.same(byId(0xd7), [1, 2]);
  t.same(byId(0xb0), [320]);
  t.same(byId(0x54b0), [640]);
  // ebml-stream does not know Colour (0x55B0): it hands the whole master out as binary.
  t.same(
    tags.filter((x) => x.id === 0x55b0).map((x) => hex(Buffer.from(x.data as Uint8Array))),
    ['55 b9 81 01'],
    'Video extra: Colour > Range',
  );
  t.same(byId(0x53b8), [0], 'Video extra: StereoMode');
  t.same(byId(0xb5), [48000]);
  t.same(byId(0x56aa), [6_500_000]);
  t.same(byId(0x56bb), [80_000_000]);
  t.same(byId(0x23e383), [40_000_000]);
  t.equal(tags.filter((x) => x.id === 0x6d80).length, 0, 'no ContentEncodings');
  const file = encodeInitPart(header, { live: false, docType: 'matroska' });
  const ft = await esDecode(
    (() => {
      const s = file.indexOf(0x18);
      return concat([file.subarray(0, s), file.subarray(s + 12)]);
    })(),
  );
  t.same(
    ft.filter((x) => x.id === 0x4489 && x.position === 1).map((x) => x.data),
    [5000],
    'Duration in ticks when not live',
  );
  t.same(
    ft.filter((x) => x.id === 0x4282 && x.position === 1).map((x) => x.data),
    ['matroska'],
  );
});
