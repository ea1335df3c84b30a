#!/usr/bin/env node
// Generates packages/ebml/src/schema.generated.ts from the official EBML + Matroska schema files
// (RFC 8794 EBMLSchema XML) in ../shared/spec/. Run with `pnpm gen:schema`; the output is committed.
// Usage: node scripts/gen-schema.mjs [SPEC_DIR] [--out FILE]   (defaults: ../shared/spec, the committed file;
// --out lets a test generate into a temporary file and compare it with the committed one)
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
let outArg;
const positional = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--out') outArg = args[++i];
  else if (args[i].startsWith('--out=')) outArg = args[i].slice(6);
  else positional.push(args[i]);
}
if (outArg === '' || (args.includes('--out') && outArg === undefined)) throw new Error('--out needs a file path');
const specDir = positional[0] ?? join(root, '..', 'shared', 'spec');
const out = outArg !== undefined ? resolve(outArg) : join(root, 'packages', 'ebml', 'src', 'schema.generated.ts');

const decode = (s) =>
  s
    .replace(/&gt;/g, '>')
    .replace(/&lt;/g, '<')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, '&');

function parseSchema(xml) {
  const elements = [];
  const re = /<element\s([^>]*?)(\/>|>([\s\S]*?)<\/element>)/g;
  for (let m; (m = re.exec(xml));) {
    const attrs = {};
    for (const a of m[1].matchAll(/([A-Za-z_:-]+)="([^"]*)"/g)) attrs[a[1]] = decode(a[2]);
    const body = m[3] ?? '';
    const webm = /<extension\s+type="webmproject\.org"\s+webm="1"/.test(body);
    const def = body.match(/<documentation lang="en" purpose="definition">([\s\S]*?)<\/documentation>/);
    const enums = [...body.matchAll(/<enum\s+value="([^"]*)"\s+label="([^"]*)"/g)].map((x) => [
      decode(x[1]),
      decode(x[2]),
    ]);
    const bitField = /<extension\s+type="enum source"[^>]*\sbitfield="1"/.test(body);
    elements.push({ attrs, webm, doc: def ? decode(def[1]).replace(/\s+/g, ' ').trim() : '', enums, bitField });
  }
  return elements;
}

const byId = new Map();
for (const file of ['ebml.xml', 'ebml_matroska.xml']) {
  const xml = readFileSync(join(specDir, file), 'utf8');
  for (const e of parseSchema(xml)) {
    const a = e.attrs;
    const id = Number.parseInt(a.id, 16);
    const prev = byId.get(id);
    // ebml_matroska.xml restates some EBML header elements with Matroska's tighter ranges: later wins.
    byId.set(id, {
      ...(prev ?? {}),
      ...a,
      id,
      webm: e.webm || prev?.webm || false,
      doc: e.doc || prev?.doc || '',
      enums: e.enums.length > 0 ? e.enums : (prev?.enums ?? []),
      bitField: e.bitField || prev?.bitField || false,
    });
  }
}

const TYPES = new Set(['master', 'uinteger', 'integer', 'float', 'string', 'utf-8', 'date', 'binary']);
const nameToId = new Map();
for (const e of byId.values()) nameToId.set(e.name, e.id);

/**
 * The unit of a number, read from the wording of its definition in the spec ("expressed in Segment Ticks",
 * "in Hz", "The `Segment Position` of ..."): what a reader needs to show the value by its meaning.
 */
function unitOf(e) {
  if (e.type !== 'uinteger' && e.type !== 'integer' && e.type !== 'float') return undefined;
  const d = e.doc;
  if (/expressed in `?Segment`? Ticks/.test(d)) return 'segmentTicks';
  if (/expressed in `?Track`? Ticks/.test(d)) return 'trackTicks';
  if (/expressed in Matroska Ticks|\bin nanoseconds\b/.test(d)) return 'ns';
  if (/^The `Segment Position`/.test(d)) return 'segmentPosition';
  if (/\bin (octets|bytes)\b/.test(d)) return 'bytes';
  if (/\bin Hz\b/.test(d)) return 'Hz';
  return undefined;
}

/** Named values from the spec's <restriction>, keyed by value (integers in decimal, as a reader compares them). */
function enumOf(e) {
  if (e.enums.length === 0) return undefined;
  const out = {};
  for (const [v, label] of e.enums) {
    const key = e.type === 'uinteger' || e.type === 'integer' ? String(Number(v)) : v;
    if (key === 'NaN') throw new Error(`enum value ${v} of ${e.name} is not a number`);
    out[key] = label;
  }
  return out;
}

