// GET /: the list of mounts, as plain text or as a small HTML page with a <video> per mount. On
// loopback it shows each mount's state, clients and input (redacted, files by their base name); beyond
// loopback it names the mounts only, so nothing about the inputs (paths, hosts) is public.

import type { ServerSnapshot } from './snapshot.js';
import { baseName } from './redact.js';

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** What `/` shows of an input on loopback: a file's base name, a URL without credentials or query. */
function shownInput(display: string, kind: string | null): string {
  return kind === 'file' ? baseName(display) : display;
}

export function renderListing(snap: ServerSnapshot, text: boolean): string {
  const detailed = snap.loopback;
  if (text) {
    return (
      snap.mounts
        .map((m) =>
          detailed
            ? `/${m.name}\t${m.contentType ?? '-'}\t${m.input.state}\t${m.clients} clients\t${shownInput(m.input.display, m.input.kind)}`
            : `/${m.name}\t${m.contentType ?? '-'}`,
        )
        .join('\n') + '\n'
    );
  }
  const rows = snap.mounts
    .map((m) => {
      const href = `/${esc(encodeURIComponent(m.name))}`;
      const info = detailed
        ? ` ${esc(m.contentType ?? '')} — ${esc(m.input.state)}, ${m.clients} client(s), input ${esc(shownInput(m.input.display, m.input.kind))}`
        : ` ${esc(m.contentType ?? '')}`;
      return (
        `<li><a href="${href}">/${esc(m.name)}</a>${info}<br>` +
        `<video src="${href}" controls muted autoplay playsinline width="480"></video></li>`
      );
    })
    .join('\n');
  return `<!doctype html>\n<meta charset="utf-8">\n<title>mkvserve</title>\n<h1>mkvserve</h1>\n<ul>\n${rows}\n</ul>\n<p><a href="/api/status">/api/status</a> · <a href="/metrics">/metrics</a></p>\n`;
}
