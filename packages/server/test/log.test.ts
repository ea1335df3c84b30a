// Tests of the structured logger: text and JSON line formats, quiet mode, child fields, odd values.
import t from 'tap';
import { createLogger, formatText } from '../src/log.js';

function sink(): { lines: string[]; write(s: string): boolean } {
  const lines: string[] = [];
  return { lines, write: (s: string) => (lines.push(s), true) };
}
const FIXED = Date.parse('2026-11-25T15:00:00.000Z');

t.test('text format: one line, time level event k=v', async (t) => {
  const s = sink();
  const log = createLogger({ format: 'text', stream: s, now: () => FIXED });
  log.info('client.connect', { addr: '127.0.0.1:5555', mount: 'stream' });
  t.same(s.lines, ['2026-11-25T15:00:00.000Z info client.connect addr=127.0.0.1:5555 mount=stream\n']);
});

t.test('text format quotes values with spaces, skips undefined, prints bigint and errors', async (t) => {
  const line = formatText(FIXED, 'warn', 'x', {
    msg: 'a b',
    n: 3,
    big: 2n ** 64n,
    u: undefined,
    e: new Error('boom'),
    o: { a: 1 },
    empty: '',
  });
  t.equal(line, '2026-11-25T15:00:00.000Z warn x msg="a b" n=3 big=18446744073709551616 e=boom o={"a":1} empty=""\n');
  t.notMatch(line, /\n.*\n/);
});

t.test('text format never spans lines', async (t) => {
  const s = sink();
  createLogger({ stream: s, now: () => FIXED }).error('x', { msg: 'line1\nline2' });
  t.equal(s.lines.length, 1);
  t.equal(s.lines[0].split('\n').length, 2);
});

t.test('json format: one object per line with time, level, event first', async (t) => {
  const s = sink();
  const log = createLogger({ format: 'json', stream: s, now: () => FIXED });
  log.warn('client.slow', { addr: '127.0.0.1:1', dropped: 3, uid: 5n, data: new Uint8Array(4), level: 'ignored' });
  t.equal(s.lines.length, 1);
  t.ok(s.lines[0].endsWith('\n'));
  const obj = JSON.parse(s.lines[0]);
  t.same(Object.keys(obj).slice(0, 3), ['time', 'level', 'event']);
  t.same(obj, {
    time: '2026-11-25T15:00:00.000Z',
    level: 'warn',
    event: 'client.slow',
    addr: '127.0.0.1:1',
    dropped: 3,
    uid: '5',
    data: { binary: 4 },
  });
});

t.test('quiet drops info only', async (t) => {
  const s = sink();
  const log = createLogger({ format: 'json', quiet: true, stream: s });
  log.info('a', {});
  log.warn('b', {});
  log.error('c');
  t.same(
    s.lines.map((l) => JSON.parse(l).event),
    ['b', 'c'],
  );
});

t.test('child loggers add fields', async (t) => {
  const s = sink();
  const log = createLogger({ stream: s, now: () => FIXED }).child({ mount: 'stream' });
  log.info('client.connect', { addr: 'x' });
  t.equal(s.lines[0], '2026-11-25T15:00:00.000Z info client.connect mount=stream addr=x\n');
});

t.test('a throwing stream does not throw', async (t) => {
  const log = createLogger({
    stream: {
      write: () => {
        throw new Error('EPIPE');
      },
    },
  });
  t.doesNotThrow(() => log.error('x', {}));
});
