// Hostile input (issue 5): every item of the list as a test with the status it must
// get, sent with raw sockets (node:net) so nothing is normalized on the way. After all of
// them: nothing was stored, no temporary is left, and the server still answers.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { startArgotd, sleep } from './lib/argotd.mjs';
import { rawExchange, rawHead, multipart, uploadParts, assertErrorBody, request } from './lib/http.mjs';
import { figure } from './lib/reliability.mjs';

const MAX_FILE = 1 << 20;
const TIMEOUT_S = 2;
let srv;
let key;
let port;
const counted = { cases: 0 };

before(async () => {
  srv = await startArgotd({
    orgs: ['org-hostile'],
    flags: ['--max-file-bytes', String(MAX_FILE), '--connection-timeout', String(TIMEOUT_S), '--max-connections', '200', '--threads', '4'],
  });
  key = srv.keys['org-hostile'];
  port = srv.port;
});
after(async () => {
  if (!srv) return;
  await srv.stop();
  const san = srv.sanitizerReport();
  await srv.close();
  assert.equal(san, null, `sanitizer report from argotd:\n${san}`);
  figure('hostile', { cases: counted.cases });
});

const B = 'hostileB0undary';
const CT = `multipart/form-data; boundary=${B}`;
const auth = () => ({ Authorization: `Bearer ${key}` });

/** POSTs raw bytes to /v1/files with a Content-Length; returns the one response. */
async function post(body, { ct = CT, headers = {}, timeoutMs = 10000 } = {}) {
  const b = Buffer.isBuffer(body) ? body : Buffer.from(body, 'latin1');
  const h = { ...auth(), ...(ct ? { 'Content-Type': ct } : {}), 'Content-Length': String(b.length), ...headers };
  const r = await rawExchange(port, [rawHead('POST', '/v1/files', h), b], { timeoutMs });
  assert.equal(r.responses.length, 1, `no response (closed ${r.closed}, ${r.error?.message})`);
  return r.responses[0];
}

function expectStatus(x, status, where) {
  counted.cases++;
  const want = Array.isArray(status) ? status : [status];
  assert.ok(want.includes(x.status), `${where}: status ${x.status} (want ${want}): ${x.text.slice(0, 300)}`);
  if (x.status >= 400 && x.headers['content-type'] === 'application/json') assertErrorBody(x.json, { type: x.json?.error?.type }, where);
  // Nothing the client sent may appear as a header of its own.
  for (const [k] of x.headerList) assert.ok(!/^x-injected/i.test(k), `${where}: header injected: ${k}`);
  return x;
}

const part = (name, value, extraHdr = '') => `--${B}\r\nContent-Disposition: form-data; name="${name}"\r\n${extraHdr}\r\n${value}\r\n`;
const filePart = (cd, data = 'hello', extraHdr = '') => `--${B}\r\nContent-Disposition: form-data; name="file"; ${cd}\r\n${extraHdr}Content-Type: text/plain\r\n\r\n${data}\r\n`;
const END = `--${B}--\r\n`;
const good = (fileCd = 'filename="a.txt"') => filePart(fileCd) + part('purpose', 'assistants') + END;

