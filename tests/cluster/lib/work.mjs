// Clients of the multi-instance tests: the official `openai` client on any origin, a held
// upload (raw HTTP, sent as slowly as the test wants), a concurrent upload workload, polling.

import assert from 'node:assert/strict';
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import OpenAI, { toFile } from '../../compat/lib/openai.mjs';
import { request, sha256 } from '../../compat/lib/http.mjs';
import { sleep } from './cluster.mjs';

export { OpenAI, toFile, request, sha256 };

/** The official client against srv (an Instance or haproxy: anything with baseURL). */
export const sdk = (srv, key, { maxRetries = 0, timeout = 60000 } = {}) => new OpenAI({ apiKey: key, baseURL: srv.baseURL, maxRetries, timeout });

/** GET /v1/argot/usage on srv. */
export async function usage(srv, key) {
  const res = await request(srv.origin, { path: '/v1/argot/usage', key });
  assert.equal(res.status, 200, `usage on ${srv.origin}: ${res.text}`);
  return res.json;
}

/** The bytes of file id from srv (through the official client). */
export async function content(srv, key, id) {
  return Buffer.from(await (await sdk(srv, key).files.content(id)).arrayBuffer());
}

/** Polls fn until it returns a truthy value (resolved with {value, ms}) or fails after timeoutMs. */
export async function until(what, fn, timeoutMs = 30000, stepMs = 100) {
  const t0 = Date.now();
  let last;
  for (;;) {
    last = await fn();
    if (last && !last.not) return { value: last, ms: Date.now() - t0 };
    if (Date.now() - t0 > timeoutMs) assert.fail(`${what}: not within ${timeoutMs} ms (last: ${JSON.stringify(last)})`);
    await sleep(stepMs);
  }
}

/**
 * A POST /v1/files to port that declares size bytes, sends the first burst bytes at once and
 * then only 2 KiB every 500 ms (above the server's default --min-body-rate, 1 KiB/s) until
 * finish() sends the rest. sent(n) resolves once n body bytes were written.
 */
export function heldUpload(port, key, size, filename, { burst = 64 * 1024 } = {}) {
  const boundary = 'cluster-' + randomBytes(8).toString('hex');
  const head = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nassistants\r\n` +
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${filename}"\r\n` +
      'Content-Type: application/octet-stream\r\n\r\n',
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  const data = randomBytes(size);
  let released = false;
  let written = 0;
  let closed = false;
  const req = http.request({
    host: '127.0.0.1',
    port,
    method: 'POST',
    path: '/v1/files',
    agent: false,
    headers: {
      authorization: `Bearer ${key}`,
      'content-type': `multipart/form-data; boundary=${boundary}`,
      'content-length': head.length + size + tail.length,
    },
  });
  req.on('close', () => (closed = true));
  const done = new Promise((res, rej) => {
    req.on('response', (r) => {
      const parts = [];
      r.on('data', (d) => parts.push(d));
      r.on('end', () => res({ status: r.statusCode, text: Buffer.concat(parts).toString('utf8') }));
      r.on('error', rej);
    });
    req.on('error', rej);
  });
  done.catch(() => {}); // a killed server resets the connection: the tests look at the servers
  const drained = () => new Promise((r) => (closed ? r() : (req.once('drain', r), req.once('close', r))));
  const pump = (async () => {
    req.write(head);
    while (written < size && !closed) {
      const n = released ? size - written : Math.min(written < burst ? burst - written : 2048, size - written);
      if (!req.write(data.subarray(written, written + n))) await drained();
      written += n;
      if (!released && written >= burst) await sleep(500);
    }
    if (!closed) req.end(tail);
  })().catch(() => {});
  return {
    sha: sha256(data),
    size,
    declared: head.length + size + tail.length, // what argotd reserves for it
    done,
    /** Resolves once n body bytes were written; rejects if the connection closed first. */
    async sent(n) {
      while (written < n) {
        if (closed) throw new Error(`${filename}: the connection closed after ${written} bytes: ${JSON.stringify(await done.catch((e) => e.message))}`);
        await sleep(20);
      }
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

/**
 * Concurrent uploads through srv with the official client (retries on, as an application would
 * run it), workers at a time, until stop() is called. Each acknowledged upload (a 200 with a
 * file object) is kept as {id, sha, bytes, backend}; each call that failed after its retries as
 * {error}. Sizes 1..maxBytes, random; each worker pauses pauseMs between two uploads.
 */
export function uploadWorkload(srv, key, { workers = 6, maxBytes = 8192, pauseMs = 100, prefix = 'w' } = {}) {
  const client = sdk(srv, key, { maxRetries: 6 });
  const acked = [];
  const failed = [];
  let stopping = false;
  const loops = Array.from({ length: workers }, async (_, w) => {
    for (let i = 0; !stopping; i++) {
      const data = randomBytes(1 + Math.floor(Math.random() * maxBytes));
      try {
        const { data: f, response } = await client.files
          .create({ file: await toFile(data, `${prefix}${w}-${i}.bin`), purpose: 'assistants' })
          .withResponse();
        acked.push({ id: f.id, sha: sha256(data), bytes: data.length, backend: response.headers.get('x-argot-backend') });
      } catch (e) {
        failed.push({ error: `${e.status || ''} ${e.message}` });
      }
      await sleep(pauseMs);
    }
  });
  return {
    acked,
    failed,
    async stop() {
      stopping = true;
      await Promise.all(loops);
    },
  };
}
