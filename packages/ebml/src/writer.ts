// EBML writer: element encoding for every schema type into one growable buffer (ByteWriter), master
// headers with known, fixed-width or unknown sizes, and encodeTree for byte-identical round trips.
// Web-standard APIs only (Uint8Array, DataView, TextEncoder).

import { EbmlError } from './errors.js';
import { ELEMENT_BY_ID, Id } from './schema.generated.js';
import type { ElementType } from './schema.generated.js';
import { idLength, sizeLength, writeId, writeSize, writeUnknownSize, UNKNOWN_SIZE } from './vint.js';

/** A value the writer can encode (same shapes as the reader produces). */
export type EncodableValue = number | bigint | string | Uint8Array;

const textEncoder = /* @__PURE__ */ new TextEncoder();

function encodeError(message: string): EbmlError {
  return new EbmlError({ code: 'ENCODE', message });
}

/** Bytes needed for an unsigned integer (at least 1: a zero is written as one 0x00 byte). */
export function uintLength(value: number | bigint): number {
  if (typeof value === 'bigint') {
    if (value < 0n) throw encodeError(`negative unsigned integer ${value}`);
    if (value >= 1n << 64n) throw encodeError(`unsigned integer ${value} does not fit in 8 bytes`);
    let n = 1;
    while (n < 8 && value >= 1n << BigInt(8 * n)) n++;
    return n;
  }
  if (!(value >= 0) || !Number.isInteger(value)) throw encodeError(`invalid unsigned integer ${value}`);
  if (value < 0x100) return 1;
  if (value < 0x10000) return 2;
  if (value < 0x1000000) return 3;
  if (value < 0x100000000) return 4;
  let n = 5;
  while (n < 8 && value >= 2 ** (8 * n)) n++;
  return n;
}

/** Bytes needed for a signed (two's complement) integer, at least 1. */
export function intLength(value: number | bigint): number {
  if (typeof value === 'bigint') {
    for (let n = 1; n <= 8; n++) {
      const half = 1n << BigInt(8 * n - 1);
      if (value >= -half && value < half) return n;
    }
    throw encodeError(`signed integer ${value} does not fit in 8 bytes`);
  }
  if (!Number.isInteger(value)) throw encodeError(`invalid signed integer ${value}`);
  for (let n = 1; n <= 8; n++) {
    const half = 2 ** (8 * n - 1);
    if (value >= -half && value < half) return n;
  }
  throw encodeError(`signed integer ${value} does not fit in 8 bytes`);
}

/** Resolves the type of `id` from the schema; unknown IDs are binary. */
export function typeOfId(id: number): ElementType {
  return ELEMENT_BY_ID.get(id)?.type ?? 'binary';
}

/**
 * A growable output buffer: everything is written into one Uint8Array that doubles when full;
 * `finish()` returns a view (`subarray`) of the bytes written, without copying.
 */
export class ByteWriter {
  buf: Uint8Array;
  pos = 0;
  private dv: DataView;

  constructor(capacity = 1024) {
    this.buf = new Uint8Array(Math.max(16, capacity));
    this.dv = new DataView(this.buf.buffer);
  }

  /** Bytes written so far. */
  get length(): number {
    return this.pos;
  }

  /** Makes room for `n` more bytes. */
  ensure(n: number): void {
    const need = this.pos + n;
    if (need <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < need) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.dv = new DataView(next.buffer);
  }

  /** The bytes written, as a view of the internal buffer (valid until the next write or reset). */
  finish(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }

  /** A copy of the bytes written (safe to keep after reset). */
  toBytes(): Uint8Array {
    return this.buf.slice(0, this.pos);
  }

  /** Forgets the content, keeping the buffer. */
  reset(): void {
    this.pos = 0;
  }

  u8(b: number): void {
    this.ensure(1);
    this.buf[this.pos++] = b;
  }

  bytes(data: Uint8Array): void {
    this.ensure(data.length);
    this.buf.set(data, this.pos);
    this.pos += data.length;
  }

  /** Writes `n` zero bytes. */
  zeros(n: number): void {
    this.ensure(n);
    this.buf.fill(0, this.pos, this.pos + n);
    this.pos += n;
  }

