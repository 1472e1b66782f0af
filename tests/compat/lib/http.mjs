// Raw HTTP helpers (node:http and node:net) and the exact expectations of the wire reference
// (shared/docs/openai-files-api.md) shared by the test files.

import http from 'node:http';
import net from 'node:net';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';

// ---------------------------------------------------------------------------------------------
// Expectations from the wire reference

export const FILE_KEYS = ['object', 'id', 'purpose', 'filename', 'bytes', 'created_at', 'expires_at', 'status', 'status_details'];
export const LIST_KEYS = ['object', 'data', 'has_more', 'first_id', 'last_id'];
export const DELETE_KEYS = ['object', 'deleted', 'id'];
export const ERROR_KEYS = ['error', 'detail'];
export const ERROR_INNER_KEYS = ['message', 'type', 'param', 'code'];
export const DETAIL_KEYS = ['message', 'code'];

export const FILE_ID_RE = /^file-[1-9A-HJ-NP-Za-km-z]{22}$/;
export const REQUEST_ID_RE = /^req_[0-9a-f]{32}$/;
export const ACCEPTED_PURPOSES = ['assistants', 'batch', 'fine-tune', 'vision', 'user_data', 'evals'];
export const BATCH_DEFAULT_TTL = 2592000;

export const MSG_MISSING_KEY =
  "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank username) if you're accessing the API from your browser and are prompted for a username and password. You can obtain an API key from https://platform.openai.com/account/api-keys.";
export const maskKey = (k) => (k.length <= 8 ? k : k.slice(0, 8) + '*'.repeat(Math.max(0, k.length - 12)) + k.slice(-4));
export const msgWrongKey = (k) =>
  `Incorrect API key provided: ${maskKey(k)}. You can find your API key at https://platform.openai.com/account/api-keys.`;
export const msgNoSuchFile = (id) => `No such File object: ${id}`;
export const msgBadPurpose = (p) =>
  `'${p}' is not one of ['fine-tune', 'assistants', 'batch', 'user_data', 'vision', 'evals'] - 'purpose'`;
export const MSG_BATCH_JSONL = 'Invalid file format for Batch API. Must be .jsonl';
export const MSG_FT_JSONL = 'Invalid file format for Fine-Tuning API. Must be .jsonl';
export const MSG_TOO_LARGE = 'File is too large.';
export const msgQuota = (limitText = '100 GB') =>
  `You have exceeded your file storage quota. Organizations are limited to ${limitText} of files. Please delete old files or attempt with a smaller file size.`;

export function typeOf(v) {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'float';
  return typeof v;
}

/** Asserts a complete, well-formed OpenAI File object (keys in the real order). */
export function assertFileObject(f, expect = {}, where = 'file object') {
  assert.equal(typeOf(f), 'object', `${where}: not an object: ${JSON.stringify(f)}`);
  assert.deepEqual(Object.keys(f), FILE_KEYS, `${where}: keys/order differ: ${JSON.stringify(f)}`);
  assert.equal(f.object, 'file', `${where}.object`);
  assert.match(f.id, FILE_ID_RE, `${where}.id must be file- + 22 base58`);
  assert.equal(typeOf(f.purpose), 'string', `${where}.purpose`);
  assert.equal(typeOf(f.filename), 'string', `${where}.filename`);
  assert.equal(typeOf(f.bytes), 'integer', `${where}.bytes`);
  assert.equal(typeOf(f.created_at), 'integer', `${where}.created_at`);
  assert.ok(f.expires_at === null || typeOf(f.expires_at) === 'integer', `${where}.expires_at must be null or integer`);
  assert.equal(f.status, 'processed', `${where}.status`);
  assert.equal(f.status_details, null, `${where}.status_details`);
  for (const [k, v] of Object.entries(expect)) assert.deepEqual(f[k], v, `${where}.${k}`);
}

