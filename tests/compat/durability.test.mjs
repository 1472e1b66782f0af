// Durability: files survive restarts (clean and kill -9) byte-exact; data dir permissions;
// deletes and expiry remove blobs from disk; interrupted uploads leave nothing behind.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { join, relative } from 'node:path';
import { startArgotd, walk, sleep } from './lib/argotd.mjs';
import { client, uploadParts, expectJson, expectError, assertFileObject, msgNoSuchFile, sha256, multipart, rawExchange, rawHead, BATCH_DEFAULT_TTL } from './lib/http.mjs';

let srv;
let c;
const files = new Map(); // id -> {obj, sha, size, name}

before(async () => {
  srv = await startArgotd({ orgs: ['org-dur'], flags: ['--sweep-interval', '1'] });
  c = client(srv, srv.keys['org-dur']);
});
after(async () => {
  await srv?.close();
});

async function put(name, data, purpose = 'assistants', extra = []) {
  const res = await c.upload(uploadParts(name, data, purpose, extra));
  const obj = expectJson(res, 200, `upload ${name}`);
  assertFileObject(obj, { filename: name, bytes: data.length, purpose });
  files.set(obj.id, { obj, sha: sha256(data), size: data.length, name });
  return obj;
}

async function listAll() {
  const res = expectJson(await c.get('/v1/files?limit=10000&order=asc'), 200, 'list');
  assert.equal(res.has_more, false);
  return res.data;
}

async function assertAllIntact(where, ids = [...files.keys()]) {
  const listed = new Map((await listAll()).map((f) => [f.id, f]));
  for (const id of ids) {
    const want = files.get(id);
    assert.ok(listed.has(id), `${where}: ${want.name} (${id}) not listed`);
    assert.deepEqual(listed.get(id), want.obj, `${where}: ${want.name} listed differently`);
    const got = expectJson(await c.get(`/v1/files/${id}`), 200, `${where} retrieve`);
    assert.deepEqual(got, want.obj, `${where}: retrieve of ${want.name} differs`);
    const content = await c.get(`/v1/files/${id}/content`);
    assert.equal(content.status, 200, `${where}: content of ${want.name}: ${content.text.slice(0, 200)}`);
    assert.equal(content.body.length, want.size, `${where}: ${want.name} size`);
    assert.equal(sha256(content.body), want.sha, `${where}: ${want.name} bytes differ (SHA-256)`);
  }
}

async function assertGone(id, where) {
  for (const [m, p] of [
    ['GET', `/v1/files/${id}`],
    ['GET', `/v1/files/${id}/content`],
    ['DELETE', `/v1/files/${id}`],
  ]) {
    expectError(await c({ method: m, path: p }), 404, { message: msgNoSuchFile(id), param: 'id', code: null }, `${where} ${m} ${p}`);
  }
  assert.ok(!(await listAll()).some((f) => f.id === id), `${where}: ${id} still listed`);
}

/** sha256 -> [paths] of every regular file under DIR/blobs. */
async function blobsBySha() {
  const out = new Map();
  const entries = (await walk(srv.dataDir)).filter((e) => e.isFile && relative(srv.dataDir, e.path).startsWith('blobs'));
  for (const e of entries) {
    const h = createHash('sha256');
    for await (const chunk of createReadStream(e.path)) h.update(chunk);
    const d = h.digest('hex');
    if (!out.has(d)) out.set(d, []);
    out.get(d).push(e.path);
  }
  return out;
}

async function poll(cond, ms, what) {
  const t0 = Date.now();
  for (;;) {
    const v = await cond();
    if (v) return v;
    if (Date.now() - t0 > ms) assert.fail(`${what} (waited ${ms} ms)`);
    await sleep(100);
  }
}

