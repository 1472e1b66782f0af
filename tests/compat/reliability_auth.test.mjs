// Isolation and auth (issue 5): every route is called with another organization's key, a
// revoked key, malformed Authorization headers and none. Nothing of the victim organization
// may be revealed: 404 (other org) or 401 (no valid key), never its ids, names or bytes. Key
// comparison shows no timing difference between a wrong key sharing a long prefix with a real
// one and a wrong key sharing nothing. Stored files are 0600 in a 0700 data dir and no path is
// built from user input.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startArgotd, walk } from './lib/argotd.mjs';
import { request, multipart, uploadParts, rawExchange, rawHead, expectError, MSG_MISSING_KEY, msgNoSuchFile } from './lib/http.mjs';
import { figure } from './lib/reliability.mjs';
import { relative } from 'node:path';

let srv;
let victim; // {key, file, secretName, secretBytes}
let intruderKey;
let revokedKey;
const SECRET = Buffer.from('victim-secret-bytes-' + 'z'.repeat(64));
const SECRET_NAME = 'victim-only-name.txt';
const figures = {};

before(async () => {
  srv = await startArgotd({ orgs: ['org-victim', 'org-intruder'] });
  intruderKey = srv.keys['org-intruder'];
  const vkey = srv.keys['org-victim'];
  revokedKey = await srv.createKey('org-victim', 'to-be-revoked');
  const mp = multipart(uploadParts(SECRET_NAME, SECRET, 'assistants'));
  const res = await request(srv.origin, { method: 'POST', path: '/v1/files', key: vkey, headers: { 'content-type': mp.contentType }, body: mp.body });
  assert.equal(res.status, 200, res.text);
  // The revoked key worked before revocation...
  assert.equal((await request(srv.origin, { path: '/v1/files', key: revokedKey })).status, 200);
  await srv.revokeKey(revokedKey); // ...and is refused at once after it, server still running
  victim = { key: vkey, file: res.json };
});
after(async () => {
  if (!srv) return;
  await srv.stop();
  const san = srv.sanitizerReport();
  await srv.close();
  assert.equal(san, null, san);
  figure('auth', figures);
});

const routes = () => {
  const id = victim.file.id;
  const mp = multipart(uploadParts('intruder.txt', 'intruder', 'assistants'));
  return [
    { name: 'POST /v1/files', method: 'POST', path: '/v1/files', headers: { 'content-type': mp.contentType }, body: mp.body },
    { name: 'GET /v1/files', method: 'GET', path: '/v1/files' },
    { name: 'GET /v1/files?after=<victim id>', method: 'GET', path: `/v1/files?after=${id}` },
    { name: 'GET /v1/files?purpose=assistants', method: 'GET', path: '/v1/files?purpose=assistants' },
    { name: 'GET /v1/files/{id}', method: 'GET', path: `/v1/files/${id}` },
    { name: 'HEAD /v1/files/{id}', method: 'HEAD', path: `/v1/files/${id}` },
    { name: 'GET /v1/files/{id}/content', method: 'GET', path: `/v1/files/${id}/content` },
    { name: 'HEAD /v1/files/{id}/content', method: 'HEAD', path: `/v1/files/${id}/content` },
    { name: 'DELETE /v1/files/{id}', method: 'DELETE', path: `/v1/files/${id}` },
  ];
};

function assertReveals_nothing(res, where) {
  const text = res.body.toString('latin1');
  assert.ok(!text.includes(victim.file.id) || res.status === 404 || res.status === 400, `${where}: victim id in a ${res.status} body`);
  assert.ok(!text.includes(SECRET_NAME), `${where}: victim filename revealed`);
  assert.ok(!text.includes(SECRET.toString('latin1')), `${where}: victim bytes revealed`);
  for (const [k, v] of Object.entries(res.headers)) assert.ok(!String(v).includes(SECRET_NAME) && !(k === 'openai-organization' && v === 'org-victim'), `${where}: header ${k} reveals the victim`);
}

