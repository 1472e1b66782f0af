// Issue 13: argotd on PostgreSQL while the database goes away and comes back. Run with
// ARGOT_TEST_META=pg (ctest: compat_pg_outage; without it the file skips). While PostgreSQL is
// down every request that needs it gets 503 with Retry-After (never a 500, never a 401 for a
// good key), the official client retries such answers itself, and once the database is back
// the same argotd process (no restart) serves, stores and lists again, including what was
// stored before the outage.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { OpenAI, toFile } from './lib/openai.mjs';
import { startArgotd, pgServer, pgPause, pgResume, sleep } from './lib/argotd.mjs';
import { client as rawClient, sha256 } from './lib/http.mjs';

const skip = pgServer() ? false : 'needs ARGOT_TEST_META=pg (ctest runs it as compat_pg_outage)';
let srv;

before(async () => {
  if (skip) return;
  srv = await startArgotd({ orgs: ['org-out'], flags: ['--sweep-interval', '1', '--lease-seconds', '3'] });
});
after(async () => {
  if (pgServer()) await pgResume().catch(() => {});
  await srv?.close();
});

const sdk = (maxRetries = 0) => new OpenAI({ apiKey: srv.keys['org-out'], baseURL: srv.baseURL, timeout: 30000, maxRetries });

async function expect503(what, fn) {
  const r = await fn();
  assert.equal(r.status, 503, `${what}: ${r.status} ${r.text ?? ''}`);
  assert.equal(r.headers['retry-after'], '1', `${what}: Retry-After`);
  const body = JSON.parse(r.text);
  assert.equal(body.error.type, 'server_error', `${what}: ${r.text}`);
  return body;
}

test('the database down: 503 + Retry-After; back: served again without a restart', { skip, timeout: 120000 }, async () => {
  const data = randomBytes(4096);
  const before = await sdk().files.create({ file: await toFile(data, 'before.bin'), purpose: 'assistants' });
  const pid = srv.pid;

  await pgPause();
  const c = rawClient(srv.origin, srv.keys['org-out']);
  await expect503('retrieve', () => c.get(`/v1/files/${before.id}`));
  await expect503('list', () => c.get('/v1/files'));
  await expect503('content', () => c.get(`/v1/files/${before.id}/content`));
  await expect503('delete', () => c.del(`/v1/files/${before.id}`));
  await expect503('usage', () => c.get('/v1/argot/usage'));
  const h = await c.get('/healthz');
  assert.equal(h.status, 503, `healthz while the database is down: ${h.status}`);
  // An upload: refused with 503 before its bytes are stored anywhere.
  let err;
  try {
    await sdk().files.create({ file: await toFile(randomBytes(1000), 'during.bin'), purpose: 'assistants' });
  } catch (e) {
    err = e;
  }
  assert.ok(err, 'an upload while the database is down must fail');
  assert.equal(err.status, 503, `upload while down: ${err.status} ${err.message}`);
  assert.equal(err.headers?.['retry-after'] ?? err.headers?.get?.('retry-after'), '1');

  // The official client retries 503s; the database comes back while it waits.
  const retrying = sdk(5).files.retrieve(before.id);
  await sleep(300);
  await pgResume();
  const got = await retrying;
  assert.equal(got.id, before.id);
  assert.equal(srv.pid, pid, 'the same argotd process');

  // Everything works again on the same process: the old file, a new one, the list.
  const body = Buffer.from(await (await sdk().files.content(before.id)).arrayBuffer());
  assert.equal(sha256(body), sha256(data), 'the file stored before the outage, byte-exact');
  const after = await sdk().files.create({ file: await toFile(randomBytes(2048), 'after.bin'), purpose: 'assistants' });
  const ids = [];
  for await (const f of sdk().files.list()) ids.push(f.id);
  assert.deepEqual(ids.sort(), [before.id, after.id].sort());
  const u = JSON.parse((await c.get('/v1/argot/usage')).text);
  assert.equal(u.used_bytes, 4096 + 2048, `usage after the outage: ${JSON.stringify(u)}`);
  assert.equal((await c.get('/healthz')).status, 200);
  assert.equal(srv.logs().match(/status=500\b/g), null, `no request answered 500:\n${srv.logs()}`);
});