describe('multipart framing', () => {
  const cases = {
    'no boundary parameter': { ct: 'multipart/form-data', body: good(), status: 400 },
    'empty boundary': { ct: 'multipart/form-data; boundary=', body: good(), status: 400 },
    'not multipart at all': { ct: 'application/json', body: '{"purpose":"assistants"}', status: 400 },
    'no Content-Type': { ct: null, body: good(), status: 400 },
    'wrong boundary (body uses another one)': { ct: 'multipart/form-data; boundary=other', body: good(), status: 400 },
    'two boundary parameters': { ct: `multipart/form-data; boundary=${B}; boundary=x`, body: good(), status: 400 },
    'boundary of 71 characters': { ct: `multipart/form-data; boundary=${'b'.repeat(71)}`, body: good(), status: 400 },
    'truncated: closing boundary missing': { body: filePart('filename="a.txt"') + part('purpose', 'assistants'), status: 400 },
    'truncated: body ends inside part headers': { body: `--${B}\r\nContent-Disposition: form-da`, status: 400 },
    'truncated: body ends inside file content': { body: `--${B}\r\nContent-Disposition: form-data; name="file"; filename="a"\r\n\r\nabc`, status: 400 },
    'empty body': { body: '', status: 400 },
    'zero parts (--b--)': { body: END, status: 400 },
    'part header block over 16 KiB': { body: filePart('filename="a.txt"', 'x', `X-Pad: ${'p'.repeat(17000)}\r\n`) + part('purpose', 'assistants') + END, status: 400 },
    '65 parts (limit 64)': { body: Array.from({ length: 65 }, (_, i) => part(`f${i}`, 'v')).join('') + END, status: 400 },
    'duplicate file part': { body: filePart('filename="a.txt"') + filePart('filename="b.txt"') + part('purpose', 'assistants') + END, status: 400 },
    'duplicate purpose part': { body: filePart('filename="a.txt"') + part('purpose', 'assistants') + part('purpose', 'batch') + END, status: 400 },
    'duplicate expires_after': { body: good().replace(END, '') + part('expires_after', '{"anchor":"created_at","seconds":3600}') + part('expires_after[anchor]', 'created_at') + part('expires_after[seconds]', '3600') + END, status: 400 },
    'Content-Transfer-Encoding: base64': { body: filePart('filename="a.txt"', 'aGVsbG8=', 'Content-Transfer-Encoding: base64\r\n') + part('purpose', 'assistants') + END, status: 400 },
    'Content-Transfer-Encoding: quoted-printable on purpose': { body: filePart('filename="a.txt"') + part('purpose', 'assistants', 'Content-Transfer-Encoding: quoted-printable\r\n') + END, status: 400 },
    'bare LF framing': { body: good().replaceAll('\r\n', '\n'), status: 400 },
    'folded part header': { body: `--${B}\r\nContent-Disposition: form-data;\r\n name="file"; filename="a"\r\n\r\nx\r\n` + part('purpose', 'assistants') + END, status: 400 },
    'no Content-Disposition': { body: `--${B}\r\nContent-Type: text/plain\r\n\r\nx\r\n` + END, status: 400 },
    'purpose field over 1 KiB': { body: filePart('filename="a.txt"') + part('purpose', 'a'.repeat(2000)) + END, status: 400 },
    'file without filename': { body: part('file', 'data') + part('purpose', 'assistants') + END, status: 400 },
    'missing file part': { body: part('purpose', 'assistants') + END, status: 400 },
    'missing purpose part': { body: filePart('filename="a.txt"') + END, status: 400 },
  };
  for (const [name, c] of Object.entries(cases)) {
    test(`${name} -> ${c.status}`, async () => {
      const x = await post(c.body, { ct: c.ct === undefined ? CT : c.ct });
      expectStatus(x, c.status, name);
      assert.equal(x.headers['content-type'], 'application/json', name);
    });
  }

  test('endless part headers (chunked, never a blank line): the connection is closed, bounded', async () => {
    const t0 = Date.now();
    async function* gen() {
      yield rawHead('POST', '/v1/files', { ...auth(), 'Content-Type': CT, 'Transfer-Encoding': 'chunked' });
      const first = Buffer.from(`--${B}\r\nContent-Disposition: form-data; name="file"; filename="a"\r\nX-Endless: `);
      const more = Buffer.alloc(64 * 1024, 0x68);
      for (let i = 0; i < 4096; i++) {
        const b = i ? more : first;
        yield Buffer.concat([Buffer.from(b.length.toString(16) + '\r\n'), b, Buffer.from('\r\n')]);
      }
    }
    const r = await rawExchange(port, gen(), { timeoutMs: 30000 });
    counted.cases++;
    assert.ok(r.closed || r.responses.length, 'the server neither answered nor closed');
    if (r.responses.length) assert.equal(r.responses[0].status, 400);
    assert.ok(Date.now() - t0 < 30000);
  });
});

