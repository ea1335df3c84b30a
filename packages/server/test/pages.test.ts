// The page modules as functions (codec strings, the ffmpeg line, escaping in every page) and the page
// routes on real sockets (404 for an unknown mount's player, HEAD, 405, the plain-text listing for curl,
// the status page's figures only where /api/status is open).
import t from 'tap';
import { playability, webmRecipe } from '../src/pages/codecs.js';
import { renderListingPage, renderListingText } from '../src/pages/listing.js';
import { renderPlayerPage } from '../src/pages/player.js';
import { renderStatusPage } from '../src/pages/status-page.js';
import { buildStatus } from '../src/status.js';
import type { MountSnapshot, ServerSnapshot, TrackSnapshot } from '../src/snapshot.js';
import { MkvServer } from '../src/server.js';
import { FIX, get, rawRequest } from '../testlib/helpers.js';

const VP8: TrackSnapshot = { number: 1, kind: 'video', codecId: 'V_VP8', width: 320, height: 240 };
const OPUS: TrackSnapshot = { number: 2, kind: 'audio', codecId: 'A_OPUS', samplingFrequency: 48000, channels: 2 };
const H264: TrackSnapshot = { number: 1, kind: 'video', codecId: 'V_MPEG4/ISO/AVC', width: 1280, height: 720 };
const AAC: TrackSnapshot = { number: 2, kind: 'audio', codecId: 'A_AAC', samplingFrequency: 44100, channels: 2 };
const SRT: TrackSnapshot = { number: 3, kind: 'subtitle', codecId: 'S_TEXT/UTF8', language: 'eng' };

t.test('codec strings for canPlayType and the ffmpeg line', async (t) => {
  t.same(playability('video/webm', [VP8, OPUS]), {
    type: 'video/webm; codecs="vp8,opus"',
    webmCodecs: true,
    unknown: [],
    describe: ['video: VP8 320×240', 'audio: Opus 48000 Hz, 2 ch'],
  });
  const mkv = playability('video/x-matroska', [H264, AAC, SRT]);
  t.equal(mkv.type, 'video/x-matroska; codecs="avc1.42E01E,mp4a.40.2"', 'subtitles do not decide playback');
  t.equal(mkv.webmCodecs, false);
  t.equal(mkv.describe[2], 'subtitle: S_TEXT/UTF8 (eng)');
  t.equal(playability('video/webm', [OPUS]).type, 'audio/webm; codecs="opus"', 'audio only');
  t.equal(playability(null, []).type, null, 'nothing to ask before the header');
  const odd = playability('video/x-matroska', [{ number: 1, kind: 'video', codecId: 'V_MS/VFW/FOURCC' }, OPUS]);
  t.same(odd.unknown, ['V_MS/VFW/FOURCC']);
  t.equal(odd.type, 'video/x-matroska; codecs="opus"');
  t.equal(odd.webmCodecs, false);
  t.equal(playability('video/webm', [{ ...VP8, codecId: 'V_VP8\0' }]).type, 'video/webm; codecs="vp8"', 'trailing NUL');

  t.equal(
    webmRecipe('http://h:1/cam', [VP8, OPUS]),
    'ffmpeg -i http://h:1/cam -map 0:v:0 -c:v copy -map 0:a:0 -c:a copy -f webm - | mkvserve - --port 8081',
  );
  t.equal(
    webmRecipe('http://h:1/cam', [H264, AAC, SRT]),
    'ffmpeg -i http://h:1/cam -map 0:v:0 -c:v libvpx-vp9 -deadline realtime -cpu-used 8 -row-mt 1 -b:v 2M -map 0:a:0 -c:a libopus -b:a 128k -f webm - | mkvserve - --port 8081',
  );
  t.equal(
    webmRecipe('http://h:1/cam', [VP8, AAC]),
    'ffmpeg -i http://h:1/cam -map 0:v:0 -c:v copy -map 0:a:0 -c:a libopus -b:a 128k -f webm - | mkvserve - --port 8081',
    'only what WebM cannot hold is re-encoded',
  );
  t.match(
    webmRecipe('http://h:1/cam', []),
    /-map 0:v:0\? -c:v libvpx-vp9 .* -map 0:a:0\? -c:a libopus/,
    'tracks unknown',
  );
});

const EVIL = `<img src=x onerror=alert(1)>"'&`;

function snapshot(loopback: boolean): ServerSnapshot {
  const m: MountSnapshot = {
    name: 'cam',
    contentType: 'video/x-matroska',
    docType: 'matroska',
    input: {
      display: `/srv/${EVIL}.mkv`,
      kind: 'file',
      state: 'streaming',
      pacing: 'file',
      loop: false,
      reconnect: false,
      opens: 1,
      loops: 0,
      reconnects: 0,
      splices: 0,
      trackChanges: 0,
      bytesIn: 1000,
      frames: 10,
      bitrate: 2_500_000,
      lastError: null,
      positionNs: 1e9,
    },
    tracks: [
      { ...H264, codecName: EVIL },
      { ...AAC, language: EVIL },
    ],
    clients: 3,
    waiting: 0,
    clientsTotal: 3,
    bytesSent: 123456,
    skips: 0,
    drops: 0,
    refused: 0,
    maxClients: 0,
    inputEnded: false,
    history: { bytes: 1, clusters: 1, joinPoints: 1, durationNs: 1e9, bitrate: 1 },
    clientList: [
      {
        id: 7,
        address: EVIL,
        port: 1,
        mount: 'cam',
        since: 0,
        bytesSent: 5,
        lagMs: 0,
        skips: 0,
        state: 'active',
        userAgent: EVIL,
        proxy: null,
      },
    ],
  };
  return {
    version: '0.1.0',
    pid: 1,
    startedAt: 0,
    now: 1000,
    listening: 'http://127.0.0.1:8080',
    loopback,
    adminListening: null,
    mounts: [m],
    totals: { connections: 0, requests: 0, rejected: 0, writes: 0 },
    flushIntervalMs: 100,
    eventLoopUtilization: 0.25,
  };
}

