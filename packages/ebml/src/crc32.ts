// CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320) as used by the EBML CRC-32 element: incremental
// updates over byte ranges, slicing-by-4 tables, no allocation after the tables are built.

const TABLES = /* @__PURE__ */ buildTables();

function buildTables(): Uint32Array {
  const t = new Uint32Array(4 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  for (let n = 0; n < 256; n++) {
    let c = t[n];
    for (let s = 1; s < 4; s++) {
      c = t[c & 0xff] ^ (c >>> 8);
      t[s * 256 + n] = c >>> 0;
    }
  }
  return t;
}

/** Initial running state for crc32Update (the final CRC is `crc32Final(state)`). */
export const CRC32_INIT = 0xffffffff;

/** Feeds `buf[start, end)` into a running CRC state and returns the new state. */
export function crc32Update(state: number, buf: Uint8Array, start = 0, end = buf.length): number {
  const t = TABLES;
  let c = state >>> 0;
  let i = start;
  const end4 = end - ((end - start) & 3);
  while (i < end4) {
    c ^= buf[i] | (buf[i + 1] << 8) | (buf[i + 2] << 16) | (buf[i + 3] << 24);
    c = t[768 + (c & 0xff)] ^ t[512 + ((c >>> 8) & 0xff)] ^ t[256 + ((c >>> 16) & 0xff)] ^ t[c >>> 24];
    i += 4;
  }
  while (i < end) c = t[(c ^ buf[i++]) & 0xff] ^ (c >>> 8);
  return c >>> 0;
}

/** Turns a running state into the CRC value. */
export function crc32Final(state: number): number {
  return (state ^ 0xffffffff) >>> 0;
}

/** CRC-32 of `buf[start, end)`. */
export function crc32(buf: Uint8Array, start = 0, end = buf.length): number {
  return crc32Final(crc32Update(CRC32_INIT, buf, start, end));
}
