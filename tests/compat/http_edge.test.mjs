// Raw HTTP edge cases (node:http and node:net): routing, auth, multipart framing, query
// validation, hostile ids, chunked bodies, early 413, download headers, /healthz and /metrics.
// Bad input must always get a JSON error envelope, never a 500.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { startArgotd } from './lib/argotd.mjs';
import {
  request,
  client,
  multipart,
  uploadParts,
  expectJson,
  expectError,
  assertErrorBody,
  assertFileObject,
  assertRequestId,
  rawExchange,
  rawHead,
  MSG_MISSING_KEY,
  msgWrongKey,
  msgNoSuchFile,
  REQUEST_ID_RE,
} from './lib/http.mjs';

const MAX_FILE = 1048576; // --max-file-bytes of the main server
let srv; // main server
let msrv; // with --metrics
let key;
let c;

const B58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';
const randB58 = (n) => Array.from(randomBytes(n), (b) => B58[b % 58]).join('');

before(async () => {
  [srv, msrv] = await Promise.all([
    startArgotd({ orgs: ['org-edge'], flags: ['--max-file-bytes', String(MAX_FILE)] }),
    startArgotd({ orgs: ['org-metrics'], flags: ['--metrics'] }),
  ]);
  key = srv.keys['org-edge'];
  c = client(srv.origin, key);
});
after(async () => {
  await Promise.all([srv?.close(), msrv?.close()]);
});

const upload = async (filename, data, purpose = 'assistants') => {
  const res = await c.upload(uploadParts(filename, data, purpose));
  return expectJson(res, 200, `upload ${JSON.stringify(filename)}`);
};
/** Bad input: status in allowed, a JSON error envelope, never 5xx. */
const expectClientError = (res, allowed, where) => {
  assert.ok(res.status < 500, `${where}: got ${res.status} (5xx for bad input): ${res.text.slice(0, 300)}`);
  assert.ok(allowed.includes(res.status), `${where}: status ${res.status}, expected one of ${allowed}: ${res.text.slice(0, 300)}`);
  assert.equal(res.headers['content-type'], 'application/json', `${where}: Content-Type`);
  assertRequestId(res, where);
  assertErrorBody(res.json, { type: undefined }, where);
  return res.json;
};
const parseAllow = (v) => new Set(String(v || '').split(',').map((s) => s.trim().toUpperCase()).filter(Boolean));

describe('routing', () => {
  const cases = [
    ['PUT', '/v1/files', ['GET', 'POST']],
    ['DELETE', '/v1/files', ['GET', 'POST']],
    ['PATCH', '/v1/files', ['GET', 'POST']],
    ['POST', '/v1/files/file-abc', ['GET', 'DELETE']],
    ['PUT', '/v1/files/file-abc', ['GET', 'DELETE']],
    ['POST', '/v1/files/file-abc/content', ['GET']],
    ['DELETE', '/v1/files/file-abc/content', ['GET']],
    ['POST', '/healthz', ['GET']],
  ];
  for (const [method, path, allow] of cases) {
    test(`${method} ${path} -> 405 with Allow: ${allow.join(', ')}`, async () => {
      const res = await c({ method, path, body: method === 'GET' ? undefined : '' });
      const body = expectClientError(res, [405], `${method} ${path}`);
      const got = parseAllow(res.headers.allow);
      for (const m of allow) assert.ok(got.has(m), `Allow "${res.headers.allow}" lacks ${m}`);
      assert.ok(!got.has(method), `Allow "${res.headers.allow}" lists the refused method ${method}`);
      assert.equal(body.error.type, 'invalid_request_error');
    });
  }

  // (`/` is the web console's page: tests/browser/console_http.test.mjs.)
  for (const path of ['/v1/nope', '/v2/files', '/v1', '/v1/files/file-abc/content/more', '/v1/files/file-abc/other', '/v1/uploadsx', '/healthzx', '/consolex', '/console/a/b']) {
    test(`GET ${path} -> 404 JSON`, async () => {
      const res = await c.get(path);
      expectClientError(res, [404], `GET ${path}`);
    });
  }

  test('keep-alive: two requests on one connection', async () => {
    const h = rawHead('GET', '/v1/files', { Authorization: `Bearer ${key}` });
    const waitFirst = async ({ responses }) => {
      const t0 = Date.now();
      while (responses.length < 1 && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 10));
    };
    const r = await rawExchange(srv.port, [h, waitFirst, h], { count: 2 });
    assert.equal(r.responses.length, 2, `got ${r.responses.length} responses: ${r.raw.toString().slice(0, 300)}`);
    for (const x of r.responses) assert.equal(x.status, 200);
    assert.notEqual(r.responses[0].headers['x-request-id'], r.responses[1].headers['x-request-id'], 'request ids must differ');
  });

  test('every response has a distinct x-request-id', async () => {
    const ids = new Set();
    for (let i = 0; i < 5; i++) {
      const res = await c.get('/v1/files');
      assert.match(res.headers['x-request-id'], REQUEST_ID_RE);
      ids.add(res.headers['x-request-id']);
    }
    const h = await request(srv.origin, { path: '/healthz' });
    assert.match(String(h.headers['x-request-id']), REQUEST_ID_RE, '/healthz x-request-id');
    assert.equal(ids.size, 5);
  });
});

