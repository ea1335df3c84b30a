// sniffContainer on real bytes made by ffmpeg in a temp dir (skipped when ffmpeg is missing), plus
// hand-made headers for the text and edge cases.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { notMatroskaError, sniffContainer } from '../src/matroska/sniff.js';
import { MatroskaDemuxer } from '../src/matroska/demuxer.js';
import type { EbmlError } from '../src/errors.js';
import { toolWorks } from '../testlib/build.js';

const hasFfmpeg = toolWorks('ffmpeg');

const V = ['-f', 'lavfi', '-i', 'testsrc=duration=0.2:size=64x48:rate=10'];
const A = ['-f', 'lavfi', '-i', 'sine=duration=0.2:sample_rate=44100'];
const cases: { file: string; kind: string; args: string[] }[] = [
  { file: 'a.ts', kind: 'mpegts', args: [...V, ...A, '-c:v', 'mpeg2video', '-c:a', 'mp2', '-f', 'mpegts'] },
  { file: 'a.m2ts', kind: 'm2ts', args: [...V, '-c:v', 'mpeg2video', '-mpegts_m2ts_mode', '1', '-f', 'mpegts'] },
  { file: 'a.mp4', kind: 'mp4', args: [...V, ...A, '-c:v', 'mpeg4', '-c:a', 'aac', '-f', 'mp4'] },
  { file: 'a.mov', kind: 'mov', args: [...V, '-c:v', 'mpeg4', '-f', 'mov'] },
  { file: 'a.flv', kind: 'flv', args: [...V, ...A, '-c:v', 'flv', '-c:a', 'mp3', '-ar', '44100', '-f', 'flv'] },
  { file: 'a.ogg', kind: 'ogg', args: [...A, '-c:a', 'libvorbis', '-f', 'ogg'] },
  { file: 'a.avi', kind: 'avi', args: [...V, '-c:v', 'mpeg4', '-f', 'avi'] },
  { file: 'a.wav', kind: 'wav', args: [...A, '-f', 'wav'] },
  {
    file: 'a.mpg',
    kind: 'mpeg-ps',
    args: [
      '-f',
      'lavfi',
      '-i',
      'testsrc=duration=0.2:size=64x48:rate=25',
      ...A,
      '-c:v',
      'mpeg1video',
      '-c:a',
      'mp2',
      '-f',
      'mpeg',
    ],
  },
  { file: 'a.aac', kind: 'adts', args: [...A, '-c:a', 'aac', '-f', 'adts'] },
  {
    file: 'a.mp3',
    kind: 'mp3',
    args: [...A, '-c:a', 'libmp3lame', '-id3v2_version', '0', '-write_xing', '0', '-f', 'mp3'],
  },
  { file: 'b.mp3', kind: 'mp3', args: [...A, '-c:a', 'libmp3lame', '-f', 'mp3'] },
  { file: 'a.flac', kind: 'flac', args: [...A, '-f', 'flac'] },
  { file: 'a.ivf', kind: 'ivf', args: [...V, '-c:v', 'libvpx', '-f', 'ivf'] },
  { file: 'a.h264', kind: 'h264', args: [...V, '-c:v', 'libx264', '-f', 'h264'] },
  { file: 'a.m2v', kind: 'mpeg-video', args: [...V, '-c:v', 'mpeg2video', '-f', 'mpeg2video'] },
  { file: 'a.asf', kind: 'asf', args: [...V, '-c:v', 'wmv2', '-f', 'asf'] },
  { file: 'a.mkv', kind: 'matroska', args: [...V, '-c:v', 'mpeg4', '-f', 'matroska'] },
  { file: 'a.webm', kind: 'webm', args: [...V, '-c:v', 'libvpx', '-f', 'webm'] },
];

t.test('real files made by ffmpeg', { skip: hasFfmpeg ? false : 'ffmpeg not installed' }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sniff-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const c of cases) {
    const out = join(dir, c.file);
    const r = spawnSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...c.args, out]);
    if (r.status !== 0) {
      t.skip(`${c.file}: ffmpeg could not make it (${String(r.stderr).trim().split('\n').pop()})`, () => {});
      continue;
    }
    const bytes = readFileSync(out);
    const head = new Uint8Array(bytes.buffer, bytes.byteOffset, Math.min(bytes.length, 4096));
    const s = sniffContainer(head);
    t.equal(s.kind, c.kind, `${c.file} is ${c.kind}`);
    if (c.kind === 'matroska' || c.kind === 'webm') {
      t.ok(s.matroska);
      t.equal(s.docType, c.kind);
      t.equal(notMatroskaError(head), undefined);
    } else {
      t.notOk(s.matroska);
      t.match(s.message, /not Matroska\/WebM/);
      t.match(s.message, /ffmpeg .*-f matroska/, `${c.file}: says how to convert`);
      // The demuxer reports it as a fatal NOT_MATROSKA error naming the format.
      const errors: EbmlError[] = [];
      let frames = 0;
      const d = new MatroskaDemuxer({ onError: (e) => errors.push(e), onFrame: () => frames++ });
      for (let p = 0; p < bytes.length; p += 1000) d.push(bytes.subarray(p, p + 1000));
      d.end();
      t.equal(frames, 0);
      t.equal(errors.length, 1, `${c.file}: one error`);
      t.equal(errors[0]?.code, 'NOT_MATROSKA');
      t.equal(errors[0]?.fatal, true);
      t.equal(errors[0]?.message.includes(s.name), true, `${c.file}: message names ${s.name}`);
    }
  }
});

const enc = (s: string) => new TextEncoder().encode(s);

t.test('hand-made inputs', async (t) => {
  t.equal(sniffContainer(new Uint8Array(0)).kind, 'empty');
  t.equal(sniffContainer(enc('#EXTM3U\n#EXT-X-VERSION:3\n')).kind, 'hls-playlist');
  t.equal(sniffContainer(enc('\n<!DOCTYPE html><html>')).kind, 'html');
  t.equal(sniffContainer(enc('<html><body>404')).kind, 'html');
  t.equal(sniffContainer(new Uint8Array([0x1f, 0x8b, 8, 0])).kind, 'gzip');
  t.equal(sniffContainer(new Uint8Array([0, 0, 0, 1, 0x40, 0x01, 0x0c])).kind, 'h265');
  t.equal(sniffContainer(new Uint8Array([0, 0, 0, 1, 0x09, 0xf0])).kind, 'h264');
  t.equal(sniffContainer(new Uint8Array([0x47, 0x40, 0, 0x10])).kind, 'mpegts');
  const u = sniffContainer(enc('hello world, this is text'));
  t.equal(u.kind, 'unknown');
  t.match(u.message, /68 65 6c 6c 6f/);
  // EBML with another DocType.
  const ebml = new Uint8Array([0x1a, 0x45, 0xdf, 0xa3, 0x88, 0x42, 0x82, 0x85, ...enc('other')]);
  const s = sniffContainer(ebml);
  t.equal(s.kind, 'ebml');
  t.equal(s.docType, 'other');
  t.notOk(s.matroska);
  // EBML header with the DocType beyond the bytes given: assumed Matroska (the demuxer checks it later).
  t.ok(sniffContainer(new Uint8Array([0x1a, 0x45, 0xdf, 0xa3])).matroska);
});
