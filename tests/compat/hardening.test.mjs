// Hardening (issue 10): every failure an independent hostile suite found, as a test that
// reproduces it against a real argotd over raw sockets: request smuggling (framing), hangs,
// 5xx answers and leaks, slow and idle clients, descriptor exhaustion, and the HTML refusals
// libmicrohttpd used to send. Each case checks the status, the OpenAI error envelope, that the
// connection is closed where RFC 9112 says so, and that no smuggled request ever ran.
// Under the ASan build (make asan) the same file runs against a sanitized argotd, and every
// server must stop with exit status 0 and no sanitizer (LeakSanitizer included) report.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { execFile } from 'node:child_process';
import { startArgotd, Argotd, argotdBinary, sleep } from './lib/argotd.mjs';
import { rawExchange, rawHead, multipart, uploadParts, assertErrorBody, request } from './lib/http.mjs';

let srv;
let key;
let port;
const auth = () => ({ Authorization: `Bearer ${key}` });
const H = 'Host: 127.0.0.1\r\n';
const SMUGGLED = `GET /v1/smuggled HTTP/1.1\r\n${H}\r\n`;

before(async () => {
  srv = await startArgotd({ orgs: ['org-hard'], flags: ['--max-file-bytes', String(1 << 20), '--threads', '4'] });
  key = srv.keys['org-hard'];
  port = srv.port;
});
after(async () => stopClean(srv));

/** Stops inst and checks it exited 0 with no sanitizer report (LSan runs at exit). */
async function stopClean(inst, { maxStopMs } = {}) {
  if (!inst) return;
  const t0 = Date.now();
  const rec = await inst.stop();
  const took = Date.now() - t0;
  const san = inst.sanitizerReport();
  await inst.close();
  assert.equal(san, null, `sanitizer report from argotd:\n${san}`);
  assert.equal(rec?.code, 0, `argotd exited with ${JSON.stringify(rec)}`);
  if (maxStopMs) assert.ok(took < maxStopMs, `SIGTERM took ${took} ms (in-flight count stuck?)`);
}

const requestLines = (inst) => (inst.logs().match(/msg=request /g) || []).length;

/** One raw exchange that must end in exactly one JSON error and a closed connection. */
async function refusedAndClosed(bytes, status, where, { inst = srv, timeoutMs = 4000 } = {}) {
  await sleep(50); // lets the log lines of earlier requests arrive
  const before = requestLines(inst);
  const t0 = Date.now();
  const r = await rawExchange(inst.port, [Buffer.from(bytes, 'latin1')], { count: 2, timeoutMs });
  const took = Date.now() - t0;
  assert.equal(r.responses.length, 1, `${where}: ${r.responses.length} responses (a smuggled request ran?): ${r.raw.toString('latin1').slice(0, 400)}`);
  const x = r.responses[0];
  const want = Array.isArray(status) ? status : [status];
  assert.ok(want.includes(x.status), `${where}: status ${x.status}, want ${want}: ${x.text.slice(0, 300)}`);
  assert.equal(x.headers['content-type'], 'application/json', `${where}: Content-Type`);
  assertErrorBody(x.json, { type: x.json?.error?.type }, where);
  assert.equal(x.headers.connection, 'close', `${where}: the reply must say Connection: close`);
  assert.ok(r.closed, `${where}: the connection stayed open`);
  assert.ok(took < timeoutMs - 500, `${where}: took ${took} ms (waited for a timeout?)`);
  // nothing after the one response (a second status line, a smuggled answer)
  assert.equal(r.raw.length, 0, `${where}: bytes after the response: ${r.raw.toString('latin1').slice(0, 200)}`);
  await sleep(50);
  assert.equal(requestLines(inst) - before, 1, `${where}: the server ran more than one request`);
  return x;
}

