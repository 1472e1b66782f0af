// The side of lib/clients.mjs that runs inside a scenario process (scenarios/*.mjs), under the
// client's own node:
//
//   import { input, loadOpenAI, done, errorInfo } from '../lib/scenario.mjs';
//   const { OpenAI, toFile } = await loadOpenAI();   // the pinned package of this client
//   ...
//   done({ admitted: 4 });                            // JSON back to the test
//
// Only node built-ins here: the same file runs under node 20 and node 22.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const MARK = 'ARGOT_SCENARIO_RESULT ';

export const input = JSON.parse(process.env.ARGOT_SCENARIO_INPUT || '{}');

/** {OpenAI, toFile, version} from $ARGOT_CLIENT_DIR/node_modules/openai. */
export async function loadOpenAI() {
  const dir = process.env.ARGOT_CLIENT_DIR;
  if (!dir) throw new Error('ARGOT_CLIENT_DIR is not set (run scenarios through lib/clients.mjs)');
  const req = createRequire(join(dir, 'package.json'));
  const mod = await import(pathToFileURL(req.resolve('openai')).href);
  const m = mod.OpenAI ? mod : mod.default;
  const version = JSON.parse(readFileSync(join(dir, 'node_modules', 'openai', 'package.json'), 'utf8')).version;
  return { OpenAI: m.OpenAI ?? m.default, toFile: m.toFile, version };
}

/** What a test needs of a thrown error: the HTTP status (undefined for a connection error). */
export function errorInfo(e) {
  return {
    status: e?.status ?? null,
    name: e?.constructor?.name ?? typeof e,
    message: String(e?.message ?? e).slice(0, 500),
    code: e?.code ?? null,
  };
}

export function done(result) {
  process.stdout.write(MARK + JSON.stringify(result) + '\n');
}
