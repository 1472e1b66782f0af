// Issue 13, "Many instances": PostgreSQL 15, one blob store (ARGOT_CLUSTER_BLOB: a shared
// directory by default, or S3 on Swift), 3 argotd on them (--meta postgres://... --blob ...,
// --lease-seconds 3, --sweep-interval 1) and haproxy in front (scripts/testsrv/haproxy-up.sh).
// The official client drives the instances directly and through haproxy. Each test shows one
// item of the issue; they run in order on the same servers.
//
// Skips (exit 77) with a loud notice only where PostgreSQL or haproxy (or, for
// ARGOT_CLUSTER_BLOB=s3, Swift) cannot be installed.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Instance, argotd, blobBackend, freePorts, scratch, sleep, startHaproxy, startPostgres } from './lib/cluster.mjs';
import { content, heldUpload, request, sdk, sha256, toFile, until, uploadWorkload, usage } from './lib/work.mjs';

const LEASE = 3; // seconds, renewed every second
const SWEEP = 1;
// The quota: exactly FIT files of QUOTA_FILE bytes fit. A declared upload reserves its whole
// request (the file plus a few hundred bytes of multipart framing), so FIT requests' worth fits
// too, and a FIT + 1st file never does.
const QUOTA_FILE = 512 * 1024;
const FIT = 10;
const QUOTA = FIT * (QUOTA_FILE + 4096);
assert.ok(QUOTA < (FIT + 1) * QUOTA_FILE);

const base = scratch('multi');
const t0 = Date.now();
const blob = await blobBackend(base);
const pg = await startPostgres();
const ports = await freePorts(3);
const NAMES = ['a1', 'a2', 'a3'];
const common = ['--lease-seconds', String(LEASE), '--sweep-interval', String(SWEEP), '--max-org-bytes', String(QUOTA)];
const flagsFor = (meta, blobFlags = blob.flags, extra = []) => ['--meta', meta, ...blobFlags, ...common, ...extra];
const nodes = NAMES.map((name, i) => new Instance(name, { dir: base, port: ports[i], flags: flagsFor(pg.uri), env: blob.env }));
const [a1, a2, a3] = nodes;
// haproxy first, with no wait for its servers: the instances start together in the first test.
const lb = await startHaproxy(base, ports, { waitSeconds: 0 });
process.stderr.write(
  `cluster: PostgreSQL started in ${pg.startSeconds} s, haproxy in ${lb.startSeconds} s; blob backend ${blob.kind}; ` +
    `servers ready ${Date.now() - t0} ms after the start of the file\n`,
);

const keys = {};
async function createKey(org, name = org) {
  const { stdout } = await argotd(['keys', 'create', '--meta', pg.uri, '--org', org, '--name', name]);
  const key = stdout.trim();
  assert.match(key, /^sk-argot-/);
  return key;
}

/** Every page of GET /v1/files?limit=7... from srv (raw, so pages compare byte for byte). */
async function pages(srv, key, { order = 'desc', purpose } = {}) {
  const out = [];
  let after;
  for (;;) {
    const q = new URLSearchParams({ limit: '7', order, ...(purpose ? { purpose } : {}), ...(after ? { after } : {}) });
    const res = await request(srv.origin, { path: `/v1/files?${q}`, key });
    assert.equal(res.status, 200, `list on ${srv.origin}: ${res.text}`);
    out.push({ page: res.json, backend: res.headers['x-argot-backend'] });
    if (!res.json.has_more) return out;
    after = res.json.last_id;
  }
}

/** Every blob the metadata names (files, parts), sorted; the intents and blob tombstones. */
async function metaState() {
  const named = (await pg.psql('SELECT blob FROM files UNION ALL SELECT blob FROM parts ORDER BY 1')).split('\n').filter(Boolean);
  return {
    named,
    intents: Number(await pg.psql('SELECT count(*) FROM intents')),
    tombs: Number(await pg.psql('SELECT count(*) FROM blob_tombs')),
  };
}

/** Nothing left behind: no intent, no blob tombstone, no unfinished write, no reservation, and
 * the blobs are exactly those the metadata names. Resolves the state, or {not: ...}. */
async function clean(org) {
  const m = await metaState();
  const blobs = await blob.blobs();
  const unfinished = await blob.unfinished();
  const u = await usage(a1, keys[org]);
  const ok = m.intents === 0 && m.tombs === 0 && unfinished.length === 0 && u.reserved_bytes === 0 && blobs.join() === m.named.join();
  const state = { intents: m.intents, tombs: m.tombs, unfinished, reserved: u.reserved_bytes, blobs: blobs.length, named: m.named.length };
  return ok ? state : { not: state };
}

