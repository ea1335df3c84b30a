// EBML push reader: a synchronous, streaming parser of EBML element headers and values. Chunks of any
// size are parsed in place (values inside one chunk are zero-copy views); only a header or leaf value
// that straddles chunks is assembled, once. Every size is bounded before it is trusted, unknown-size
// masters end per RFC 8794 section 6.2, CRC-32 elements can be verified, and after damage the reader
// reports one error and resynchronises on a confirmed level-1 element within a bounded window.

import { crc32Update, CRC32_INIT, crc32Final } from './crc32.js';
import { EbmlError, type EbmlErrorCode } from './errors.js';
import { ELEMENT_BY_ID, Id, type ElementInfo } from './schema.generated.js';
import {
  decodeDate,
  decodeFloat,
  decodeInt,
  decodeString,
  decodeUint,
  kindOf,
  KIND_BINARY,
  KIND_DATE,
  KIND_FLOAT,
  KIND_INT,
  KIND_MASTER,
  KIND_STRING,
  KIND_UINT,
  KIND_UTF8,
  validValueSize,
} from './values.js';
import { isValidId, readId, readSize } from './vint.js';

/**
 * A decoded leaf value. uinteger: number, or bigint when > Number.MAX_SAFE_INTEGER; integer: number
 * (bigint beyond the safe range); float: number; string/utf-8: string (trailing NULs removed); date:
 * bigint (ns since 2001-01-01 UTC); binary: Uint8Array (a view into the pushed chunk when the element
 * lies within one chunk, else a buffer the reader allocated for it).
 */
export type EbmlValue = number | bigint | string | Uint8Array;

/** One element as seen by the reader. Created once per element; never mutated afterwards. */
export interface ElementHeader {
  readonly id: number;
  /** Schema row; undefined for IDs not in the schema (reported as binary leaves). */
  readonly info: ElementInfo | undefined;
  /** Absolute offset of the element's first ID byte. */
  readonly offset: number;
  /** ID + size vint length in bytes. */
  readonly headerSize: number;
  /** Data size in bytes; -1 = unknown size. */
  readonly size: number;
  readonly dataOffset: number;
  /** Number of open masters around the element (0 = top level). */
  readonly depth: number;
  readonly parent: ElementHeader | undefined;
}

export interface EbmlReaderHandler {
  /** A master starts. Return false to skip its content (children are not reported; onMasterEnd still is). */
  onMasterStart?(el: ElementHeader): boolean | void;
  /**
   * A master ends at `endOffset` (absolute offset just after its last byte; for an unknown-size master,
   * the offset of the element that ended it). `damaged` is true when the master was closed early
   * because of damage (an error was reported just before) or because input ended inside it (TRUNCATED).
   */
  onMasterEnd?(el: ElementHeader, endOffset: number, damaged: boolean): void;
  /** A leaf value (also unknown IDs, as Uint8Array). Not called for streamed binaries. */
  onValue?(el: ElementHeader, value: EbmlValue): void;
  /**
   * A piece of a binary larger than `streamBinariesLargerThan`: `partOffset` is the offset of `part`
   * inside the element's data, `last` is true on the final piece. Pieces are views into pushed chunks.
   */
  onBinaryPart?(el: ElementHeader, part: Uint8Array, partOffset: number, last: boolean): void;
  /** An error; after a non-fatal one the reader goes on (skips the element or resyncs). */
  onError?(err: EbmlError): void;
  /** After damage, parsing resumed at `resumeOffset`; the bytes from `damageOffset` were skipped. */
  onResync?(damageOffset: number, resumeOffset: number): void;
}

/** Default `maxElementSize`: the largest binary leaf buffered or delivered whole (256 MiB). */
export const DEFAULT_MAX_ELEMENT_SIZE = 256 * 1024 * 1024;

export interface EbmlReaderOptions {
  /** Maximum nesting of masters (default 16). Deeper known-size masters are skipped with MAX_DEPTH. */
  maxDepth?: number;
  /** Largest binary leaf (and unknown-ID element) that is buffered or delivered (default 256 MiB). */
  maxElementSize?: number;
  /** Largest string / utf-8 value (default 16 MiB). */
  maxStringSize?: number;
  /** Binaries above this size are delivered in pieces through onBinaryPart, never buffered (default: never). */
  streamBinariesLargerThan?: number;
  /** Verify a CRC-32 that is the first child of a master against the rest of its data (default false). */
  verifyCrc?: boolean;
  /** Resynchronise after damage (default true). When false the first damage is fatal. */
  resync?: boolean;
  /** Bytes scanned looking for a resync point before giving up with a fatal RESYNC error (default 64 MiB). */
  maxResyncScan?: number;
  /** Element table to use instead of the generated Matroska schema. */
  schema?: ReadonlyMap<number, ElementInfo> | Iterable<ElementInfo>;
}

/** Element names from the root down to `el` ('Unknown' for IDs not in the schema). */
export function elementPath(el: ElementHeader): string[] {
  const names: string[] = [];
  for (let e: ElementHeader | undefined = el; e !== undefined; e = e.parent) names.push(e.info?.name ?? 'Unknown');
  return names.reverse();
}

// ---------------------------------------------------------------------------------------------------
// Internal tables

interface Rec {
  readonly info: ElementInfo;
  readonly id: number;
  readonly kind: number;
  readonly parent: number;
  readonly level: number;
  readonly global: boolean;
  readonly recursive: boolean;
  readonly unknownOk: boolean;
}