const rows = [];
for (const e of [...byId.values()].sort((x, y) => x.path.localeCompare(y.path))) {
  if (!TYPES.has(e.type)) throw new Error(`unknown type ${e.type} for ${e.name}`);
  const g = e.path.match(/^\\\((\d*)-(\d*)\\\)(.*)$/);
  const parts = (g ? g[3] : e.path).split('\\').filter(Boolean);
  let level;
  let parent;
  let global = false;
  if (g) {
    // Global element: "\(-\)Void" (any level), "\(1-\)CRC-32" (level 1 or deeper).
    global = true;
    level = g[1] === '' ? 0 : Number(g[1]);
    parent = -1;
  } else {
    level = parts.length - 1;
    const p = parts.length >= 2 ? parts[parts.length - 2].replace(/^\+/, '') : null;
    parent = p === null ? 0 : nameToId.get(p);
    if (parent === undefined) throw new Error(`no parent ${p} for ${e.name}`);
  }
  const recursive = parts[parts.length - 1].startsWith('+') || e.recursive === '1';
  const row = {
    id: e.id,
    name: e.name,
    type: e.type,
    path: e.path,
    level,
    parent,
  };
  if (global) row.global = true;
  if (recursive) row.recursive = true;
  if (e.unknownsizeallowed === '1') row.unknownSizeAllowed = true;
  if (e.maxOccurs === '1') row.maxOccurs = 1;
  if (e.minOccurs) row.minOccurs = Number(e.minOccurs);
  if (e.default !== undefined) row.default = e.default;
  if (e.range !== undefined) row.range = e.range;
  if (e.length !== undefined) row.length = e.length;
  if (e.minver !== undefined) row.minver = Number(e.minver);
  if (e.maxver !== undefined) row.maxver = Number(e.maxver);
  if (e.webm) row.webm = true;
  const unit = unitOf(e);
  if (unit !== undefined) row.unit = unit;
  const en = enumOf(e);
  if (en !== undefined) row.enum = en;
  if (e.bitField) row.bitField = true;
  rows.push(row);
}

const hex = (n) => '0x' + n.toString(16).toUpperCase();
const constName = (n) => n.replace(/[^A-Za-z0-9]/g, '');
let ts = `// GENERATED by scripts/gen-schema.mjs from ../shared/spec/ebml.xml and ebml_matroska.xml. Do not edit.
// Schema sources: ietf-wg-cellar/ebml-specification and matroska-specification (CC BY 4.0).

/** EBML element value types (RFC 8794 section 7). */
export type ElementType = 'master' | 'uinteger' | 'integer' | 'float' | 'string' | 'utf-8' | 'date' | 'binary';

/** Unit of a numeric element (see ElementInfo.unit). */
export type ElementUnit = 'ns' | 'segmentTicks' | 'trackTicks' | 'segmentPosition' | 'bytes' | 'Hz';

/** One row of the element table. */
export interface ElementInfo {
  /** The ID with its length marker bits, e.g. 0x1A45DFA3 for EBML. */
  readonly id: number;
  readonly name: string;
  readonly type: ElementType;
  /** The schema path, e.g. "\\\\Segment\\\\Cluster\\\\SimpleBlock". */
  readonly path: string;
  /** Depth below the root (EBML and Segment are 0); for global elements the minimum level. */
  readonly level: number;
  /** ID of the parent element; 0 for a root element, -1 for a global element (Void, CRC-32). */
  readonly parent: number;
  readonly global?: true;
  /** May contain itself (ChapterAtom, SimpleTag). */
  readonly recursive?: true;
  readonly unknownSizeAllowed?: true;
  readonly maxOccurs?: 1;
  readonly minOccurs?: number;
  /** Default value as written in the schema. */
  readonly default?: string;
  readonly range?: string;
  readonly length?: string;
  readonly minver?: number;
  readonly maxver?: number;
  /** Part of the WebM subset. */
  readonly webm?: true;
  /**
   * Unit of a number, from the spec's wording: \`ns\` (Matroska Ticks, nanoseconds), \`segmentTicks\` (times
   * TimestampScale), \`trackTicks\` (times TimestampScale and TrackTimestampScale), \`segmentPosition\` (bytes
   * from the start of the Segment's data), \`bytes\`, \`Hz\`.
   */
  readonly unit?: ElementUnit;
  /** Named values from the spec (value -> label; integer values in decimal), e.g. TrackType 1 -> "video". */
  readonly enum?: Readonly<Record<string, string>>;
  /** The enum values are bits that can be OR'ed (ContentEncodingScope). */
  readonly bitField?: true;
}

/** Every element of the EBML header and Matroska schemas. */
export const ELEMENTS: readonly ElementInfo[] = [
`;
for (const r of rows) {
  const parts = Object.entries(r).map(([k, v]) => {
    if (k === 'id' || (k === 'parent' && v > 0)) return `${k}: ${hex(v)}`;
    return `${k}: ${JSON.stringify(v)}`;
  });
  ts += `  { ${parts.join(', ')} },\n`;
}
ts += `];

/** Element IDs by name, e.g. \`Id.SimpleBlock === 0xA3\`. */
export const Id = {
${rows
  .slice()
  .sort((a, b) => a.name.localeCompare(b.name))
  .map((r) => `  ${constName(r.name)}: ${hex(r.id)},`)
  .join('\n')}
} as const;

/** Element table indexed by ID. */
export const ELEMENT_BY_ID: ReadonlyMap<number, ElementInfo> = new Map(ELEMENTS.map((e) => [e.id, e]));

/** Element table indexed by name. */
export const ELEMENT_BY_NAME: ReadonlyMap<string, ElementInfo> = new Map(ELEMENTS.map((e) => [e.name, e]));
`;
writeFileSync(out, ts);
console.log(`wrote ${rows.length} elements to ${out}`);
