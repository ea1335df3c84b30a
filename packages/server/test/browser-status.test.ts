// The status page in the real headless Chromium (playwright-core): a stream client that connects shows
// up in the mount's row without a reload (the page polls /api/status), and goes again when it leaves;
// with an admin token the page asks for it, refuses a wrong one, and then shows the figures; on loopback
// without a token the figures are in the page itself (no JavaScript needed). Skips without Chromium.
import t from 'tap';
import net from 'node:net';
import type { Browser } from 'playwright-core';
import { FIX, waitFor } from '../testlib/helpers.js';
import { launchChromium, noChromium, watchedPage } from '../testlib/browser.js';
import type { InPage } from '../testlib/browser.js';
import { MkvServer } from '../src/server.js';

let browser: Browser | undefined;
async function getBrowser(): Promise<Browser> {
  browser ??= await launchChromium();
  return browser;
}
t.teardown(async () => {
  await browser?.close();
});

async function startServer(adminToken?: string): Promise<MkvServer> {
  const s = new MkvServer({
    port: 0,
    ...(adminToken !== undefined ? { adminToken } : {}),
    mounts: [
      { name: 'cam', input: FIX('vp9-opus.webm'), loop: true },
      { name: 'movie', input: FIX('vp8-vorbis.webm'), loop: true },
    ],
  });
  await s.start();
  return s;
}

/** A raw stream client; resolves once its first bytes arrived. */
async function streamClient(port: number, mount: string): Promise<net.Socket> {
  const sock = net.connect(port, '127.0.0.1', () => sock.write(`GET /${mount} HTTP/1.1\r\nHost: x\r\n\r\n`));
  sock.on('error', () => {});
  let got = 0;
  sock.on('data', (d: Buffer) => (got += d.length));
  await waitFor(() => got > 0, 10_000, 'the stream client’s first bytes');
  return sock;
}

const cell = (mount: string, field: string): string => `#mounts tr[data-mount="${mount}"] td[data-field="${field}"]`;

t.test('a client appears on the status page without a reload', { skip: noChromium }, async (t) => {
  const s = await startServer();
  t.teardown(() => s.stop(0));
  const w = await watchedPage(await getBrowser());
  await w.page.goto(`${s.url('')}/status`);
  t.equal(await w.page.textContent(cell('cam', 'clients')), '0', 'no client yet');
  await w.page.evaluate(() => {
    (globalThis as unknown as InPage).__marker = 42; // gone if the page reloads
  });
  const pollsBefore = Number(await w.page.getAttribute('body', 'data-polls'));

  const c1 = await streamClient(s.port, 'cam');
  await w.page.waitForFunction(
    (sel) => (globalThis as unknown as InPage).document.querySelector(sel)?.textContent === '1',
    cell('cam', 'clients'),
    {
      timeout: 10_000,
    },
  );
  t.pass('the count went to 1');
  t.equal(await w.page.textContent(cell('movie', 'clients')), '0', 'the other mount still has none');
  t.equal(await w.page.evaluate(() => (globalThis as unknown as InPage).__marker), 42, 'the page was not reloaded');
  t.ok(Number(await w.page.getAttribute('body', 'data-polls')) > pollsBefore, 'it polled the API');
  t.match(await w.page.textContent('#clients tbody'), /127\.0\.0\.1/, 'the client is listed with its address');
  t.match(await w.page.textContent('#clients-count'), /^1 client connected/);
  t.match(await w.page.textContent(cell('cam', 'bitrate')), /^\d+(\.\d+)? (k|M)bit\/s$/);
  t.not(await w.page.textContent(cell('cam', 'bitrate')), '0 kbit/s', 'the input bitrate is measured');
  // Out: measured between two polls while the client receives.
  await w.page.waitForFunction(
    (sel) =>
      /^[1-9]\d* kbit\/s$|Mbit/.test((globalThis as unknown as InPage).document.querySelector(sel)?.textContent ?? ''),
    cell('cam', 'out'),
    { timeout: 10_000 },
  );
  t.pass(`outgoing bitrate shown: ${await w.page.textContent(cell('cam', 'out'))}`);

  const c2 = await streamClient(s.port, 'cam');
  await w.page.waitForFunction(
    (sel) => (globalThis as unknown as InPage).document.querySelector(sel)?.textContent === '2',
    cell('cam', 'clients'),
    {
      timeout: 10_000,
    },
  );
  c1.destroy();
  c2.destroy();
  await w.page.waitForFunction(
    (sel) => (globalThis as unknown as InPage).document.querySelector(sel)?.textContent === '0',
    cell('cam', 'clients'),
    {
      timeout: 10_000,
    },
  );
  t.pass('and back to 0 when they leave');
  t.equal(await w.page.evaluate(() => (globalThis as unknown as InPage).__marker), 42, 'still the same page');
  t.same(await w.cspViolations(), [], 'no CSP violation (the polling is same-origin)');
  t.same(w.errors, [], 'no console or page error');
});

