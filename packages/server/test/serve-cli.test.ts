// The real CLI, spawned: URL printing with --port 0, end of input -> clean response end + exit 0,
// stdin input with and without `-`, SIGTERM within 2 s, reserved mounts, JSON logs; the built-in
// demo clip when stdin is a terminal (runServe in-process).
import t from 'tap';
import { createReadStream, readFileSync } from 'node:fs';
import { runServe } from '../src/serve.js';
import { createLogger } from '../src/log.js';
import { FIX, get, runCli, parseMedia, sleep, waitFor, hasFfmpeg, ffmpegErrors } from '../testlib/helpers.js';

const port = (url: string): number => Number(new URL(url).port);

t.test('file input: URL printed, client served to the end, exit 0', async (t) => {
  const run = runCli([FIX('vp9-opus.webm'), '--port', '0', '--log-format', 'json', '--speed', '3'], {
    stdin: 'ignore',
  });
  const url = await run.url;
  t.match(url, /^http:\/\/127\.0\.0\.1:\d+\/stream$/);
  const cap = await get(port(url), '/stream', 5000);
  t.equal(cap.status, 200);
  t.ok(cap.ended, 'response ended cleanly at end of input');
  const exit = await run.exit;
  t.equal(exit.code, 0, 'exit code 0');
  const lines = run
    .stderr()
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { event: string; reason?: string; bytes?: number });
  const events = lines.map((l) => l.event);
  for (const e of [
    'listening',
    'input_open',
    'input_header',
    'client_connect',
    'input_eof',
    'client_disconnect',
    'exit',
  ])
    t.ok(events.includes(e), `logged ${e}`);
  const disc = lines.find((l) => l.event === 'client_disconnect');
  t.equal(disc?.reason, 'eof');
  t.equal(disc?.bytes, cap.body.length + cap.head.length + 4, 'bytes in the log = bytes received');
});

for (const args of [['-'], []]) {
  t.test(
    `stdin input (${args.length ? '-' : 'no argument, piped'}): live (paced only when ahead of real time), ends cleanly`,
    async (t) => {
      const run = runCli([...args, '--port', '0']);
      const data = readFileSync(FIX('pipe-live.mkv'));
      // Send the header and a bit, connect, then the rest slowly, then EOF.
      run.child.stdin!.write(data.subarray(0, 20_000));
      const url = await run.url;
      await waitFor(() => /input_header/.test(run.stderr()), 10_000, 'input_header in the log');
      const capP = get(port(url), '/stream', 8000);
      await waitFor(() => /client_connect/.test(run.stderr()), 10_000, 'client_connect in the log');
      for (let off = 20_000; off < data.length; off += 10_000) {
        run.child.stdin!.write(data.subarray(off, off + 10_000));
        await sleep(30);
      }
      run.child.stdin!.end();
      const cap = await capP;
      t.equal(cap.status, 200);
      t.equal(cap.headers.get('content-type'), 'video/x-matroska');
      t.ok(cap.ended, 'response ended at EOF');
      const m = parseMedia(cap.body);
      t.ok(m.frames.length > 100, `${m.frames.length} frames`);
      t.ok(m.frames.find((f) => f.track === 1)?.keyframe, 'starts on a keyframe');
      if (hasFfmpeg) t.equal(ffmpegErrors(cap.body), '');
      const exit = await run.exit;
      t.equal(exit.code, 0);
      t.match(run.stderr(), /input_header.*live=true pacing=live/);
    },
  );
}

t.test('stdin redirected from a file is paced like a file', async (t) => {
  const run = runCli(['-', '--port', '0', '--speed', '4']);
  createReadStream(FIX('vp9-opus.webm')).pipe(run.child.stdin!);
  await run.url;
  const exit = await run.exit;
  t.equal(exit.code, 0);
  t.match(run.stderr(), /pacing=file/);
  t.ok(exit.ms > 600, `took ${exit.ms.toFixed(0)} ms for 3 s at 4x`);
});

