// Harness that runs the real argotd binary for black-box tests.
//
//   const srv = await startArgotd({ orgs: ['org-a', 'org-b'], flags: ['--metrics'] });
//   srv.baseURL        -> 'http://127.0.0.1:PORT/v1'   (what the openai client takes)
//   srv.origin         -> 'http://127.0.0.1:PORT'
//   srv.keys['org-a']  -> an API key of that org
//   await srv.restart({ flags: ['--clock-offset', '7200'] });  // same data dir
//   await srv.close();  // SIGTERM, SIGKILL after a timeout, removes the temp dir
//   await srv.kill();   // SIGKILL (a crash);  await srv.fsck({repair}) -> {code, problems}
//
// ARGOT_TEST_META=pg runs every instance on PostgreSQL: one throwaway PostgreSQL 15 per test
// file (scripts/testsrv/pg-up.sh, stopped at exit, or by a watchdog if this process is killed),
// a fresh database per instance, `--meta postgres://... --blob file:DATADIR`, and keys and fsck
// with the same --meta. Where PostgreSQL cannot be installed the file exits 77 (ctest: skipped)
// after a loud notice.
//
// ARGOT_TEST_BLOB=s3 runs every instance on the S3 blob backend on Swift (below).
//
// Every instance is also killed and its temp dir removed when the test process exits, however
// it exits (test failure, uncaught exception, SIGINT/SIGTERM), so no argotd is left behind.
// Binary: $ARGOTD (ctest sets it to the built target).

import { spawn, execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, readFileSync, readdirSync, existsSync, statSync, accessSync, constants, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import http from 'node:http';
import { s3Request } from './s3sign.mjs';

const here = dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = resolve(here, '..', '..', '..');
export const SHARED_DIR = process.env.ARGOT_SHARED_DIR || resolve(REPO_ROOT, '..', 'shared');

export const START_TIMEOUT_MS = 15000;

// The compat suite is one unit with its pinned npm dependencies: fail every file early and
// clearly when they are not installed.
if (+process.versions.node.split('.')[0] < 20) {
  throw new Error(`node ${process.versions.node} is too old for the compat tests: need node >= 20`);
}
if (!existsSync(join(here, '..', 'node_modules', 'openai', 'package.json'))) {
  throw new Error(
    `${join(here, '..', 'node_modules')} is missing the pinned "openai" package: run scripts/deps.sh ` +
      '(it runs `npm ci` in tests/compat from package-lock.json)',
  );
}
export const STOP_TIMEOUT_MS = 10000;

// ---- PostgreSQL (ARGOT_TEST_META=pg) ----
export const TEST_META = process.env.ARGOT_TEST_META || '';
const PGBIN = process.env.PGBIN || '/usr/lib/postgresql/15/bin';
let pg = null; // {dir, port}
let pgDbSeq = 0;

function pgStop() {
  if (!pg) return;
  try {
    execFileSync(join(REPO_ROOT, 'scripts', 'testsrv', 'pg-down.sh'), [pg.dir], { stdio: 'ignore', timeout: 30000 });
  } catch {
    /* the watchdog tries again */
  }
  pg = null;
}

function pgStart() {
  const dir = mkdtempSync(join(tmpdir(), `argot-pg-${process.pid}-`));
  const down = join(REPO_ROOT, 'scripts', 'testsrv', 'pg-down.sh');
  // Stops the server once this process is gone, however it goes (ctest's timeout SIGKILLs it).
  spawn('/bin/sh', ['-c', 'while kill -0 "$0" 2>/dev/null; do sleep 1; done; exec "$1" "$2"', String(process.pid), down, dir], {
    detached: true,
    stdio: 'ignore',
  }).unref();
  const uri = execFileSync(join(REPO_ROOT, 'scripts', 'testsrv', 'pg-up.sh'), [dir], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    timeout: 600000,
  }).trim();
  if (existsSync(join(dir, 'skip'))) {
    const why = readFileSync(join(dir, 'skip'), 'utf8').trim();
    process.stderr.write(`\n*** SKIPPING this compat file on PostgreSQL (ARGOT_TEST_META=pg): ${why} ***\n\n`);
    rmSync(dir, { recursive: true, force: true });
    process.exit(77);
  }
  const m = uri.match(/:(\d+)\/argot$/);
  if (!m) throw new Error(`pg-up.sh printed ${JSON.stringify(uri)}`);
  pg = { dir, port: +m[1] };
  process.on('exit', pgStop);
}

