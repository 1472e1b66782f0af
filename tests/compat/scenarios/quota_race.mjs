// input: {baseURL, apiKey, path, n, runs, body: 'stream' | 'buffer'}
// Each run: n concurrent client.files.create() of the file at path (an fs.ReadStream, or the
// bytes through toFile()), then the admitted files are deleted for the next run. Also reports
// how this client frames such a body (Content-Length or chunked), seen by a local listener.
import http from 'node:http';
import { createReadStream, readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { input, loadOpenAI, done, errorInfo } from '../lib/scenario.mjs';

const { OpenAI, toFile } = await loadOpenAI();
const bytes = input.body === 'buffer' ? readFileSync(input.path) : null;
const fileArg = async () => (bytes ? toFile(bytes, basename(input.path)) : createReadStream(input.path));

async function framing() {
  let seen = null;
  const srv = http.createServer((req, res) => {
    seen = req.headers['content-length'] !== undefined ? 'content-length' : req.headers['transfer-encoding'] || 'none';
    req.resume();
    req.on('end', () => {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end('{"error":{"message":"probe","type":"invalid_request_error","param":null,"code":null}}');
    });
  });
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  const c = new OpenAI({ baseURL: `http://127.0.0.1:${srv.address().port}/v1`, apiKey: 'probe', maxRetries: 0 });
  await c.files.create({ file: await fileArg(), purpose: 'assistants' }).catch(() => {});
  await new Promise((r) => srv.close(r));
  return seen;
}

const client = new OpenAI({ baseURL: input.baseURL, apiKey: input.apiKey, maxRetries: 0 });
const runs = [];
for (let run = 0; run < (input.runs ?? 1); run++) {
  const settled = await Promise.allSettled(
    Array.from({ length: input.n }, async () => client.files.create({ file: await fileArg(), purpose: 'assistants' })),
  );
  const admitted = settled.filter((s) => s.status === 'fulfilled').map((s) => s.value);
  const refused = settled.filter((s) => s.status === 'rejected').map((s) => errorInfo(s.reason));
  runs.push({ admitted: admitted.length, bytes: admitted.map((f) => f.bytes), refused });
  for (const f of admitted) await client.files.delete(f.id);
}
done({ framing: await framing(), runs });