describe('framing: one request can never hide another (items 1-7)', () => {
  const post = (hdrs, body = '') => `POST /v1/files HTTP/1.1\r\n${H}Authorization: Bearer ${key}\r\n${hdrs}\r\n${body}`;
  test('1. Content-Length with Transfer-Encoding: chunked -> 400, close, nothing smuggled', async () => {
    const body = `0\r\n\r\n${SMUGGLED}`;
    await refusedAndClosed(post(`Content-Length: ${body.length}\r\nTransfer-Encoding: chunked\r\n`, body), 400, 'CL+TE');
    await refusedAndClosed(post(`Transfer-Encoding: chunked\r\nContent-Length: ${body.length}\r\n`, body), 400, 'TE+CL');
  });
  test('2. two different Content-Length headers -> 400, close', async () => {
    await refusedAndClosed(post('Content-Length: 5\r\nContent-Length: 40\r\n', `hello${SMUGGLED}`), 400, 'two CL');
    await refusedAndClosed(post('Content-Length: 5, 40\r\n', `hello${SMUGGLED}`), 400, 'CL list');
  });
  test('3. NUL in a header value -> 400 (no cut values, no authentication)', async () => {
    await refusedAndClosed(post('Content-Length: 1\0 38\r\n', `x${SMUGGLED}`), 400, 'NUL in CL');
    const x = await refusedAndClosed(`GET /v1/files HTTP/1.1\r\n${H}Authorization: Bearer ${key}\0anything\r\n\r\n`, 400, 'NUL in Authorization');
    assert.ok(!x.text.includes('"object":"list"'));
  });
  test('4. whitespace before the colon -> 400', async () => {
    await refusedAndClosed(post('Content-Length : 38\r\n', SMUGGLED.slice(0, 38)), 400, 'CL space colon');
    await refusedAndClosed(post('Transfer-Encoding\t: chunked\r\n', '0\r\n\r\n'), 400, 'TE tab colon');
  });
  test('5. obs-fold (a folded Transfer-Encoding) -> 400', async () => {
    const body = `0\r\n\r\n${SMUGGLED}`;
    await refusedAndClosed(post(`Transfer-Encoding:\r\n chunked\r\nContent-Length: ${body.length}\r\n`, body), 400, 'folded TE');
    await refusedAndClosed(post('X-A: 1\r\n\tfolded\r\nContent-Length: 0\r\n'), 400, 'folded other');
  });
  for (const [te, status] of [['xchunked', 501], ['identity', 501], ['gzip, chunked', 501], ['chunked, identity', 400], ['chunked;q=1', 400], ['chunked, chunked', 400]]) {
    test(`6. Transfer-Encoding: ${te} -> ${status} at once, close`, async () => {
      await refusedAndClosed(post(`Transfer-Encoding: ${te}\r\n`, '5\r\nhello\r\n0\r\n\r\n'), status, te);
    });
  }
  test('6. Transfer-Encoding in HTTP/1.0 -> 400', async () => {
    await refusedAndClosed(`POST /v1/files HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`, 400, 'TE 1.0');
  });
  test('7. a chunk-size line with a 70 000-byte extension -> 400 JSON, close', async () => {
    const head = post('Content-Type: multipart/form-data; boundary=b\r\nTransfer-Encoding: chunked\r\n');
    await refusedAndClosed(`${head}5;${'e'.repeat(70000)}\r\nhello\r\n0\r\n\r\n`, 400, 'long chunk ext');
  });
  test('7. other malformed chunked bodies -> 400 JSON, close', async () => {
    const head = post('Content-Type: multipart/form-data; boundary=b\r\nTransfer-Encoding: chunked\r\n');
    for (const [name, body] of [['bad size', 'zz\r\nhello\r\n0\r\n\r\n'], ['data past size', '2\r\nhello\r\n0\r\n\r\n'], ['bare LF', '5\nhello\n0\n\n'], ['huge size', 'fffffffffffffffff\r\n']]) {
      await refusedAndClosed(head + body, 400, name);
    }
  });
  test('a pipelined request after a well-framed chunked body is still served (no over-read)', async () => {
    const mp = multipart(uploadParts('piped.txt', 'pipelined', 'assistants'));
    const chunks = `${mp.body.length.toString(16)}\r\n${mp.body.toString('latin1')}\r\n0\r\n\r\n`;
    const r = await rawExchange(port, [`POST /v1/files HTTP/1.1\r\n${H}Authorization: Bearer ${key}\r\nContent-Type: ${mp.contentType}\r\nTransfer-Encoding: chunked\r\n\r\n${chunks}GET /healthz HTTP/1.1\r\n${H}\r\n`], { count: 2 });
    assert.equal(r.responses.length, 2, r.raw.toString('latin1').slice(0, 500));
    assert.equal(r.responses[0].status, 200, r.responses[0].text);
    assert.equal(r.responses[0].json.filename, 'piped.txt');
    assert.equal(r.responses[1].status, 200);
  });
});

