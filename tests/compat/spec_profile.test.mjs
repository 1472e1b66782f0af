// Response profiles (issue 11, docs/compatibility.md "Response profiles"), over raw HTTP:
// how a request's profile is chosen (--response-profile, ARGOT_RESPONSE_PROFILE, the
// Argot-Response-Profile header, the User-Agent table of auto), the spec profile's shapes (no
// null optional property, "" ids on empty pages), and GET /content as one JSON string: exact
// escaping across the server's 64 KiB read boundaries, and 406 for a file that is not UTF-8.
// The service profile's own bytes are held by conformance.test.mjs.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startArgotd, argotdBinary } from './lib/argotd.mjs';
import { closeClean } from './lib/close_clean.mjs';
import { client, request, expectJson, expectError, uploadParts, FILE_KEYS, LIST_KEYS, DELETE_KEYS, msgNoSuchFile } from './lib/http.mjs';
import { SEED_USER_AGENT } from './lib/seed_sdk.mjs';

const SPEC_FILE_KEYS = ['object', 'id', 'purpose', 'filename', 'bytes', 'created_at', 'status'];
const SPEC_FILE_KEYS_EXPIRING = ['object', 'id', 'purpose', 'filename', 'bytes', 'created_at', 'expires_at', 'status'];
const HDR = 'argot-response-profile';
const PART_BODY = '--x\r\nContent-Disposition: form-data; name="data"; filename="blob"\r\n\r\nabcd\r\n--x--\r\n';

/** Every null anywhere in v, as paths. */
function nulls(v, path = '$') {
  if (v === null) return [path];
  if (typeof v !== 'object') return [];
  return Object.entries(v).flatMap(([k, x]) => nulls(x, `${path}.${k}`));
}

/** The profile a file object was written in (its keys say it). */
function profileOf(f) {
  if (Object.keys(f).join() === FILE_KEYS.join()) return 'service';
  if ([SPEC_FILE_KEYS.join(), SPEC_FILE_KEYS_EXPIRING.join()].includes(Object.keys(f).join())) return 'spec';
  return `neither: ${JSON.stringify(f)}`;
}

const withHeaders = (c, headers) => ({
  get: (path) => c.get(path, { headers }),
  del: (path) => c.del(path, { headers }),
  upload: (fields) => c.upload(fields, { headers }),
  post: (path, body) => c({ method: 'POST', path, headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) }),
});

async function oneFile(srv, key, headers = {}) {
  const c = client(srv.origin, key);
  const f = expectJson(await c.upload(uploadParts('p.txt', 'profile', 'assistants')), 200, 'upload');
  return expectJson(await c.get(`/v1/files/${f.id}`, { headers }), 200, 'retrieve');
}

