// Block encoding: one Frame -> one SimpleBlock element, or a BlockGroup (Block + BlockDuration +
// ReferenceBlock + BlockAdditions + DiscardPadding) when the frame needs it. No lacing. Also the
// live Cluster start (unknown size + Timestamp). One allocation per block, or [header, payload, trailer?]
// parts for zero-copy writev.

import { EbmlError } from '../errors.js';
import { Id } from '../schema.generated.js';
import { sizeLength, writeId, writeSize, writeUnknownSize } from '../vint.js';
import { ByteWriter, uintLength } from '../writer.js';
import type { Frame } from './types.js';

const FLAG_KEYFRAME = 0x80;
const FLAG_INVISIBLE = 0x08;
const FLAG_DISCARDABLE = 0x01;

/** Reused scratch writer for BlockGroup trailers (the result is always copied out). */
const scratch = /* @__PURE__ */ new ByteWriter(256);

function encodeFail(message: string): EbmlError {
  return new EbmlError({ code: 'ENCODE', message });
}

function checkArgs(frame: Frame, relTicks: number): void {
  if (!Number.isInteger(relTicks) || relTicks < -32768 || relTicks > 32767) {
    throw encodeFail(`block timestamp ${relTicks} ticks relative to the Cluster is outside int16 (-32768..32767)`);
  }
  if (!Number.isInteger(frame.track) || frame.track < 1 || frame.track >= 2 ** 56 - 1) {
    throw encodeFail(`invalid track number ${frame.track}`);
  }
}

/** True when the frame must be written as a BlockGroup rather than a SimpleBlock. */
export function needsBlockGroup(frame: Frame): boolean {
  return (
    !!frame.blockGroup ||
    (frame.references !== undefined && frame.references.length > 0) ||
    frame.blockDuration !== undefined ||
    (frame.additions !== undefined && frame.additions.length > 0) ||
    (frame.discardPadding !== undefined && frame.discardPadding !== 0)
  );
}

/** Writes track vint + int16 + flags at `p`; returns the position after. */
function writeBlockHead(
  out: Uint8Array,
  p: number,
  track: number,
  tlen: number,
  relTicks: number,
  flags: number,
): number {
  p = writeSize(out, p, track, tlen);
  const rel = relTicks & 0xffff;
  out[p++] = rel >> 8;
  out[p++] = rel & 0xff;
  out[p++] = flags;
  return p;
}

/** SimpleBlock flags byte (no lacing). */
function simpleBlockFlags(frame: Frame): number {
  let flags = 0;
  if (frame.keyframe) flags |= FLAG_KEYFRAME;
  if (frame.invisible) flags |= FLAG_INVISIBLE;
  if (frame.discardable) flags |= FLAG_DISCARDABLE;
  return flags;
}

/** Encodes the BlockGroup children that follow the Block (into the scratch writer). */
function writeTrailer(frame: Frame): Uint8Array {
  const w = scratch;
  w.reset();
  if (frame.blockDuration !== undefined) w.uintElement(Id.BlockDuration, frame.blockDuration);
  if (!frame.keyframe) {
    const refs = frame.references && frame.references.length > 0 ? frame.references : [-1];
    for (const r of refs) w.intElement(Id.ReferenceBlock, r);
  }
  if (frame.additions && frame.additions.length > 0) {
    const adds = w.startMaster(Id.BlockAdditions);
    for (const a of frame.additions) {
      const more = w.startMaster(Id.BlockMore);
      if (a.id !== 1) w.uintElement(Id.BlockAddID, a.id);
      w.binaryElement(Id.BlockAdditional, a.data);
      w.endMaster(more);
    }
    w.endMaster(adds);
  }
  if (frame.discardPadding !== undefined && frame.discardPadding !== 0)
    w.intElement(Id.DiscardPadding, frame.discardPadding);
  return w.finish();
}

/**
 * Encodes everything of the block except the payload: returns [head, payload, trailer?] where head ends
 * right before the payload bytes and trailer (BlockGroup only) follows them. The payload is
 * `frame.data` itself (not copied), so a socket can writev the parts.
 */
