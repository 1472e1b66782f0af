// A 512 MiB upload streamed from a generator (never held in memory here either) while argotd's
// RSS is sampled: it must grow < 16 MiB over its baseline. Then the download must hash the same.
// And --max-batch-bytes ("File is too large.", batch only), and --max-file-bytes: exactly the limit passes, 1 byte over is 413, with or without
// Content-Length.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { createHash } from 'node:crypto';
import { relative } from 'node:path';
import { startArgotd, sampleMemory, walk } from './lib/argotd.mjs';
import { client, request, multipart, uploadParts, expectJson, assertErrorBody, assertFileObject, byteStream, rawExchange, rawHead } from './lib/http.mjs';

const BIG = 512 * 1024 * 1024; // = the default --max-file-bytes (536870912): the largest allowed file
const RSS_BUDGET = 16 * 1024 * 1024;
const SMALL_MAX = 65536;
const MiB = (n) => (n / 1048576).toFixed(1) + ' MiB';

describe('512 MiB streamed upload', () => {
  let srv;
  before(async () => {
    srv = await startArgotd({ orgs: ['org-big'] }); // default limits
  });
  after(async () => {
    await srv?.close();
  });

  test('RSS grows < 16 MiB during the upload; the download is byte-exact', { timeout: 110000 }, async (t) => {
    const key = srv.keys['org-big'];
    const c = client(srv.origin, key);
    // warm up every code path once so the baseline includes thread stacks, DB pages, buffers
    for (let i = 0; i < 3; i++) {
      const f = expectJson(await c.upload(uploadParts('warm.bin', Buffer.alloc(256 * 1024, i), 'assistants')), 200, 'warm-up upload');
      await c.get(`/v1/files/${f.id}/content`);
      await c.get('/v1/files');
      await c.del(`/v1/files/${f.id}`);
    }
    const base = await srv.memory();

    const boundary = 'argot-big-upload-boundary';
    const head = Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nassistants\r\n` +
        `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`,
    );
    const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
    const hash = createHash('sha256');
    async function* body() {
      yield head;
      yield* byteStream(BIG, { chunk: 1 << 20, seed: 42, hash });
      yield tail;
    }
    const sampler = sampleMemory(srv.pid, 20);
    const t0 = Date.now();
    const res = await request(srv.origin, {
      method: 'POST',
      path: '/v1/files',
      key,
      headers: { 'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': String(head.length + BIG + tail.length) },
      body: body(),
      timeoutMs: 100000,
    });
    sampler.stop();
    const upMs = Date.now() - t0;
    const end = await srv.memory();
    const f = expectJson(res, 200, '512 MiB upload');
    assertFileObject(f, { bytes: BIG, filename: 'big.bin', purpose: 'assistants' });
    const want = hash.digest('hex');

    const peak = Math.max(sampler.maxRss(), end.hwm > base.hwm ? end.hwm : 0);
    const growth = peak - base.rss;
    t.diagnostic(`upload ${MiB(BIG)} in ${upMs} ms; RSS baseline ${MiB(base.rss)}, max sampled ${MiB(sampler.maxRss())} (${sampler.samples.length} samples), VmHWM ${MiB(base.hwm)} -> ${MiB(end.hwm)}; growth ${MiB(growth)}`);
    assert.ok(sampler.samples.length >= 5, 'too few RSS samples');
    assert.ok(growth < RSS_BUDGET, `argotd RSS grew ${MiB(growth)} during a ${MiB(BIG)} upload (budget ${MiB(RSS_BUDGET)})`);

    // download, hashing as it streams
    const dlSampler = sampleMemory(srv.pid, 50);
    const got = await new Promise((res_, rej) => {
      const req = http.get({ host: '127.0.0.1', port: srv.port, path: `/v1/files/${f.id}/content`, headers: { authorization: `Bearer ${key}` }, agent: false }, (r) => {
        const h = createHash('sha256');
        let n = 0;
        r.on('data', (d) => {
          h.update(d);
          n += d.length;
        });
        r.on('end', () => res_({ status: r.statusCode, headers: r.headers, n, sha: h.digest('hex') }));
        r.on('error', rej);
      });
      req.on('error', rej);
    });
    dlSampler.stop();
    t.diagnostic(`download: RSS max ${MiB(dlSampler.maxRss())} (baseline ${MiB(base.rss)})`);
    assert.equal(got.status, 200);
    assert.equal(got.headers['content-type'], 'application/octet-stream');
    assert.equal(got.headers['content-length'], String(BIG));
    assert.equal(got.n, BIG);
    assert.equal(got.sha, want, 'downloaded bytes differ from the uploaded ones (SHA-256)');

    expectJson(await c.del(`/v1/files/${f.id}`), 200, 'delete the big file');
  });
});

describe('--max-file-bytes', () => {
  let srv;
  let key;
  before(async () => {
    srv = await startArgotd({ orgs: ['org-max'], flags: ['--max-file-bytes', String(SMALL_MAX)] });
    key = srv.keys['org-max'];
  });
  after(async () => {
    await srv?.close();
  });

  const expect413 = (x, where) => {
    assert.equal(x.status, 413, `${where}: ${x.status} ${x.text?.slice(0, 300)}`);
    assert.equal(x.headers['content-type'], 'application/json', where);
    assertErrorBody(x.json, { type: 'server_error' }, where); // as the front end's 413 (wire reference §3)
  };

  test('a file of exactly --max-file-bytes is accepted (multipart overhead does not count)', async () => {
    const res = await client(srv.origin, key).upload(uploadParts('exact.bin', Buffer.alloc(SMALL_MAX, 1), 'assistants'));
    assert.equal(expectJson(res, 200, 'exact limit').bytes, SMALL_MAX);
  });

  test('1 byte over with Content-Length -> 413', async () => {
    const res = await client(srv.origin, key).upload(uploadParts('over.bin', Buffer.alloc(SMALL_MAX + 1, 1), 'assistants'));
    expect413(res, 'CL 1 byte over');
  });

  test('chunked upload (no Content-Length) over the limit -> 413', async () => {
    const boundary = 'argotchunked';
    const total = 4 * 1024 * 1024; // far over the limit; the server must stop us
    async function* chunks() {
      yield rawHead('POST', '/v1/files', {
        Authorization: `Bearer ${key}`,
        'Content-Type': `multipart/form-data; boundary=${boundary}`,
        'Transfer-Encoding': 'chunked',
      });
      const frame = (b) => Buffer.concat([Buffer.from(b.length.toString(16) + '\r\n'), b, Buffer.from('\r\n')]);
      yield frame(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nassistants\r\n--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="chunked.bin"\r\n\r\n`));
      for await (const b of byteStream(total, { chunk: 16384, seed: 3 })) yield frame(b);
      yield frame(Buffer.from(`\r\n--${boundary}--\r\n`));
      yield '0\r\n\r\n';
    }
    const r = await rawExchange(srv.port, chunks(), { timeoutMs: 15000, stopOnResponse: true });
    assert.ok(r.responses.length >= 1, `no response (error ${r.error?.message}, ${r.bytesWritten} bytes written)`);
    expect413(r.responses.find((x) => x.status >= 200), 'chunked over the limit');
  });

  test('chunked upload (no Content-Length) of exactly the limit is accepted', async () => {
    const body = Buffer.alloc(SMALL_MAX, 2);
    const mp = multipart(uploadParts('exact-chunked.bin', body, 'assistants'));
    async function* pieces() {
      for (let i = 0; i < mp.body.length; i += 10000) yield mp.body.subarray(i, i + 10000);
    }
    const res = await request(srv.origin, { method: 'POST', path: '/v1/files', key, headers: { 'content-type': mp.contentType }, body: pieces() });
    assert.equal(expectJson(res, 200, 'chunked exact').bytes, SMALL_MAX);
  });

  test('refused uploads leave nothing behind', async () => {
    const list = expectJson(await client(srv.origin, key).get('/v1/files'), 200, 'list');
    assert.deepEqual(list.data.map((f) => f.filename).sort(), ['exact-chunked.bin', 'exact.bin']);
    const start = Date.now();
    let left;
    do {
      left = (await walk(srv.dataDir)).filter((e) => e.isFile && relative(srv.dataDir, e.path).startsWith('tmp'));
      if (!left.length) break;
      await new Promise((r) => setTimeout(r, 100));
    } while (Date.now() - start < 3000);
    assert.deepEqual(left.map((e) => e.path), [], 'temporaries left under tmp/ by refused uploads');
  });
});

