// Soak (issue 5): a steady mixed load (uploads of 1 KiB-2 MiB, downloads, lists, deletes, a
// share of refused requests) held for 60 s (ARGOT_LONG=1: 10 min), then idle. Afterwards
// argotd's RSS, open file descriptors and the data dir's size must come back to their baseline
// (taken after a warm-up): nothing leaks per request. Every download along the way is
// byte-exact and no request fails unexpectedly.
import { test, after } from 'node:test';
import { readFileSync } from 'node:fs';
import assert from 'node:assert/strict';
import { startArgotd, readMemory, sleep } from './lib/argotd.mjs';
import { request, rawExchange, rawHead } from './lib/http.mjs';
import { LONG, figure, rng, streamUpload, listAll, download, fdCount, dirStats } from './lib/reliability.mjs';

const DURATION_MS = (LONG ? 600 : 60) * 1000;
const CLIENTS = 8;
let srv;
after(async () => {
  if (!srv) return;
  await srv.stop();
  const san = srv.sanitizerReport();
  await srv.close();
  assert.equal(san, null, san);
});

const store = (dir) => dirStats(dir, (p) => /\/(port|port\.tmp|argot\.db-wal|argot\.db-shm|argot\.db)$/.test(p));

async function runLoad(ms, r, counters, failures) {
  const deadline = Date.now() + ms;
  const live = new Map(); // id -> {sha, size}
  let seq = 0;
  const client = async (c) => {
    const key = srv.keys[c % 2 ? 'org-soak-a' : 'org-soak-b'];
    const mine = new Map();
    while (Date.now() < deadline) {
      const op = r();
      try {
        // Each client keeps at most ~30 files, so the load is steady however long it runs (an
        // upload past that turns into a delete below).
        if ((op < 0.35 && mine.size <= 30) || mine.size === 0) {
          const size = r() < 0.1 ? r.int(512 << 10, 2 << 20) : r.int(1, 64 << 10);
          const up = streamUpload(srv.origin, key, { filename: `s${c}-${++seq}.bin`, size, seed: r.int(1, 2 ** 31) });
          const res = await up.done;
          if (res.status !== 200) failures.push(`upload -> ${res.status} ${res.text.slice(0, 200)}`);
          else mine.set(res.json.id, { sha: up.info.sha, size });
          counters.uploads++;
          counters.bytesIn += size;
        } else if (op < 0.6) {
          const id = r.pick([...mine.keys()]);
          const d = await download(srv.origin, key, id);
          if (d.status !== 200 || d.sha !== mine.get(id).sha) failures.push(`download ${id} -> ${d.status}`);
          counters.downloads++;
          counters.bytesOut += d.size;
        } else if (op < 0.75) {
          const files = await listAll(srv.origin, key);
          if (files.length < mine.size) failures.push(`list shows ${files.length} < ${mine.size}`);
          counters.lists++;
        } else if (op < 0.9 || mine.size > 30) {
          const id = r.pick([...mine.keys()]);
          const res = await request(srv.origin, { method: 'DELETE', path: `/v1/files/${id}`, key });
          if (res.status !== 200) failures.push(`delete -> ${res.status}`);
          mine.delete(id);
          counters.deletes++;
        } else {
          // Refused requests must not leak either: bad key, bad multipart, unknown id, abort.
          const k = r.int(0, 3);
          if (k === 0) await request(srv.origin, { path: '/v1/files', key: 'sk-argot-wrong' });
          else if (k === 1) await request(srv.origin, { method: 'POST', path: '/v1/files', key, headers: { 'content-type': 'multipart/form-data; boundary=x' }, body: 'garbage' });
          else if (k === 2) await request(srv.origin, { path: '/v1/files/file-nope/content', key });
          else await rawExchange(srv.port, [rawHead('POST', '/v1/files', { Authorization: `Bearer ${key}`, 'Content-Type': 'multipart/form-data; boundary=x', 'Content-Length': '100000' }), 'partial', async ({ sock }) => sock.destroy()], { timeoutMs: 2000 });
          counters.refused++;
        }
      } catch (e) {
        failures.push(String(e?.message || e));
      }
    }
    // Leave the store as it was: delete what this client uploaded.
    for (const id of mine.keys()) await request(srv.origin, { method: 'DELETE', path: `/v1/files/${id}`, key });
    for (const [id, v] of mine) live.set(id, v);
  };
  await Promise.all(Array.from({ length: CLIENTS }, (_, c) => client(c)));
}

