// AWS Signature Version 4 for S3 requests with UNSIGNED-PAYLOAD, path-style: bench/run's direct
// PUT/GET to Swift, sent by curl (curl --aws-sigv4 cannot carry Swift's access key, which holds
// a colon, "test:tester"; tests/compat/lib/s3sign.mjs signs empty bodies only).
//
//   sign(endpoint, creds, method, path, query) -> { url, headers }
//     creds: { AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION }; query: [[name, value]...]
//   node sigv4.mjs ENDPOINT METHOD PATH [NAME=VALUE...]
//     prints the URL, then one "Name: value" header a line (for curl -H); credentials from the
//     AWS_* environment variables.
import { createHash, createHmac } from 'node:crypto';
import { fileURLToPath } from 'node:url';

const enc = (x) => encodeURIComponent(x).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
const hmac = (k, s) => createHmac('sha256', k).update(s).digest();

export function sign(endpoint, creds, method, path, query = [], now = new Date()) {
  const u = new URL(endpoint);
  const qs = query.map(([k, v]) => [enc(k), enc(v)]).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : 1));
  const canonQuery = qs.map(([k, v]) => `${k}=${v}`).join('&');
  const amzDate = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  const day = amzDate.slice(0, 8);
  const region = creds.AWS_REGION || 'us-east-1';
  const hdrs = { host: u.host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', 'x-amz-date': amzDate };
  const names = Object.keys(hdrs).sort();
  const canonPath = path.split('/').map(enc).join('/');
  const canon = [method, canonPath, canonQuery, ...names.map((h) => `${h}:${hdrs[h]}`), '', names.join(';'), 'UNSIGNED-PAYLOAD'].join('\n');
  const scope = `${day}/${region}/s3/aws4_request`;
  const sts = ['AWS4-HMAC-SHA256', amzDate, scope, createHash('sha256').update(canon).digest('hex')].join('\n');
  let k = `AWS4${creds.AWS_SECRET_ACCESS_KEY}`;
  for (const part of [day, region, 's3', 'aws4_request']) k = hmac(k, part);
  const sig = createHmac('sha256', k).update(sts).digest('hex');
  const headers = {
    'x-amz-content-sha256': 'UNSIGNED-PAYLOAD',
    'x-amz-date': amzDate,
    authorization: `AWS4-HMAC-SHA256 Credential=${creds.AWS_ACCESS_KEY_ID}/${scope}, SignedHeaders=${names.join(';')}, Signature=${sig}`,
  };
  return { url: `${u.origin}${canonPath}${canonQuery ? `?${canonQuery}` : ''}`, headers };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [endpoint, method, path, ...q] = process.argv.slice(2);
  if (!endpoint || !method || !path) {
    process.stderr.write('usage: node sigv4.mjs ENDPOINT METHOD PATH [NAME=VALUE...]\n');
    process.exit(2);
  }
  const query = q.map((a) => (a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, '']));
  const { url, headers } = sign(endpoint, process.env, method, path, query);
  process.stdout.write([url, ...Object.entries(headers).map(([h, v]) => `${h}: ${v}`)].join('\n') + '\n');
}