describe('filenames', () => {
  const cases = {
    'CR LF in a quoted filename (header injection attempt)': { cd: 'filename="a\r\nX-Injected: 1\r\n.txt"', status: 400 },
    'NUL via filename*': { cd: "filename*=UTF-8''a%00b.txt", status: 400 },
    'CR LF via filename*': { cd: "filename*=UTF-8''a%0D%0AX-Injected:%201.txt", status: 400 },
    'TAB via filename*': { cd: "filename*=UTF-8''a%09b.txt", status: 400 },
    'DEL via filename*': { cd: "filename*=UTF-8''a%7Fb.txt", status: 400 },
    'invalid UTF-8 via filename*': { cd: "filename*=UTF-8''%C3%28.txt", status: 400 },
    'overlong UTF-8 (/ as C0 AF)': { cd: "filename*=UTF-8''%C0%AF.txt", status: 400 },
    'UTF-16 surrogate in UTF-8': { cd: "filename*=UTF-8''%ED%A0%80.txt", status: 400 },
    'raw invalid UTF-8 bytes': { cd: 'filename="\xff\xfe.txt"', status: 400 },
    'empty filename': { cd: 'filename=""', status: 400 },
    'filename of 1024 bytes': { cd: `filename="${'n'.repeat(1024)}"`, status: 400 },
    'unknown charset in filename*': { cd: "filename*=KOI8-R''abc", status: 400 },
    'bad percent escape in filename*': { cd: "filename*=UTF-8''a%zz", status: 400 },
    'path traversal in filename is stored as a name, not a path': { cd: 'filename="../../etc/passwd"', status: 200 },
    'filename of 1023 bytes': { cd: `filename="${'n'.repeat(1023)}"`, status: 200 },
  };
  for (const [name, c] of Object.entries(cases)) {
    test(`${name} -> ${c.status}`, async () => {
      const x = expectStatus(await post(good(c.cd)), c.status, name);
      assert.ok(!/\r|\n/.test(x.rawHead.split('\r\n').join('')), 'CR/LF inside a response header');
      if (c.status === 200) {
        const id = x.json.id;
        const dl = await rawExchange(port, [rawHead('GET', `/v1/files/${id}/content`, auth())], { headOnly: false });
        const h = dl.responses[0];
        assert.equal(h.status, 200);
        assert.ok(/^[\x20-\x7e\r\n]*$/.test(h.rawHead), `non-ASCII or control bytes in the response head: ${JSON.stringify(h.rawHead)}`);
        await request(srv.origin, { method: 'DELETE', path: `/v1/files/${id}`, key });
      }
    });
  }
});