interface Tables {
  t1: (Rec | undefined)[];
  map: Map<number, Rec>;
  /** Level-1 (children of Segment) and root elements: resync candidates. */
  cands: Map<number, Rec>;
  candFirst: Uint8Array;
}

const SEGMENT = Id.Segment;
const CRC32_ID = Id.CRC32;
const CLUSTER = Id.Cluster;

function buildTables(infos: Iterable<ElementInfo>): Tables {
  const t1 = new Array<Rec | undefined>(256).fill(undefined);
  const map = new Map<number, Rec>();
  const cands = new Map<number, Rec>();
  const candFirst = new Uint8Array(256);
  for (const info of infos) {
    const rec: Rec = {
      info,
      id: info.id,
      kind: kindOf(info.type),
      parent: info.parent,
      level: info.level,
      global: info.global === true || info.parent === -1,
      recursive: info.recursive === true,
      unknownOk: info.unknownSizeAllowed === true,
    };
    if (info.id < 256) t1[info.id] = rec;
    map.set(info.id, rec);
    if (rec.kind === KIND_MASTER && (rec.parent === 0 || rec.parent === SEGMENT)) {
      cands.set(info.id, rec);
      let first = info.id;
      while (first >= 256) first = Math.floor(first / 256);
      candFirst[first] = 1;
    }
  }
  return { t1, map, cands, candFirst };
}

let defaultTables: Tables | undefined;

function tablesFor(schema: EbmlReaderOptions['schema']): Tables {
  if (schema === undefined) return (defaultTables ??= buildTables(ELEMENT_BY_ID.values()));
  return buildTables(schema instanceof Map ? schema.values() : (schema as Iterable<ElementInfo>));
}

class Header implements ElementHeader {
  readonly id: number;
  readonly info: ElementInfo | undefined;
  readonly offset: number;
  readonly headerSize: number;
  readonly size: number;
  readonly dataOffset: number;
  readonly depth: number;
  readonly parent: ElementHeader | undefined;
  constructor(
    id: number,
    info: ElementInfo | undefined,
    offset: number,
    headerSize: number,
    size: number,
    depth: number,
    parent: ElementHeader | undefined,
  ) {
    this.id = id;
    this.info = info;
    this.offset = offset;
    this.headerSize = headerSize;
    this.size = size;
    this.dataOffset = offset + headerSize;
    this.depth = depth;
    this.parent = parent;
  }
}

const M_HEADER = 0;
const M_LEAF = 1;
const M_STREAM = 2;
const M_SKIP = 3;
const M_RESYNC = 4;
const M_DEAD = 5;
const M_ENDED = 6;

const C_OK = 0;
const C_FAIL = 1;
const C_MORE = 2;

/** How far past a resync candidate the confirmation may look (bytes). */
const LOOKAHEAD = 64 * 1024;
const EMPTY = /* @__PURE__ */ new Uint8Array(0);

function hex(id: number): string {
  return '0x' + id.toString(16).toUpperCase();
}

function vlen(b: number): number {
  return b === 0 ? 0 : Math.clz32(b) - 23;
}

/** The streaming EBML reader. See EbmlReaderHandler for the callbacks and docs/CONTRACTS.md. */
export class EbmlReader {
  private readonly h: EbmlReaderHandler;
  private readonly t1: (Rec | undefined)[];
  private readonly tmap: Map<number, Rec>;
  private readonly cands: Map<number, Rec>;
  private readonly candFirst: Uint8Array;
  private readonly maxDepth: number;
  private readonly maxBinary: number;
  private readonly maxString: number;
  private readonly streamOver: number;
  private readonly verifyCrc: boolean;
  private readonly resyncOn: boolean;
  private readonly maxScan: number;
  private readonly hasValue: boolean;
  private readonly hasStart: boolean;
  private readonly hasEnd: boolean;
  private readonly hasPart: boolean;

  private pos = 0;
  private mode = M_HEADER;

  // Open masters, indexed by depth. ends[k]: absolute end of the data, or of the nearest known-size
  // ancestor for unknown-size masters (Infinity when there is none).
  private sp = 0;
  private readonly els: (Header | undefined)[] = [];
  private readonly ends: number[] = [];
  /** Depth of an unknown-size master whose content is being skipped quietly, or -1. */
  private quiet = -1;

  // CRC-32 state per depth (crcExp -1 = none).
  private crcActive = 0;
  private readonly crcExp: number[] = [];
  private readonly crcVal: number[] = [];
  private readonly crcFrom: number[] = [];

  // A header straddling chunks.
  private readonly hdr = new Uint8Array(16);
  private hdrFill = 0;
  private hdrOffset = 0;

  // The leaf being assembled, streamed or skipped.
  private cur: Header | null = null;
  private curKind = 0;
  private leaf: Uint8Array = EMPTY;
  private leafFill = 0;
  private remaining = 0;
  private streamed = 0;

  // The chunk being processed.
  private buf: Uint8Array = EMPTY;
  private base = 0;
  private procStartAbs = 0;

  // Resync window.
  private win: Uint8Array = EMPTY;
  private winAbs = 0;
  private winLen = 0;
  private scanStart = 0;
  private damageOffset = 0;
  private reinject: Uint8Array | null = null;
  private reinjectAbs = 0;

