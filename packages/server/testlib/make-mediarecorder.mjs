// Makes testlib/media/mediarecorder.webm: what a browser's MediaRecorder writes (unknown-size Segment
// and Clusters, no Cues, no Duration). Headless Chromium (Debian's /usr/bin/chromium, driven by
// playwright-core; no browser download) records a canvas animation and a 440 Hz oscillator for 6 s,
// VP8 + Opus, a keyframe every second. Run: node packages/server/testlib/make-mediarecorder.mjs
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const out = new URL('./media/mediarecorder.webm', import.meta.url);
const profile = mkdtempSync(join(tmpdir(), 'mkvserve-rec-'));
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--autoplay-policy=no-user-gesture-required',
  ],
});
try {
  const page = await browser.newPage();
  const b64 = await page.evaluate(async () => {
    const canvas = document.createElement('canvas');
    canvas.width = 320;
    canvas.height = 240;
    document.body.append(canvas);
    const g = canvas.getContext('2d');
    let n = 0;
    const draw = () => {
      g.fillStyle = `hsl(${(n * 3) % 360} 70% 50%)`;
      g.fillRect(0, 0, 320, 240);
      g.fillStyle = '#fff';
      g.font = '48px sans-serif';
      g.fillText(String(n++), 20 + (n % 200), 130);
    };
    const timer = setInterval(draw, 1000 / 30);
    const ac = new AudioContext();
    const osc = ac.createOscillator();
    osc.frequency.value = 440;
    const dest = ac.createMediaStreamDestination();
    osc.connect(dest);
    osc.start();
    const stream = new MediaStream([...canvas.captureStream(30).getVideoTracks(), ...dest.stream.getAudioTracks()]);
    const rec = new MediaRecorder(stream, {
      mimeType: 'video/webm;codecs=vp8,opus',
      videoBitsPerSecond: 250_000,
      audioBitsPerSecond: 48_000,
      videoKeyFrameIntervalDuration: 1000,
    });
    const parts = [];
    rec.ondataavailable = (e) => parts.push(e.data);
    const stopped = new Promise((r) => (rec.onstop = r));
    rec.start(500);
    await new Promise((r) => setTimeout(r, 6000));
    rec.stop();
    await stopped;
    clearInterval(timer);
    const buf = new Uint8Array(await new Blob(parts).arrayBuffer());
    let s = '';
    for (let i = 0; i < buf.length; i += 0x8000) s += String.fromCharCode(...buf.subarray(i, i + 0x8000));
    return btoa(s);
  });
  writeFileSync(out, Buffer.from(b64, 'base64'));
  console.log(`wrote ${out.pathname} (${Buffer.from(b64, 'base64').length} bytes)`);
} finally {
  await browser.close();
  rmSync(profile, { recursive: true, force: true });
}
