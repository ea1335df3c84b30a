// Self-test server for the load harness (NOT mkvserve): a trivial Node HTTP byte pump that sends a file
// at its own average bitrate, looping, to every client, in one shared write per client every --tick ms.
// It does no Matroska parsing at all (joiners start mid-stream), so it only proves that the load client,
// the CPU/RSS sampling and the reporting work, and gives a "bare Node write loop" reference figure.
// Usage: node bench/selftest-server.mjs --port P --bitrate BPS [--tick 40] [--host 127.0.0.1] FILE
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args.splice(i, 2)[1] : def;
};
const port = Number(opt('port', '8090'));
const host = opt('host', '127.0.0.1');
const tick = Number(opt('tick', '40'));
const bitrate = Number(opt('bitrate', '2000000'));
const maxQueued = 4 * 1024 * 1024; // a client with more than this unsent is skipped (it falls behind)
const file = args[0];
if (!file) {
  console.error('usage: selftest-server.mjs --port P --bitrate BPS FILE');
  process.exit(2);
}
const data = readFileSync(file);

const clients = new Set();
const server = createServer((_req, res) => {
  res.writeHead(200, { 'Content-Type': 'video/webm', 'Cache-Control': 'no-store' });
  res.flushHeaders();
  clients.add(res);
  const drop = () => clients.delete(res);
  res.on('close', drop);
  res.on('error', drop);
});
server.keepAliveTimeout = 0;
server.maxConnections = 100_000;

let pos = 0;
let sent = 0;
const t0 = performance.now();
const timer = setInterval(() => {
  const due = Math.floor(((performance.now() - t0) / 1000) * (bitrate / 8));
  let n = due - sent;
  if (n <= 0) return;
  sent = due;
  while (n > 0) {
    const end = Math.min(data.length, pos + n);
    const slice = data.subarray(pos, end);
    for (const res of clients) if (res.writableLength < maxQueued) res.write(slice);
    n -= end - pos;
    pos = end === data.length ? 0 : end;
  }
}, tick);

server.listen({ port, host, backlog: 4096 }, () => process.stdout.write(`LISTENING ${server.address().port}\n`));
const stop = () => {
  clearInterval(timer);
  for (const r of clients) r.destroy();
  server.close();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
