// Scale-out with mkvserve alone: an edge is `mkvserve http://origin/<mount> --reconnect`. On loopback,
// origin -> edge -> clients: late joiners at the edge start on a keyframe and decode without error
// (ffmpeg, ffprobe); the edge survives origin restarts (a clean stop, then a crash): its clients stay
// connected, get no second header, timestamps keep increasing, and what they received decodes cleanly.
import t from 'tap';
import type { Test } from 'tap';
import net from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  FIX,
  ffmpegErrors,
  ffprobePackets,
  get,
  hasFfmpeg,
  hasFfprobe,
  parseMedia,
  runCli,
  sleep,
  videoTrack,
  waitFor,
} from '../testlib/helpers.js';
import type { CliRun } from '../testlib/helpers.js';

const skip = hasFfmpeg && hasFfprobe ? false : 'ffmpeg/ffprobe are not installed (apt-get install ffmpeg)';

/** A stream client that keeps everything it receives. */
class Viewer {
  readonly sock: net.Socket;
  private chunks: Buffer[] = [];
  bytes = 0;
  closed = false;
  constructor(port: number, path: string) {
    this.sock = net.connect(port, '127.0.0.1', () => this.sock.write(`GET ${path} HTTP/1.1\r\nHost: edge\r\n\r\n`));
    this.sock.on('data', (d: Buffer) => {
      this.chunks.push(d);
      this.bytes += d.length;
    });
    this.sock.on('close', () => (this.closed = true));
    this.sock.on('error', () => {});
  }
  /** The response body (after the head). */
  body(): Buffer {
    const all = Buffer.concat(this.chunks);
    const sep = all.indexOf('\r\n\r\n');
    return all.subarray(sep + 4);
  }
  status(): number {
    return Number(/^HTTP\/1\.1 (\d{3})/.exec(Buffer.concat(this.chunks).subarray(0, 20).toString('latin1'))?.[1] ?? 0);
  }
  close(): void {
    this.sock.destroy();
  }
}

async function statusOf(port: number): Promise<{
  mounts: { input: { state: string; reconnects: number; splices: number; trackChanges: number }; clients: number }[];
}> {
  return JSON.parse((await get(port, '/api/status')).body.toString());
}

function startOrigin(port = 0): CliRun {
  return runCli([FIX('demo.webm'), '--loop', '--port', String(port), '--quiet'], { stdin: 'ignore' });
}

/** Restarts the origin on the port it had (retried while the port is still being released). */
async function restartOrigin(port: number): Promise<CliRun> {
  for (let i = 0; ; i++) {
    const o = startOrigin(port);
    try {
      await o.url;
      return o;
    } catch (err) {
      if (i >= 20 || !/already in use/.test(o.stderr())) throw err;
      await sleep(100);
    }
  }
}

/** The edge's input_* log lines (JSON), for a failure message. */
function inputLog(run: CliRun): string {
  return run
    .stderr()
    .split('\n')
    .filter((l) => l.includes('"event":"input_'))
    .slice(-12)
    .join('\n');
}

/** The checks every edge viewer's bytes must pass. */
function checkCapture(t: Test, body: Buffer, what: string): void {
  const m = parseMedia(body);
  t.equal(m.errors.length, 0, `${what}: our demuxer reads it cleanly ${m.errors.join('; ')}`);
  t.equal(m.headers, 1, `${what}: one EBML header (spliced, not restarted)`);
  const v = videoTrack(m);
  const video = m.frames.filter((f) => f.track === v);
  t.ok(video.length > 10, `${what}: ${video.length} video frames`);
  t.ok(video[0]?.keyframe, `${what}: the first video frame is a keyframe`);
  let back = 0;
  for (let i = 1; i < video.length; i++) if (video[i].timestamp <= video[i - 1].timestamp) back++;
  t.equal(back, 0, `${what}: video timestamps always increase`);
  const errors = ffmpegErrors(body, 'webm');
  if (errors && process.env.MKVSERVE_KEEP_CAPTURES)
    writeFileSync(join(process.env.MKVSERVE_KEEP_CAPTURES, `${what}.webm`), body);
  t.equal(errors, '', `${what}: ffmpeg decodes it without error ${errors.split('\n', 1)[0]}`);
  const probe = ffprobePackets(body);
  const vIndex = probe.streams.find((s) => s.codec_type === 'video')?.index;
  const firstVideo = probe.packets.find((p) => p.stream_index === vIndex);
  t.match(firstVideo?.flags, /^K/, `${what}: ffprobe: the first video packet is a keyframe`);
}