  private orphanReported = false;
  /** Depth of a known-size Segment read as unknown-size after a child overran it (relaxSegment), or -1. */
  private relaxed = -1;

  constructor(handler: EbmlReaderHandler, options: EbmlReaderOptions = {}) {
    this.h = handler;
    const t = tablesFor(options.schema);
    this.t1 = t.t1;
    this.tmap = t.map;
    this.cands = t.cands;
    this.candFirst = t.candFirst;
    this.maxDepth = Math.max(1, options.maxDepth ?? 16);
    this.maxBinary = options.maxElementSize ?? DEFAULT_MAX_ELEMENT_SIZE;
    this.maxString = options.maxStringSize ?? 16 * 1024 * 1024;
    this.streamOver = options.streamBinariesLargerThan ?? Infinity;
    this.verifyCrc = options.verifyCrc === true;
    this.resyncOn = options.resync !== false;
    this.maxScan = options.maxResyncScan ?? 64 * 1024 * 1024;
    this.hasValue = typeof handler.onValue === 'function';
    this.hasStart = typeof handler.onMasterStart === 'function';
    this.hasEnd = typeof handler.onMasterEnd === 'function';
    this.hasPart = typeof handler.onBinaryPart === 'function';
  }

  /** Absolute offset of the input consumed so far (everything pushed; partial elements are held). */
  get position(): number {
    return this.pos;
  }

  /** Parses a chunk. Synchronous; the callbacks run before it returns. Exceptions from callbacks propagate. */
  push(chunk: Uint8Array): void {
    if (this.mode === M_ENDED) throw new Error('EbmlReader.push() after end()');
    // Node Buffers (and other subclasses) make every subarray() go through their species constructor,
    // which is several times slower than a plain Uint8Array view: take one plain view per chunk.
    if (chunk.constructor !== Uint8Array) chunk = new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    this.feed(chunk);
  }

  /** End of input: reports TRUNCATED when inside an element, closes every open master (innermost first). */
  end(): void {
    if (this.mode === M_ENDED) return;
    while (this.mode === M_RESYNC) {
      if (this.scan(true)) {
        const r = this.reinject!;
        this.reinject = null;
        this.pos = this.reinjectAbs;
        this.feed(r);
        continue;
      }
      if (this.mode === M_RESYNC) {
        this.error(
          'RESYNC',
          this.scanStart,
          'no resync point found before the end of input',
          this.stackPath(null),
          false,
        );
        this.mode = M_DEAD;
      }
    }
    const pos = this.pos;
    let truncated = false;
    if (this.mode === M_HEADER && this.hdrFill > 0) {
      this.error('TRUNCATED', this.hdrOffset, 'input ended inside an element header', this.stackPath(null), false);
      truncated = true;
    } else if (this.mode === M_LEAF || this.mode === M_STREAM || this.mode === M_SKIP) {
      const el = this.cur;
      this.error(
        'TRUNCATED',
        el ? el.offset : pos,
        el
          ? `input ended inside ${el.info?.name ?? 'an element'} (${el.size - this.remainingOf()} of ${el.size} bytes)`
          : 'input ended inside a skipped element',
        el ? elementPath(el) : this.stackPath(null),
        false,
      );
      truncated = true;
    } else if (this.mode === M_HEADER) {
      for (let k = this.sp - 1; k >= 0; k--) {
        const el = this.els[k]!;
        if (el.size >= 0 && k !== this.relaxed && this.ends[k] > pos) {
          this.error('TRUNCATED', pos, `input ended inside ${el.info?.name ?? 'an element'}`, elementPath(el), false);
          truncated = true;
          break;
        }
      }
    }
    while (this.sp > 0) this.closeTop(pos, truncated);
    this.cur = null;
    this.leaf = EMPTY;
    this.mode = M_ENDED;
  }

  // -------------------------------------------------------------------------------------------------

  private remainingOf(): number {
    if (this.mode === M_LEAF) return this.cur!.size - this.leafFill;
    return this.remaining;
  }

  private feed(chunk: Uint8Array): void {
    let b = chunk;
    let off = 0;
    let pending: Uint8Array[] | null = null;
    for (;;) {
      while (off < b.length) {
        off = this.process(b, off);
        if (this.reinject !== null) {
          const r = this.reinject;
          this.reinject = null;
          pending ??= [];
          if (off < b.length) pending.push(b.subarray(off));
          this.pos = this.reinjectAbs;
          b = r;
          off = 0;
        }
      }
      if (pending === null || pending.length === 0) return;
      b = pending.pop()!;
      off = 0;
    }
  }