/** A fresh, empty database on the test file's PostgreSQL; returns its URL. */
export function pgDatabase() {
  if (!pg) throw new Error('pgDatabase: ARGOT_TEST_META=pg is not set');
  const name = `argot_${++pgDbSeq}`;
  execFileSync(join(PGBIN, 'createdb'), ['-h', '127.0.0.1', '-p', String(pg.port), '-U', 'argot', name], { stdio: 'inherit' });
  return `postgresql://argot@127.0.0.1:${pg.port}/${name}`;
}

/** The test file's PostgreSQL ({dir, port}), or null when not on PostgreSQL. */
export function pgServer() {
  return pg;
}

/**
 * Stops the test file's PostgreSQL (fast shutdown: every session is cut) and resolves once it is
 * gone; pgResume() starts it again on the same data, port and options (its postmaster.opts).
 */
export async function pgPause() {
  const pid = +readFileSync(join(pg.dir, 'pid'), 'utf8').trim();
  process.kill(pid, 'SIGINT');
  for (let i = 0; i < 3000 && alive(pid); i++) await sleep(10);
  if (alive(pid)) throw new Error(`PostgreSQL ${pid} did not stop`);
}

export async function pgResume() {
  const opts = readFileSync(join(pg.dir, 'data', 'postmaster.opts'), 'utf8');
  const argv = [...opts.matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2]);
  const asUser = process.getuid() === 0 ? ['setpriv', `--reuid=${process.env.PG_USER || 'postgres'}`, `--regid=${process.env.PG_USER || 'postgres'}`, '--init-groups'] : [];
  const cmd = [...asUser, ...argv];
  const log = join(pg.dir, 'server.log');
  spawn('/bin/sh', ['-c', 'exec "$@" >>"$LOG" 2>&1', 'sh', ...cmd], { detached: true, stdio: 'ignore', env: { ...process.env, LOG: log } }).unref();
  for (let i = 0; i < 3000; i++) {
    try {
      execFileSync(join(PGBIN, 'pg_isready'), ['-q', '-h', '127.0.0.1', '-p', String(pg.port)], { stdio: 'ignore' });
      const pid = readFileSync(join(pg.dir, 'data', 'postmaster.pid'), 'utf8').split('\n')[0];
      writeFileSync(join(pg.dir, 'pid'), `${pid}\n`);
      return;
    } catch {
      await sleep(20);
    }
  }
  throw new Error(`PostgreSQL did not start again:\n${readFileSync(log, 'utf8').slice(-2000)}`);
}

if (TEST_META === 'pg') pgStart();
else if (TEST_META) throw new Error(`ARGOT_TEST_META=${TEST_META}: only "pg" is known`);

// ---- S3 on Swift (ARGOT_TEST_BLOB=s3) ----
// One throwaway Swift with s3api per test file (scripts/testsrv/swift-up.sh, stopped at exit or
// by a watchdog), one bucket, a fresh prefix per instance: `--blob s3://BUCKET/PREFIX`, the
// endpoint from AWS_ENDPOINT_URL (path-style) and the credentials from AWS_* in the environment
// of every command (server, keys, fsck). Where Swift cannot be installed the file exits 77.
export const TEST_BLOB = process.env.ARGOT_TEST_BLOB || '';
let swift = null; // {dir, endpoint, bucket}
let blobSeq = 0;

