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