  private process(buf: Uint8Array, start: number): number {
    const len = buf.length;
    const base = this.pos - start;
    this.buf = buf;
    this.base = base;
    this.procStartAbs = this.pos;
    let i = start;
    while (i < len) {
      switch (this.mode) {
        case M_HEADER:
          i = this.hdrFill > 0 ? this.continueHeader(buf, i, len) : this.headers(buf, i, len, base);
          break;
        case M_LEAF:
          i = this.continueLeaf(buf, i, len);
          break;
        case M_STREAM:
          i = this.continueStream(buf, i, len);
          break;
        case M_SKIP: {
          const n = Math.min(this.remaining, len - i);
          i += n;
          this.remaining -= n;
          if (this.remaining === 0) {
            this.mode = M_HEADER;
            this.cur = null;
          }
          break;
        }
        case M_RESYNC:
          i = this.resyncFeed(buf, i, len);
          break;
        default:
          i = len;
      }
      if (this.reinject !== null) break;
    }
    const pos = base + i;
    this.pos = pos;
    if (this.mode === M_HEADER && this.hdrFill === 0 && this.reinject === null) {
      const sp = this.sp;
      if (sp > 0 && this.ends[sp - 1] === pos) this.closeFinished(pos);
    }
    if (this.crcActive > 0) {
      // A header held for the next chunk may be the element that ends an unknown-size master (the next
      // Cluster): its bytes are hashed into such a master only once it is known to be a child (hashHeld).
      const held = this.mode === M_HEADER && this.hdrFill > 0 ? this.hdrOffset : pos;
      for (let k = 0; k < this.sp; k++) {
        if (this.crcExp[k] >= 0) this.hashTo(k, this.els[k]!.size < 0 ? Math.min(pos, held) : pos);
      }
    }
    return i;
  }

  /**
   * After a header assembled across chunks was placed: the bytes of it that came from earlier chunks
   * (kept in `hdr`) belong to every unknown-size master still open with a CRC-32 being checked; hash them
   * from the copy so the result does not depend on where the input was cut.
   */
  private hashHeld(): void {
    const startAbs = this.procStartAbs;
    for (let k = 0; k < this.sp; k++) {
      if (this.crcExp[k] < 0) continue;
      const from = this.crcFrom[k];
      if (from >= startAbs || from < this.hdrOffset) continue;
      const to = Math.min(startAbs, this.ends[k]);
      if (to <= from) continue;
      this.crcVal[k] = crc32Update(this.crcVal[k], this.hdr, from - this.hdrOffset, to - this.hdrOffset);
      this.crcFrom[k] = to;
    }
  }

  /** Closes every open master whose data ends at `abs`. */
  private closeFinished(abs: number): void {
    while (this.sp > 0 && this.ends[this.sp - 1] === abs) this.closeTop(abs, false);
  }

  private closeTop(endOffset: number, damaged: boolean): void {
    const k = --this.sp;
    const el = this.els[k]!;
    this.els[k] = undefined;
    if (k === this.relaxed) this.relaxed = -1;
    if (this.crcActive > 0 && this.crcExp[k] >= 0) {
      if (!damaged) {
        this.hashTo(k, endOffset);
        const got = crc32Final(this.crcVal[k]);
        if (got !== this.crcExp[k]) {
          this.error(
            'CRC_MISMATCH',
            el.dataOffset,
            `CRC-32 of ${el.info?.name ?? 'element'} is ${hex(got)}, stored ${hex(this.crcExp[k])}`,
            elementPath(el),
            false,
          );
        }
      }
      this.crcExp[k] = -1;
      this.crcActive--;
    }
    if (this.quiet >= 0) {
      if (k > this.quiet) return;
      this.quiet = -1;
    }
    if (this.hasEnd) this.h.onMasterEnd!(el, endOffset, damaged);
  }

  private hashTo(k: number, target: number): void {
    const t = Math.min(target, this.ends[k]);
    const from = this.crcFrom[k];
    if (t <= from) return;
    const s = from - this.base;
    if (s < 0) return; // bytes no longer available (cannot happen in normal flow)
    this.crcVal[k] = crc32Update(this.crcVal[k], this.buf, s, t - this.base);
    this.crcFrom[k] = t;
  }

  /** The fast loop: element headers and whole-in-chunk leaves. */
  private headers(buf: Uint8Array, i: number, len: number, base: number): number {
    const ends = this.ends;
    for (;;) {
      const sp = this.sp;
      if (sp > 0 && ends[sp - 1] === base + i) this.closeFinished(base + i);
      if (i >= len) return i;
      const b0 = buf[i];
      let idLen: number;
      if (b0 >= 0x80) idLen = 1;
      else if (b0 >= 0x40) idLen = 2;
      else if (b0 >= 0x20) idLen = 3;
      else if (b0 >= 0x10) idLen = 4;
      else
        return b0 === 0
          ? this.damage('INVALID_VINT', base + i, 'invalid element ID (0x00 first byte)', null, base + i + 1)
          : this.damage('INVALID_ID', base + i, 'element ID longer than 4 bytes', null, base + i + 1);
      if (i + idLen >= len) return this.savePartial(buf, i, len, base);
      const s0 = buf[i + idLen];
      if (s0 === 0)
        return this.damage(
          'INVALID_VINT',
          base + i + idLen,
          'invalid element size (0x00 first byte)',
          null,
          base + i + 1,
        );
      const sLen = Math.clz32(s0) - 23;
      const d = i + idLen + sLen;
      if (d > len) return this.savePartial(buf, i, len, base);
      const id = idLen === 1 ? b0 : readId(buf, i, idLen);
      const size = sLen === 1 ? (s0 === 0xff ? -1 : s0 & 0x7f) : readSize(buf, i + idLen, sLen);
      i = this.element(buf, d, len, base + i, id, idLen, idLen + sLen, size);
      if (this.mode !== M_HEADER || this.reinject !== null) return i;
    }
  }

  private savePartial(buf: Uint8Array, i: number, len: number, base: number): number {
    this.hdr.set(buf.subarray(i, len), 0);
    this.hdrFill = len - i;
    this.hdrOffset = base + i;
    return len;
  }