t.test('origin -> edge -> late joiners, and the edge across origin restarts', { skip }, async (t) => {
  const t0 = performance.now();
  let origin = startOrigin();
  t.teardown(() => origin.child.kill('SIGKILL'));
  const originUrl = await origin.url;
  const originPort = Number(new URL(originUrl).port);
  const edge = runCli([originUrl, '--reconnect', '--port', '0', '--log-format', 'json'], { stdin: 'ignore' });
  t.teardown(() => edge.child.kill('SIGKILL'));
  const edgePort = Number(new URL(await edge.url).port);
  await waitFor(() => /"event":"input_header"/.test(edge.stderr()), 15_000, 'the edge to read the origin’s header');

  // A viewer that stays for the whole test, then late joiners at the edge.
  const stayer = new Viewer(edgePort, '/stream');
  await sleep(2500);
  const joiners: Viewer[] = [];
  for (let i = 0; i < 3; i++) {
    joiners.push(new Viewer(edgePort, '/stream'));
    await sleep(1300); // each joins at a different point of a GOP (1 s)
  }
  await sleep(2500);
  for (const [i, j] of joiners.entries()) {
    j.close();
    t.equal(j.status(), 200);
    checkCapture(t, j.body(), `late joiner ${i + 1}`);
  }
  const originClients = (await statusOf(originPort)).mounts[0].clients;
  t.equal(originClients, 1, 'the origin serves the edge alone, whatever the number of edge viewers');

  // The origin stops cleanly and comes back; then it crashes (SIGKILL: mid-cluster) and comes back.
  for (const how of ['SIGTERM', 'SIGKILL'] as const) {
    const before = (await statusOf(edgePort)).mounts[0].input;
    const bytesBefore = stayer.bytes;
    origin.child.kill(how);
    await origin.exit;
    await sleep(1000); // the edge loses its source for a while
    origin = await restartOrigin(originPort);
    // The edge retries with a backoff doubling to 10 s while the origin is down, so its next attempt can
    // come up to 10 s after the origin is back (more on a loaded machine).
    await waitFor(
      () => stayer.bytes > bytesBefore + 100_000,
      40_000,
      `the edge viewer to receive the restarted origin’s stream (${how})`,
    ).catch((err: Error) => {
      throw new Error(`${err.message}; the edge's input log:\n${inputLog(edge)}`);
    });
    const after = (await statusOf(edgePort)).mounts[0];
    t.ok(after.input.reconnects > before.reconnects, `${how}: the edge reconnected (${after.input.reconnects})`);
    t.ok(after.input.splices > before.splices, `${how}: the new stream was spliced (${after.input.splices})`);
    t.equal(after.input.trackChanges, 0, `${how}: same layout, no new init part`);
    t.equal(after.clients, 1, `${how}: the edge viewer is still connected`);
    t.equal(after.input.state, 'streaming');
    t.notOk(stayer.closed, `${how}: its connection was never closed`);
  }
  await sleep(2000);
  const late = new Viewer(edgePort, '/stream');
  await sleep(3000);
  late.close();
  checkCapture(t, late.body(), 'a joiner after the restarts');
  stayer.close();
  const wall = (performance.now() - t0) / 1000;
  checkCapture(t, stayer.body(), 'the viewer connected across both restarts');
  const m = parseMedia(stayer.body());
  const video = m.frames.filter((f) => f.track === videoTrack(m));
  const span = (video[video.length - 1].timestamp - video[0].timestamp) / 1e9;
  // Two outages of about 1-3 s each are the only media it misses.
  t.ok(span > wall - 12, `it got ${span.toFixed(1)} s of media in about ${wall.toFixed(1)} s`);
});