describe('choosing the profile', () => {
  let srv, key, id;
  before(async () => {
    srv = await startArgotd({ orgs: ['org-p'] }); // default: --response-profile auto
    key = srv.keys['org-p'];
    id = (await oneFile(srv, key)).id;
  });
  after(async () => {
    await closeClean(srv);
  });
  const shape = async (headers) => profileOf(expectJson(await client(srv.origin, key).get(`/v1/files/${id}`, { headers }), 200, JSON.stringify(headers)));

  test('auto: the service profile for every client but the strict ones of the table', async () => {
    assert.equal(await shape({}), 'service'); // no User-Agent
    assert.equal(await shape({ 'user-agent': 'OpenAI/JS 6.49.0' }), 'service');
    assert.equal(await shape({ 'user-agent': 'curl/7.88.1' }), 'service');
    assert.equal(await shape({ 'user-agent': 'speakeasy-sdk/typescript 0.0.5 2.438.15 2.3.0 someone-else' }), 'service');
    assert.equal(await shape({ 'user-agent': SEED_USER_AGENT }), 'spec');
    assert.equal(await shape({ 'user-agent': 'speakeasy-sdk/typescript 0.0.6 2.460.0 2.3.0 argot-open-ai' }), 'spec');
  });

  test('the Argot-Response-Profile header picks for one request, over the User-Agent', async () => {
    assert.equal(await shape({ [HDR]: 'spec' }), 'spec');
    assert.equal(await shape({ [HDR]: 'service', 'user-agent': SEED_USER_AGENT }), 'service');
    assert.equal(await shape({ [HDR]: 'spec', 'user-agent': 'OpenAI/JS 6.49.0' }), 'spec');
  });

  test('/healthz ignores the header (it is no Files route)', async () => {
    const res = await request(srv.origin, { path: '/healthz', headers: { [HDR]: 'bogus' } });
    assert.equal(res.status, 200);
  });

  for (const [name, opts, want] of [
    ['--response-profile spec', { flags: ['--response-profile', 'spec'] }, { plain: 'spec', seed: 'spec', header: 'service' }],
    ['--response-profile service', { flags: ['--response-profile', 'service'] }, { plain: 'service', seed: 'service', header: 'spec' }],
    ['ARGOT_RESPONSE_PROFILE=spec', { env: { ARGOT_RESPONSE_PROFILE: 'spec' } }, { plain: 'spec', seed: 'spec', header: 'service' }],
  ]) {
    test(`${name}: every request, unless its header says otherwise`, async () => {
      const s = await startArgotd({ orgs: ['org-q'], ...opts });
      try {
        const k = s.keys['org-q'];
        const f = await oneFile(s, k);
        const get = async (headers) => profileOf(expectJson(await client(s.origin, k).get(`/v1/files/${f.id}`, { headers }), 200, name));
        assert.equal(await get({}), want.plain);
        assert.equal(await get({ 'user-agent': SEED_USER_AGENT }), want.seed);
        assert.equal(await get({ [HDR]: want.header }), want.header);
      } finally {
        await closeClean(s);
      }
    });
  }

  test('a --response-profile that is none of the three stops argotd at startup', async () => {
    const dir = mkdtempSync(join(tmpdir(), `argot-compat-${process.pid}-`));
    try {
      for (const args of [['--response-profile', 'strict'], ['--response-profile', 'SPEC']]) {
        const r = await new Promise((res) =>
          execFile(argotdBinary(), ['--listen', '127.0.0.1:0', '--data', dir, ...args], { timeout: 10000 }, (err, stdout, stderr) => res({ code: err ? err.code : 0, stderr })),
        );
        assert.equal(r.code, 2, `${args}: ${r.stderr}`);
        assert.match(r.stderr, /--response-profile: '.*' is not service, spec or auto/);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('an invalid Argot-Response-Profile is a 400 before anything is done', () => {
  let srv, key, c;
  before(async () => {
    srv = await startArgotd({ orgs: ['org-h'] });
    key = srv.keys['org-h'];
    c = client(srv.origin, key);
  });
  after(async () => {
    await closeClean(srv);
  });
  const bad = (value) => ({
    message: `Invalid value for header 'Argot-Response-Profile': '${value}'. Supported values are: 'service' and 'spec'.`,
    type: 'invalid_request_error',
    param: null,
    code: 'invalid_value',
  });

  test('every Files and Uploads route, for values that are not exactly service or spec', async () => {
    const f = expectJson(await c.upload(uploadParts('keep.txt', 'keep', 'assistants')), 200, 'upload');
    const u = expectJson(await withHeaders(c, {}).post('/v1/uploads', { filename: 'u.jsonl', purpose: 'batch', bytes: 4, mime_type: 'text/jsonl' }), 200, 'upload create');
    for (const value of ['bogus', 'SPEC', 'spec ,service', 'auto']) {
      const h = withHeaders(c, { [HDR]: value });
      const calls = {
        'POST /v1/files': () => h.upload(uploadParts('new.txt', 'new', 'assistants')),
        'GET /v1/files': () => h.get('/v1/files'),
        'GET /v1/files/{id}': () => h.get(`/v1/files/${f.id}`),
        'DELETE /v1/files/{id}': () => h.del(`/v1/files/${f.id}`),
        'GET /v1/files/{id}/content': () => h.get(`/v1/files/${f.id}/content`),
        'POST /v1/uploads': () => h.post('/v1/uploads', { filename: 'v.jsonl', purpose: 'batch', bytes: 4, mime_type: 'text/jsonl' }),
        'POST /v1/uploads/{id}/parts': () =>
          request(srv.origin, { method: 'POST', path: `/v1/uploads/${u.id}/parts`, key, headers: { [HDR]: value, 'content-type': 'multipart/form-data; boundary=x' }, body: PART_BODY }),
        'POST /v1/uploads/{id}/complete': () => h.post(`/v1/uploads/${u.id}/complete`, { part_ids: [] }),
        'POST /v1/uploads/{id}/cancel': () => h.post(`/v1/uploads/${u.id}/cancel`, {}),
      };
      for (const [what, call] of Object.entries(calls)) expectError(await call(), 400, bad(value), `${what} with ${value}`);
    }
    // Nothing was done: the file is still there, alone; the upload still pending, without parts.
    const list = expectJson(await c.get('/v1/files'), 200, 'list');
    assert.deepEqual(list.data.map((x) => x.id), [f.id]);
    const cancelled = expectJson(await withHeaders(c, {}).post(`/v1/uploads/${u.id}/cancel`, {}), 200, 'cancel');
    assert.equal(cancelled.status, 'cancelled');
  });

  test('a missing key is still a 401 first', async () => {
    const res = await request(srv.origin, { path: '/v1/files', headers: { [HDR]: 'bogus' } });
    assert.equal(res.status, 401);
  });
});

describe('the spec profile\'s JSON', () => {
  let srv, key, c;
  before(async () => {
    srv = await startArgotd({ orgs: ['org-s'], flags: ['--response-profile', 'spec'] });
    key = srv.keys['org-s'];
    c = client(srv.origin, key);
  });
  after(async () => {
    await closeClean(srv);
  });

  test('file objects: no null; expires_at only when the file expires', async () => {
    const plain = expectJson(await c.upload(uploadParts('a.txt', 'aaa', 'assistants')), 200, 'assistants');
    assert.deepEqual(Object.keys(plain), SPEC_FILE_KEYS);
    const batch = expectJson(await c.upload(uploadParts('b.jsonl', '{}\n', 'batch')), 200, 'batch');
    assert.deepEqual(Object.keys(batch), SPEC_FILE_KEYS_EXPIRING);
    assert.equal(batch.expires_at, batch.created_at + 2592000);
    const ea = [{ name: 'expires_after[anchor]', value: 'created_at' }, { name: 'expires_after[seconds]', value: '3600' }];
    const timed = expectJson(await c.upload(uploadParts('c.txt', 'c', 'vision', ea)), 200, 'expires_after');
    assert.equal(timed.expires_at, timed.created_at + 3600);
    for (const f of [plain, batch, timed]) {
      assert.equal(f.status, 'processed');
      const got = expectJson(await c.get(`/v1/files/${f.id}`), 200, 'retrieve');
      assert.deepEqual(got, f);
      assert.deepEqual(Object.keys(got), Object.keys(f));
    }
    const list = expectJson(await c.get('/v1/files'), 200, 'list');
    assert.deepEqual(Object.keys(list), LIST_KEYS);
    assert.deepEqual(nulls(list), []);
    assert.deepEqual(list.data.map((f) => f.id), [timed.id, batch.id, plain.id]);
    assert.equal(list.first_id, timed.id);
    assert.equal(list.last_id, plain.id);
    const del = expectJson(await c.del(`/v1/files/${timed.id}`), 200, 'delete');
    assert.deepEqual(Object.keys(del), DELETE_KEYS);
    assert.deepEqual(del, { object: 'file', deleted: true, id: timed.id });
  });

  test('empty pages have "" first_id and last_id (the spec requires strings)', async () => {
    const none = expectJson(await c.get('/v1/files?purpose=fine-tune'), 200, 'empty filter');
    assert.deepEqual(none, { object: 'list', data: [], has_more: false, first_id: '', last_id: '' });
    const all = expectJson(await c.get('/v1/files'), 200, 'list');
    const after = expectJson(await c.get(`/v1/files?after=${all.last_id}`), 200, 'after the last');
    assert.deepEqual(after, { object: 'list', data: [], has_more: false, first_id: '', last_id: '' });
    // The same pages in the service profile keep the real service's nulls.
    const svc = expectJson(await c.get('/v1/files?purpose=fine-tune', { headers: { [HDR]: 'service' } }), 200, 'service');
    assert.deepEqual(svc, { object: 'list', data: [], has_more: false, first_id: null, last_id: null });
  });

  test('Upload objects: no null, no "file" until completed, then a spec file object', async () => {
    const h = withHeaders(c, {});
    const text = '{"a":1}\n';
    const u = expectJson(await h.post('/v1/uploads', { filename: 'up.jsonl', purpose: 'fine-tune', bytes: text.length, mime_type: 'text/jsonl' }), 200, 'create');
    assert.deepEqual(nulls(u), []);
    assert.equal('file' in u, false);
    const mp = '--b\r\nContent-Disposition: form-data; name="data"; filename="blob"\r\n\r\n' + text + '\r\n--b--\r\n';
    const p = expectJson(await request(srv.origin, { method: 'POST', path: `/v1/uploads/${u.id}/parts`, key, headers: { 'content-type': 'multipart/form-data; boundary=b' }, body: mp }), 200, 'part');
    assert.deepEqual(nulls(p), []);
    const done = expectJson(await h.post(`/v1/uploads/${u.id}/complete`, { part_ids: [p.id] }), 200, 'complete');
    assert.deepEqual(nulls(done), []);
    assert.deepEqual(Object.keys(done.file), SPEC_FILE_KEYS);
    const v = expectJson(await h.post('/v1/uploads', { filename: 'v.jsonl', purpose: 'batch', bytes: 1, mime_type: 'text/jsonl' }), 200, 'create');
    const cancelled = expectJson(await h.post(`/v1/uploads/${v.id}/cancel`, {}), 200, 'cancel');
    assert.deepEqual(nulls(cancelled), []);
    assert.equal('file' in cancelled, false);
    expectJson(await c.del(`/v1/files/${done.file.id}`), 200, 'delete');
  });

  test('errors: the same envelope and bytes in both profiles', async () => {
    for (const path of ['/v1/files/file-nope', '/v1/files/file-nope/content', '/v1/files?limit=0', '/v1/uploads/upload_nope/cancel']) {
      const method = path.endsWith('cancel') ? 'POST' : 'GET';
      const spec = await request(srv.origin, { method, path, key });
      const svc = await request(srv.origin, { method, path, key, headers: { [HDR]: 'service' } });
      assert.ok(spec.status >= 400, `${path}: ${spec.status}`);
      assert.equal(spec.status, svc.status, path);
      assert.equal(spec.headers['content-type'], 'application/json', path);
      assert.equal(spec.text, svc.text, path);
    }
    expectError(await c.get('/v1/files/file-nope'), 404, { message: msgNoSuchFile('file-nope'), param: 'id' }, 'spec 404');
  });
});

describe('GET /v1/files/{id}/content in the spec profile', () => {
  let srv, key, c;
  before(async () => {
    srv = await startArgotd({ orgs: ['org-c'], flags: ['--response-profile', 'spec'] });
    key = srv.keys['org-c'];
    c = client(srv.origin, key);
  });
  after(async () => {
    await closeClean(srv);
  });
  const put = async (name, data) => expectJson(await c.upload(uploadParts(name, Buffer.from(data), 'assistants')), 200, `upload ${name}`);

  // The escaping is JSON.stringify's exactly: \" \\ \b \f \n \r \t, \u00xx for other C0
  // controls, everything else (DEL, U+2028, non-BMP) as it is.
  const expectString = async (f, text, where) => {
    const res = await c.get(`/v1/files/${f.id}/content`);
    assert.equal(res.status, 200, `${where}: ${res.text.slice(0, 300)}`);
    assert.equal(res.headers['content-type'], 'application/json', where);
    assert.equal(res.headers['content-length'], String(res.body.length), where);
    assert.equal(res.headers['content-disposition'], undefined, where);
    assert.equal(res.text, JSON.stringify(text), where);
    assert.equal(JSON.parse(res.text), text, where);
  };

  test('text with escapes, controls and multi-byte characters', async () => {
    let all = '';
    for (let i = 0; i < 0x80; i++) all += String.fromCharCode(i);
    const text = all + 'é€中😀\u2028\u2029\ufffd\u{10ffff}';
    await expectString(await put('all.txt', text), text, 'every ASCII byte + multi-byte');
  });

  test('an empty file is ""', async () => {
    const res = await c.get(`/v1/files/${(await put('empty.txt', '')).id}/content`);
    assert.equal(res.status, 200);
    assert.equal(res.text, '""');
    assert.equal(res.headers['content-length'], '2');
  });

  test('2 MiB whose sequences and escapes straddle every 64 KiB read boundary', async () => {
    // 1 + 2 + 3 + 4 + 1 (escaped) bytes: period 11, prime to 65536, so each boundary of the
    // server's reads falls at another point of the pattern.
    const unit = 'a' + 'é' + '€' + '😀' + '\n';
    const text = unit.repeat(Math.ceil((2 << 20) / Buffer.byteLength(unit)));
    await expectString(await put('big.txt', text), text, '2 MiB');
  });

  const invalid = [
    ['byte 0xff at the start', Buffer.from([0xff, 0x61]), 0],
    ['a lone continuation byte past the first reads', Buffer.concat([Buffer.alloc(200000, 0x61), Buffer.from([0x80])]), 200000],
    ['a sequence cut at the end', Buffer.concat([Buffer.from('ok '), Buffer.from('€').subarray(0, 2)]), 3],
    ['a surrogate (CESU-8)', Buffer.from([0x61, 0xed, 0xa0, 0x80]), 1],
    ['an overlong /', Buffer.from([0x2f, 0xc0, 0xaf]), 1],
    ['Latin-1 text', Buffer.from('caf\xe9 au lait', 'latin1'), 3],
    ['a sequence cut at a 64 KiB boundary, then ASCII', Buffer.concat([Buffer.alloc(65535, 0x62), Buffer.from([0xe2, 0x82]), Buffer.from('x')]), 65535],
  ];
  for (const [what, data, at] of invalid) {
    test(`not UTF-8 (${what}): 406 that says how to get the bytes, before any byte of them`, async () => {
      const f = await put('bin.dat', data);
      const res = await c.get(`/v1/files/${f.id}/content`);
      expectError(
        res,
        406,
        {
          type: 'invalid_request_error',
          param: null,
          code: 'file_not_utf8',
          message: `File ${f.id} is not valid UTF-8 (the first invalid sequence starts at byte ${at}), so it cannot be sent as a JSON string. Download it with a raw HTTP client, or send the header Argot-Response-Profile: service, to get its bytes as they are.`,
        },
        what,
      );
      const raw = await c.get(`/v1/files/${f.id}/content`, { headers: { [HDR]: 'service' } });
      assert.equal(raw.status, 200);
      assert.equal(raw.headers['content-type'], 'application/octet-stream');
      assert.ok(raw.body.equals(data), `${what}: the service profile returns the bytes as they are`);
    });
  }

  test('a missing file is the same 404 as in the service profile', async () => {
    expectError(await c.get('/v1/files/file-gone/content'), 404, { message: msgNoSuchFile('file-gone'), param: 'id' }, '404');
  });
});