after(async () => {
  await Promise.all(nodes.map((n) => n.stop()));
  // A test that timed out may leave clients waiting on servers that are gone: exit anyway
  // (with the runner's verdict, which it has set by then).
  setTimeout(() => process.exit(process.exitCode ?? 0), 20000).unref();
});

test('a migration run by 3 instances starting together on an empty database succeeds', { timeout: 120000 }, async () => {
  // Round 1 is the cluster itself; rounds 2 and 3 start 3 more instances together on fresh
  // databases (blob dirs of their own), so the race is run more than once.
  const empty = async (db) => assert.equal(await pg.psql("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'", db), '0');
  await empty(pg.uri);
  await Promise.all(nodes.map((n) => n.start()));
  const rounds = [{ db: pg.uri, insts: nodes }];
  for (const r of [2, 3]) {
    const db = await pg.createDb(`argot_mig${r}`);
    await empty(db);
    const ps = await freePorts(3);
    const insts = ps.map((port, i) => new Instance(`mig${r}-${i + 1}`, { dir: base, port, flags: flagsFor(db, ['--blob', `file:${base}/blobs-mig${r}`]) }));
    await Promise.all(insts.map((n) => n.start()));
    await Promise.all(insts.map((n) => n.stop()));
    rounds.push({ db, insts });
  }
  // The reference: one instance alone on an empty database.
  const refDb = await pg.createDb('argot_ref');
  const ref = new Instance('ref', { dir: base, port: (await freePorts(1))[0], flags: flagsFor(refDb, ['--blob', `file:${base}/blobs-ref`]) });
  await ref.start();
  await ref.stop();
  assert.equal(ref.sanitizerReport(), null);
  const refVersions = await pg.psql('SELECT version FROM schema_version ORDER BY version', refDb);
  const n = refVersions.split('\n').length;
  assert.equal(refVersions, Array.from({ length: n }, (_, i) => i + 1).join('\n'), 'one schema_version row per migration, 1..N');
  const refSchema = await pg.schemaDump(refDb);
  for (const { db, insts } of rounds) {
    assert.equal(await pg.psql('SELECT version FROM schema_version ORDER BY version', db), refVersions, `${db}: every migration applied once`);
    assert.equal(await pg.schemaDump(db), refSchema, `${db}: the schema 3 instances made together is the one a single instance makes`);
    for (const i of insts) {
      assert.deepEqual(i.problems(), [], `${i.name} logged no error or warning`);
      if (!i.running) assert.equal(i.sanitizerReport(), null, `${i.name}: sanitizer report`);
      assert.ok(i.exits.every((e) => e.code === 0 && !e.killed), `${i.name} stopped cleanly: ${JSON.stringify(i.exits)}`);
    }
  }
  for (const i of nodes) assert.ok(i.running, `${i.name} is serving`);
  for (const org of ['org-list', 'org-quota', 'org-parts', 'org-keys', 'org-work', 'org-exp']) keys[org] = await createKey(org);
  for (const name of NAMES) await lb.waitServer(name, 'UP');
});