  private continueHeader(buf: Uint8Array, i: number, len: number): number {
    const h = this.hdr;
    const idLen = vlen(h[0]); // validated when saved (1-4)
    let need = idLen + 1;
    for (;;) {
      if (this.hdrFill > idLen) {
        const s0 = h[idLen];
        if (s0 === 0) {
          this.hdrFill = 0;
          return this.damage(
            'INVALID_VINT',
            this.hdrOffset + idLen,
            'invalid element size (0x00 first byte)',
            null,
            this.hdrOffset + 1,
          );
        }
        need = idLen + vlen(s0);
      }
      if (this.hdrFill >= need) break;
      if (i >= len) return len;
      h[this.hdrFill++] = buf[i++]!;
    }
    this.hdrFill = 0;
    const id = readId(h, 0, idLen);
    const size = readSize(h, idLen, need - idLen);
    const next = this.element(buf, i, len, this.hdrOffset, id, idLen, need, size);
    if (this.crcActive > 0) this.hashHeld();
    return next;
  }

  /**
   * Handles one element whose header has been read; its data starts at buf[d] (absolute offset
   * offset + hsize). Returns the index to continue from.
   */
  private element(
    buf: Uint8Array,
    d: number,
    len: number,
    offset: number,
    id: number,
    idLen: number,
    hsize: number,
    size: number,
  ): number {
    const rec = id < 256 ? this.t1[id] : this.tmap.get(id);
    if (rec === undefined && !isValidId(id, idLen)) {
      return this.damage('INVALID_ID', offset, `reserved element ID ${hex(id)}`, null, offset + 1);
    }
    let sp = this.sp;
    if (
      sp === 0 ||
      (rec !== undefined ? rec.parent !== this.els[sp - 1]!.id && !rec.global : this.closedSchema(this.els[sp - 1]!.id))
    ) {
      if (!this.place(rec, id, offset)) return this.resumeIndex;
      sp = this.sp;
    }
    const parent = sp > 0 ? this.els[sp - 1] : undefined;
    const bound = sp > 0 ? this.ends[sp - 1] : Infinity;
    const dataAbs = offset + hsize;
    let end: number;
    if (size < 0) {
      if (rec === undefined || rec.kind !== KIND_MASTER || !rec.unknownOk) {
        return this.damage(
          'UNKNOWN_SIZE_NOT_ALLOWED',
          offset,
          `unknown size on ${rec?.info.name ?? hex(id)}`,
          rec,
          offset + 1,
        );
      }
      end = bound;
    } else {
      end = dataAbs + size;
      if (end > bound && !this.relaxSegment(sp, rec, id, offset, size, end, bound)) {
        return this.damage(
          'CHILD_OVERRUNS_PARENT',
          offset,
          `${rec?.info.name ?? hex(id)} of ${size} bytes ends at ${end}, past its parent's end ${bound}`,
          rec,
          offset + 1,
        );
      }
    }
    const kind = rec === undefined ? KIND_BINARY : rec.kind;
    const info = rec === undefined ? undefined : rec.info;

    if (kind === KIND_MASTER) {
      if (sp >= this.maxDepth) {
        if (size < 0)
          return this.damage('MAX_DEPTH', offset, `masters nested deeper than ${this.maxDepth}`, rec, offset + 1);
        this.error(
          'MAX_DEPTH',
          offset,
          `masters nested deeper than ${this.maxDepth}; element skipped`,
          this.stackPath(rec),
          false,
        );
        return this.skip(new Header(id, info, offset, hsize, size, sp, parent), d, len, size);
      }
      const el = new Header(id, info, offset, hsize, size, sp, parent);
      this.els[sp] = el;
      this.ends[sp] = end;
      if (this.verifyCrc) this.crcExp[sp] = -1;
      this.sp = sp + 1;
      if (this.quiet < 0 && this.hasStart && this.h.onMasterStart!(el) === false) {
        if (size >= 0) {
          if (d + size <= len) return d + size;
          this.remaining = size - (len - d);
          this.cur = null;
          this.mode = M_SKIP;
          return len;
        }
        this.quiet = sp;
      }
      return d;
    }

    // Leaves: bound the size for the type before anything is allocated.
    let problem: EbmlErrorCode | null = null;
    let limit = 0;
    if (kind === KIND_BINARY) {
      if (size > this.streamOver && this.hasPart && this.quiet < 0) {
        const el = new Header(id, info, offset, hsize, size, sp, parent);
        this.cur = el;
        this.remaining = size;
        this.streamed = 0;
        this.mode = M_STREAM;
        return d;
      }
      if (size > this.maxBinary) {
        problem = 'ELEMENT_TOO_LARGE';
        limit = this.maxBinary;
      }
    } else if (kind === KIND_STRING || kind === KIND_UTF8) {
      if (size > this.maxString) {
        problem = 'ELEMENT_TOO_LARGE';
        limit = this.maxString;
      }
    } else if (!validValueSize(kind, size)) {
      problem = 'INVALID_VALUE';
    }
    if (problem !== null) {
      const name = info?.name ?? hex(id);
      if (bound === Infinity && (problem !== 'INVALID_VALUE' || size > this.maxBinary)) {
        return this.damage(
          problem === 'INVALID_VALUE' ? 'ELEMENT_TOO_LARGE' : problem,
          offset,
          `${name} of ${size} bytes cannot be bounded`,
          rec,
          offset + 1,
        );
      }
      this.error(
        problem,
        offset,
        problem === 'INVALID_VALUE'
          ? `${size}-byte ${info!.type} ${name} is invalid; element skipped`
          : `${name} of ${size} bytes exceeds the limit of ${limit}; element skipped`,
        this.stackPath(rec),
        false,
      );
      return this.skip(new Header(id, info, offset, hsize, size, sp, parent), d, len, size);
    }
    if (this.quiet >= 0) return this.skip(null, d, len, size);

    const el = new Header(id, info, offset, hsize, size, sp, parent);
    if (d + size <= len) {
      this.deliver(el, kind, buf, d, size, false);
      return d + size;
    }
    this.cur = el;
    this.curKind = kind;
    this.leaf = new Uint8Array(size);
    this.leaf.set(buf.subarray(d, len), 0);
    this.leafFill = len - d;
    this.mode = M_LEAF;
    return len;
  }

