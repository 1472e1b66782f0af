// input: {baseURL, apiKey, limit, order?}
// The loop users write: auto-pagination deleting every file it is handed.
//   for await (const f of client.files.list({limit})) await client.files.delete(f.id)
import { input, loadOpenAI, done, errorInfo } from '../lib/scenario.mjs';

const { OpenAI } = await loadOpenAI();
const client = new OpenAI({ baseURL: input.baseURL, apiKey: input.apiKey, maxRetries: 0 });
const deleted = [];
let error = null;
try {
  const query = { limit: input.limit, ...(input.order ? { order: input.order } : {}) };
  for await (const f of client.files.list(query)) {
    const r = await client.files.delete(f.id);
    if (r.deleted) deleted.push(f.id);
  }
} catch (e) {
  error = errorInfo(e);
}
done({ deleted, error });