  id(id: number): void {
    this.ensure(4);
    this.pos = writeId(this.buf, this.pos, id);
  }

  /** A data size vint, minimal width unless `len` is given. */
  size(value: number, len?: number): void {
    const l = len ?? sizeLength(value);
    if (l < 1 || l > 8) throw encodeError(`invalid size width ${l}`);
    this.ensure(l);
    try {
      this.pos = writeSize(this.buf, this.pos, value, l);
    } catch (e) {
      throw new EbmlError({ code: 'ENCODE', message: (e as Error).message, cause: e });
    }
  }

  /** The unknown-size marker (all ones) of `len` bytes. */
  unknownSize(len = 8): void {
    this.ensure(len);
    this.pos = writeUnknownSize(this.buf, this.pos, len);
  }

  /** Unsigned integer data, big-endian, in `width` bytes (minimal when omitted; 0 allowed for zero). */
  uint(value: number | bigint, width?: number): void {
    const w = width ?? uintLength(value);
    if (w > 8) throw encodeError(`unsigned integer width ${w} above 8`);
    this.ensure(w);
    const buf = this.buf;
    if (typeof value === 'bigint') {
      if (value < 0n || (w < 8 && value >= 1n << BigInt(8 * w)))
        throw encodeError(`unsigned integer ${value} does not fit in ${w} bytes`);
      let v = value;
      for (let i = w - 1; i >= 0; i--) {
        buf[this.pos + i] = Number(v & 0xffn);
        v >>= 8n;
      }
    } else {
      if (!(value >= 0) || !Number.isInteger(value) || value >= 2 ** (8 * w)) {
        throw encodeError(`unsigned integer ${value} does not fit in ${w} bytes`);
      }
      let v = value;
      for (let i = w - 1; i >= 0; i--) {
        buf[this.pos + i] = v % 256;
        v = Math.floor(v / 256);
      }
    }
    this.pos += w;
  }

  /** Signed integer data (two's complement), big-endian, in `width` bytes (minimal when omitted). */
  int(value: number | bigint, width?: number): void {
    const w = width ?? intLength(value);
    if (w > 8) throw encodeError(`signed integer width ${w} above 8`);
    this.ensure(w);
    const buf = this.buf;
    if (typeof value === 'bigint') {
      if (w === 0) {
        if (value !== 0n) throw encodeError(`signed integer ${value} does not fit in 0 bytes`);
        return;
      }
      const half = 1n << BigInt(8 * w - 1);
      if (value < -half || value >= half) throw encodeError(`signed integer ${value} does not fit in ${w} bytes`);
      let v = BigInt.asUintN(8 * w, value);
      for (let i = w - 1; i >= 0; i--) {
        buf[this.pos + i] = Number(v & 0xffn);
        v >>= 8n;
      }
    } else {
      if (!Number.isInteger(value)) throw encodeError(`invalid signed integer ${value}`);
      const half = w === 0 ? 0.5 : 2 ** (8 * w - 1);
      if (value < -half || value >= half) throw encodeError(`signed integer ${value} does not fit in ${w} bytes`);
      let v = value;
      for (let i = w - 1; i >= 0; i--) {
        buf[this.pos + i] = ((v % 256) + 256) % 256;
        v = Math.floor(v / 256);
      }
    }
    this.pos += w;
  }

  /** Float data of 4 or 8 bytes (0 bytes only for +0). */
  float(value: number, width: 0 | 4 | 8 = 8): void {
    if (width === 0) {
      if (value !== 0) throw encodeError(`float ${value} does not fit in 0 bytes`);
      return;
    }
    this.ensure(width);
    if (width === 4) this.dv.setFloat32(this.pos, value);
    else if (width === 8) this.dv.setFloat64(this.pos, value);
    else throw encodeError(`invalid float width ${String(width)}`);
    this.pos += width;
  }

  // ---- whole elements -------------------------------------------------------------------------

  uintElement(id: number, value: number | bigint): void {
    this.id(id);
    const w = uintLength(value);
    this.ensure(1);
    this.buf[this.pos++] = 0x80 | w;
    this.uint(value, w);
  }

