// Writes under the Writable (src/http/socket-write.ts), on real TCP sockets: the bytes arrive whole and
// in order (one write, a writev, mixed with Writable writes), end() sends everything before the FIN,
// libuv's queue is the backpressure (and the Flusher waits on it), a refused write is returned, not
// thrown, and a stream without the internals is written through its Writable.
import t from 'tap';
import type { Test } from 'tap';
import net from 'node:net';
import { once } from 'node:events';
import { PassThrough } from 'node:stream';
import type { Socket } from 'node:net';
import { canWriteDirect, isDestroyed, mustWait, writeBytes, writeParts } from '../src/http/socket-write.js';
import { Flusher, StreamClient } from '../src/http/stream.js';
import type { SubscriberLike } from '../src/http/stream.js';

/** A connected pair on loopback: the server side (not reading: pauseOnConnect) and the client side. */
async function pair(t: Test): Promise<{ server: Socket; client: Socket }> {
  const srv = net.createServer({ pauseOnConnect: true });
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const accepted = once(srv, 'connection');
  const client = net.connect((srv.address() as net.AddressInfo).port, '127.0.0.1');
  client.pause(); // reads nothing until the test resumes it: the kernel's buffers fill up
  const [server] = (await accepted) as [Socket];
  srv.close();
  t.teardown(() => {
    server.destroy();
    client.destroy();
  });
  return { server, client };
}

/** `n` bytes counting up from `seed` (so that misplaced bytes show). */
function pattern(n: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (seed + i * 7) & 0xff;
  return b;
}

/** Everything the client receives until the server's FIN. */
async function readAll(client: Socket): Promise<Buffer> {
  const chunks: Buffer[] = [];
  client.on('data', (d: Buffer) => chunks.push(d));
  client.resume();
  await once(client, 'end');
  return Buffer.concat(chunks);
}

t.test(
  'direct: one write and a writev arrive whole and in order, the Writable stays empty, end() sends all before the FIN',
  async (t) => {
    const { server, client } = await pair(t);
    t.ok(canWriteDirect(server), 'an accepted TCP socket can be written under its Writable');
    const big = pattern(8 << 20, 1); // more than loopback's buffers take at once
    t.equal(writeBytes(server, pattern(1000, 0), true), 'sent', 'a small write: the kernel took it all');
    t.notOk(mustWait(server), 'nothing waits');
    t.equal(writeBytes(server, big, true), 'queued', 'a big one: part of it waits');
    t.equal(server.writableLength, 0, "nothing in the Writable's buffer");
    t.ok(mustWait(server), "the rest waits in libuv's queue: the writer must wait");
    const parts = [pattern(100, 2), pattern(70_000, 3), pattern(5, 4)];
    // libuv's queue keeps the order.
    t.equal(writeParts(server, parts, true), 'queued', 'behind it in the queue');
    server.end();
    const got = await readAll(client);
    t.equal(got.length, 1000 + big.length + 70_105, 'every byte arrived before the FIN');
    t.ok(got.equals(Buffer.concat([pattern(1000, 0), big, ...parts])), 'in order');
    t.notOk(mustWait(server), 'nothing queued once the peer read it all');
  },
);

t.test('bytes in the Writable (written by other code): later parts go through it, in order', async (t) => {
  const { server, client } = await pair(t);
  const first = pattern(8 << 20, 5);
  const second = pattern(1000, 10);
  // Through the Writable: the kernel takes part of the first, libuv queues the rest, and the second
  // waits in the Writable's own buffer (a write under it would overtake that one).
  server.write(first);
  server.write(second);
  t.equal(server.writableLength, first.length + second.length, 'the Writable holds bytes');
  t.notOk(canWriteDirect(server), 'so it is not written under it');
  t.ok(mustWait(server), 'and the writer waits (needDrain)');
  const parts = [pattern(10, 6), pattern(20, 7)];
  t.equal(writeParts(server, parts, false), 'queued', "'queued': the Writable needs drain");
  t.equal(writeBytes(server, pattern(30, 8), false), 'queued');
  server.end();
  const got = await readAll(client);
  t.ok(got.equals(Buffer.concat([first, second, ...parts, pattern(30, 8)])), 'all of it, in order');
});

t.test('a write the kernel refuses is returned, not thrown or emitted', async (t) => {
  const { server, client } = await pair(t);
  const errors: Error[] = [];
  server.on('error', (e) => errors.push(e));
  client.resetAndDestroy();
  // Not reading, the server side learns of the reset from a write: the first may still be taken.
  let err: Error | undefined;
  for (let i = 0; i < 50 && err === undefined; i++) {
    await new Promise((r) => setTimeout(r, 10));
    const r = writeBytes(server, pattern(1000, 9), true);
    if (r instanceof Error) err = r;
  }
  t.ok(err, 'a write after the peer reset gets an error');
  t.match(
    (err as NodeJS.ErrnoException).code,
    /^(EPIPE|ECONNRESET)$/,
    `a system error (${String((err as NodeJS.ErrnoException).code)})`,
  );
  t.same(errors, [], "no 'error' event: the caller decides (the Flusher destroys the client)");
});

