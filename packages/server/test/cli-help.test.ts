// `mkvserve --help` and each command's help are complete: every option is described, and the serve help
// says how to bring other formats in, how to scale out, where the browser pages and the API are, and
// what is public; inspect and remux say what their exit codes mean. Spawns the real built CLI.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { CLI } from '../testlib/helpers.js';

function help(args: string[]): string {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
  t.equal(r.status, 0, `${args.join(' ')} exits 0`);
  t.equal(r.stderr, '', `${args.join(' ')} writes nothing on stderr`);
  return r.stdout;
}

/** Option lines whose description is missing ("  --flag   [boolean]" with nothing in between). */
function undescribed(text: string): string[] {
  return text
    .split('\n')
    .filter((l) => /^\s+(-\w, )?--[\w-]+/.test(l))
    .filter((l) => {
      const rest = l.replace(/^\s+(-\w, )?--[\w-]+/, '').replace(/\[[^\]]*\]/g, '');
      return rest.trim().length < 4;
    });
}

t.test('mkvserve --help', async (t) => {
  const out = help(['--help']);
  t.same(undescribed(out), [], 'every option has a description');
  for (const [what, re] of [
    ['the recipe for other formats', /ffmpeg -i IN -c copy -f matroska - \| mkvserve -/],
    ['the WebM recipe for browsers', /-c:v libvpx-vp9 .*-c:a libopus -f webm - \| mkvserve -/],
    ['the edge recipe', /mkvserve http:\/\/ORIGIN:8080\/MOUNT --reconnect/],
    ['the player page', /\/MOUNT\/player/],
    ['the status page', /\/status shows clients and bitrate/],
    ['the API and metrics', /\/api\/status is JSON, \/metrics Prometheus/],
    ['the listen default', /listens on 127\.0\.0\.1 unless --host/],
    ['what is public', /Streams, \/ and the player pages\s+are public/],
    ['the exit codes', /Exit codes: 0 done; 1 usage/],
  ] as const)
    t.match(out, re, `it gives ${what}`);
});

t.test('mkvserve inspect --help, remux --help, serve --help', async (t) => {
  const inspect = help(['inspect', '--help']);
  t.same(undescribed(inspect), []);
  t.match(inspect, /Exit codes: 0 clean input; 2 damaged input/);
  const remux = help(['remux', '--help']);
  t.same(undescribed(remux), []);
  t.match(remux, /Exit codes: 0 clean input; 2 damaged input \(the output holds what could be recovered\);/);
  t.match(remux, /Ctrl-C while recording a live input finishes the\s+file/);
  t.match(remux, /mkvserve remux in\.mkv - \| ffprobe -i -/);
  const serve = help(['serve', '--help']);
  t.match(serve, /\/MOUNT\/player/, 'serve --help is the same complete help');
});
