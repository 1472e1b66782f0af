// Issue 9: the development key. `make run` starts argotd with --bootstrap-key: the key is created
// and printed only once the server listens (a start that fails creates nothing), once; a start
// with no key and no --bootstrap-key prints the `argotd keys create` line that makes one.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { argotdBinary, sleep } from './lib/argotd.mjs';
import { request } from './lib/http.mjs';

const BIN = argotdBinary();
const KEY_LINE = /argotd: created a development API key for org-default \(shown once\):\n(sk-argot-[1-9A-HJ-NP-Za-km-z]{40})\n/;
const cleanEnv = () => Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('ARGOT_')));

let dir;
const procs = new Set();
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'argot-first-'));
});
after(async () => {
  for (const p of procs) if (p.exitCode === null && p.signalCode === null) process.kill(p.pid, 'SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

/** Starts argotd; resolves {proc, port, out(), err()} once it listens, or {code} if it exits. */
async function start(args) {
  const portFile = join(dir, `port-${Math.random().toString(16).slice(2)}`);
  const proc = spawn(BIN, [...args, '--port-file', portFile], { stdio: ['ignore', 'pipe', 'pipe'], env: cleanEnv() });
  procs.add(proc);
  let out = '';
  let err = '';
  proc.stdout.on('data', (c) => (out += c));
  proc.stderr.on('data', (c) => (err += c));
  const exited = new Promise((r) => proc.once('close', (code) => r(code)));
  for (let i = 0; i < 300; i++) {
    if (proc.exitCode !== null) return { code: await exited, out, err };
    if (existsSync(portFile)) {
      await sleep(100); // the key is printed right after the port file is written
      return { proc, port: +readFileSync(portFile, 'utf8'), out: () => out, err: () => err, exited };
    }
    await sleep(50);
  }
  throw new Error(`argotd did not start: ${err}`);
}
async function stop(s) {
  process.kill(s.proc.pid, 'SIGTERM');
  assert.equal(await s.exited, 0);
}
const keysList = (data) =>
  new Promise((res, rej) => execFile(BIN, ['keys', 'list', '--data', data], (e, stdout) => (e ? rej(e) : res(stdout))));

describe('--bootstrap-key (make run)', () => {
  const data = () => join(dir, 'boot');

  test('a start that fails (port in use) creates and prints no key', async () => {
    const busy = net.createServer();
    await new Promise((r) => busy.listen(0, '127.0.0.1', r));
    try {
      const r = await start(['--listen', `127.0.0.1:${busy.address().port}`, '--data', data(), '--bootstrap-key']);
      assert.notEqual(r.code, 0, 'argotd started on a port in use');
      assert.doesNotMatch(r.out, /sk-argot-/, 'a key was printed by a start that failed');
      assert.match(r.err, /Address already in use/);
      assert.equal(await keysList(data()), '', 'a key was stored by a start that failed');
    } finally {
      busy.close();
    }
  });

  test('the next good start creates and prints one key, which works', async () => {
    const s = await start(['--listen', '127.0.0.1:0', '--data', data(), '--bootstrap-key']);
    const m = s.out().match(KEY_LINE);
    assert.ok(m, `no key printed: ${s.out()}`);
    const res = await request(`http://127.0.0.1:${s.port}`, { path: '/v1/files', key: m[1] });
    assert.equal(res.status, 200, res.text);
    await stop(s);
    assert.equal((await keysList(data())).trim().split('\n').length, 1);
  });

  test('a later start prints none', async () => {
    const s = await start(['--listen', '127.0.0.1:0', '--data', data(), '--bootstrap-key']);
    await stop(s);
    assert.doesNotMatch(s.out(), /sk-argot-/);
    assert.doesNotMatch(s.err(), /no API key exists/);
  });
});

describe('without --bootstrap-key', () => {
  test('a start with no key says how to make one, and that command works', async () => {
    const data = join(dir, 'plain');
    const s = await start(['--listen', '127.0.0.1:0', '--data', data]);
    assert.doesNotMatch(s.out(), /sk-argot-/);
    const hint = s.err().match(/no API key exists yet; create one \(it is printed once\) with\n {2}(\S+) (keys create --data (\S+) --org org-default --name dev)\n/);
    assert.ok(hint, `no hint: ${s.err()}`);
    assert.equal(hint[1], BIN, 'the hint names the binary as it was started');
    assert.equal(hint[3], data);
    const key = await new Promise((res, rej) =>
      execFile(hint[1], hint[2].split(' '), (e, stdout) => (e ? rej(e) : res(stdout.trim()))),
    );
    assert.match(key, /^sk-argot-\w{40}$/);
    const res = await request(`http://127.0.0.1:${s.port}`, { path: '/v1/files', key });
    assert.equal(res.status, 200, res.text);
    await stop(s);
  });
});
