// Per-organization quota under concurrency, organization isolation, key revocation, the batch
// size limit and --strict-download.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { startArgotd } from './lib/argotd.mjs';
import { client, uploadParts, expectJson, expectError, assertFileObject, msgNoSuchFile, msgWrongKey, MSG_TOO_LARGE } from './lib/http.mjs';

const LIMIT = 1048576; // --max-org-bytes: 1 MiB
const SIZE = 100 * 1024; // each racing upload
const BATCH_MAX = 4096; // --max-batch-bytes
const QUOTA_RE =
  /^You have exceeded your file storage quota\. Organizations are limited to (.+) of files\. Please delete old files or attempt with a smaller file size\.$/;

let srv;
before(async () => {
  srv = await startArgotd({
    orgs: ['org-q', 'org-b', 'org-batch', 'org-strict'],
    flags: ['--max-org-bytes', String(LIMIT), '--max-batch-bytes', String(BATCH_MAX), '--strict-download'],
  });
});
after(async () => {
  await srv?.close();
});

const up = (key, name, data, purpose = 'assistants') => client(srv, key).upload(uploadParts(name, data, purpose));
const expectQuotaError = (res, where) => {
  const body = expectError(res, 400, { type: 'invalid_request_error', param: null, code: null }, where);
  assert.match(body.error.message, QUOTA_RE, `${where}: not the storage quota message`);
  return body.error.message.match(QUOTA_RE)[1];
};

describe('quota', () => {
  const accepted = [];
  const quotaTexts = new Set();

  test(`20 parallel ${SIZE}-byte uploads race for a ${LIMIT}-byte quota`, async (t) => {
    const key = srv.keys['org-q'];
    const settled = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => up(key, `race-${i}.bin`, Buffer.alloc(SIZE, i))));
    const other = [];
    for (const [i, s] of settled.entries()) {
      if (s.status === 'rejected') {
        other.push(`${i}: ${s.reason?.message}`);
        continue;
      }
      const res = s.value;
      if (res.status === 200) {
        assertFileObject(res.json, { bytes: SIZE, filename: `race-${i}.bin` });
        accepted.push(res.json);
      } else if (res.status === 400) {
        quotaTexts.add(expectQuotaError(res, `race upload ${i}`));
      } else other.push(`${i}: ${res.status} ${res.text.slice(0, 200)}`);
    }
    assert.deepEqual(other, [], 'uploads answered neither 200 nor the quota 400');
    const total = accepted.length * SIZE;
    t.diagnostic(`race: ${accepted.length} of 20 accepted (${total} bytes of ${LIMIT})`);
    assert.ok(total <= LIMIT, `accepted ${accepted.length} files = ${total} bytes > quota ${LIMIT}`);
    assert.ok(accepted.length >= 1, 'the race starved every upload: none accepted');
    const listed = expectJson(await client(srv, key).get('/v1/files'), 200, 'list');
    assert.equal(listed.data.length, accepted.length, 'listed files differ from accepted uploads');
  });

  test('after the race the quota is exactly usable: fill to floor(limit/size) files, then refused', async () => {
    const key = srv.keys['org-q'];
    const max = Math.floor(LIMIT / SIZE); // 10
    let n = accepted.length;
    while (n < max) {
      const res = await up(key, `fill-${n}.bin`, Buffer.alloc(SIZE, 7));
      assert.equal(res.status, 200, `upload ${n + 1} of ${max} refused: reservations of the race were not released? ${res.text}`);
      accepted.push(res.json);
      n++;
    }
    const res = await up(key, 'one-too-many.bin', Buffer.alloc(SIZE, 8));
    quotaTexts.add(expectQuotaError(res, 'upload over quota'));
  });

  test('the quota counts file bytes, not the multipart envelope: the remaining room fits exactly', async () => {
    const key = srv.keys['org-q'];
    const room = LIMIT - Math.floor(LIMIT / SIZE) * SIZE; // 24576 bytes left
    const fit = await up(key, 'exact-fit.bin', Buffer.alloc(room, 1));
    assert.equal(expectJson(fit, 200, `a ${room}-byte file into the last ${room} bytes of quota`).bytes, room);
    accepted.push(fit.json);
    quotaTexts.add(expectQuotaError(await up(key, 'one-byte.bin', Buffer.alloc(1)), 'one byte over'));
  });

  test('the quota message shows --max-org-bytes formatted (1048576 -> "1 MB", as 100 GiB -> "100 GB")', () => {
    assert.deepEqual([...quotaTexts], ['1 MB']);
  });

  test('delete frees quota', async () => {
    const key = srv.keys['org-q'];
    assert.ok(accepted.length > 0, 'no accepted file to delete (earlier quota tests failed)');
    const i = accepted.findIndex((f) => f.bytes === SIZE);
    assert.ok(i >= 0, `no accepted ${SIZE}-byte file to delete`);
    const [victim] = accepted.splice(i, 1);
    expectJson(await client(srv, key).del(`/v1/files/${victim.id}`), 200, 'delete');
    expectJson(await up(key, 'after-delete.bin', Buffer.alloc(SIZE, 9)), 200, 'upload after delete');
    expectQuotaError(await up(key, 'still-full.bin', Buffer.alloc(SIZE, 9)), 'full again');
  });

  test('quota is per organization', async () => {
    expectJson(await up(srv.keys['org-b'], 'b.bin', Buffer.alloc(SIZE, 2)), 200, 'org-b upload while org-q is full');
  });
});

