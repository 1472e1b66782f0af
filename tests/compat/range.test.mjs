// Range downloads of GET /v1/files/{id}/content (issue 12): single ranges (a-b, a-, -n) get
// 206 with Content-Range, unsatisfiable ones 416 (with Content-Range: bytes */size and the
// error envelope), Accept-Ranges and an ETag always, If-Range honoured; ignored forms (lists,
// other units, malformed) get the whole file. With raw HTTP, curl and the official client.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startArgotd } from './lib/argotd.mjs';
import OpenAI, { toFile } from './lib/openai.mjs';
import { request, rawExchange, rawHead } from './lib/http.mjs';

const SIZE = 1000003;
const data = randomBytes(SIZE);
let srv;
let key;
let id;
let dir;

before(async () => {
  srv = await startArgotd({ orgs: ['org-range'] });
  key = srv.keys['org-range'];
  const c = new OpenAI({ baseURL: srv.baseURL, apiKey: key });
  id = (await c.files.create({ file: await toFile(data, 'r.bin'), purpose: 'assistants' })).id;
  dir = mkdtempSync(join(tmpdir(), 'argot-range-'));
});
after(async () => {
  rmSync(dir, { recursive: true, force: true });
  await srv?.stop();
  const san = srv?.sanitizerReport();
  await srv?.close();
  assert.equal(san, null, san);
});

const get = (headers = {}, method = 'GET') => request(srv.origin, { method, path: `/v1/files/${id}/content`, key, headers });

describe('ranges', () => {
  for (const [range, off, len] of [
    ['bytes=0-9', 0, 10],
    ['bytes=500000-', 500000, SIZE - 500000],
    ['bytes=-7', SIZE - 7, 7],
    ['bytes=-99999999', 0, SIZE],
    [`bytes=${SIZE - 1}-${SIZE + 100}`, SIZE - 1, 1],
  ]) {
    test(`${range} -> 206 with exactly those bytes`, async () => {
      const res = await get({ Range: range });
      assert.equal(res.status, 206, res.text.slice(0, 200));
      assert.equal(res.headers['content-range'], `bytes ${off}-${off + len - 1}/${SIZE}`);
      assert.equal(Number(res.headers['content-length']), len);
      assert.equal(res.headers['accept-ranges'], 'bytes');
      assert.equal(res.headers['content-type'], 'application/octet-stream');
      assert.ok(res.body.equals(data.subarray(off, off + len)), 'range bytes differ');
    });
  }
  test('a full download says Accept-Ranges: bytes and has a strong ETag', async () => {
    const res = await get();
    assert.equal(res.status, 200);
    assert.equal(res.headers['accept-ranges'], 'bytes');
    assert.equal(res.headers.etag, `"${id}"`);
    assert.ok(res.body.equals(data));
  });
  for (const range of [`bytes=${SIZE}-`, `bytes=${SIZE + 5}-${SIZE + 9}`, 'bytes=-0']) {
    test(`${range} -> 416 with Content-Range: bytes */size and the envelope`, async () => {
      const res = await get({ Range: range });
      assert.equal(res.status, 416, res.text);
      assert.equal(res.headers['content-range'], `bytes */${SIZE}`);
      assert.equal(res.headers['content-type'], 'application/json');
      assert.equal(res.json.error.code, 'range_not_satisfiable');
      assert.match(res.json.error.message, new RegExp(`has ${SIZE} bytes`));
    });
  }
  for (const range of ['bytes=0-1,5-6', 'items=0-5', 'bytes=5-2', 'bytes=abc', 'bytes=']) {
    test(`${range} is ignored: 200 and the whole file`, async () => {
      const res = await get({ Range: range });
      assert.equal(res.status, 200);
      assert.ok(res.body.equals(data));
    });
  }
  test('If-Range with the ETag honours the range; with another tag or a date, the whole file', async () => {
    const etag = (await get({}, 'HEAD')).headers.etag;
    let res = await get({ Range: 'bytes=10-19', 'If-Range': etag });
    assert.equal(res.status, 206);
    assert.ok(res.body.equals(data.subarray(10, 20)));
    for (const other of ['"file-other"', `W/${etag}`, 'Tue, 01 Dec 2026 00:00:00 GMT']) {
      res = await get({ Range: 'bytes=10-19', 'If-Range': other });
      assert.equal(res.status, 200, other);
      assert.equal(res.body.length, SIZE);
    }
  });
  test('HEAD with a Range: the 206 head, no body', async () => {
    const r = await rawExchange(srv.port, [rawHead('HEAD', `/v1/files/${id}/content`, { Authorization: `Bearer ${key}`, Range: 'bytes=0-99' })], { headOnly: true });
    assert.equal(r.responses[0].status, 206);
    assert.equal(r.responses[0].headers['content-length'], '100');
  });
  test('the spec profile (a JSON string) ignores Range', async () => {
    const res = await get({ Range: 'bytes=0-9', 'Argot-Response-Profile': 'spec' });
    assert.ok([200, 406].includes(res.status), `${res.status}`); // random bytes are not UTF-8: 406
    assert.notEqual(res.status, 206);
  });
});

describe('clients', () => {
  test('curl resumes an interrupted download with -C - and the result is byte-exact', async () => {
    const out = join(dir, 'partial.bin');
    writeFileSync(out, data.subarray(0, 123457)); // what an interrupted first try left
    const r = await new Promise((res) => execFile('curl', ['-sS', '-C', '-', '-o', out, `${srv.baseURL}/files/${id}/content`, '-H', `Authorization: Bearer ${key}`, '-w', '%{http_code}'], (e, stdout, stderr) => res({ code: e ? e.code : 0, stdout, stderr })));
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '206');
    assert.equal(createHash('sha256').update(readFileSync(out)).digest('hex'), createHash('sha256').update(data).digest('hex'));
  });
  test('the official client passes a Range header through and reads the 206', async () => {
    const c = new OpenAI({ baseURL: srv.baseURL, apiKey: key });
    const res = await c.files.content(id, { headers: { Range: 'bytes=100-199' } });
    assert.equal(res.status, 206);
    assert.ok(Buffer.from(await res.arrayBuffer()).equals(data.subarray(100, 200)));
  });
});
