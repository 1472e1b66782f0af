// The Uploads API (issue 4) driven by the official `openai` npm client: create, parts (also in
// parallel), complete (order kept, md5), cancel, the error shapes, expiry, the resulting file as an
// ordinary file, and kill -9 during parts and during completion.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { join, relative } from 'node:path';
import { openai, OpenAI, toFile } from './lib/openai.mjs';
import { startArgotd, walk, sleep, sampleMemory } from './lib/argotd.mjs';
import { assertFileObject, assertErrorBody, request } from './lib/http.mjs';

const { BadRequestError, NotFoundError } = openai;
const OPTS = { timeout: 60000, maxRetries: 0 };
const UPLOAD_KEYS = ['id', 'object', 'bytes', 'created_at', 'filename', 'purpose', 'status', 'expires_at'];
const PART_KEYS = ['id', 'object', 'created_at', 'upload_id'];
const UPLOAD_ID_RE = /^upload_[0-9a-f]{32}$/;
const PART_ID_RE = /^part_[0-9a-f]{32}$/;
const md5 = (b) => createHash('md5').update(b).digest('hex');

let srv;
let client;
before(async () => {
  srv = await startArgotd({ orgs: ['org-up', 'org-other'], flags: ['--sweep-interval', '1'] });
  client = new OpenAI({ apiKey: srv.keys['org-up'], baseURL: srv.baseURL, ...OPTS });
});
after(async () => {
  await srv?.close();
});

function assertUpload(u, expect = {}) {
  const keys = u.status === 'completed' ? [...UPLOAD_KEYS, 'file'] : UPLOAD_KEYS;
  assert.deepEqual(Object.keys(u), keys, `upload keys: ${JSON.stringify(u)}`);
  assert.match(u.id, UPLOAD_ID_RE);
  assert.equal(u.object, 'upload');
  assert.equal(parseInt(u.id.slice(7, 15), 16), u.created_at, 'the id starts with created_at in hex');
  assert.equal(u.expires_at, u.created_at + 3600);
  for (const [k, v] of Object.entries(expect)) assert.deepEqual(u[k], v, `upload.${k}`);
}

function assertPart(p, uploadId) {
  assert.deepEqual(Object.keys(p), PART_KEYS, `part keys: ${JSON.stringify(p)}`);
  assert.match(p.id, PART_ID_RE);
  assert.equal(p.object, 'upload.part');
  assert.equal(parseInt(p.id.slice(5, 13), 16), p.created_at);
  assert.equal(p.upload_id, uploadId);
}

async function create(c, bytes, extra = {}) {
  return c.uploads.create({ bytes, filename: 'data.jsonl', mime_type: 'text/jsonl', purpose: 'fine-tune', ...extra });
}
async function part(c, id, buf) {
  return c.uploads.parts.create(id, { data: await toFile(buf, 'blob') });
}

async function download(c, fileId) {
  const res = await c.files.content(fileId);
  return Buffer.from(await res.arrayBuffer());
}

async function rejects(p, cls, status, fields) {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof cls, `expected ${cls.name}, got ${e.constructor.name}: ${e.message}`);
    assert.equal(e.status, status);
    assertErrorBody({ error: e.error, detail: { message: e.error.message, code: e.error.code } }, fields);
    return e;
  }
  assert.fail('expected an error');
}

test('create, parts, complete: the objects as the real service sends them', async () => {
  const u = await create(client, 8);
  assertUpload(u, { status: 'pending', bytes: 8, filename: 'data.jsonl', purpose: 'fine-tune' });
  const p1 = await part(client, u.id, Buffer.from('{"a":1}'));
  const p2 = await part(client, u.id, Buffer.from('\n'));
  assertPart(p1, u.id);
  assertPart(p2, u.id);
  const done = await client.uploads.complete(u.id, { part_ids: [p1.id, p2.id] });
  assertUpload(done, { status: 'completed', id: u.id, created_at: u.created_at });
  assertFileObject(done.file, { bytes: 8, filename: 'data.jsonl', purpose: 'fine-tune', created_at: u.created_at, expires_at: null });
  // an ordinary file: retrieved, listed, downloaded, deleted
  assert.deepEqual(await client.files.retrieve(done.file.id), done.file);
  const listed = [];
  for await (const f of client.files.list()) listed.push(f.id);
  assert.ok(listed.includes(done.file.id));
  assert.equal((await download(client, done.file.id)).toString(), '{"a":1}\n');
  await client.files.delete(done.file.id);
  await rejects(client.files.retrieve(done.file.id), NotFoundError, 404, { message: `No such File object: ${done.file.id}` });
});

