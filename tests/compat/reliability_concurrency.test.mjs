// Concurrency (issue 5), labelled `concurrency` so `make tsan` runs it against a
// ThreadSanitizer build (any report makes argotd exit: TSAN_OPTIONS=halt_on_error=1):
//   - many clients racing for the last bytes of an organization's quota never push its usage
//     over the limit (checked through the API and by `argotd fsck`: used == sum of files);
//   - parallel deletes of one file: exactly one 200, every other answer 404;
//   - list/retrieve/download racing with deletes never return a file whose content is gone:
//     a download is 200 and byte-exact, or 404.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, createHash } from 'node:crypto';
import { startArgotd } from './lib/argotd.mjs';
import { request, multipart, uploadParts } from './lib/http.mjs';
import { LONG, figure, listAll } from './lib/reliability.mjs';

const LIMIT = 1000000; // --max-org-bytes
const figures = { quotaRounds: 0, quotaRacers: 0, deleteRaces: 0, readsDuringDeletes: 0 };
let srv;

before(async () => {
  srv = await startArgotd({ orgs: ['org-q', 'org-d'], flags: ['--max-org-bytes', String(LIMIT), '--threads', '8'] });
});
after(async () => {
  if (!srv) return;
  await srv.stop();
  const san = srv.sanitizerReport();
  const f = await srv.fsck();
  await srv.close();
  figure('concurrency', figures);
  assert.equal(san, null, `sanitizer report from argotd:\n${san}`);
  assert.equal(f.code, 0, `fsck after the races:\n${f.stdout}${f.stderr}`);
});

const sha = (b) => createHash('sha256').update(b).digest('hex');

function upload(key, name, data) {
  const mp = multipart(uploadParts(name, data, 'assistants'));
  return request(srv.origin, { method: 'POST', path: '/v1/files', key, headers: { 'content-type': mp.contentType }, body: mp.body, timeoutMs: 30000 });
}

async function usedBytes(key) {
  return (await listAll(srv.origin, key)).reduce((s, f) => s + f.bytes, 0);
}

describe('quota', () => {
  test('clients racing for the last bytes never push usage over --max-org-bytes', async () => {
    const key = srv.keys['org-q'];
    const rounds = LONG ? 200 : 30;
    for (let round = 0; round < rounds; round++) {
      // Leave a random amount of room, then 24 clients race with sizes that each fit alone.
      const used = await usedBytes(key);
      const room = LIMIT - used;
      const racers = 24;
      const sizes = Array.from({ length: racers }, (_, i) => 1 + ((i * 7919 + round * 104729) % Math.max(1, Math.min(room, 200000))));
      const results = await Promise.all(sizes.map((n, i) => upload(key, `q${round}-${i}.bin`, randomBytes(n))));
      let won = 0;
      for (const r of results) {
        assert.ok(r.status === 200 || (r.status === 400 && /quota/.test(r.json?.error?.message)), `racer: ${r.status} ${r.text.slice(0, 200)}`);
        if (r.status === 200) won += r.json.bytes;
      }
      const after = await usedBytes(key);
      assert.equal(after, used + won, `round ${round}: listed bytes != before + accepted`);
      assert.ok(after <= LIMIT, `round ${round}: usage ${after} > limit ${LIMIT}`);
      figures.quotaRounds++;
      figures.quotaRacers += racers;
      figures.maxUsage = Math.max(figures.maxUsage || 0, after);
      // Free a random part of the room for the next round, with parallel deletes.
      const files = await listAll(srv.origin, key);
      const drop = files.filter((_, i) => (i + round) % 3 === 0);
      await Promise.all(drop.map((f) => request(srv.origin, { method: 'DELETE', path: `/v1/files/${f.id}`, key })));
    }
  });
});

describe('deletes', () => {
  test('parallel deletes of the same file: exactly one 200, the rest 404', async () => {
    const key = srv.keys['org-d'];
    const files = 10;
    const par = 12;
    for (let i = 0; i < files; i++) {
      const r = await upload(key, `d${i}.bin`, randomBytes(10000));
      assert.equal(r.status, 200);
      const id = r.json.id;
      const answers = await Promise.all(Array.from({ length: par }, () => request(srv.origin, { method: 'DELETE', path: `/v1/files/${id}`, key })));
      const counts = {};
      for (const a of answers) counts[a.status] = (counts[a.status] || 0) + 1;
      assert.deepEqual(counts, { 200: 1, 404: par - 1 }, `file ${i}`);
      figures.deleteRaces++;
    }
  });

  test('list, retrieve and download racing with deletes never return a file whose content is gone', async () => {
    const key = srv.keys['org-d'];
    const n = LONG ? 400 : 120;
    const want = new Map();
    for (let i = 0; i < n; i++) {
      const data = randomBytes(1000 + ((i * 4099) % (LONG ? 1000 : 5000))); // all fit in LIMIT
      const r = await upload(key, `rd${i}.bin`, data);
      assert.equal(r.status, 200);
      want.set(r.json.id, { sha: sha(data), size: data.length });
    }
    const ids = [...want.keys()];
    let deleting = true;
    const deleter = (async () => {
      for (let i = 0; i < ids.length; i += 4) {
        await Promise.all(ids.slice(i, i + 4).map((id) => request(srv.origin, { method: 'DELETE', path: `/v1/files/${id}`, key })));
      }
      deleting = false;
    })();
    const problems = [];
    const reader = async () => {
      while (deleting) {
        const listed = await listAll(srv.origin, key);
        for (const f of listed.slice(0, 6)) {
          const [meta, content] = await Promise.all([
            request(srv.origin, { path: `/v1/files/${f.id}`, key }),
            request(srv.origin, { path: `/v1/files/${f.id}/content`, key, timeoutMs: 30000 }),
          ]);
          figures.readsDuringDeletes++;
          if (![200, 404].includes(meta.status)) problems.push(`retrieve ${f.id} -> ${meta.status}`);
          if (content.status === 200) {
            const w = want.get(f.id);
            if (content.body.length !== w.size || sha(content.body) !== w.sha) problems.push(`content of ${f.id}: ${content.body.length} bytes, expected ${w.size} (bytes gone under a reader)`);
          } else if (content.status !== 404) problems.push(`content ${f.id} -> ${content.status} ${content.text.slice(0, 100)}`);
        }
      }
    };
    await Promise.all([deleter, reader(), reader(), reader()]);
    assert.deepEqual(problems, []);
    assert.deepEqual(await listAll(srv.origin, key), []);
  });
});