describe('auth', () => {
  const routes = [
    ['GET', '/v1/files'],
    ['POST', '/v1/files'],
    ['GET', '/v1/files/file-abc'],
    ['DELETE', '/v1/files/file-abc'],
    ['GET', '/v1/files/file-abc/content'],
  ];
  for (const [method, path] of routes) {
    test(`${method} ${path} without a key -> 401, exact real message`, async () => {
      const res = await request(srv.origin, { method, path, body: method === 'POST' ? '' : undefined });
      expectError(res, 401, { message: MSG_MISSING_KEY, type: 'invalid_request_error', param: null, code: null }, 'no key');
    });
  }

  test('wrong key -> 401 invalid_api_key, key masked (first 8, stars, last 4)', async () => {
    const wrong = 'sk-argot-' + randB58(40);
    const res = await request(srv.origin, { path: '/v1/files', key: wrong });
    expectError(res, 401, { message: msgWrongKey(wrong), param: null, code: 'invalid_api_key' }, 'wrong key');
    assert.ok(!res.text.includes(wrong.slice(8, -4)), 'the middle of the key leaked');
  });

  test('the recorded 38-character example masks like api.openai.com', async () => {
    const k = 'not-a-re' + 'al-key-that-is-not-recogn' + 'i' + 'ized';
    assert.equal(k.length, 38);
    const res = await request(srv.origin, { path: '/v1/files', key: k });
    const body = expectError(res, 401, { param: null, code: 'invalid_api_key' }, '38-char key');
    assert.equal(body.error.message, `Incorrect API key provided: not-a-re${'*'.repeat(26)}ized. You can find your API key at https://platform.openai.com/account/api-keys.`);
  });

  test('an 8-character wrong key is shown unmasked (recorded fake_key)', async () => {
    const res = await request(srv.origin, { path: '/v1/files', key: 'fake_key' });
    expectError(res, 401, { message: msgWrongKey('fake_key'), code: 'invalid_api_key' }, 'fake_key');
  });

  test('a truncated real key is refused', async () => {
    const res = await request(srv.origin, { path: '/v1/files', key: key.slice(0, -1) });
    expectError(res, 401, { code: 'invalid_api_key' }, 'truncated key');
  });

  for (const [name, value] of [
    ['Basic scheme', 'Basic Zm9vOmJhcg=='],
    ['Bearer without token', 'Bearer'],
    ['Bearer with blank token', 'Bearer    '],
    ['token without scheme', 'sk-argot-xyz'],
    ['long garbage (8 KB)', 'Bearer ' + 'A'.repeat(8192)],
    ['non-ASCII bytes', 'Bearer sk-\u00e9\u00e8\u00ff'],
    ['key with a quote and backslash', 'Bearer abc"def\\ghi-1234'],
  ]) {
    test(`malformed Authorization (${name}) -> 401 JSON`, async () => {
      const h = rawHead('GET', '/v1/files', { Authorization: value });
      const r = await rawExchange(srv.port, [Buffer.from(h, 'latin1')]);
      assert.equal(r.responses.length, 1, `no response: ${r.error?.message} ${r.raw.toString().slice(0, 200)}`);
      const x = r.responses[0];
      assert.equal(x.status, 401, x.text);
      assert.equal(x.headers['content-type'], 'application/json');
      assertErrorBody(x.json, { type: 'invalid_request_error', param: null }, name);
      assert.ok([null, 'invalid_api_key'].includes(x.json.error.code));
    });
  }

  test('/healthz needs no key (and ignores a bad one)', async () => {
    assert.equal((await request(srv.origin, { path: '/healthz' })).status, 200);
    assert.equal((await request(srv.origin, { path: '/healthz', key: 'garbage' })).status, 200);
  });
});