  intElement(id: number, value: number | bigint): void {
    this.id(id);
    const w = intLength(value);
    this.ensure(1);
    this.buf[this.pos++] = 0x80 | w;
    this.int(value, w);
  }

  /** Float element; width 4 when exactly representable as float32 unless `width` says otherwise. */
  floatElement(id: number, value: number, width?: 4 | 8): void {
    const w = width ?? (Object.is(Math.fround(value), value) || Number.isNaN(value) ? 4 : 8);
    this.id(id);
    this.u8(0x80 | w);
    this.float(value, w);
  }

  stringElement(id: number, value: string): void {
    this.binaryElement(id, textEncoder.encode(value));
  }

  binaryElement(id: number, data: Uint8Array): void {
    this.id(id);
    this.size(data.length);
    this.bytes(data);
  }

  /** Date element: nanoseconds since 2001-01-01T00:00:00 UTC, 8-byte signed. */
  dateElement(id: number, ns: bigint | number): void {
    this.id(id);
    this.u8(0x80 | 8); // an 8-byte size: a float64
    this.int(typeof ns === 'bigint' ? ns : BigInt(Math.round(ns)), 8);
  }

  /** Writes a whole element; the type comes from the schema unless given. */
  element(id: number, value: EncodableValue, type: ElementType = typeOfId(id)): void {
    if (value instanceof Uint8Array) {
      // Binary, master content already encoded, or raw bytes of any type.
      this.binaryElement(id, value);
      return;
    }
    switch (type) {
      case 'uinteger':
        if (typeof value !== 'number' && typeof value !== 'bigint') break;
        this.uintElement(id, value);
        return;
      case 'integer':
        if (typeof value !== 'number' && typeof value !== 'bigint') break;
        this.intElement(id, value);
        return;
      case 'float':
        if (typeof value !== 'number') break;
        this.floatElement(id, value);
        return;
      case 'date':
        if (typeof value !== 'number' && typeof value !== 'bigint') break;
        this.dateElement(id, value);
        return;
      case 'string':
      case 'utf-8':
        if (typeof value !== 'string') break;
        this.stringElement(id, value);
        return;
      default:
        break;
    }
    throw encodeError(`cannot encode ${typeof value} as ${type} (ID 0x${id.toString(16).toUpperCase()})`);
  }

  /** A master header with a known size (minimal width unless `sizeLength` is given) or unknown size. */
  masterHeader(id: number, size: number, sizeLen?: number): void {
    this.id(id);
    if (size === UNKNOWN_SIZE) this.unknownSize(sizeLen ?? 8);
    else this.size(size, sizeLen);
  }

  /**
   * Starts a master whose size is filled in by `endMaster`: writes the ID and reserves 8 bytes.
   * Returns a token for `endMaster`.
   */
  startMaster(id: number): number {
    this.id(id);
    this.ensure(8);
    const token = this.pos;
    this.pos += 8;
    return token;
  }

  /**
   * Ends a master started with `startMaster`: writes its size with the minimal width (or `sizeLen`)
   * and moves the content back over the unused reserved bytes.
   */
  endMaster(token: number, sizeLen?: number): void {
    const dataStart = token + 8;
    const dataLen = this.pos - dataStart;
    const len = sizeLen ?? sizeLength(dataLen);
    if (len < 8) {
      this.buf.copyWithin(token + len, dataStart, this.pos);
      this.pos -= 8 - len;
    }
    writeSize(this.buf, token, dataLen, len);
  }
}

/** Encodes one complete element (master values are their already encoded content). */
export function encodeElement(id: number, value: EncodableValue, type?: ElementType): Uint8Array {
  const w = new ByteWriter(
    16 + (value instanceof Uint8Array ? value.length : typeof value === 'string' ? value.length * 3 : 8),
  );
  w.element(id, value, type ?? typeOfId(id));
  return w.finish();
}

/**
 * Encodes a master element header: ID + size. `size` may be UNKNOWN_SIZE (-1): then the all-ones
 * marker is written (8 bytes unless `sizeLength` says otherwise).
 */
export function encodeMasterHeader(id: number, size: number, sizeLen?: number): Uint8Array {
  const w = new ByteWriter(12);
  w.masterHeader(id, size, sizeLen);
  return w.finish();
}

