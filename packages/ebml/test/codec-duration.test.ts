// Frame durations from the codec (issue 8 item 1): real frames from real encoders (ffmpeg), laced by us
// into blocks without DefaultDuration, must give the pts and durations ffprobe reports for every packet;
// hand-built headers pin each codec's rules; malformed input gives undefined, never an exception.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  codecFrameDuration,
  opusPacketSamples,
  parseAudioSpecificConfig,
  parseVorbisSetup,
} from '../src/matroska/codec-duration.js';
import { demuxSync } from '../src/matroska/demuxer.js';
import { writeEbmlHeader, writeInfo, writeTracks } from '../src/matroska/init.js';
import { encodeLaces } from '../src/matroska/lacing.js';
import type { LacingMode } from '../src/matroska/lacing.js';
import type { Frame, TrackInfo } from '../src/matroska/types.js';
import { Id } from '../src/schema.generated.js';
import { ByteWriter } from '../src/writer.js';
import { load, mulberry32, toolWorks } from '../testlib/build.js';

const u8 = (...b: number[]) => Uint8Array.from(b);
const audio = (codecId: string, extra: Partial<TrackInfo> = {}): TrackInfo => ({
  number: 1,
  uid: 1n,
  kind: 'audio',
  type: 2,
  codecId,
  audio: { samplingFrequency: 48000, channels: 1 },
  ...extra,
});
const samplesOf = (track: TrackInfo, frames: Uint8Array[]) => {
  const c = codecFrameDuration(track)!;
  return frames.map((f) => [c.samples(f), c.rate]);
};

t.test('MPEG audio: version and layer -> samples, sample rate from the header', async (t) => {
  const mp3 = audio('A_MPEG/L3');
  t.same(
    samplesOf(mp3, [
      u8(0xff, 0xfb, 0x90, 0x64), // MPEG-1 Layer III, 44.1 kHz
      u8(0xff, 0xf3, 0x84, 0x64), // MPEG-2 Layer III, 24 kHz
      u8(0xff, 0xe3, 0x88, 0x64), // MPEG-2.5 Layer III, 8 kHz
      u8(0xff, 0xfd, 0x04, 0x64), // MPEG-1 Layer II, 48 kHz
      u8(0xff, 0xff, 0x08, 0x64), // MPEG-1 Layer I, 32 kHz
    ]),
    [
      [1152, 44100],
      [576, 24000],
      [576, 8000],
      [1152, 48000],
      [384, 32000],
    ],
  );
  const c = codecFrameDuration(mp3)!;
  for (const bad of [u8(), u8(0xff), u8(0xff, 0xfb, 0x90), u8(0xfe, 0xfb, 0x90, 0), u8(0xff, 0xeb, 0x90, 0)]) {
    t.equal(c.samples(bad), undefined, 'no sync, reserved version or too short');
  }
  t.equal(c.samples(u8(0xff, 0xfb, 0x9c, 0)), undefined, 'reserved sample rate index');
  t.equal(c.samples(u8(0xff, 0xf9, 0x90, 0)), undefined, 'reserved layer');
});

