// Headless Debian Chromium (/usr/bin/chromium) driven by playwright-core (pinned in
// ../package-lock.json; it downloads no browser), for the web console's tests.
//
//   const b = await launch();                 // a fresh --user-data-dir, removed by b.close()
//   const page = await openConsole(b, srv);   // a new tab (fresh sessionStorage) on the console
//   await signIn(page, key);
//   assert.deepEqual(page.problems, []);      // page errors and console errors seen so far
//
// argotd itself comes from ../../compat/lib/argotd.mjs (the same harness as the compat tests).

import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const CHROMIUM = process.env.ARGOT_CHROMIUM || '/usr/bin/chromium';

if (!existsSync(join(here, '..', 'node_modules', 'playwright-core', 'package.json'))) {
  throw new Error(
    `${join(here, '..', 'node_modules')} is missing the pinned "playwright-core": run scripts/deps.sh ` +
      '(it runs `npm ci` in tests/browser from package-lock.json)',
  );
}
if (!existsSync(CHROMIUM)) {
  throw new Error(`${CHROMIUM} not found: install Debian's chromium and chromium-driver (scripts/deps.sh)`);
}
const { chromium } = await import('playwright-core');

// Without the background-networking flags, Chromium on a machine with no network outside
// loopback stalls on its own requests (updates, sync, QUIC probes).
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const dirs = new Set();
process.on('exit', () => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Launches Chromium with a fresh profile; resolves {ctx, close()}. */
export async function launch({ width = 1280, height = 900 } = {}) {
  const dir = mkdtempSync(join(tmpdir(), `argot-browser-${process.pid}-`));
  dirs.add(dir);
  const ctx = await chromium.launchPersistentContext(dir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width, height },
    acceptDownloads: true,
    timeout: 30000,
  });
  ctx.setDefaultTimeout(15000);
  return {
    ctx,
    async close() {
      await ctx.close();
      rmSync(dir, { recursive: true, force: true });
      dirs.delete(dir);
    },
  };
}

/** A new tab on the console at srv's origin; page.problems collects page errors and console
 * errors (a CSP report included), page.requests every request made. */
export async function openConsole(b, srv, path = '/') {
  const page = await b.ctx.newPage();
  page.problems = [];
  page.requests = [];
  page.on('pageerror', (e) => page.problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') page.problems.push(`console: ${m.text()}`);
  });
  page.on('request', (r) => page.requests.push(r));
  page.response = await page.goto(srv.origin + path);
  return page;
}

/** Signs in with key and waits for the files table's first answer. */
export async function signIn(page, key) {
  await page.fill('#key', key);
  await page.click('#signin-button');
  await page.waitForSelector('#app-view', { state: 'visible' });
  await page.waitForFunction(() => document.querySelector('#files-status').textContent !== 'Loading…');
}

/** The text of each visible row's filename cell, in table order. */
export function rowNames(page) {
  return page.$$eval('#files-body tr td.name', (tds) => tds.map((td) => td.textContent));
}

/** Sets the upload purpose (and expiry) and picks files: [{name, buffer, mimeType?}], or
 * paths of files on disk (faster for big ones: nothing goes through the protocol). */
export async function pickFiles(page, files, { purpose = 'user_data', expires = '' } = {}) {
  await page.selectOption('#upload-purpose', purpose);
  await page.selectOption('#upload-expires', expires);
  await page.setInputFiles(
    '#file-input',
    files.map((f) => (typeof f === 'string' ? f : { name: f.name, mimeType: f.mimeType || 'application/octet-stream', buffer: f.buffer })),
  );
}

/** The upload list item of a file name (the last one if several). */
export function uploadItem(page, name) {
  return page.locator('#upload-list li.upload-item', { has: page.locator('.name', { hasText: name }) }).last();
}

/** Waits until the item of name reaches one of states; resolves {state, text}. */
export async function uploadEnd(page, name, states = ['done', 'failed', 'cancelled'], timeout = 60000) {
  const item = uploadItem(page, name);
  await item.waitFor();
  await page.waitForFunction(
    ([n, s]) => {
      const li = [...document.querySelectorAll('#upload-list li')].filter((l) => l.querySelector('.name').textContent === n).pop();
      return li && s.includes(li.dataset.state);
    },
    [name, states],
    { timeout },
  );
  return { state: await item.getAttribute('data-state'), text: await item.locator('.state').textContent() };
}

/** Limits the page's upload bandwidth (DevTools network emulation); bytesPerSecond -1: none. */
export async function throttleUploads(page, bytesPerSecond) {
  const cdp = page.cdp || (page.cdp = await page.context().newCDPSession(page));
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', {
    offline: false,
    latency: 0,
    downloadThroughput: -1,
    uploadThroughput: bytesPerSecond,
  });
}