describe('multipart', () => {
  const post = (headers, body) => request(srv.origin, { method: 'POST', path: '/v1/files', key, headers, body });

  test('chunked request without Content-Length is accepted', async () => {
    const mp = multipart(uploadParts('chunked.txt', Buffer.alloc(100000, 0x7a), 'assistants'));
    async function* pieces() {
      for (let i = 0; i < mp.body.length; i += 7777) yield mp.body.subarray(i, i + 7777);
    }
    const res = await request(srv.origin, { method: 'POST', path: '/v1/files', key, headers: { 'content-type': mp.contentType }, body: pieces() });
    assertFileObject(expectJson(res, 200, 'chunked'), { filename: 'chunked.txt', bytes: 100000 });
  });

  test('purpose before file, quoted boundary with "=" and unquoted names (all real client orders)', async () => {
    const b = 'Gvg=u2QyHvnRTVbssPgaFS3ZGmB=mvYbztNuEi6P60UUc1Uc6mJ2wL66VnoT_Y57pTn04d';
    const body = Buffer.from(
      `--${b}\r\nContent-Disposition: form-data; name=purpose\r\n\r\nassistants\r\n` +
        `--${b}\r\nContent-Disposition: form-data; name=file; filename=order.txt\r\nContent-Type: text/plain\r\n\r\nhello\r\n--${b}--\r\n`,
    );
    const res = await post({ 'content-type': `multipart/form-data; boundary="${b}"` }, body);
    assertFileObject(expectJson(res, 200, 'purpose first'), { filename: 'order.txt', bytes: 5 });
  });

  const bad = {
    'no boundary parameter': () => ({ ct: 'multipart/form-data', body: multipart(uploadParts('a.txt', 'x', 'assistants'), 'abc').body }),
    'boundary not in the body': () => ({ ct: 'multipart/form-data; boundary=zzz', body: multipart(uploadParts('a.txt', 'x', 'assistants'), 'abc').body }),
    'truncated (no closing delimiter)': () => {
      const m = multipart(uploadParts('a.txt', 'hello world', 'assistants'), 'abc');
      return { ct: m.contentType, body: m.body.subarray(0, m.body.length - 12) };
    },
    'truncated inside the file data': () => {
      const m = multipart([{ name: 'purpose', value: 'assistants' }, { name: 'file', filename: 'a.txt', data: Buffer.alloc(5000, 0x61) }], 'abc');
      return { ct: m.contentType, body: m.body.subarray(0, 2000) };
    },
    'missing file': () => {
      const m = multipart([{ name: 'purpose', value: 'assistants' }]);
      return { ct: m.contentType, body: m.body };
    },
    'missing purpose': () => {
      const m = multipart([{ name: 'file', filename: 'a.txt', data: Buffer.from('x') }]);
      return { ct: m.contentType, body: m.body };
    },
    'file part without a filename (a plain field)': () => {
      const m = multipart([{ name: 'file', value: 'just text' }, { name: 'purpose', value: 'assistants' }]);
      return { ct: m.contentType, body: m.body };
    },
    'duplicate file parts': () => {
      const m = multipart([...uploadParts('a.txt', 'one', 'assistants'), { name: 'file', filename: 'b.txt', data: Buffer.from('two') }]);
      return { ct: m.contentType, body: m.body };
    },
    'duplicate purpose fields': () => {
      const m = multipart([...uploadParts('a.txt', 'one', 'assistants'), { name: 'purpose', value: 'vision' }]);
      return { ct: m.contentType, body: m.body };
    },
    'empty body': () => ({ ct: 'multipart/form-data; boundary=abc', body: '' }),
    'not multipart (JSON)': () => ({ ct: 'application/json', body: '{"purpose":"assistants","file":"x"}' }),
    'no Content-Type': () => ({ ct: undefined, body: 'purpose=assistants' }),
    'garbage': () => ({ ct: 'multipart/form-data; boundary=abc', body: randomBytes(3000) }),
    'boundary longer than 70 characters': () => {
      const m = multipart(uploadParts('a.txt', 'x', 'assistants'), 'b'.repeat(71));
      return { ct: m.contentType, body: m.body };
    },
    'expires_after[seconds] below 3600': () => {
      const m = multipart(uploadParts('a.txt', 'x', 'assistants', [{ name: 'expires_after[anchor]', value: 'created_at' }, { name: 'expires_after[seconds]', value: '3599' }]));
      return { ct: m.contentType, body: m.body };
    },
    'expires_after[seconds] above 2592000': () => {
      const m = multipart(uploadParts('a.txt', 'x', 'assistants', [{ name: 'expires_after[anchor]', value: 'created_at' }, { name: 'expires_after[seconds]', value: '2592001' }]));
      return { ct: m.contentType, body: m.body };
    },
    'expires_after[seconds] not a number': () => {
      const m = multipart(uploadParts('a.txt', 'x', 'assistants', [{ name: 'expires_after[anchor]', value: 'created_at' }, { name: 'expires_after[seconds]', value: '1h' }]));
      return { ct: m.contentType, body: m.body };
    },
    'expires_after[anchor] not created_at': () => {
      const m = multipart(uploadParts('a.txt', 'x', 'assistants', [{ name: 'expires_after[anchor]', value: 'last_active_at' }, { name: 'expires_after[seconds]', value: '3600' }]));
      return { ct: m.contentType, body: m.body };
    },
    'expires_after[seconds] without anchor': () => {
      const m = multipart(uploadParts('a.txt', 'x', 'assistants', [{ name: 'expires_after[seconds]', value: '3600' }]));
      return { ct: m.contentType, body: m.body };
    },
    'expires_after JSON part that is not JSON': () => {
      const m = multipart(uploadParts('a.txt', 'x', 'assistants', [{ name: 'expires_after', value: '{"anchor":', contentType: 'application/json' }]));
      return { ct: m.contentType, body: m.body };
    },
    'expires_after JSON part with seconds out of range': () => {
      const m = multipart(uploadParts('a.txt', 'x', 'assistants', [{ name: 'expires_after', value: '{"anchor":"created_at","seconds":60}', contentType: 'application/json' }]));
      return { ct: m.contentType, body: m.body };
    },
  };
  for (const [name, make] of Object.entries(bad)) {
    test(`${name} -> 400 JSON`, async () => {
      const { ct, body } = make();
      const res = await post(ct ? { 'content-type': ct } : {}, body);
      const b = expectClientError(res, [400], name);
      assert.equal(b.error.type, 'invalid_request_error', name);
    });
  }

  test('expires_after at the bounds (3600 and 2592000) is accepted', async () => {
    for (const s of [3600, 2592000]) {
      const res = await c.upload(uploadParts('b.txt', 'x', 'assistants', [{ name: 'expires_after[anchor]', value: 'created_at' }, { name: 'expires_after[seconds]', value: String(s) }]));
      const f = expectJson(res, 200, `seconds ${s}`);
      assert.equal(f.expires_at, f.created_at + s);
    }
  });

  test('refused uploads store nothing and leave no temporaries', async () => {
    const org = 'org-edge-empty';
    const k = await srv.createKey(org); // keys created while running must work at once
    const kc = client(srv.origin, k);
    await Promise.allSettled(
      Object.values(bad).map((make) => {
        const { ct, body } = make();
        return request(srv.origin, { method: 'POST', path: '/v1/files', key: k, headers: ct ? { 'content-type': ct } : {}, body });
      }),
    );
    const list = expectJson(await kc.get('/v1/files'), 200, 'list');
    assert.deepEqual(list, { object: 'list', data: [], has_more: false, first_id: null, last_id: null });
    const tmpDir = join(srv.dataDir, 'tmp');
    let left = [];
    try {
      left = readdirSync(tmpDir);
    } catch {
      /* no tmp dir at all is fine */
    }
    assert.deepEqual(left, [], `temporaries left in ${tmpDir}`);
  });
});