describe("the HTTP layer's own refusals are the JSON envelope (item 17)", () => {
  for (const [name, bytes, status] of [
    ['unparsable Content-Length', `POST /v1/files HTTP/1.1\r\n${H}Content-Length: abc\r\n\r\n`, 400],
    ['negative Content-Length', `POST /v1/files HTTP/1.1\r\n${H}Content-Length: -1\r\n\r\n`, 400],
    ['a 200 KB header line', `GET /v1/files HTTP/1.1\r\n${H}X-Big: ${'a'.repeat(200000)}\r\n\r\n`, 431],
    ['HTTP/9.9', `GET /healthz HTTP/9.9\r\n${H}\r\n`, 505],
    ['no Host in HTTP/1.1', 'GET /healthz HTTP/1.1\r\n\r\n', 400],
    ['bare LF line ends', `GET /healthz HTTP/1.1\n${H.trim()}\n\n`, 400],
    ['a bare CR inside a value', `GET /healthz HTTP/1.1\r\n${H}X-A: a\rb\r\n\r\n`, 400],
    ['Expect: something else', `GET /healthz HTTP/1.1\r\n${H}Expect: 200-ok\r\n\r\n`, 417],
    ['garbage request line', '\x00\x01\x02 GARBAGE\r\n\r\n', 400],
    ['a URL over --max-url-bytes', `GET /v1/files/${'a'.repeat(9000)} HTTP/1.1\r\n${H}\r\n`, 414],
  ]) {
    test(`${name} -> ${status} JSON`, async () => {
      await refusedAndClosed(bytes, status, name);
    });
  }
});

describe('no hangs, no 5xx for bad input (items 8-12)', () => {
  test('8. 1100 query parameters -> 400 at once, nothing leaked, SIGTERM does not wait', async () => {
    const inst = await startArgotd({ orgs: ['org-q'], flags: ['--shutdown-grace', '20'] });
    try {
      const q = Array.from({ length: 1100 }, () => 'p=1').join('&');
      for (let i = 0; i < 3; i++) {
        const r = await rawExchange(inst.port, [rawHead('GET', `/healthz?${q}`)], { timeoutMs: 4000 });
        assert.equal(r.responses[0]?.status, 400, r.raw.toString().slice(0, 300));
        assertErrorBody(r.responses[0].json, {}, 'many params');
        assert.match(r.responses[0].json.error.message, /query parameters/);
      }
      const ok = await request(inst.origin, { path: `/healthz?${Array.from({ length: 64 }, (_, i) => `p${i}=1`).join('&')}` });
      assert.equal(ok.status, 200, '--max-query-params (64) parameters are fine');
    } finally {
      await stopClean(inst, { maxStopMs: 5000 });
    }
  });
  for (const q of ['purpose=', 'purpose=%00', 'purpose=%00assistants', 'purpose=assistants%00']) {
    test(`9. GET /v1/files?${q} -> 400 param purpose`, async () => {
      const res = await request(srv.origin, { path: `/v1/files?${q}`, key });
      assert.equal(res.status, 400, res.text);
      assert.equal(res.json.error.param, 'purpose');
    });
  }

  const api = (method, path, body) => request(srv.origin, { method, path, key, headers: body ? { 'content-type': 'application/json' } : {}, body: body ? JSON.stringify(body) : undefined });
  async function uploadWithParts(n) {
    const size = 1000;
    const up = await api('POST', '/v1/uploads', { filename: 'race.jsonl', purpose: 'batch', bytes: size * n, mime_type: 'text/jsonl' });
    assert.equal(up.status, 200, up.text);
    const ids = [];
    for (let i = 0; i < n; i++) {
      const mp = multipart([{ name: 'data', filename: 'blob', data: Buffer.alloc(size, 0x61 + i) }]);
      const p = await request(srv.origin, { method: 'POST', path: `/v1/uploads/${up.json.id}/parts`, key, headers: { 'content-type': mp.contentType }, body: mp.body });
      assert.equal(p.status, 200, p.text);
      ids.push(p.json.id);
    }
    return { id: up.json.id, ids };
  }
  test('10. two concurrent completes: one 200, the other the real 400 (20 trials, never 5xx)', async () => {
    for (let t = 0; t < 20; t++) {
      const u = await uploadWithParts(4);
      const rs = await Promise.all([0, 1].map(() => api('POST', `/v1/uploads/${u.id}/complete`, { part_ids: u.ids })));
      const st = rs.map((r) => r.status).sort();
      assert.deepEqual(st, [200, 400], `trial ${t}: ${rs.map((r) => r.text).join(' | ')}`);
      const lose = rs.find((r) => r.status === 400);
      assert.match(lose.json.error.message, /already (been )?(completed|cancelled)|not pending|status/i, lose.text);
    }
  });
  test('11. complete racing cancel: each 200 or 400, never 5xx, and the upload ends one way', async () => {
    for (let t = 0; t < 20; t++) {
      const u = await uploadWithParts(3);
      const [c, x] = await Promise.all([api('POST', `/v1/uploads/${u.id}/complete`, { part_ids: u.ids }), api('POST', `/v1/uploads/${u.id}/cancel`)]);
      assert.ok([200, 400].includes(c.status) && [200, 400].includes(x.status), `trial ${t}: complete ${c.status} ${c.text} / cancel ${x.status} ${x.text}`);
      assert.equal([c.status, x.status].filter((s) => s === 200).length, 1, `trial ${t}: exactly one wins`);
    }
  });
  test('12. completing an upload of 0 bytes with no parts', async () => {
    const up = await api('POST', '/v1/uploads', { filename: 'empty.txt', purpose: 'assistants', bytes: 0, mime_type: 'text/plain' });
    assert.equal(up.status, 200, up.text);
    const c = await api('POST', `/v1/uploads/${up.json.id}/complete`, { part_ids: [] });
    assert.equal(c.status, 200, c.text);
    assert.equal(c.json.status, 'completed');
    assert.equal(c.json.file.bytes, 0);
  });
});