test('lists agree on every instance, directly and through haproxy', { timeout: 120000 }, async () => {
  const key = keys['org-list'];
  const client = sdk(lb, key, { maxRetries: 2 });
  // 42 uploads, 7 at a time, through haproxy: many share a created_at second.
  const made = [];
  for (let round = 0; round < 6; round++) {
    made.push(
      ...(await Promise.all(
        Array.from({ length: 7 }, async (_, j) => {
          const purpose = j % 2 ? 'user_data' : 'assistants';
          const { data: f, response } = await client.files
            .create({ file: await toFile(randomBytes(100 + j), `l${round}-${j}.bin`), purpose })
            .withResponse();
          return { ...f, backend: response.headers.get('x-argot-backend') };
        }),
      )),
    );
  }
  assert.deepEqual([...new Set(made.map((f) => f.backend))].sort(), NAMES, 'haproxy spread the uploads over the 3 instances');
  const byTime = [...made].sort((x, y) => x.created_at - y.created_at);
  for (const [order, purpose] of [['desc'], ['asc'], ['desc', 'user_data'], ['asc', 'assistants']]) {
    const want = made.filter((f) => !purpose || f.purpose === purpose).map((f) => f.id).sort();
    const walks = [];
    for (const srv of [...nodes, lb]) walks.push({ srv, pg: await pages(srv, key, { order, purpose }) });
    const [first] = walks;
    const ids = first.pg.flatMap((p) => p.page.data.map((f) => f.id));
    assert.deepEqual([...ids].sort(), want, `${order} ${purpose || ''}: every file once`);
    const times = first.pg.flatMap((p) => p.page.data.map((f) => f.created_at));
    const sorted = [...times].sort((x, y) => (order === 'asc' ? x - y : y - x));
    assert.deepEqual(times, sorted, `${order}: in created_at order`);
    for (const w of walks.slice(1)) {
      assert.deepEqual(w.pg.map((p) => p.page), first.pg.map((p) => p.page), `${order} ${purpose || ''}: ${w.srv.origin} serves the same pages as a1`);
    }
    const lbBackends = new Set(walks[3].pg.map((p) => p.backend));
    assert.ok(lbBackends.size >= 2 || walks[3].pg.length < 2, `through haproxy the pages came from several instances: ${[...lbBackends]}`);
  }
  // The official client's own pagination through haproxy (each page may hit another instance).
  const listed = [];
  for await (const f of client.files.list({ limit: 5 })) listed.push(f.id);
  assert.deepEqual([...listed].sort(), made.map((f) => f.id).sort());
  assert.ok(byTime.length === 42);
});

test('the org quota holds exactly across instances', { timeout: 120000 }, async () => {
  const key = keys['org-quota'];
  const violations = [];
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      for (const n of nodes) {
        const u = await usage(n, key);
        if (u.used_bytes > QUOTA || u.used_bytes + u.reserved_bytes > QUOTA) violations.push({ on: n.name, ...u });
      }
      await sleep(10);
    }
  })();
  const race = async (count) =>
    Promise.all(
      Array.from({ length: count }, async (_, i) => {
        const srv = nodes[i % 3];
        try {
          const f = await sdk(srv, key).files.create({ file: await toFile(randomBytes(QUOTA_FILE), `q${i}.bin`), purpose: 'assistants' });
          return { ok: true, id: f.id, on: srv.name };
        } catch (e) {
          return { ok: false, status: e.status, message: e.message, on: srv.name };
        }
      }),
    );
  const first = await race(3 * 8);
  const won = first.filter((r) => r.ok);
  assert.equal(won.length, FIT, `exactly ${FIT} of 24 concurrent ${QUOTA_FILE}-byte uploads fit a ${QUOTA}-byte quota: ${JSON.stringify(first)}`);
  for (const r of first.filter((x) => !x.ok)) {
    assert.equal(r.status, 400, JSON.stringify(r));
    assert.match(r.message, /exceeded your file storage quota/, JSON.stringify(r));
  }
  assert.equal(new Set(first.map((r) => r.on)).size, 3);
  for (const n of nodes) {
    const u = await usage(n, key);
    assert.equal(u.used_bytes, FIT * QUOTA_FILE, `${n.name}: used_bytes`);
    assert.equal(u.reserved_bytes, 0, `${n.name}: no reservation left`);
    assert.equal(u.file_count, FIT, `${n.name}: file_count`);
  }
  // Room for exactly one more: delete one on a2, then 6 race for it on all three.
  await sdk(a2, key).files.delete(won[0].id);
  const second = await race(6);
  assert.equal(second.filter((r) => r.ok).length, 1, `one of 6 fits the freed room: ${JSON.stringify(second)}`);
  sampling = false;
  await sampler;
  assert.deepEqual(violations, [], 'no instance ever saw used or used + reserved above the quota');
  const u = await usage(a3, key);
  assert.equal(u.used_bytes, FIT * QUOTA_FILE);
  assert.equal(u.reserved_bytes, 0);
});