async function settle() {
  // Keep-alive connections left by the clients close after the server's idle timeout
  // (--connection-timeout 5 below); SQLite connections stay.
  await sleep(6500);
}

// Open fds once the server is idle: the lowest of several readings, so a client connection that
// is still closing at one instant does not count (a leak would stay in every reading).
async function idleFds(pid, readings = 6) {
  let min = Infinity;
  for (let i = 0; i < readings; i++) {
    min = Math.min(min, fdCount(pid));
    await sleep(250);
  }
  return min;
}

test(`soak: ${DURATION_MS / 1000} s of mixed load; RSS, fds and data dir return to baseline`, { timeout: DURATION_MS + 90000 }, async () => {
  srv = await startArgotd({ orgs: ['org-soak-a', 'org-soak-b'], flags: ['--threads', '4', '--connection-timeout', '5', '--sweep-interval', '3600'] });
  const seed = +(process.env.ARGOT_SEED || Date.now() % 1e9);
  const r = rng(seed);
  const counters = { uploads: 0, downloads: 0, lists: 0, deletes: 0, refused: 0, bytesIn: 0, bytesOut: 0 };
  const failures = [];
  // Warm-up: every worker thread opens its SQLite connection and the allocator reaches its
  // working size; the baseline is taken after it.
  await runLoad(Math.min(8000, DURATION_MS / 4), r, counters, failures);
  await settle();
  const base = { ...(await readMemory(srv.pid)), fds: await idleFds(srv.pid), store: store(srv.dataDir) };
  const t0 = Date.now();
  const samples = [];
  const sampler = setInterval(async () => {
    try {
      samples.push({ t: Date.now() - t0, rss: (await readMemory(srv.pid)).rss, fds: fdCount(srv.pid) });
    } catch {
      /* gone */
    }
  }, 1000);
  await runLoad(DURATION_MS, r, counters, failures);
  clearInterval(sampler);
  await settle();
  const end = { ...(await readMemory(srv.pid)), fds: await idleFds(srv.pid), store: store(srv.dataDir) };
  const peakRss = Math.max(...samples.map((s) => s.rss), end.rss);
  const peakFds = Math.max(...samples.map((s) => s.fds), end.fds);
  const fig = {
    seed,
    seconds: DURATION_MS / 1000,
    clients: CLIENTS,
    ...counters,
    rssBaseMiB: +(base.rss / 2 ** 20).toFixed(1),
    rssPeakMiB: +(peakRss / 2 ** 20).toFixed(1),
    rssEndMiB: +(end.rss / 2 ** 20).toFixed(1),
    fdsBase: base.fds,
    fdsPeak: peakFds,
    fdsEnd: end.fds,
    storeBytesBase: base.store.bytes,
    storeBytesEnd: end.store.bytes,
    failures: failures.length,
  };
  figure('soak', fig);
  assert.deepEqual(failures.slice(0, 10), [], `${failures.length} failures during the soak`);
  // A leak stays open: after the load the server must hold no more fds than when idle before.
  assert.ok(end.fds <= base.fds, `open fds: ${base.fds} at baseline, ${end.fds} after the soak`);
  assert.equal(end.store.bytes, base.store.bytes, 'blob bytes on disk after every file was deleted');
  assert.equal(end.store.files, base.store.files, 'files in blobs/ and tmp/');
  // RSS: allocator caches and SQLite page caches may keep some memory; a leak per request
  // would grow with thousands of requests. Generous bound: baseline + 24 MiB. Under a
  // sanitizer RSS means nothing (ASan keeps freed memory in quarantine); there LeakSanitizer
  // checks every allocation at exit instead (the after hook fails on its report).
  const sanitized = /__asan_init|__tsan_init|__msan_init/.test(readFileSync(srv.bin, 'latin1'));
  if (!sanitized) assert.ok(end.rss <= base.rss + 24 * 2 ** 20, `RSS ${fig.rssEndMiB} MiB after vs ${fig.rssBaseMiB} MiB baseline`);
  const f = await (async () => {
    await srv.stop();
    return srv.fsck();
  })();
  assert.equal(f.code, 0, `fsck after the soak:\n${f.stdout}${f.stderr}`);
});