describe('matrix: every route x every wrong credential', () => {
  const creds = {
    'another organization\'s key': () => ({ authorization: `Bearer ${intruderKey}` }),
    'a revoked key': () => ({ authorization: `Bearer ${revokedKey}` }),
    'no Authorization header': () => ({}),
    'empty Authorization': () => ({ authorization: '' }),
    'Bearer without a key': () => ({ authorization: 'Bearer' }),
    'Bearer and spaces': () => ({ authorization: 'Bearer    ' }),
    'Basic scheme': () => ({ authorization: `Basic ${Buffer.from(':' + victim.key).toString('base64')}` }),
    'key without scheme': () => ({ authorization: victim.key }),
    'Bearer with a 10 KB key': () => ({ authorization: `Bearer ${'k'.repeat(10240)}` }),
    'truncated real key': () => ({ authorization: `Bearer ${victim.key.slice(0, -1)}` }),
    'real key plus a character': () => ({ authorization: `Bearer ${victim.key}x` }),
    'real key in other case': () => ({ authorization: `Bearer ${victim.key.toUpperCase()}` }),
    'two keys in one header': () => ({ authorization: `Bearer ${intruderKey} ${victim.key}` }),
    'Bearer with a NUL-ish escape': () => ({ authorization: `Bearer ${victim.key}%00` }),
  };
  for (const [credName, cred] of Object.entries(creds)) {
    test(credName, async () => {
      for (const r of routes()) {
        const where = `${r.name} with ${credName}`;
        const res = await request(srv.origin, { method: r.method, path: r.path, headers: { ...r.headers, ...cred() }, body: r.body });
        figures.matrixCalls = (figures.matrixCalls || 0) + 1;
        assertReveals_nothing(res, where);
        if (credName.startsWith('another')) {
          if (r.method === 'POST') assert.equal(res.status, 200, where); // lands in the intruder's own org
          else if (r.path === '/v1/files' || r.path.startsWith('/v1/files?purpose')) {
            assert.equal(res.status, 200, where);
            assert.ok(!res.json.data.some((f) => f.id === victim.file.id), `${where}: victim file listed`);
          } else if (r.path.includes('after=')) expectError(res, 400, { param: 'after' }, where);
          else if (r.method === 'HEAD') assert.equal(res.status, 404, where);
          else expectError(res, 404, { message: msgNoSuchFile(victim.file.id) }, where);
        } else if (r.method === 'HEAD') {
          assert.equal(res.status, 401, where);
        } else {
          const b = expectError(res, 401, {}, where);
          if (/no Authorization|empty|without a key|spaces|Basic|without scheme/.test(credName)) assert.equal(b.error.message, MSG_MISSING_KEY, where);
          else assert.equal(b.error.code, 'invalid_api_key', where);
        }
      }
    });
  }

  test('the victim still has its file, intact, after the whole matrix', async () => {
    const res = await request(srv.origin, { path: `/v1/files/${victim.file.id}/content`, key: victim.key });
    assert.equal(res.status, 200);
    assert.ok(res.body.equals(SECRET));
    const list = await request(srv.origin, { path: '/v1/files', key: victim.key });
    assert.deepEqual(list.json.data.map((f) => f.id), [victim.file.id]);
  });

  test('raw header edge cases: duplicate Authorization headers, CR in value, obs-fold', async () => {
    const cases = [
      [`Authorization: Bearer ${intruderKey}\r\nAuthorization: Bearer ${victim.key}`, [401, 404, 400]],
      [`Authorization: Bearer ${victim.key}\r\n ${intruderKey}`, [400, 401]],
    ];
    for (const [hdr, ok] of cases) {
      const raw = `GET /v1/files/${victim.file.id}/content HTTP/1.1\r\nHost: x\r\n${hdr}\r\n\r\n`;
      const r = await rawExchange(srv.port, [raw], { timeoutMs: 5000 });
      if (!r.responses.length) continue; // closed: fine
      const x = r.responses[0];
      assert.ok(ok.includes(x.status) || x.status === 200, `${JSON.stringify(hdr)} -> ${x.status}`);
      if (x.status === 200) {
        // Only acceptable if the server used the victim's own key (first or last wins).
        assert.ok(hdr.includes(victim.key));
      }
    }
  });
});

describe('key comparison timing', () => {
  test('a wrong key sharing 48 of 49 characters with a real key is not answered measurably differently from one sharing none', async () => {
    const near = victim.key.slice(0, -1) + (victim.key.endsWith('z') ? 'y' : 'z');
    const far = 'sk-argot-' + '1'.repeat(40);
    const N = 300;
    const time = async (k) => {
      const t = process.hrtime.bigint();
      const res = await request(srv.origin, { path: '/v1/files', key: k });
      assert.equal(res.status, 401);
      return Number(process.hrtime.bigint() - t) / 1e6;
    };
    for (let i = 0; i < 30; i++) await time(i % 2 ? near : far); // warm-up
    const a = [];
    const b = [];
    for (let i = 0; i < N; i++) {
      if (i % 2) {
        a.push(await time(near));
        b.push(await time(far));
      } else {
        b.push(await time(far));
        a.push(await time(near));
      }
    }
    const med = (x) => [...x].sort((p, q) => p - q)[x.length >> 1];
    const ma = med(a);
    const mb = med(b);
    figures.timingNearMs = +ma.toFixed(3);
    figures.timingFarMs = +mb.toFixed(3);
    figures.timingSamples = N;
    // The server hashes the key (SHA-256) before any comparison, so a shared prefix cannot
    // matter; the bound is generous so scheduling noise never fails the test.
    assert.ok(Math.abs(ma - mb) < Math.max(1.0, 0.5 * Math.min(ma, mb)), `median ${ma.toFixed(3)} ms (near) vs ${mb.toFixed(3)} ms (far)`);
  });
});

describe('data dir', () => {
  test('directories 0700, files 0600; blob names are server keys, never user input', async () => {
    // An upload whose name tries to be a path.
    const mp = multipart(uploadParts('../../../../tmp/argot-escape.txt', 'escape', 'assistants'));
    const res = await request(srv.origin, { method: 'POST', path: '/v1/files', key: victim.key, headers: { 'content-type': mp.contentType }, body: mp.body });
    assert.equal(res.status, 200);
    const entries = await walk(srv.dataDir);
    let blobs = 0;
    for (const e of entries) {
      const rel = relative(srv.dataDir, e.path);
      if (e.isDir) assert.equal(e.mode, 0o700, `${rel} is ${e.mode.toString(8)}`);
      else if (rel !== 'port' && rel !== 'port.tmp') assert.equal(e.mode, 0o600, `${rel} is ${e.mode.toString(8)}`);
      assert.ok(/^(argot\.db(-wal|-shm)?|LOCK|port(\.tmp)?|blobs(\/[0-9a-f]{2}(\/[0-9a-f]{32})?)?|tmp)$/.test(rel), `unexpected entry in the data dir: ${rel}`);
      if (/^blobs\/..\/./.test(rel)) blobs++;
    }
    assert.equal(blobs, 2 + 1); // victim's file, the intruder's POST, this one
  });
});
