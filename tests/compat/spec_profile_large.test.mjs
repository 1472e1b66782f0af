// A 512 MiB file downloaded as one JSON string (the spec profile of GET /content) while
// argotd's RSS is sampled: like the 512 MiB upload of large_upload.test.mjs, it must grow
// < 16 MiB over its baseline, through both passes (UTF-8 check, then escaping). The body is
// hashed as it streams and must equal JSON.stringify of the content, byte for byte.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { createHash } from 'node:crypto';
import { startArgotd, sampleMemory } from './lib/argotd.mjs';
import { closeClean } from './lib/close_clean.mjs';
import { client, request, expectJson, uploadParts } from './lib/http.mjs';

const MiB = (n) => (n / 1048576).toFixed(1) + ' MiB';
const BIG = 512 * 1048576; // = the default --max-file-bytes
const CHUNK = 1048576;
const RSS_BUDGET = 16 * 1048576;

// Each 1 MiB chunk: its number in 8 digits, then whole characters of 1 to 4 bytes, two of
// which need escaping, padded with 'z'. The server's 64 KiB reads cut them anywhere.
const UNIT = 'a' + 'é' + '€' + '😀' + '\n' + '"'; // 12 bytes, 14 escaped
const REST = CHUNK - 8;
const BODY_TEXT = UNIT.repeat(Math.floor(REST / 12)) + 'z'.repeat(REST % 12);
const BODY = Buffer.from(BODY_TEXT);
const BODY_JSON = Buffer.from(JSON.stringify(BODY_TEXT).slice(1, -1));
assert.equal(BODY.length, REST);
const digits = (n) => Buffer.from(String(n).padStart(8, '0'));

async function* content(hash) {
  for (let n = 0; n * CHUNK < BIG; n++) {
    const b = Buffer.concat([digits(n), BODY]);
    hash?.update(b);
    yield b;
  }
}

/** SHA-256 and length of the JSON string the content must come back as. */
function expectedJson() {
  const h = createHash('sha256');
  h.update('"');
  let len = 2;
  for (let n = 0; n * CHUNK < BIG; n++) {
    h.update(digits(n));
    h.update(BODY_JSON);
    len += 8 + BODY_JSON.length;
  }
  h.update('"');
  return { sha: h.digest('hex'), len };
}

function download(port, key, path, headers = {}) {
  return new Promise((res, rej) => {
    const req = http.get({ host: '127.0.0.1', port, path, headers: { authorization: `Bearer ${key}`, ...headers }, agent: false }, (r) => {
      const h = createHash('sha256');
      let n = 0;
      r.on('data', (d) => {
        h.update(d);
        n += d.length;
      });
      r.on('end', () => res({ status: r.statusCode, headers: r.headers, n, sha: h.digest('hex') }));
      r.on('error', rej);
    });
    req.on('error', rej);
  });
}

describe('512 MiB as one JSON string', () => {
  let srv;
  before(async () => {
    srv = await startArgotd({ orgs: ['org-big'], flags: ['--response-profile', 'spec'] });
  });
  after(async () => {
    await closeClean(srv);
  });

  test('RSS grows < 16 MiB during the download; the body is JSON.stringify of the content', { timeout: 220000 }, async (t) => {
    const key = srv.keys['org-big'];
    const c = client(srv.origin, key);
    // Warm up every code path once, so the baseline holds thread stacks, DB pages, buffers.
    for (let i = 0; i < 3; i++) {
      const f = expectJson(await c.upload(uploadParts('warm.txt', Buffer.concat([digits(i), BODY.subarray(0, 300000)]), 'assistants')), 200, 'warm-up');
      assert.equal((await c.get(`/v1/files/${f.id}/content`)).status, 200);
      await c.del(`/v1/files/${f.id}`);
    }

    const boundary = 'argot-big-json-boundary';
    const head = Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nassistants\r\n` +
        `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.txt"\r\nContent-Type: text/plain\r\n\r\n`,
    );
    const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
    const upHash = createHash('sha256');
    async function* body() {
      yield head;
      yield* content(upHash);
      yield tail;
    }
    const t0 = Date.now();
    const res = await request(srv.origin, {
      method: 'POST',
      path: '/v1/files',
      key,
      headers: { 'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': String(head.length + BIG + tail.length) },
      body: body(),
      timeoutMs: 150000,
    });
    const f = expectJson(res, 200, '512 MiB upload');
    assert.equal(f.bytes, BIG);
    t.diagnostic(`upload of ${MiB(BIG)}: ${Date.now() - t0} ms`);

    const want = expectedJson();
    const base = await srv.memory();
    const sampler = sampleMemory(srv.pid, 20);
    const t1 = Date.now();
    const got = await download(srv.port, key, `/v1/files/${f.id}/content`);
    const ms = Date.now() - t1;
    sampler.stop();
    const end = await srv.memory();
    const peak = Math.max(sampler.maxRss(), end.hwm > base.hwm ? end.hwm : 0);
    const growth = peak - base.rss;
    t.diagnostic(
      `JSON-string download: ${MiB(got.n)} in ${ms} ms; RSS baseline ${MiB(base.rss)}, max sampled ${MiB(sampler.maxRss())} ` +
        `(${sampler.samples.length} samples), VmHWM ${MiB(base.hwm)} -> ${MiB(end.hwm)}; growth ${MiB(growth)}`,
    );
    assert.equal(got.status, 200);
    assert.equal(got.headers['content-type'], 'application/json');
    assert.equal(got.headers['content-length'], String(want.len));
    assert.equal(got.n, want.len);
    assert.equal(got.sha, want.sha, 'the body differs from JSON.stringify of the content (SHA-256)');
    assert.ok(sampler.samples.length >= 5, 'too few RSS samples');
    assert.ok(growth < RSS_BUDGET, `argotd RSS grew ${MiB(growth)} during a ${MiB(BIG)} JSON-string download (budget ${MiB(RSS_BUDGET)})`);

    // The same file in the service profile, for the record: the raw bytes, by sendfile.
    const t2 = Date.now();
    const raw = await download(srv.port, key, `/v1/files/${f.id}/content`, { 'argot-response-profile': 'service' });
    t.diagnostic(`raw download (service profile): ${MiB(raw.n)} in ${Date.now() - t2} ms`);
    assert.equal(raw.sha, upHash.digest('hex'));
    expectJson(await c.del(`/v1/files/${f.id}`), 200, 'delete the big file');
  });
});
