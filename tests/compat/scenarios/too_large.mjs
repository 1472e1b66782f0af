// Uploads one file of `bytes` with the official client (input.maxRetries: its retry count)
// and reports how the client saw the answer: the HTTP status and message of its APIError, or
// the kind of connection error it got instead.
import { input, loadOpenAI, done, errorInfo } from '../lib/scenario.mjs';

const { OpenAI, toFile } = await loadOpenAI();
const client = new OpenAI({ baseURL: input.baseURL, apiKey: input.apiKey, maxRetries: input.maxRetries ?? 0 });
const t0 = Date.now();
try {
  const f = await client.files.create({ file: await toFile(Buffer.alloc(input.bytes, 0x61), 'big.txt'), purpose: 'assistants' });
  done({ accepted: f.id, ms: Date.now() - t0 });
} catch (e) {
  done({ ...errorInfo(e), type: e?.error?.type ?? null, ms: Date.now() - t0 });
}
