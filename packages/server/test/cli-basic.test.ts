// CLI basics, spawning the real built CLI: --help, --version, usage errors (exit 1, one clear line),
// input errors (file not found, directory) without stack traces. Run `npx tsc -b packages/server` first.
import t from 'tap';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const here = dirname(fileURLToPath(import.meta.url));
const BIN = join(here, '..', 'bin', 'mkvserve.js');
const PKG = JSON.parse(readFileSync(join(here, '..', 'package.json'), 'utf8')) as { version: string };

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    p.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

t.test('--help lists the commands and the serve flags', async (t) => {
  const r = await run(['--help']);
  t.equal(r.code, 0);
  for (const s of [
    'serve [input]',
    'inspect <input>',
    'remux <input> <output>',
    '--host',
    '--port',
    '--mount',
    '--loop',
    '--realtime',
    '--reconnect',
    '--cors',
    '--admin-token',
    '--keep-alive',
    '--quiet',
    '--log-format',
    '--join',
    '--speed',
    '--flush-ms',
    '--backlog',
  ]) {
    t.match(r.stdout, s);
  }
  t.match(
    r.stdout,
    /--flush-ms +Write coalescing interval[^]*\[default: 100\]/,
    '--flush-ms is explained, with its default',
  );
  t.equal(r.stderr, '');
});

t.test('inspect --help and remux --help', async (t) => {
  const [a, b] = await Promise.all([run(['inspect', '--help']), run(['remux', '--help'])]);
  t.equal(a.code, 0);
  for (const s of ['--offsets', '--json', '--summary', '--frames', '--max-frames', '--duration']) t.match(a.stdout, s);
  t.equal(b.code, 0);
  t.match(b.stdout, 'remux <input> <output>');
});

t.test('--version prints the package version', async (t) => {
  // `--version` alone takes a fast path without yargs; `-V` and with other flags go through yargs.
  const rs = await Promise.all([run(['--version']), run(['-V']), run(['--version', '--quiet'])]);
  for (const r of rs) {
    t.equal(r.code, 0);
    t.equal(r.stdout, PKG.version + '\n');
    t.equal(r.stderr, '');
  }
});

t.test('usage errors: exit 1, one clear message, a hint, no stack', async (t) => {
  const cases: [string[], RegExp][] = [
    [['--bogus'], /Unknown argument: bogus/],
    [['inspect'], /Not enough non-option arguments/],
    [['remux', 'a.mkv'], /Not enough non-option arguments/],
    [['a.mkv', 'b.mkv'], /Unknown argument/],
    [['--port', '70000'], /--port: expected an integer from 0 to 65535, got 70000/],
    [['--port', 'abc'], /--port: expected an integer from 0 to 65535, got "abc"/],
    [['--mount', 'api', 'x.webm'], /--mount api: mount name "api" is reserved/],
    [['--mount', 'cam=ftp://x'], /--mount cam=INPUT: unsupported input "ftp:\/\/\.\.\."/],
    [['inpsect', 'x.webm'], /unknown command "inpsect": did you mean "inspect"\?/],
    [['--log-format', 'xml'], /Invalid values/],
    [['--join', 'now'], /Invalid values/],
    [['--mount', 'a b'], /--mount a b: invalid mount name "a b"/],
    [['--speed', '0'], /--speed: expected a number from 0\.01 to 1000, got 0/],
    [['--flush-ms', '-5'], /--flush-ms: expected a number of milliseconds from 1 to 10000, got -5/],
    [['--backlog', '1.5'], /--backlog: expected an integer from 1 to 1000000, got 1\.5/],
    [['inspect', 'x.mkv', '--summary', '--frames'], /mutually exclusive/],
    [['inspect', 'x.mkv', '--max-frames', '-3'], /--max-frames/],
  ];
  const results = await Promise.all(cases.map(([args]) => run(args)));
  for (const [i, [args, re]] of cases.entries()) {
    const r = results[i];
    t.equal(r.code, 1, args.join(' '));
    t.match(r.stderr, re, args.join(' '));
    t.match(r.stderr, /mkvserve --help/);
    t.equal(r.stderr.split('\n').filter((l) => l.startsWith('mkvserve:')).length, 1, 'one error line');
    t.notMatch(r.stderr, /\n\s+at /, 'no stack trace');
  }
});

t.test('input errors are clear messages', async (t) => {
  const [a, b, c] = await Promise.all([
    run(['inspect', '/nonexistent/file.mkv']),
    run(['inspect', here]),
    run(['remux', '/nonexistent/file.mkv', '/tmp/out.mkv']),
  ]);
  t.equal(a.code, 1);
  t.equal(a.stderr, 'mkvserve: file not found: /nonexistent/file.mkv\n');
  t.equal(b.code, 1);
  t.match(b.stderr, /not a file/);
  t.equal(c.code, 1);
  t.equal(c.stderr, 'mkvserve: file not found: /nonexistent/file.mkv\n');
});
