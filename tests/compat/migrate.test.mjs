// Issue 13: `argotd migrate` copies a single node's store (SQLite + its data dir) to another
// backend pair: PostgreSQL + a blob directory with ARGOT_TEST_META=pg (ctest compat_pg_migrate),
// PostgreSQL + S3 on Swift with ARGOT_TEST_BLOB=s3 as well (compat_pgs3_migrate), else another
// SQLite + blob directory (compat_migrate), and the in-memory pair (a run of the
// whole copy and its verification through a second implementation). Then argotd serves the
// destination, and the official client finds every file listed in the same order, retrieved
// with the same fields and downloaded byte-exact; the keys authenticate (a revoked one still
// does not); an Upload pending before the migration takes its last part and completes after it.
// An interrupted migration (SIGKILL in the middle of a blob) finishes when run again; a second
// run changes nothing; a foreign destination and a running source are refused.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { randomBytes, createHash } from 'node:crypto';
import { readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { OpenAI, toFile } from './lib/openai.mjs';
import { Argotd, startArgotd, pgServer, swiftServer, s3curl, sleep } from './lib/argotd.mjs';

const ORGS = ['org-m1', 'org-m2'];
const OPTS = { timeout: 30000, maxRetries: 0 };
const sha = (b) => createHash('sha256').update(b).digest('hex');
const onPg = !!pgServer();

let src; // the single node: SQLite + its data dir
const made = new Map(); // file id -> {org, sha, size}
let pendingUpload; // {org, id, part1, part2, p1}
let revokedKey;
let usageBefore = {};

const sdk = (srv, org, key = srv.keys[org]) => new OpenAI({ apiKey: key, baseURL: srv.baseURL, ...OPTS });

function argotd(args, { timeout = 120000 } = {}) {
  return new Promise((res) => {
    execFile(process.env.ARGOTD, args, { timeout, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      res({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

/** A destination: {meta, blob, srv} where srv is an Argotd that serves it. */
function destination() {
  const srv = new Argotd(onPg ? {} : { local: true });
  const meta = srv.metaURL || `sqlite:${srv.dataDir}/argot.db`;
  return { meta, blob: srv.blobURL || `file:${srv.dataDir}`, srv };
}

/** Whether the destination has a blob being written: a file in its tmp/, or on S3 a multipart
 * upload under its prefix (the S3 backend starts one when a writer opens). */
function writingBlob(dst) {
  if (!dst.blob.startsWith('s3://')) {
    const tmp = join(dst.srv.dataDir, 'tmp');
    return existsSync(tmp) && readdirSync(tmp).length > 0;
  }
  const [bucket, ...prefix] = dst.blob.slice(5).split('/');
  return /<Upload>/.test(s3curl('GET', `/${bucket}`, { uploads: '', prefix: `${prefix.join('/')}/` }));
}

const migrate = (dst, extra = []) => argotd(['migrate', '--data', src.dataDir, '--to-meta', dst.meta, '--to-blob', dst.blob, ...extra]);

async function listIds(srv, org, order) {
  const out = [];
  for await (const f of sdk(srv, org).files.list({ order, limit: 3 })) out.push(f);
  return out;
}

before(async () => {
  src = new Argotd({ local: true, flags: ['--sweep-interval', '3600'] }); // SQLite + its data dir
  for (const org of ORGS) await src.createKey(org);
  await src.start();
  for (const org of ORGS) {
    const c = sdk(src, org);
    const files = [
      [randomBytes(24 << 20), 'big.bin', 'assistants'], // many copy buffers: time to interrupt
      [Buffer.alloc(0), 'empty.txt', 'assistants'],
      [Buffer.from('{"a":1}\n'.repeat(50)), 'train €.jsonl', 'fine-tune'],
      [Buffer.from('{"custom_id":"1"}\n'), 'batch.jsonl', 'batch'], // expires in 30 days
    ];
    for (const [data, name, purpose] of files) {
      const f = await c.files.create({ file: await toFile(data, name), purpose });
      made.set(f.id, { org, sha: sha(data), size: data.length });
    }
    const exp = await c.files.create({ file: await toFile(Buffer.from('soon'), 'soon.txt'), purpose: 'assistants', expires_after: { anchor: 'created_at', seconds: 7200 } });
    made.set(exp.id, { org, sha: sha(Buffer.from('soon')), size: 4 });
    const gone = await c.files.create({ file: await toFile(Buffer.from('x'), 'gone.txt'), purpose: 'assistants' });
    await c.files.delete(gone.id);
  }
  // Uploads: one pending with a part, one completed, one cancelled.
  const c = sdk(src, 'org-m1');
  const part1 = randomBytes(300 * 1024), part2 = randomBytes(100 * 1024);
  const u = await c.uploads.create({ bytes: part1.length + part2.length, filename: 'pending.bin', mime_type: 'application/octet-stream', purpose: 'assistants' });
  const p1 = await c.uploads.parts.create(u.id, { data: await toFile(part1, 'p1') });
  pendingUpload = { org: 'org-m1', id: u.id, part1, part2, p1 };
  const done = await c.uploads.create({ bytes: 3, filename: 'done.txt', mime_type: 'text/plain', purpose: 'assistants' });
  const dp = await c.uploads.parts.create(done.id, { data: await toFile(Buffer.from('abc'), 'p') });
  const completed = await c.uploads.complete(done.id, { part_ids: [dp.id] });
  made.set(completed.file.id, { org: 'org-m1', sha: sha(Buffer.from('abc')), size: 3 });
  const cancelled = await c.uploads.create({ bytes: 5, filename: 'c.txt', mime_type: 'text/plain', purpose: 'assistants' });
  await c.uploads.cancel(cancelled.id);
  // A second key of org-m2, revoked: it must stay refused.
  revokedKey = await src.createKey('org-m2', 'to-revoke');
  await src.revokeKey(revokedKey);
  for (const org of ORGS) usageBefore[org] = (await (await fetch(`${src.baseURL}/argot/usage`, { headers: { authorization: `Bearer ${src.keys[org]}` } })).json());
});
after(async () => {
  await src?.close();
});

test('a running source is refused', async () => {
  const dst = destination();
  try {
    const r = await migrate(dst);
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(r.stderr, /in use by a running argotd/);
  } finally {
    await dst.srv.close();
  }
});

test('migrate, interrupted and resumed, then run again: the destination serves everything', { timeout: 240000 }, async () => {
  // Expected views, taken from the running source.
  const views = {};
  for (const org of ORGS) views[org] = { asc: await listIds(src, org, 'asc'), desc: await listIds(src, org, 'desc') };
  await src.stop();

  const dst = destination();
  try {
    // 1. Interrupted: SIGKILL once the first blob is being written at the destination.
    const p = spawn(process.env.ARGOTD, ['migrate', '--data', src.dataDir, '--to-meta', dst.meta, '--to-blob', dst.blob], { stdio: 'ignore' });
    const exited = new Promise((r) => p.once('exit', (code, signal) => r({ code, signal })));
    let killed = false;
    for (let i = 0; i < 20000 && p.exitCode === null; i++) {
      if (writingBlob(dst)) {
        p.kill('SIGKILL');
        killed = true;
        break;
      }
      await sleep(1);
    }
    const first = await exited;
    assert.ok(killed && first.signal === 'SIGKILL', `the first run was to be killed mid-blob (${JSON.stringify(first)})`);

    // 2. Resumed: finishes, verifies.
    const second = await migrate(dst);
    assert.equal(second.code, 0, second.stdout + second.stderr);
    assert.match(second.stdout, /^verified: every row, its bytes \(SHA-256\) and every organization's usage$/m);
    assert.match(second.stdout, /^uploads: \d+ pending copied, \d+ already there, 2 not pending \(not copied\)$/m);

    // 3. Again: nothing to copy, the same store.
    const third = await migrate(dst);
    assert.equal(third.code, 0, third.stdout + third.stderr);
    assert.match(third.stdout, /^keys: 0 copied, 3 already there$/m);
    assert.match(third.stdout, new RegExp(`^files: 0 copied, ${made.size} already there, `, 'm'));
    assert.match(third.stdout, /^parts: 0 copied, 1 already there, 307200 bytes$/m);

    // 4. argotd on the destination, with the source's keys.
    dst.srv.keys = src.keys;
    await dst.srv.start({ flags: ['--sweep-interval', '3600'] });
    for (const org of ORGS) {
      const asc = await listIds(dst.srv, org, 'asc');
      const desc = await listIds(dst.srv, org, 'desc');
      assert.deepEqual(asc, views[org].asc, `${org}: the same files, fields and order (asc)`);
      assert.deepEqual(desc, views[org].desc, `${org}: the same files, fields and order (desc)`);
      const usage = await (await fetch(`${dst.srv.baseURL}/argot/usage`, { headers: { authorization: `Bearer ${src.keys[org]}` } })).json();
      assert.equal(usage.used_bytes, usageBefore[org].used_bytes, `${org}: used bytes`);
    }
    for (const [id, f] of made) {
      const got = await sdk(dst.srv, f.org).files.retrieve(id);
      assert.equal(got.bytes, f.size);
      const body = Buffer.from(await (await sdk(dst.srv, f.org).files.content(id)).arrayBuffer());
      assert.equal(sha(body), f.sha, `${id} byte-exact`);
    }
    await assert.rejects(sdk(dst.srv, 'org-m2', revokedKey).files.list(), (e) => e.status === 401, 'the revoked key stays revoked');
    // The Upload pending before the migration: its last part, then completion, on the destination.
    const c = sdk(dst.srv, pendingUpload.org);
    const p2 = await c.uploads.parts.create(pendingUpload.id, { data: await toFile(pendingUpload.part2, 'p2') });
    const done = await c.uploads.complete(pendingUpload.id, { part_ids: [pendingUpload.p1.id, p2.id] });
    assert.equal(done.status, 'completed');
    const whole = Buffer.from(await (await c.files.content(done.file.id)).arrayBuffer());
    assert.equal(sha(whole), sha(Buffer.concat([pendingUpload.part1, pendingUpload.part2])));
    await dst.srv.stop();
    const f = await dst.srv.fsck();
    assert.equal(f.code, 0, `fsck on the destination: ${f.stdout}${f.stderr}`);
  } finally {
    await dst.srv.close();
  }
});

test('the in-memory pair: the whole copy and its verification through another implementation', async () => {
  const r = await argotd(['migrate', '--data', src.dataDir, '--to-meta', 'mem:', '--to-blob', 'mem:']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, new RegExp(`^files: ${made.size} copied, 0 already there, `, 'm'));
  assert.match(r.stdout, /^keys: 3 copied, 0 already there$/m);
  assert.match(r.stdout, /^verified: every row/m);
});

test('a destination holding another store is refused, and left as it was', async () => {
  const other = await startArgotd({ orgs: ['org-other'] });
  try {
    await sdk(other, 'org-other').files.create({ file: await toFile(Buffer.from('mine'), 'mine.txt'), purpose: 'assistants' });
    await other.stop();
    const meta = other.metaURL || `sqlite:${other.dataDir}/argot.db`;
    const r = await migrate({ meta, blob: `file:${other.dataDir}` });
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(r.stderr, /not empty and not a copy of this source/);
    await other.start();
    const ids = [];
    for await (const f of sdk(other, 'org-other').files.list()) ids.push(f.filename);
    assert.deepEqual(ids, ['mine.txt']);
  } finally {
    await other.close();
  }
});

test('usage', async () => {
  const r = await argotd(['migrate', '--data', src.dataDir]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /usage: argotd migrate/);
});

test('on PostgreSQL, the copy also goes back: PostgreSQL + files into SQLite', { skip: onPg ? false : 'needs ARGOT_TEST_META=pg' }, async () => {
  // The PostgreSQL destination of a fresh copy is the source now.
  const pgDst = destination();
  const back = new Argotd({ local: true });
  try {
    const r1 = await migrate(pgDst);
    assert.equal(r1.code, 0, r1.stdout + r1.stderr);
    const r2 = await argotd(['migrate', '--from-meta', pgDst.meta, '--from-blob', pgDst.blob, '--to-meta', `sqlite:${back.dataDir}/argot.db`, '--to-blob', `file:${back.dataDir}`]);
    assert.equal(r2.code, 0, r2.stdout + r2.stderr);
    assert.match(r2.stdout, new RegExp(`^files: ${made.size} copied, `, 'm'));
    back.keys = src.keys;
    await back.start();
    for (const [id, f] of made) {
      const body = Buffer.from(await (await sdk(back, f.org).files.content(id)).arrayBuffer());
      assert.equal(sha(body), f.sha);
    }
  } finally {
    await back.close();
    await pgDst.srv.close();
  }
});
