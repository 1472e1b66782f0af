// The console's HTTP side without a browser: the page and its assets as argotd serves them
// (CSP, cache headers, content hashes, HEAD, 304, 404 envelope), and the Argot extension
// GET /v1/argot/usage (auth, shape, values that follow uploads, parts, deletes and expiry).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { stopClean } from './lib/server.mjs';
import { startArgotd } from '../compat/lib/argotd.mjs';
import { request, client, expectError, expectJson, msgWrongKey, MSG_MISSING_KEY } from '../compat/lib/http.mjs';

export const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; " +
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
const IMMUTABLE = 'public, max-age=31536000, immutable';
const USAGE_KEYS = [
  'object',
  'organization',
  'used_bytes',
  'reserved_bytes',
  'quota_bytes',
  'file_count',
  'max_file_bytes',
  'max_upload_bytes',
  'max_part_bytes',
  'max_batch_bytes',
];
const LIMITS = {
  '--max-file-bytes': 300000,
  '--max-upload-bytes': 5000000,
  '--max-part-bytes': 120000,
  '--max-org-bytes': 2000000,
  '--max-batch-bytes': 250000,
};
const sha = (b) => createHash('sha256').update(b).digest('hex');

let srv;
let api;
let other;
before(async () => {
  srv = await startArgotd({ orgs: ['org-usage', 'org-else'], flags: [...Object.entries(LIMITS).flat().map(String), '--metrics'] });
  api = client(srv, srv.keys['org-usage']);
  other = client(srv, srv.keys['org-else']);
});
after(async () => {
  await stopClean(srv);
});

function assertConsoleHeaders(res, what) {
  assert.equal(res.headers['content-security-policy'], CSP, `${what}: CSP`);
  assert.equal(res.headers['x-content-type-options'], 'nosniff', `${what}: nosniff`);
  assert.equal(res.headers['referrer-policy'], 'no-referrer', `${what}: Referrer-Policy`);
  assert.equal(res.headers['set-cookie'], undefined, `${what}: no cookie, ever`);
}

/** The hashed asset names a page or module names, e.g. app.0123456789ab.js. */
function referenced(text) {
  return [...text.matchAll(/(?:\/console\/|\.\/)([A-Za-z0-9_-]+\.[0-9a-f]{12}\.(?:js|css))/g)].map((m) => m[1]);
}