describe('list parameters', () => {
  let ids;
  before(async () => {
    ids = [];
    for (let i = 0; i < 3; i++) ids.push((await upload(`l${i}.txt`, 'x')).id);
  });
  for (const [q, param] of [
    ['limit=0', 'limit'],
    ['limit=10001', 'limit'],
    ['limit=-1', 'limit'],
    ['limit=abc', 'limit'],
    ['limit=1.5', 'limit'],
    ['limit=', 'limit'],
    ['limit=99999999999999999999999', 'limit'],
    ['order=up', 'order'],
    ['order=ASC%20', 'order'],
    ['order=', 'order'],
    ['after=file-' + 'x'.repeat(22), 'after'],
    ['after=fake_id', 'after'],
    ['after=', 'after'],
  ]) {
    test(`GET /v1/files?${q} -> 400 param ${param}`, async () => {
      const res = await c.get(`/v1/files?${q}`);
      expectError(res, 400, { type: 'invalid_request_error', param }, q);
    });
  }
  test('limit=1 and limit=10000 are valid; unknown parameters are ignored', async () => {
    const one = expectJson(await c.get('/v1/files?limit=1'), 200, 'limit=1');
    assert.equal(one.data.length, 1);
    assert.equal(one.has_more, true);
    assert.equal(one.first_id, one.data[0].id);
    assert.equal(one.last_id, one.data[0].id);
    expectJson(await c.get('/v1/files?limit=10000'), 200, 'limit=10000');
    expectJson(await c.get('/v1/files?foo=bar&order=asc'), 200, 'unknown param');
  });
  test('the default limit is 10000: 105 files come in one page', async () => {
    const k = await srv.createKey('org-edge-many');
    const kc = client(srv.origin, k);
    for (let i = 0; i < 105; i += 15) {
      const batch = Array.from({ length: Math.min(15, 105 - i) }, (_, j) => kc.upload(uploadParts(`m${i + j}.txt`, 'm', 'assistants')));
      for (const r of await Promise.all(batch)) expectJson(r, 200, 'upload');
    }
    const res = expectJson(await kc.get('/v1/files'), 200, 'list without limit');
    assert.equal(res.data.length, 105);
    assert.equal(res.has_more, false);
    assert.equal(res.first_id, res.data[0].id);
    assert.equal(res.last_id, res.data[104].id);
  });
  test('purpose filter is free-form: unknown purpose lists nothing (200)', async () => {
    const res = expectJson(await c.get('/v1/files?purpose=world_domination'), 200, 'purpose filter');
    assert.deepEqual(res, { object: 'list', data: [], has_more: false, first_id: null, last_id: null });
  });
  test('after= the last id -> empty page', async () => {
    const all = expectJson(await c.get('/v1/files?order=asc'), 200, 'all');
    const last = all.data[all.data.length - 1].id;
    const res = expectJson(await c.get(`/v1/files?order=asc&after=${last}`), 200, 'after last');
    assert.deepEqual(res, { object: 'list', data: [], has_more: false, first_id: null, last_id: null });
  });
});