describe('isolation', () => {
  let aFile;
  before(async () => {
    const res = await up(srv.keys['org-q'], 'secret.txt', Buffer.alloc(0)); // 0 bytes fit a full quota
    aFile = expectJson(res, 200, 'org-q upload');
  });

  test("another org's key gets a plain 404 for get, content and delete", async () => {
    const b = client(srv, srv.keys['org-b']);
    for (const [m, p] of [
      ['GET', `/v1/files/${aFile.id}`],
      ['GET', `/v1/files/${aFile.id}/content`],
      ['DELETE', `/v1/files/${aFile.id}`],
    ]) {
      expectError(await b({ method: m, path: p }), 404, { message: msgNoSuchFile(aFile.id), type: 'invalid_request_error', param: 'id', code: null }, `org-b ${m} ${p}`);
    }
    // still there for its owner
    expectJson(await client(srv, srv.keys['org-q']).get(`/v1/files/${aFile.id}`), 200, 'owner still sees it');
  });

  test("lists never show another org's files; their ids are no cursor", async () => {
    const fresh = await srv.createKey('org-nothing');
    const list = expectJson(await client(srv, fresh).get('/v1/files'), 200, 'empty org list');
    assert.deepEqual(list, { object: 'list', data: [], has_more: false, first_id: null, last_id: null });
    const bl = expectJson(await client(srv, srv.keys['org-b']).get('/v1/files?limit=10000'), 200, 'org-b list');
    assert.ok(!bl.data.some((f) => f.id === aFile.id), "org-b lists org-q's file");
    assert.ok(bl.data.every((f) => f.filename === 'b.bin'));
    expectError(await client(srv, srv.keys['org-b']).get(`/v1/files?after=${aFile.id}`), 400, { param: 'after' }, 'foreign cursor');
  });

  test('two keys of one org see the same files', async () => {
    const k2 = await srv.createKey('org-q', 'second-key-of-q');
    expectJson(await client(srv, k2).get(`/v1/files/${aFile.id}`), 200, 'second key');
  });

  test('a revoked key gets 401 invalid_api_key at once; other keys of the org still work', async () => {
    const k = await srv.createKey('org-b', 'to-revoke');
    const kc = client(srv, k);
    expectJson(await kc.get('/v1/files'), 200, 'before revoke');
    await srv.revokeKey(k);
    expectError(await kc.get('/v1/files'), 401, { message: msgWrongKey(k), type: 'invalid_request_error', param: null, code: 'invalid_api_key' }, 'revoked key');
    expectError(await kc.upload(uploadParts('x.txt', 'x', 'assistants')), 401, { code: 'invalid_api_key' }, 'revoked key upload');
    expectJson(await client(srv, srv.keys['org-b']).get('/v1/files'), 200, 'other key of org-b');
  });

  test('a revoked key stays revoked across a restart', async () => {
    const k = await srv.createKey('org-b', 'revoke-restart');
    await srv.revokeKey(k);
    await srv.restart();
    expectError(await client(srv, k).get('/v1/files'), 401, { code: 'invalid_api_key' }, 'revoked after restart');
    expectJson(await client(srv, srv.keys['org-b']).get('/v1/files'), 200, 'valid key after restart');
  });
});

describe('batch size limit (--max-batch-bytes)', () => {
  test('a batch file of exactly the limit is accepted', async () => {
    const line = '{"custom_id":"x"}\n';
    const data = Buffer.from(line.repeat(Math.ceil(BATCH_MAX / line.length))).subarray(0, BATCH_MAX);
    const f = expectJson(await up(srv.keys['org-batch'], 'ok.jsonl', data, 'batch'), 200, 'batch at limit');
    assert.equal(f.bytes, BATCH_MAX);
  });
  test('one byte over -> 400 "File is too large."', async () => {
    const res = await up(srv.keys['org-batch'], 'big.jsonl', Buffer.alloc(BATCH_MAX + 1, 0x20), 'batch');
    expectError(res, 400, { message: MSG_TOO_LARGE, type: 'invalid_request_error', param: null, code: null }, 'batch too large');
  });
  test('other purposes are not held to the batch limit', async () => {
    expectJson(await up(srv.keys['org-batch'], 'big.jsonl', Buffer.alloc(BATCH_MAX + 1, 0x20), 'fine-tune'), 200, 'fine-tune over batch limit');
  });
});

describe('--strict-download', () => {
  for (const p of ['assistants', 'user_data']) {
    test(`${p} files: 400 "Not allowed to download files of purpose: ${p}"`, async () => {
      const key = srv.keys['org-strict'];
      const f = expectJson(await up(key, `s-${p}.txt`, 'secret', p), 200, 'upload');
      const res = await client(srv, key).get(`/v1/files/${f.id}/content`);
      expectError(res, 400, { message: `Not allowed to download files of purpose: ${p}`, type: 'invalid_request_error' }, `strict ${p}`);
      expectJson(await client(srv, key).get(`/v1/files/${f.id}`), 200, 'metadata still readable');
    });
  }
  for (const p of ['batch', 'fine-tune', 'vision', 'evals']) {
    test(`${p} files can still be downloaded`, async () => {
      const key = srv.keys['org-strict'];
      const name = p === 'batch' || p === 'fine-tune' ? `d-${p}.jsonl` : `d-${p}.txt`;
      const f = expectJson(await up(key, name, '{"a":1}\n', p), 200, 'upload');
      const res = await client(srv, key).get(`/v1/files/${f.id}/content`);
      assert.equal(res.status, 200, res.text);
      assert.equal(res.text, '{"a":1}\n');
    });
  }
});