test('an Upload whose parts went to different instances completes on a third', { timeout: 120000 }, async () => {
  const key = keys['org-parts'];
  const parts = [randomBytes(300 * 1024 + 7), randomBytes(200 * 1024), randomBytes(123 * 1024 + 1)];
  const whole = Buffer.concat(parts);
  const upl = await sdk(a1, key).uploads.create({ bytes: whole.length, filename: 'parts.bin', mime_type: 'application/octet-stream', purpose: 'assistants' });
  const sent = await Promise.all(
    [a1, a2, a1].map(async (srv, i) => sdk(srv, key).uploads.parts.create(upl.id, { data: await toFile(parts[i], `p${i}`) })),
  );
  const done = await sdk(a3, key).uploads.complete(upl.id, { part_ids: sent.map((p) => p.id) });
  assert.equal(done.status, 'completed');
  assert.equal(done.file.bytes, whole.length);
  for (const srv of [...nodes, lb]) {
    assert.equal(sha256(await content(srv, key, done.file.id)), sha256(whole), `${srv.origin ?? srv}: the parts from a1 and a2, in order`);
  }
  // Two instances completing the same Upload at once: exactly one wins.
  const u2 = await sdk(a2, key).uploads.create({ bytes: parts[1].length, filename: 'race.bin', mime_type: 'application/octet-stream', purpose: 'assistants' });
  const p = await sdk(a1, key).uploads.parts.create(u2.id, { data: await toFile(parts[1], 'p') });
  const results = await Promise.allSettled([a2, a3].map((srv) => sdk(srv, key).uploads.complete(u2.id, { part_ids: [p.id] })));
  const ok = results.filter((r) => r.status === 'fulfilled');
  assert.equal(ok.length, 1, `one completion wins: ${JSON.stringify(results.map((r) => r.reason?.message ?? r.value.status))}`);
  assert.equal(results.find((r) => r.status === 'rejected').reason.status, 400);
  const u = await usage(a1, key);
  assert.equal(u.used_bytes, whole.length + parts[1].length, 'the parts became files, counted once');
  assert.equal(u.reserved_bytes, 0);
});

test('a key revoked on one instance is refused by all at once', { timeout: 120000 }, async () => {
  const key = await createKey('org-keys', 'revokee');
  const other = keys['org-keys'];
  for (const srv of [...nodes, lb, lb, lb]) {
    assert.equal((await request(srv.origin, { path: '/v1/files?limit=1', key })).status, 200, 'the key works everywhere first');
  }
  const { stdout } = await argotd(['keys', 'list', '--meta', pg.uri]);
  const id = stdout.split('\n').find((l) => /\brevokee\b/.test(l))?.match(/\bkey_\S+/)?.[0];
  assert.ok(id, `keys list names the key: ${stdout}`);
  await argotd(['keys', 'revoke', '--meta', pg.uri, id]);
  // No wait: the next request on each instance (and on each behind haproxy) is refused.
  for (const srv of [...nodes, lb, lb, lb]) {
    const res = await request(srv.origin, { path: '/v1/files?limit=1', key });
    assert.equal(res.status, 401, `${srv.origin}: ${res.text}`);
    assert.equal(res.json.error.code, 'invalid_api_key');
    assert.equal((await request(srv.origin, { path: '/v1/files?limit=1', key: other })).status, 200, 'the org\'s other key still works');
  }
  await assert.rejects(sdk(a3, key).files.list(), (e) => e.status === 401);
  assert.match((await argotd(['keys', 'list', '--meta', pg.uri])).stdout, new RegExp(`${id}.*revoked`));
});

