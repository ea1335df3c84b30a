// What every HTML page of the server shares: escaping, the document frame (landmarks, language,
// viewport), the browser-side assets (assets/web/*.js, *.css), and the headers that lock a page down.
// Pages load nothing from elsewhere: their script and style are inlined, and the Content-Security-Policy
// allows exactly those (by SHA-256 hash), same-origin media and same-origin fetches, nothing else. So a
// mount name or input that slipped through escaping still could not run a script.

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { HeaderList } from '../http/response.js';

/** Escapes text for HTML element content and double- or single-quoted attribute values. */
export function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A browser-side asset, inlined in the pages that use it, with the hash its CSP source needs. */
interface InlineAsset {
  text: string;
  /** `'sha256-...'` for the Content-Security-Policy. */
  source: string;
}

const assets = new Map<string, InlineAsset>();

/** Reads `assets/web/<name>` once (works from src/ and dist/: both sit two levels below the package). */
function asset(name: string): InlineAsset {
  let a = assets.get(name);
  if (a === undefined) {
    const text = readFileSync(new URL(`../../assets/web/${name}`, import.meta.url), 'utf8');
    a = { text, source: `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'` };
    assets.set(name, a);
  }
  return a;
}

export interface PageParts {
  title: string;
  /** HTML of the `<main>` element (escaped by the caller). */
  main: string;
  /** Name of the script in assets/web, if the page has one. */
  script?: string;
  /** Attributes of `<body>` (escaped by the caller), e.g. data the script reads. */
  bodyAttrs?: string;
  version: string;
}

export interface Page {
  html: string;
  headers: HeaderList;
}

/** A whole page: header (navigation), main, footer; one stylesheet and at most one script, both inline. */
export function renderPage(p: PageParts): Page {
  const style = asset('style.css');
  const script = p.script !== undefined ? asset(p.script) : undefined;
  const html =
    `<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n` +
    `<meta name="viewport" content="width=device-width, initial-scale=1">\n` +
    `<meta name="referrer" content="no-referrer">\n<link rel="icon" href="data:,">\n` +
    `<title>${esc(p.title)}</title>\n<style>${style.text}</style>\n</head>\n` +
    `<body${p.bodyAttrs ? ' ' + p.bodyAttrs : ''}>\n` +
    `<a class="skip" href="#main">Skip to content</a>\n` +
    `<header><nav aria-label="Site"><a href="/">Mounts</a> <a href="/status">Status</a></nav></header>\n` +
    `<main id="main">\n${p.main}\n</main>\n` +
    `<footer><p>mkvserve ${esc(p.version)}</p></footer>\n` +
    (script ? `<script>${script.text}</script>\n` : '') +
    `</body>\n</html>\n`;
  const csp = [
    "default-src 'none'",
    `style-src ${style.source}`,
    ...(script ? [`script-src ${script.source}`] : []),
    "img-src 'self' data:",
    "media-src 'self'",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
  return {
    html,
    headers: [
      ['Content-Type', 'text/html; charset=utf-8'],
      ['Cache-Control', 'no-store'],
      ['Content-Security-Policy', csp],
      ['X-Content-Type-Options', 'nosniff'],
      ['Referrer-Policy', 'no-referrer'],
      ['X-Frame-Options', 'DENY'],
    ],
  };
}

/** A number of bits per second as people read it. */
export function formatBitrate(bps: number): string {
  if (!Number.isFinite(bps) || bps <= 0) return '0 kbit/s';
  if (bps >= 1e6) return `${(bps / 1e6).toFixed(2)} Mbit/s`;
  return `${Math.round(bps / 1e3)} kbit/s`;
}

/** A number of bytes as people read it. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1)} ${units[i]}`;
}