describe('hostile ids', () => {
  const paths = [
    '/v1/files/../../etc/passwd',
    '/v1/files/..%2F..%2Fargot.db',
    '/v1/files/%2e%2e',
    '/v1/files/%2e%2e%2f%2e%2e%2fargot.db/content',
    '/v1/files/file-abc%00def',
    '/v1/files/file-abc%2Fcontent',
    '/v1/files/%ff%fe',
    '/v1/files/%',
    '/v1/files/%zz',
    '/v1/files/file-' + 'a'.repeat(10240),
    '/v1/files/file-' + 'a'.repeat(10240) + '/content',
    "/v1/files/'%20OR%201=1--",
    '/v1/files/%F0%9F%92%A9',
  ];
  for (const p of paths) {
    for (const method of ['GET', 'DELETE']) {
      if (method === 'DELETE' && p.endsWith('/content')) continue;
      test(`${method} ${p.length > 80 ? p.slice(0, 60) + `…(${p.length} chars)` : p} -> 404/400 JSON, never 500`, async () => {
        const r = await rawExchange(srv.port, [rawHead(method, p, { Authorization: `Bearer ${key}` })]);
        assert.equal(r.responses.length, 1, `no response (${r.error?.message}): ${r.raw.toString().slice(0, 200)}`);
        const x = r.responses[0];
        assert.ok([400, 404, 414].includes(x.status), `status ${x.status}: ${x.text.slice(0, 300)}`);
        assert.equal(x.headers['content-type'], 'application/json', `${x.status} ${x.text.slice(0, 200)}`);
        assertErrorBody(x.json, { type: 'invalid_request_error' }, p.slice(0, 60));
        assert.ok(!x.text.includes('SQLite format'), 'database bytes leaked');
      });
    }
  }

  test('unknown id with odd characters echoes the id in the message as JSON text', async () => {
    const res = await c.get('/v1/files/fake%22id%5C');
    expectError(res, 404, { message: msgNoSuchFile('fake"id\\'), param: 'id', code: null }, 'quote in id');
  });

  test('a percent-encoded real id is the same id (RFC 3986 normalization)', async () => {
    const f = await upload('pct.txt', 'pct');
    const enc = '%66%69%6C%65' + f.id.slice(4); // "file" percent-encoded
    const res = await c.get(`/v1/files/${enc}`);
    assertFileObject(expectJson(res, 200, 'percent-encoded id'), { id: f.id });
  });
});