test('md5: verified when given; a wrong one is refused and the upload stays completable', async () => {
  const data = randomBytes(3000);
  const u = await create(client, 3000, { purpose: 'assistants', filename: 'x.bin', mime_type: 'application/octet-stream' });
  const a = await part(client, u.id, data.subarray(0, 1000));
  const b = await part(client, u.id, data.subarray(1000));
  await rejects(client.uploads.complete(u.id, { part_ids: [a.id, b.id], md5: md5(Buffer.from('nope')) }), BadRequestError, 400, {
    param: 'md5',
    message: /does not match/,
  });
  const done = await client.uploads.complete(u.id, { part_ids: [a.id, b.id], md5: md5(data) });
  assert.deepEqual(await download(client, done.file.id), data);
});

test('parallel parts completed in a shuffled order: the file is the parts in that order', async () => {
  const parts = Array.from({ length: 8 }, () => randomBytes(1 << 20));
  const u = await create(client, 8 << 20, { purpose: 'batch', filename: 'big.jsonl' });
  const made = await Promise.all(parts.map((p) => part(client, u.id, p)));
  const order = [5, 2, 7, 0, 3, 6, 1, 4];
  const done = await client.uploads.complete(u.id, { part_ids: order.map((i) => made[i].id) });
  assert.equal(done.file.expires_at, u.created_at + 2592000, 'batch files expire after 30 days');
  assert.ok((await download(client, done.file.id)).equals(Buffer.concat(order.map((i) => parts[i]))));
});

test('expires_after applies to the resulting file', async () => {
  const u = await create(client, 1, { expires_after: { anchor: 'created_at', seconds: 7200 } });
  const p = await part(client, u.id, Buffer.from('x'));
  const done = await client.uploads.complete(u.id, { part_ids: [p.id] });
  assert.equal(done.file.expires_at, u.created_at + 7200);
});

test('errors: validation, wrong total, unknown/foreign/repeated part, after cancel/complete, unknown upload', async () => {
  await rejects(client.uploads.create({ bytes: 1, filename: 'a.jsonl', mime_type: 'text/jsonl', purpose: 'world_domination' }), BadRequestError, 400, {
    param: 'purpose',
    message: "'world_domination' is not one of ['fine-tune', 'assistants', 'batch', 'user_data', 'vision', 'evals'] - 'purpose'",
  });
  await rejects(create(client, 1, { filename: 'a.txt' }), BadRequestError, 400, { message: 'Invalid file format for Fine-Tuning API. Must be .jsonl' });
  await rejects(create(client, 8589934593), BadRequestError, 400, { param: 'bytes', code: 'integer_above_max_value' });
  const res = await request(srv.origin, { method: 'POST', path: '/v1/uploads', key: srv.keys['org-up'], headers: { 'content-type': 'application/json' }, body: '{"filename":"a.jsonl","purpose":"fine-tune","mime_type":"text/jsonl"}' });
  assert.equal(res.status, 400);
  assertErrorBody(res.json, { message: "Missing required parameter: 'bytes'.", param: 'bytes', code: 'missing_required_parameter' });

  const u = await create(client, 4);
  const p1 = await part(client, u.id, Buffer.from('ab'));
  const p2 = await part(client, u.id, Buffer.from('c'));
  await rejects(client.uploads.complete(u.id, { part_ids: [p1.id, p2.id] }), BadRequestError, 400, { param: 'part_ids', message: /total 3 bytes/ });
  await rejects(client.uploads.complete(u.id, { part_ids: [p1.id, p1.id] }), BadRequestError, 400, { message: `Part ${p1.id} is listed more than once.` });
  await rejects(client.uploads.complete(u.id, { part_ids: ['part_0000'] }), BadRequestError, 400, { message: `Part part_0000 is not a part of Upload ${u.id}.` });
  const v = await create(client, 1);
  const foreign = await part(client, v.id, Buffer.from('z'));
  await rejects(client.uploads.complete(u.id, { part_ids: [p1.id, foreign.id] }), BadRequestError, 400, { message: `Part ${foreign.id} is not a part of Upload ${u.id}.` });
  await rejects(part(client, u.id, Buffer.from('toolong')), BadRequestError, 400, { param: 'data', message: /exceed the 4 bytes declared/ });
  const p3 = await part(client, u.id, Buffer.from('d'));
  const done = await client.uploads.complete(u.id, { part_ids: [p1.id, p2.id, p3.id] });
  assert.equal((await download(client, done.file.id)).toString(), 'abcd');
  await rejects(part(client, u.id, Buffer.from('e')), BadRequestError, 400, { message: `Upload ${u.id} is already completed.`, param: null, code: null });
  await rejects(client.uploads.complete(u.id, { part_ids: [p1.id] }), BadRequestError, 400, { message: `Upload ${u.id} is already completed.` });

  const c = await client.uploads.cancel(v.id);
  assertUpload(c, { status: 'cancelled', id: v.id });
  await rejects(part(client, v.id, Buffer.from('e')), BadRequestError, 400, { message: `Upload ${v.id} was cancelled.`, param: null, code: null });
  await rejects(client.uploads.cancel(v.id), BadRequestError, 400, { message: `Upload ${v.id} was cancelled.` });

  for (const call of [() => part(client, 'upload_nope', Buffer.from('x')), () => client.uploads.complete('upload_nope', { part_ids: [] }), () => client.uploads.cancel('upload_nope')]) {
    await rejects(call(), NotFoundError, 404, { message: 'No such Upload object: upload_nope', param: 'id', code: null });
  }
  // another organization's upload does not exist for this one
  const other = new OpenAI({ apiKey: srv.keys['org-other'], baseURL: srv.baseURL, ...OPTS });
  await rejects(other.uploads.cancel(u.id), NotFoundError, 404, { message: `No such Upload object: ${u.id}` });
});

