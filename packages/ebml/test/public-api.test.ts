// The public API of @mkvserve/ebml is a decision, not an accident (issue 8 item 13): this test pins every
// name (values and types) of the three entry points, read with the TypeScript compiler from the sources,
// and checks the package's exports map: the entries load, internals stay out of reach and out of the .d.ts.
// Adding a name? Add it here too, on purpose. Building blocks go to '@mkvserve/ebml/advanced'.
import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const PKG = join(dirname(fileURLToPath(import.meta.url)), '..');
const SRC = join(PKG, 'src');

/** @mkvserve/ebml: read, demux, mux, inspect. */
const MAIN = [
  'Attachment',
  'AudioSettings',
  'BlockAddition',
  'BlockHeader',
  'ChapterAtom',
  'ContainerKind',
  'ContentEncoding',
  'CuePoint',
  'DEFAULT_DECODE_BUDGET',
  'DEFAULT_MAX_DECOMPRESSED_SIZE',
  'DEFAULT_MAX_ELEMENT_SIZE',
  'DemuxHandler',
  'DemuxResult',
  'DemuxStats',
  'DemuxerOptions',
  'ELEMENT_BY_ID',
  'ELEMENT_BY_NAME',
  'EbmlError',
  'EbmlErrorCode',
  'EbmlErrorInit',
  'EbmlHeaderInfo',
  'EbmlReader',
  'EbmlReaderHandler',
  'EbmlReaderOptions',
  'EbmlValue',
  'Edition',
  'ElementHeader',
  'ElementInfo',
  'ElementNode',
  'ElementType',
  'EncodableNode',
  'EncodableValue',
  'EncodeTreeOptions',
  'Frame',
  'Id',
  'LacingMode',
  'MatroskaDemuxer',
  'MatroskaHeader',
  'MatroskaMuxer',
  'MatroskaMuxerOptions',
  'MuxerFinish',
  'MuxerLateMetadata',
  'MuxerPatch',
  'ParseTreeResult',
  'ParsedBlock',
  'SegmentInfo',
  'SimpleTag',
  'SniffResult',
  'Tag',
  'TrackInfo',
  'TrackKind',
  'UNKNOWN_SIZE',
  'VideoSettings',
  'applyPatches',
  'decodeDate',
  'decodeFloat',
  'decodeInt',
  'decodeString',
  'decodeUint',
  'demuxSync',
  'elementPath',
  'encodeElement',
  'encodeMasterHeader',
  'encodeTree',
  'muxToBytes',
  'parseBlock',
  'parseTree',
  'readBlockHeader',
  'readId',
  'readSize',
  'sniffContainer',
  'vintLength',
];

/** @mkvserve/ebml/advanced: building blocks. */
const ADVANCED = [
  'ByteWriter',
  'CRC32_INIT',
  'CodecFrameDuration',
  'ContentDecodingPlan',
  'DURATION_SLOT_SIZE',
  'InfoWriteOptions',
  'InitPartOptions',
  'LACING_EBML',
  'LACING_FIXED',
  'LACING_NONE',
  'LACING_XIPH',
  'MAX_LACES',
  'MAX_SAFE_SIZE',
  'MUXING_APP',
  'MetaNode',
  'SCOPE_CODEC_PRIVATE',
  'SCOPE_FRAMES',
  'SCOPE_NEXT',
  'VorbisSetup',
  'chooseLacing',
  'codecFrameDuration',
  'crc32',
  'crc32Final',
  'crc32Update',
  'decodeContent',
  'encodeBlock',
  'encodeBlockParts',
  'encodeClusterStart',
  'encodeCues',
  'encodeDurationSlot',
  'encodeInitPart',
  'encodeLaceHeader',
  'encodeLaces',
  'encodeSeekHead',
  'encodeVoid',
  'encodedBlockLength',
  'idLength',
  'inflateZlib',
  'initDocType',
  'intLength',
  'isValidId',
  'laceHeaderSize',
  'lacingName',
  'lacingNumber',
  'needsBlockGroup',
  'notMatroskaError',
  'opusPacketDuration',
  'opusPacketSamples',
  'parseAttachments',
  'parseAudioSpecificConfig',
  'parseChapters',
  'parseCues',
  'parseInfo',
  'parseTags',
  'parseTrackEntry',
  'parseTracks',
  'parseVorbisSetup',
  'planContentDecoding',
  'readLaceSizes',
  'readSignedVint',
  'signedVintLength',
  'sizeLength',
  'splitLaces',
  'stripHeader',
  'trackKind',
  'typeOfId',
  'uintLength',
  'writeAttachments',
  'writeChapters',
  'writeEbmlHeader',
  'writeId',
  'writeInfo',
  'writeLaceHeader',
  'writeSegmentStart',
  'writeSignedVint',
  'writeSize',
  'writeTags',
  'writeTrackEntry',
  'writeTracks',
  'writeUnknownSize',
  'writeVoid',
];