describe('key names (item 13)', () => {
  const run = (args) => new Promise((res) => execFile(argotdBinary(), args, (err, stdout, stderr) => res({ code: err ? err.code : 0, stdout, stderr })));
  test('13. a key name with a newline or other control character is refused; keys list has one line per key', async () => {
    const forged = 'ci\nkey_0000000000000000  org-admin                 admin  2026-01-01T00:00:00Z  active';
    for (const name of [forged, 'tab\there', 'esc\x1b[31m', 'del\x7f']) {
      const r = await run(['keys', 'create', '--data', srv.dataDir, '--org', 'org-hard', '--name', name]);
      assert.equal(r.code, 2, `accepted ${JSON.stringify(name)}: ${r.stdout}`);
      assert.match(r.stderr, /--name: key names must not contain control characters/);
    }
    const ok = await run(['keys', 'create', '--data', srv.dataDir, '--org', 'org-hard', '--name', 'caf\u00e9 ok']);
    assert.equal(ok.code, 0, ok.stderr);
    const list = await run(['keys', 'list', '--data', srv.dataDir]);
    assert.equal(list.code, 0);
    assert.ok(!/org-admin/.test(list.stdout), list.stdout);
    for (const line of list.stdout.trim().split('\n')) assert.match(line, /^key_[0-9a-f]{16} /, `forged line: ${line}`);
  });
});