t.test('with an admin token the page asks for it', { skip: noChromium }, async (t) => {
  const s = await startServer('s3cret-admin');
  t.teardown(() => s.stop(0));
  const w = await watchedPage(await getBrowser());
  await w.page.goto(`${s.url('')}/status`);
  t.equal(await w.page.locator('#mounts tbody tr').count(), 0, 'no figures in the page without the token');
  t.ok(await w.page.locator('#token-form').isVisible(), 'the token form is shown');
  t.match(await w.page.textContent('#updated'), /Enter the admin token/);

  await w.page.getByLabel('Admin token').fill('wrong');
  await w.page.getByRole('button', { name: 'Show status' }).click();
  await w.page.waitForFunction(() =>
    /not accepted/.test((globalThis as unknown as InPage).document.querySelector('#updated')?.textContent ?? ''),
  );
  t.pass('a wrong token is refused, plainly');
  t.equal(await w.page.locator('#mounts tbody tr').count(), 0);

  await w.page.getByLabel('Admin token').fill('s3cret-admin');
  await w.page.getByRole('button', { name: 'Show status' }).click();
  await w.page.waitForSelector(cell('cam', 'clients'), { timeout: 10_000 });
  t.equal(await w.page.textContent(cell('cam', 'clients')), '0');
  t.ok(await w.page.locator('#token-form').isHidden(), 'the form goes away');
  const c = await streamClient(s.port, 'cam');
  t.teardown(() => c.destroy());
  await w.page.waitForFunction(
    (sel) => (globalThis as unknown as InPage).document.querySelector(sel)?.textContent === '1',
    cell('cam', 'clients'),
    {
      timeout: 10_000,
    },
  );
  t.pass('a client appears with the token too');
  t.notOk(w.page.url().includes('s3cret'), 'the token is not in the URL');
  t.notOk((await w.page.content()).includes('s3cret'), 'nor in the document');
  // The 401 on the wrong token is a console error in Chromium ("Failed to load resource"); nothing else.
  t.same(
    w.errors.filter((e) => !/401/.test(e)),
    [],
    'no other console or page error',
  );
});

t.test('without JavaScript the figures are in the page on loopback', { skip: noChromium }, async (t) => {
  const s = await startServer();
  t.teardown(() => s.stop(0));
  const c = await streamClient(s.port, 'movie');
  t.teardown(() => c.destroy());
  const w = await watchedPage(await getBrowser(), { javaScriptEnabled: false });
  await w.page.goto(`${s.url('')}/status`);
  t.equal(await w.page.textContent(cell('movie', 'clients')), '1');
  t.equal(await w.page.textContent(cell('movie', 'state')), 'streaming');
  t.match(await w.page.textContent(cell('movie', 'input')), /vp8-vorbis\.webm/);
  t.ok(await w.page.locator('#token-form').isHidden());
});
