// Helpers shared by the reliability tests (reliability_*.test.mjs, hostile, soak).
//
//   figure('crash', {rounds: 10, ...})  prints "# figure crash {...}" and, when ARGOT_FIGURES
//                                       names a file, appends the same JSON line to it (the
//                                       numbers quoted in docs/reliability.md come from there)
//   streamUpload(origin, key, opts)     one multipart upload whose file part is streamed from
//                                       a deterministic generator; knows whether the whole body
//                                       was written and the SHA-256 of the file bytes
//   listAll(origin, key)                every file of the org (one page of 10000)
//   fdCount(pid), dirBytes(dir)         resource probes for the soak test

import http from 'node:http';
import { appendFileSync, readdirSync, lstatSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { byteStream, request } from './http.mjs';

export const LONG = process.env.ARGOT_LONG === '1';

export function figure(name, obj) {
  const line = JSON.stringify({ figure: name, at: new Date().toISOString(), long: LONG, ...obj });
  console.log(`# figure ${line}`);
  if (process.env.ARGOT_FIGURES) {
    try {
      appendFileSync(process.env.ARGOT_FIGURES, line + '\n');
    } catch {
      /* best effort */
    }
  }
}

/** Deterministic PRNG (mulberry32) so a failing run can be replayed with ARGOT_SEED. */
export function rng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  next.int = (lo, hi) => lo + Math.floor(next() * (hi - lo + 1));
  next.pick = (arr) => arr[Math.floor(next() * arr.length)];
  return next;
}

/**
 * Streams one upload. Returns {done: Promise<{status, json, text}>, info} where info.bodySent
 * turns true once every body byte was handed to the socket and info.sha is the file's SHA-256
 * (known once the generator ran out). done rejects on a connection error.
 */
export function streamUpload(origin, key, { filename, purpose = 'assistants', size, seed = 1, chunk = 256 * 1024, timeoutMs = 60000 }) {
  const u = new URL(origin);
  const boundary = 'rel-' + randomBytes(8).toString('hex');
  const head = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\n${purpose}\r\n` +
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${filename}"\r\n` +
      'Content-Type: application/octet-stream\r\n\r\n',
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  const info = { bodySent: false, sha: null, size, filename };
  const hash = createHash('sha256');
  const done = new Promise((res, rej) => {
    const req = http.request(
      {
        host: u.hostname,
        port: u.port,
        method: 'POST',
        path: '/v1/files',
        agent: false,
        timeout: timeoutMs,
        headers: {
          authorization: `Bearer ${key}`,
          'content-type': `multipart/form-data; boundary=${boundary}`,
          'content-length': head.length + size + tail.length,
        },
      },
      (r) => {
        const parts = [];
        r.on('data', (d) => parts.push(d));
        r.on('error', rej);
        r.on('end', () => {
          const text = Buffer.concat(parts).toString('utf8');
          let json;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          res({ status: r.statusCode, json, text });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('upload timeout')));
    req.on('error', rej);
    req.on('finish', () => (info.bodySent = true));
    (async () => {
      if (!req.write(head)) await new Promise((r) => req.once('drain', r));
      for await (const b of byteStream(size, { chunk, seed, hash })) {
        if (req.destroyed) return;
        if (!req.write(b)) await drainOrClose(req);
      }
      info.sha = hash.digest('hex');
      req.end(tail);
    })().catch((e) => req.destroy(e));
  });
  return { done, info };
}

function drainOrClose(req) {
  return new Promise((r) => {
    const done = () => {
      req.off('drain', done);
      req.off('close', done);
      r();
    };
    req.on('drain', done);
    req.on('close', done);
  });
}

/** The SHA-256 of what streamUpload sends for (size, seed, chunk), without a server. */
export async function expectedSha(size, seed, chunk = 256 * 1024) {
  const hash = createHash('sha256');
  for await (const _ of byteStream(size, { chunk, seed, hash })); // eslint-disable-line no-unused-vars
  return hash.digest('hex');
}

export async function listAll(origin, key) {
  const res = await request(origin, { path: '/v1/files?limit=10000&order=asc', key });
  if (res.status !== 200) throw new Error(`list -> ${res.status} ${res.text.slice(0, 300)}`);
  if (res.json.has_more) throw new Error('list: more than 10000 files');
  return res.json.data;
}

export async function download(origin, key, id) {
  const res = await request(origin, { path: `/v1/files/${id}/content`, key, timeoutMs: 30000 });
  return { status: res.status, sha: createHash('sha256').update(res.body).digest('hex'), size: res.body.length, res };
}

export function fdCount(pid) {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** Bytes of every regular file under dir, and the entries by kind. */
export function dirStats(dir, skip = () => false) {
  let bytes = 0;
  let files = 0;
  const rec = (d) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (skip(p)) continue;
      const st = lstatSync(p);
      if (st.isDirectory()) rec(p);
      else {
        files++;
        bytes += st.size;
      }
    }
  };
  rec(dir);
  return { bytes, files };
}

/** Blob files under DIR/blobs and entries of DIR/tmp. */
export function storeFiles(dataDir) {
  const blobs = [];
  for (const fan of readdirSync(join(dataDir, 'blobs'))) {
    for (const name of readdirSync(join(dataDir, 'blobs', fan))) blobs.push(name);
  }
  const tmp = readdirSync(join(dataDir, 'tmp'));
  return { blobs, tmp };
}
