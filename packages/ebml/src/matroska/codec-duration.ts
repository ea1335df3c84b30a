// Frame durations from the codec, for tracks whose container gives none (no DefaultDuration; laced frames
// that share one block timestamp). Matroska stores one timestamp per block, so without this every frame of
// a lace would sit at the same instant and carry no duration; FFmpeg fills them in from the codec the same
// way (its parsers), and these functions follow what ffprobe reports:
// - Opus: the TOC byte (RFC 6716 3.1): frame size x frame count, at 48 kHz.
// - Vorbis: stateful, as FFmpeg's vorbis parser: blocksize_0/1 from the identification header, the modes'
//   block flags read backwards from the end of the setup header (both in CodecPrivate); a packet lasts
//   previous_blocksize/4 + current_blocksize/4 samples.
// - AAC: 1024 samples per frame (960, 512 or 480 when the AudioSpecificConfig says so); an ADTS header,
//   when a frame carries one, gives its rate and raw data block count.
// - MP3 / MP2 / MP1: the frame header (version and layer -> 1152, 576 or 384 samples; its sample rate).
// - AC-3: 1536 samples; E-AC-3: 256 x the blocks of each independent sync frame in the packet.
// - FLAC: the frame header's block size and sample rate (STREAMINFO's rate when the header defers to it).
// Nothing here throws on bad input: an unreadable frame or CodecPrivate gives `undefined` (no duration).

import { LACING_XIPH, readLaceSizes } from './lacing.js';
import type { TrackInfo } from './types.js';

/** Duration of codec frames of one track, in samples at `rate` (Hz). Stateful for Vorbis: feed every frame. */
export interface CodecFrameDuration {
  /** Samples in this frame, or undefined when the frame does not say (empty, malformed). */
  samples(data: Uint8Array): number | undefined;
  /** Sample rate (Hz) of the frame last measured. */
  rate: number;
}

// ---- Opus -------------------------------------------------------------------------------------------

/** Opus frame size in 48 kHz samples per TOC config (RFC 6716 section 3.1, Table 2): SILK NB/MB/WB
 *  10/20/40/60 ms, Hybrid SWB/FB 10/20 ms, CELT NB/WB/SWB/FB 2.5/5/10/20 ms. */
const OPUS_FRAME_SAMPLES = [
  480, 960, 1920, 2880, 480, 960, 1920, 2880, 480, 960, 1920, 2880, 480, 960, 480, 960, 120, 240, 480, 960, 120, 240,
  480, 960, 120, 240, 480, 960, 120, 240, 480, 960,
];

/** Samples (48 kHz) of one Opus packet from its TOC byte (RFC 6716 sections 3.1-3.2), or undefined for an
 *  empty or malformed packet (code 1 with an odd payload, code 2 without a length byte, code 3 without its
 *  frame-count byte, with 0 frames, or with more than 120 ms of audio). */
export function opusPacketSamples(data: Uint8Array): number | undefined {
  const n = data.length;
  if (n === 0) return undefined;
  const toc = data[0];
  const size = OPUS_FRAME_SAMPLES[toc >> 3];
  switch (toc & 3) {
    case 0:
      return size;
    case 1:
      return (n - 1) & 1 ? undefined : 2 * size;
    case 2:
      return n < 2 ? undefined : 2 * size;
    default: {
      if (n < 2) return undefined;
      const m = data[1] & 0x3f;
      const d = m * size;
      return m === 0 || d > 5760 ? undefined : d;
    }
  }
}

/** Duration (ns) of one Opus packet from its TOC byte, or undefined (see opusPacketSamples). */
export function opusPacketDuration(data: Uint8Array): number | undefined {
  const s = opusPacketSamples(data);
  return s === undefined ? undefined : (s * 1e9) / 48000;
}

// ---- Vorbis -----------------------------------------------------------------------------------------

/** What FFmpeg's vorbis parser keeps from the headers. */
export interface VorbisSetup {
  rate: number;
  blocksize: [number, number];
  /** Block flag (0 short, 1 long) per mode. */
  modeFlags: number[];
  modeMask: number;
  prevMask: number;
}

const VORBIS = [0x76, 0x6f, 0x72, 0x62, 0x69, 0x73]; // "vorbis"

function isVorbisHeader(p: Uint8Array, type: number): boolean {
  if (p.length < 7 || p[0] !== type) return false;
  for (let i = 0; i < 6; i++) if (p[i + 1] !== VORBIS[i]) return false;
  return true;
}