describe('early refusal and body limits', () => {
  test('oversize Content-Length with Expect: 100-continue -> 413 before any body byte (no 100)', async () => {
    const r = await rawExchange(port, [rawHead('POST', '/v1/files', { ...auth(), 'Content-Type': CT, 'Content-Length': String(2 ** 40), Expect: '100-continue' })], { timeoutMs: 5000 });
    assert.ok(r.responses.length >= 1, 'no answer without a body');
    assert.deepEqual(r.responses.map((x) => x.status), [413]);
    expectStatus(r.responses[0], 413, '100-continue');
  });

  test('Content-Length beyond int64 -> refused (400 or 413), never read', async () => {
    const r = await rawExchange(port, [rawHead('POST', '/v1/files', { ...auth(), 'Content-Type': CT, 'Content-Length': '99999999999999999999999' })], { timeoutMs: 5000 });
    counted.cases++;
    assert.ok(r.closed || (r.responses[0] && [400, 413].includes(r.responses[0].status)), JSON.stringify(r.responses.map((x) => x.status)));
  });

  test('chunked body past --max-file-bytes -> 413, stops reading', async () => {
    const head = rawHead('POST', '/v1/files', { ...auth(), 'Content-Type': CT, 'Transfer-Encoding': 'chunked' });
    async function* gen() {
      yield head;
      const pre = Buffer.from(part('purpose', 'assistants') + `--${B}\r\nContent-Disposition: form-data; name="file"; filename="big.bin"\r\n\r\n`);
      yield Buffer.concat([Buffer.from(pre.length.toString(16) + '\r\n'), pre, Buffer.from('\r\n')]);
      const c = Buffer.alloc(256 * 1024, 0x61);
      for (let i = 0; i < 16; i++) yield Buffer.concat([Buffer.from(c.length.toString(16) + '\r\n'), c, Buffer.from('\r\n')]);
      yield Buffer.from(`${(END.length + 2).toString(16)}\r\n\r\n${END}\r\n0\r\n\r\n`);
    }
    const r = await rawExchange(port, gen(), { timeoutMs: 15000 });
    counted.cases++;
    assert.ok(r.responses.length === 1, `no answer (closed ${r.closed})`);
    expectStatus(r.responses[0], 413, 'chunked past limit');
  });

  test('truncated body (Content-Length larger than what is sent, then hang-up): nothing stored', async () => {
    const mp = multipart(uploadParts('cut.txt', Buffer.alloc(100000, 0x63), 'assistants'));
    const r = await rawExchange(port, [rawHead('POST', '/v1/files', { ...auth(), 'Content-Type': mp.contentType, 'Content-Length': String(mp.body.length) }), mp.body.subarray(0, 50000), async ({ sock }) => sock.end()], { timeoutMs: 3000 });
    counted.cases++;
    assert.equal(r.responses.length, 0);
  });
});

describe('list parameters and ids', () => {
  const q = {
    'limit=0': 'limit', 'limit=10001': 'limit', 'limit=-1': 'limit', 'limit=abc': 'limit', 'limit=': 'limit',
    'limit=1e3': 'limit', 'limit=99999999999999999999999': 'limit', 'limit=%00': 'limit', 'order=up': 'order',
    'order=': 'order', 'order=ASC%00': 'order', 'after=nope': 'after', 'after=../../x': 'after', [`after=${'a'.repeat(10240)}`]: 'after',
    'after=file-%0D%0AX-Injected:1': 'after',
  };
  for (const [qs, param] of Object.entries(q)) {
    test(`GET /v1/files?${qs.slice(0, 60)} -> 400 param ${param}`, async () => {
      const r = await rawExchange(port, [rawHead('GET', `/v1/files?${qs}`, auth())]);
      // A target over --max-url-bytes (8 KiB) is refused as a whole (414) before any parameter.
      const x = expectStatus(r.responses[0], qs.length > 8192 ? [400, 414] : 400, qs.slice(0, 60));
      if (x.status === 400) assert.equal(x.json.error.param, param);
    });
  }
  const ids = ['..', '../argot.db', '..%2F..%2Fargot.db', '%2e%2e%2fLOCK', 'file-abc%00', 'file-%0D%0AX-Injected:%201', `file-${'x'.repeat(10240)}`, '%C0%AF', 'blobs', '.'];
  for (const id of ids) {
    for (const [m, suffix] of [['GET', ''], ['GET', '/content'], ['DELETE', '']]) {
      test(`${m} /v1/files/${id.slice(0, 40)}${suffix} -> 404`, async () => {
        const r = await rawExchange(port, [rawHead(m, `/v1/files/${id}${suffix}`, auth())]);
        assert.equal(r.responses.length, 1, `no response: ${r.error?.message}`);
        expectStatus(r.responses[0], id === '.' || id === '..' ? [404] : [404, 414], `${m} ${id.slice(0, 40)}`);
      });
    }
  }
});