t.test('every page escapes what comes from inputs and clients', async (t) => {
  const snap = snapshot(true);
  const pages = {
    listing: renderListingPage(snap).html,
    player: renderPlayerPage(snap, snap.mounts[0]).html,
    status: renderStatusPage('open', snap.version, buildStatus(snap)).html,
  };
  for (const [name, html] of Object.entries(pages)) {
    t.notOk(html.includes('<img'), `${name}: no raw markup from the input`);
    t.notOk(/"'&[^#]/.test(html.replace(/<script>[\s\S]*?<\/script>/g, '')), `${name}: quotes and & escaped`);
  }
  t.match(
    pages.listing,
    />&#60;img src=x onerror=alert\(1\)&#62;&#34;&#39;&#38;\.mkv</,
    'listing: the base name, escaped',
  );
  t.notOk(pages.listing.includes('/srv/'), 'listing: a file by its base name only');
  t.match(pages.status, /<td data-field="input">\/srv\/&#60;img src=x/, 'status: the input, escaped');
  t.match(
    pages.status,
    /<td>&#60;img src=x onerror=alert\(1\)&#62;&#34;&#39;&#38;<\/td>/,
    'status: the client address',
  );
  t.match(pages.status, /<td data-field="clients" class="num">3<\/td>/);
  t.match(pages.status, /<td data-field="bitrate" class="num">2\.50 Mbit\/s<\/td>/);

  // Beyond loopback: `/` names mounts only; the player page shows no input either.
  const pub = snapshot(false);
  const listing = renderListingPage(pub).html;
  t.notOk(listing.includes('onerror'), 'public listing: nothing of the input');
  t.equal(renderListingText(pub), '/cam\tvideo/x-matroska\n');
  const player = renderPlayerPage(pub, pub.mounts[0]).html;
  t.notOk(player.includes('/srv/'), 'public player: nothing of the input');
  t.match(player, /ffmpeg -i http:\/\/SERVER:PORT\/cam /, 'the ffmpeg line names no bind address beyond loopback');
  t.match(player, /This browser may not play this stream/, 'non-WebM codecs: the note is there without JavaScript');
  // Without access to the API, the status page holds no figures.
  const locked = renderStatusPage('token', '0.1.0', undefined).html;
  t.notMatch(locked, /data-mount=/);
  t.match(locked, /<form id="token-form">/);
  t.match(renderStatusPage('forbidden', '0.1.0', undefined).html, /--admin-token-file FILE/);
});

t.test('page routes on real sockets', async (t) => {
  const s = new MkvServer({ port: 0, mounts: [{ name: 'cam', input: FIX('vp9-opus.webm'), loop: true }] });
  await s.start();
  t.teardown(() => s.stop(0));
  const port = s.port;
  const player = await get(port, '/cam/player');
  t.equal(player.status, 200);
  t.match(player.headers.get('content-type'), /^text\/html; charset=utf-8$/);
  t.match(player.headers.get('content-security-policy'), /script-src 'sha256-[A-Za-z0-9+/=]+'/);
  t.match(player.body.toString(), /<video id="player" src="\/cam"/);
  t.equal((await get(port, '/cam/player/')).status, 200, 'a trailing slash is the same page');
  const none = await get(port, '/nope/player');
  t.equal(none.status, 404);
  t.equal(none.body.toString(), 'no such mount: the mounts are listed at /\n');
  const reflected = await get(port, '/%3Cb%3Ex/player');
  t.equal(reflected.status, 404);
  t.notMatch(reflected.body.toString(), /<b>/, 'the requested name is not echoed');
  t.equal((await get(port, '/cam/other')).status, 404);
  t.equal((await get(port, '/cam/player/x')).status, 404);
  const head = await rawRequest(port, 'HEAD /status HTTP/1.1\r\nHost: x\r\n\r\n');
  t.equal(head.status, 200);
  t.equal(head.body.length, 0);
  t.ok(Number(head.headers.get('content-length')) > 1000, 'HEAD has the length of the page');
  const post = await rawRequest(port, 'POST /cam/player HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n');
  t.equal(post.status, 405);
  const status = await get(port, '/status');
  t.match(status.body.toString(), /<tr data-mount="cam">/, 'loopback without a token: the figures are in the page');
  t.match((await get(port, '/')).body.toString(), /^\/cam\tvideo\/webm\tstreaming\t0 clients\tvp9-opus\.webm\n$/);

  const locked = new MkvServer({
    port: 0,
    adminToken: 'tok',
    mounts: [{ name: 'cam', input: FIX('vp9-opus.webm'), loop: true }],
  });
  await locked.start();
  t.teardown(() => locked.stop(0));
  const page = (await get(locked.port, '/status')).body.toString();
  t.notMatch(page, /data-mount=/, 'with a token: the page holds no figures');
  t.match(page, /data-access="token"/);
});
