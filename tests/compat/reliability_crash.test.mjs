// Crash safety (issue 5): argotd runs a concurrent mix of uploads (small and large), deletes,
// lists and downloads for two organizations and is killed with SIGKILL at a random moment,
// round after round, on the same data dir. After every kill:
//   1. `argotd fsck` (report only) may find what a crash legitimately leaves (stale intents,
//      orphan blobs, temporaries, reservations) but never a file row without its bytes, a size
//      mismatch or wrong used_bytes;
//   2. after the restart (startup sweep), every upload answered 200 is listed and downloads
//      byte-exact (SHA-256); nothing refused or never fully sent is visible (an upload whose
//      whole body was sent but whose answer the kill cut off may be present, byte-exact, or
//      absent); no temporary and no unreferenced blob is left on disk;
//   3. after a clean stop, `argotd fsck` is clean: each org's used_bytes equals the sum of its
//      files and no blob, intent or temporary is left over.
// Default: 10 rounds within ~80 s. ARGOT_LONG=1: 100 rounds (bounded to 15 min).
// ARGOT_SEED=n replays a run's random choices (the kill timing still depends on the machine).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startArgotd, sleep } from './lib/argotd.mjs';
import { request } from './lib/http.mjs';
import { LONG, figure, rng, streamUpload, listAll, download, storeFiles } from './lib/reliability.mjs';

const ROUNDS = LONG ? 100 : 10;
const BUDGET_MS = LONG ? 15 * 60000 : 80000;
const WORKERS = 6;
const MAX_LIVE = 40;
const SEED = +(process.env.ARGOT_SEED || Date.now() % 1e9);
const ORGS = ['org-crash-a', 'org-crash-b'];
const CRASH_OK = new Set(['stale-intent', 'orphan-blob', 'temp-file', 'reserved-mismatch']);

let srv;
after(async () => {
  if (!srv) return;
  await srv.stop();
  const san = srv.sanitizerReport();
  await srv.close();
  assert.equal(san, null, `sanitizer report from argotd:\n${san}`);
});

