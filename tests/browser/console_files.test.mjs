// The console in headless Chromium against a real argotd: signing in and out, the files table
// (pages past 100, purpose filter, search, sort, copy id, byte-exact download, delete with
// confirmation, bounded .jsonl preview), the usage bar, the CSP, HTML in a filename, keyboard
// use, labels and a 400 px wide screen.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { stopClean } from './lib/server.mjs';
import { startArgotd, sleep, Argotd } from '../compat/lib/argotd.mjs';
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { client, expectJson, expectError, msgWrongKey } from '../compat/lib/http.mjs';
import { launch, openConsole, signIn, rowNames } from './lib/browser.mjs';

const PAGED = 130; // > one page of 100
const HTML_NAME = "<img src=x onerror=window.__xss=1><b>bold</b> &amp; <script>window.__xss=2</script>.jsonl";
// ~48 MiB: more than loopback's socket buffers (tcp_rmem here autotunes up to 32 MiB) and
// Chromium's pipe can hold, so a reader that stops early leaves the server unfinished.
const BIG_JSONL_LINES = 48 * 1024;
const sha = (b) => createHash('sha256').update(b).digest('hex');

let srv;
let api;
let b;
const seeded = {};

async function upload(name, data, purpose = 'user_data') {
  const r = await api.upload([{ name: 'purpose', value: purpose }, { name: 'file', filename: name, data }]);
  return expectJson(r, 200, name);
}

before(async () => {
  srv = await startArgotd({ orgs: ['org-web', 'org-other'] });
  api = client(srv, srv.keys['org-web']);
  for (let i = 0; i < PAGED; i++) await upload(`page-${String(i).padStart(3, '0')}.txt`, Buffer.from(`file ${i}\n`.repeat(i + 1)));
  seeded.batch = [];
  for (let i = 0; i < 3; i++) seeded.batch.push(await upload(`batch-${i}.jsonl`, Buffer.from(`{"custom_id":"r${i}"}\n`), 'batch'));
  seeded.binary = randomBytes(300 * 1024 + 17);
  seeded.binary[0] = 0; // NULs, CR, LF and bytes over 0x7f must all come back as they are
  seeded.binary[1] = 13;
  seeded.binary[2] = 10;
  seeded.bin = await upload('random.bin', seeded.binary);
  const lines = [];
  for (let i = 0; i < BIG_JSONL_LINES; i++) lines.push(JSON.stringify({ i, text: `line ${i} ${'x'.repeat(1000)}` }));
  seeded.bigText = lines.join('\n') + '\n';
  seeded.big = await upload('big.jsonl', Buffer.from(seeded.bigText), 'fine-tune');
  seeded.small = await upload('small.jsonl', Buffer.from('{"a":1}\n{"b":"<i>two</i>"}\nnot json\n'), 'fine-tune');
  seeded.html = await upload(HTML_NAME, Buffer.from('{"x":1}\n'), 'user_data');
  await upload('last.txt', Buffer.from('the newest'), 'user_data');
  expectJson(await client(srv, srv.keys['org-other']).upload([{ name: 'purpose', value: 'user_data' }, { name: 'file', filename: 'not-mine.txt', data: Buffer.from('no') }]), 200);
  b = await launch();
});
after(async () => {
  await b?.close();
  await stopClean(srv);
});

const total = () => PAGED + 3 + 1 + 2 + 1 + 1; // every file of org-web

async function usage() {
  return expectJson(await api.get('/v1/argot/usage'), 200);
}

test('a wrong key is refused with the server message, and nothing is stored', async () => {
  const page = await openConsole(b, srv);
  assert.equal(page.response.headers()['content-security-policy'].includes("script-src 'self'"), true);
  await page.waitForSelector('#signin-view', { state: 'visible' });
  const wrong = 'sk-argot-' + 'W'.repeat(40);
  await page.fill('#key', wrong);
  await page.click('#signin-button');
  await page.waitForSelector('#signin-error', { state: 'visible' });
  assert.equal(await page.textContent('#signin-error'), msgWrongKey(wrong));
  assert.equal(await page.isVisible('#app-view'), false);
  assert.equal(await page.getAttribute('#key', 'aria-invalid'), 'true');
  assert.equal(await page.evaluate(() => sessionStorage.length), 0);
  assert.deepEqual(page.problems.filter((p) => !p.includes('401')), []);
  await page.close();
});

