// Tests of openInput: files (size, chunks, clear errors), stdin streams, http URLs over a real
// local socket (2xx body, non-2xx status, redirects, timeouts, Content-Length).
import t from 'tap';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { openInput, InputError } from '../src/inputs/open.js';

async function readAll(chunks: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const c of chunks) parts.push(c);
  return Buffer.concat(parts);
}

const dir = mkdtempSync(join(tmpdir(), 'mkvserve-inputs-'));
const data = Buffer.alloc(700_000);
for (let i = 0; i < data.length; i++) data[i] = (i * 31) & 0xff;
const file = join(dir, 'data.bin');
writeFileSync(file, data);

t.test('file: size, kind, chunks of up to 256 KiB, all bytes', async (t) => {
  const inp = await openInput(file);
  t.equal(inp.kind, 'file');
  t.equal(inp.name, file);
  t.equal(inp.size, data.length);
  const sizes: number[] = [];
  const parts: Uint8Array[] = [];
  for await (const c of inp.chunks) {
    sizes.push(c.byteLength);
    parts.push(c);
    t.ok(c instanceof Uint8Array);
  }
  t.ok(Math.max(...sizes) <= 256 * 1024);
  t.ok(sizes.length >= 3);
  t.ok(Buffer.concat(parts).equals(data));
  inp.close();
  inp.close();
});

t.test('file: close() stops iteration early', async (t) => {
  const inp = await openInput(file, { highWaterMark: 1024 });
  let n = 0;
  for await (const _c of inp.chunks) {
    if (++n === 3) inp.close();
  }
  t.ok(n >= 3 && n < 100);
});

t.test('file: not found / directory / bad scheme give InputError with clear messages', async (t) => {
  await t.rejects(openInput(join(dir, 'nope.mkv')), {
    name: 'InputError',
    code: 'NOT_FOUND',
    message: `file not found: ${join(dir, 'nope.mkv')}`,
  });
  await t.rejects(openInput(dir), { code: 'NOT_A_FILE', message: /not a file/ });
  await t.rejects(openInput('ftp://example.com/x.mkv'), { code: 'BAD_URL' });
  const e = await openInput(join(dir, 'nope.mkv')).catch((e: unknown) => e);
  t.ok(e instanceof InputError);
});

t.test('file: URL', async (t) => {
  const inp = await openInput('file://' + file);
  t.equal(inp.kind, 'file');
  t.ok((await readAll(inp.chunks)).equals(data));
});

t.test('stdin: reads the given stream; refuses a TTY', async (t) => {
  const pt = new PassThrough();
  const inp = await openInput('-', { stdin: pt });
  t.equal(inp.kind, 'stdin');
  t.equal(inp.size, undefined);
  pt.write(Buffer.from('abc'));
  pt.end(Buffer.from('def'));
  t.equal((await readAll(inp.chunks)).toString(), 'abcdef');
  const tty = Object.assign(new PassThrough(), { isTTY: true });
  await t.rejects(openInput('-', { stdin: tty }), { code: 'STDIN_TTY' });
});

function listen(server: Server): Promise<string> {
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const a = server.address();
      resolve(`http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`);
    }),
  );
}

t.test('http: body, content-length, 404, redirect, headers timeout, body timeout, refused', async (t) => {
  const server = createServer((req, res) => {
    if (req.url === '/file.mkv') {
      res.writeHead(200, { 'content-type': 'video/x-matroska', 'content-length': String(data.length) });
      res.end(data);
    } else if (req.url === '/chunked') {
      res.writeHead(200, { 'content-type': 'video/x-matroska' });
      res.write(data.subarray(0, 1000));
      setTimeout(() => res.end(data.subarray(1000, 2000)), 20);
    } else if (req.url === '/moved') {
      res.writeHead(302, { location: '/file.mkv' });
      res.end();
    } else if (req.url === '/slow-headers') {
      // never answers
    } else if (req.url === '/stall') {
      res.writeHead(200);
      res.write('x');
    } else {
      res.writeHead(404);
      res.end('no');
    }
  });
  const base = await listen(server);
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });

  const a = await openInput(`${base}/file.mkv`);
  t.equal(a.kind, 'url');
  t.equal(a.size, data.length);
  t.ok((await readAll(a.chunks)).equals(data));

  const b = await openInput(`${base}/chunked`);
  t.equal(b.size, undefined);
  t.ok((await readAll(b.chunks)).equals(data.subarray(0, 2000)));

  const c = await openInput(`${base}/moved`);
  t.ok((await readAll(c.chunks)).equals(data));

  await t.rejects(openInput(`${base}/missing`), {
    code: 'HTTP_STATUS',
    status: 404,
    message: `HTTP 404 Not Found from ${base}/missing`,
  });
  await t.rejects(openInput(`${base}/slow-headers`, { headersTimeoutMs: 200 }), {
    code: 'TIMEOUT',
    message: /timed out/,
  });
  const d = await openInput(`${base}/stall`, { bodyTimeoutMs: 200 });
  await t.rejects(readAll(d.chunks), { code: 'TIMEOUT', message: /no data from/ });

  const s2 = createServer();
  const dead = await listen(s2);
  await new Promise((r) => s2.close(r));
  await t.rejects(openInput(`${dead}/x`), { code: 'HTTP', message: /connection refused/ });
});

t.test('http: close() during a live body ends iteration', async (t) => {
  const server = createServer((_req, res) => {
    res.writeHead(200);
    const iv = setInterval(() => res.write(Buffer.alloc(100)), 5);
    res.on('close', () => clearInterval(iv));
  });
  const base = await listen(server);
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  const inp = await openInput(`${base}/live`);
  let n = 0;
  for await (const _c of inp.chunks) {
    if (++n === 5) inp.close();
  }
  t.ok(n >= 5);
});