t.test('SIGTERM: stop accepting, end responses cleanly, exit 0 within 2 s', async (t) => {
  const run = runCli([FIX('demo.webm'), '--loop', '--port', '0'], { stdin: 'ignore' });
  const url = await run.url;
  const capP = get(port(url), '/stream', 6000);
  await waitFor(() => /client_connect/.test(run.stderr()), 10_000, 'client_connect in the log');
  await sleep(200); // streaming for a moment
  const t0 = performance.now();
  run.child.kill('SIGTERM');
  const exit = await run.exit;
  const took = performance.now() - t0;
  const cap = await capP;
  t.equal(exit.code, 0);
  // The client reads, so its response ends at once (no 1.5 s grace needed); 2 s of margin for a loaded CI machine.
  t.ok(took < 2000, `exited ${took.toFixed(0)} ms after SIGTERM`);
  t.ok(cap.ended, 'the response was ended, not reset');
  t.match(run.stderr(), /shutdown signal=SIGTERM/);
});

t.test('SIGINT while a client never reads: exits once the 1.5 s grace period is over', async (t) => {
  const run = runCli([FIX('demo.webm'), '--loop', '--port', '0', '--quiet', '--speed', '20'], { stdin: 'ignore' });
  const url = await run.url;
  const net = await import('node:net');
  const s = net.connect(port(url), '127.0.0.1', () => s.write('GET /stream HTTP/1.1\r\n\r\n'));
  s.on('error', () => {});
  s.once('data', () => s.pause());
  await sleep(1000); // at 20x: ~20 s of media queued towards a client that does not read
  const t0 = performance.now();
  run.child.kill('SIGINT');
  const exit = await run.exit;
  // 1.5 s grace period, then the connection is destroyed and the process exits: bounded, never hangs.
  const took = performance.now() - t0;
  t.ok(took < 3000, `exited ${took.toFixed(0)} ms after SIGINT (grace 1.5 s)`);
  t.equal(exit.code, 0);
  s.destroy();
});

t.test('reserved / invalid mount names are refused at start', async (t) => {
  const mounts = ['api', 'metrics', 'live.webm'];
  const runs = mounts.map((m) => runCli([FIX('vp9-opus.webm'), '--port', '0', '--mount', m], { stdin: 'ignore' }));
  const exits = await Promise.all(runs.map((r) => r.exit));
  for (const [i, m] of mounts.entries()) {
    const run = runs[i];
    const exit = exits[i];
    t.not(exit.code, 0, `--mount ${m}: exit ${exit.code}`);
    t.match(run.stderr(), /reserved|invalid mount/);
  }
});

t.test('missing input file: exit 1 with a readable message', async (t) => {
  // Spelled with the `serve` command name (same as without it).
  const run = runCli(['serve', FIX('nope.mkv'), '--port', '0'], { stdin: 'ignore' });
  const exit = await run.exit;
  t.equal(exit.code, 1);
  t.match(run.stderr(), /not found/);
});

t.test('no input and stdin is a terminal: the built-in demo clip, looped and paced', async (t) => {
  const lines: string[] = [];
  const out: string[] = [];
  const done = runServe({
    layers: [{ server: { port: 0 } }],
    stdin: 'terminal',
    signals: ['SIGUSR2'],
    log: createLogger({ stream: { write: (l: string) => lines.push(l) } }),
    out: { write: (s: string) => out.push(s) },
  });
  await waitFor(() => out.length > 0, 10_000, 'the URL line');
  const url = /(http:\S+)/.exec(out.join(''))![1];
  t.match(out.join(''), /serving demo at/);
  const cap = await get(port(url), '/stream', 1200);
  t.equal(cap.headers.get('content-type'), 'video/webm');
  const m = parseMedia(cap.body);
  t.same(
    m.header?.tracks.map((x) => x.codecId),
    ['V_VP8', 'A_OPUS'],
  );
  t.ok(lines.some((l) => /input_header.*pacing=file/.test(l)));
  process.emit('SIGUSR2', 'SIGUSR2');
  t.equal(await done, 0);
});