/** Asserts the real error envelope {error:{message,type,param,code},detail:{message,code}}. */
export function assertErrorBody(body, { message, type = 'invalid_request_error', param, code } = {}, where = 'error body') {
  assert.equal(typeOf(body), 'object', `${where}: not a JSON object: ${JSON.stringify(body)}`);
  assert.deepEqual(Object.keys(body), ERROR_KEYS, `${where}: top-level keys: ${JSON.stringify(body)}`);
  assert.deepEqual(Object.keys(body.error), ERROR_INNER_KEYS, `${where}: error keys: ${JSON.stringify(body)}`);
  assert.deepEqual(Object.keys(body.detail), DETAIL_KEYS, `${where}: detail keys: ${JSON.stringify(body)}`);
  const e = body.error;
  assert.equal(typeOf(e.message), 'string', `${where}.error.message`);
  assert.ok(e.message.length > 0, `${where}.error.message is empty`);
  assert.ok(e.param === null || typeof e.param === 'string', `${where}.error.param must be string|null`);
  assert.ok(e.code === null || typeof e.code === 'string', `${where}.error.code must be string|null`);
  assert.equal(body.detail.message, e.message, `${where}: detail.message must mirror error.message`);
  assert.equal(body.detail.code, e.code, `${where}: detail.code must mirror error.code`);
  if (message !== undefined) {
    if (message instanceof RegExp) assert.match(e.message, message, `${where}.error.message`);
    else assert.equal(e.message, message, `${where}.error.message`);
  }
  if (type !== undefined) assert.equal(e.type, type, `${where}.error.type`);
  if (param !== undefined) assert.equal(e.param, param, `${where}.error.param`);
  if (code !== undefined) assert.equal(e.code, code, `${where}.error.code`);
}

/** Asserts a JSON response: status, exact Content-Type, x-request-id; returns the parsed body. */
export function expectJson(res, status, where = '') {
  const ctx = `${where} ${res.method || ''} ${res.path || ''} -> ${res.status} ${res.text?.slice(0, 600)}`;
  assert.equal(res.status, status, `status: ${ctx}`);
  assert.equal(res.headers['content-type'], 'application/json', `Content-Type must be exactly application/json: ${ctx}`);
  assertRequestId(res, ctx);
  assert.ok(res.json !== undefined, `body is not JSON: ${ctx}`);
  return res.json;
}

/** expectJson + assertErrorBody. */
export function expectError(res, status, fields = {}, where = '') {
  const body = expectJson(res, status, where);
  assertErrorBody(body, fields, `${where} ${res.method || ''} ${res.path || ''}`);
  return body;
}

export function assertRequestId(res, ctx = '') {
  const rid = res.headers['x-request-id'];
  assert.ok(rid !== undefined, `x-request-id missing: ${ctx}`);
  assert.match(String(rid), REQUEST_ID_RE, `x-request-id format (req_ + 32 hex): ${ctx}`);
}

// ---------------------------------------------------------------------------------------------
// Requests with node:http

/**
 * request(origin, {method, path, headers, key, body}) -> {status, headers, body, text, json}
 * body: Buffer | string | AsyncIterable<Buffer> (sent chunked unless headers has content-length)
 * agent: false (a new connection) or an http.Agent (e.g. keep-alive, to reuse a connection)
 */