/** Encodes a Void element of exactly `total` bytes (at least 2). */
export function encodeVoid(total: number): Uint8Array {
  if (total < 2) throw encodeError(`a Void element needs at least 2 bytes, not ${total}`);
  const w = new ByteWriter(total);
  writeVoid(w, total);
  return w.finish();
}

/** Writes a Void element of exactly `total` bytes (at least 2) into `w`. */
export function writeVoid(w: ByteWriter, total: number): void {
  let len = 1;
  while (len < 8 && total - 1 - len >= 2 ** (7 * len) - 1) len++;
  const dataLen = total - 1 - len;
  w.id(Id.Void);
  w.size(dataLen, len);
  w.zeros(dataLen);
}

// ---- trees ---------------------------------------------------------------------------------------

/**
 * The node shape encodeTree accepts: tree.ts's ElementNode satisfies it. `offset`, `headerSize` and
 * `size` are used with preserveWidths to keep the original widths; nodes built by hand may omit them.
 */
export interface EncodableNode {
  readonly id: number;
  /** An ElementType, or any other string (treated as unknown binary). */
  readonly type?: string;
  /** Total header bytes (ID + size vint) as parsed. */
  readonly headerSize?: number;
  /** Data size as parsed, -1 = unknown. */
  readonly size?: number;
  readonly value?: EncodableValue | undefined;
  readonly children?: readonly EncodableNode[] | undefined;
}

export interface EncodeTreeOptions {
  /**
   * Keep the parsed widths: size vint width (headerSize - ID length), unknown sizes, and value widths
   * (integers padded with leading zeros, float 4 vs 8, strings padded with NULs). With it,
   * `encodeTree(parseTree(file).elements, { preserveWidths: true })` reproduces the file byte for byte.
   */
  preserveWidths?: boolean;
  /** Without preserveWidths: keep unknown sizes (8-byte marker) where the node says size -1. Default false. */
  keepUnknownSizes?: boolean;
}

interface Plan {
  dataSize: number;
  headerLen: number;
  unknown: boolean;
  /** Encoded value for strings (avoids encoding twice). */
  bytes?: Uint8Array;
  /** Value width for numeric leaves. */
  width?: number;
  children?: Plan[];
}

function nodeType(node: EncodableNode): ElementType {
  const t = node.type;
  if (
    t === 'master' ||
    t === 'uinteger' ||
    t === 'integer' ||
    t === 'float' ||
    t === 'string' ||
    t === 'utf-8' ||
    t === 'date' ||
    t === 'binary'
  )
    return t;
  if (node.children) return 'master';
  return typeOfId(node.id);
}

function planNode(node: EncodableNode, opts: EncodeTreeOptions): Plan {
  const preserve = !!opts.preserveWidths;
  const type = nodeType(node);
  const origSize = node.size;
  const idLen = idLength(node.id);
  const origSizeLen =
    preserve && node.headerSize !== undefined && node.headerSize > idLen ? node.headerSize - idLen : undefined;
  let dataSize: number;
  let unknown = false;
  const plan: Plan = { dataSize: 0, headerLen: 0, unknown: false };
  const v = node.value;
  if (type === 'master' || (node.children && v === undefined)) {
    const children = (node.children ?? []).map((c) => planNode(c, opts));
    plan.children = children;
    dataSize = 0;
    for (const c of children) dataSize += c.headerLen + c.dataSize;
    if (origSize === UNKNOWN_SIZE && (preserve || opts.keepUnknownSizes)) unknown = true;
  } else if (v instanceof Uint8Array) {
    dataSize = v.length;
  } else if (v === undefined) {
    // A leaf without a value (e.g. skipped by the reader): zero-length data.
    dataSize = 0;
  } else {
    const known = preserve && origSize !== undefined && origSize >= 0 ? origSize : undefined;
    switch (type) {
      case 'uinteger':
        if (typeof v !== 'number' && typeof v !== 'bigint') throw badValue(node, type);
        dataSize = known !== undefined && known <= 8 && fitsUint(v, known) ? known : uintLength(v);
        plan.width = dataSize;
        break;
      case 'integer':
        if (typeof v !== 'number' && typeof v !== 'bigint') throw badValue(node, type);
        dataSize = known !== undefined && known <= 8 && fitsInt(v, known) ? known : intLength(v);
        plan.width = dataSize;
        break;
      case 'date':
        if (typeof v !== 'number' && typeof v !== 'bigint') throw badValue(node, type);
        dataSize = known === 0 && Number(v) === 0 ? 0 : 8;
        plan.width = dataSize;
        break;
      case 'float': {
        if (typeof v !== 'number') throw badValue(node, type);
        if (known === 4 || known === 8 || (known === 0 && v === 0)) dataSize = known;
        else dataSize = Object.is(Math.fround(v), v) || Number.isNaN(v) ? 4 : 8;
        plan.width = dataSize;
        break;
      }
      case 'string':
      case 'utf-8': {
        if (typeof v !== 'string') throw badValue(node, type);
        const bytes = textEncoder.encode(v);
        plan.bytes = bytes;
        dataSize = known !== undefined && known > bytes.length ? known : bytes.length;
        break;
      }
      default:
        throw badValue(node, type);
    }
  }
  plan.dataSize = dataSize;
  plan.unknown = unknown;
  let sizeLen: number;
  if (unknown) sizeLen = origSizeLen ?? 8;
  else if (origSizeLen !== undefined && dataSize < 2 ** (7 * origSizeLen) - 1) sizeLen = origSizeLen;
  else sizeLen = sizeLength(dataSize);
  plan.headerLen = idLen + sizeLen;
  return plan;
}