test('sign in: the key stays in the tab, goes only in the Authorization header, sign out clears it', async () => {
  const page = await openConsole(b, srv);
  const key = srv.keys['org-web'];
  await signIn(page, key);
  assert.equal(await page.textContent('#org'), 'org-web');
  assert.equal(await page.evaluate(() => sessionStorage.getItem('argot.apiKey')), key);
  assert.equal(await page.inputValue('#key'), '', 'the input is emptied');
  await page.reload();
  await page.waitForSelector('#app-view', { state: 'visible' });
  assert.equal(await page.evaluate(() => document.cookie), '');
  assert.deepEqual(await b.ctx.cookies(), []);
  for (const r of page.requests.filter((r) => r.url().includes('/v1/'))) {
    const h = await r.allHeaders();
    assert.equal(h.authorization, `Bearer ${key}`, r.url());
    assert.equal(h.cookie, undefined, r.url());
    assert.ok(!r.url().includes(key), `the key is never in a URL: ${r.url()}`);
  }
  // Another tab has its own session storage: not signed in there.
  const other = await openConsole(b, srv);
  await other.waitForSelector('#signin-view', { state: 'visible' });
  await other.close();
  await page.click('#sign-out');
  await page.waitForSelector('#signin-view', { state: 'visible' });
  assert.equal(await page.evaluate(() => sessionStorage.length), 0);
  assert.equal(await page.$$eval('#files-body tr', (r) => r.length), 0, 'no file left on screen');
  await page.reload();
  await page.waitForSelector('#signin-view', { state: 'visible' });
  assert.deepEqual(page.problems, []);
  await page.close();
});

test('the list pages with after, 100 at a time, past 100 files; the usage says how many there are', async () => {
  const page = await openConsole(b, srv);
  await signIn(page, srv.keys['org-web']);
  assert.equal(await page.$$eval('#files-body tr', (r) => r.length), 100);
  assert.equal(await page.textContent('#files-status'), `100 of ${total()} files loaded`);
  const all = expectJson(await api.get('/v1/files?limit=10000'), 200).data;
  assert.deepEqual(await rowNames(page), all.slice(0, 100).map((f) => f.filename), 'newest first, as the server lists them');
  assert.ok(!(await rowNames(page)).includes('not-mine.txt'));
  const before = page.requests.length;
  await page.click('#load-more');
  await page.waitForFunction((n) => document.querySelectorAll('#files-body tr').length === n, total());
  const lists = page.requests.slice(before).filter((r) => r.url().includes('/v1/files?'));
  assert.equal(lists.length, 1);
  const q = new URL(lists[0].url()).searchParams;
  assert.equal(q.get('after'), all[99].id);
  assert.equal(q.get('limit'), '100');
  assert.deepEqual(await rowNames(page), all.map((f) => f.filename));
  assert.equal(await page.isVisible('#load-more'), false, 'no more pages');
  assert.equal(await page.textContent('#files-status'), `${total()} files`);
  // Oldest first is the server's order too.
  await page.selectOption('#filter-order', 'asc');
  await page.waitForFunction(() => document.querySelector('#files-body tr td.name')?.textContent === 'page-000.txt');
  assert.deepEqual(page.problems, []);
  await page.close();
});

