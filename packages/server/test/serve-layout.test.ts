// The serving path (LiveStream -> Flusher/StreamClient -> real sockets) when the source changes:
// - a new track layout ends the connected responses cleanly (FIN, reason new_input) after everything of
//   the old layout, with no second EBML header in them; a new client gets the new layout only;
// - the same layout restarted mid-GOP is spliced: the client stays, one Segment, timestamps increasing,
//   and nothing of the new source before its first keyframe (ffmpeg decodes the capture with no error).
import t from 'tap';
import net from 'node:net';
import { readFileSync } from 'node:fs';
import type { Frame, MatroskaHeader } from '@mkvserve/ebml';
import { LiveStream } from '@mkvserve/fanout';
import { Flusher, StreamClient } from '../src/http/stream.js';
import { FIX, ffmpegErrors, get, hasFfmpeg, parseMedia, waitFor } from '../testlib/helpers.js';
import type { Capture } from '../testlib/helpers.js';

const NO_LIMITS = { softLimitNs: Infinity, hardLimitNs: Infinity, idleTimeoutMs: Infinity } as const;

async function demux(name: string): Promise<{ header: MatroskaHeader; frames: Frame[] }> {
  const mod = (await import('@mkvserve/ebml/node')) as unknown as {
    demuxAll(this: void, src: Iterable<Uint8Array>): Promise<{ header: MatroskaHeader | undefined; frames: Frame[] }>;
  };
  const r = await mod.demuxAll([readFileSync(FIX(name))]);
  return { header: r.header!, frames: r.frames };
}

/** A minimal streaming server around a LiveStream: every request gets a StreamClient. */
async function serve(live: LiveStream): Promise<{
  port: number;
  clients: StreamClient[];
  closed: StreamClient[];
  close(): Promise<void>;
}> {
  const flusher = new Flusher({ intervalMs: 20 });
  flusher.start();
  const clients: StreamClient[] = [];
  const closed: StreamClient[] = [];
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    socket.once('data', () => {
      const c = new StreamClient(socket, live.subscribe(), 'm', { onClientClosed: (x) => closed.push(x) });
      clients.push(c);
      flusher.attach(c, 'HTTP/1.1 200 OK\r\nContent-Type: video/x-matroska\r\nConnection: close\r\n\r\n');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    clients,
    closed,
    close: async () => {
      flusher.stop();
      for (const c of clients) c.destroy('shutdown');
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** Pushes frames in small batches, letting the flusher write in between. */
async function feed(live: LiveStream, frames: readonly Frame[]): Promise<void> {
  for (let i = 0; i < frames.length; i += 20) {
    for (const f of frames.slice(i, i + 20)) live.pushFrame(f);
    await new Promise((r) => setTimeout(r, 2));
  }
}

t.test('a new track layout ends connected responses cleanly; new clients get the new layout', async (t) => {
  const a = await demux('vp9-opus.webm');
  const b = await demux('h264-aac-bframes.mkv');
  const live = new LiveStream(NO_LIMITS);
  live.setHeader(a.header);
  const srv = await serve(live);
  t.teardown(() => srv.close());
  const first: Promise<Capture> = get(srv.port, '/m', 20_000);
  await waitFor(() => srv.clients.length === 1, 5000, 'the first client');
  await feed(live, a.frames);
  live.setHeader(b.header);
  await feed(live, b.frames.slice(0, b.frames.length >> 1));
  const cap = await first;
  t.ok(cap.ended, 'the server ended the response (FIN)');
  t.equal(srv.clients[0].reason, 'new_input', 'reason new_input');
  const m = parseMedia(cap.body);
  t.same(m.errors, [], 'the capture demuxes cleanly');
  t.equal(m.headers, 1, 'one EBML header: no second one mid-response');
  t.equal(m.frames.length, a.frames.length, 'every frame of the old layout first');
  if (hasFfmpeg) t.equal(ffmpegErrors(cap.body, 'webm'), '', 'ffmpeg decodes it with no error');

  const second = get(srv.port, '/m', 20_000);
  await waitFor(() => srv.clients.length === 2, 5000, 'the second client');
  await feed(live, b.frames.slice(b.frames.length >> 1));
  live.end();
  const cap2 = await second;
  t.ok(cap2.ended);
  t.equal(srv.clients[1].reason, 'eof');
  const m2 = parseMedia(cap2.body);
  t.same(m2.errors, []);
  t.equal(m2.headers, 1);
  t.same(
    m2.header!.tracks.map((x) => x.codecId),
    b.header.tracks.map((x) => x.codecId),
    'the new layout only',
  );
  t.ok(m2.frames.length > 0);
  if (hasFfmpeg) t.equal(ffmpegErrors(cap2.body), '', 'ffmpeg decodes the new layout with no error');
});

t.test('the same layout restarted mid-GOP is spliced from its first keyframe', async (t) => {
  const a = await demux('vp9-opus.webm');
  const video = a.header.tracks.find((x) => x.kind === 'video')!.number;
  const keys = a.frames.flatMap((f, i) => (f.track === video && f.keyframe ? [i] : []));
  t.ok(keys.length >= 2, 'the fixture has two GOPs or more');
  // The restarted source begins a few frames into its first GOP: audio and P-frames before a keyframe.
  const restartAt = keys[0] + 5;
  const live = new LiveStream(NO_LIMITS);
  live.setHeader(a.header);
  const srv = await serve(live);
  t.teardown(() => srv.close());
  const cap = get(srv.port, '/m', 20_000);
  await waitFor(() => srv.clients.length === 1, 5000, 'the client');
  await feed(live, a.frames);
  live.setHeader(a.header);
  const second = a.frames.slice(restartAt);
  await feed(live, second);
  live.end();
  const c = await cap;
  t.equal(srv.clients[0].reason, 'eof', 'the client stayed to the end');
  const m = parseMedia(c.body);
  t.same(m.errors, []);
  t.equal(m.headers, 1, 'one Segment across the splice');
  const firstKeyAfter = keys.find((k) => k > restartAt)!;
  const expected = a.frames.length + second.length - (firstKeyAfter - restartAt);
  const held = a.frames.slice(restartAt, firstKeyAfter).filter((f) => f.track !== video).length;
  t.equal(m.frames.length, expected + held, 'nothing of the new source before its keyframe but held audio');
  const vts = m.frames.filter((f) => f.track === video).map((f) => f.timestamp);
  const splice = a.frames.filter((f) => f.track === video).length;
  t.ok(vts[splice] > vts[splice - 1], 'timestamps keep increasing across the splice');
  t.ok(m.frames.filter((f) => f.track === video)[splice].keyframe, 'the spliced video starts on a keyframe');
  if (hasFfmpeg) t.equal(ffmpegErrors(c.body, 'webm'), '', 'ffmpeg decodes the whole capture with no error');
});
