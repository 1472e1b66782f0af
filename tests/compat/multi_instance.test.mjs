// Issue 12: several argotd instances on one set of backends (--meta sqlite:PATH --blob file:DIR).
// What one instance writes the others serve; a restart of one never drops another's in-flight
// upload or its quota reservation; when one dies (SIGKILL), another reaps what it left (its
// reservation and its half-written blob) once its lease (--lease-seconds) runs out.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Argotd, argotdBinary, sleep, TMP_PREFIX } from './lib/argotd.mjs';
import { request, sha256 } from './lib/http.mjs';
import OpenAI, { toFile } from './lib/openai.mjs';

const LEASE = 3; // seconds; renewed every second
const ORG = 'org-multi';
const shared = mkdtempSync(join(tmpdir(), `${TMP_PREFIX}${process.pid}-shared-`));
const META = `sqlite:${join(shared, 'argot.db')}`;
const BLOBS = join(shared, 'store');
const FLAGS = ['--meta', META, '--blob', `file:${BLOBS}`, '--lease-seconds', String(LEASE), '--sweep-interval', '1'];

let key;
let a;
let b;

function argotd(args) {
  return new Promise((res, rej) =>
    execFile(argotdBinary(), args, { timeout: 30000 }, (err, stdout, stderr) =>
      err ? rej(new Error(`argotd ${args.join(' ')}: ${err.message}\n${stderr}`)) : res(stdout),
    ),
  );
}

const sdk = (srv) => new OpenAI({ apiKey: key, baseURL: srv.baseURL, maxRetries: 0, timeout: 30000 });

async function usage(srv) {
  const res = await request(srv.origin, { path: '/v1/argot/usage', key });
  assert.equal(res.status, 200, `usage: ${res.text}`);
  return res.json;
}

/** Polls fn until it returns a truthy value or timeoutMs passes (then fails with what). */
async function until(what, fn, timeoutMs = 30000) {
  const t0 = Date.now();
  for (;;) {
    const v = await fn();
    if (v) return { value: v, ms: Date.now() - t0 };
    if (Date.now() - t0 > timeoutMs) assert.fail(`${what}: not within ${timeoutMs} ms`);
    await sleep(100);
  }
}

/**
 * A POST /v1/files that declares size bytes and sends them only as fast as the test lets it:
 * sent(n) resolves once n body bytes were written; finish() sends the rest. Trickles 16 KiB
 * every 200 ms while held, so the server's --min-body-rate never cuts it off.
 */
function heldUpload(srv, size, filename) {
  const boundary = 'multi-' + randomBytes(8).toString('hex');
  const head = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nassistants\r\n` +
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${filename}"\r\n` +
      'Content-Type: application/octet-stream\r\n\r\n',
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  const data = randomBytes(size);
  let released = false;
  let written = 0;
  const req = http.request({
    host: '127.0.0.1',
    port: srv.port,
    method: 'POST',
    path: '/v1/files',
    agent: false,
    headers: {
      authorization: `Bearer ${key}`,
      'content-type': `multipart/form-data; boundary=${boundary}`,
      'content-length': head.length + size + tail.length,
    },
  });
  const done = new Promise((res, rej) => {
    req.on('response', (r) => {
      const parts = [];
      r.on('data', (d) => parts.push(d));
      r.on('end', () => {
        const text = Buffer.concat(parts).toString('utf8');
        res({ status: r.statusCode, text, json: text.startsWith('{') ? JSON.parse(text) : undefined });
      });
      r.on('error', rej);
    });
    req.on('error', rej);
  });
  const pump = (async () => {
    req.write(head);
    while (written < size) {
      const n = released ? size - written : Math.min(16384, size - written);
      if (!req.write(data.subarray(written, written + n))) await new Promise((r) => req.once('drain', r));
      written += n;
      if (!released) await sleep(200);
    }
    req.end(tail);
  })().catch(() => {});
  done.catch(() => {}); // a killed server resets the connection: the tests look at the server
  return {
    sha: sha256(data),
    size,
    done,
    async sent(n) {
      while (written < n) await sleep(20);
    },
    async finish() {
      released = true;
      await pump;
      return done;
    },
    abort() {
      req.destroy();
    },
  };
}

/** Every regular file under the blob root, relative. */
function blobFiles() {
  const out = [];
  const rec = (d, rel) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) rec(p, `${rel}${name}/`);
      else out.push(rel + name);
    }
  };
  rec(BLOBS, '');
  return out.sort();
}

before(async () => {
  key = (await argotd(['keys', 'create', '--meta', META, '--org', ORG, '--name', 'multi'])).trim();
  assert.match(key, /^sk-argot-/);
  a = new Argotd({ flags: FLAGS });
  b = new Argotd({ flags: FLAGS });
  await a.start();
  await b.start();
});

after(async () => {
  await a?.close();
  await b?.close();
  rmSync(shared, { recursive: true, force: true });
});