describe('download', () => {
  const rawGet = async (path, headers = {}) => {
    const r = await rawExchange(srv.port, [rawHead('GET', path, { Authorization: `Bearer ${key}`, ...headers })]);
    assert.equal(r.responses.length, 1, `no response: ${r.error?.message}`);
    return r.responses[0];
  };
  const assertSafeHeaders = (x) => {
    assert.ok(/^[\x20-\x7e\r\n\t]*$/.test(x.rawHead), `non-ASCII bytes in the response head: ${JSON.stringify(x.rawHead)}`);
    const cd = x.headers['content-disposition'];
    assert.ok(cd, 'Content-Disposition missing');
    assert.match(cd, /^attachment\s*;/i, `Content-Disposition: ${cd}`);
    assert.ok(!('x-injected' in x.headers), 'a header was injected through the filename');
    return cd;
  };
  const cdFilename = (cd) => {
    const star = /filename\*\s*=\s*(?:UTF-8|utf-8)''([^;\s]+)/.exec(cd);
    if (star) return decodeURIComponent(star[1]);
    const q = /filename\s*=\s*"((?:[^"\\]|\\.)*)"/.exec(cd);
    if (q) return q[1].replace(/\\(.)/g, '$1');
    const t = /filename\s*=\s*([^;\s]+)/.exec(cd);
    return t ? t[1] : undefined;
  };

  test('octet-stream, exact Content-Length, attachment with the filename', async () => {
    const data = randomBytes(12345);
    const f = await upload('report.pdf', data);
    const x = await rawGet(`/v1/files/${f.id}/content`);
    assert.equal(x.status, 200);
    assert.equal(x.headers['content-type'], 'application/octet-stream');
    assert.equal(x.headers['content-length'], String(data.length));
    assert.match(String(x.headers['x-request-id']), REQUEST_ID_RE);
    assert.deepEqual(x.body, data);
    const cd = assertSafeHeaders(x);
    assert.equal(cdFilename(cd), 'report.pdf');
  });

  test('non-ASCII filename: header stays ASCII; filename* carries the UTF-8 name', async () => {
    const name = 'résumé 你好 🎉.txt';
    const body = multipart([{ name: 'file', filename: name, data: Buffer.from('x') }, { name: 'purpose', value: 'assistants' }]);
    const f = expectJson(await c({ method: 'POST', path: '/v1/files', headers: { 'content-type': body.contentType }, body: body.body }), 200, 'utf-8 name');
    assert.equal(f.filename, name);
    const x = await rawGet(`/v1/files/${f.id}/content`);
    assert.equal(x.status, 200);
    const cd = assertSafeHeaders(x);
    assert.equal(cdFilename(cd), name, `Content-Disposition ${cd} should carry filename*=UTF-8''<pct-encoded name>`);
  });

  for (const [label, name] of [
    ['CR/LF', 'evil\r\nX-Injected: 1\r\n.txt'],
    ['quote and backslash', 'a"b\\c;d.txt'],
    ['NUL-free control chars', 'tab\there\x01.txt'],
  ]) {
    test(`${label} in the filename is never echoed raw into headers`, async (t) => {
      const mp = multipart([
        { raw: Buffer.from(`Content-Disposition: form-data; name="file"; filename="x.txt"; filename*=utf-8''${encodeURIComponent(name)}\r\nContent-Type: text/plain\r\n\r\nbody`) },
        { name: 'purpose', value: 'assistants' },
      ]);
      const res = await c({ method: 'POST', path: '/v1/files', headers: { 'content-type': mp.contentType }, body: mp.body });
      if (res.status === 400) {
        expectClientError(res, [400], label); // refusing such a name is safe too
        t.diagnostic(`upload refused: ${res.json.error.message}`);
        return;
      }
      const f = expectJson(res, 200, label);
      assert.equal(f.filename, name, 'the JSON filename must round-trip exactly (JSON-escaped)');
      const x = await rawGet(`/v1/files/${f.id}/content`);
      assert.equal(x.status, 200);
      assert.deepEqual(x.body, Buffer.from('body'));
      const cd = assertSafeHeaders(x);
      t.diagnostic(`Content-Disposition: ${cd}`);
      assert.ok(!/[\r\n]/.test(cd));
    });
  }

  for (const accept of ['text/plain', 'application/binary', 'application/json', '*/*', 'image/png', 'text/html;q=0.9, application/xml']) {
    test(`Accept: ${accept} -> 200 octet-stream (never 406)`, async () => {
      const f = await upload('acc.bin', Buffer.from([1, 2, 3]));
      const x = await rawGet(`/v1/files/${f.id}/content`, { Accept: accept });
      assert.equal(x.status, 200, x.text);
      assert.equal(x.headers['content-type'], 'application/octet-stream');
      assert.deepEqual(x.body, Buffer.from([1, 2, 3]));
    });
  }

  test('downloads are allowed for every purpose without --strict-download', async () => {
    for (const p of ['assistants', 'user_data', 'vision', 'evals']) {
      const f = await upload(`dl-${p}.txt`, 'ok', p);
      const x = await rawGet(`/v1/files/${f.id}/content`);
      assert.equal(x.status, 200, `${p}: ${x.text}`);
    }
  });
});

