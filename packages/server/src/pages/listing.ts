// GET /: the list of mounts, as plain text (curl) or as a small HTML page (a browser) that links each
// mount's player page and its stream URL, and works without JavaScript. On loopback it shows each
// mount's state, clients and input (redacted, files by their base name); beyond loopback it names the
// mounts only, so nothing about the inputs (paths, hosts) is public.

import type { ServerSnapshot } from '../snapshot.js';
import { baseName } from '../redact.js';
import { esc, renderPage } from './html.js';
import type { Page } from './html.js';

/** What `/` shows of an input on loopback: a file's base name, a URL without credentials or query. */
function shownInput(display: string, kind: string | null): string {
  return kind === 'file' ? baseName(display) : display;
}

/** The plain-text listing: one line per mount, tab-separated. */
export function renderListingText(snap: ServerSnapshot): string {
  return (
    snap.mounts
      .map((m) =>
        snap.loopback
          ? `/${m.name}\t${m.contentType ?? '-'}\t${m.input.state}\t${m.clients} clients\t${shownInput(m.input.display, m.input.kind)}`
          : `/${m.name}\t${m.contentType ?? '-'}`,
      )
      .join('\n') + '\n'
  );
}

/** The HTML listing. */
export function renderListingPage(snap: ServerSnapshot): Page {
  const detailed = snap.loopback;
  const head = detailed
    ? '<th scope="col">Mount</th><th scope="col">Stream</th><th scope="col">Type</th><th scope="col">Input</th><th scope="col">State</th><th scope="col" class="num">Clients</th>'
    : '<th scope="col">Mount</th><th scope="col">Stream</th><th scope="col">Type</th>';
  const rows = snap.mounts
    .map((m) => {
      const path = `/${encodeURIComponent(m.name)}`;
      const cells = [
        `<th scope="row"><a href="${esc(path)}/player">${esc(m.name)}</a></th>`,
        `<td><a href="${esc(path)}">${esc(path)}</a></td>`,
        `<td>${esc(m.contentType ?? 'waiting for the input')}</td>`,
      ];
      if (detailed) {
        cells.push(
          `<td>${esc(shownInput(m.input.display, m.input.kind))}</td>`,
          `<td>${esc(m.input.state)}</td>`,
          `<td class="num">${m.clients}</td>`,
        );
      }
      return `<tr data-mount="${esc(m.name)}">${cells.join('')}</tr>`;
    })
    .join('\n');
  const main =
    `<h1>mkvserve</h1>\n` +
    `<p>Live streams on this server. Open a mount's name to watch it here, or give its stream URL to a ` +
    `player (VLC, mpv, ffplay) or a <code>&lt;video&gt;</code> element.</p>\n` +
    `<table>\n<caption>${snap.mounts.length} mount${snap.mounts.length === 1 ? '' : 's'}</caption>\n` +
    `<thead><tr>${head}</tr></thead>\n<tbody>\n${rows}\n</tbody>\n</table>\n` +
    `<p><a href="/status">Status</a> (clients and bitrate, live) · <a href="/api/status">/api/status</a> (JSON) · ` +
    `<a href="/metrics">/metrics</a> (Prometheus)</p>`;
  return renderPage({ title: 'mkvserve', main, version: snap.version });
}