t.test('AC-3 and E-AC-3 sync frames', async (t) => {
  const ac3 = codecFrameDuration(audio('A_AC3'))!;
  t.equal(ac3.samples(u8(0x0b, 0x77, 0, 0, 0x40, 0x40)), 1536, 'AC-3 (bsid 8): 1536 samples');
  t.equal(ac3.rate, 44100, 'fscod 1: 44.1 kHz');
  t.equal(ac3.samples(u8(0x0b, 0x77, 0, 0, 0xc0, 0x40)), undefined, 'reserved fscod');
  t.equal(ac3.samples(u8(0x0b, 0x78, 0, 0, 0, 0x40)), undefined, 'no sync word');
  // E-AC-3 frame: strmtyp/substreamid/frmsiz, then fscod/numblkscod; bsid 16.
  const eac3Frame = (strmtyp: number, sub: number, words: number, fscod: number, blk: number): Uint8Array => {
    const f = new Uint8Array(words * 2);
    f[0] = 0x0b;
    f[1] = 0x77;
    const frmsiz = words - 1;
    f[2] = (strmtyp << 6) | (sub << 3) | (frmsiz >> 8);
    f[3] = frmsiz & 0xff;
    f[4] = (fscod << 6) | (blk << 4);
    f[5] = 16 << 3;
    return f;
  };
  const e = codecFrameDuration(audio('A_EAC3'))!;
  t.equal(e.samples(eac3Frame(0, 0, 16, 0, 3)), 1536, 'numblkscod 3: 6 blocks');
  t.equal(e.samples(eac3Frame(0, 0, 16, 0, 0)), 256, 'numblkscod 0: 1 block');
  t.equal(e.samples(eac3Frame(0, 0, 16, 1, 2)), 768, 'numblkscod 2: 3 blocks');
  t.equal(e.rate, 44100);
  t.equal(e.samples(eac3Frame(0, 0, 16, 3, 1)), 1536, 'fscod 3: reduced rate, 6 blocks');
  t.equal(e.rate, 22050, 'fscod2 1: 22.05 kHz');
  const cat = (...p: Uint8Array[]) => {
    const out = new Uint8Array(p.reduce((n, x) => n + x.length, 0));
    let o = 0;
    for (const x of p) out.set(x, (o += x.length) - x.length);
    return out;
  };
  t.equal(
    e.samples(cat(eac3Frame(0, 0, 8, 0, 1), eac3Frame(1, 0, 8, 0, 1), eac3Frame(0, 0, 8, 0, 1))),
    1024,
    'independent frames add up, a dependent substream does not',
  );
  t.equal(e.samples(cat(eac3Frame(0, 0, 8, 0, 3), eac3Frame(2, 1, 8, 0, 3))), 1536, 'other substreams ignored');
});

t.test('FLAC frame headers', async (t) => {
  const streamInfo = new Uint8Array(8 + 34);
  streamInfo.set([0x66, 0x4c, 0x61, 0x43, 0x80, 0, 0, 34], 0);
  // STREAMINFO sample rate 96000 (20 bits) at bytes 18-20 of CodecPrivate.
  const r = 96000;
  streamInfo[18] = r >> 12;
  streamInfo[19] = (r >> 4) & 0xff;
  streamInfo[20] = (r & 15) << 4;
  const flac = codecFrameDuration(audio('A_FLAC', { codecPrivate: streamInfo }))!;
  t.equal(flac.samples(u8(0xff, 0xf8, 0xc9, 0x08, 0x00, 0x00)), 4096, 'code 12: 4096 samples');
  t.equal(flac.rate, 44100, 'rate code 9: 44.1 kHz');
  t.equal(flac.samples(u8(0xff, 0xf8, 0x10, 0x08, 0x00, 0x00)), 192, 'code 1: 192, rate from STREAMINFO');
  t.equal(flac.rate, 96000);
  t.equal(flac.samples(u8(0xff, 0xf8, 0x60, 0x08, 0x00, 0x7f, 0)), 128, 'code 6: 8-bit size - 1');
  t.equal(flac.samples(u8(0xff, 0xf9, 0x70, 0x08, 0xc2, 0x80, 0x12, 0x34, 0)), 0x1235, 'code 7 after a 2-byte number');
  t.equal(flac.samples(u8(0xff, 0xf8, 0x3c, 0x08, 0x00, 0x16, 0)), 1152, 'rate code 12: kHz byte');
  t.equal(flac.rate, 22000);
  t.equal(flac.samples(u8(0xff, 0xf8, 0x3d, 0x08, 0x00, 0x1f, 0x40)), 1152, 'rate code 13: Hz');
  t.equal(flac.rate, 8000);
  t.equal(flac.samples(u8(0xff, 0xf8, 0x3e, 0x08, 0x00, 0x0c, 0x80)), 1152, 'rate code 14: tens of Hz');
  t.equal(flac.rate, 32000);
  t.equal(flac.samples(u8(0xff, 0xf8, 0x09, 0x08, 0x00, 0x00)), undefined, 'reserved block size code 0');
  t.equal(flac.samples(u8(0xff, 0xf8, 0xcf, 0x08, 0x00, 0x00)), undefined, 'invalid rate code 15');
  t.equal(flac.samples(u8(0xff, 0xf8, 0xc9, 0x08, 0xff, 0x00)), undefined, 'invalid coded number');
  t.equal(flac.samples(u8(0xff, 0xf8, 0x70, 0x08, 0x00, 0x01)), undefined, 'code 7 cut short');
  t.equal(flac.samples(u8(0xff, 0xfa, 0xc9, 0x08, 0x00, 0x00)), undefined, 'no sync');
  const noInfo = codecFrameDuration(audio('A_FLAC'))!;
  t.equal(noInfo.samples(u8(0xff, 0xf8, 0x10, 0x08, 0x00, 0x00)), 192, 'rate code 0 without STREAMINFO');
  t.equal(noInfo.rate, 48000, 'falls back to the track SamplingFrequency');
});

