// Uploads from the console in headless Chromium against a real argotd started with small
// limits: one request with its progress, the Uploads API above --max-file-bytes (parallel parts,
// a failed part retried), cancel, several files at once by drag and drop, and the server's
// messages shown as they are (.jsonl rule, quota, the Uploads API's size limit).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { stopClean } from './lib/server.mjs';
import { startArgotd, sleep } from '../compat/lib/argotd.mjs';
import { client, expectJson, msgQuota, MSG_FT_JSONL, MSG_BATCH_JSONL } from '../compat/lib/http.mjs';
import { launch, openConsole, signIn, pickFiles, uploadItem, uploadEnd, throttleUploads, rowNames } from './lib/browser.mjs';

const KiB = 1024;
const MAX_FILE = 256 * KiB; // one request up to this
const MAX_PART = 128 * KiB;
const MAX_UPLOAD = 3 * 1024 * KiB;
const QUOTA = 4 * 1024 * KiB; // "4 MB" in the quota message
const sha = (b) => createHash('sha256').update(b).digest('hex');

let srv;
let api;
let b;
let page;

before(async () => {
  srv = await startArgotd({
    orgs: ['org-up'],
    flags: ['--max-file-bytes', String(MAX_FILE), '--max-part-bytes', String(MAX_PART), '--max-upload-bytes', String(MAX_UPLOAD), '--max-org-bytes', String(QUOTA)],
  });
  api = client(srv, srv.keys['org-up']);
  b = await launch();
  page = await openConsole(b, srv);
  await signIn(page, srv.keys['org-up']);
});
after(async () => {
  await b?.close();
  await stopClean(srv);
});

const usage = async () => expectJson(await api.get('/v1/argot/usage'), 200);
const content = async (id) => (await api.get(`/v1/files/${id}/content`)).body;
const fileOf = async (id) => expectJson(await api.get(`/v1/files/${id}`), 200);
const idOf = (text) => text.match(/Uploaded as (file-\S+?)(,|$| )/)[1];
// Failed uploads log "Failed to load resource" in the console; nothing else may show up there.
const realProblems = () => page.problems.filter((p) => !/Failed to load resource|net::ERR_ABORTED|ERR_CONNECTION_RESET/.test(p));
// An intercepted part request carries its bytes: find which slice of data it is.
const partIndex = (body, data) => {
  for (let i = 0; i * MAX_PART < data.length; i++) if (body.includes(data.subarray(i * MAX_PART, i * MAX_PART + 64))) return i;
  return -1;
};

/** Records every value the <progress> of an upload takes (the attribute changes with it). */
async function watchProgress() {
  await page.evaluate(() => {
    window.__progress = {};
    new MutationObserver((ms) => {
      for (const m of ms) {
        const p = m.target;
        if (p.tagName !== 'PROGRESS') continue;
        const name = p.closest('li').querySelector('.name').textContent;
        (window.__progress[name] ||= []).push(p.value);
      }
    }).observe(document.querySelector('#upload-list'), { subtree: true, attributes: true, attributeFilter: ['value'] });
  });
}

async function deleteAll() {
  const list = expectJson(await api.get('/v1/files?limit=10000'), 200);
  for (const f of list.data) expectJson(await api.del(`/v1/files/${f.id}`), 200);
  await page.click('#refresh');
  await page.waitForFunction(() => document.querySelector('#files-status').textContent === 'No files yet.');
}

