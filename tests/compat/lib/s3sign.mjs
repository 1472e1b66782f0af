// S3 requests from the tests, signed here (SigV4, empty body) and sent by curl: curl's own
// --aws-sigv4 cannot take Swift's access keys ("test:tester": --user splits at the colon).
//   s3Request(endpoint, 'GET', '/bucket', { 'list-type': '2', prefix: 'p/' }, creds) -> body
import { createHash, createHmac } from 'node:crypto';
import { execFileSync } from 'node:child_process';

const EMPTY = createHash('sha256').update('').digest('hex');
const enc = (s) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
const hmac = (k, s) => createHmac('sha256', k).update(s).digest();

/** The Authorization, x-amz-date and x-amz-content-sha256 headers of a request. */
export function s3Sign(method, host, path, query, { accessKey, secretKey, region = 'us-east-1' }, now = new Date()) {
  const date = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+/, ''); // 20261202T000135Z
  const day = date.slice(0, 8);
  const qs = Object.keys(query)
    .sort()
    .map((k) => `${enc(k)}=${enc(query[k])}`)
    .join('&');
  const canonical = [method, path, qs, `host:${host}`, `x-amz-content-sha256:${EMPTY}`, `x-amz-date:${date}`, '', 'host;x-amz-content-sha256;x-amz-date', EMPTY].join('\n');
  const scope = `${day}/${region}/s3/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', date, scope, createHash('sha256').update(canonical).digest('hex')].join('\n');
  const key = hmac(hmac(hmac(hmac('AWS4' + secretKey, day), region), 's3'), 'aws4_request');
  const sig = createHmac('sha256', key).update(toSign).digest('hex');
  return {
    authorization: `AWS4-HMAC-SHA256 Credential=${accessKey}/${scope}, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=${sig}`,
    'x-amz-date': date,
    'x-amz-content-sha256': EMPTY,
    qs,
  };
}

/** Sends the request with curl (synchronously); its body. Fails on a non-2xx answer. */
export function s3Request(endpoint, method, path, query, creds) {
  const host = new URL(endpoint).host;
  const { qs, ...headers } = s3Sign(method, host, path, query, creds);
  const args = ['-sS', '--fail-with-body', '-X', method];
  for (const [k, v] of Object.entries(headers)) args.push('-H', `${k}: ${v}`);
  args.push(`${endpoint}${path}${qs ? '?' + qs : ''}`);
  return execFileSync('curl', args, { encoding: 'utf8' });
}