test('a part over --max-part-bytes is 413', async () => {
  const u = await create(client, 100 << 20, { purpose: 'assistants', filename: 'big.bin', mime_type: 'application/octet-stream' });
  const e = await rejects(part(client, u.id, Buffer.alloc((64 << 20) + 1)), openai.APIError, 413, { type: 'server_error' });
  assert.match(e.error.message, /Maximum content size limit \(67108864\) exceeded/);
  await client.uploads.cancel(u.id);
});

// ---- crashes and expiry ----

const blobFiles = async () => (await walk(join(srv.dataDir, 'blobs'))).filter((e) => e.isFile);
const tmpFiles = async () => (await walk(join(srv.dataDir, 'tmp'))).filter((e) => e.isFile);
async function poll(fn, ms, what) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await fn()) return;
    await sleep(100);
  }
  assert.fail(what);
}
async function liveFileBytes() {
  let n = 0;
  let total = 0;
  for await (const f of client.files.list()) {
    n++;
    total += f.bytes;
  }
  return { n, total };
}

test('kill -9 during parts and during completion, restart, expiry: nothing lost, no part left', { timeout: 120000 }, async (t) => {
  const data = randomBytes(32 << 20);
  const chunks = Array.from({ length: 8 }, (_, i) => data.subarray(i << 22, (i + 1) << 22));

  // 1. an upload whose parts are in flight when argotd dies
  const a = await create(client, data.length, { purpose: 'assistants', filename: 'a.bin', mime_type: 'application/octet-stream' });
  const first = await Promise.all(chunks.slice(0, 4).map((c) => part(client, a.id, c)));
  const inflight = Promise.allSettled(chunks.slice(4).map((c) => part(client, a.id, c)));
  await sleep(30);
  process.kill(srv.pid, 'SIGKILL');
  const settled = await inflight;
  await srv.stop();
  await srv.start();
  client = new OpenAI({ apiKey: srv.keys['org-up'], baseURL: srv.baseURL, ...OPTS });
  assert.equal((await tmpFiles()).length, 0, 'temporaries left after the restart');
  const ids = [...first.map((p) => p.id)];
  for (let i = 0; i < 4; i++) {
    const s = settled[i];
    ids.push(s.status === 'fulfilled' ? s.value.id : (await part(client, a.id, chunks[4 + i])).id);
  }
  t.diagnostic(`parts acknowledged before the kill: ${4 + settled.filter((s) => s.status === 'fulfilled').length} of 8`);

  // 2. kill -9 during completion: either completed with the right bytes, or still completable
  const completing = client.uploads.complete(a.id, { part_ids: ids }).catch((e) => e);
  await sleep(15);
  process.kill(srv.pid, 'SIGKILL');
  const outcome = await completing;
  await srv.stop();
  await srv.start();
  client = new OpenAI({ apiKey: srv.keys['org-up'], baseURL: srv.baseURL, ...OPTS });
  let fileId;
  if (outcome instanceof Error) {
    try {
      fileId = (await client.uploads.complete(a.id, { part_ids: ids })).file.id;
      t.diagnostic('the kill hit before the commit: completed after the restart');
    } catch (e) {
      assert.match(e.message, /already completed/, 'after a crash mid-completion the upload must be completed or completable');
      const files = [];
      for await (const f of client.files.list()) if (f.filename === 'a.bin') files.push(f);
      assert.equal(files.length, 1);
      fileId = files[0].id;
      t.diagnostic('the kill hit after the commit: the upload was already completed');
    }
  } else {
    fileId = outcome.file.id;
    t.diagnostic('completion answered before the kill');
  }
  assert.ok((await download(client, fileId)).equals(data), 'the completed file is byte-exact');

  // 3. a pending upload with parts, then restart an hour later: expired, its parts reclaimed
  const b = await create(client, 3 << 20, { purpose: 'assistants', filename: 'b.bin', mime_type: 'application/octet-stream' });
  await part(client, b.id, randomBytes(1 << 20));
  await part(client, b.id, randomBytes(1 << 20));
  process.kill(srv.pid, 'SIGKILL');
  await srv.stop();
  await srv.start({ flags: ['--sweep-interval', '1', '--clock-offset', '7200'] });
  client = new OpenAI({ apiKey: srv.keys['org-up'], baseURL: srv.baseURL, ...OPTS });
  await rejects(part(client, b.id, Buffer.from('x')), BadRequestError, 400, { message: `Upload ${b.id} has expired.` });
  await rejects(client.uploads.complete(b.id, { part_ids: [] }), BadRequestError, 400, { message: `Upload ${b.id} has expired.` });
  const live = await liveFileBytes();
  await poll(async () => (await blobFiles()).length === live.n, 10000, 'part blobs left in blobs/ after expiry');
  const onDisk = (await blobFiles()).reduce((s, e) => s + e.size, 0);
  assert.equal(onDisk, live.total, 'blobs/ holds exactly the live files');
});