test('a small file goes in one request; its progress bar moves, then the table and the usage bar', async () => {
  await watchProgress();
  const data = randomBytes(200 * KiB);
  const used0 = (await usage()).used_bytes;
  const start = page.requests.length;
  await throttleUploads(page, 100 * KiB); // ~2 s, so the progress events can be seen
  await pickFiles(page, [{ name: 'small.bin', buffer: data }], { purpose: 'assistants', expires: '3600' });
  const end = await uploadEnd(page, 'small.bin');
  await throttleUploads(page, -1);
  assert.equal(end.state, 'done', end.text);
  const f = await fileOf(idOf(end.text));
  assert.equal(f.filename, 'small.bin');
  assert.equal(f.purpose, 'assistants');
  assert.equal(f.bytes, data.length);
  assert.equal(f.expires_at, f.created_at + 3600, 'expires_after was sent');
  assert.equal(sha(await content(f.id)), sha(data), 'byte-exact');
  const values = (await page.evaluate(() => window.__progress['small.bin'])) || [];
  const between = [...new Set(values.filter((v) => v > 0 && v < data.length))];
  assert.ok(between.length >= 2, `progress values seen: ${values}`);
  assert.deepEqual(values, [...values].sort((x, y) => x - y), 'progress never goes back');
  assert.equal(values[values.length - 1], data.length);
  const posts = page.requests.slice(start).filter((r) => r.method() === 'POST').map((r) => new URL(r.url()).pathname);
  assert.deepEqual(posts, ['/v1/files'], 'one request, no Uploads API');
  assert.equal((await rowNames(page))[0], 'small.bin', 'the new file heads the table');
  await page.waitForFunction((n) => Number(document.querySelector('#usage-text').dataset.used) === n, used0 + data.length);
  assert.deepEqual(realProblems(), []);
});

test('a file over --max-file-bytes goes through the Uploads API in parallel parts, in order', async () => {
  const data = randomBytes(700 * KiB + 5); // 6 parts of 128 KiB, the last one short
  const used0 = (await usage()).used_bytes;
  const start = page.requests.length;
  let inFlight = 0;
  let maxInFlight = 0;
  const isPart = (r) => /\/v1\/uploads\/[^/]+\/parts$/.test(r.url());
  const onReq = (r) => isPart(r) && (maxInFlight = Math.max(maxInFlight, ++inFlight));
  const onDone = (r) => isPart(r) && inFlight--;
  page.on('request', onReq);
  page.on('requestfinished', onDone);
  page.on('requestfailed', onDone);
  await throttleUploads(page, 512 * KiB);
  await pickFiles(page, [{ name: 'parts.jsonl', buffer: data, mimeType: 'application/jsonl' }], { purpose: 'assistants' });
  const end = await uploadEnd(page, 'parts.jsonl');
  await throttleUploads(page, -1);
  page.off('request', onReq);
  page.off('requestfinished', onDone);
  page.off('requestfailed', onDone);
  assert.equal(end.state, 'done', end.text);
  assert.match(end.text, /through the Uploads API, 6 parts$/);
  const reqs = page.requests.slice(start).filter((r) => r.method() === 'POST');
  const create = reqs.filter((r) => r.url().endsWith('/v1/uploads'));
  assert.equal(create.length, 1);
  assert.deepEqual(JSON.parse(create[0].postData()), { filename: 'parts.jsonl', purpose: 'assistants', bytes: data.length, mime_type: 'application/jsonl' });
  assert.equal(reqs.filter((r) => r.url().endsWith('/v1/files')).length, 0, 'no single request');
  const parts = reqs.filter(isPart);
  assert.equal(parts.length, 6);
  const ids = [];
  for (const p of parts) ids.push((await (await p.response()).json()).id);
  const complete = reqs.find((r) => r.url().endsWith('/complete'));
  const listed = JSON.parse(complete.postData()).part_ids;
  assert.equal(listed.length, 6);
  assert.deepEqual([...listed].sort(), [...ids].sort(), 'every part once');
  assert.ok(maxInFlight >= 2, `parts in flight at once: ${maxInFlight}`);
  const f = await fileOf(idOf(end.text));
  assert.equal(f.bytes, data.length);
  assert.equal(sha(await content(f.id)), sha(data), 'byte-exact, so the part ids were listed in order');
  await page.waitForFunction((n) => Number(document.querySelector('#usage-text').dataset.used) === n, used0 + data.length);
  assert.deepEqual(realProblems(), []);
});