/** Reads bits MSB-first from the bytes of `buf` taken in reverse order (the packet read backwards). */
class ReverseBits {
  private pos = 0;
  constructor(
    private readonly buf: Uint8Array,
    readonly total = buf.length * 8,
  ) {}
  get count(): number {
    return this.pos;
  }
  get left(): number {
    return this.total - this.pos;
  }
  skip(n: number): void {
    this.pos += n;
  }
  read(n: number): number {
    let v = 0;
    for (let i = 0; i < n; i++) {
      const b = this.pos++;
      const byte = this.buf[this.buf.length - 1 - (b >> 3)];
      v = v * 2 + ((byte >> (7 - (b & 7))) & 1);
    }
    return v;
  }
  peek(n: number): number {
    const p = this.pos;
    const v = this.read(n);
    this.pos = p;
    return v;
  }
}

/**
 * Parses a Matroska A_VORBIS CodecPrivate (the three Vorbis headers, Xiph-laced) into what packet durations
 * need. The mode list is found as FFmpeg finds it: scanning the setup header backwards from its framing
 * bit for the longest run of plausible mode entries whose count matches the 6-bit field before it.
 * Returns undefined when the headers cannot be read.
 */
export function parseVorbisSetup(codecPrivate: Uint8Array): VorbisSetup | undefined {
  const sizes: number[] = [];
  const start = readLaceSizes(codecPrivate, 0, codecPrivate.length, LACING_XIPH, sizes);
  if (typeof start === 'string' || sizes.length !== 3) return undefined;
  const id = codecPrivate.subarray(start, start + sizes[0]);
  const setup = codecPrivate.subarray(start + sizes[0] + sizes[1]);
  if (id.length < 30 || !isVorbisHeader(id, 1) || !isVorbisHeader(setup, 5)) return undefined;
  const rate = (id[12] | (id[13] << 8) | (id[14] << 16) | (id[15] << 24)) >>> 0;
  const bs0 = 1 << (id[28] & 15);
  const bs1 = 1 << (id[28] >> 4);
  if (rate === 0 || bs0 < 64 || bs1 < bs0 || bs1 > 8192) return undefined;

  const gb = new ReverseBits(setup);
  let framing = 0;
  while (gb.left > 97) {
    if (gb.read(1)) {
      framing = gb.count;
      break;
    }
  }
  if (!framing) return undefined;
  let modeCount = 0;
  let lastModeCount = 0;
  while (gb.left >= 97) {
    if (gb.read(8) > 63 || gb.read(16) || gb.read(16)) break;
    gb.skip(1);
    modeCount++;
    if (modeCount > 64) break;
    if (gb.peek(6) + 1 === modeCount) lastModeCount = modeCount;
  }
  if (lastModeCount === 0 || lastModeCount > 63) return undefined;
  const modeFlags = new Array<number>(lastModeCount);
  const again = new ReverseBits(setup);
  again.skip(framing);
  for (let i = lastModeCount - 1; i >= 0; i--) {
    again.skip(40);
    modeFlags[i] = again.read(1);
  }
  const modeMask = ((1 << (31 - Math.clz32(Math.max(1, lastModeCount - 1)) + 1)) - 1) << 1;
  return { rate, blocksize: [bs0, bs1], modeFlags, modeMask, prevMask: (modeMask | 1) + 1 };
}

class VorbisDuration implements CodecFrameDuration {
  rate: number;
  private prev: number;
  constructor(private readonly s: VorbisSetup) {
    this.rate = s.rate;
    this.prev = s.blocksize[0];
  }
  samples(data: Uint8Array): number | undefined {
    if (data.length === 0) return undefined;
    const b0 = data[0];
    if (b0 & 1) return undefined; // a header packet, not audio
    const s = this.s;
    const mode = s.modeFlags.length === 1 ? 0 : (b0 & s.modeMask) >> 1;
    if (mode >= s.modeFlags.length) return undefined;
    let prev = this.prev;
    const flag = s.modeFlags[mode];
    if (flag) prev = s.blocksize[b0 & s.prevMask ? 1 : 0];
    const cur = s.blocksize[flag];
    this.prev = cur;
    return (prev + cur) >> 2;
  }
}

// ---- AAC --------------------------------------------------------------------------------------------

const AAC_RATES = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350];

/** Reads bits MSB-first. */
class Bits {
  private pos = 0;
  constructor(private readonly buf: Uint8Array) {}
  get left(): number {
    return this.buf.length * 8 - this.pos;
  }
  read(n: number): number {
    let v = 0;
    for (let i = 0; i < n; i++) {
      const b = this.pos++;
      v = v * 2 + ((this.buf[b >> 3] >> (7 - (b & 7))) & 1);
    }
    return v;
  }
}

