// GET /<mount>/player: the mount in an HTML5 <video>. The page asks the browser whether it can play the
// mount's container and codecs (assets/web/player.js: canPlayType with the type made in ./codecs.ts); when
// it cannot, or the video fails, the page says so plainly and shows the ffmpeg line that serves the mount
// again as WebM. Without JavaScript the <video> is still there and the note below it names the codecs.

import type { MountSnapshot, ServerSnapshot } from '../snapshot.js';
import { esc, renderPage } from './html.js';
import type { Page } from './html.js';
import { playability, webmRecipe } from './codecs.js';

export function renderPlayerPage(snap: ServerSnapshot, m: MountSnapshot): Page {
  const path = `/${encodeURIComponent(m.name)}`;
  const p = playability(m.contentType, m.tracks);
  // The URL in the ffmpeg line: the listening address on loopback; beyond it the script puts in the
  // address the browser used (an address bound to every interface would not help).
  const base = snap.loopback ? snap.listening : 'http://SERVER:PORT';
  const recipe = webmRecipe(`${base}${path}`, m.tracks);
  const tracks =
    p.describe.length > 0
      ? `<ul id="tracks">${p.describe.map((d) => `<li>${esc(d)}</li>`).join('')}</ul>`
      : `<p id="tracks">The input has not started yet: the video starts when it does.</p>`;
  const codecsNote = p.webmCodecs
    ? 'WebM codecs: every current browser plays them.'
    : p.describe.length > 0
      ? 'Not all of these are WebM codecs (VP8, VP9, AV1, Opus, Vorbis): some browsers cannot play this stream.'
      : '';
  const main =
    `<h1>${esc(m.name)}</h1>\n` +
    `<video id="player" src="${esc(path)}" controls autoplay muted playsinline preload="auto" ` +
    `aria-label="Live stream ${esc(m.name)}" aria-describedby="about">` +
    `Your browser does not show HTML5 video: open <a href="${esc(path)}">${esc(path)}</a> in a player.</video>\n` +
    `<p id="play-state" role="status" aria-live="polite"></p>\n` +
    `<section id="unsupported" aria-labelledby="unsupported-title"${p.webmCodecs ? ' hidden' : ''}>\n` +
    `<h2 id="unsupported-title">${p.webmCodecs || p.describe.length === 0 ? 'This browser could not play the stream' : 'This browser may not play this stream'}</h2>\n` +
    `<p id="unsupported-why">${esc(p.webmCodecs ? '' : codecsNote)}</p>\n` +
    `<p>Browsers play WebM: VP8, VP9 or AV1 video with Opus or Vorbis audio. This command, run where ` +
    `ffmpeg and mkvserve are installed, serves the stream again as WebM at port 8081 (it copies what ` +
    `WebM can hold and re-encodes the rest); then open <code>/stream/player</code> on port 8081:</p>\n` +
    `<pre><code id="recipe">${esc(recipe)}</code></pre>\n` +
    `<p>Better, send WebM from the source: <code>ffmpeg -i IN -c:v libvpx-vp9 -deadline realtime ` +
    `-cpu-used 8 -c:a libopus -f webm - | mkvserve -</code>. Players such as VLC, mpv and ffplay play ` +
    `the stream as it is.</p>\n</section>\n` +
    `<section id="about" aria-labelledby="about-title">\n<h2 id="about-title">Stream</h2>\n${tracks}\n` +
    `<p>${esc(p.webmCodecs ? codecsNote : '')}${p.webmCodecs ? ' ' : ''}Stream URL for players: ` +
    `<a id="stream-url" href="${esc(path)}">${esc(path)}</a>` +
    `${m.contentType ? ` (${esc(m.contentType)})` : ''}.</p>\n</section>`;
  const attrs =
    `data-path="${esc(path)}" data-type="${esc(p.type ?? '')}" ` +
    `data-unknown="${esc(p.unknown.join(' '))}" data-recipe-base="${esc(base)}"`;
  return renderPage({
    title: `${m.name} — mkvserve`,
    main,
    script: 'player.js',
    bodyAttrs: attrs,
    version: snap.version,
  });
}