test('filter by purpose asks the server; search and sort work on the loaded rows', async () => {
  const page = await openConsole(b, srv);
  await signIn(page, srv.keys['org-web']);
  await page.selectOption('#filter-purpose', 'batch');
  await page.waitForFunction(() => document.querySelectorAll('#files-body tr').length === 3);
  const req = page.requests.filter((r) => r.url().includes('purpose=batch'));
  assert.equal(req.length, 1);
  assert.deepEqual((await rowNames(page)).sort(), ['batch-0.jsonl', 'batch-1.jsonl', 'batch-2.jsonl']);
  assert.deepEqual(await page.$$eval('#files-body tr td:nth-child(3)', (t) => t.map((x) => x.textContent)), ['batch', 'batch', 'batch']);
  await page.selectOption('#filter-purpose', 'vision');
  await page.waitForFunction(() => document.querySelector('#files-status').textContent === 'No files with this purpose.');
  await page.selectOption('#filter-purpose', '');
  await page.waitForFunction(() => document.querySelectorAll('#files-body tr').length === 100);

  await page.fill('#search', 'PAGE-12'); // case-insensitive, on the loaded rows only
  const tens = Array.from({ length: 10 }, (_, i) => `page-12${i}.txt`);
  assert.deepEqual(await rowNames(page), [...tens].reverse(), 'page-012.txt is not loaded yet');
  assert.match(await page.textContent('#files-status'), /; 10 match the search$/);
  await page.click('th[data-key="filename"] button');
  assert.equal(await page.getAttribute('th[data-key="filename"]', 'aria-sort'), 'ascending');
  assert.deepEqual(await rowNames(page), tens);
  await page.click('th[data-key="filename"] button');
  assert.equal(await page.getAttribute('th[data-key="filename"]', 'aria-sort'), 'descending');
  assert.equal((await rowNames(page))[0], 'page-129.txt');
  await page.fill('#search', '');
  await page.click('th[data-key="bytes"] button');
  const sizes = await page.$$eval('#files-body tr td.num', (t) => t.map((x) => Number(x.title.split(' ')[0])));
  assert.deepEqual(sizes, [...sizes].sort((x, y) => x - y), 'sorted by size, smallest first');
  assert.equal(await page.getAttribute('th[data-key="filename"]', 'aria-sort'), null);
  assert.deepEqual(page.problems, []);
  await page.close();
});

test('a filename with HTML in it is shown as text', async () => {
  const page = await openConsole(b, srv);
  await signIn(page, srv.keys['org-web']);
  const cell = page.locator(`#files-body tr[data-id="${seeded.html.id}"] td.name`);
  assert.equal(await cell.textContent(), HTML_NAME);
  assert.equal(await page.locator('#files-body img, #files-body b').count(), 0, 'no element made from the name');
  assert.equal(await page.evaluate(() => window.__xss), undefined);
  // The delete dialog shows it as text too.
  await page.click(`#files-body tr[data-id="${seeded.html.id}"] button:has-text("Delete")`);
  assert.equal(await page.textContent('#confirm-name'), HTML_NAME);
  assert.equal(await page.locator('#confirm-dialog img').count(), 0);
  await page.click('#confirm-cancel');
  assert.deepEqual(page.problems, []);
  await page.close();
});

test('copy id puts the id on the clipboard', async () => {
  await b.ctx.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: srv.origin });
  const page = await openConsole(b, srv);
  await signIn(page, srv.keys['org-web']);
  await page.click(`#files-body tr[data-id="${seeded.bin.id}"] button:has-text("Copy id")`);
  await page.waitForFunction((id) => document.querySelector('#toast').textContent === `Copied ${id}`, seeded.bin.id);
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), seeded.bin.id);
  await page.close();
});

test('download saves the exact bytes under the file name', async () => {
  const page = await openConsole(b, srv);
  await signIn(page, srv.keys['org-web']);
  const [dl] = await Promise.all([
    page.waitForEvent('download'),
    page.click(`#files-body tr[data-id="${seeded.bin.id}"] button:has-text("Download")`),
  ]);
  assert.equal(dl.suggestedFilename(), 'random.bin');
  const got = await readFile(await dl.path());
  assert.equal(got.length, seeded.binary.length);
  assert.equal(sha(got), sha(seeded.binary), 'byte-exact');
  const req = page.requests.find((r) => r.url().endsWith(`/v1/files/${seeded.bin.id}/content`));
  assert.equal((await req.allHeaders()).authorization, `Bearer ${srv.keys['org-web']}`);
  assert.deepEqual(page.problems, []);
  await page.close();
});

