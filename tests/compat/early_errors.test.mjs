// An over-limit upload must read as a 413, not as a network failure (issue 9): argotd answers
// as soon as it knows (the declared Content-Length, or the file bytes passing
// --max-file-bytes), keeps reading and dropping the rest of the body up to
// --max-discard-bytes so a client that is still sending can read the answer, then closes
// gracefully. Checked with both pinned official clients (openai 6.x on this node, 7.x on
// Node 22: lib/clients.mjs), curl with and without chunked encoding, and a bound on what the
// server reads from a client that keeps sending (its /proc/PID/io rchar).
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync, readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startArgotd } from './lib/argotd.mjs';
import { CLIENTS, runScenario } from './lib/clients.mjs';
import { rawExchange, rawHead } from './lib/http.mjs';

const LIMIT = 1 << 20;
let srv;
let key;
let dir;

before(async () => {
  srv = await startArgotd({ orgs: ['org-413'], flags: ['--max-file-bytes', String(LIMIT), '--max-discard-bytes', String(16 << 20)] });
  key = srv.keys['org-413'];
  dir = mkdtempSync(join(tmpdir(), 'argot-413-'));
});
after(async () => {
  rmSync(dir, { recursive: true, force: true });
  await srv?.stop();
  const san = srv?.sanitizerReport();
  await srv?.close();
  assert.equal(san, null, san);
});

const readChars = (pid) => Number(readFileSync(`/proc/${pid}/io`, 'utf8').match(/^rchar: (\d+)/m)[1]);

describe('the official clients see the 413', () => {
  for (const c of CLIENTS) {
    for (const factor of [1.01, 2, 10, 40]) {
      test(`${factor}x the limit -> APIError 413 "File is too large." (${c.name})`, async () => {
        const r = await runScenario(c, 'too_large.mjs', { baseURL: srv.baseURL, apiKey: key, bytes: Math.round(LIMIT * factor) });
        assert.ok(!r.accepted, 'the upload was accepted');
        assert.equal(r.status, 413, `not an HTTP error but ${r.name}: ${r.message}`);
        assert.match(r.message, /File is too large\. Maximum content size limit \(1048576\) exceeded/);
        assert.equal(r.type, 'server_error');
      });
    }
    test(`with its default retries it still ends on the 413, not retried (${c.name})`, async () => {
      const r = await runScenario(c, 'too_large.mjs', { baseURL: srv.baseURL, apiKey: key, bytes: 3 * LIMIT, maxRetries: 2 });
      assert.equal(r.status, 413, r.message);
    });
  }
});

describe('curl sees the 413', () => {
  const curl = (args) => new Promise((res) => execFile('curl', args, { maxBuffer: 1 << 20 }, (e, stdout, stderr) => res({ code: e ? e.code : 0, stdout, stderr })));
  for (const factor of [1.01, 2, 10]) {
    for (const chunked of [false, true]) {
      test(`${factor}x the limit${chunked ? ', chunked' : ''} -> 413 JSON`, async () => {
        const path = join(dir, `big-${factor}.bin`);
        writeFileSync(path, Buffer.alloc(Math.round(LIMIT * factor), 0x62));
        const r = await curl(['-sS', '-o', '-', '-w', '\n%{http_code}', `${srv.baseURL}/files`, '-H', `Authorization: Bearer ${key}`,
          ...(chunked ? ['-H', 'Transfer-Encoding: chunked'] : []), '-F', 'purpose=assistants', '-F', `file=@${path}`]);
        assert.equal(r.code, 0, `curl failed (${r.code}): ${r.stderr}`);
        const lines = r.stdout.trim().split('\n');
        assert.equal(lines.pop(), '413', r.stdout);
        assert.match(JSON.parse(lines.join('\n')).error.message, /^File is too large\./);
      });
    }
  }
});

describe('bounded reading', () => {
  test('a client that keeps sending 200 MiB makes the server read at most --max-discard-bytes more', async () => {
    const total = 200 << 20;
    const before = readChars(srv.pid);
    const piece = Buffer.alloc(1 << 20, 0x63);
    const r = await rawExchange(srv.port, (async function* () {
      yield rawHead('POST', '/v1/files', { Authorization: `Bearer ${key}`, 'Content-Type': 'multipart/form-data; boundary=b', 'Content-Length': String(total) });
      for (let sent = 0; sent < total; sent += piece.length) yield piece;
    })(), { count: 2, timeoutMs: 20000 });
    const read = readChars(srv.pid) - before;
    assert.equal(r.responses[0]?.status, 413, 'the 413 reached the client');
    assert.equal(r.responses[0].headers.connection, 'close', 'more than the discard bound is coming: close');
    assert.ok(r.closed, 'the server closed the connection');
    assert.ok(read < (16 << 20) + (2 << 20), `the server read ${read} bytes (bound 16 MiB + buffers)`);
  });
  test('a body within the discard bound is drained and the connection kept', async () => {
    const body = Buffer.alloc(3 * LIMIT, 0x64);
    const r = await rawExchange(srv.port, [
      rawHead('POST', '/v1/files', { Authorization: `Bearer ${key}`, 'Content-Type': 'multipart/form-data; boundary=b', 'Content-Length': String(body.length) }),
      body,
      rawHead('GET', '/healthz'),
    ], { count: 2 });
    assert.equal(r.responses.length, 2, r.raw.toString().slice(0, 300));
    assert.equal(r.responses[0].status, 413);
    assert.notEqual(r.responses[0].headers.connection, 'close');
    assert.equal(r.responses[1].status, 200, 'the next request on the same connection is served');
  });
});
