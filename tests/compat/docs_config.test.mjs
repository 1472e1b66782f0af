// The README's configuration table is documentation of code: every flag `argotd --help` lists
// is in the table with its environment variable, and the table lists no flag argotd lacks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { argotdBinary, REPO_ROOT } from './lib/argotd.mjs';

function fromHelp() {
  const help = execFileSync(argotdBinary(), ['--help'], { encoding: 'utf8' });
  const flags = new Map();
  const lines = help.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const m = lines[i].match(/^ {2}--([a-z0-9-]+)\b/);
    if (!m) continue;
    const env = (lines[i + 1] || '').match(/env (ARGOT_[A-Z0-9_]+)/);
    assert.ok(env, `--help: --${m[1]} has no "env ARGOT_..." line`);
    flags.set(m[1], env[1]);
  }
  return flags;
}

function fromReadme() {
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
  const flags = new Map();
  for (const line of readme.split('\n')) {
    const m = line.match(/^\| `--([a-z0-9-]+)[^`]*` \| `(ARGOT_[A-Z0-9_]+)` \|/);
    if (m) flags.set(m[1], m[2]);
  }
  return flags;
}

test('README config table and argotd --help list the same flags with the same variables', () => {
  const help = fromHelp();
  const readme = fromReadme();
  assert.ok(help.size >= 20, `only ${help.size} flags parsed from --help`);
  const missing = [...help.keys()].filter((f) => !readme.has(f));
  const extra = [...readme.keys()].filter((f) => !help.has(f));
  assert.deepEqual(missing, [], 'flags of argotd --help missing from the README config table');
  assert.deepEqual(extra, [], 'README config table rows for flags argotd does not have');
  for (const [f, env] of help) assert.equal(readme.get(f), env, `--${f}: README says ${readme.get(f)}, --help says ${env}`);
});