test('an instance SIGKILLed mid-upload loses nothing acknowledged and leaves nothing behind', { timeout: 120000 }, async () => {
  const key = keys['org-work'];
  const work = uploadWorkload(lb, key, { workers: 6 });
  const doomed = []; // intents a2 holds when it dies: [{blob, via}]
  const survivors = []; // held uploads through haproxy on a1 or a3: they must complete
  const held = []; // every held upload, aborted at the end whatever happens
  let viaLb;
  try {
    await until('20 uploads acknowledged', () => work.acked.length >= 20, 60000);
    // Uploads held mid-body (the workload's files are at most 8 KiB; held upload i declares
    // SIZE + i bytes under a name of the same length, so its intent is the one reserving its
    // request's length): one sent to a2 directly, then more through haproxy until one lands on
    // a2 (the others, on a1 and a3, must complete later).
    const SIZE = 200 * 1024;
    const hold = (port, i) => {
      const h = heldUpload(port, key, SIZE + i, `doomed-${String(i).padStart(2, '0')}.bin`);
      held.push(h);
      return h;
    };
    const intentOf = async (h) => {
      const rows = (await until('the held upload\'s intent', () => pg.psql(`SELECT blob, owner FROM intents WHERE reserved = ${h.declared}`))).value;
      assert.equal(rows.split('\n').length, 1, `one intent reserves ${h.declared} bytes: ${rows}`);
      return rows.split('|');
    };
    const direct = hold(a2.port, 0);
    await direct.sent(64 * 1024);
    const [blobDirect, ownerDirect] = await intentOf(direct);
    assert.equal(ownerDirect, a2.owner(), 'the direct upload\'s intent is owned by a2');
    doomed.push({ blob: blobDirect, via: 'direct', name: 'doomed-00.bin' });
    for (let i = 1; i <= 12 && !viaLb; i++) {
      const h = hold(lb.port, i);
      await h.sent(64 * 1024);
      const [blobKey, owner] = await intentOf(h);
      if (owner === a2.owner()) {
        viaLb = h;
        doomed.push({ blob: blobKey, via: 'haproxy', name: `doomed-${String(i).padStart(2, '0')}.bin` });
      } else survivors.push(h);
    }
    assert.ok(viaLb, 'one of 12 held uploads through haproxy went to a2');
    assert.ok((await usage(a1, key)).reserved_bytes >= 2 * SIZE, 'a1 sees the reservations a2 holds');
    if (blob.kind === 'file') {
      // (S3 buffers the first part in memory: nothing is in the bucket yet.)
      for (const d of doomed) await until(`the ${d.via} upload is half-written`, async () => (await blob.unfinished()).some((n) => n.startsWith(d.blob)));
    }
    const ackedBefore = work.acked.length;
    await a2.kill();
    direct.abort();
    const lost = await Promise.race([viaLb.done.catch((e) => ({ error: e.message })), sleep(20000).then(() => ({ timeout: true }))]);
    assert.notEqual(lost.status, 200, `the upload through haproxy cut by the kill is not acknowledged: ${JSON.stringify(lost)}`);
    viaLb.abort();
    await lb.waitServer('a2', 'DOWN');
    for (const h of survivors) {
      const r = await h.finish();
      assert.equal(r.status, 200, `a held upload on a surviving instance completes: ${r.text}`);
      work.acked.push({ id: JSON.parse(r.text).id, sha: h.sha, bytes: h.size, backend: 'held' });
    }
    await until('20 more uploads acknowledged after the kill', () => work.acked.length >= ackedBefore + 20, 60000);
  } finally {
    for (const h of held) h.abort();
    await work.stop();
  }
  assert.deepEqual(work.failed, [], 'every upload of the workload was acknowledged in the end (the client retries)');
  const acked = work.acked;
  assert.ok(acked.some((f) => f.backend === 'a2'), 'a2 took part before it died');
  const per = {};
  for (const f of acked) per[f.backend] = (per[f.backend] || 0) + 1;
  process.stderr.write(`cluster: ${acked.length} uploads acknowledged (${JSON.stringify(per)}); a2 died holding ${doomed.length} uploads; ${survivors.length} held on a1/a3 completed\n`);

  // The leader's next pass after a2's lease runs out: nothing of the dead upload is left.
  const t = await until('nothing left behind', () => clean('org-work'), (LEASE + 30) * 1000, 200);
  for (const d of doomed) {
    assert.ok(!(await blob.blobs()).includes(d.blob) && !(await blob.unfinished()).some((n) => n.startsWith(d.blob)), `the ${d.via} upload's blob is gone`);
  }
  process.stderr.write(`cluster: a2's leftovers reaped ${t.ms} ms after the workload stopped: ${JSON.stringify(t.value)}\n`);

  // Every acknowledged upload is listed and byte-exact on every instance, a2 included once back.
  await a2.start();
  await lb.waitServer('a2', 'UP');
  const listedOn = async (srv) => {
    const all = [];
    for await (const f of sdk(srv, key).files.list({ limit: 100 })) all.push(f);
    return all;
  };
  const reference = await listedOn(a1);
  for (const srv of [...nodes, lb]) {
    const all = await listedOn(srv);
    assert.deepEqual(all, reference, `${srv.origin}: the same list as a1`);
    const ids = new Set(all.map((f) => f.id));
    for (const f of acked) assert.ok(ids.has(f.id), `${srv.origin} lists acknowledged ${f.id}`);
    const doomedNames = doomed.map((d) => d.name);
    assert.ok(!all.some((f) => doomedNames.includes(f.filename)), 'the killed uploads never became files');
  }
  for (const srv of [...nodes, lb]) {
    for (const f of acked) assert.equal(sha256(await content(srv, key, f.id)), f.sha, `${srv.origin}: ${f.id} byte-exact`);
  }
  const u = await usage(a2, key);
  assert.equal(u.used_bytes, reference.reduce((s, f) => s + f.bytes, 0), 'used_bytes is the sum of the listed files');
  assert.equal(u.reserved_bytes, 0);
});