describe('early refusal of oversized bodies', () => {
  test('Expect: 100-continue with Content-Length over --max-file-bytes -> 413 before any body', async () => {
    const head = rawHead('POST', '/v1/files', {
      Authorization: `Bearer ${key}`,
      'Content-Type': 'multipart/form-data; boundary=abc',
      'Content-Length': String(1 << 30),
      Expect: '100-continue',
    });
    const r = await rawExchange(srv.port, [head], { timeoutMs: 5000 });
    assert.ok(r.responses.length >= 1, `no answer within 5 s without a body (${r.error?.message})`);
    const interim = r.responses.filter((x) => x.status === 100);
    assert.equal(interim.length, 0, 'server sent 100 Continue for a body it must refuse');
    const x = r.responses[0];
    assert.equal(x.status, 413, x.text);
    assert.equal(x.headers['content-type'], 'application/json');
    assertErrorBody(x.json, { type: 'server_error' }, '413'); // the front end's 413 is a server_error (wire reference §3)
  });

  test('Content-Length over --max-file-bytes without Expect -> 413 without reading the body', async () => {
    const head = rawHead('POST', '/v1/files', {
      Authorization: `Bearer ${key}`,
      'Content-Type': 'multipart/form-data; boundary=abc',
      'Content-Length': String(10 * MAX_FILE),
    });
    const r = await rawExchange(srv.port, [head], { timeoutMs: 5000 });
    assert.ok(r.responses.length >= 1, `no answer within 5 s without a body: the server waited for ${10 * MAX_FILE} bytes`);
    assert.equal(r.responses[0].status, 413, r.responses[0].text);
    assertErrorBody(r.responses[0].json, { type: 'server_error' }, '413');
  });

  test('Expect: 100-continue on a fitting upload gets 100 then 200', async () => {
    const mp = multipart(uploadParts('cont.txt', Buffer.alloc(5000, 0x62), 'assistants'));
    const head = rawHead('POST', '/v1/files', {
      Authorization: `Bearer ${key}`,
      'Content-Type': mp.contentType,
      'Content-Length': String(mp.body.length),
      Expect: '100-continue',
    });
    const r = await rawExchange(
      srv.port,
      [
        head,
        async ({ responses }) => {
          const t0 = Date.now();
          while (!responses.some((x) => x.status === 100) && Date.now() - t0 < 3000) await new Promise((res) => setTimeout(res, 10));
        },
        mp.body,
      ],
      { timeoutMs: 8000 },
    );
    const statuses = r.responses.map((x) => x.status);
    assert.deepEqual(statuses, [100, 200], `statuses ${statuses}: ${r.raw.toString().slice(0, 300)}`);
    assertFileObject(r.responses[1].json, { bytes: 5000 });
  });

  test('missing key with a huge Content-Length -> 401 without reading the body', async () => {
    const head = rawHead('POST', '/v1/files', { 'Content-Type': 'multipart/form-data; boundary=abc', 'Content-Length': String(1 << 30) });
    const r = await rawExchange(srv.port, [head], { timeoutMs: 5000 });
    assert.ok(r.responses.length >= 1, 'no answer within 5 s without a body');
    assert.equal(r.responses[0].status, 401);
  });
});