test('a part whose connection fails is sent again, and the file is still exact', async () => {
  const data = randomBytes(500 * KiB);
  let calls = 0;
  let failedIndex = -1;
  await page.route('**/v1/uploads/*/parts', async (route) => {
    if (calls++ === 1) {
      failedIndex = partIndex(route.request().postDataBuffer(), data);
      return route.abort('connectionreset');
    }
    return route.continue();
  });
  await pickFiles(page, [{ name: 'retried.bin', buffer: data }], { purpose: 'user_data' });
  const end = await uploadEnd(page, 'retried.bin');
  await page.unroute('**/v1/uploads/*/parts');
  assert.equal(end.state, 'done', end.text);
  assert.match(end.text, /4 parts, 1 part retried$/);
  assert.equal(calls, 5, 'four parts, one of them twice');
  assert.ok(failedIndex >= 0);
  const f = await fileOf(idOf(end.text));
  assert.equal(sha(await content(f.id)), sha(data), 'byte-exact');
  assert.equal((await usage()).reserved_bytes, 0);
});

test('cancel stops a single upload and an Uploads API upload in flight; /cancel releases the parts', async () => {
  const u0 = await usage();
  const ids0 = expectJson(await api.get('/v1/files?limit=10000'), 200).data.map((f) => f.id);
  const start = page.requests.length;
  await throttleUploads(page, 128 * KiB); // shared by the requests in flight
  const created = page.waitForResponse((r) => r.url().endsWith('/v1/uploads') && r.request().method() === 'POST');
  await pickFiles(page, [
    { name: 'slow-one.bin', buffer: randomBytes(MAX_FILE) },
    { name: 'slow-parts.bin', buffer: randomBytes(12 * MAX_PART) },
  ]);
  const upload = await (await created).json();
  // Both run at once; wait until the server holds at least one committed part.
  const t0 = Date.now();
  let u;
  for (;;) {
    u = await usage();
    if (u.used_bytes > u0.used_bytes) break;
    await sleep(50);
  }
  const tPart = Date.now() - t0;
  for (const name of ['slow-one.bin', 'slow-parts.bin']) assert.equal(await uploadItem(page, name).getAttribute('data-state'), 'uploading', name);
  assert.ok((await page.evaluate(() => [...document.querySelectorAll('#upload-list progress')].slice(-2).map((p) => p.value))).every((v) => v > 0));
  const cancelResp = page.waitForResponse((r) => r.url().endsWith(`/v1/uploads/${upload.id}/cancel`));
  await uploadItem(page, 'slow-one.bin').getByRole('button', { name: 'Cancel the upload of slow-one.bin' }).click();
  await uploadItem(page, 'slow-parts.bin').getByRole('button', { name: 'Cancel the upload of slow-parts.bin' }).click();
  assert.equal((await uploadEnd(page, 'slow-one.bin')).state, 'cancelled');
  assert.equal((await uploadEnd(page, 'slow-parts.bin')).state, 'cancelled');
  assert.equal((await cancelResp).status(), 200);
  await throttleUploads(page, -1);
  console.log(`first part committed after ${tPart} ms; cancelled with ${u.used_bytes - u0.used_bytes} bytes of parts stored`);
  const single = page.requests.slice(start).find((r) => r.url().endsWith('/v1/files') && r.method() === 'POST');
  assert.equal(single.failure()?.errorText, 'net::ERR_ABORTED', 'the single request was aborted');
  // /cancel released the parts; argotd dropped what the aborted requests had reserved.
  for (let i = 0; i < 100; i++) {
    u = await usage();
    if (u.used_bytes === u0.used_bytes && u.reserved_bytes === 0) break;
    await sleep(100);
  }
  assert.equal(u.used_bytes, u0.used_bytes);
  assert.equal(u.reserved_bytes, 0);
  assert.deepEqual(expectJson(await api.get('/v1/files?limit=10000'), 200).data.map((f) => f.id), ids0, 'no file was made');
  await page.waitForFunction((n) => Number(document.querySelector('#usage-text').dataset.used) === n, u0.used_bytes);
  // A finished item can be dismissed.
  await uploadItem(page, 'slow-one.bin').getByRole('button', { name: 'Dismiss slow-one.bin' }).click();
  assert.equal(await uploadItem(page, 'slow-one.bin').count(), 0);
  assert.deepEqual(realProblems(), []);
});