test('durability across restarts, permissions, delete and expiry', async (t) => {
  // --- upload a mix
  await put('hello.txt', Buffer.from('hello, durable world\n'));
  await put('empty.txt', Buffer.alloc(0));
  await put('你好.txt', Buffer.from('unicode name'), 'user_data');
  const big = await put('random.bin', randomBytes(3 * 1024 * 1024 + 5), 'vision');
  const jsonl = Buffer.from(Array.from({ length: 2000 }, (_, i) => JSON.stringify({ custom_id: `r${i}`, method: 'POST', url: '/v1/chat/completions', body: {} })).join('\n') + '\n');
  const batch = await put('batch.jsonl', jsonl, 'batch');
  assert.equal(batch.expires_at, batch.created_at + BATCH_DEFAULT_TTL);
  const short = await put('short-lived.txt', randomBytes(4096), 'assistants', [
    { name: 'expires_after[anchor]', value: 'created_at' },
    { name: 'expires_after[seconds]', value: '3600' },
  ]);
  assert.equal(short.expires_at, short.created_at + 3600);
  const day = await put('one-day.txt', randomBytes(2048), 'assistants', [
    { name: 'expires_after', value: '{"anchor":"created_at","seconds":86400}', contentType: 'application/json' },
  ]);
  assert.equal(day.expires_at, day.created_at + 86400);
  const doomed = await put('to-delete.bin', randomBytes(70000), 'assistants');
  await assertAllIntact('before restart');

  await t.test('blobs are on disk under blobs/, one per stored file', async () => {
    const blobs = await blobsBySha();
    for (const [id, f] of files) if (f.size > 0) assert.ok(blobs.has(f.sha), `no blob with the bytes of ${f.name} (${id}) under ${srv.dataDir}/blobs`);
  });

  await t.test('data dir: directories 0700, files 0600', async () => {
    const bad = [];
    for (const e of await walk(srv.dataDir)) {
      if (e.path === srv.portFile) continue; // written for the harness by --port-file
      if (e.isDir && e.mode !== 0o700) bad.push(`${e.path} dir mode ${e.mode.toString(8)}`);
      if (e.isFile && e.mode !== 0o600) bad.push(`${e.path} file mode ${e.mode.toString(8)}`);
    }
    assert.deepEqual(bad, []);
  });

  await t.test('delete removes the blob from disk', async () => {
    const want = files.get(doomed.id).sha;
    const before_ = await blobsBySha();
    assert.ok(before_.has(want));
    const d = expectJson(await c.del(`/v1/files/${doomed.id}`), 200, 'delete');
    assert.deepEqual(d, { object: 'file', deleted: true, id: doomed.id });
    files.delete(doomed.id);
    await assertGone(doomed.id, 'after delete');
    await poll(async () => !(await blobsBySha()).has(want), 5000, `blob of ${doomed.id} still on disk after DELETE`);
  });

  await t.test('clean restart (SIGTERM): everything listed and byte-exact', async () => {
    const rec = await srv.restart();
    assert.equal(rec.killed, false, 'argotd did not exit within 10 s of SIGTERM');
    assert.equal(rec.code, 0, `argotd exited with ${rec.code}/${rec.signal} on SIGTERM\n${srv.logs()}`);
    await assertAllIntact('after restart');
    await assertGone(doomed.id, 'deleted file after restart');
  });

  await t.test('kill -9 right after a 200: the upload is durable', async () => {
    const f = await put('crash.bin', randomBytes(256 * 1024), 'assistants');
    process.kill(srv.pid, 'SIGKILL');
    await srv.stop();
    await srv.start();
    await assertAllIntact('after kill -9', [...files.keys()]);
    assert.ok((await listAll()).some((x) => x.id === f.id));
  });

  await t.test('kill -9 during an upload: nothing listed, no temporaries after restart', async (t) => {
    const mp = multipart(uploadParts('partial.bin', randomBytes(2 * 1024 * 1024), 'assistants'));
    const head = rawHead('POST', '/v1/files', {
      Authorization: `Bearer ${srv.keys['org-dur']}`,
      'Content-Type': mp.contentType,
      'Content-Length': String(mp.body.length),
    });
    const pid = srv.pid;
    const ex = rawExchange(srv.port, [head, mp.body.subarray(0, 1024 * 1024), async () => {
      await sleep(300);
      process.kill(pid, 'SIGKILL');
    }], { timeoutMs: 5000 });
    await ex;
    await srv.stop();
    const tmpBefore = (await walk(srv.dataDir)).filter((e) => e.isFile && relative(srv.dataDir, e.path).startsWith('tmp'));
    t.diagnostic(`after kill -9 mid-upload: ${tmpBefore.length} temporary file(s) under tmp/ (${tmpBefore.map((e) => e.size).join(', ')} bytes) before the restart`);
    await srv.start();
    assert.ok(!(await listAll()).some((x) => x.filename === 'partial.bin'), 'a partial upload is listed');
    await poll(async () => {
      const tmpLeft = (await walk(srv.dataDir)).filter((e) => e.isFile && relative(srv.dataDir, e.path).startsWith('tmp'));
      return tmpLeft.length === 0;
    }, 5000, 'temporaries of the interrupted upload left under tmp/');
    const shas = new Set([...files.values()].map((f) => f.sha));
    await poll(async () => [...(await blobsBySha()).keys()].every((h) => shas.has(h) || h === sha256(Buffer.alloc(0))), 5000, 'an orphan blob is left under blobs/');
  });

  await t.test('expiry: restart with --clock-offset 7200 hides and sweeps the 3600 s file', async () => {
    const shortSha = files.get(short.id).sha;
    await srv.restart({ flags: ['--sweep-interval', '1', '--clock-offset', '7200'] });
    await assertGone(short.id, 'expired file');
    files.delete(short.id);
    await assertAllIntact('others after +7200 s');
    await poll(async () => !(await blobsBySha()).has(shortSha), 10000, `blob of the expired ${short.id} never swept`);
  });

  await t.test('expiry: the 30-day batch default and the 1-day file go at +31 days', async () => {
    await srv.restart({ flags: ['--sweep-interval', '1', '--clock-offset', String(31 * 86400)] });
    for (const f of [batch, day]) {
      await assertGone(f.id, `expired ${f.filename}`);
      files.delete(f.id);
    }
    await assertAllIntact('never-expiring files after +31 days');
    const shas = new Set([...files.values()].map((f) => f.sha));
    await poll(async () => [...(await blobsBySha()).keys()].every((h) => shas.has(h) || h === sha256(Buffer.alloc(0))), 10000, 'blobs of expired files never swept');
    assert.ok(big.id && files.has(big.id));
  });
});
