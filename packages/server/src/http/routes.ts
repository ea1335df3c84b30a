// Route helpers: mount-name validation, admin-token checks for /api/status and /metrics, the `GET /`
// listing, and the stream content type.

import { timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';

/** Names that cannot be mounts (they are routes of their own). */
export const RESERVED_MOUNTS = new Set(['api', 'metrics', 'favicon.ico', 'robots.txt']);

/** Throws a readable error when `name` cannot be a mount: one path segment, no dot, not reserved. */
export function validateMountName(name: string): string {
  if (name.startsWith('/')) name = name.slice(1);
  if (name === '') throw new Error('mount name is empty');
  if (!/^[A-Za-z0-9_~!$&'()*+,;=:@-]+$/.test(name)) {
    throw new Error(
      `invalid mount name "${name}": one path segment of letters, digits and - _ ~ ! $ & ' ( ) * + , ; = : @ (no '/', no '.')`,
    );
  }
  if (RESERVED_MOUNTS.has(name.toLowerCase())) throw new Error(`mount name "${name}" is reserved (api, metrics)`);
  return name;
}

/** True when `host` only accepts connections from this machine. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (h.startsWith('::ffff:')) return h.slice(7).startsWith('127.');
  return false;
}

export type AdminAccess = 'open' | 'token' | 'forbidden';

/** Admin route policy: open on loopback, token when configured, otherwise forbidden. */
export function adminAccess(host: string, token: string | undefined): AdminAccess {
  if (token !== undefined && token !== '') return 'token';
  return isLoopbackHost(host) ? 'open' : 'forbidden';
}

/** Checks `Authorization: Bearer <token>` in constant time. */
export function bearerMatches(header: string | undefined, token: string): boolean {
  if (header === undefined) return false;
  const m = /^\s*Bearer\s+(\S+)\s*$/i.exec(header);
  if (!m) return false;
  const a = Buffer.from(m[1], 'utf8');
  const b = Buffer.from(token, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}

export function contentTypeFor(docType: string | undefined): string {
  return docType === 'webm' ? 'video/webm' : 'video/x-matroska';
}

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export interface ListingEntry {
  name: string;
  input: string;
  state: string;
  clients: number;
  contentType: string | undefined;
}

/** Small HTML page listing the mounts (with a <video> tag each), or plain text when `text`. */
export function renderListing(entries: ListingEntry[], text: boolean): string {
  if (text) {
    return (
      entries
        .map((e) => `/${e.name}\t${e.contentType ?? '-'}\t${e.state}\t${e.clients} clients\t${e.input}`)
        .join('\n') + '\n'
    );
  }
  const rows = entries
    .map(
      (e) =>
        `<li><a href="/${esc(encodeURIComponent(e.name))}">/${esc(e.name)}</a> ${esc(e.contentType ?? '')} — ${esc(e.state)}, ${e.clients} client(s), input ${esc(e.input)}<br>` +
        `<video src="/${esc(encodeURIComponent(e.name))}" controls muted autoplay playsinline width="480"></video></li>`,
    )
    .join('\n');
  return `<!doctype html>\n<meta charset="utf-8">\n<title>mkvserve</title>\n<h1>mkvserve</h1>\n<ul>\n${rows}\n</ul>\n<p><a href="/api/status">/api/status</a> · <a href="/metrics">/metrics</a></p>\n`;
}