test('several files dropped on the drop zone upload at once', async () => {
  const files = [1, 2, 3].map((i) => ({ name: `dropped-${i}.txt`, text: `file ${i}\n`.repeat(i * 1000) }));
  const dt = await page.evaluateHandle((fs) => {
    const t = new DataTransfer();
    for (const f of fs) t.items.add(new File([f.text], f.name, { type: 'text/plain' }));
    return t;
  }, files);
  await page.dispatchEvent('#dropzone', 'dragenter', { dataTransfer: dt });
  assert.equal(await page.evaluate(() => document.querySelector('#dropzone').classList.contains('over')), true);
  await page.dispatchEvent('#dropzone', 'drop', { dataTransfer: dt });
  for (const f of files) {
    const end = await uploadEnd(page, f.name);
    assert.equal(end.state, 'done', end.text);
    assert.equal((await content(idOf(end.text))).toString(), f.text);
  }
  const names = await rowNames(page);
  for (const f of files) assert.ok(names.includes(f.name), f.name);
  assert.equal(await page.evaluate(() => document.querySelector('#dropzone').classList.contains('over')), false);
});

test('the server message is shown as it is: the .jsonl rule, on one request and on the Uploads API', async () => {
  await pickFiles(page, [{ name: 'notes.txt', buffer: Buffer.from('{"a":1}\n') }], { purpose: 'fine-tune' });
  let end = await uploadEnd(page, 'notes.txt');
  assert.deepEqual(end, { state: 'failed', text: MSG_FT_JSONL });
  await pickFiles(page, [{ name: 'big.txt', buffer: randomBytes(400 * KiB) }], { purpose: 'batch' });
  end = await uploadEnd(page, 'big.txt');
  assert.deepEqual(end, { state: 'failed', text: MSG_BATCH_JSONL });
  assert.equal((await usage()).reserved_bytes, 0);
});

test('the server message is shown as it is: the Uploads API size limit', async () => {
  const n = MAX_UPLOAD + 1;
  await pickFiles(page, [{ name: 'huge.bin', buffer: Buffer.alloc(n, 7) }]);
  const end = await uploadEnd(page, 'huge.bin');
  assert.deepEqual(end, {
    state: 'failed',
    text: `Invalid 'bytes': integer above maximum value. Expected a value <= ${MAX_UPLOAD}, but got ${n} instead.`,
  });
});

test('the server message is shown as it is: the quota, on one request and on a part; the bar is nearly full', async () => {
  await deleteAll();
  // Fill the quota but 100 KiB (256 KiB files: the largest one request takes).
  const filler = QUOTA - 100 * KiB;
  for (let left = filler; left > 0; left -= MAX_FILE) {
    const n = Math.min(MAX_FILE, left);
    expectJson(await api.upload([{ name: 'purpose', value: 'user_data' }, { name: 'file', filename: `fill-${left}.bin`, data: Buffer.alloc(n, 1) }]), 200);
  }
  await page.click('#refresh');
  await page.waitForFunction((n) => Number(document.querySelector('#usage-text').dataset.used) === n, filler);
  assert.equal(await page.evaluate(() => document.querySelector('#usage-meter').value), filler);
  assert.match(await page.textContent('#usage-text'), /^3\.9 MiB of 4 MiB used \(98%\) · 16 files$/);
  await pickFiles(page, [{ name: 'no-room.bin', buffer: randomBytes(200 * KiB) }]);
  let end = await uploadEnd(page, 'no-room.bin');
  assert.deepEqual(end, { state: 'failed', text: msgQuota('4 MB') });
  const cancelled = page.waitForResponse((r) => /\/v1\/uploads\/[^/]+\/cancel$/.test(r.url()));
  await pickFiles(page, [{ name: 'no-room-parts.bin', buffer: randomBytes(700 * KiB) }]);
  end = await uploadEnd(page, 'no-room-parts.bin');
  assert.deepEqual(end, { state: 'failed', text: msgQuota('4 MB') });
  assert.equal((await cancelled).status(), 200, 'the failed upload was cancelled on the server');
  let u;
  for (let i = 0; i < 100; i++) {
    u = await usage();
    if (u.used_bytes === filler && u.reserved_bytes === 0) break;
    await sleep(100);
  }
  assert.equal(u.used_bytes, filler, 'the parts sent before the refusal were released');
  assert.equal(u.reserved_bytes, 0);
  await deleteAll();
  await page.waitForFunction(() => document.querySelector('#usage-text').dataset.used === '0');
  assert.deepEqual(realProblems(), []);
});