function swiftStart() {
  const dir = mkdtempSync(join(tmpdir(), `argot-swift-${process.pid}-`));
  const down = join(REPO_ROOT, 'scripts', 'testsrv', 'swift-down.sh');
  spawn('/bin/sh', ['-c', 'while kill -0 "$0" 2>/dev/null; do sleep 1; done; exec "$1" "$2"', String(process.pid), down, dir], {
    detached: true,
    stdio: 'ignore',
  }).unref();
  execFileSync(join(REPO_ROOT, 'scripts', 'testsrv', 'swift-up.sh'), [dir], { stdio: ['ignore', 'ignore', 'inherit'], timeout: 600000 });
  if (existsSync(join(dir, 'skip'))) {
    const why = readFileSync(join(dir, 'skip'), 'utf8').trim();
    process.stderr.write(`\n*** SKIPPING this compat file on S3 (ARGOT_TEST_BLOB=s3): ${why} ***\n\n`);
    process.exit(77);
  }
  const endpoint = readFileSync(join(dir, 'endpoint'), 'utf8').trim();
  Object.assign(process.env, { AWS_ACCESS_KEY_ID: 'test:tester', AWS_SECRET_ACCESS_KEY: 'testing', AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL: endpoint });
  swift = { dir, endpoint, bucket: 'argot-compat' };
  s3curl('PUT', `/${swift.bucket}`);
  process.on('exit', () => {
    try {
      execFileSync(down, [dir], { stdio: 'ignore', timeout: 30000 });
    } catch {
      /* the watchdog tries again */
    }
  });
}

/** A signed request to the test file's Swift (lib/s3sign.mjs); its body. */
export function s3curl(method, path, query = {}) {
  return s3Request(swift.endpoint, method, path, query, { accessKey: process.env.AWS_ACCESS_KEY_ID, secretKey: process.env.AWS_SECRET_ACCESS_KEY });
}

/** The test file's Swift ({dir, endpoint, bucket}), or null when not on S3. */
export function swiftServer() {
  return swift;
}

if (TEST_BLOB === 's3') swiftStart();
else if (TEST_BLOB) throw new Error(`ARGOT_TEST_BLOB=${TEST_BLOB}: only "s3" is known`);

const live = new Set(); // instances whose process or temp dir may still exist

