// Issue 9: the README's snippets run as written. Every fenced block of README.md is preceded by
// a marker: `<!-- readme: run -->` (this test runs it) or `<!-- readme: not run: why -->`.
//
// The `run` blocks run in order, as a user would after `make run`, in one temp dir holding a
// `build` link to the build dir, against `build/argotd --bootstrap-key` started there on a free
// port with `--data ./data` (what `make run` starts, but on port 0). Two placeholders are
// filled in, as a user does: `http://127.0.0.1:8080` (the server) and `sk-argot-...` (the key
// it printed). sh blocks run with bash -euo pipefail, each seeing the OPENAI_*/ARGOT_*
// variables the earlier ones exported; js blocks run with each pinned official client (6.x on
// this node, 7.x on Node 22); the C block is built with the README's cc line against a
// `cmake --install` of the build dir and run.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile } from 'node:child_process';
import { existsSync, mkdtempSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { REPO_ROOT, argotdBinary, sleep } from './lib/argotd.mjs';
import { CLIENTS } from './lib/clients.mjs';
import { request } from './lib/http.mjs';

const README_PATH = join(REPO_ROOT, 'README.md');
const README = readFileSync(README_PATH, 'utf8');
const BUILD = dirname(argotdBinary());

/** [{line, lang, code, marker}] for every fenced block, marker = text of the comment above. */
function blocks(md) {
  const lines = md.split('\n');
  const out = [];
  for (let i = 0; i < lines.length; i++) {
    const m = lines[i].match(/^```(\S*)\s*$/);
    if (!m) continue;
    let j = i + 1;
    while (j < lines.length && !/^```\s*$/.test(lines[j])) j++;
    let k = i - 1;
    while (k >= 0 && lines[k].trim() === '') k--;
    const marker = k >= 0 ? lines[k].match(/^<!-- readme: (.*) -->$/) : null;
    out.push({ line: i + 1, lang: m[1], code: lines.slice(i + 1, j).join('\n') + '\n', marker: marker ? marker[1] : null });
    i = j;
  }
  return out;
}
const ALL = blocks(README);
const RUN = ALL.filter((b) => b.marker === 'run');

function run(cmd, args, { cwd, env, timeoutMs = 120000 } = {}) {
  return new Promise((res) => {
    execFile(cmd, args, { cwd, env, timeout: timeoutMs, maxBuffer: 16 << 20 }, (err, stdout, stderr) =>
      res({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr, err }),
    );
  });
}
const show = (b, r) => `README.md:${b.line} (${b.lang}) exited ${r.code}\n--- code\n${b.code}--- stdout\n${r.stdout}--- stderr\n${r.stderr}`;

describe('README.md blocks are marked', () => {
  test('every fenced block says whether the README test runs it', () => {
    assert.ok(ALL.length >= 8, `only ${ALL.length} blocks found`);
    for (const b of ALL) {
      assert.ok(b.marker, `README.md:${b.line}: a \`\`\`${b.lang} block with no <!-- readme: run --> or <!-- readme: not run: why --> above it`);
      assert.ok(b.marker === 'run' || /^not run(: | by )\S/.test(b.marker), `README.md:${b.line}: unknown marker "${b.marker}"`);
      if (b.marker === 'run') assert.ok(['sh', 'js', 'c'].includes(b.lang), `README.md:${b.line}: cannot run a \`\`\`${b.lang} block`);
      for (const path of b.marker.match(/\b[\w./-]+\.(?:sh|mjs|md)\b/g) || []) {
        assert.ok(existsSync(join(REPO_ROOT, path)), `README.md:${b.line}: the marker names ${path}, which does not exist`);
      }
    }
    for (const lang of ['sh', 'js', 'c']) assert.ok(RUN.some((b) => b.lang === lang), `no ${lang} block is run`);
  });

  test('relative links point at files of the repository', () => {
    for (const [, target] of README.matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)) {
      if (/^[a-z]+:/.test(target)) continue;
      assert.ok(existsSync(join(REPO_ROOT, target)), `README.md links to ${target}, which does not exist`);
    }
  });
});