describe('HTTP layer', () => {
  test('request header block over the per-connection memory (300 KB) -> 431, server keeps serving', async () => {
    const r = await rawExchange(port, [rawHead('GET', '/v1/files', { ...auth(), 'X-Big': 'a'.repeat(300000) })]);
    expectStatus(r.responses[0], 431, 'big header');
  });
  test('URL of 300 KB -> 414', async () => {
    const r = await rawExchange(port, [rawHead('GET', `/v1/files/${'a'.repeat(300000)}`, auth())]);
    expectStatus(r.responses[0], 414, 'long url');
  });
  test('10 000 small headers -> 431 or served, never a crash', async () => {
    const h = { ...auth() };
    for (let i = 0; i < 10000; i++) h[`X-H${i}`] = 'v';
    const r = await rawExchange(port, [rawHead('GET', '/v1/files', h)]);
    expectStatus(r.responses[0], [200, 431], 'many headers');
  });
  test('Content-Length and Transfer-Encoding together: one answer, no desync', async () => {
    const r = await rawExchange(port, [rawHead('POST', '/v1/files', { ...auth(), 'Content-Type': CT, 'Content-Length': '5', 'Transfer-Encoding': 'chunked' }) + '0\r\n\r\n' + rawHead('GET', '/healthz')], { count: 2, timeoutMs: 5000 });
    counted.cases++;
    assert.ok(r.responses.length >= 1);
    assert.ok(r.responses[0].status >= 400 && r.responses[0].status < 500, `status ${r.responses[0].status}`);
  });
  test('unknown method -> 405/404/501 JSON or HTML, never 5xx from us', async () => {
    const r = await rawExchange(port, [rawHead('BREW', '/v1/files', auth())]);
    expectStatus(r.responses[0], [400, 404, 405, 501], 'BREW');
  });
  test('HTTP/0.9-style garbage request line -> 400 or closed', async () => {
    const r = await rawExchange(port, ['\x00\x01\x02 GARBAGE\r\n\r\n'], { timeoutMs: 3000 });
    counted.cases++;
    assert.ok(r.closed || (r.responses[0] && r.responses[0].status === 400));
  });
});