export function request(origin, { method = 'GET', path = '/', headers = {}, key, body, timeoutMs = 10000, agent = false } = {}) {
  const u = new URL(origin);
  const h = { ...headers };
  if (key !== undefined && key !== null) h.authorization = `Bearer ${key}`;
  if ((typeof body === 'string' || Buffer.isBuffer(body)) && !Object.keys(h).some((k) => k.toLowerCase() === 'content-length')) {
    h['content-length'] = Buffer.byteLength(body);
  }
  return new Promise((res, rej) => {
    const req = http.request(
      { host: u.hostname, port: u.port, method, path, headers: h, agent, timeout: timeoutMs },
      (r) => {
        const chunks = [];
        r.on('data', (c) => chunks.push(c));
        r.on('error', rej);
        r.on('end', () => {
          const buf = Buffer.concat(chunks);
          const out = { method, path, status: r.statusCode, headers: r.headers, rawHeaders: r.rawHeaders, body: buf, text: buf.toString('utf8') };
          try {
            out.json = JSON.parse(out.text);
          } catch {
            out.json = undefined;
          }
          res(out);
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer within ${timeoutMs} ms`)));
    req.on('error', rej);
    (async () => {
      if (body === undefined || body === null) return req.end();
      if (typeof body === 'string' || Buffer.isBuffer(body)) return req.end(body);
      for await (const chunk of body) {
        if (!req.write(chunk)) await new Promise((r) => req.once('drain', r));
      }
      req.end();
    })().catch((e) => req.destroy(e));
  });
}

/** A tiny client bound to one server and key. `server` is an origin string or an object with
 * an `origin` property read at each call (an Argotd instance: survives restarts on new ports). */
export function client(server, key) {
  const c = (opts) => request(typeof server === 'string' ? server : server.origin, { key, ...opts });
  c.get = (path, opts = {}) => c({ method: 'GET', path, ...opts });
  c.del = (path, opts = {}) => c({ method: 'DELETE', path, ...opts });
  c.upload = (fields, opts = {}) => {
    const mp = multipart(fields, opts.boundary);
    return c({ method: 'POST', path: '/v1/files', headers: { 'content-type': mp.contentType, ...(opts.headers || {}) }, body: mp.body });
  };
  return c;
}

// ---------------------------------------------------------------------------------------------
// multipart/form-data bodies

/**
 * parts: [{name, value}] or [{name, filename, data, contentType, filenameStar}] or {raw: Buffer}
 * Names and filenames are written quoted like node/python clients do.
 */
export function multipart(parts, boundary = 'argot-compat-' + randomBytes(8).toString('hex')) {
  const out = [];
  for (const p of parts) {
    out.push(Buffer.from(`--${boundary}\r\n`));
    if (p.raw) {
      out.push(Buffer.from(p.raw));
      out.push(Buffer.from('\r\n'));
      continue;
    }
    let cd = `Content-Disposition: form-data; name="${p.name}"`;
    if (p.filename !== undefined) cd += `; filename="${p.filename}"`;
    if (p.filenameStar !== undefined) cd += `; filename*=utf-8''${encodeURIComponent(p.filenameStar)}`;
    let hdr = cd + '\r\n';
    if (p.contentType) hdr += `Content-Type: ${p.contentType}\r\n`;
    else if (p.filename !== undefined) hdr += 'Content-Type: application/octet-stream\r\n';
    out.push(Buffer.from(hdr + '\r\n', 'utf8'));
    out.push(Buffer.isBuffer(p.data) ? p.data : Buffer.from(p.value ?? p.data ?? '', 'utf8'));
    out.push(Buffer.from('\r\n'));
  }
  out.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(out), contentType: `multipart/form-data; boundary=${boundary}`, boundary };
}

/** The usual upload: file part then purpose part. */
export function uploadParts(filename, data, purpose, extra = []) {
  return [{ name: 'file', filename, data: Buffer.isBuffer(data) ? data : Buffer.from(data) }, { name: 'purpose', value: purpose }, ...extra];
}

// ---------------------------------------------------------------------------------------------
// Deterministic data streams

/** An async generator of `total` pseudo-random bytes in chunks; nothing big is kept in memory. */
export async function* byteStream(total, { chunk = 1 << 20, seed = 1, hash } = {}) {
  const block = Buffer.alloc(chunk);
  let x = seed >>> 0 || 1;
  // Fill the base block once with xorshift32, then vary a header per chunk so chunks differ.
  for (let i = 0; i < chunk; i += 4) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    block.writeUInt32LE(x, i);
  }
  let sent = 0;
  let n = 0;
  while (sent < total) {
    const len = Math.min(chunk, total - sent);
    const b = Buffer.from(block.subarray(0, len)); // copy: consumers may hold on to it
    if (len >= 8) b.writeBigUInt64LE(BigInt(n), 0);
    if (hash) hash.update(b);
    sent += len;
    n++;
    yield b;
  }
}

export const sha256 = (buf) => createHash('sha256').update(buf).digest('hex');

// ---------------------------------------------------------------------------------------------
// Raw sockets: send exact bytes, parse exactly one response

/**
 * Parses one HTTP/1.1 response out of buf. Returns null if incomplete, else
 * {status, reason, headers (lowercased, last wins), headerList, body, text, json, consumed}.
 * Interim 1xx responses are returned as such (caller decides).
 */
export function parseResponse(buf, { eof = false, headOnly = false } = {}) {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return null;
  const head = buf.subarray(0, end).toString('latin1');
  const lines = head.split('\r\n');
  const m = lines[0].match(/^HTTP\/1\.[01] (\d{3})(?: (.*))?$/);
  if (!m) throw new Error(`bad status line: ${JSON.stringify(lines[0])}`);
  const headers = {};
  const headerList = [];
  for (const l of lines.slice(1)) {
    const i = l.indexOf(':');
    const k = l.slice(0, i).trim().toLowerCase();
    const v = l.slice(i + 1).trim();
    headerList.push([k, v]);
    headers[k] = v;
  }
  const status = +m[1];
  let p = end + 4;
  let body;
  if (status < 200 || status === 204 || status === 304 || headOnly) {
    body = Buffer.alloc(0);
  } else if (/chunked/i.test(headers['transfer-encoding'] || '')) {
    const parts = [];
    for (;;) {
      const le = buf.indexOf('\r\n', p);
      if (le < 0) return null;
      const size = parseInt(buf.subarray(p, le).toString('latin1'), 16);
      p = le + 2;
      if (size === 0) {
        const te = buf.indexOf('\r\n\r\n', p - 2);
        if (te < 0) return null;
        p = te + 4;
        break;
      }
      if (buf.length < p + size + 2) return null;
      parts.push(buf.subarray(p, p + size));
      p += size + 2;
    }
    body = Buffer.concat(parts);
  } else if (headers['content-length'] !== undefined) {
    const n = +headers['content-length'];
    if (buf.length < p + n) return null;
    body = buf.subarray(p, p + n);
    p += n;
  } else {
    if (!eof) return null;
    body = buf.subarray(p);
    p = buf.length;
  }
  const text = body.toString('utf8');
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status, reason: m[2] || '', headers, headerList, body, text, json, consumed: p, rawHead: head };
}

/**
 * Opens a TCP connection, writes `chunks` (an array or async iterable of Buffers/strings; functions are awaited between writes:
 * `async ({sock, responses}) => ...`) and collects responses until `count` final responses
 * arrived, the peer closed, or timeoutMs passed. Writing stops once a final response arrived
 * when stopOnResponse is set (server refused the body early).
 * Returns {responses (incl. 1xx), closed, error, bytesWritten, raw}.
 */
export function rawExchange(port, chunks, { timeoutMs = 10000, count = 1, stopOnResponse = false, headOnly = false } = {}) {
  return new Promise((resolveP) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    let buf = Buffer.alloc(0);
    const responses = [];
    let finals = 0;
    let closed = false;
    let error = null;
    let bytesWritten = 0;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolveP({ responses, closed, error, bytesWritten, raw: buf, timedOut: !closed && finals < count });
    };
    const timer = setTimeout(finish, timeoutMs);
    const drain = (eof) => {
      for (;;) {
        let r;
        try {
          r = parseResponse(buf, { eof, headOnly });
        } catch (e) {
          error = e;
          return finish();
        }
        if (!r) break;
        responses.push(r);
        buf = buf.subarray(r.consumed);
        if (r.status >= 200) finals++;
        if (finals >= count) return finish();
        if (eof) break;
      }
      if (eof) finish();
    };
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      drain(false);
    });
    sock.on('end', () => {
      closed = true;
      drain(true);
    });
    sock.on('close', () => {
      closed = true;
      drain(true);
    });
    sock.on('error', (e) => {
      error = e;
    });
    sock.on('connect', async () => {
      try {
        for await (const c of chunks) {
          if (done || sock.destroyed) break;
          if (stopOnResponse && finals > 0) break;
          if (typeof c === 'function') {
            await c({ sock, responses });
            continue;
          }
          const b = Buffer.isBuffer(c) ? c : Buffer.from(c, 'latin1');
          bytesWritten += b.length;
          if (!sock.write(b)) await new Promise((r) => (sock.once('drain', r), sock.once('close', r)));
        }
      } catch (e) {
        error = error || e;
      }
    });
  });
}

/** A raw request head. */
export function rawHead(method, target, headers = {}) {
  let s = `${method} ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\n`;
  for (const [k, v] of Object.entries(headers)) {
    if (Array.isArray(v)) for (const x of v) s += `${k}: ${x}\r\n`;
    else s += `${k}: ${v}\r\n`;
  }
  return s + '\r\n';
}