test('what one instance writes the other serves, lists and deletes', async () => {
  const data = Buffer.from('{"prompt":"a","completion":"b"}\n'.repeat(1000));
  const made = await sdk(a).files.create({ file: await toFile(data, 'train.jsonl'), purpose: 'fine-tune' });
  const got = await sdk(b).files.retrieve(made.id);
  assert.deepEqual(got, made, 'B retrieves what A created, field for field');
  const listed = [];
  for await (const f of sdk(b).files.list()) listed.push(f.id);
  assert.ok(listed.includes(made.id), 'B lists the file A created');
  const body = Buffer.from(await (await sdk(b).files.content(made.id)).arrayBuffer());
  assert.equal(sha256(body), sha256(data), 'B serves the bytes A stored');
  const del = await sdk(b).files.delete(made.id);
  assert.deepEqual(del, { object: 'file', deleted: true, id: made.id });
  const after = await request(a.origin, { path: `/v1/files/${made.id}`, key });
  assert.equal(after.status, 404, 'A no longer has the file B deleted');
});

test("a restart of one instance never drops the other's in-flight upload or reservation", async () => {
  const before = await usage(b);
  const SIZE = 2 << 20;
  const up = heldUpload(a, SIZE, 'held.bin');
  await up.sent(64 * 1024);
  // The reservation is the whole declared size, visible from the other instance.
  const held = await until('B sees A\'s reservation', async () => {
    const u = await usage(b);
    return u.reserved_bytes >= before.reserved_bytes + SIZE && u;
  });
  // An Uploads-API upload opened on A with one part: it lives in the shared metadata.
  const part1 = randomBytes(300 * 1024);
  const part2 = randomBytes(200 * 1024);
  const upl = await sdk(a).uploads.create({ bytes: part1.length + part2.length, filename: 'parts.bin', mime_type: 'application/octet-stream', purpose: 'assistants' });
  const p1 = await sdk(a).uploads.parts.create(upl.id, { data: await toFile(part1, 'blob') });

  const rec = await b.restart();
  assert.equal(rec.killed, false, 'B stopped on SIGTERM by itself');
  // Let B run its startup recovery and several maintenance passes (it may hold the gc lease)
  // over more than two lease lengths, while A keeps trickling.
  await sleep((2 * LEASE + 2) * 1000);
  const mid = await usage(b);
  assert.equal(mid.reserved_bytes, held.value.reserved_bytes, 'B restarted and kept A\'s reservation');

  const res = await up.finish();
  assert.equal(res.status, 200, `A's held upload: ${res.text}`);
  const body = Buffer.from(await (await sdk(b).files.content(res.json.id)).arrayBuffer());
  assert.equal(body.length, SIZE);
  assert.equal(sha256(body), up.sha, 'the upload A held across B\'s restart is intact, served by B');

  // The Uploads-API upload: second part and completion on B, after B's restart.
  const p2 = await sdk(b).uploads.parts.create(upl.id, { data: await toFile(part2, 'blob') });
  const done = await sdk(b).uploads.complete(upl.id, { part_ids: [p1.id, p2.id] });
  assert.equal(done.status, 'completed');
  const whole = Buffer.from(await (await sdk(a).files.content(done.file.id)).arrayBuffer());
  assert.equal(sha256(whole), sha256(Buffer.concat([part1, part2])), 'parts from both instances, in order');

  const end = await usage(a);
  assert.equal(end.reserved_bytes, before.reserved_bytes, 'no reservation left');
  assert.equal(end.used_bytes, before.used_bytes + SIZE + part1.length + part2.length);
});

test('when one instance dies, another reaps its reservation and its half-written blob after the lease', async () => {
  const before = await usage(b);
  const blobsBefore = blobFiles();
  const SIZE = 2 << 20;
  const up = heldUpload(a, SIZE, 'doomed.bin');
  await up.sent(256 * 1024);
  await until('B sees A\'s reservation', async () => (await usage(b)).reserved_bytes >= before.reserved_bytes + SIZE);
  await until('A\'s half-written blob is on disk', async () => blobFiles().length > blobsBefore.length);

  await a.kill();
  up.abort();
  const killedAt = Date.now();
  await until(
    'B releases the dead instance\'s reservation',
    async () => (await usage(b)).reserved_bytes === before.reserved_bytes,
    (LEASE + 20) * 1000,
  );
  const after = Date.now() - killedAt;
  // Not before the lease could have run out: A renewed it at most a second before dying.
  assert.ok(after >= (LEASE - 1) * 1000 - 200, `reaped ${after} ms after the kill, before the ${LEASE} s lease ran out`);
  const u = await usage(b);
  assert.equal(u.used_bytes, before.used_bytes, 'nothing was counted for the dead upload');
  await until('the half-written blob is removed', async () => blobFiles().join() === blobsBefore.join(), 10000);

  // The dead upload is no file; A comes back as a new instance and works.
  await a.start();
  const listed = [];
  for await (const f of sdk(a).files.list()) listed.push(f.filename);
  assert.ok(!listed.includes('doomed.bin'), 'the killed upload never became a file');
  const data = Buffer.from('back\n');
  const made = await sdk(a).files.create({ file: await toFile(data, 'back.txt'), purpose: 'assistants' });
  const got = Buffer.from(await (await sdk(b).files.content(made.id)).arrayBuffer());
  assert.equal(got.toString(), 'back\n');
});

test('without --meta and --blob the data dir is exclusive: a second argotd on it is refused', async () => {
  const one = new Argotd();
  try {
    await one.start();
    const two = new Argotd();
    two.dataDir = one.dataDir;
    await assert.rejects(two.start(), /exited during startup[\s\S]*(in use|LOCK|another argotd)/i);
    await two.close();
  } finally {
    await one.close();
  }
});

test('both instances leave no sanitizer report', () => {
  for (const s of [a, b]) assert.equal(s.sanitizerReport(), null);
});

