// Headless Chromium for the browser tests, driven by playwright-core (no browser download: Debian's
// /usr/bin/chromium, or $CHROMIUM). Each test gets a fresh browser (playwright gives it a fresh
// temporary profile) and pages that record what a test must see fail: media `error` events, CSP
// violations, console errors, page errors, dialogs (an injected alert()), and every request's URL.
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import type { Browser, BrowserContextOptions, Page } from 'playwright-core';

/** The Chromium executable, or undefined (the tests then skip and say how to install it). */
export const chromiumPath: string | undefined = [
  process.env['CHROMIUM'],
  '/usr/bin/chromium',
  '/usr/bin/chromium-browser',
]
  .filter((p): p is string => p !== undefined && p !== '')
  .find((p) => existsSync(p) && spawnSync(p, ['--version']).status === 0);

export const noChromium = chromiumPath ? false : 'Chromium is not installed (apt-get install chromium)';

/**
 * The little of the DOM that functions run in the page (page.evaluate, waitForFunction) use, typed
 * without the DOM lib (the lint program has Node's types only): `(globalThis as unknown as InPage)`.
 * Types only: nothing here exists at run time.
 */
export interface InPage {
  document: {
    querySelector(selector: string): PageVideo | null;
    title: string;
  };
  __mediaErrors?: string[];
  __csp?: string[];
  __marker?: number;
}
export interface PageVideo {
  currentTime: number;
  videoWidth: number;
  videoHeight: number;
  error: { code: number; message: string } | null;
  getVideoPlaybackQuality(): { totalVideoFrames: number };
  textContent: string | null;
}

/** The flags that work here (COMMON.md), plus autoplay without a user gesture. */
const FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--autoplay-policy=no-user-gesture-required',
];

export async function launchChromium(): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({ executablePath: chromiumPath!, headless: true, args: FLAGS, timeout: 60_000 });
}

export interface Watched {
  page: Page;
  /** Media element errors: `code message` (recorded in the page from its first script on). */
  mediaErrors: () => Promise<string[]>;
  /** CSP violations seen by the page (`directive blockedURI`). */
  cspViolations: () => Promise<string[]>;
  /** Console errors and uncaught page errors. */
  errors: string[];
  /** alert()/confirm()/prompt() opened by the page. */
  dialogs: string[];
  /** Every URL the page requested. */
  requests: string[];
}

const RECORDER = `(() => {
  window.__mediaErrors = [];
  window.__csp = [];
  document.addEventListener('error', (e) => {
    const t = e.target;
    if (t && (t.tagName === 'VIDEO' || t.tagName === 'AUDIO')) {
      window.__mediaErrors.push((t.error ? t.error.code + ' ' + t.error.message : 'error event'));
    }
  }, true);
  document.addEventListener('securitypolicyviolation', (e) => {
    window.__csp.push(e.violatedDirective + ' ' + e.blockedURI);
  });
})();`;

/** A new page in its own context that records errors (see Watched). */
export async function watchedPage(browser: Browser, options: BrowserContextOptions = {}): Promise<Watched> {
  const ctx = await browser.newContext(options);
  const page = await ctx.newPage();
  const w: Watched = {
    page,
    mediaErrors: () => page.evaluate(() => (globalThis as unknown as InPage).__mediaErrors ?? []),
    cspViolations: () => page.evaluate(() => (globalThis as unknown as InPage).__csp ?? []),
    errors: [],
    dialogs: [],
    requests: [],
  };
  if (options.javaScriptEnabled !== false) await page.addInitScript(RECORDER);
  page.on('console', (m) => {
    if (m.type() === 'error') w.errors.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => w.errors.push(`pageerror: ${e.message}`));
  page.on('dialog', (d) => {
    w.dialogs.push(d.message());
    void d.dismiss();
  });
  page.on('request', (r) => w.requests.push(r.url()));
  return w;
}

/**
 * Run in a page (`page.evaluate(A11Y_CHECK)`): the structural accessibility rules the pages keep, and the
 * WCAG contrast of every visible text against its nearest opaque background. Returns the problems found.
 */
export const A11Y_CHECK = `(() => {
  const problems = [];
  const count = (sel) => document.querySelectorAll(sel).length;
  if (!document.documentElement.lang) problems.push('html has no lang');
  if (!document.title) problems.push('no title');
  if (count('main') !== 1) problems.push(count('main') + ' main landmarks');
  if (count('header nav') < 1) problems.push('no navigation landmark in the header');
  if (count('h1') !== 1) problems.push(count('h1') + ' h1 headings');
  for (const el of document.querySelectorAll('input, select, textarea')) {
    if (el.type === 'hidden') continue;
    const label = el.labels && el.labels.length > 0 ? el.labels[0].textContent.trim() : el.getAttribute('aria-label');
    if (!label) problems.push('input #' + el.id + ' has no label');
  }
  for (const tb of document.querySelectorAll('table')) {
    if (!tb.querySelector('caption')) problems.push('table #' + tb.id + ' has no caption');
    for (const th of tb.querySelectorAll('th')) if (!th.getAttribute('scope')) problems.push('th without scope: ' + th.textContent);
  }
  for (const v of document.querySelectorAll('video')) {
    if (!v.getAttribute('aria-label') && !v.getAttribute('title')) problems.push('video without a name');
  }
  for (const a of document.querySelectorAll('a')) if (!a.textContent.trim()) problems.push('link without text: ' + a.href);
  const rgb = (s) => { const m = s.match(/rgba?\\(([^)]+)\\)/); if (!m) return null; const p = m[1].split(/[ ,\\/]+/).filter(Boolean).map(Number); return { r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 }; };
  const lum = (c) => { const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); }; return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b); };
  const background = (el) => { for (let e = el; e; e = e.parentElement) { const c = rgb(getComputedStyle(e).backgroundColor); if (c && c.a >= 1) return c; } return { r: 255, g: 255, b: 255, a: 1 }; };
  let checked = 0;
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement;
    if (!n.textContent.trim() || !el || !el.checkVisibility || !el.checkVisibility()) continue;
    if (el.closest('video, script, style, noscript')) continue;
    const fg = rgb(getComputedStyle(el).color);
    const bg = background(el);
    if (!fg) continue;
    const l1 = lum(fg), l2 = lum(bg);
    const ratio = (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
    checked++;
    if (ratio < 4.5) problems.push('contrast ' + ratio.toFixed(2) + ' for "' + n.textContent.trim().slice(0, 30) + '"');
  }
  if (checked === 0) problems.push('no visible text checked');
  return problems;
})()`;