describe('slow and idle clients (items 14-16)', () => {
  test('14. a head trickled at 1 byte/s gets 408 at --header-timeout and is closed', async () => {
    const inst = await startArgotd({ orgs: ['org-slow'], flags: ['--header-timeout', '2', '--connection-timeout', '60'] });
    try {
      const head = `GET /v1/files HTTP/1.1\r\n${H}X-Trickle: ${'x'.repeat(60)}\r\n\r\n`;
      const t0 = Date.now();
      const r = await rawExchange(inst.port, (async function* () {
        for (const ch of head) {
          yield ch;
          await sleep(1000);
        }
      })(), { timeoutMs: 10000, count: 2 });
      const took = Date.now() - t0;
      assert.equal(r.responses[0]?.status, 408, r.raw.toString());
      assert.ok(r.closed, 'not closed');
      assert.ok(took >= 1800 && took < 5000, `closed after ${took} ms with --header-timeout 2`);
    } finally {
      await stopClean(inst);
    }
  });
  test('14. a body trickled under --min-body-rate gets 408 and is closed; a fast one is fine', async () => {
    const inst = await startArgotd({ orgs: ['org-slowbody'], flags: ['--min-body-rate', '1000', '--body-rate-window', '2', '--connection-timeout', '60'] });
    try {
      const k = inst.keys['org-slowbody'];
      const mp = multipart(uploadParts('slow.txt', Buffer.alloc(100000, 0x61), 'assistants'));
      const t0 = Date.now();
      const r = await rawExchange(inst.port, (async function* () {
        yield rawHead('POST', '/v1/files', { Authorization: `Bearer ${k}`, 'Content-Type': mp.contentType, 'Content-Length': String(mp.body.length) });
        for (let i = 0; i < mp.body.length; i++) {
          yield mp.body.subarray(i, i + 1);
          await sleep(1000);
        }
      })(), { timeoutMs: 12000 });
      const took = Date.now() - t0;
      assert.equal(r.responses[0]?.status, 408, r.raw.toString());
      assert.match(r.responses[0].json.error.message, /too slowly/);
      assert.ok(took < 8000, `took ${took} ms`);
      const up = await request(inst.origin, { method: 'POST', path: '/v1/files', key: k, headers: { 'content-type': mp.contentType }, body: mp.body });
      assert.equal(up.status, 200, up.text);
      const list = await request(inst.origin, { path: '/v1/files', key: k });
      assert.deepEqual(list.json.data.map((f) => f.filename), ['slow.txt'], 'the refused upload left nothing');
    } finally {
      await stopClean(inst);
    }
  });

  const openIdle = async (p, n) => {
    const socks = [];
    for (let i = 0; i < n; i += 200) {
      const batch = await Promise.all(Array.from({ length: Math.min(200, n - i) }, () => new Promise((res) => {
        const s = net.connect({ host: '127.0.0.1', port: p }, () => res(s));
        s.on('error', () => res(s));
        s.resume();
      })));
      socks.push(...batch);
    }
    return socks;
  };
  test('15. --max-connections 100 and 2000 connections that never send a byte: /healthz within 2 s', async () => {
    const inst = await startArgotd({ orgs: ['org-idle'], flags: ['--max-connections', '100'] });
    const socks = await openIdle(inst.port, 2000);
    try {
      for (let i = 0; i < 5; i++) {
        const t0 = Date.now();
        const res = await request(inst.origin, { path: '/healthz', timeoutMs: 5000 });
        const took = Date.now() - t0;
        assert.equal(res.status, 200);
        assert.ok(took < 2000, `GET /healthz took ${took} ms next to 2000 idle connections`);
      }
    } finally {
      for (const s of socks) s.destroy();
      await stopClean(inst);
    }
  });
  test('16. nofile 1024 and 1030 idle connections: uploads on an existing connection still work (never 500)', async () => {
    const inst = new Argotd({ flags: [], nofile: 1024 });
    await inst.createKey('org-fd');
    await inst.start();
    const k = inst.keys['org-fd'];
    const agent = new (await import('node:http')).Agent({ keepAlive: true, maxSockets: 1 });
    let socks = [];
    try {
      assert.match(inst.logs(), /max-connections lowered to fit the file descriptor limit/);
      const first = await request(inst.origin, { path: '/v1/files', key: k, agent });
      assert.equal(first.status, 200);
      socks = await openIdle(inst.port, 1030);
      for (let i = 0; i < 5; i++) {
        const mp = multipart(uploadParts(`fd${i}.txt`, 'x'.repeat(1000), 'assistants'));
        const up = await request(inst.origin, { method: 'POST', path: '/v1/files', key: k, agent, headers: { 'content-type': mp.contentType }, body: mp.body });
        assert.ok(up.status === 200 || (up.status === 503 && up.headers['retry-after']), `upload ${i}: ${up.status} ${up.text}`);
        assert.equal(up.status, 200, `upload ${i} on a kept connection: ${up.text}`);
      }
    } finally {
      agent.destroy();
      for (const s of socks) s.destroy();
      await stopClean(inst);
    }
  });
  test('2000 idle and 200 trickling connections: a normal request is answered within 2 s', async () => {
    const inst = await startArgotd({ orgs: ['org-mix'], flags: [] });
    const idle = await openIdle(inst.port, 2000);
    const trick = await openIdle(inst.port, 200);
    let stop = false;
    const trickling = (async () => {
      for (const s of trick) s.write(`GET /v1/files HTTP/1.1\r\n${H}X-Slow: `);
      while (!stop) {
        for (const s of trick) if (!s.destroyed) s.write('a');
        await sleep(1000);
      }
    })();
    try {
      const k = inst.keys['org-mix'];
      for (let i = 0; i < 5; i++) {
        const t0 = Date.now();
        const res = await request(inst.origin, { path: '/v1/files', key: k, timeoutMs: 5000 });
        const took = Date.now() - t0;
        assert.equal(res.status, 200);
        assert.ok(took < 2000, `GET /v1/files took ${took} ms`);
        await sleep(300);
      }
    } finally {
      stop = true;
      await trickling;
      for (const s of [...idle, ...trick]) s.destroy();
      await stopClean(inst);
    }
  });
});