t.test('a destroyed socket: isDestroyed says so, and a write to it is discarded', async (t) => {
  const { server } = await pair(t);
  t.notOk(isDestroyed(server, true));
  server.destroy();
  t.ok(isDestroyed(server, true), 'direct: no handle any more');
  t.ok(isDestroyed(server, false), 'through the Writable: destroyed');
  const errors: Error[] = [];
  server.on('error', (e) => errors.push(e));
  const r = writeBytes(server, pattern(10, 1), true);
  t.equal(r, 'queued', 'handed to the Writable, which drops it (write() after destroy returns false)');
  await new Promise((r) => setImmediate(r));
  t.same(errors, [], 'nothing emitted');
});

t.test('a stream without the internals is written through its Writable', async (t) => {
  const pt = new PassThrough();
  const s = pt as unknown as Socket;
  t.notOk(canWriteDirect(s));
  t.notOk(isDestroyed(s, false));
  t.equal(writeParts(s, [Buffer.from('ab'), Buffer.from('cd')], false), 'sent');
  t.equal(writeBytes(s, Buffer.from('ef'), false), 'sent');
  pt.end();
  const chunks: Buffer[] = [];
  for await (const c of pt) chunks.push(c as Buffer);
  t.equal(Buffer.concat(chunks).toString(), 'abcdef');
});

/** A subscriber with 64 KiB new every pull. */
class Firehose implements SubscriberLike {
  onReadable: (() => void) | undefined;
  state = 'active';
  lagNs = 0;
  bytesSent = 0;
  skips = 0;
  pulls = 0;
  pull(): Uint8Array[] | null {
    return [];
  }
  pullInto(out: Uint8Array[]): number {
    this.pulls++;
    out.push(pattern(64 * 1024, this.pulls));
    return 64 * 1024;
  }
  close(): void {
    this.state = 'closed';
  }
}

t.test("Flusher: a viewer whose kernel buffer is full is not pulled until libuv's queue is empty", async (t) => {
  const { server, client } = await pair(t);
  const f = new Flusher({ intervalMs: 100, slices: 1 });
  const sub = new Firehose();
  const c = new StreamClient(server, sub, 'stream', { onClientClosed: () => {} });
  f.attach(c, 'HTTP/1.1 200 OK\r\n\r\n');
  f.drainJoins();
  for (let i = 0; i < 200 && !mustWait(server); i++) f.tick();
  t.ok(mustWait(server), "the viewer's buffers filled up");
  t.equal(server.writableLength, 0, 'written under the Writable');
  const pulls = sub.pulls;
  f.tick();
  f.tick();
  t.equal(sub.pulls, pulls, 'not pulled while bytes wait in the queue');
  // The viewer reads: the queue empties, and the next turn pulls again.
  client.on('data', () => {});
  client.resume();
  for (let i = 0; i < 200 && mustWait(server); i++) await new Promise((r) => setTimeout(r, 5));
  t.notOk(mustWait(server), 'the queue emptied');
  f.tick();
  t.equal(sub.pulls, pulls + 1, 'pulled on the next turn');
  t.equal(c.bytesWritten, 'HTTP/1.1 200 OK\r\n\r\n'.length + (pulls + 1) * 64 * 1024, 'every pulled byte counted');
  f.stop();
});

t.test("Flusher: a viewer whose peer reset the connection is destroyed with reason 'error'", async (t) => {
  const { server, client } = await pair(t);
  const f = new Flusher({ intervalMs: 100, slices: 1 });
  const closed: StreamClient[] = [];
  const c = new StreamClient(server, new Firehose(), 'stream', { onClientClosed: (x) => closed.push(x) });
  server.on('error', () => {});
  f.attach(c, 'HTTP/1.1 200 OK\r\n\r\n');
  f.drainJoins();
  client.resetAndDestroy();
  // The server does not read (pauseOnConnect): it learns of the reset from a write, sync or async.
  for (let i = 0; i < 200 && !c.ended; i++) {
    await new Promise((r) => setTimeout(r, 5));
    f.tick();
  }
  t.ok(c.ended, 'ended');
  t.equal(c.reason, 'error', "reason 'error'");
  for (let i = 0; i < 100 && closed.length === 0; i++) await new Promise((r) => setTimeout(r, 5));
  t.same(closed, [c], "closed once, through the socket's 'close'");
  f.stop();
});