describe('--max-batch-bytes', () => {
  const LIMIT = 1000;
  let srv;
  let key;
  before(async () => {
    srv = await startArgotd({ orgs: ['org-batch'], flags: ['--max-batch-bytes', String(LIMIT)] });
    key = srv.keys['org-batch'];
  });
  after(async () => {
    await srv?.close();
  });
  const tooLarge = (res, where) => {
    assert.equal(res.status, 400, `${where}: ${res.status} ${res.text?.slice(0, 300)}`);
    assertErrorBody(res.json, { type: 'invalid_request_error', param: null, code: null, message: 'File is too large.' }, where);
  };

  test('a batch file of exactly the limit is accepted and expires after 30 days', async () => {
    const f = expectJson(await client(srv.origin, key).upload(uploadParts('ok.jsonl', Buffer.alloc(LIMIT, 0x61), 'batch')), 200, 'batch at the limit');
    assert.equal(f.bytes, LIMIT);
    assert.equal(f.expires_at, f.created_at + 2592000);
  });

  test('one byte over is "File is too large." whether purpose comes after the file or before it', async () => {
    const data = Buffer.alloc(LIMIT + 1, 0x61);
    tooLarge(await client(srv.origin, key).upload(uploadParts('over.jsonl', data, 'batch')), 'file first');
    const purposeFirst = [{ name: 'purpose', value: 'batch' }, { name: 'file', filename: 'over2.jsonl', data }];
    tooLarge(await client(srv.origin, key).upload(purposeFirst), 'purpose first (refused while streaming)');
    // The limit is for batch files only.
    expectJson(await client(srv.origin, key).upload(uploadParts('big.jsonl', data, 'fine-tune')), 200, 'fine-tune over the batch limit');
  });
});