  private skip(el: Header | null, d: number, len: number, size: number): number {
    if (d + size <= len) return d + size;
    this.cur = el;
    this.remaining = size - (len - d);
    this.mode = M_SKIP;
    return len;
  }

  private deliver(el: Header, kind: number, buf: Uint8Array, s: number, size: number, owned: boolean): void {
    let v: EbmlValue;
    switch (kind) {
      case KIND_BINARY:
        v = owned ? buf : buf.subarray(s, s + size);
        if (el.id === CRC32_ID && this.verifyCrc) this.crcStart(el, buf, s);
        break;
      case KIND_UINT:
        v = decodeUint(buf, s, size);
        break;
      case KIND_INT:
        v = decodeInt(buf, s, size);
        break;
      case KIND_FLOAT:
        v = decodeFloat(buf, s, size);
        break;
      case KIND_STRING:
      case KIND_UTF8:
        v = decodeString(buf, s, size);
        break;
      case KIND_DATE:
        v = decodeDate(buf, s, size);
        break;
      default:
        v = buf.subarray(s, s + size);
    }
    if (this.hasValue) this.h.onValue!(el, v);
  }

  private crcStart(el: Header, buf: Uint8Array, s: number): void {
    const k = this.sp - 1;
    if (k < 0 || el.size !== 4) return;
    const p = this.els[k]!;
    if (el.offset !== p.dataOffset || this.crcExp[k] >= 0) return;
    this.crcExp[k] = (buf[s] | (buf[s + 1] << 8) | (buf[s + 2] << 16) | (buf[s + 3] << 24)) >>> 0;
    this.crcVal[k] = CRC32_INIT;
    this.crcFrom[k] = el.dataOffset + 4;
    this.crcActive++;
  }

  private continueLeaf(buf: Uint8Array, i: number, len: number): number {
    const leaf = this.leaf;
    const n = Math.min(leaf.length - this.leafFill, len - i);
    leaf.set(buf.subarray(i, i + n), this.leafFill);
    this.leafFill += n;
    i += n;
    if (this.leafFill === leaf.length) {
      const el = this.cur!;
      this.mode = M_HEADER;
      this.cur = null;
      this.leaf = EMPTY;
      this.deliver(el, this.curKind, leaf, 0, leaf.length, true);
    }
    return i;
  }

  private continueStream(buf: Uint8Array, i: number, len: number): number {
    const n = Math.min(this.remaining, len - i);
    const el = this.cur!;
    const partOffset = this.streamed;
    this.remaining -= n;
    this.streamed += n;
    const last = this.remaining === 0;
    if (last) {
      this.mode = M_HEADER;
      this.cur = null;
    }
    this.h.onBinaryPart!(el, buf.subarray(i, i + n), partOffset, last);
    return i + n;
  }

  /** Decides where an element with a schema parent other than the open master goes (RFC 8794 6.2). */
  private place(rec: Rec | undefined, id: number, offset: number): boolean {
    for (;;) {
      const sp = this.sp;
      if (sp === 0) {
        if (rec !== undefined && (rec.parent === 0 || rec.global)) return true;
        if (rec !== undefined && rec.parent === SEGMENT && rec.kind === KIND_MASTER) {
          if (!this.orphanReported) {
            this.orphanReported = true;
            this.error('INVALID_ID', offset, `${rec.info.name} outside a Segment`, [rec.info.name], false);
          }
          return true;
        }
        this.damage(
          'INVALID_ID',
          offset,
          `${rec ? rec.info.name : 'unknown element ' + hex(id)} at the top level`,
          rec,
          offset + 1,
        );
        return false;
      }
      const top = this.els[sp - 1]!;
      if (rec === undefined) {
        if (!this.closedSchema(top.id)) return true;
        this.damage(
          'INVALID_ID',
          offset,
          `unknown element ${hex(id)} inside ${top.info?.name ?? hex(top.id)}`,
          rec,
          offset + 1,
        );
        return false;
      }
      if (rec.parent === top.id || rec.global || (rec.recursive && rec.id === top.id)) return true;
      let higher = rec.parent === 0;
      for (let k = sp - 2; k >= 0 && !higher; k--) if (this.els[k]!.id === rec.parent) higher = true;
      if (!higher) {
        if (!this.closedSchema(top.id)) return true; // misplaced but not a sibling of an ancestor: a child
        this.damage('INVALID_ID', offset, `${rec.info.name} inside ${top.info?.name ?? hex(top.id)}`, rec, offset + 1);
        return false;
      }
      if (top.size < 0 || this.relaxed === sp - 1) {
        this.closeTop(offset, false);
        continue;
      }
      if (rec.level <= 1) {
        // A root or level-1 element inside a known-size master: the master was cut short or its size
        // is wrong. Resynchronise starting at this very element (it is the first candidate checked).
        this.damage('INVALID_ID', offset, `${rec.info.name} inside ${top.info?.name ?? hex(top.id)}`, rec, offset);
        return false;
      }
      return true;
    }
  }