test(`SIGKILL under load, ${ROUNDS} rounds: nothing acknowledged is lost, nothing else appears`, { timeout: BUDGET_MS + 60000 }, async (t) => {
  const r = rng(SEED);
  t.diagnostic(`seed ${SEED}`);
  srv = await startArgotd({ orgs: ORGS, flags: ['--threads', '4', '--sweep-interval', '3600'] });
  const key = (org) => srv.keys[org];

  const live = new Map(); // id -> {org, sha, size, filename}
  const refused = new Set(); // filenames answered non-200 or never fully sent
  const stats = {
    rounds: 0, acked: 0, deletes: 0, lists: 0, downloads: 0, inflightAtKill: 0, bytesInflightAtKill: 0,
    adoptedUnanswered: 0, droppedUnanswered: 0, deleteUnanswered: 0, fsckAfterKill: {}, ackedBytes: 0,
  };
  const t0 = Date.now();
  let seq = 0;

  for (let round = 1; round <= ROUNDS && (Date.now() - t0 < BUDGET_MS || round <= 3); round++) {
    let stop = false;
    const maybe = new Map(); // filename -> {org, sha, size}: body sent, answer cut off
    const inflight = new Map(); // filename -> info
    const deleting = new Map(); // id -> entry (answer pending)
    const failures = [];

    const worker = async (w) => {
      while (!stop) {
        const op = r();
        const ids = [...live.keys()].filter((id) => !deleting.has(id));
        if (op < (live.size > MAX_LIVE ? 0.35 : 0.6) || ids.length === 0) {
          const org = r.pick(ORGS);
          const large = r() < 0.2;
          const size = large ? r.int(1 << 20, 6 << 20) : r.int(0, 64 << 10);
          const filename = `r${round}-w${w}-${++seq}.bin`;
          const up = streamUpload(srv.origin, key(org), { filename, size, seed: r.int(1, 2 ** 31) });
          inflight.set(filename, up.info);
          try {
            const res = await up.done;
            inflight.delete(filename);
            if (res.status === 200) {
              assert.equal(res.json.bytes, size);
              live.set(res.json.id, { org, sha: up.info.sha, size, filename });
              stats.acked++;
              stats.ackedBytes += size;
            } else refused.add(filename);
          } catch {
            inflight.delete(filename);
            if (up.info.bodySent && up.info.sha) maybe.set(filename, { org, sha: up.info.sha, size });
            else refused.add(filename);
          }
        } else if (op < 0.8) {
          const id = r.pick(ids);
          const e = live.get(id);
          deleting.set(id, e);
          try {
            const res = await request(srv.origin, { method: 'DELETE', path: `/v1/files/${id}`, key: key(e.org) });
            if (res.status === 200) {
              live.delete(id);
              stats.deletes++;
            } else failures.push(`DELETE ${id} -> ${res.status} ${res.text.slice(0, 200)}`);
            deleting.delete(id);
          } catch {
            /* killed: resolved after the restart */
          }
        } else if (op < 0.9) {
          const org = r.pick(ORGS);
          const before = ids.filter((id) => live.get(id).org === org);
          try {
            const listed = new Set((await listAll(srv.origin, key(org))).map((f) => f.id));
            stats.lists++;
            for (const id of before) {
              if (live.has(id) && !deleting.has(id) && !listed.has(id)) failures.push(`list of ${org} misses acknowledged ${id}`);
            }
          } catch {
            /* killed */
          }
        } else {
          const id = r.pick(ids);
          const e = live.get(id);
          try {
            const d = await download(srv.origin, key(e.org), id);
            if (d.status === 200) {
              stats.downloads++;
              if (d.sha !== e.sha) failures.push(`download of ${id} differs (SHA-256) during the load`);
            } else if (!(d.status === 404 && (deleting.has(id) || !live.has(id)))) {
              failures.push(`GET ${id}/content -> ${d.status}`);
            }
          } catch {
            /* killed */
          }
        }
      }
    };

    const workers = Array.from({ length: WORKERS }, (_, i) => worker(i).catch((e) => failures.push(String(e?.stack || e))));
    await sleep(r.int(300, 2000));
    stop = true;
    stats.inflightAtKill += inflight.size;
    for (const info of inflight.values()) stats.bytesInflightAtKill += info.size;
    await srv.kill();
    await Promise.all(workers);
    assert.deepEqual(failures, [], `round ${round}: failures during the load`);

    // 1. fsck on the crashed data dir
    const f1 = await srv.fsck();
    assert.ok(f1.code === 0 || f1.code === 1, `round ${round}: fsck exit ${f1.code}: ${f1.stderr}`);
    for (const p of f1.problems) {
      assert.ok(CRASH_OK.has(p.kind), `round ${round}: fsck after SIGKILL found a real problem: ${p.line}\n${f1.stdout}`);
      stats.fsckAfterKill[p.kind] = (stats.fsckAfterKill[p.kind] || 0) + 1;
    }

    // 2. restart: the startup sweep runs, then everything is checked through the API
    await srv.start();
    let listedTotal = 0;
    for (const org of ORGS) {
      const listed = new Map((await listAll(srv.origin, key(org))).map((f) => [f.id, f]));
      listedTotal += listed.size;
      for (const [id, e] of deleting) {
        if (e.org !== org) continue;
        stats.deleteUnanswered++;
        if (!listed.has(id)) live.delete(id);
      }
      for (const [id, e] of live) {
        if (e.org !== org) continue;
        const f = listed.get(id);
        assert.ok(f, `round ${round}: acknowledged upload ${e.filename} (${id}, ${e.size} bytes) is not listed after SIGKILL`);
        assert.equal(f.bytes, e.size, `round ${round}: ${id} size`);
        assert.equal(f.filename, e.filename, `round ${round}: ${id} filename`);
      }
      for (const [id, f] of listed) {
        if (live.has(id)) continue;
        const m = maybe.get(f.filename);
        assert.ok(m && m.org === org && m.size === f.bytes, `round ${round}: unacknowledged file visible: ${JSON.stringify(f)} (refused: ${refused.has(f.filename)})`);
        live.set(id, { org, sha: m.sha, size: m.size, filename: f.filename });
        maybe.delete(f.filename);
        stats.adoptedUnanswered++;
      }
    }
    stats.droppedUnanswered += maybe.size;
    for (const [id, e] of live) {
      const d = await download(srv.origin, key(e.org), id);
      assert.equal(d.status, 200, `round ${round}: content of ${id}: ${d.res.text.slice(0, 200)}`);
      assert.equal(d.size, e.size, `round ${round}: ${id} downloaded size`);
      assert.equal(d.sha, e.sha, `round ${round}: ${id} bytes differ after SIGKILL (SHA-256)`);
    }
    const disk = storeFiles(srv.dataDir);
    assert.deepEqual(disk.tmp, [], `round ${round}: temporaries survived the startup sweep`);
    assert.equal(disk.blobs.length, listedTotal, `round ${round}: ${disk.blobs.length} blobs on disk for ${listedTotal} files`);

    // 3. clean stop: fsck must be spotless (usage == sum of files, nothing left over)
    await srv.stop();
    const f2 = await srv.fsck();
    assert.equal(f2.code, 0, `round ${round}: fsck after restart + clean stop:\n${f2.stdout}${f2.stderr}`);
    await srv.start();
    stats.rounds = round;
  }

  figure('crash', { seed: SEED, ...stats, liveAtEnd: live.size, seconds: Math.round((Date.now() - t0) / 1000), bytesLost: 0 });
  assert.ok(stats.rounds >= 3, 'at least 3 rounds ran');
});