/** The access-log line of argotd for request id rid (waits for it: it is written at the end). */
async function accessLine(rid) {
  for (let i = 0; i < 100; i++) {
    const line = srv.logs().split('\n').find((l) => l.includes(`id=${rid} `) && l.includes('msg=request'));
    if (line) return line;
    await sleep(50);
  }
  throw new Error(`no access line for ${rid} in\n${srv.logs().slice(-3000)}`);
}

test('the .jsonl preview reads at most 64 KiB (Range asked, the body cut short) and shows the first lines as text', async () => {
  const page = await openConsole(b, srv);
  await signIn(page, srv.keys['org-web']);
  const isContent = (r) => r.url().endsWith(`/v1/files/${seeded.big.id}/content`);
  const respP = page.waitForResponse(isContent);
  const failedP = page.waitForEvent('requestfailed', { predicate: isContent }).catch(() => null);
  await page.click(`#files-body tr[data-id="${seeded.big.id}"] button:has-text("Preview")`);
  const resp = await respP;
  await page.waitForFunction(() => document.querySelectorAll('#preview-lines li').length > 0);
  assert.equal((await resp.request().allHeaders()).range, 'bytes=0-65535');
  const lines = await page.$$eval('#preview-lines li', (l) => l.map((x) => x.textContent));
  assert.equal(lines.length, 50);
  assert.deepEqual(lines, seeded.bigText.split('\n').slice(0, 50));
  const status = await page.textContent('#preview-status');
  const mib = Math.round(seeded.big.bytes / 1048576);
  assert.match(status, new RegExp(`^50 lines from the start of ${mib} MiB; read 64 KiB \\(HTTP (200|206)\\)\\.$`), status);
  if (resp.status() === 200) {
    // The whole file was offered: the console cancelled the body (Chromium reports the request
    // aborted) and the server saw the client go before it had sent it all.
    const failed = await failedP;
    assert.equal(failed?.failure()?.errorText, 'net::ERR_ABORTED', 'the request was cancelled by the page');
    const line = await accessLine(resp.headers()['x-request-id']);
    assert.match(line, / aborted=1$/, `argotd did not send the whole file: ${line}`);
  }
  await page.click('#preview-close');
  assert.equal(await page.isVisible('#preview-dialog'), false);

  // A small file: every line, invalid JSON marked, HTML shown as text.
  await page.click(`#files-body tr[data-id="${seeded.small.id}"] button:has-text("Preview")`);
  await page.waitForFunction(() => document.querySelector('#preview-status').textContent.startsWith('3 lines'));
  assert.deepEqual(await page.$$eval('#preview-lines li', (l) => l.map((x) => [x.textContent, x.className])), [
    ['{"a":1}', ''],
    ['{"b":"<i>two</i>"}', ''],
    ['not json', 'bad'],
  ]);
  assert.equal(await page.locator('#preview-lines i').count(), 0);
  await page.keyboard.press('Escape');
  assert.equal(await page.isVisible('#preview-dialog'), false);
  assert.equal(await page.locator(`#files-body tr[data-id="${seeded.bin.id}"] button:has-text("Preview")`).count(), 0, 'only .jsonl files have a preview');
  assert.deepEqual(page.problems, []);
  await page.close();
});

test('delete asks first; confirmed, the file is gone and the usage bar moves', async () => {
  const page = await openConsole(b, srv);
  await signIn(page, srv.keys['org-web']);
  const u0 = await usage();
  const used0 = Number(await page.getAttribute('#usage-text', 'data-used'));
  assert.equal(used0, u0.used_bytes);
  assert.equal(await page.evaluate(() => document.querySelector('#usage-meter').value), u0.used_bytes);
  const row = `#files-body tr[data-id="${seeded.bin.id}"]`;
  await page.click(`${row} button:has-text("Delete")`);
  assert.equal(await page.isVisible('#confirm-dialog'), true);
  assert.equal(await page.textContent('#confirm-id'), seeded.bin.id);
  await page.click('#confirm-cancel');
  assert.equal(await page.isVisible('#confirm-dialog'), false);
  expectJson(await api.get(`/v1/files/${seeded.bin.id}`), 200, 'still there after Cancel');
  await page.click(`${row} button:has-text("Delete")`);
  await page.click('#confirm-delete');
  await page.waitForSelector(row, { state: 'detached' });
  expectError(await api.get(`/v1/files/${seeded.bin.id}`), 404);
  await page.waitForFunction((n) => Number(document.querySelector('#usage-text').dataset.used) === n, u0.used_bytes - seeded.binary.length);
  assert.equal(await page.evaluate(() => document.querySelector('#usage-meter').value), u0.used_bytes - seeded.binary.length);
  assert.match(await page.textContent('#usage-text'), new RegExp(`· ${u0.file_count - 1} files$`));
  assert.deepEqual(page.problems, []);
  await page.close();
});

