// The official `openai` npm client, unmodified, drives every Files method against argotd.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createReadStream, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { openai, OpenAI, toFile } from './lib/openai.mjs';
import { startArgotd } from './lib/argotd.mjs';
import {
  assertFileObject,
  FILE_ID_RE,
  REQUEST_ID_RE,
  DELETE_KEYS,
  MSG_MISSING_KEY,
  msgWrongKey,
  msgNoSuchFile,
  msgBadPurpose,
  MSG_BATCH_JSONL,
  MSG_FT_JSONL,
  BATCH_DEFAULT_TTL,
  client as rawClient,
  multipart,
  expectJson,
  sha256,
} from './lib/http.mjs';

const { AuthenticationError, NotFoundError, BadRequestError, toStreamingFile } = openai;

let srv;
let client;
// The client as shipped; only bounded in time (a hang fails in 15 s, not 3 x 600 s) and without
// retries (a request that only works on a retry is a server bug worth seeing).
const OPTS = { timeout: 15000, maxRetries: 0 };
let tmp;
const nowSec = () => Math.floor(Date.now() / 1000);
const B58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';
const randB58 = (n) => Array.from(randomBytes(n), (b) => B58[b % 58]).join('');

before(async () => {
  srv = await startArgotd({ orgs: ['org-sdk', 'org-pages'] });
  client = new OpenAI({ apiKey: srv.keys['org-sdk'], baseURL: srv.baseURL, ...OPTS });
  tmp = mkdtempSync(join(tmpdir(), `argot-compat-${process.pid}-sdk-`));
});
after(async () => {
  await srv?.close();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

async function contentBytes(id, c = client) {
  const resp = await c.files.content(id);
  assert.equal(resp.status, 200);
  assert.equal(resp.headers.get('content-type'), 'application/octet-stream', 'content Content-Type');
  return Buffer.from(await resp.arrayBuffer());
}

/** Runs fn, expects it to throw cls; checks what the SDK exposes. */
async function expectApiError(fn, cls, { status, message, param, code, type = 'invalid_request_error' }) {
  let err;
  try {
    await fn();
  } catch (e) {
    err = e;
  }
  assert.ok(err, `expected ${cls.name}, nothing was thrown`);
  assert.ok(err instanceof cls, `expected ${cls.name}, got ${err?.constructor?.name}: ${err?.message}`);
  assert.equal(err.status, status, 'err.status');
  assert.equal(err.type, type, 'err.type');
  assert.equal(err.param, param, 'err.param');
  assert.equal(err.code, code, 'err.code');
  if (message !== undefined) {
    assert.equal(err.error?.message, message, 'err.error.message');
    assert.equal(err.message, `${status} ${message}`, 'err.message');
  }
  assert.match(String(err.requestID), REQUEST_ID_RE, 'err.requestID');
  return err;
}

describe('files.create', () => {
  test('Buffer via toFile', async () => {
    const data = Buffer.from('hello from a Buffer\n');
    const t0 = nowSec();
    const f = await client.files.create({ file: await toFile(data, 'buffer.txt'), purpose: 'assistants' });
    assertFileObject(f, { purpose: 'assistants', filename: 'buffer.txt', bytes: data.length, expires_at: null });
    assert.ok(Math.abs(f.created_at - t0) <= 5, `created_at ${f.created_at} is not now (${t0})`);
    assert.match(String(f._request_id), REQUEST_ID_RE, '_request_id on the returned object');
    assert.deepEqual(await contentBytes(f.id), data);
  });

  test('toFile on a string', async () => {
    const s = 'héllo wörld, a string ✓\n';
    const f = await client.files.create({ file: await toFile(s, 'string.txt'), purpose: 'user_data' });
    assertFileObject(f, { purpose: 'user_data', filename: 'string.txt', bytes: Buffer.byteLength(s) });
    assert.equal((await contentBytes(f.id)).toString('utf8'), s);
  });

  test('fs.createReadStream (streamed, chunked multipart)', async () => {
    const data = randomBytes(300 * 1024 + 17);
    const p = join(tmp, 'stream-source.bin');
    writeFileSync(p, data);
    const f = await client.files.create({ file: createReadStream(p), purpose: 'vision' });
    assertFileObject(f, { purpose: 'vision', filename: 'stream-source.bin', bytes: data.length });
    assert.equal(sha256(await contentBytes(f.id)), sha256(data));
  });

  test('async-iterable source via toStreamingFile', async () => {
    const pieces = [Buffer.from('{"a":1}\n'), Buffer.alloc(70000, 0x61), Buffer.from('\n{"b":2}\n')];
    async function* gen() {
      for (const p of pieces) {
        await new Promise((r) => setImmediate(r));
        yield p;
      }
    }
    const f = await client.files.create({ file: toStreamingFile(gen(), 'gen.jsonl'), purpose: 'fine-tune' });
    const all = Buffer.concat(pieces);
    assertFileObject(f, { purpose: 'fine-tune', filename: 'gen.jsonl', bytes: all.length, expires_at: null });
    assert.deepEqual(await contentBytes(f.id), all);
  });

  test('async-iterable source via toFile (buffered by the client)', async () => {
    async function* gen() {
      yield Buffer.from('line 1\n');
      yield Buffer.from('line 2\n');
    }
    const f = await client.files.create({ file: await toFile(gen(), 'iter.txt'), purpose: 'assistants' });
    assertFileObject(f, { filename: 'iter.txt', bytes: 14 });
  });

  test('every accepted purpose', async () => {
    for (const purpose of ['assistants', 'batch', 'fine-tune', 'vision', 'user_data', 'evals']) {
      const name = purpose === 'batch' || purpose === 'fine-tune' ? `p-${purpose}.jsonl` : `p-${purpose}.txt`;
      const f = await client.files.create({ file: await toFile(Buffer.from('{"x":1}\n'), name), purpose });
      assertFileObject(f, { purpose, filename: name, bytes: 8 }, `purpose ${purpose}`);
      if (purpose === 'batch') {
        assert.equal(f.expires_at, f.created_at + BATCH_DEFAULT_TTL, 'batch files expire 30 days after created_at');
      } else {
        assert.equal(f.expires_at, null, `${purpose} files do not expire by default`);
      }
    }
  });

  test('UTF-8 filename round-trips', async () => {
    const f = await client.files.create({ file: await toFile(Buffer.from('ni hao'), '你好.txt'), purpose: 'assistants' });
    assert.equal(f.filename, '你好.txt');
    assert.equal((await client.files.retrieve(f.id)).filename, '你好.txt');
  });

  test('expires_after via the client (bracket fields)', async () => {
    const f = await client.files.create({
      file: await toFile(Buffer.from('exp'), 'exp.txt'),
      purpose: 'assistants',
      expires_after: { anchor: 'created_at', seconds: 3600 },
    });
    assertFileObject(f, { bytes: 3 });
    assert.equal(f.expires_at, f.created_at + 3600);
    const again = await client.files.retrieve(f.id);
    assert.equal(again.expires_at, f.created_at + 3600);
  });

  test('expires_after overrides the batch default', async () => {
    const f = await client.files.create({
      file: await toFile(Buffer.from('{"custom_id":"a"}\n'), 'b.jsonl'),
      purpose: 'batch',
      expires_after: { anchor: 'created_at', seconds: 86400 },
    });
    assert.equal(f.expires_at, f.created_at + 86400);
  });

  test('expires_after as one JSON part (the .NET encoding), hand-built multipart', async () => {
    const raw = rawClient(srv.origin, srv.keys['org-sdk']);
    const res = await raw.upload([
      { name: 'file', filename: 'json-exp.txt', data: Buffer.from('json part') },
      { name: 'purpose', value: 'assistants', contentType: 'text/plain; charset=utf-8' },
      { name: 'expires_after', value: '{"anchor":"created_at","seconds":7200}', contentType: 'application/json' },
    ]);
    const f = expectJson(res, 200, 'JSON expires_after part');
    assertFileObject(f, { filename: 'json-exp.txt', bytes: 9 });
    assert.equal(f.expires_at, f.created_at + 7200);
    // and the SDK sees the same thing
    assert.equal((await client.files.retrieve(f.id)).expires_at, f.created_at + 7200);
  });
});

describe('retrieve, content, delete, waitForProcessing', () => {
  test('retrieve returns the same object as create', async () => {
    const f = await client.files.create({ file: await toFile(Buffer.from('abc'), 'r.txt'), purpose: 'assistants' });
    const g = await client.files.retrieve(f.id);
    assertFileObject(g);
    assert.deepEqual({ ...g }, { ...f });
  });

  test('content returns the exact bytes (binary, incl. NUL and high bytes)', async () => {
    const data = Buffer.concat([Buffer.from([0, 1, 2, 0xff, 0xfe, 0x0d, 0x0a, 0x2d, 0x2d]), randomBytes(4096)]);
    const f = await client.files.create({ file: await toFile(data, 'bin.dat'), purpose: 'assistants' });
    const resp = await client.files.content(f.id);
    assert.equal(resp.headers.get('content-length'), String(data.length));
    assert.match(String(resp.headers.get('x-request-id')), REQUEST_ID_RE);
    assert.deepEqual(Buffer.from(await resp.arrayBuffer()), data);
  });

  test('empty file (0 bytes)', async () => {
    const f = await client.files.create({ file: await toFile(Buffer.alloc(0), 'empty.txt'), purpose: 'assistants' });
    assertFileObject(f, { bytes: 0 });
    assert.equal((await contentBytes(f.id)).length, 0);
  });

  test('delete returns {object,deleted,id} and the file is gone', async () => {
    const f = await client.files.create({ file: await toFile(Buffer.from('bye'), 'd.txt'), purpose: 'assistants' });
    const d = await client.files.delete(f.id);
    assert.deepEqual(Object.keys(d), DELETE_KEYS);
    assert.deepEqual({ ...d }, { object: 'file', deleted: true, id: f.id });
    await expectApiError(() => client.files.retrieve(f.id), NotFoundError, { status: 404, message: msgNoSuchFile(f.id), param: 'id', code: null });
    await expectApiError(() => client.files.content(f.id), NotFoundError, { status: 404, message: msgNoSuchFile(f.id), param: 'id', code: null });
    await expectApiError(() => client.files.delete(f.id), NotFoundError, { status: 404, message: msgNoSuchFile(f.id), param: 'id', code: null });
    for await (const x of client.files.list()) assert.notEqual(x.id, f.id, 'deleted file still listed');
  });

  test('waitForProcessing returns at once (status processed)', async () => {
    const f = await client.files.create({ file: await toFile(Buffer.from('w'), 'w.txt'), purpose: 'assistants' });
    const t0 = Date.now();
    const g = await client.files.waitForProcessing(f.id, { pollInterval: 100, maxWait: 5000 });
    assert.equal(g.status, 'processed');
    assert.equal(g.id, f.id);
    assert.ok(Date.now() - t0 < 2000, 'waitForProcessing polled: status was not terminal at once');
  });
});

describe('list and auto-pagination', () => {
  let pc; // client of org-pages: only the files created here
  const created = []; // in creation order
  const N = 23; // more than the usual default page sizes (10, 20)

  before(async () => {
    pc = new OpenAI({ apiKey: srv.keys['org-pages'], baseURL: srv.baseURL, ...OPTS });
    for (let i = 0; i < N; i++) {
      const purpose = i % 3 === 0 ? 'vision' : 'user_data';
      const f = await pc.files.create({ file: await toFile(Buffer.from(`file ${i}`), `page-${i}.txt`), purpose });
      created.push(f);
    }
  });

  const collect = async (params) => {
    const ids = [];
    for await (const f of pc.files.list(params)) {
      assertFileObject(f);
      ids.push(f.id);
    }
    return ids;
  };

  test('one page with the default limit holds everything (default 10000)', async () => {
    const page = await pc.files.list();
    assert.equal(page.data.length, N);
    assert.equal(page.has_more, false);
    assert.equal(page.hasNextPage(), false);
    assert.deepEqual(new Set(page.data.map((f) => f.id)), new Set(created.map((f) => f.id)));
  });

  test('desc (default) is newest first; asc is its reverse', async () => {
    const desc = (await pc.files.list()).data;
    for (let i = 1; i < desc.length; i++) assert.ok(desc[i - 1].created_at >= desc[i].created_at, 'desc not sorted by created_at');
    const asc = (await pc.files.list({ order: 'asc' })).data;
    assert.deepEqual(asc.map((f) => f.id), desc.map((f) => f.id).reverse());
  });

  test('files created within the same second list in creation order (as in recorded ListFiles)', async () => {
    const asc = (await pc.files.list({ order: 'asc' })).data.map((f) => f.id);
    assert.deepEqual(asc, created.map((f) => f.id), 'asc must be creation order even when created_at ties');
    const desc = (await pc.files.list({ order: 'desc' })).data.map((f) => f.id);
    assert.deepEqual(desc, created.map((f) => f.id).reverse(), 'desc must be reverse creation order');
  });

  for (const order of ['desc', 'asc']) {
    test(`auto-pagination with limit 3, order ${order}`, async () => {
      const whole = (await pc.files.list({ order })).data.map((f) => f.id);
      const ids = await collect({ limit: 3, order });
      assert.deepEqual(ids, whole, 'for-await over pages must yield the one-page sequence, no dups, no gaps');
      // and page by page
      let page = await pc.files.list({ limit: 3, order });
      const pages = [page.data.length];
      while (page.hasNextPage()) {
        assert.equal(page.has_more, true);
        page = await page.getNextPage();
        pages.push(page.data.length);
      }
      assert.equal(page.has_more, false, 'the last page must say has_more false');
      const want = Array.from({ length: Math.ceil(N / 3) }, (_, i) => Math.min(3, N - 3 * i));
      assert.deepEqual(pages, want);
    });
  }

  test('limit 1 walks every file', async () => {
    const ids = await collect({ limit: 1, order: 'asc' });
    assert.equal(ids.length, N);
  });

  test('purpose filter with pagination', async () => {
    const want = created.filter((f) => f.purpose === 'vision').map((f) => f.id);
    const ids = await collect({ limit: 2, purpose: 'vision', order: 'asc' });
    assert.deepEqual(new Set(ids), new Set(want));
    assert.equal(ids.length, want.length);
    const ud = await collect({ limit: 4, purpose: 'user_data' });
    assert.equal(ud.length, N - want.length);
    assert.deepEqual(await collect({ purpose: 'batch' }), []);
  });

  test('after= cursor starts after that object', async () => {
    const whole = (await pc.files.list({ order: 'asc' })).data.map((f) => f.id);
    const page = await pc.files.list({ order: 'asc', after: whole[4], limit: 3 });
    assert.deepEqual(page.data.map((f) => f.id), whole.slice(5, 8));
  });

  test('an org sees only its own files', async () => {
    const mine = new Set(created.map((f) => f.id));
    for await (const f of client.files.list({ limit: 50 })) assert.ok(!mine.has(f.id), 'org-sdk lists a file of org-pages');
    await expectApiError(() => client.files.retrieve(created[0].id), NotFoundError, {
      status: 404,
      message: msgNoSuchFile(created[0].id),
      param: 'id',
      code: null,
    });
  });
});

describe('errors as SDK exceptions', () => {
  test('AuthenticationError: no key', async () => {
    const c = new OpenAI({ apiKey: 'unused', baseURL: srv.baseURL, defaultHeaders: { Authorization: null }, ...OPTS });
    const err = await expectApiError(() => c.files.list(), AuthenticationError, { status: 401, message: MSG_MISSING_KEY, param: null, code: null });
    assert.equal(err.headers.get('content-type'), 'application/json');
  });

  test('AuthenticationError: wrong key (masked in the message)', async () => {
    const wrong = 'sk-argot-' + randB58(40);
    const c = new OpenAI({ apiKey: wrong, baseURL: srv.baseURL, ...OPTS });
    await expectApiError(() => c.files.list(), AuthenticationError, { status: 401, message: msgWrongKey(wrong), param: null, code: 'invalid_api_key' });
    await expectApiError(() => c.files.retrieve('file-' + randB58(22)), AuthenticationError, { status: 401, message: msgWrongKey(wrong), param: null, code: 'invalid_api_key' });
  });

  test('AuthenticationError on an upload with a wrong key (the 401 must reach the client, 5 tries)', async () => {
    // The client sends the small body right after the headers: a server that answers and closes
    // without reading it resets the connection, and the client sees APIConnectionError instead.
    const wrong = 'sk-argot-' + randB58(40);
    const c = new OpenAI({ apiKey: wrong, baseURL: srv.baseURL, ...OPTS });
    for (let i = 0; i < 5; i++) await expectApiError(() => c.files.create({ file: new File(['x'], 'x.txt'), purpose: 'assistants' }), AuthenticationError, {
      status: 401,
      message: msgWrongKey(wrong),
      param: null,
      code: 'invalid_api_key',
    });
  });

  test('NotFoundError on retrieve/content/delete of an unknown id', async () => {
    const id = 'file-' + randB58(22);
    for (const fn of [() => client.files.retrieve(id), () => client.files.content(id), () => client.files.delete(id)]) {
      await expectApiError(fn, NotFoundError, { status: 404, message: msgNoSuchFile(id), param: 'id', code: null });
    }
    await expectApiError(() => client.files.retrieve('fake_id'), NotFoundError, { status: 404, message: msgNoSuchFile('fake_id'), param: 'id', code: null });
  });

  test('BadRequestError: bad purpose (exact real text)', async () => {
    await expectApiError(
      () => client.files.create({ file: new File(['x'], 'x.txt'), purpose: 'world_domination' }),
      BadRequestError,
      { status: 400, message: msgBadPurpose('world_domination'), param: 'purpose', code: null },
    );
  });

  test('BadRequestError: system purposes cannot be uploaded', async () => {
    for (const p of ['assistants_output', 'batch_output', 'fine-tune-results']) {
      await expectApiError(() => client.files.create({ file: new File(['{}\n'], 'x.jsonl'), purpose: p }), BadRequestError, {
        status: 400,
        message: msgBadPurpose(p),
        param: 'purpose',
        code: null,
      });
    }
  });

  test('BadRequestError: batch and fine-tune files must be .jsonl', async () => {
    await expectApiError(() => client.files.create({ file: new File(['{}\n'], 'requests.txt'), purpose: 'batch' }), BadRequestError, {
      status: 400,
      message: MSG_BATCH_JSONL,
      param: null,
      code: null,
    });
    await expectApiError(() => client.files.create({ file: new File(['{}\n'], 'train.csv'), purpose: 'fine-tune' }), BadRequestError, {
      status: 400,
      message: MSG_FT_JSONL,
      param: null,
      code: null,
    });
    // and the same files named .jsonl are fine
    const ok1 = await client.files.create({ file: new File(['{}\n'], 'requests.jsonl'), purpose: 'batch' });
    const ok2 = await client.files.create({ file: new File(['{}\n'], 'train.jsonl'), purpose: 'fine-tune' });
    assertFileObject(ok1, { purpose: 'batch' });
    assertFileObject(ok2, { purpose: 'fine-tune' });
  });

  test('nothing is stored by a refused upload', async () => {
    const before_ = (await client.files.list()).data.length;
    await assert.rejects(client.files.create({ file: new File(['x'], 'x.txt'), purpose: 'nope' }), BadRequestError);
    await assert.rejects(client.files.create({ file: new File(['x'], 'x.txt'), purpose: 'batch' }), BadRequestError);
    assert.equal((await client.files.list()).data.length, before_);
  });

  test('ids are file- + 22 base58 and unique', async () => {
    const ids = new Set();
    for await (const f of client.files.list({ limit: 5 })) {
      assert.match(f.id, FILE_ID_RE);
      assert.ok(!ids.has(f.id), `duplicate id ${f.id} in pagination`);
      ids.add(f.id);
    }
    assert.ok(ids.size >= 10);
  });
});