describe('/healthz and /metrics', () => {
  test('/healthz: 200 without auth', async () => {
    const res = await request(srv.origin, { path: '/healthz' });
    assert.equal(res.status, 200);
  });
  test('/metrics is 404 JSON without --metrics', async () => {
    const res = await request(srv.origin, { path: '/metrics', key });
    expectClientError(res, [404], '/metrics off');
  });
  test('/metrics with --metrics: 200 Prometheus text (with a key)', async () => {
    const res = await request(msrv.origin, { path: '/metrics', key: msrv.keys['org-metrics'] });
    assert.equal(res.status, 200, res.text.slice(0, 300));
    assert.match(String(res.headers['content-type']), /^text\/plain/);
    assert.match(res.text, /^# (HELP|TYPE) /m, 'no Prometheus HELP/TYPE lines');
  });
  test('/metrics counts requests by route name (unknown paths too) and reports what is stored', async () => {
    const key = msrv.keys['org-metrics'];
    const up = await client(msrv, key).upload(uploadParts('m.txt', 'metrics\n', 'assistants'));
    assert.equal(up.status, 200, up.text);
    await request(msrv.origin, { path: '/no/such/route' });
    await request(msrv.origin, { path: '/healthz' });
    const res = await request(msrv.origin, { path: '/metrics' });
    const count = (route, status) => {
      const m = res.text.match(new RegExp(`^argot_http_requests_total\\{route="${route.replace('.', '\\.')}",status="${status}"\\} (\\d+)$`, 'm'));
      return m ? Number(m[1]) : 0;
    };
    assert.ok(count('files.create', 200) >= 1, `files.create 200 not counted:\n${res.text.slice(0, 2000)}`);
    assert.ok(count('healthz', 200) >= 1, 'healthz 200 not counted');
    assert.ok(count('unknown', 404) >= 1, 'a request of no route is counted as route "unknown"');
    assert.match(res.text, /^argot_http_request_duration_seconds_bucket\{route="files\.create",le="\+Inf"\} [1-9]\d*$/m);
    const stored = res.text.match(/^argot_files_stored (\d+)$/m);
    assert.ok(stored && Number(stored[1]) >= 1, 'argot_files_stored missing or 0');
    assert.match(res.text, /^argot_bytes_stored [1-9]\d*$/m);
  });
  test('/metrics with --metrics is unauthenticated (issue 2: "unauthenticated but off unless enabled") and shows no org data', async () => {
    const res = await request(msrv.origin, { path: '/metrics' });
    assert.equal(res.status, 200, res.text.slice(0, 300));
    assert.doesNotMatch(res.text, /org-metrics|file-[1-9A-HJ-NP-Za-km-z]{22}/, 'metrics must not name orgs or files');
  });
});