test('the CSP blocks an injected inline script and inline style, and reports it', async () => {
  const page = await openConsole(b, srv);
  await signIn(page, srv.keys['org-web']);
  const result = await page.evaluate(async () => {
    const seen = [];
    document.addEventListener('securitypolicyviolation', (e) => seen.push({ directive: e.effectiveDirective, blocked: e.blockedURI, disposition: e.disposition }));
    const s = document.createElement('script');
    s.textContent = 'window.__inlineRan = 1';
    document.body.append(s);
    const div = document.createElement('div');
    div.setAttribute('onclick', 'window.__handlerRan = 1');
    document.body.append(div);
    div.click();
    const st = document.createElement('style');
    st.textContent = 'body { background: rgb(1, 2, 3) }';
    document.head.append(st);
    await new Promise((r) => setTimeout(r, 200)); // violation events are queued as tasks
    return { seen, inline: window.__inlineRan, handler: window.__handlerRan, bg: getComputedStyle(document.body).backgroundColor };
  });
  assert.equal(result.inline, undefined, 'the inline script did not run');
  assert.equal(result.handler, undefined, 'the inline handler did not run');
  assert.notEqual(result.bg, 'rgb(1, 2, 3)', 'the inline style did not apply');
  const directives = result.seen.map((v) => v.directive);
  assert.ok(directives.includes('script-src-elem'), JSON.stringify(result.seen));
  assert.ok(directives.includes('script-src-attr'), JSON.stringify(result.seen));
  assert.ok(directives.includes('style-src-elem'), JSON.stringify(result.seen));
  assert.ok(result.seen.every((v) => v.blocked === 'inline' && v.disposition === 'enforce'));
  assert.ok(page.problems.some((p) => p.includes('Content Security Policy')), 'Chromium logged the violation');
  await page.close();
});

test('keyboard only: sign in, reach a row action, confirm and cancel dialogs', async () => {
  const page = await openConsole(b, srv);
  await page.waitForSelector('#signin-view', { state: 'visible' });
  assert.equal(await page.evaluate(() => document.activeElement.id), 'key', 'the key field has the focus');
  await page.keyboard.type(srv.keys['org-web']);
  await page.keyboard.press('Enter');
  await page.waitForSelector('#files-body tr');
  await page.focus(`#files-body tr[data-id="${seeded.small.id}"] button:has-text("Copy id")`);
  await page.keyboard.press('Tab'); // Download
  await page.keyboard.press('Tab'); // Preview
  await page.keyboard.press('Tab'); // Delete
  assert.equal(await page.evaluate(() => document.activeElement.getAttribute('aria-label')), 'Delete small.jsonl');
  await page.keyboard.press('Enter');
  assert.equal(await page.isVisible('#confirm-dialog'), true);
  assert.equal(await page.evaluate(() => document.activeElement.id), 'confirm-cancel', 'Cancel has the focus, not Delete');
  await page.keyboard.press('Escape');
  assert.equal(await page.isVisible('#confirm-dialog'), false);
  expectJson(await api.get(`/v1/files/${seeded.small.id}`), 200);
  // Sorting from the keyboard.
  await page.focus('th[data-key="created_at"] button');
  await page.keyboard.press('Enter');
  assert.equal(await page.getAttribute('th[data-key="created_at"]', 'aria-sort'), 'ascending');
  // The upload picker is reachable with Tab (a real input inside the drop zone).
  await page.focus('#upload-expires');
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'file-input');
  assert.deepEqual(page.problems, []);
  await page.close();
});