test('argotd fsck: finds a lost blob, an orphan and a temporary; --repair fixes them; refuses a live data dir', async () => {
  const { writeFileSync, unlinkSync, mkdirSync, readdirSync } = await import('node:fs');
  const { join } = await import('node:path');
  const s = await startArgotd({ orgs: ['org-fsck'] });
  try {
    const key = s.keys['org-fsck'];
    const ups = [];
    for (let i = 0; i < 3; i++) ups.push(await streamUpload(s.origin, key, { filename: `f${i}.bin`, size: 1000 + i, seed: i + 1 }).done);
    for (const u of ups) assert.equal(u.status, 200);
    const live = await s.fsck();
    assert.equal(live.code, 2, `fsck next to a running server must refuse: ${live.stderr}`);
    await s.stop();
    assert.equal((await s.fsck()).code, 0);
    // Damage: remove one blob, add an orphan and a temporary.
    const fans = readdirSync(join(s.dataDir, 'blobs'));
    const victimFan = fans[0];
    const victimBlob = readdirSync(join(s.dataDir, 'blobs', victimFan))[0];
    unlinkSync(join(s.dataDir, 'blobs', victimFan, victimBlob));
    mkdirSync(join(s.dataDir, 'blobs', 'ab'), { recursive: true, mode: 0o700 });
    writeFileSync(join(s.dataDir, 'blobs', 'ab', 'ab' + '0'.repeat(30)), 'orphan', { mode: 0o600 });
    writeFileSync(join(s.dataDir, 'tmp', 'cd' + '1'.repeat(30) + '.tmp'), 'temp', { mode: 0o600 });
    const f = await s.fsck();
    assert.equal(f.code, 1);
    const kinds = f.problems.map((p) => p.kind).sort();
    assert.deepEqual(kinds, ['missing-blob', 'orphan-blob', 'temp-file'], f.stdout);
    assert.equal(f.problems.find((p) => p.kind === 'missing-blob').blob, victimBlob);
    const rep = await s.fsck({ repair: true });
    assert.equal(rep.code, 1);
    assert.match(rep.stderr, /WARNING: deleting file row .* bytes are lost/);
    const again = await s.fsck();
    assert.equal(again.code, 0, again.stdout + again.stderr);
    await s.start();
    const listed = await listAll(s.origin, key);
    assert.equal(listed.length, 2, 'the row whose blob was lost is gone; the other two remain');
    for (const x of listed) assert.equal((await download(s.origin, key, x.id)).status, 200);
  } finally {
    await s.close();
  }
});