/** @mkvserve/ebml/node: everything in MAIN, plus the Node adapters. */
const NODE_ONLY = [
  'DEFAULT_FILE_HWM',
  'DemuxBatch',
  'DemuxSource',
  'FileChunksOptions',
  'MatroskaFileSink',
  'NodeDemuxOptions',
  'RemuxDestination',
  'RemuxMetadata',
  'RemuxOptions',
  'RemuxResult',
  'createDemuxStream',
  'demuxAll',
  'demuxBatches',
  'demuxFrames',
  'readFileChunks',
  'readSeekHeadMetadata',
  'remux',
  'writeMatroskaFile',
];

function exportNames(entry: string, program: ts.Program): string[] {
  const checker = program.getTypeChecker();
  const sf = program.getSourceFile(join(SRC, entry));
  const sym = sf && checker.getSymbolAtLocation(sf);
  if (!sym) throw new Error(`cannot read ${entry}`);
  return checker
    .getExportsOfModule(sym)
    .map((s) => s.name)
    .sort();
}

t.test('the export lists of the entry points are pinned', async (t) => {
  const entries = ['index.ts', 'advanced.ts', 'node/index.ts'];
  const program = ts.createProgram(
    entries.map((e) => join(SRC, e)),
    {
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      target: ts.ScriptTarget.ES2022,
      types: ['node'],
      noEmit: true,
    },
  );
  t.same(exportNames('index.ts', program), [...MAIN].sort(), '@mkvserve/ebml');
  t.same(exportNames('advanced.ts', program), [...ADVANCED].sort(), '@mkvserve/ebml/advanced');
  t.same(exportNames('node/index.ts', program), [...MAIN, ...NODE_ONLY].sort(), '@mkvserve/ebml/node');
  t.same(
    MAIN.filter((n) => ADVANCED.includes(n)),
    [],
    'a name lives in one entry',
  );
});

t.test('the entries load through the exports map; internals do not', async (t) => {
  const main = await import('@mkvserve/ebml');
  const advanced = await import('@mkvserve/ebml/advanced');
  const node = await import('@mkvserve/ebml/node');
  const schema = await import('@mkvserve/ebml/schema');
  // Runtime names are the value exports of the pinned lists (types vanish at run time).
  t.ok(
    Object.keys(main).every((n) => MAIN.includes(n)),
    'main: only pinned names',
  );
  t.ok(
    Object.keys(advanced).every((n) => ADVANCED.includes(n)),
    'advanced: only pinned names',
  );
  t.ok(
    Object.keys(node).every((n) => MAIN.includes(n) || NODE_ONLY.includes(n)),
    'node: only pinned names',
  );
  t.equal(typeof advanced.encodeBlock, 'function', 'the fanout finds its building blocks');
  t.equal(schema.Id.SimpleBlock, main.Id.SimpleBlock, 'the schema subpath');
  for (const internal of ['writeLaceHeader', 'DURATION_SLOT_SIZE', 'encodeBlock', 'ByteWriter', 'KIND_BINARY']) {
    t.notOk(internal in main, `${internal} is not in the main entry`);
  }
  const deep = '@mkvserve/ebml/dist/values.js'; // a string: the type checker must not resolve it either
  await t.rejects(import(deep), /ERR_PACKAGE_PATH_NOT_EXPORTED|not exported/);
});

t.test('@internal declarations stay out of the .d.ts (stripInternal)', async (t) => {
  const dts = join(PKG, 'dist', 'values.d.ts');
  t.ok(existsSync(dts), 'built (pnpm test builds first)');
  const text = readFileSync(dts, 'utf8');
  t.match(text, /decodeUint/, 'public declarations are there');
  t.notMatch(text, /KIND_BINARY|validValueSize/, 'internal ones are not');
  t.notMatch(readFileSync(join(PKG, 'dist', 'node', 'demux.d.ts'), 'utf8'), /toChunks/);
});