export function encodeBlockParts(frame: Frame, relTicks: number): Uint8Array[] {
  checkArgs(frame, relTicks);
  const payload = frame.data;
  const tlen = sizeLength(frame.track);
  if (!needsBlockGroup(frame)) {
    const dataLen = tlen + 3 + payload.length;
    const slen = sizeLength(dataLen);
    const head = new Uint8Array(1 + slen + tlen + 3);
    head[0] = Id.SimpleBlock;
    const p = writeSize(head, 1, dataLen, slen);
    writeBlockHead(head, p, frame.track, tlen, relTicks, simpleBlockFlags(frame));
    return [head, payload];
  }
  const trailer = writeTrailer(frame).slice();
  const blockData = tlen + 3 + payload.length;
  const blockSlen = sizeLength(blockData);
  const groupData = 1 + blockSlen + blockData + trailer.length;
  const groupSlen = sizeLength(groupData);
  const head = new Uint8Array(1 + groupSlen + 1 + blockSlen + tlen + 3);
  head[0] = Id.BlockGroup;
  let p = writeSize(head, 1, groupData, groupSlen);
  head[p++] = Id.Block;
  p = writeSize(head, p, blockData, blockSlen);
  writeBlockHead(head, p, frame.track, tlen, relTicks, frame.invisible ? FLAG_INVISIBLE : 0);
  return trailer.length > 0 ? [head, payload, trailer] : [head, payload];
}

/**
 * Encodes ONE frame as a SimpleBlock element, or as a BlockGroup when the frame needs it (references,
 * blockDuration, additions, discardPadding, or frame.blockGroup). `relTicks`: timestamp relative to the
 * Cluster Timestamp in TimestampScale ticks; must be within int16 (EbmlError 'ENCODE' otherwise).
 * A non-keyframe in a BlockGroup without references gets ReferenceBlock -1 (marks it non-key).
 * One allocation: header bytes + payload copy.
 */
export function encodeBlock(frame: Frame, relTicks: number): Uint8Array {
  checkArgs(frame, relTicks);
  const payload = frame.data;
  const tlen = sizeLength(frame.track);
  if (!needsBlockGroup(frame)) {
    const dataLen = tlen + 3 + payload.length;
    const slen = sizeLength(dataLen);
    const out = new Uint8Array(1 + slen + dataLen);
    out[0] = Id.SimpleBlock;
    let p = writeSize(out, 1, dataLen, slen);
    p = writeBlockHead(out, p, frame.track, tlen, relTicks, simpleBlockFlags(frame));
    out.set(payload, p);
    return out;
  }
  const trailer = writeTrailer(frame);
  const blockData = tlen + 3 + payload.length;
  const blockSlen = sizeLength(blockData);
  const groupData = 1 + blockSlen + blockData + trailer.length;
  const groupSlen = sizeLength(groupData);
  const out = new Uint8Array(1 + groupSlen + groupData);
  out[0] = Id.BlockGroup;
  let p = writeSize(out, 1, groupData, groupSlen);
  out[p++] = Id.Block;
  p = writeSize(out, p, blockData, blockSlen);
  p = writeBlockHead(out, p, frame.track, tlen, relTicks, frame.invisible ? FLAG_INVISIBLE : 0);
  out.set(payload, p);
  out.set(trailer, p + payload.length);
  return out;
}

/** Encoded byte length of the block element encodeBlock would produce. */
export function encodedBlockLength(frame: Frame): number {
  const tlen = sizeLength(frame.track);
  const blockData = tlen + 3 + frame.data.length;
  if (!needsBlockGroup(frame)) return 1 + sizeLength(blockData) + blockData;
  const groupData = 1 + sizeLength(blockData) + blockData + writeTrailer(frame).length;
  return 1 + sizeLength(groupData) + groupData;
}

/** Cluster ID + unknown size (8 bytes) + Timestamp element (minimal width). */
export function encodeClusterStart(timestampTicks: number): Uint8Array {
  if (!Number.isInteger(timestampTicks) || timestampTicks < 0) {
    throw encodeFail(`invalid Cluster timestamp ${timestampTicks} (must be a non-negative integer of ticks)`);
  }
  const w = uintLength(timestampTicks);
  const out = new Uint8Array(4 + 8 + 2 + w);
  writeId(out, 0, Id.Cluster);
  writeUnknownSize(out, 4, 8);
  writeId(out, 12, Id.Timestamp);
  writeSize(out, 13, w, 1);
  let v = timestampTicks;
  for (let i = w - 1; i >= 0; i--) {
    out[14 + i] = v % 256;
    v = Math.floor(v / 256);
  }
  return out;
}