t.test('AAC: AudioSpecificConfig and ADTS', async (t) => {
  t.same(parseAudioSpecificConfig(u8(0x12, 0x10)), { rate: 44100, frameSamples: 1024 }, 'AAC LC 44.1 kHz');
  t.same(parseAudioSpecificConfig(u8(0x11, 0x94)), { rate: 48000, frameSamples: 960 }, 'frameLengthFlag: 960');
  t.same(
    parseAudioSpecificConfig(u8(0x2b, 0x11, 0x88, 0x00)),
    { rate: 24000, frameSamples: 1024 },
    'explicit SBR (AOT 5): 1024 at the core rate',
  );
  t.same(parseAudioSpecificConfig(u8(0xb9, 0x90, 0x00)), { rate: 48000, frameSamples: 512 }, 'AAC LD: 512');
  t.same(parseAudioSpecificConfig(u8(0xb9, 0x94, 0x00)), { rate: 48000, frameSamples: 480 }, 'AAC LD short: 480');
  t.same(parseAudioSpecificConfig(u8(0x12)), undefined, 'too short');
  t.same(parseAudioSpecificConfig(u8(0x16, 0x80)), undefined, 'reserved rate index 13');
  const aac = codecFrameDuration(audio('A_AAC', { codecPrivate: u8(0x11, 0x90) }))!;
  t.same([aac.samples(u8(0x21, 0x10)), aac.rate], [1024, 48000], 'raw frame: 1024 at the config rate');
  // ADTS: 44.1 kHz (index 4), 2 raw data blocks.
  const adts = u8(0xff, 0xf1, 0x50, 0x80, 0x02, 0x1f, 0xfd, 0);
  t.same([aac.samples(adts), aac.rate], [2048, 44100], 'ADTS header: rate and raw block count');
  t.equal(aac.samples(u8()), undefined, 'empty');
  const legacy = codecFrameDuration(audio('A_AAC/MPEG4/LC/SBR', { audio: { samplingFrequency: 22050, channels: 2 } }))!;
  t.same([legacy.samples(u8(1, 2, 3)), legacy.rate], [1024, 22050], 'no CodecPrivate: the track rate');
});

t.test('Opus TOC in samples', async (t) => {
  t.equal(opusPacketSamples(u8(0xfc)), 960);
  t.equal(opusPacketSamples(u8(0x80)), 120);
  t.equal(opusPacketSamples(u8(0xfb, 0x06)), 5760, 'code 3: 6 x 20 ms = 120 ms');
  t.equal(opusPacketSamples(u8(0xfb, 0x07)), undefined, 'over 120 ms');
});

