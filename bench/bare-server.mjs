// Baseline for the load benchmark (NOT mkvserve): the bare Node write loop. Raw `net` sockets, a
// request head read up to its blank line, a fixed response head written at once, then every client
// gets one socket.write() of ONE shared Buffer per --tick (100 ms): the bytes of the file that became
// due since its last turn (the file's own average bitrate, looped). Clients are spread over
// --slices groups served one per tick/slices ms, as mkvserve's flusher does. No Matroska work at all
// (joiners start mid-stream), no per-client state beyond its slot: this is what Node costs to push
// the same bytes with the same number of writes, the floor mkvserve is measured against.
// Usage: node bench/bare-server.mjs --port P --bitrate BPS [--tick 100] [--slices 5] [--host 127.0.0.1] FILE
import { readFileSync } from 'node:fs';
import net from 'node:net';

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args.splice(i, 2)[1] : def;
};
const port = Number(opt('port', '8090'));
const host = opt('host', '127.0.0.1');
const tick = Number(opt('tick', '100'));
const slices = Math.max(1, Number(opt('slices', '5')));
const bitrate = Number(opt('bitrate', '2000000'));
const maxQueued = 4 * 1024 * 1024; // a client with more than this unsent is skipped (it falls behind)
const file = args[0];
if (!file) {
  console.error('usage: bare-server.mjs --port P --bitrate BPS FILE');
  process.exit(2);
}
const data = readFileSync(file);
const HEAD = Buffer.from(
  'HTTP/1.1 200 OK\r\nContent-Type: video/webm\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n',
  'latin1',
);

/** One group of clients and how far into the (looped) file its writes have got. */
const groups = Array.from({ length: slices }, () => ({ clients: new Set(), sent: 0 }));
let nextGroup = 0;
const kGroup = Symbol('group');
const kHead = Symbol('head');

function onData(chunk) {
  // Read the request head up to its blank line (bounded), then stream.
  const h = (this[kHead] ?? '') + chunk.toString('latin1');
  if (!h.includes('\r\n\r\n')) {
    if (h.length > 16384) this.destroy();
    else this[kHead] = h;
    return;
  }
  this[kHead] = undefined;
  this.removeListener('data', onData);
  this.write(HEAD);
  const g = groups[nextGroup];
  nextGroup = (nextGroup + 1) % slices;
  this[kGroup] = g;
  g.clients.add(this);
}
function onClose() {
  this[kGroup]?.clients.delete(this);
}
function onError() {}

const server = net.createServer({ noDelay: true }, (socket) => {
  socket.on('data', onData);
  socket.on('close', onClose);
  socket.on('error', onError);
});

const t0 = performance.now();
let slot = 0;
const timer = setInterval(() => {
  const g = groups[slot];
  slot = (slot + 1) % slices;
  const due = Math.floor(((performance.now() - t0) / 1000) * (bitrate / 8));
  let n = due - g.sent;
  if (n <= 0) return;
  g.sent = due;
  let pos = (due - n) % data.length;
  while (n > 0) {
    const end = Math.min(data.length, pos + n);
    const slice = data.subarray(pos, end);
    for (const s of g.clients) if (s.writableLength < maxQueued) s.write(slice);
    n -= end - pos;
    pos = end === data.length ? 0 : end;
  }
}, tick / slices);

server.listen({ port, host, backlog: 4096 }, () => process.stdout.write(`LISTENING ${server.address().port}\n`));
const stop = () => {
  clearInterval(timer);
  for (const g of groups) for (const s of g.clients) s.destroy();
  server.close();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