/** Core sample rate and samples per frame from an AudioSpecificConfig (ISO 14496-3 1.6.2.1), or undefined. */
export function parseAudioSpecificConfig(asc: Uint8Array): { rate: number; frameSamples: number } | undefined {
  if (asc.length < 2) return undefined;
  const b = new Bits(asc);
  const objectType = (): number => {
    const t = b.read(5);
    return t === 31 ? 32 + b.read(6) : t;
  };
  const rateOf = (): number => {
    const i = b.read(4);
    return i === 15 ? b.read(24) : (AAC_RATES[i] ?? 0);
  };
  let aot = objectType();
  const rate = rateOf();
  b.read(4); // channelConfiguration
  if (aot === 5 || aot === 29) {
    rateOf(); // extension (SBR) rate: the frames still hold 1024 samples at the core rate
    aot = objectType();
  }
  if (b.left < 1 || rate === 0) return undefined;
  const short = b.read(1) === 1; // frameLengthFlag (GASpecificConfig; ELD: frameLengthFlag first as well)
  const frameSamples = aot === 23 || aot === 39 ? (short ? 480 : 512) : short ? 960 : 1024;
  return { rate, frameSamples };
}

class AacDuration implements CodecFrameDuration {
  rate: number;
  constructor(
    rate: number,
    private readonly frameSamples: number,
  ) {
    this.rate = rate;
  }
  samples(data: Uint8Array): number | undefined {
    if (data.length === 0) return undefined;
    // An ADTS header (syncword 0xFFF, layer 0) in front of the raw frame.
    if (data.length >= 7 && data[0] === 0xff && (data[1] & 0xf6) === 0xf0) {
      const r = AAC_RATES[(data[2] >> 2) & 15];
      if (r === undefined) return undefined;
      this.rate = r;
      return 1024 * ((data[6] & 3) + 1);
    }
    return this.rate > 0 ? this.frameSamples : undefined;
  }
}

// ---- MPEG audio -------------------------------------------------------------------------------------

const MPA_RATES = [
  [11025, 12000, 8000], // MPEG 2.5
  [0, 0, 0], // reserved
  [22050, 24000, 16000], // MPEG 2
  [44100, 48000, 32000], // MPEG 1
];

class MpegAudioDuration implements CodecFrameDuration {
  rate = 0;
  samples(data: Uint8Array): number | undefined {
    if (data.length < 4 || data[0] !== 0xff || (data[1] & 0xe0) !== 0xe0) return undefined;
    const version = (data[1] >> 3) & 3;
    const layer = (data[1] >> 1) & 3;
    const rateIndex = (data[2] >> 2) & 3;
    if (version === 1 || layer === 0 || rateIndex === 3) return undefined;
    this.rate = MPA_RATES[version][rateIndex];
    if (layer === 3) return 384; // Layer I
    if (layer === 2) return 1152; // Layer II
    return version === 3 ? 1152 : 576; // Layer III: MPEG-1, MPEG-2/2.5
  }
}

// ---- AC-3 / E-AC-3 ----------------------------------------------------------------------------------

const AC3_RATES = [48000, 44100, 32000];
const EAC3_REDUCED_RATES = [24000, 22050, 16000];
const EAC3_BLOCKS = [1, 2, 3, 6];

class Ac3Duration implements CodecFrameDuration {
  rate = 0;
  samples(data: Uint8Array): number | undefined {
    let p = 0;
    let total = 0;
    // A packet may hold several sync frames (E-AC-3: dependent substreams, or frames of fewer blocks).
    for (let frames = 0; frames < 64 && p + 6 <= data.length; frames++) {
      if (data[p] !== 0x0b || data[p + 1] !== 0x77) break;
      const bsid = data[p + 5] >> 3;
      if (bsid <= 10) {
        const fscod = data[p + 4] >> 6;
        if (fscod === 3) break;
        this.rate = AC3_RATES[fscod];
        return total + 1536; // AC-3: 6 blocks of 256; one frame per packet
      }
      if (bsid > 16) break;
      const strmtyp = data[p + 2] >> 6;
      const substreamid = (data[p + 2] >> 3) & 7;
      const frmsiz = ((data[p + 2] & 7) << 8) | data[p + 3];
      const fscod = data[p + 4] >> 6;
      let blocks: number;
      if (fscod === 3) {
        const fscod2 = (data[p + 4] >> 4) & 3;
        if (fscod2 === 3) break;
        this.rate = EAC3_REDUCED_RATES[fscod2];
        blocks = 6;
      } else {
        this.rate = AC3_RATES[fscod];
        blocks = EAC3_BLOCKS[(data[p + 4] >> 4) & 3];
      }
      // Dependent substreams (strmtyp 1) and other independent substreams carry the same audio time.
      if (strmtyp !== 1 && substreamid === 0) total += 256 * blocks;
      p += (frmsiz + 1) * 2;
    }
    return total > 0 ? total : undefined;
  }
}