test('measure: completing 8 x 64 MiB parts (copy_file_range) and RSS', { timeout: 170000 }, async (t) => {
  const part64 = Buffer.alloc(64 << 20);
  const u = await create(client, 8 * part64.length, { purpose: 'assistants', filename: 'huge.bin', mime_type: 'application/octet-stream' });
  const ids = [];
  for (let i = 0; i < 8; i++) {
    part64.fill(i + 1);
    ids.push((await part(client, u.id, part64)).id);
  }
  const mem = sampleMemory(srv.pid, 10);
  const t0 = Date.now();
  const done = await client.uploads.complete(u.id, { part_ids: ids });
  const ms = Date.now() - t0;
  mem.stop();
  t.diagnostic(`complete of ${done.file.bytes} bytes: ${ms} ms; max RSS during completion ${(mem.maxRss() / 1048576).toFixed(1)} MiB`);
  assert.equal(done.file.bytes, 512 << 20);
  assert.ok(mem.maxRss() < 200 << 20, 'completion must not hold the file in memory');
  const t1 = Date.now();
  const md5done = await (async () => {
    const v = await create(client, 8 * part64.length, { purpose: 'assistants', filename: 'huge2.bin', mime_type: 'application/octet-stream' });
    const h = createHash('md5');
    const pids = [];
    for (let i = 0; i < 8; i++) {
      part64.fill(i + 1);
      h.update(part64);
      pids.push((await part(client, v.id, part64)).id);
    }
    const t2 = Date.now();
    const r = await client.uploads.complete(v.id, { part_ids: pids, md5: h.digest('hex') });
    t.diagnostic(`complete with md5 of ${r.file.bytes} bytes: ${Date.now() - t2} ms`);
    return r;
  })();
  void t1;
  await client.files.delete(done.file.id);
  await client.files.delete(md5done.file.id);
});