t.test('Vorbis: setup from CodecPrivate as FFmpeg reads it', async (t) => {
  const r = demuxSync(load('mkvmerge-vorbis-default-lacing.mkv'));
  const s = parseVorbisSetup(r.header!.tracks[0].codecPrivate!)!;
  t.ok(s, 'parsed');
  t.equal(s.rate, 44100);
  t.same(s.blocksize, [256, 2048]);
  t.same(s.modeFlags, [0, 1], 'two modes: short and long');
  t.equal(s.modeMask, 2);
  t.equal(s.prevMask, 4);
  const v = codecFrameDuration(r.header!.tracks[0])!;
  // mode bit 1 = long; then the previous-window flag (bit 2) picks the previous block size.
  t.same(
    [u8(0x00), u8(0x00), u8(0x02), u8(0x06), u8(0x00), u8(0x02)].map((f) => v.samples(f)),
    [128, 128, 576, 1024, 576, 576],
    'short/long transitions',
  );
  t.equal(v.samples(u8(0x01)), undefined, 'a header packet has no duration');
  t.equal(v.samples(u8()), undefined, 'empty');
  const cp = r.header!.tracks[0].codecPrivate!;
  t.equal(parseVorbisSetup(cp.subarray(0, 40)), undefined, 'cut CodecPrivate');
  const wrongType = cp.slice();
  wrongType[3] = 9;
  t.equal(parseVorbisSetup(wrongType), undefined, 'not Vorbis headers');
  t.equal(codecFrameDuration({ ...r.header!.tracks[0], codecPrivate: u8(2, 1, 1, 0, 0, 0) }), undefined);
});

t.test('random bytes: never an exception, never a negative or absurd duration', async (t) => {
  const rand = mulberry32(77);
  const vorbisCp = demuxSync(load('mkvmerge-vorbis-default-lacing.mkv')).header!.tracks[0].codecPrivate!;
  let measured = 0;
  let bad = 0;
  for (let k = 0; k < 3000; k++) {
    const len = Math.floor(rand() * 24);
    const data = Uint8Array.from({ length: len }, () => Math.floor(rand() * 256));
    if (rand() < 0.3 && len > 1) data[0] = rand() < 0.5 ? 0xff : 0x0b;
    if (rand() < 0.2 && len > 2) data[1] = 0x77;
    // Damaged CodecPrivates too: bit flips in the Vorbis headers, random bytes for the others.
    const cp =
      k % 5 === 0
        ? vorbisCp.map((b) => (rand() < 0.01 ? b ^ (1 << Math.floor(rand() * 8)) : b))
        : Uint8Array.from({ length: Math.floor(rand() * 40) }, () => Math.floor(rand() * 256));
    for (const id of ['A_OPUS', 'A_VORBIS', 'A_AAC', 'A_MPEG/L3', 'A_AC3', 'A_EAC3', 'A_FLAC']) {
      const c = codecFrameDuration(audio(id, { codecPrivate: id === 'A_VORBIS' && k % 5 !== 0 ? vorbisCp : cp }));
      const s = c?.samples(data);
      if (s === undefined) continue;
      measured++;
      if (!(Number.isInteger(s) && s > 0 && s <= 1 << 22 && c!.rate > 0)) bad++;
    }
  }
  t.equal(bad, 0, 'durations are positive integers of samples at a positive rate');
  t.ok(measured > 1000, `${measured} random frames got a duration`);
});

// ---- real encoders, laced by us, against ffprobe ---------------------------------------------------

const HAVE_FFMPEG = toolWorks('ffmpeg') && toolWorks('ffprobe');

/** A Matroska file of `frames` (one track, no DefaultDuration) laced `per` frames per SimpleBlock. */
function laceFile(track: TrackInfo, frames: Frame[], per: number, mode: LacingMode): Uint8Array {
  const w = new ByteWriter(1 << 16);
  writeEbmlHeader(w, 'matroska');
  w.id(Id.Segment);
  w.unknownSize(8);
  writeInfo(w, { timestampScale: 1_000_000 });
  writeTracks(w, [{ ...track, defaultDuration: undefined }]);
  const cl = w.startMaster(Id.Cluster);
  w.uintElement(Id.Timestamp, 0);
  for (let i = 0; i < frames.length; i += per) {
    const group = frames.slice(i, i + per);
    const m = group.length > 1 ? mode : 'none';
    const laced = encodeLaces(
      group.map((f) => f.data),
      m,
    );
    const rel = Math.round(group[0].timestamp / 1e6);
    const lacing = { none: 0, xiph: 2, fixed: 4, ebml: 6 }[m];
    const body = new Uint8Array(4 + laced.length);
    body.set([0x81, rel >> 8, rel & 0xff, 0x80 | lacing], 0);
    body.set(laced, 4);
    w.binaryElement(Id.SimpleBlock, body);
  }
  w.endMaster(cl);
  return w.toBytes();
}