function fitsUint(v: number | bigint, w: number): boolean {
  if (typeof v === 'bigint') return v >= 0n && (w >= 8 || v < 1n << BigInt(8 * w));
  return v >= 0 && v < 2 ** (8 * w);
}

function fitsInt(v: number | bigint, w: number): boolean {
  if (w === 0) return v === 0 || v === 0n;
  if (typeof v === 'bigint') {
    const half = 1n << BigInt(8 * w - 1);
    return v >= -half && v < half;
  }
  const half = 2 ** (8 * w - 1);
  return v >= -half && v < half;
}

function badValue(node: EncodableNode, type: string): EbmlError {
  return encodeError(`cannot encode ${typeof node.value} as ${type} (ID 0x${node.id.toString(16).toUpperCase()})`);
}

function writeNode(w: ByteWriter, node: EncodableNode, plan: Plan): void {
  w.id(node.id);
  const sizeLen = plan.headerLen - idLength(node.id);
  if (plan.unknown) w.unknownSize(sizeLen);
  else w.size(plan.dataSize, sizeLen);
  if (plan.children) {
    const kids = node.children ?? [];
    for (let i = 0; i < kids.length; i++) writeNode(w, kids[i], plan.children[i]);
    return;
  }
  const v = node.value;
  if (v === undefined) return;
  if (v instanceof Uint8Array) {
    w.bytes(v);
    return;
  }
  const type = nodeType(node);
  switch (type) {
    case 'uinteger':
      w.uint(v as number | bigint, plan.width);
      return;
    case 'integer':
      w.int(v as number | bigint, plan.width);
      return;
    case 'date':
      if (plan.width === 0) return;
      w.int(typeof v === 'bigint' ? v : BigInt(Math.round(v as number)), 8);
      return;
    case 'float':
      w.float(v as number, plan.width as 0 | 4 | 8);
      return;
    default: {
      const bytes = plan.bytes!;
      w.bytes(bytes);
      if (plan.dataSize > bytes.length) w.zeros(plan.dataSize - bytes.length);
    }
  }
}

/**
 * Encodes a list of element nodes (e.g. `parseTree(...).elements`) into one buffer. Sizes are computed
 * first, then everything is written into a single allocation.
 */
export function encodeTree(nodes: readonly EncodableNode[], options: EncodeTreeOptions = {}): Uint8Array {
  const plans = nodes.map((n) => planNode(n, options));
  let total = 0;
  for (const p of plans) total += p.headerLen + p.dataSize;
  const w = new ByteWriter(total);
  for (let i = 0; i < nodes.length; i++) writeNode(w, nodes[i], plans[i]);
  return w.finish();
}
