// Decoding of EBML leaf values (RFC 8794 section 7) from a byte range: unsigned/signed integers (number, or
// bigint beyond the safe range), floats of 0/4/8 bytes, strings with trailing NULs removed, dates.
// Callers validate sizes first (see `validValueSize`); these functions do not allocate for numbers.

const decoder = /* @__PURE__ */ new TextDecoder('utf-8');
const scratch = /* @__PURE__ */ new Uint8Array(8);
const scratchView = /* @__PURE__ */ new DataView(scratch.buffer);

/** @internal Kinds of element values, indexes used by the reader's hot path. */
export const KIND_MASTER = 0;
/** @internal */
export const KIND_UINT = 1;
/** @internal */
export const KIND_INT = 2;
/** @internal */
export const KIND_FLOAT = 3;
/** @internal */
export const KIND_STRING = 4;
/** @internal */
export const KIND_UTF8 = 5;
/** @internal */
export const KIND_DATE = 6;
/** @internal */
export const KIND_BINARY = 7;

const KINDS: Record<string, number> = {
  master: KIND_MASTER,
  uinteger: KIND_UINT,
  integer: KIND_INT,
  float: KIND_FLOAT,
  string: KIND_STRING,
  'utf-8': KIND_UTF8,
  date: KIND_DATE,
  binary: KIND_BINARY,
};

/** @internal Kind index of a schema type name (binary for anything unknown). */
export function kindOf(type: string): number {
  return KINDS[type] ?? KIND_BINARY;
}

/** @internal True when `size` is a legal data size for a numeric kind (always true for the others). */
export function validValueSize(kind: number, size: number): boolean {
  switch (kind) {
    case KIND_UINT:
    case KIND_INT:
      return size <= 8;
    case KIND_FLOAT:
      return size === 0 || size === 4 || size === 8;
    case KIND_DATE:
      return size === 0 || size === 8;
    default:
      return true;
  }
}

function bigAt(buf: Uint8Array, pos: number, size: number): bigint {
  let v = 0n;
  for (let i = 0; i < size; i++) v = (v << 8n) | BigInt(buf[pos + i]);
  return v;
}

/** Unsigned integer of 0-8 bytes: a number, or a bigint when above Number.MAX_SAFE_INTEGER. */
export function decodeUint(buf: Uint8Array, pos: number, size: number): number | bigint {
  let v = 0;
  for (let i = 0; i < size; i++) v = v * 256 + buf[pos + i];
  if (v > Number.MAX_SAFE_INTEGER) return bigAt(buf, pos, size);
  return v;
}

/** Signed (two's complement) integer of 0-8 bytes: a number, or a bigint beyond the safe range. */
export function decodeInt(buf: Uint8Array, pos: number, size: number): number | bigint {
  if (size === 0) return 0;
  if (size <= 6) {
    let v = buf[pos] & 0x80 ? -1 : 0;
    for (let i = 0; i < size; i++) v = v * 256 + buf[pos + i];
    // v currently holds (-1 * 256^size + unsigned) for negatives, which is exact for size <= 6.
    return v;
  }
  const b = BigInt.asIntN(size * 8, bigAt(buf, pos, size));
  return b >= -9007199254740991n && b <= 9007199254740991n ? Number(b) : b;
}

/** Float of 0 (= 0), 4 or 8 bytes. */
export function decodeFloat(buf: Uint8Array, pos: number, size: number): number {
  if (size === 0) return 0;
  for (let i = 0; i < size; i++) scratch[i] = buf[pos + i]!;
  return size === 4 ? scratchView.getFloat32(0) : scratchView.getFloat64(0);
}

/** String or UTF-8 value with trailing NUL padding removed. */
export function decodeString(buf: Uint8Array, pos: number, size: number): string {
  let end = pos + size;
  while (end > pos && buf[end - 1] === 0) end--;
  if (end === pos) return '';
  if (end - pos <= 16) {
    // Short ASCII strings (CodecID, DocType, language codes) without a TextDecoder call.
    let s = '';
    for (let i = pos; i < end; i++) {
      const c = buf[i];
      if (c >= 0x80) return decoder.decode(buf.subarray(pos, end));
      s += String.fromCharCode(c);
    }
    return s;
  }
  return decoder.decode(buf.subarray(pos, end));
}

/** Date of 0 or 8 bytes: nanoseconds since 2001-01-01T00:00:00 UTC as a bigint. */
export function decodeDate(buf: Uint8Array, pos: number, size: number): bigint {
  if (size === 0) return 0n;
  return BigInt.asIntN(64, bigAt(buf, pos, 8));
}