interface Pkt {
  pts?: number;
  duration?: number;
}
const probePackets = (file: string): Pkt[] =>
  (
    JSON.parse(
      spawnSync('ffprobe', ['-v', 'error', '-show_packets', '-of', 'json', file], {
        encoding: 'utf8',
        maxBuffer: 64 << 20,
      }).stdout,
    ) as { packets: Pkt[] }
  ).packets;

t.test('real encoders: durations and laced pts equal ffprobe for every packet', { skip: !HAVE_FFMPEG }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ebml-codec-dur-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const src = "aevalsrc='0.3*sin(2*PI*440*t)+if(lt(mod(t\\,0.25)\\,0.004)\\,0.9*sin(2*PI*3000*t)\\,0)':s=44100:d=1";
  const cases: [string, string[], boolean][] = [
    // name, encoder args, compare laced pts (AAC: ffprobe leaves the first packet without a duration, so
    // its pts for the second lace of the first block is the block's, 23 ms before ours; durations match)
    ['vorbis', ['-c:a', 'libvorbis', '-b:a', '64k'], true],
    ['opus', ['-c:a', 'libopus', '-b:a', '32k'], true],
    ['aac', ['-c:a', 'aac', '-b:a', '64k'], false],
    ['mp3', ['-c:a', 'libmp3lame', '-b:a', '64k'], true],
    ['mp3-22k', ['-c:a', 'libmp3lame', '-b:a', '32k', '-ar', '22050'], true],
    ['mp2', ['-c:a', 'mp2', '-b:a', '128k'], true],
    ['ac3', ['-c:a', 'ac3', '-b:a', '96k'], true],
    ['eac3', ['-c:a', 'eac3', '-b:a', '96k'], true],
    ['flac', ['-c:a', 'flac'], true],
  ];
  for (const [name, args, comparePts] of cases) {
    const enc = join(dir, `${name}.mka`);
    const ff = spawnSync('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', src, ...args, '-ac', '1', enc]);
    if (ff.status !== 0) {
      t.comment(`${name}: encoder not available, skipped`);
      continue;
    }
    const r = demuxSync(new Uint8Array(readFileSync(enc)));
    t.same(r.errors, [], `${name}: demuxed cleanly`);
    const track = r.header!.tracks[0];
    const delay = Math.round((track.codecDelay ?? 0) / 1e6) * 1e6;
    for (const [per, mode] of [
      [1, 'none'],
      [8, 'xiph'],
      [5, 'ebml'],
    ] as const) {
      const file = join(dir, `${name}-${mode}.mkv`);
      writeFileSync(file, laceFile(track, r.frames, per, mode));
      const ours = demuxSync(new Uint8Array(readFileSync(file)));
      const theirs = probePackets(file);
      t.equal(ours.frames.length, theirs.length, `${name} ${mode}: packet count`);
      let durs = 0;
      let pts = 0;
      const bad: string[] = [];
      ours.frames.forEach((f, i) => {
        const p = theirs[i];
        if (p.duration !== undefined) {
          durs++;
          if (f.duration !== Number(p.duration) * 1e6) bad.push(`duration ${i}: ${f.duration} vs ${p.duration} ms`);
        }
        if (p.pts !== undefined && (comparePts || mode === 'none')) {
          pts++;
          // ffprobe subtracts CodecDelay (Opus) from every pts.
          if (f.timestamp - delay !== Number(p.pts) * 1e6) bad.push(`pts ${i}: ${f.timestamp} vs ${p.pts} ms`);
        }
      });
      t.same(bad.slice(0, 5), [], `${name} ${mode}: ${durs} durations and ${pts} pts equal ffprobe's`);
      t.ok(durs >= theirs.length - 1, `${name} ${mode}: durations compared`);
      t.ok(
        ours.frames.every((f) => f.duration !== undefined && f.duration > 0),
        `${name} ${mode}: every frame has a duration`,
      );
    }
  }
});
