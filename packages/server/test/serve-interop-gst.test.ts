// Interop on the serving path: GStreamer (souphttpsrc ! matroskademux ! decoders) joins a live stream
// late, through the polling flusher and the fanout's shared runs, across a source restart mid-GOP
// (spliced), and decodes everything with no warning or error. Skipped without gst-launch-1.0.
import t from 'tap';
import net from 'node:net';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Frame, MatroskaHeader } from '@mkvserve/ebml';
import { LiveStream } from '@mkvserve/fanout';
import { Flusher, StreamClient } from '../src/http/stream.js';
import { FIX, sleep, waitFor } from '../testlib/helpers.js';

const gst =
  spawnSync('gst-inspect-1.0', ['souphttpsrc']).status === 0 && spawnSync('gst-inspect-1.0', ['vp8dec']).status === 0;

async function demux(name: string): Promise<{ header: MatroskaHeader; frames: Frame[] }> {
  const mod = (await import('@mkvserve/ebml/node')) as unknown as {
    demuxAll(this: void, src: Iterable<Uint8Array>): Promise<{ header: MatroskaHeader | undefined; frames: Frame[] }>;
  };
  const r = await mod.demuxAll([readFileSync(FIX(name))]);
  return { header: r.header!, frames: r.frames };
}

/** Pushes frames paced at `speed` x real time. */
async function paced(live: LiveStream, frames: readonly Frame[], speed: number): Promise<void> {
  const t0 = performance.now();
  const ts0 = frames[0].timestamp;
  for (const f of frames) {
    const due = (f.timestamp - ts0) / 1e6 / speed - (performance.now() - t0);
    if (due > 2) await sleep(due);
    live.pushFrame(f);
  }
}

t.test(
  'GStreamer joins late, across a spliced restart, and decodes with no warning',
  { skip: !gst && 'GStreamer (souphttpsrc, vp8dec) missing' },
  async (t) => {
    const a = await demux('demo.webm'); // VP8 + Opus, 10 s
    const live = new LiveStream({ allocate: (n) => Buffer.allocUnsafeSlow(n) });
    live.setHeader(a.header);
    const flusher = new Flusher({ intervalMs: 100 });
    flusher.start();
    const clients: StreamClient[] = [];
    const server = net.createServer({ allowHalfOpen: true }, (socket) => {
      socket.once('data', () => {
        const c = new StreamClient(socket, live.subscribe(), 'm', { onClientClosed: () => {} });
        clients.push(c);
        flusher.attach(c, 'HTTP/1.1 200 OK\r\nContent-Type: video/webm\r\nConnection: close\r\n\r\n');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    t.teardown(() => {
      flusher.stop();
      server.close();
    });
    const video = a.header.tracks.find((x) => x.kind === 'video')!.number;
    const half = Math.floor(a.frames.length / 2);
    const feeding = (async () => {
      await paced(live, a.frames.slice(0, half), 4);
      await waitFor(() => clients.length === 1, 10_000, 'GStreamer to connect');
      await paced(live, a.frames.slice(half), 4);
      // The source restarts a few frames into a GOP: spliced from its next keyframe.
      live.setHeader(a.header);
      const firstKey = a.frames.findIndex((f) => f.track === video && f.keyframe);
      await paced(live, a.frames.slice(firstKey + 4), 4);
      live.end();
    })();
    await sleep(600); // GStreamer joins late: the burst starts at the newest keyframe
    const out = await new Promise<{ code: number | null; text: string }>((resolve) => {
      const p = spawn('gst-launch-1.0', [
        'souphttpsrc',
        `location=http://127.0.0.1:${port}/m`,
        '!',
        'matroskademux',
        'name=d',
        'd.',
        '!',
        'queue',
        '!',
        'decodebin',
        '!',
        'fakesink',
        'sync=false',
        'd.',
        '!',
        'queue',
        '!',
        'decodebin',
        '!',
        'fakesink',
        'sync=false',
      ]);
      let text = '';
      p.stdout.setEncoding('utf8').on('data', (d: string) => (text += d));
      p.stderr.setEncoding('utf8').on('data', (d: string) => (text += d));
      const timer = setTimeout(() => p.kill('SIGKILL'), 60_000);
      p.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code, text });
      });
    });
    await feeding;
    t.equal(out.code, 0, 'gst-launch exits 0');
    t.notMatch(out.text, /WARNING|ERROR|CRITICAL/, 'no warning or error while decoding');
    t.match(out.text, /Got EOS/, 'the stream ended cleanly (EOS)');
    t.equal(clients[0]?.reason, 'eof');
  },
);
