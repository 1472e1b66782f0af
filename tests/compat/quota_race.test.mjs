// Issue 9: the storage quota admits exactly what fits when uploads race for it.
// --max-org-bytes 3145728, 16 concurrent uploads of 700 KiB each: exactly floor(3145728 /
// 716800) = 4 are admitted, every other one gets the quota 400, and never 5. Run with the
// official client (the pinned 6.x on this node and 7.x on Node 22, each with a stream body,
// which it sends chunked, and a Buffer body, sent with Content-Length) and with curl -F
// (Content-Length). ARGOT_LONG=1 runs 100 races per variant instead of 10.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startArgotd } from './lib/argotd.mjs';
import { CLIENTS, runScenario } from './lib/clients.mjs';
import { expectJson, msgQuota, request } from './lib/http.mjs';
import { LONG, figure } from './lib/reliability.mjs';

const QUOTA = 3145728;
const SIZE = 700 * 1024;
const N = 16;
const FIT = Math.floor(QUOTA / SIZE); // 4
const RUNS = LONG ? 100 : 10;
const QUOTA_MSG = msgQuota('3 MB');
const variants = [
  ...CLIENTS.flatMap((c, i) => [
    { name: `${c.name}, fs.createReadStream body`, client: c, body: 'stream', org: `org-race-${i}-stream` },
    { name: `${c.name}, toFile(Buffer) body`, client: c, body: 'buffer', org: `org-race-${i}-buffer` },
  ]),
  { name: 'curl -F file=@path', curl: true, org: 'org-race-curl' },
];

let srv;
let dir;
let path;
before(async () => {
  srv = await startArgotd({ orgs: variants.map((v) => v.org), flags: ['--max-org-bytes', String(QUOTA)] });
  dir = mkdtempSync(join(tmpdir(), 'argot-race-'));
  path = join(dir, 'race.jsonl');
  writeFileSync(path, Buffer.alloc(SIZE, 'x'));
});
after(async () => {
  await srv?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function listIds(key) {
  return expectJson(await request(srv.origin, { path: '/v1/files', key }), 200, 'list').data.map((f) => f.id);
}

/** One curl process per upload, all started at once; resolves [{status, json}]. */
function curlRace(key) {
  const one = () =>
    new Promise((res, rej) => {
      const args = ['-sS', '-w', '\n%{http_code}', `${srv.baseURL}/files`, '-H', `Authorization: Bearer ${key}`, '-F', 'purpose=assistants', '-F', `file=@${path}`];
      const p = spawn('curl', args, { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      p.stdout.on('data', (c) => (out += c));
      p.stderr.on('data', (c) => (err += c));
      p.once('error', (e) => rej(new Error(`cannot run curl: ${e.message}`)));
      p.once('close', (code) => {
        if (code !== 0) return rej(new Error(`curl exited ${code}: ${err}`));
        const i = out.lastIndexOf('\n');
        res({ status: +out.slice(i + 1), json: JSON.parse(out.slice(0, i)) });
      });
    });
  return Promise.all(Array.from({ length: N }, one));
}

async function curlRuns(key) {
  const runs = [];
  for (let run = 0; run < RUNS; run++) {
    const rs = await curlRace(key);
    const admitted = rs.filter((r) => r.status === 200).map((r) => r.json);
    const refused = rs.filter((r) => r.status !== 200).map((r) => ({ status: r.status, message: r.json?.error?.message }));
    runs.push({ admitted: admitted.length, bytes: admitted.map((f) => f.bytes), refused });
    for (const f of admitted) expectJson(await request(srv.origin, { method: 'DELETE', path: `/v1/files/${f.id}`, key }), 200, 'delete');
  }
  return { framing: 'content-length', runs };
}

describe(`${N} concurrent ${SIZE}-byte uploads into a ${QUOTA}-byte quota admit exactly ${FIT}`, () => {
  for (const v of variants) {
    test(v.name, async (t) => {
      const key = srv.keys[v.org];
      const out = v.curl
        ? await curlRuns(key)
        : await runScenario(v.client, 'quota_race.mjs', { baseURL: srv.baseURL, apiKey: key, path, n: N, runs: RUNS, body: v.body }, { timeoutMs: LONG ? 1500000 : 120000 });
      const counts = out.runs.map((r) => r.admitted);
      t.diagnostic(`body sent with ${out.framing}; admitted per run: ${counts.join(' ')}`);
      figure('quota_race', { variant: v.name, framing: out.framing, runs: counts.length, admitted: counts });
      if (v.body === 'buffer' || v.curl) assert.equal(out.framing, 'content-length', 'a Buffer/file body is expected to be sent with Content-Length');
      for (const [i, r] of out.runs.entries()) {
        assert.ok(r.admitted <= FIT, `run ${i}: ${r.admitted} admitted: more than the ${FIT} that fit`);
        assert.equal(r.admitted, FIT, `run ${i}: ${r.admitted} admitted where ${FIT} fit (refusals: ${JSON.stringify(r.refused.slice(0, 3))})`);
        assert.deepEqual(r.bytes, Array(FIT).fill(SIZE), `run ${i}: admitted sizes`);
        for (const e of r.refused) {
          assert.equal(e.status, 400, `run ${i}: a refusal that is not the quota 400: ${JSON.stringify(e)}`);
          assert.ok(e.message.includes(QUOTA_MSG), `run ${i}: not the quota message: ${e.message}`);
        }
      }
      assert.deepEqual(await listIds(key), [], 'the admitted files were deleted after each run');
    });
  }

  test(`afterwards nothing is held: ${FIT} sequential uploads fit, the next is refused`, async () => {
    const key = srv.keys['org-race-curl'];
    const up = () =>
      request(srv.origin, {
        method: 'POST',
        path: '/v1/files',
        key,
        headers: { 'content-type': 'multipart/form-data; boundary=b0undary' },
        body: Buffer.concat([
          Buffer.from('--b0undary\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nassistants\r\n--b0undary\r\nContent-Disposition: form-data; name="file"; filename="s.bin"\r\n\r\n'),
          Buffer.alloc(SIZE, 'y'),
          Buffer.from('\r\n--b0undary--\r\n'),
        ]),
      });
    for (let i = 0; i < FIT; i++) expectJson(await up(), 200, `sequential upload ${i + 1}`);
    const r = await up();
    assert.equal(r.status, 400);
    assert.equal(r.json.error.message, QUOTA_MSG);
  });
});