test('the page at /, /console and /console/: CSP, no-cache with an ETag, no key needed', async () => {
  let first;
  for (const path of ['/', '/console', '/console/']) {
    const res = await request(srv.origin, { path });
    assert.equal(res.status, 200, path);
    assert.equal(res.headers['content-type'], 'text/html; charset=utf-8', path);
    assert.equal(res.headers['cache-control'], 'no-cache', path);
    assert.match(res.headers.etag, /^"[0-9a-f]{16}"$/, path);
    assert.equal(res.headers.etag, `"${sha(res.body).slice(0, 16)}"`, `${path}: the ETag is the content's hash`);
    assertConsoleHeaders(res, path);
    assert.match(res.text, /<script type="module" src="\/console\/app\.[0-9a-f]{12}\.js"><\/script>/);
    assert.doesNotMatch(res.text, /\{\{|<script>|<style|\sstyle=|\son[a-z]+=/i, 'no placeholder, inline script or style left');
    if (first) assert.equal(res.text, first, `${path} serves the same page`);
    first = res.text;
  }
});

test('every asset the page names (and the modules name) is served immutable under its content hash', async () => {
  const page = (await request(srv.origin, { path: '/' })).text;
  const seen = new Set();
  const queue = referenced(page);
  assert.ok(queue.some((n) => n.endsWith('.css')) && queue.some((n) => n.endsWith('.js')), `names: ${queue}`);
  let total = 0;
  while (queue.length) {
    const name = queue.shift();
    if (seen.has(name)) continue;
    seen.add(name);
    const res = await request(srv.origin, { path: `/console/${name}` });
    assert.equal(res.status, 200, name);
    assert.equal(res.headers['content-type'], name.endsWith('.js') ? 'text/javascript; charset=utf-8' : 'text/css; charset=utf-8');
    assert.equal(res.headers['cache-control'], IMMUTABLE, name);
    assertConsoleHeaders(res, name);
    const hash = sha(res.body);
    assert.equal(name.split('.')[1], hash.slice(0, 12), `${name}: the name carries the SHA-256 of the bytes`);
    assert.equal(res.headers.etag, `"${hash.slice(0, 16)}"`, name);
    assert.doesNotMatch(res.text, /\{\{[A-Za-z0-9._-]+\}\}/, `${name}: placeholders were substituted`);
    if (name.endsWith('.js')) assert.doesNotMatch(res.text, /\.innerHTML\s*=|insertAdjacentHTML|document\.write/, `${name}: no HTML sinks`);
    total += res.body.length;
    queue.push(...referenced(res.text));
  }
  assert.deepEqual([...seen].map((n) => n.split('.')[0]).sort(), ['api', 'app', 'app', 'files', 'upload']);
  assert.ok(total < 100000, `the console stays small: ${total} bytes of assets`);
});

test('HEAD answers the headers of GET without a body; If-None-Match gives 304', async () => {
  const get = await request(srv.origin, { path: '/console' });
  const name = referenced(get.text).find((n) => n.endsWith('.js'));
  for (const path of ['/console', `/console/${name}`]) {
    const g = await request(srv.origin, { path });
    const h = await request(srv.origin, { method: 'HEAD', path });
    assert.equal(h.status, 200, path);
    assert.equal(h.body.length, 0, `${path}: HEAD has no body`);
    assert.equal(h.headers['content-length'], String(g.body.length), `${path}: HEAD's length is GET's`);
    for (const k of ['content-type', 'cache-control', 'etag', 'content-security-policy']) assert.equal(h.headers[k], g.headers[k], `${path}: ${k}`);
    for (const inm of [g.headers.etag, `W/${g.headers.etag}`, `"0000000000000000", ${g.headers.etag}`, '*']) {
      const nm = await request(srv.origin, { path, headers: { 'if-none-match': inm } });
      assert.equal(nm.status, 304, `${path} If-None-Match: ${inm}`);
      assert.equal(nm.body.length, 0);
      assert.equal(nm.headers.etag, g.headers.etag);
      assert.equal(nm.headers['content-security-policy'], CSP);
    }
    const changed = await request(srv.origin, { path, headers: { 'if-none-match': '"0000000000000000"' } });
    assert.equal(changed.status, 200, `${path}: another ETag gets the body`);
    assert.equal(changed.body.length, g.body.length);
  }
});

test('unknown asset names are 404 in the OpenAI error envelope, with the CSP', async () => {
  const page = (await request(srv.origin, { path: '/' })).text;
  const js = referenced(page).find((n) => n.endsWith('.js'));
  const stale = js.replace(/\.[0-9a-f]{12}\./, '.000000000000.');
  for (const name of ['nope.js', stale, 'app.js', 'index.html', 'app.css', '%2e%2e%2fargot.db', js + 'x', js + '%00x', 'x'.repeat(300)]) {
    for (const method of ['GET', 'HEAD']) {
      const res = await request(srv.origin, { method, path: `/console/${name}` });
      assert.equal(res.status, 404, `${method} /console/${name}`);
      assert.equal(res.headers['content-security-policy'], CSP, `${method} /console/${name}: CSP`);
      if (method === 'GET') expectError(res, 404, { message: `Invalid URL (GET /console/${name})`, param: null, code: null });
    }
  }
  // Deeper paths are no asset at all: the router's 404.
  expectError(await request(srv.origin, { path: '/console/a/b.js' }), 404, { message: 'Invalid URL (GET /console/a/b.js)' });
});

test('the console routes take GET and HEAD only', async () => {
  for (const path of ['/', '/console', '/console/x.js']) {
    const res = await request(srv.origin, { method: 'POST', path, body: 'x' });
    expectError(res, 405, { message: `Invalid method for URL (POST ${path}). Allowed: GET, HEAD` });
    assert.equal(res.headers.allow, 'GET, HEAD');
  }
});

test('GET /v1/argot/usage: bearer auth like every /v1 route', async () => {
  expectError(await request(srv.origin, { path: '/v1/argot/usage' }), 401, { message: MSG_MISSING_KEY });
  const wrong = 'sk-argot-' + 'x'.repeat(40);
  expectError(await request(srv.origin, { path: '/v1/argot/usage', key: wrong }), 401, {
    message: msgWrongKey(wrong),
    code: 'invalid_api_key',
  });
  expectError(await api({ method: 'POST', path: '/v1/argot/usage', body: '{}' }), 405, {
    message: 'Invalid method for URL (POST /v1/argot/usage). Allowed: GET, HEAD',
  });
});

async function usage(c = api) {
  const u = expectJson(await c.get('/v1/argot/usage'), 200);
  assert.deepEqual(Object.keys(u), USAGE_KEYS, JSON.stringify(u));
  return u;
}

test('usage: the limits are the flags, used bytes and the file count follow uploads and deletes', async () => {
  const u0 = await usage();
  assert.deepEqual(u0, {
    object: 'argot.usage',
    organization: 'org-usage',
    used_bytes: 0,
    reserved_bytes: 0,
    quota_bytes: LIMITS['--max-org-bytes'],
    file_count: 0,
    max_file_bytes: LIMITS['--max-file-bytes'],
    max_upload_bytes: LIMITS['--max-upload-bytes'],
    max_part_bytes: LIMITS['--max-part-bytes'],
    max_batch_bytes: LIMITS['--max-batch-bytes'],
  });
  const ids = [];
  for (const n of [1000, 2345, 7]) {
    const r = expectJson(await api.upload([{ name: 'purpose', value: 'assistants' }, { name: 'file', filename: `u${n}.bin`, data: Buffer.alloc(n, 1) }]), 200);
    ids.push(r.id);
  }
  let u = await usage();
  assert.equal(u.used_bytes, 3352);
  assert.equal(u.file_count, 3);
  assert.equal(u.reserved_bytes, 0);
  const o = await usage(other);
  assert.equal(o.organization, 'org-else');
  assert.equal(o.used_bytes, 0, 'another organization sees its own usage only');
  assert.equal(o.file_count, 0);
  expectJson(await api.del(`/v1/files/${ids[1]}`), 200);
  u = await usage();
  assert.equal(u.used_bytes, 1007);
  assert.equal(u.file_count, 2);
  for (const id of [ids[0], ids[2]]) expectJson(await api.del(`/v1/files/${id}`), 200);
});

test('usage: parts of a pending upload count as used bytes, not as files, until cancelled', async () => {
  const up = expectJson(
    await api({
      method: 'POST',
      path: '/v1/uploads',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ filename: 'big.bin', purpose: 'assistants', bytes: 200000, mime_type: 'application/octet-stream' }),
    }),
    200,
  );
  const { multipart } = await import('../compat/lib/http.mjs');
  const mp = multipart([{ name: 'data', filename: 'blob', data: Buffer.alloc(100000, 2) }]);
  expectJson(await api({ method: 'POST', path: `/v1/uploads/${up.id}/parts`, headers: { 'content-type': mp.contentType }, body: mp.body }), 200);
  let u = await usage();
  assert.equal(u.used_bytes, 100000);
  assert.equal(u.file_count, 0);
  expectJson(await api({ method: 'POST', path: `/v1/uploads/${up.id}/cancel` }), 200);
  u = await usage();
  assert.equal(u.used_bytes, 0);
});

