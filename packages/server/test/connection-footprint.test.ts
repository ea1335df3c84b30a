// What one viewer's connection costs in listeners: an event with three listeners or more keeps them in
// an array that V8 grows to 20 slots (~140 B per event per connection, measured in heap snapshots at
// 2,000 viewers), and a `once` listener adds a bound wrapper (~110 B). So the server forgets a closed
// socket through ConnectionHandler.closed, not listeners of its own, and the head reader lets go of
// 'end' once the head is read. The bookkeeping those listeners did still happens: the per-address count
// is released and the server forgets the socket.
import t from 'tap';
import { MkvServer } from '../src/server.js';
import { FIX, viewer, waitFor } from '../testlib/helpers.js';

t.test('a viewer socket has at most two listeners per event; closing it still releases its counts', async (t) => {
  const s = new MkvServer({
    port: 0,
    maxClientsPerIp: 1,
    mounts: [{ name: 'a', input: FIX('vp9-opus.webm'), loop: true }],
  });
  await s.start();
  t.teardown(() => s.stop(0));
  const clients = s.mounts.get('a')!.clients;
  const v = viewer(s.port, '/a');
  t.teardown(() => v.sock.destroy());
  await waitFor(() => v.got() > 0 && clients.size === 1, 10_000, 'the viewer to get its burst');
  const socket = [...clients][0].socket;
  for (const event of socket.eventNames()) {
    t.ok(socket.listenerCount(event) <= 2, `'${String(event)}': ${socket.listenerCount(event)} listener(s)`);
  }
  t.equal(socket.rawListeners('close').filter((l) => 'listener' in l).length, 0, "no once() wrapper on 'close'");
  t.equal(s.status().totals.clients, 1);

  // maxClientsPerIp 1: a second viewer from this address is refused until the first one closes.
  const refused = viewer(s.port, '/a');
  t.teardown(() => refused.sock.destroy());
  await new Promise((r) => refused.sock.once('close', r));
  v.sock.destroy();
  await waitFor(() => clients.size === 0, 5000, 'the server to see the viewer go');
  const again = viewer(s.port, '/a');
  t.teardown(() => again.sock.destroy());
  await waitFor(() => again.got() > 0 && clients.size === 1, 10_000, 'a new viewer from the same address');
  t.pass('the per-address count was released on close');
  const status = s.status();
  t.equal(status.totals.clients, 1);
  // stop() ends every socket the server knows: a closed one must have been forgotten (no throw, no wait).
  again.sock.destroy();
  await waitFor(() => clients.size === 0, 5000, 'the second viewer to go');
  const t0 = performance.now();
  await s.stop(0);
  t.ok(performance.now() - t0 < 2000, 'stop() has nothing left to wait for');
});