describe('slow clients and connection limits', () => {
  test(`slowloris: 40 connections stalled in their headers are closed after ~${TIMEOUT_S} s; others are served meanwhile`, async () => {
    const socks = await Promise.all(
      Array.from({ length: 40 }, () => new Promise((res, rej) => {
        const s = net.connect({ host: '127.0.0.1', port }, () => {
          s.write('GET /v1/files HTTP/1.1\r\nHost: x\r\nX-Slow: ');
          res(s);
        });
        s.got = '';
        s.on('data', (d) => (s.got += d.toString('latin1'))); // a real client reads the 408
        s.on('error', () => {});
        s.once('error', rej);
      })),
    );
    const closedAt = socks.map((s) => new Promise((res) => s.once('close', () => res(Date.now()))));
    const t0 = Date.now();
    // While they hang, normal requests are served promptly.
    for (let i = 0; i < 10; i++) {
      const t = Date.now();
      const res = await request(srv.origin, { path: '/v1/files', key, timeoutMs: 2000 });
      assert.equal(res.status, 200);
      assert.ok(Date.now() - t < 1500, `a request took ${Date.now() - t} ms next to stalled connections`);
    }
    const times = await Promise.race([Promise.all(closedAt), sleep((TIMEOUT_S + 8) * 1000).then(() => null)]);
    counted.cases++;
    assert.ok(times, `stalled connections still open after ${TIMEOUT_S + 8} s`);
    assert.ok(Math.max(...times) - t0 < (TIMEOUT_S + 8) * 1000);
    for (const s of socks) assert.match(s.got, /^HTTP\/1\.1 408 /, 'a stalled head gets 408 before the close');
    for (const s of socks) s.destroy();
  });

  test('trickling body (1 byte every 300 ms) does not stop others from being served', async () => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.on('error', () => {});
    await new Promise((r) => s.once('connect', r));
    s.write(rawHead('POST', '/v1/files', { ...auth(), 'Content-Type': CT, 'Content-Length': '100000' }));
    let stop = false;
    const trickle = (async () => {
      while (!stop && !s.destroyed) {
        s.write('x');
        await sleep(300);
      }
    })();
    for (let i = 0; i < 5; i++) {
      const res = await request(srv.origin, { path: '/healthz', timeoutMs: 2000 });
      assert.equal(res.status, 200);
      await sleep(200);
    }
    stop = true;
    await trickle;
    s.destroy();
    counted.cases++;
  });

  test('more connections than --max-connections, none idle: the extra one gets 503 + Retry-After at once', async () => {
    const lim = await startArgotd({ orgs: ['org-lim'], flags: ['--max-connections', '8', '--connection-timeout', '30'] });
    try {
      const open = [];
      for (let i = 0; i < 8; i++) {
        const s = net.connect({ host: '127.0.0.1', port: lim.port });
        s.on('error', () => {});
        await new Promise((r) => s.once('connect', r));
        s.write('GET /healthz HTTP/1.1\r\nHost: x\r\n'); // held open mid-headers: not idle
        open.push(s);
      }
      // the server must have read every partial head (and closed the start-up probe's
      // connection) before the ninth arrives, or it would rightly make room by closing one
      await sleep(600);
      // Nothing waits unseen in the listen backlog: the ninth connection is accepted and told
      // at once that the server is full (it cannot take an idle connection's place: none is).
      const t0 = Date.now();
      const r = await rawExchange(lim.port, [rawHead('GET', '/healthz')], { timeoutMs: 5000 });
      counted.cases++;
      const x = expectStatus(r.responses[0], 503, 'over the limit');
      assert.equal(x.headers['retry-after'], '1');
      assert.ok(Date.now() - t0 < 2000, `the refusal took ${Date.now() - t0} ms`);
      for (const s of open) s.destroy();
      await sleep(200);
      const ok = await request(lim.origin, { path: '/healthz' });
      assert.equal(ok.status, 200, 'served once slots freed');
    } finally {
      await lim.stop();
      const san = lim.sanitizerReport();
      await lim.close();
      assert.equal(san, null, san);
    }
  });

  test('more connections than --max-connections, all idle: an idle one makes room', async () => {
    const lim = await startArgotd({ orgs: ['org-lim2'], flags: ['--max-connections', '8', '--connection-timeout', '30'] });
    try {
      const open = [];
      for (let i = 0; i < 8; i++) {
        const s = net.connect({ host: '127.0.0.1', port: lim.port });
        s.on('error', () => {});
        s.resume();
        s.whenClosed = new Promise((r) => s.once('close', r));
        await new Promise((r) => s.once('connect', r));
        open.push(s); // never sends a byte
      }
      await sleep(200);
      const r = await rawExchange(lim.port, [rawHead('GET', '/healthz')], { timeoutMs: 5000 });
      counted.cases++;
      expectStatus(r.responses[0], 200, 'a new client next to idle ones');
      // one of the idle ones (the oldest on the accepting worker's list) was closed for it
      const closed = await Promise.race([Promise.any(open.map((s) => s.whenClosed)).then(() => true), sleep(2000).then(() => false)]);
      assert.ok(closed, 'no idle connection was closed to make room');
      for (const s of open) s.destroy();
    } finally {
      await lim.stop();
      const san = lim.sanitizerReport();
      await lim.close();
      assert.equal(san, null, san);
    }
  });
});

describe('afterwards', () => {
  test('nothing refused was stored; no temporaries; the server still answers', async () => {
    const list = await request(srv.origin, { path: '/v1/files', key });
    assert.equal(list.status, 200);
    assert.deepEqual(list.json.data.map((f) => f.filename), []);
    await sleep(100);
    assert.deepEqual(readdirSync(join(srv.dataDir, 'tmp')), []);
    const blobs = readdirSync(join(srv.dataDir, 'blobs')).flatMap((d) => readdirSync(join(srv.dataDir, 'blobs', d)));
    assert.deepEqual(blobs, []);
  });
});