test('an expired file is reaped once, by the gc leader, and no instance serves it after', { timeout: 120000 }, async () => {
  const key = keys['org-exp'];
  const data = randomBytes(4096);
  const f = await sdk(lb, key).files.create({ file: await toFile(data, 'exp.bin'), purpose: 'assistants', expires_after: { anchor: 'created_at', seconds: 3600 } });
  assert.equal(f.expires_at, f.created_at + 3600);
  for (const srv of nodes) assert.equal(sha256(await content(srv, key, f.id)), sha256(data), `${srv.name} serves it before expiry`);
  const blobKey = await pg.psql(`SELECT blob FROM files WHERE id = '${f.id}'`);
  assert.ok((await blob.blobs()).includes(blobKey));
  // The three restart with the clock moved on (--clock-offset, the same on every instance) so
  // that the file expires a few seconds from now; the database's clock stays theirs.
  await Promise.all(nodes.map((n) => n.stop()));
  const offset = f.expires_at - Math.floor(Date.now() / 1000) - 4;
  const expiresReal = f.expires_at - offset; // local seconds
  await Promise.all(nodes.map((n) => n.start({ flags: flagsFor(pg.uri, blob.flags, ['--clock-offset', String(offset)]) })));
  const since = Object.fromEntries(nodes.map((n) => [n.name, n.logStart]));
  const served = [];
  await until(
    'the blob is removed and every instance answers 404',
    async () => {
      const now = Date.now() / 1000;
      const st = await Promise.all(nodes.map(async (n) => (await request(n.origin, { path: `/v1/files/${f.id}`, key })).status));
      nodes.forEach((n, i) => served.push({ on: n.name, at: now, status: st[i] }));
      return !(await blob.blobs()).includes(blobKey) && st.every((s) => s === 404) && now > expiresReal + 1;
    },
    60000,
    100,
  );
  const late = served.filter((s) => s.status === 200 && s.at >= expiresReal + 1);
  assert.deepEqual(late, [], 'no instance served the file a second after it expired');
  assert.ok(served.every((s) => s.status === 200 || s.status === 404), JSON.stringify(served.filter((s) => s.status !== 200 && s.status !== 404)));
  for (const srv of [...nodes, lb]) {
    assert.equal((await request(srv.origin, { path: `/v1/files/${f.id}/content`, key })).status, 404);
    const ids = [];
    for await (const x of sdk(srv, key).files.list()) ids.push(x.id);
    assert.ok(!ids.includes(f.id));
  }
  assert.equal(await pg.psql(`SELECT count(*) FROM files WHERE id = '${f.id}'`), '0');
  assert.equal(await pg.psql(`SELECT count(*) FROM blob_tombs WHERE blob = '${blobKey}'`), '0');
  await sleep(3 * SWEEP * 1000); // more passes by everyone: none reaps it again
  const counts = nodes.map((n) => [...n.logs().slice(since[n.name]).matchAll(/msg=swept expired=(\d+)/g)].reduce((s, m) => s + Number(m[1]), 0));
  assert.equal(counts.filter((c) => c > 0).length, 1, `exactly one instance reaped it: ${counts}`);
  assert.equal(counts.reduce((a, b) => a + b), 1, `one file reaped, once: ${counts}`);
  // ... and that instance is the gc leader (the owner of the "gc" lease).
  const leader = await pg.psql("SELECT owner FROM leases WHERE name = 'gc'");
  const reaper = nodes[counts.findIndex((c) => c === 1)];
  assert.equal(reaper.owner(), leader, `${reaper.name} holds the gc lease`);
});

test('after a clean stop no instance logged an error or a sanitizer report, and nothing is left', { timeout: 120000 }, async () => {
  await Promise.all(nodes.map((n) => n.stop()));
  for (const n of nodes) {
    assert.ok(n.exits.at(-1).code === 0 && !n.exits.at(-1).killed, `${n.name} stopped cleanly`);
    assert.equal(n.sanitizerReport(), null, `${n.name}: sanitizer report (LeakSanitizer reports at exit)`);
    assert.deepEqual(n.problems().filter((l) => /level=error/.test(l)), [], `${n.name}: errors logged`);
  }
  const m = await metaState();
  assert.equal(m.intents, 0);
  assert.deepEqual(await blob.unfinished(), []);
  assert.deepEqual(await blob.blobs(), m.named, 'the blobs are exactly the ones the metadata names');
  const r = await argotd(['fsck', '--meta', pg.uri, ...blob.flags], { env: { ...process.env, ...blob.env } }).catch((e) => e);
  assert.equal(r.code ?? 0, 0, `argotd fsck: ${r.stdout}${r.stderr}`);
});
