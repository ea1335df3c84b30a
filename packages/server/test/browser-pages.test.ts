// The HTML pages as a browser sees them (real headless Chromium, playwright-core): the listing works
// without JavaScript; a hostile input name (a real file called `<img src=x onerror=alert(1)>.webm`) is
// shown as text on `/` and on the status page, before and after the script re-renders it; every page has
// its landmarks, labels, table captions and AA contrast in the light and the dark scheme; every page
// carries the CSP and loads nothing from elsewhere. Skips without Chromium.
import t from 'tap';
import type { Test } from 'tap';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { FIX } from '../testlib/helpers.js';
import { A11Y_CHECK, launchChromium, noChromium, watchedPage } from '../testlib/browser.js';
import { MkvServer } from '../src/server.js';

let browser: Browser | undefined;
async function getBrowser(): Promise<Browser> {
  browser ??= await launchChromium();
  return browser;
}
t.teardown(async () => {
  await browser?.close();
});

const HOSTILE = `<img src=x onerror=alert(1)>"'&amp;.webm`;

async function startServer(t: Test): Promise<MkvServer> {
  const dir = mkdtempSync(join(tmpdir(), 'mkvserve-pages-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const hostile = join(dir, HOSTILE);
  copyFileSync(FIX('vp8-vorbis.webm'), hostile);
  const s = new MkvServer({
    port: 0,
    mounts: [
      { name: 'cam', input: FIX('vp9-opus.webm'), loop: true },
      { name: 'odd', input: hostile, loop: true },
    ],
  });
  await s.start();
  t.teardown(() => s.stop(0));
  return s;
}

t.test('the listing works without JavaScript', { skip: noChromium }, async (t) => {
  const s = await startServer(t);
  const w = await watchedPage(await getBrowser(), { javaScriptEnabled: false });
  await w.page.goto(`${s.url('')}/`);
  t.equal(await w.page.title(), 'mkvserve');
  const links = await w.page.locator('main table a').evaluateAll((as) => as.map((a) => a.getAttribute('href')));
  t.same(links, ['/cam/player', '/cam', '/odd/player', '/odd'], 'each mount: its player and its stream');
  await w.page.getByRole('link', { name: 'cam', exact: true }).click();
  await w.page.waitForURL(/\/cam\/player$/);
  t.equal(await w.page.getAttribute('video', 'src'), '/cam', 'the player page has its <video> without JavaScript too');
  t.match(await w.page.textContent('#tracks'), /VP9/);
});

t.test('a hostile input name is text everywhere', { skip: noChromium }, async (t) => {
  const s = await startServer(t);
  const base = s.url('');
  for (const path of ['/', '/status']) {
    const w = await watchedPage(await getBrowser());
    await w.page.goto(base + path);
    if (path === '/status') {
      // Let the script re-render the table from /api/status at least once.
      await w.page.waitForFunction(
        () =>
          Number(
            (globalThis as unknown as { document: { body: { dataset: { polls?: string } } } }).document.body.dataset
              .polls,
          ) >= 1,
      );
    }
    const row = w.page.locator('tr[data-mount="odd"]');
    t.match(await row.textContent(), HOSTILE, `${path}: the name is shown as it is`);
    t.equal(await w.page.locator('img').count(), 0, `${path}: no element was injected`);
    t.same(w.dialogs, [], `${path}: no script ran`);
    t.same(await w.cspViolations(), [], `${path}: no CSP violation`);
  }
});

t.test('landmarks, labels and contrast on every page, light and dark', { skip: noChromium }, async (t) => {
  // The check itself finds problems where there are some.
  const bad = await watchedPage(await getBrowser());
  await bad.page.setContent('<p style="color:#aaa">grey on white</p><input id="x">');
  const found = await bad.page.evaluate<string[]>(A11Y_CHECK);
  for (const p of ['html has no lang', '0 main landmarks', 'input #x has no label', 'contrast 2.32'])
    t.ok(
      found.some((f) => f.startsWith(p)),
      `the check reports "${p}"`,
    );
  await bad.page.context().close();

  const s = await startServer(t);
  const base = s.url('');
  for (const colorScheme of ['light', 'dark'] as const) {
    for (const path of ['/', '/cam/player', '/status']) {
      const w = await watchedPage(await getBrowser(), { colorScheme });
      const res = await w.page.goto(base + path);
      const h = res!.headers();
      t.match(h['content-security-policy'], /^default-src 'none'; /, `${path}: CSP`);
      t.equal(h['x-content-type-options'], 'nosniff');
      t.equal(h['x-frame-options'], 'DENY');
      if (path === '/status') await w.page.waitForSelector('tr[data-mount="cam"]');
      if (path === '/cam/player')
        await w.page.waitForFunction(
          () =>
            (globalThis as unknown as { document: { body: { dataset: { playable?: string } } } }).document.body.dataset
              .playable === 'yes',
        );
      const problems = await w.page.evaluate<string[]>(A11Y_CHECK);
      t.same(problems, [], `${path} (${colorScheme}): no accessibility problem found`);
      t.same(
        w.requests.filter((u) => !u.startsWith(base + '/')),
        [],
        `${path}: nothing loaded from elsewhere`,
      );
      t.same(await w.cspViolations(), []);
      t.same(w.errors, [], `${path}: no console or page error`);
      await w.page.context().close();
    }
  }
});