describe('README.md run blocks, in order, against build/argotd', () => {
  let dir;
  let proc;
  let origin;
  let key;
  let env;
  const outputs = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'argot-readme-'));
    symlinkSync(BUILD, join(dir, 'build'));
    proc = spawn('build/argotd', ['--listen', '127.0.0.1:0', '--data', './data', '--port-file', 'port', '--bootstrap-key'], {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('ARGOT_'))),
    });
    let out = '';
    proc.stdout.on('data', (c) => (out += c));
    proc.stderr.on('data', () => {});
    for (let i = 0; i < 300 && !(existsSync(join(dir, 'port')) && /sk-argot-\S+\n/.test(out)); i++) await sleep(50);
    const port = readFileSync(join(dir, 'port'), 'utf8').trim();
    origin = `http://127.0.0.1:${port}`;
    const m = out.match(/created a development API key for org-default \(shown once\):\n(sk-argot-\S+)\n/);
    assert.ok(m, `argotd --bootstrap-key printed no key: ${out}`);
    key = m[1];
    env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(ARGOT|OPENAI)_/.test(k)));
  });
  after(async () => {
    if (proc && proc.exitCode === null) {
      process.kill(proc.pid, 'SIGTERM');
      await new Promise((r) => proc.once('exit', r));
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const fill = (code) => code.replaceAll('http://127.0.0.1:8080', origin).replaceAll('sk-argot-...', key);

  async function runSh(b) {
    const envOut = join(dir, '.env-out');
    const script = `set -euo pipefail\n${fill(b.code)}\nenv -0 >${JSON.stringify(envOut)}\n`;
    const r = await run('bash', ['-c', script], { cwd: dir, env });
    assert.equal(r.code, 0, show(b, r));
    for (const kv of readFileSync(envOut, 'utf8').split('\0')) {
      const i = kv.indexOf('=');
      if (i > 0 && /^(OPENAI|ARGOT)_/.test(kv.slice(0, i))) env[kv.slice(0, i)] = kv.slice(i + 1);
    }
    return r;
  }

  async function runJs(b, client) {
    const sub = join(dir, `js-${client.major}`);
    mkdirSync(sub, { recursive: true });
    if (!existsSync(join(sub, 'node_modules'))) symlinkSync(join(client.dir, 'node_modules'), join(sub, 'node_modules'));
    writeFileSync(join(sub, `readme-${b.line}.mjs`), b.code);
    const r = await run(client.node, [join(sub, `readme-${b.line}.mjs`)], { cwd: dir, env });
    assert.equal(r.code, 0, `${client.name}: ${show(b, r)}`);
    return r;
  }

  async function runC(b) {
    const name = b.code.match(/^\/\* (\w+\.c) \*\//)?.[1];
    assert.ok(name, `README.md:${b.line}: the C block does not start with /* NAME.c */`);
    const cc = README.match(/`(cc \w+\.c \$\(pkg-config --cflags --libs argot\) -o \w+)`/)?.[1];
    assert.ok(cc && cc.includes(name), `README.md gives no \`cc ${name} $(pkg-config ...)\` line`);
    writeFileSync(join(dir, name), b.code);
    const prefix = join(dir, 'prefix');
    const inst = await run('cmake', ['--install', BUILD, '--prefix', prefix]);
    assert.equal(inst.code, 0, `cmake --install: ${inst.stderr}`);
    const cenv = { ...env, PKG_CONFIG_PATH: join(prefix, 'lib', 'pkgconfig'), LD_LIBRARY_PATH: join(prefix, 'lib') };
    // A sanitized libargot (make asan) needs the same -fsanitize flags in the program.
    const cmd = process.env.EXAMPLE_CFLAGS ? cc.replace(/^cc /, `cc ${process.env.EXAMPLE_CFLAGS} `) : cc;
    const built = await run('bash', ['-euo', 'pipefail', '-c', cmd], { cwd: dir, env: cenv });
    assert.equal(built.code, 0, `${cmd}: ${built.stderr}`);
    const r = await run(join(dir, cc.match(/-o (\w+)$/)[1]), [], { cwd: dir, env: cenv });
    assert.equal(r.code, 0, show(b, r));
    return r;
  }

  test('each block runs and does what it shows', async (t) => {
    assert.ok(RUN.length >= 5, `only ${RUN.length} blocks are marked run`);
    for (const b of RUN) {
      if (b.lang === 'sh') {
        const r = await runSh(b);
        outputs.push({ b, stdout: r.stdout });
        if (/\bcurl\b/.test(b.code)) {
          assert.match(r.stdout, /"object":"file","id":"file-\w+","purpose":"fine-tune","filename":"train.jsonl"/, show(b, r));
          assert.match(r.stdout, /\{"object":"list","data":\[/, show(b, r));
        }
        if (/build\/argot files upload/.test(b.code)) assert.match(r.stdout, /train\.jsonl/, show(b, r));
        if (/keys create/.test(b.code)) {
          const created = r.stdout.match(/^(sk-argot-\S+)$/m);
          assert.ok(created, show(b, r));
          const res = await request(origin, { path: '/v1/files', key: created[1] });
          assert.equal(res.status, 401, 'the key the block created and revoked still works');
        }
      } else if (b.lang === 'js') {
        for (const c of CLIENTS) {
          const r = await runJs(b, c);
          assert.match(r.stdout, /^uploaded file-\w+$/m, `${c.name}: ${show(b, r)}`);
          assert.match(r.stdout, /^file-\w+ train\.jsonl$/m, `${c.name}: ${show(b, r)}`);
        }
      } else {
        const r = await runC(b);
        assert.match(r.stdout, /^file-\w+ train\.jsonl$/m, show(b, r));
      }
      t.diagnostic(`README.md:${b.line} (${b.lang}) ran`);
    }
    // curl, the CLI, the C program and each Node client uploaded train.jsonl once.
    const uploads = 2 + CLIENTS.length + 1;
    const list = await request(origin, { path: '/v1/files', key });
    assert.equal(list.json.data.filter((f) => f.filename === 'train.jsonl').length, uploads, list.text);
  });
});