test('usage: expired files stop counting at once, before the sweeper removes them', async () => {
  const r = expectJson(
    await api.upload([
      { name: 'purpose', value: 'user_data' },
      { name: 'expires_after[anchor]', value: 'created_at' },
      { name: 'expires_after[seconds]', value: '3600' },
      { name: 'file', filename: 'soon.txt', data: Buffer.from('bye') },
    ]),
    200,
  );
  expectJson(await api.upload([{ name: 'purpose', value: 'user_data' }, { name: 'file', filename: 'stays.txt', data: Buffer.from('hi') }]), 200);
  assert.equal((await usage()).file_count, 2);
  await srv.restart({ flags: [...srv.flags, '--clock-offset', '7200', '--sweep-interval', '3600'] });
  const u = await usage();
  assert.equal(u.file_count, 1, 'the expired file is not counted');
  expectError(await api.get(`/v1/files/${r.id}`), 404);
});

test('metrics name the new routes', async () => {
  const page = await request(srv.origin, { path: '/' });
  await request(srv.origin, { path: `/console/${referenced(page.text)[0]}` });
  await usage();
  const res = await request(srv.origin, { path: '/metrics' });
  assert.equal(res.status, 200);
  for (const route of ['console.page', 'console.asset', 'argot.usage']) {
    assert.match(res.text, new RegExp(`argot_http_requests_total\\{route="${route.replace('.', '\\.')}",status="200"\\} \\d+`), route);
  }
});
