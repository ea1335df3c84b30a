// Reference yardstick, not a library: a minimal synchronous Matroska block walker (the kind of
// ~60-line loop that /work/shared/notes/parsing.md measured at 4.7 M blocks/s). It descends into
// Segment, Cluster and BlockGroup, hands every SimpleBlock/Block payload to a callback, skips
// everything else, and keeps only the unfinished tail of a chunk. No validation, no lacing, no
// resync: it shows what a demuxer costs beyond "find the blocks", and is never used for results
// other than as a comparison row.
const SEGMENT = 0x18538067;
const CLUSTER = 0x1f43b675;
const BLOCKGROUP = 0xa0;
const SIMPLEBLOCK = 0xa3;
const BLOCK = 0xa1;

export class RefWalker {
  constructor(onBlock) {
    this.onBlock = onBlock;
    this.rest = null; // unfinished bytes carried over
    this.skip = 0; // bytes of a large skipped element still to drop
  }

  push(chunk) {
    let data = chunk;
    if (this.skip > 0) {
      if (this.skip >= data.length) {
        this.skip -= data.length;
        return;
      }
      data = data.subarray(this.skip);
      this.skip = 0;
    }
    if (this.rest) {
      const j = new Uint8Array(this.rest.length + data.length);
      j.set(this.rest, 0);
      j.set(data, this.rest.length);
      data = j;
      this.rest = null;
    }
    const n = data.length;
    let i = 0;
    for (;;) {
      if (i >= n) break;
      const b0 = data[i];
      const idLen = b0 >= 0x80 ? 1 : b0 >= 0x40 ? 2 : b0 >= 0x20 ? 3 : b0 >= 0x10 ? 4 : 0;
      if (idLen === 0) {
        i++;
        continue;
      } // garbage: step over (a real demuxer resyncs properly)
      if (i + idLen >= n) break;
      let id = 0;
      for (let k = 0; k < idLen; k++) id = id * 256 + data[i + k];
      const s0 = data[i + idLen];
      const sLen =
        s0 >= 0x80
          ? 1
          : s0 >= 0x40
            ? 2
            : s0 >= 0x20
              ? 3
              : s0 >= 0x10
                ? 4
                : s0 >= 0x08
                  ? 5
                  : s0 >= 0x04
                    ? 6
                    : s0 >= 0x02
                      ? 7
                      : 8;
      if (i + idLen + sLen > n) break;
      let size = s0 & (0xff >> sLen);
      let allOnes = size === 0xff >> sLen;
      for (let k = 1; k < sLen; k++) {
        const v = data[i + idLen + k];
        size = size * 256 + v;
        if (v !== 0xff) allOnes = false;
      }
      const hdr = idLen + sLen;
      if (id === SEGMENT || id === CLUSTER || id === BLOCKGROUP) {
        i += hdr;
        continue;
      }
      if (allOnes) {
        i += hdr;
        continue;
      } // unknown-size element that is not a known master: descend
      if (id === SIMPLEBLOCK || id === BLOCK) {
        if (i + hdr + size > n) break;
        this.onBlock(data.subarray(i + hdr, i + hdr + size));
        i += hdr + size;
        continue;
      }
      if (i + hdr + size <= n) {
        i += hdr + size;
        continue;
      }
      this.skip = i + hdr + size - n; // skip the rest of a large element without buffering it
      i = n;
      break;
    }
    if (i < n) this.rest = data.slice(i);
  }

  end() {}
}