  private resumeIndex = 0;

  /**
   * Leniency for a wrong Segment size (bytes inserted, or a muxer that wrote a wrong size), as FFmpeg
   * and mkvtoolnix are lenient: a direct child of a known-size Segment that would end past the
   * Segment's declared end is accepted. One non-fatal CHILD_OVERRUNS_PARENT is reported and the
   * Segment is read as unknown-size from there on (it ends at a root element or the end of input).
   * Only for direct children of the Segment whose own size is plausible (<= maxElementSize); anything
   * else that overruns its parent stays damage. Returns false when the leniency does not apply.
   */
  private relaxSegment(
    sp: number,
    rec: Rec | undefined,
    id: number,
    offset: number,
    size: number,
    end: number,
    bound: number,
  ): boolean {
    const k = sp - 1;
    if (k < 0 || rec === undefined || this.relaxed === k || size > this.maxBinary) return false;
    const seg = this.els[k]!;
    if (seg.id !== SEGMENT || seg.size < 0 || this.ends[k] !== bound) return false;
    this.error(
      'CHILD_OVERRUNS_PARENT',
      offset,
      `${rec?.info.name ?? hex(id)} of ${size} bytes ends at ${end}, past the Segment's declared end ${bound}: ` +
        'the Segment size is wrong; the Segment is read as unknown-size from here on',
      this.stackPath(rec),
      false,
    );
    this.relaxed = k;
    this.ends[k] = k > 0 ? this.ends[k - 1] : Infinity;
    if (this.crcActive > 0 && this.crcExp[k] >= 0) {
      // A CRC-32 over a Segment of unknown extent cannot be checked.
      this.crcExp[k] = -1;
      this.crcActive--;
    }
    return true;
  }

  /**
   * Segment and Cluster hold nearly all the bytes of a file and have a closed set of children, so an
   * unknown or misplaced ID directly inside them is taken as damage (junk, a bad size before it), not
   * as an unknown child. Elsewhere unknown IDs are read as binary leaves.
   */
  private closedSchema(parentId: number): boolean {
    return parentId === SEGMENT || parentId === CLUSTER;
  }

  private stackPath(rec: Rec | undefined | null): string[] {
    const names: string[] = [];
    for (let k = 0; k < this.sp; k++) names.push(this.els[k]!.info?.name ?? 'Unknown');
    if (rec !== null) names.push(rec?.info.name ?? 'Unknown');
    return names;
  }

  private error(code: EbmlErrorCode, offset: number, message: string, path: readonly string[], fatal: boolean): void {
    this.h.onError?.(new EbmlError({ code, offset, message, path, fatal }));
  }

  /**
   * Reports damage, closes the masters below the Segment and starts scanning for a resync point at
   * absolute offset `scanFrom`. Returns the index in the current chunk to continue from.
   */
  private damage(
    code: EbmlErrorCode,
    offset: number,
    message: string,
    rec: Rec | undefined | null,
    scanFrom: number,
  ): number {
    const path = this.stackPath(rec);
    this.error(code, offset, message, path, !this.resyncOn);
    this.damageOffset = offset;
    let keep = 0;
    if (this.resyncOn) {
      for (let k = 0; k < this.sp; k++) {
        if (this.els[k]!.id === SEGMENT) {
          keep = k + 1;
          break;
        }
      }
    }
    while (this.sp > keep) this.closeTop(offset, true);
    if (this.crcActive > 0) {
      for (let k = 0; k < this.sp; k++) this.crcExp[k] = -1;
      this.crcActive = 0;
    }
    if (this.quiet >= this.sp) this.quiet = -1;
    this.cur = null;
    const len = this.buf.length;
    if (!this.resyncOn) {
      this.mode = M_DEAD;
      this.resumeIndex = len;
      return len;
    }
    this.mode = M_RESYNC;
    if (this.win.length === 0) this.win = new Uint8Array(2 * LOOKAHEAD);
    this.winAbs = scanFrom;
    this.winLen = 0;
    this.scanStart = scanFrom;
    let idx: number;
    if (scanFrom < this.procStartAbs) {
      // Bytes of a header assembled from earlier chunks: re-scan them from the header copy.
      const from = scanFrom - this.hdrOffset;
      const to = this.procStartAbs - this.hdrOffset;
      if (to > from) {
        this.win.set(this.hdr.subarray(from, to), 0);
        this.winLen = to - from;
      }
      idx = this.procStartAbs - this.base;
    } else {
      idx = scanFrom - this.base;
    }
    this.hdrFill = 0;
    this.resumeIndex = idx;
    return idx;
  }

  private resyncFeed(buf: Uint8Array, i: number, len: number): number {
    while (i < len) {
      const n = Math.min(len - i, this.win.length - this.winLen);
      this.win.set(buf.subarray(i, i + n), this.winLen);
      this.winLen += n;
      i += n;
      if (this.scan(false)) return i;
      if (this.mode !== M_RESYNC) return len;
    }
    return i;
  }