// Temp dirs are named argot-compat-<pid of the test process>-XXXXXX. A test process killed with
// SIGKILL (ctest timeout) cannot clean up: the next run removes the dirs of dead owners and
// SIGKILLs any argotd still serving such a dir (found by its --data argument, killed by pid).
export const TMP_PREFIX = 'argot-compat-';
const alive = (pid) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e.code === 'EPERM';
  }
};
export function sweepStale() {
  const root = tmpdir();
  const stale = [];
  for (const name of readdirSync(root)) {
    const m = name.match(/^argot-compat-(\d+)-/);
    if (m && +m[1] !== process.pid && !alive(+m[1])) stale.push(join(root, name));
  }
  if (!stale.length) return;
  for (const pid of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    let argv;
    try {
      argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    const i = argv.indexOf('--data');
    if (i >= 0 && /argotd$/.test(argv[0]) && stale.some((d) => argv[i + 1] === d || argv[i + 1]?.startsWith(d + '/'))) {
      try {
        process.kill(+pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  }
  for (const d of stale) rmSync(d, { recursive: true, force: true });
}
try {
  sweepStale();
} catch {
  /* best effort */
}

function killAllSync() {
  for (const inst of live) {
    try {
      if (inst.proc && inst.proc.exitCode === null && inst.proc.signalCode === null) {
        process.kill(inst.proc.pid, 'SIGKILL');
      }
    } catch {
      /* already gone */
    }
    if (!inst.keepDir) {
      try {
        rmSync(inst.dir, { recursive: true, force: true });
      } catch {
        /* best effort */
      }
    }
  }
  live.clear();
}
process.on('exit', killAllSync);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.once(sig, () => {
    killAllSync();
    process.exit(128 + (sig === 'SIGINT' ? 2 : sig === 'SIGTERM' ? 15 : 1));
  });
}

export function argotdBinary() {
  const bin = process.env.ARGOTD;
  if (!bin) {
    throw new Error(
      'ARGOTD is not set: point it at the argotd binary (ctest sets it; by hand: ' +
        'ARGOTD=/path/to/build/argotd node --test tests/compat/<file>.test.mjs)',
    );
  }
  try {
    accessSync(bin, constants.X_OK);
  } catch {
    throw new Error(`ARGOTD=${bin} is not an executable file (build the argotd target first)`);
  }
  return resolve(bin);
}

function run(bin, args, { timeout = 20000 } = {}) {
  return new Promise((res, rej) => {
    execFile(bin, args, { timeout, maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      if (err) {
        err.message += `\n$ argotd ${args.join(' ')}\nstdout: ${stdout}\nstderr: ${stderr}`;
        rej(err);
      } else res({ stdout, stderr });
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export { sleep };

/** One GET with a short timeout; resolves {status} or rejects. */
function probe(port, path, timeoutMs = 1000) {
  return new Promise((res, rej) => {
    const req = http.request(
      { host: '127.0.0.1', port, path, method: 'GET', agent: false, timeout: timeoutMs },
      (r) => {
        r.resume();
        r.on('end', () => res({ status: r.statusCode }));
        r.on('error', rej);
      },
    );
    req.on('timeout', () => req.destroy(new Error('probe timeout')));
    req.on('error', rej);
    req.end();
  });
}

export class Argotd {
  constructor({ flags = [], env = {}, keepDir = false, nofile = 0, local = false } = {}) {
    this.bin = argotdBinary();
    this.dir = mkdtempSync(join(tmpdir(), `${TMP_PREFIX}${process.pid}-`)); // 0700
    this.dataDir = this.dir; // --data DIR
    this.portFile = join(this.dir, 'port');
    this.flags = flags;
    this.env = env;
    this.keepDir = keepDir;
    this.nofile = nofile; // > 0: start under `ulimit -n nofile` (soft and hard)
    this.keys = {}; // org -> key (the first key created for it)
    this.keyNames = {}; // key -> name used with --name
    this.proc = null;
    this.port = null;
    this.log = []; // last lines of argotd's stdout/stderr, for failure messages
    this.logBytes = 0;
    this.exits = []; // {code, signal, killed} of every process this instance ran
    this.keySeq = 0;
    // --meta of every command; local: the data dir's own SQLite store whatever ARGOT_TEST_META
    this.metaURL = TEST_META === 'pg' && !local ? pgDatabase() : null;
    // --blob of every command on S3 (ARGOT_TEST_BLOB=s3): a prefix of its own
    this.blobURL = swift && !local ? `s3://${swift.bucket}/i-${process.pid}-${++blobSeq}` : null;
    live.add(this);
  }

  /** How `argotd keys` reaches this instance's keys. */
  keyArgs() {
    return this.metaURL ? ['--meta', this.metaURL] : ['--data', this.dataDir];
  }

  /** How `argotd fsck` reaches this instance's store: its data dir (whose LOCK fsck takes),
   * and on PostgreSQL the same --meta and --blob as the server. */
  storeArgs() {
    if (!this.metaURL && !this.blobURL) return ['--data', this.dataDir];
    return ['--data', this.dataDir, ...(this.metaURL ? ['--meta', this.metaURL] : []), '--blob', this.blobURL || `file:${this.dataDir}`];
  }

  /** The server's backend flags: on PostgreSQL --meta and --blob, unless the test gives its own. */
  backendFlags() {
    if ((!this.metaURL && !this.blobURL) || this.flags.includes('--meta') || this.flags.includes('--blob')) return [];
    return [...(this.metaURL ? ['--meta', this.metaURL] : []), '--blob', this.blobURL || `file:${this.dataDir}`];
  }

  get origin() {
    return `http://127.0.0.1:${this.port}`;
  }
  get baseURL() {
    return `${this.origin}/v1`;
  }
  get pid() {
    return this.proc?.pid;
  }
  get running() {
    return !!this.proc && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** Creates an API key for org with `argotd keys create`; returns the key. */
  async createKey(org, name) {
    name = name || `compat-${org}-${++this.keySeq}`;
    const { stdout } = await run(this.bin, ['keys', 'create', ...this.keyArgs(), '--org', org, '--name', name]);
    const key = stdout.trim();
    if (!/^sk-argot-[1-9A-HJ-NP-Za-km-z]{40}$/.test(key)) {
      throw new Error(`argotd keys create printed ${JSON.stringify(stdout)}; expected sk-argot- + 40 base58 alone`);
    }
    if (!this.keys[org]) this.keys[org] = key;
    this.keyNames[key] = name;
    return key;
  }

  /** Revokes the key (created by createKey) with `argotd keys list` + `argotd keys revoke`. */
  async revokeKey(key) {
    const name = this.keyNames[key];
    if (!name) throw new Error('revokeKey: key not created by this harness');
    const { stdout } = await run(this.bin, ['keys', 'list', ...this.keyArgs()]);
    const line = stdout.split('\n').find((l) => l.split(/[\s,|]+/).includes(name));
    const id = line && line.match(/\bkey_[A-Za-z0-9_-]+/);
    if (!id) throw new Error(`argotd keys list shows no key_ id for name ${name}:\n${stdout}`);
    await run(this.bin, ['keys', 'revoke', ...this.keyArgs(), id[0]]);
    return id[0];
  }

  _appendLog(chunk) {
    const s = chunk.toString('utf8');
    this.log.push(s);
    this.logBytes += s.length;
    while (this.logBytes > 64 * 1024 && this.log.length > 1) this.logBytes -= this.log.shift().length;
  }
  logs() {
    return this.log.join('');
  }

  async start({ flags } = {}) {
    if (this.running) throw new Error('argotd already running');
    if (flags) this.flags = flags;
    rmSync(this.portFile, { force: true });
    const args = ['--listen', '127.0.0.1:0', '--data', this.dataDir, '--port-file', this.portFile, ...this.backendFlags(), ...this.flags];
    const env = { ...process.env, ...this.env };
    for (const k of Object.keys(env)) if (k.startsWith('ARGOT_') && !(k in this.env)) delete env[k];
    const proc = this.nofile
      ? spawn('/bin/sh', ['-c', `ulimit -n ${this.nofile} && exec "$0" "$@"`, this.bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env })
      : spawn(this.bin, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
    this.proc = proc;
    this.port = null;
    proc.stdout.on('data', (c) => this._appendLog(c));
    proc.stderr.on('data', (c) => this._appendLog(c));
    const exited = new Promise((r) => proc.once('exit', (code, signal) => r({ code, signal })));
    proc.exitPromise = exited;
    let spawnErr = null;
    proc.once('error', (e) => (spawnErr = e));

    const deadline = Date.now() + START_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (spawnErr) throw new Error(`cannot spawn ${this.bin}: ${spawnErr.message}`);
      if (!this.running) {
        const { code, signal } = await exited;
        throw new Error(
          `argotd exited during startup (code ${code}, signal ${signal})\n$ argotd ${args.join(' ')}\n${this.logs()}`,
        );
      }
      if (this.port === null && existsSync(this.portFile)) {
        const txt = readFileSync(this.portFile, 'utf8').trim();
        if (/^\d+$/.test(txt) && +txt > 0 && +txt < 65536) this.port = +txt;
      }
      if (this.port !== null) {
        try {
          const { status } = await probe(this.port, '/healthz');
          if (status === 200) return this;
        } catch {
          /* not yet */
        }
      }
      await sleep(25);
    }
    const why = this.port === null ? `no port in ${this.portFile}` : `GET /healthz never answered 200 on port ${this.port}`;
    await this.stop();
    throw new Error(`argotd did not start within ${START_TIMEOUT_MS} ms: ${why}\n$ argotd ${args.join(' ')}\n${this.logs()}`);
  }

  /** SIGTERM, then SIGKILL after timeoutMs. Resolves {code, signal, killed}. */
  async stop({ timeoutMs = STOP_TIMEOUT_MS } = {}) {
    const proc = this.proc;
    if (!proc) return null;
    let killed = false;
    if (proc.exitCode === null && proc.signalCode === null) {
      try {
        process.kill(proc.pid, 'SIGTERM');
      } catch {
        /* gone */
      }
      const t = setTimeout(() => {
        killed = true;
        try {
          process.kill(proc.pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }, timeoutMs);
      await proc.exitPromise;
      clearTimeout(t);
    }
    const { code, signal } = await proc.exitPromise;
    const rec = { code, signal, killed };
    this.exits.push(rec);
    this.proc = null;
    return rec;
  }

  async restart({ flags } = {}) {
    const rec = await this.stop();
    await this.start({ flags });
    return rec;
  }

  /** SIGKILL now (a crash); resolves {code, signal} once the process is gone. */
  async kill() {
    const proc = this.proc;
    if (!proc) return null;
    if (proc.exitCode === null && proc.signalCode === null) {
      try {
        process.kill(proc.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    const { code, signal } = await proc.exitPromise;
    const rec = { code, signal, killed: true };
    this.exits.push(rec);
    this.proc = null;
    return rec;
  }

  /**
   * `argotd fsck --data DIR [--repair]` (the server must be stopped). Resolves
   * {code, stdout, stderr, problems: [{kind, line, ...key=value fields}]}; never rejects on
   * exit status 1 (problems found).
   */
  async fsck({ repair = false } = {}) {
    const args = ['fsck', ...this.storeArgs(), ...(repair ? ['--repair'] : [])];
    return new Promise((res, rej) => {
      execFile(this.bin, args, { timeout: 60000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
        const code = err ? err.code : 0;
        if (err && typeof code !== 'number') return rej(err);
        const problems = stdout
          .split('\n')
          .filter(Boolean)
          .map((line) => {
            const [kind, ...kv] = line.split(' ');
            const p = { kind, line };
            for (const w of kv) {
              const i = w.indexOf('=');
              if (i > 0) p[w.slice(0, i)] = w.slice(i + 1);
            }
            return p;
          });
        res({ code, stdout, stderr, problems });
      });
    });
  }

  /** The first sanitizer report (ASan, UBSan, LSan, TSan) in argotd's recent output, or null. */
  sanitizerReport() {
    const log = this.logs();
    const m = log.match(/(WARNING: ThreadSanitizer|ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:)[\s\S]{0,4000}/);
    return m ? m[0] : null;
  }

  /** Stops the process and removes the temp dir. Safe to call twice. */
  async close() {
    try {
      await this.stop();
    } finally {
      if (!this.keepDir) rmSync(this.dir, { recursive: true, force: true });
      live.delete(this);
    }
  }

  /** {rss, hwm} in bytes from /proc/<pid>/status (VmRSS, VmHWM). */
  async memory() {
    return readMemory(this.pid);
  }
}

export async function readMemory(pid) {
  const txt = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = (name) => {
    const m = txt.match(new RegExp(`^${name}:\\s+(\\d+)\\s+kB`, 'm'));
    if (!m) throw new Error(`/proc/${pid}/status has no ${name}`);
    return Number(m[1]) * 1024;
  };
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

/** Samples VmRSS/VmHWM of pid every intervalMs until stop() is called. */
export function sampleMemory(pid, intervalMs = 20) {
  const samples = [];
  let stopped = false;
  let timer;
  const tick = async () => {
    if (stopped) return;
    try {
      samples.push({ t: Date.now(), ...(await readMemory(pid)) });
    } catch {
      /* process gone */
    }
    if (!stopped) timer = setTimeout(tick, intervalMs);
  };
  tick();
  return {
    samples,
    stop() {
      stopped = true;
      clearTimeout(timer);
      return samples;
    },
    maxRss() {
      return samples.reduce((m, s) => Math.max(m, s.rss), 0);
    },
  };
}

/**
 * Starts argotd with a fresh data dir and one key per org (created before the start, as an
 * operator would). Always pair with `after(() => srv.close())`.
 */
export async function startArgotd({ orgs = ['org-a'], flags = [], env = {} } = {}) {
  const inst = new Argotd({ flags, env });
  try {
    for (const org of orgs) await inst.createKey(org);
    await inst.start();
  } catch (e) {
    await inst.close();
    throw e;
  }
  return inst;
}

/** Walks dir; returns [{path, mode, isDir, size}] (lstat, no symlink following). */
export async function walk(dir) {
  const { readdir, lstat } = await import('node:fs/promises');
  const out = [];
  const rec = async (d) => {
    for (const name of await readdir(d)) {
      const p = join(d, name);
      const st = await lstat(p);
      out.push({ path: p, mode: st.mode & 0o7777, isDir: st.isDirectory(), isFile: st.isFile(), size: st.size });
      if (st.isDirectory()) await rec(p);
    }
  };
  await rec(dir);
  return out;
}

export function fileExists(p) {
  try {
    statSync(p);
    return true;
  } catch {
    return false;
  }
}