test('every control has a label (an accessible name)', async () => {
  const page = await openConsole(b, srv);
  await signIn(page, srv.keys['org-web']);
  const unnamed = await page.evaluate(() => {
    const name = (el) =>
      (el.getAttribute('aria-label') || '').trim() ||
      (el.getAttribute('aria-labelledby') || '').split(' ').map((id) => document.getElementById(id)?.textContent || '').join('').trim() ||
      [...(el.labels || [])].map((l) => l.textContent).join('').trim() ||
      (el.tagName === 'BUTTON' ? el.textContent.trim() : '');
    return [...document.querySelectorAll('button, input, select, meter, progress')].filter((el) => !name(el)).map((el) => el.outerHTML.slice(0, 120));
  });
  assert.deepEqual(unnamed, []);
  await page.close();
});

test('at 400 px wide the rows become cards and nothing scrolls sideways', async () => {
  const page = await openConsole(b, srv);
  await page.setViewportSize({ width: 400, height: 800 });
  await signIn(page, srv.keys['org-web']);
  const m = await page.evaluate(() => ({
    scroll: document.documentElement.scrollWidth,
    thead: getComputedStyle(document.querySelector('thead')).display,
    cell: getComputedStyle(document.querySelector('#files-body td')).display,
    label: getComputedStyle(document.querySelector('#files-body td'), '::before').content,
  }));
  assert.ok(m.scroll <= 400, `page width ${m.scroll}`);
  assert.equal(m.thead, 'none');
  assert.equal(m.cell, 'grid');
  assert.equal(m.label, '"Filename"');
  assert.deepEqual(page.problems, []);
  await page.close();
});

test('at 10^5 files: one page of 100 per click, the count from the usage endpoint', async (t) => {
  const N = 100000;
  const big = new Argotd();
  let tab;
  try {
    await big.createKey('org-big');
    // Rows straight into the store (bench/seed.c), as the scale benchmark does: 10^5 uploads
    // would take minutes. The rows have no blobs; nothing here reads a file's content.
    const seed = process.env.ARGOT_BENCH_SEED || join(dirname(process.env.ARGOTD), 'argot_bench_seed');
    execFileSync(seed, [big.dataDir, 'org-big', String(N)]);
    await big.start();
    tab = await openConsole(b, big);
    await signIn(tab, big.keys['org-big']);
    assert.equal(await tab.textContent('#files-status'), `100 of ${N} files loaded`);
    for (let i = 2; i <= 4; i++) {
      await tab.click('#load-more');
      await tab.waitForFunction((n) => document.querySelectorAll('#files-body tr').length === n, i * 100);
    }
    assert.equal(await tab.textContent('#files-status'), `400 of ${N} files loaded`);
    const lists = tab.requests.filter((r) => r.url().includes('/v1/files?')).map((r) => new URL(r.url()).searchParams);
    assert.equal(lists.length, 4, 'one request per page, nothing loaded ahead');
    assert.ok(lists.every((q) => q.get('limit') === '100'));
    const rows = await tab.$$eval('#files-body tr', (r) => r.map((x) => x.dataset.id));
    // bench/seed.c ids are file-bnch + the row index: newest first is N-1, N-2, ...
    assert.deepEqual(rows.slice(0, 2), ['file-bnch00000000000099999', 'file-bnch00000000000099998']);
    assert.equal(rows[399], `file-bnch${String(N - 400).padStart(17, '0')}`);
    await tab.fill('#search', 'train-99999.');
    assert.deepEqual(await rowNames(tab), ['train-99999.jsonl']);
    const c = client(big, big.keys['org-big']);
    const ms = [];
    for (let i = 0; i < 20; i++) {
      const t0 = process.hrtime.bigint();
      assert.equal(expectJson(await c.get('/v1/argot/usage'), 200).file_count, N);
      ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    ms.sort((x, y) => x - y);
    t.diagnostic(`GET /v1/argot/usage at ${N} files: median ${ms[10].toFixed(2)} ms over 20 (not asserted)`);
    assert.deepEqual(tab.problems, []);
  } finally {
    await tab?.close();
    await stopClean(big);
  }
});
