// How `mkvserve inspect` shows a value: by its meaning (a time, an enum label, yes/no, a UID in hex, the
// element a SeekID points to, an absolute byte offset, a size) with the raw value alongside, so the tree
// reads like mkvinfo and still shows what is stored. What an element means comes from the generated schema
// table (units and enum labels are read from the spec by scripts/gen-schema.mjs), not from lists kept here;
// only a few readings no table holds (frame rate, SeekID targets) are written out below.
import { ELEMENT_BY_ID, Id } from '@mkvserve/ebml/schema';
import type { ElementInfo } from '@mkvserve/ebml/schema';
import type { EbmlValue } from '@mkvserve/ebml';

/** What the reader knows so far that changes how a value reads. */
export interface FormatContext {
  /** TimestampScale of the Segment: ns per Segment tick (default 1 ms). */
  timestampScale: number;
  /** Absolute offset of the Segment's data: the origin of Segment Positions (SeekPosition, CueClusterPosition). */
  segmentDataOffset: number | undefined;
}

/** A value as shown: `text` for the tree line; `display` (the meaning alone) for JSON, when it adds to `value`. */
export interface ShownValue {
  text: string;
  display?: string;
}

/** ns -> "HH:MM:SS.nnnnnnnnn" (mkvinfo style); negative values get a leading "-". */
export function formatTime(ns: number): string {
  const neg = ns < 0;
  let v = Math.round(Math.abs(ns));
  const frac = v % 1e9;
  v = Math.floor(v / 1e9);
  const s = v % 60;
  const m = Math.floor(v / 60) % 60;
  const h = Math.floor(v / 3600);
  const p2 = (n: number): string => String(n).padStart(2, '0');
  return `${neg ? '-' : ''}${p2(h)}:${p2(m)}:${p2(s)}.${String(frac).padStart(9, '0')}`;
}

/** A number with at most `digits` decimals, trailing zeros dropped: 33.333333, 40, 6.5. */
function trimmed(n: number, digits: number): string {
  const s = n.toFixed(digits);
  return s.includes('.') ? s.replace(/\.?0+$/, '') : s;
}

/** A span of time in ns in the unit that reads best: "40 ms", "6.5 ms", "125 µs", "2.5 s" (HH:MM:SS from 1 min). */
export function formatSpan(ns: number): string {
  const a = Math.abs(ns);
  if (a >= 60e9) return formatTime(ns);
  if (a >= 1e9) return `${trimmed(ns / 1e9, 6)} s`;
  if (a >= 1e6 || a === 0) return `${trimmed(ns / 1e6, 6)} ms`;
  if (a >= 1e3) return `${trimmed(ns / 1e3, 3)} µs`;
  return `${ns} ns`;
}

/** Bytes in binary units: "512 bytes", "55.3 KiB", "1.4 GiB". */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} byte${n === 1 ? '' : 's'}`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1)} ${units[i]}`;
}

/** Hex of the first `max` bytes (all when max is Infinity), lower case, "..." when cut. */
export function hexBytes(b: Uint8Array, max = 16): string {
  let s = '';
  const n = Math.min(b.length, max);
  for (let i = 0; i < n; i++) s += b[i].toString(16).padStart(2, '0');
  return b.length > max ? s + '...' : s;
}

/** An element ID as written in the spec: "0x1A45DFA3". */
export function idHex(id: number): string {
  return '0x' + id.toString(16).toUpperCase().padStart(2, '0');
}

/** ns since 2001-01-01 UTC (Matroska date) -> ISO 8601 (the raw value when out of range). */
export function dateIso(v: bigint): string {
  const ms = Number(v / 1_000_000n) + Date.UTC(2001, 0, 1);
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? v.toString() : d.toISOString();
}

/** Frames per second of a frame duration in ns, up to 3 decimals: 25, 29.97, 23.976. */
export function fps(ns: number): string {
  return trimmed(1e9 / ns, 3);
}

/** A uinteger that names something unique (TrackUID, ChapterUID, ...): shown in hex. */
function isUid(info: ElementInfo): boolean {
  return /UID$/.test(info.name);
}

/** A binary ID (SegmentUUID, PrevUUID, ChapterSegmentUUID, SegmentFamily, ...): shown whole, in hex. */
function isBinaryId(info: ElementInfo): boolean {
  return /(UUID|Family|TranslateID|TrackID)$/.test(info.name);
}

/** A time point (shown as HH:MM:SS even below a second) rather than a span. */
function isTimePoint(info: ElementInfo): boolean {
  return /Time/.test(info.name) || info.id === Id.Duration;
}

