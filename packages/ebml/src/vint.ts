// Variable-size integers (RFC 8794 section 4): element IDs (1-4 bytes, marker kept) and data sizes
// (1-8 bytes, marker removed, all-ones = unknown). Free functions over a Uint8Array, no allocation.

/** The value returned for an unknown (all ones) data size. */
export const UNKNOWN_SIZE = -1;

/** Largest data size we represent exactly; larger declared sizes are refused by the limits anyway. */
export const MAX_SAFE_SIZE = Number.MAX_SAFE_INTEGER;

/**
 * Length in bytes (1-8) of the vint whose first byte is `b`, or 0 when `b` is 0x00 (no marker in the
 * first byte: an impossible vint for sizes of at most 8 bytes).
 */
export function vintLength(b: number): number {
  return b === 0 ? 0 : Math.clz32(b) - 23;
}

/**
 * Reads an element ID of `len` bytes at `pos` (marker bits kept, as IDs are written in the schema).
 * The caller checks that `len` is 1-4 and that the bytes are available.
 */
export function readId(buf: Uint8Array, pos: number, len: number): number {
  switch (len) {
    case 1:
      return buf[pos];
    case 2:
      return (buf[pos] << 8) | buf[pos + 1];
    case 3:
      return (buf[pos] << 16) | (buf[pos + 1] << 8) | buf[pos + 2];
    default:
      return buf[pos] * 0x1000000 + ((buf[pos + 1] << 16) | (buf[pos + 2] << 8) | buf[pos + 3]);
  }
}

/** True when an ID of `len` bytes is valid: not all value bits 1 (reserved) and not all 0. */
export function isValidId(id: number, len: number): boolean {
  const valueBits = 7 * len;
  const value = id - 2 ** valueBits; // remove the marker bit
  return value !== 0 && value !== 2 ** valueBits - 1;
}

/**
 * Reads a data size of `len` bytes at `pos` (marker removed). Returns UNKNOWN_SIZE (-1) when all
 * value bits are 1 (any width, RFC 8794 section 6.2). Values above 2^53 lose precision; callers bound
 * sizes long before that.
 */
export function readSize(buf: Uint8Array, pos: number, len: number): number {
  let v = buf[pos] & (0xff >> len);
  let allOnes = v === 0xff >> len;
  for (let i = 1; i < len; i++) {
    const b = buf[pos + i];
    if (b !== 0xff) allOnes = false;
    v = v * 256 + b;
  }
  return allOnes ? UNKNOWN_SIZE : v;
}

/** Reads a signed vint (EBML lacing deltas): the unsigned value minus (2^(7*len-1) - 1). */
export function readSignedVint(buf: Uint8Array, pos: number, len: number): number {
  let v = buf[pos] & (0xff >> len);
  for (let i = 1; i < len; i++) v = v * 256 + buf[pos + i];
  return v - (2 ** (7 * len - 1) - 1);
}

/** Bytes needed to write `value` as a size vint (1-8), avoiding the all-ones pattern. */
export function sizeLength(value: number): number {
  if (value < 0 || !Number.isInteger(value)) throw new RangeError(`invalid EBML size ${value}`);
  let len = 1;
  // A width of len bytes holds 7*len value bits; all-ones is reserved for "unknown".
  while (len < 8 && value >= 2 ** (7 * len) - 1) len++;
  if (value >= 2 ** 56 - 1) throw new RangeError(`EBML size ${value} does not fit in 8 bytes`);
  return len;
}

/** Writes `value` as a size vint of exactly `len` bytes at `pos`; returns the position after it. */
export function writeSize(buf: Uint8Array, pos: number, value: number, len: number): number {
  if (value >= 2 ** (7 * len) - 1) throw new RangeError(`EBML size ${value} does not fit in ${len} bytes`);
  let v = value;
  for (let i = len - 1; i > 0; i--) {
    buf[pos + i] = v % 256;
    v = Math.floor(v / 256);
  }
  buf[pos] = v | (0x80 >> (len - 1));
  return pos + len;
}

/** Writes the unknown-size marker of `len` bytes (1-8) at `pos`; returns the position after it. */
export function writeUnknownSize(buf: Uint8Array, pos: number, len = 8): number {
  buf[pos] = 0xff >> (len - 1);
  for (let i = 1; i < len; i++) buf[pos + i] = 0xff;
  return pos + len;
}

/** Byte length of an element ID (its marker is part of the value). */
export function idLength(id: number): number {
  if (id < 0x100) return 1;
  if (id < 0x10000) return 2;
  if (id < 0x1000000) return 3;
  return 4;
}

/** Writes an element ID at `pos`; returns the position after it. */
export function writeId(buf: Uint8Array, pos: number, id: number): number {
  const len = idLength(id);
  for (let i = len - 1; i >= 0; i--) {
    buf[pos + i] = id & 0xff;
    id = Math.floor(id / 256);
  }
  return pos + len;
}

/** Writes a signed vint of exactly `len` bytes (EBML lacing deltas). */
export function writeSignedVint(buf: Uint8Array, pos: number, value: number, len: number): number {
  return writeSize(buf, pos, value + (2 ** (7 * len - 1) - 1), len);
}

/** Smallest width for a signed vint holding `value`. */
export function signedVintLength(value: number): number {
  for (let len = 1; len <= 8; len++) {
    const bias = 2 ** (7 * len - 1) - 1;
    if (value + bias >= 0 && value + bias < 2 ** (7 * len) - 1) return len;
  }
  throw new RangeError(`signed vint ${value} does not fit in 8 bytes`);
}