  /** Scans the window for a confirmed resync point; on success sets `reinject` and returns true. */
  private scan(final: boolean): boolean {
    const w = this.win;
    const n = this.winLen;
    const first = this.candFirst;
    let p = 0;
    for (; p < n; p++) {
      if (first[w[p]] === 0) continue;
      const r = this.check(w, p, n, final);
      if (r === C_OK) {
        this.confirm(p);
        return true;
      }
      if (r === C_MORE) {
        if (p === 0 && n === w.length) continue; // cannot grow: judge it failed
        break;
      }
    }
    if (this.winAbs + p - this.scanStart > this.maxScan) {
      this.error(
        'RESYNC',
        this.scanStart,
        `no resync point found within ${this.maxScan} bytes`,
        this.stackPath(null),
        true,
      );
      while (this.sp > 0) this.closeTop(this.winAbs + p, true);
      this.mode = M_DEAD;
      this.win = EMPTY;
      this.winLen = 0;
      return false;
    }
    if (p > 0) {
      w.copyWithin(0, p, n);
      this.winAbs += p;
      this.winLen = n - p;
    }
    return false;
  }

  private confirm(p: number): void {
    const abs = this.winAbs + p;
    const rec = this.cands.get(readId(this.win, p, vlen(this.win[p])))!;
    // A Segment whose known end was passed while scanning ended normally there.
    while (this.sp > 0 && this.ends[this.sp - 1] <= abs) this.closeTop(this.ends[this.sp - 1], false);
    if (rec.parent === 0) while (this.sp > 0) this.closeTop(abs, true);
    this.reinject = this.win.slice(p, this.winLen);
    this.reinjectAbs = abs;
    this.winLen = 0;
    this.mode = M_HEADER;
    this.h.onResync?.(this.damageOffset, abs);
  }

  /**
   * Checks a resync candidate at w[p]: a level-1 or root master whose header is plausible and whose
   * following elements (its first children, then its siblings) are valid, up to 3 of them.
   * At the end of input (`final`) a candidate that runs out of bytes before it is confirmed fails, as it
   * would if more input had shown junk: a prefix of an input never resyncs where the whole input would
   * not, so it never yields frames the whole input does not (found by the fuzzer).
   */
  private check(w: Uint8Array, p: number, n: number, final: boolean): number {
    const short = final ? C_FAIL : C_MORE;
    const idLen = vlen(w[p]);
    if (idLen === 0 || idLen > 4) return C_FAIL;
    if (p + idLen >= n) return short;
    const rec = this.cands.get(readId(w, p, idLen));
    if (rec === undefined) return C_FAIL;
    const s0 = w[p + idLen];
    if (s0 === 0) return C_FAIL;
    const sLen = vlen(s0);
    if (p + idLen + sLen > n) return short;
    const size = readSize(w, p + idLen, sLen);
    const abs0 = this.winAbs + p;
    const sp = this.sp;
    let segEnd = Infinity;
    if (rec.parent !== 0 && sp > 0 && this.ends[sp - 1] > abs0) segEnd = this.ends[sp - 1] - this.winAbs;
    let q = p + idLen + sLen;
    let limit: number;
    if (size < 0) {
      if (!rec.unknownOk) return C_FAIL;
      limit = segEnd;
    } else {
      limit = q + size;
      if (limit > segEnd) return C_FAIL;
    }
    let parentId = rec.id;
    let siblings = false;
    let conf = 0;
    while (conf < 3) {
      if (q === limit) {
        if (siblings) return C_OK;
        siblings = true;
        parentId = rec.parent;
        limit = segEnd;
        if (q === limit) return C_OK;
      }
      if (q - p > LOOKAHEAD) return conf > 0 ? C_OK : C_FAIL;
      if (q >= n) return short;
      const cl = vlen(w[q]);
      if (cl === 0 || cl > 4) return C_FAIL;
      if (q + cl >= n) return short;
      const cid = readId(w, q, cl);
      const crec = cid < 256 ? this.t1[cid] : this.tmap.get(cid);
      if (crec === undefined) return C_FAIL;
      const c1 = w[q + cl];
      if (c1 === 0) return C_FAIL;
      const csl = vlen(c1);
      if (q + cl + csl > n) return short;
      const csize = readSize(w, q + cl, csl);
      const valid = crec.global || crec.parent === parentId || (crec.recursive && crec.id === parentId);
      if (!valid) {
        // An unknown-size candidate ends at a sibling or a root element.
        if (!siblings && size < 0 && (crec.parent === rec.parent || crec.parent === 0)) {
          siblings = true;
          parentId = rec.parent;
          continue;
        }
        return C_FAIL;
      }
      const hs = cl + csl;
      if (csize < 0) {
        if (!crec.unknownOk || crec.kind !== KIND_MASTER) return C_FAIL;
        conf++;
        parentId = crec.id;
        siblings = true;
        q += hs;
        continue;
      }
      if (q + hs + csize > limit) return C_FAIL;
      const k = crec.kind;
      if (
        k === KIND_BINARY
          ? csize > this.maxBinary
          : k === KIND_STRING || k === KIND_UTF8
            ? csize > this.maxString
            : !validValueSize(k, csize)
      ) {
        return C_FAIL;
      }
      conf++;
      q += hs + csize;
    }
    return C_OK;
  }
}