/** The meaning of an enum value; bit fields list the labels of the bits set. */
function enumLabel(info: ElementInfo, v: number | bigint): string | undefined {
  const e = info.enum;
  if (!e) return undefined;
  if (!info.bitField) return e[v.toString()];
  if (typeof v !== 'number') return undefined;
  const labels: string[] = [];
  let rest = v;
  for (const [bit, label] of Object.entries(e)) {
    const b = Number(bit);
    if ((v & b) !== 0) {
      labels.push(label);
      rest &= ~b;
    }
  }
  if (rest !== 0) labels.push('0x' + rest.toString(16));
  return labels.length > 0 ? labels.join('|') : undefined;
}

/** The meaning of a number that has a time unit (ticks or ns), or undefined. */
function timeMeaning(info: ElementInfo, v: number, ctx: FormatContext): string | undefined {
  let ns: number;
  if (info.unit === 'ns') ns = v;
  else if (info.unit === 'segmentTicks' || info.unit === 'trackTicks') ns = v * ctx.timestampScale;
  else return undefined;
  if (info.id === Id.TimestampScale) return `${formatSpan(v)} per tick`;
  if (info.id === Id.DefaultDuration && v > 0) return `${formatSpan(ns)}, ${fps(ns)} fps`;
  if (info.id === Id.DefaultDecodedFieldDuration && v > 0) return `${formatSpan(ns)}, ${fps(ns)} fields/s`;
  return isTimePoint(info) ? formatTime(ns) : formatSpan(ns);
}

function withRaw(meaning: string | undefined, raw: string): ShownValue {
  return meaning === undefined ? { text: raw } : { text: `${meaning} (${raw})`, display: meaning };
}

/** A number (uinteger, integer, float) by its meaning. */
function numberValue(info: ElementInfo, v: number | bigint, ctx: FormatContext): ShownValue {
  const raw = v.toString();
  const label = enumLabel(info, v);
  if (label !== undefined) return withRaw(label, raw);
  if (info.type === 'uinteger' && info.range === '0-1' && (v === 0 || v === 1)) return withRaw(v ? 'yes' : 'no', raw);
  if (info.type === 'uinteger' && isUid(info)) return withRaw('0x' + v.toString(16).toUpperCase(), raw);
  if (typeof v !== 'number' || !Number.isFinite(v)) return { text: raw };
  switch (info.unit) {
    case 'Hz':
      return { text: `${raw} Hz`, display: `${raw} Hz` };
    case 'bytes':
      return withRaw(v >= 1024 ? formatBytes(v) : undefined, raw);
    case 'segmentPosition':
      return withRaw(ctx.segmentDataOffset !== undefined ? `byte ${ctx.segmentDataOffset + v}` : undefined, raw);
    default:
      return withRaw(timeMeaning(info, v, ctx), raw);
  }
}

/** A binary by its meaning: the element a SeekID names, IDs and CRCs in hex, else its length and first bytes. */
function binaryValue(info: ElementInfo | undefined, v: Uint8Array): ShownValue {
  const id = info?.id;
  if (id === Id.SeekID && v.length >= 1 && v.length <= 4) {
    const target = v.reduce((a, b) => a * 256 + b, 0);
    const raw = idHex(target);
    const name = ELEMENT_BY_ID.get(target)?.name;
    return withRaw(name, raw);
  }
  if (id === Id.CRC32 && v.length === 4) {
    // EBML stores the CRC-32 little-endian.
    const crc = (v[0] | (v[1] << 8) | (v[2] << 16) | (v[3] << 24)) >>> 0;
    return { text: '0x' + crc.toString(16).toUpperCase().padStart(8, '0') };
  }
  if (id === Id.Void) return { text: `<${v.byteLength} bytes>` };
  if (info && isBinaryId(info) && v.length <= 64) return { text: '0x' + hexBytes(v, Infinity) };
  return { text: `<${v.byteLength} bytes>${v.byteLength ? ' ' + hexBytes(v) : ''}` };
}

/** A leaf value as the tree shows it. */
export function showValue(info: ElementInfo | undefined, v: EbmlValue, ctx: FormatContext): ShownValue {
  if (v instanceof Uint8Array) return binaryValue(info, v);
  if (typeof v === 'string') return { text: JSON.stringify(v) };
  if (typeof v === 'bigint' && info?.type === 'date') return withRaw(dateIso(v), v.toString());
  if (!info) return { text: v.toString() };
  return numberValue(info, v, ctx);
}

/** The size part of a line: "size 612892", with binary units from 1 KiB ("size 612892 (598.5 KiB)"). */
export function sizeText(size: number, human: boolean): string {
  if (size < 0) return 'size unknown';
  return human && size >= 1024 ? `size ${size} (${formatBytes(size)})` : `size ${size}`;
}