// ---- FLAC -------------------------------------------------------------------------------------------

const FLAC_RATES = [0, 88200, 176400, 192000, 8000, 16000, 22050, 24000, 32000, 44100, 48000, 96000];
const FLAC_BLOCKS = [0, 192, 576, 1152, 2304, 4608, -1, -2, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768];

/** STREAMINFO's sample rate from a Matroska A_FLAC CodecPrivate ("fLaC" + metadata blocks), or 0. */
function flacStreamInfoRate(cp: Uint8Array | undefined): number {
  if (!cp || cp.length < 8 + 18 || cp[0] !== 0x66 || cp[1] !== 0x4c || cp[2] !== 0x61 || cp[3] !== 0x43) return 0;
  if ((cp[4] & 0x7f) !== 0) return 0; // the first metadata block must be STREAMINFO
  return (cp[18] << 12) | (cp[19] << 4) | (cp[20] >> 4);
}

class FlacDuration implements CodecFrameDuration {
  rate: number;
  constructor(private readonly streamRate: number) {
    this.rate = streamRate;
  }
  samples(data: Uint8Array): number | undefined {
    const n = data.length;
    if (n < 6 || data[0] !== 0xff || (data[1] & 0xfe) !== 0xf8) return undefined;
    const bsCode = data[2] >> 4;
    const srCode = data[2] & 15;
    // The UTF-8-like coded frame or sample number.
    const b = data[4];
    let len = 1;
    if (b >= 0x80) {
      if (b < 0xc0 || b === 0xff) return undefined;
      len = Math.clz32(~(b << 24)); // leading ones
      if (len < 2 || len > 7) return undefined;
    }
    let p = 4 + len;
    let samples = FLAC_BLOCKS[bsCode];
    if (samples === 0) return undefined;
    if (samples === -1) {
      if (p >= n) return undefined;
      samples = data[p++] + 1;
    } else if (samples === -2) {
      if (p + 1 >= n) return undefined;
      samples = ((data[p] << 8) | data[p + 1]) + 1;
      p += 2;
    }
    let rate: number;
    if (srCode === 0) rate = this.streamRate;
    else if (srCode < 12) rate = FLAC_RATES[srCode];
    else if (srCode === 12) rate = p < n ? data[p] * 1000 : 0;
    else if (srCode === 13) rate = p + 1 < n ? (data[p] << 8) | data[p + 1] : 0;
    else if (srCode === 14) rate = p + 1 < n ? ((data[p] << 8) | data[p + 1]) * 10 : 0;
    else return undefined;
    if (rate <= 0) return undefined;
    this.rate = rate;
    return samples;
  }
}

// ---- per track --------------------------------------------------------------------------------------

class OpusDuration implements CodecFrameDuration {
  rate = 48000;
  samples(data: Uint8Array): number | undefined {
    // The common case inline (one frame per packet, TOC code 0); opusPacketSamples for the rest.
    return data.length !== 0 && (data[0] & 3) === 0 ? OPUS_FRAME_SAMPLES[data[0] >> 3] : opusPacketSamples(data);
  }
}

/**
 * A frame duration reader for `track`'s codec, or undefined when its codec is not one of those above (or
 * its CodecPrivate cannot be read). Vorbis readers keep state (the previous block size): give them every
 * frame of the track in order, also frames whose duration comes from the container.
 */
export function codecFrameDuration(track: TrackInfo): CodecFrameDuration | undefined {
  if (track.type !== 2 && track.kind !== 'audio') return undefined;
  const id = track.codecId;
  const trackRate = track.audio?.samplingFrequency ?? 0;
  switch (id) {
    case 'A_OPUS':
      return new OpusDuration();
    case 'A_VORBIS': {
      const s = track.codecPrivate ? parseVorbisSetup(track.codecPrivate) : undefined;
      return s ? new VorbisDuration(s) : undefined;
    }
    case 'A_MPEG/L3':
    case 'A_MPEG/L2':
    case 'A_MPEG/L1':
      return new MpegAudioDuration();
    case 'A_AC3':
    case 'A_EAC3':
    case 'A_AC3/BSID9':
    case 'A_AC3/BSID10':
      return new Ac3Duration();
    case 'A_FLAC':
      return new FlacDuration(flacStreamInfoRate(track.codecPrivate) || trackRate);
  }
  if (id === 'A_AAC' || id.startsWith('A_AAC/')) {
    const asc = track.codecPrivate ? parseAudioSpecificConfig(track.codecPrivate) : undefined;
    if (asc) return new AacDuration(asc.rate, asc.frameSamples);
    return new AacDuration(trackRate, 1024);
  }
  return undefined;
}
