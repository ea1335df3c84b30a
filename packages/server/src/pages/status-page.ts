// GET /status: clients and bitrate per mount, updated in place every 2 s by assets/web/status.js, which
// polls the read-only JSON API (/api/status) — short requests, no long-lived connection to bound. The
// API's access rules apply unchanged: where it is open (loopback, no admin token) the page is rendered
// with the figures already in it (it works without JavaScript); where it needs the token, the page asks
// for it and the script sends it as `Authorization: Bearer` (kept in the tab's sessionStorage only);
// beyond loopback without a token, the page says how to configure one. The page itself holds no data
// then.

import type { AdminAccess } from '../http/auth.js';
import type { ServerStatus } from '../status.js';
import { esc, formatBitrate, formatBytes, renderPage } from './html.js';
import type { Page } from './html.js';

/** Clients listed on the page (the count per mount is always complete). */
export const STATUS_PAGE_MAX_CLIENTS = 100;

function mountRows(st: ServerStatus | undefined): string {
  if (!st) return '';
  return st.mounts
    .map((m) => {
      const path = `/${encodeURIComponent(m.name)}`;
      return (
        `<tr data-mount="${esc(m.name)}">` +
        `<th scope="row"><a href="${esc(path)}/player">${esc(m.name)}</a></th>` +
        `<td data-field="input">${esc(m.input.name)}</td>` +
        `<td data-field="state">${esc(m.input.state)}</td>` +
        `<td data-field="clients" class="num">${m.clients}</td>` +
        `<td data-field="waiting" class="num">${m.waiting}</td>` +
        `<td data-field="bitrate" class="num">${esc(formatBitrate(m.input.bitrate))}</td>` +
        `<td data-field="out" class="num">–</td>` +
        `<td data-field="sent" class="num">${esc(formatBytes(m.bytesSent))}</td>` +
        `<td data-field="drops" class="num">${m.skips} / ${m.drops} / ${m.refused}</td>` +
        `</tr>`
      );
    })
    .join('\n');
}

function clientRows(st: ServerStatus | undefined): string {
  if (!st) return '';
  return st.clients
    .slice(0, STATUS_PAGE_MAX_CLIENTS)
    .map(
      (c) =>
        `<tr><td class="num">${c.id}</td><td>${esc(c.mount)}</td><td>${esc(c.address)}</td>` +
        `<td class="num">${c.durationSec.toFixed(0)} s</td><td class="num">${esc(formatBytes(c.bytesSent))}</td>` +
        `<td class="num">${c.lagMs} ms</td><td>${esc(c.state)}</td></tr>`,
    )
    .join('\n');
}

/** `status`: the figures when the API is open (rendered in), undefined when the page must fetch them. */
export function renderStatusPage(access: AdminAccess, version: string, st: ServerStatus | undefined): Page {
  const notice =
    access === 'forbidden'
      ? 'Status needs an admin token when the server listens beyond loopback: start it with ' +
        '--admin-token-file FILE (or set MKVSERVE_ADMIN_TOKEN), then enter the token here.'
      : access === 'token'
        ? 'Enter the admin token to see the status.'
        : '';
  const updated = st ? `Updated ${new Date().toISOString().slice(11, 19)} UTC` : notice;
  const main =
    `<h1>Status</h1>\n` +
    `<p id="updated" role="status" aria-live="polite">${esc(updated)}</p>\n` +
    `<form id="token-form"${access === 'token' ? '' : ' hidden'}>\n` +
    `<label for="token">Admin token</label> <input id="token" name="token" type="password" autocomplete="off" required>\n` +
    `<button type="submit">Show status</button>\n</form>\n` +
    `<noscript><p>Without JavaScript this page does not update: reload it, or read the JSON with ` +
    `<code>curl -H 'Authorization: Bearer TOKEN' /api/status</code>.</p></noscript>\n` +
    `<section aria-labelledby="mounts-title">\n<h2 id="mounts-title">Mounts</h2>\n` +
    `<table id="mounts">\n<caption>Clients and bitrate per mount; updated every 2 seconds</caption>\n` +
    `<thead><tr><th scope="col">Mount</th><th scope="col">Input</th><th scope="col">State</th>` +
    `<th scope="col" class="num">Clients</th><th scope="col" class="num">Waiting</th>` +
    `<th scope="col" class="num">Bitrate in</th><th scope="col" class="num">Out</th>` +
    `<th scope="col" class="num">Sent</th><th scope="col" class="num"><abbr title="skipped forward / dropped / refused">Skips / drops / refused</abbr></th></tr></thead>\n` +
    `<tbody>\n${mountRows(st)}\n</tbody>\n</table>\n</section>\n` +
    `<section aria-labelledby="clients-title">\n<h2 id="clients-title">Clients</h2>\n` +
    `<p id="clients-count">${st ? esc(clientsCount(st)) : ''}</p>\n` +
    `<table id="clients">\n<caption>Connected stream clients (the first ${STATUS_PAGE_MAX_CLIENTS})</caption>\n` +
    `<thead><tr><th scope="col" class="num">Id</th><th scope="col">Mount</th><th scope="col">Address</th>` +
    `<th scope="col" class="num">Connected</th><th scope="col" class="num">Sent</th>` +
    `<th scope="col" class="num">Behind</th><th scope="col">State</th></tr></thead>\n` +
    `<tbody>\n${clientRows(st)}\n</tbody>\n</table>\n</section>`;
  return renderPage({
    title: 'Status — mkvserve',
    main,
    script: 'status.js',
    bodyAttrs: `data-access="${access}" data-max-clients="${STATUS_PAGE_MAX_CLIENTS}"`,
    version,
  });
}

function clientsCount(st: ServerStatus): string {
  const n = st.totals.clients;
  return `${n} client${n === 1 ? '' : 's'} connected`;
}
