// The servers of the multi-instance tests, each real and on 127.0.0.1, each stopped by PID:
//
//   const pg = await startPostgres(dir);          // scripts/testsrv/pg-up.sh: PostgreSQL 15
//   await pg.psql('SELECT count(*) FROM intents') // -> '0' (psql -At)
//   const blob = await blobBackend(dir);          // ARGOT_CLUSTER_BLOB: file (default) or s3
//   const a1 = new Instance('a1', { dir, port, flags: ['--meta', pg.uri, ...blob.flags] });
//   await a1.start(); a1.kill(); a1.logs()        // the whole log, from a file
//   const lb = await startHaproxy(dir, [p1, p2, p3]);  // scripts/testsrv/haproxy-up.sh
//   await lb.waitServer('a2', 'DOWN');
//
// A server that cannot be installed on this machine (not root, no package) makes the whole file
// skip: skip() prints a loud notice and exits 77, which ctest reports as skipped.
// Every argotd, haproxy and PostgreSQL started here is stopped when the test process exits,
// however it exits.

import { spawn, execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, openSync, closeSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import http from 'node:http';
import net from 'node:net';
import { s3Request } from '../../compat/lib/s3sign.mjs';

const here = dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = resolve(here, '..', '..', '..');
const TESTSRV = join(REPO_ROOT, 'scripts', 'testsrv');
const PGBIN = process.env.PGBIN || '/usr/lib/postgresql/15/bin';
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Prints a loud notice and exits 77 (ctest SKIP_RETURN_CODE). */
export function skip(why) {
  process.stderr.write(`\n*** SKIPPING ${process.argv[1]}: ${why} ***\n\n`);
  process.exit(77);
}

export function argotdBinary() {
  const bin = process.env.ARGOTD;
  if (!bin) throw new Error('ARGOTD is not set: point it at the argotd binary (ctest sets it)');
  return resolve(bin);
}

function run(file, args, { timeout = 120000, env } = {}) {
  return new Promise((res, rej) =>
    execFile(file, args, { timeout, maxBuffer: 64 << 20, env: env || process.env }, (err, stdout, stderr) =>
      err ? rej(Object.assign(err, { message: `${file} ${args.join(' ')}: ${err.message}\n${stderr}`, stdout, stderr })) : res({ stdout, stderr }),
    ),
  );
}

/** `argotd ARGS...` (keys, fsck): resolves {stdout, stderr}. */
export const argotd = (args, opts) => run(argotdBinary(), args, opts);

/** A scratch dir, removed at exit unless ARGOT_CLUSTER_KEEP=1. */
export function scratch(name) {
  const d = join(tmpdir(), `argot-cluster-${name}-${process.pid}`);
  rmSync(d, { recursive: true, force: true });
  mkdirSync(d, { recursive: true, mode: 0o700 });
  cleanups.push(() => (process.env.ARGOT_CLUSTER_KEEP === '1' ? writeFileSync(join(d, 'kept'), '') : rmSync(d, { recursive: true, force: true })));
  return d;
}

const cleanups = []; // run in reverse order at exit, synchronously, after every argotd is killed
const live = new Set(); // Instances
process.on('exit', () => {
  for (const i of live) {
    try {
      if (i.running) process.kill(i.proc.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  for (const f of cleanups.reverse()) {
    try {
      f();
    } catch {
      /* best effort */
    }
  }
});
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.once(sig, () => process.exit(128 + 1));

// A test process killed with SIGKILL (ctest's timeout) cannot clean up: the next run stops what
// it left (the PIDs its dirs recorded, if they still run the program they named) and removes
// its dirs, named argot-cluster-<what>-<pid of the test process>.
const alive = (pid) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e.code === 'EPERM';
  }
};
const runs = (pidFile, prog) => {
  try {
    const pid = Number(readFileSync(pidFile, 'utf8'));
    return pid > 0 && readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0].endsWith(prog) ? pid : 0;
  } catch {
    return 0;
  }
};
function sweepStale() {
  for (const name of readdirSync(tmpdir())) {
    const m = name.match(/^argot-cluster-.+-(\d+)$/);
    if (!m || +m[1] === process.pid || alive(+m[1]) || existsSync(join(tmpdir(), name, 'kept'))) continue;
    const d = join(tmpdir(), name);
    const entries = readdirSync(d);
    for (const f of entries.filter((e) => e.endsWith('.pid'))) {
      const pid = runs(join(d, f), 'argotd');
      if (pid) process.kill(pid, 'SIGKILL');
    }
    for (const sub of entries) {
      if (runs(join(d, sub, 'pid'), 'haproxy')) execFileSync(join(TESTSRV, 'haproxy-down.sh'), [join(d, sub)]);
    }
    if (runs(join(d, 'pid'), 'postgres')) execFileSync(join(TESTSRV, 'pg-down.sh'), [d, '--keep']);
    if (process.env.ARGOT_CLUSTER_KEEP !== '1') rmSync(d, { recursive: true, force: true });
  }
}
try {
  sweepStale();
} catch (e) {
  process.stderr.write(`cluster: cleaning up after an earlier run: ${e.message}\n`);
}

/** n ports free on 127.0.0.1 now (bound together, then released). */
export async function freePorts(n) {
  const socks = await Promise.all(
    Array.from({ length: n }, () => new Promise((res, rej) => {
      const s = net.createServer();
      s.once('error', rej);
      s.listen(0, '127.0.0.1', () => res(s));
    })),
  );
  const ports = socks.map((s) => s.address().port);
  await Promise.all(socks.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL

/** Starts PostgreSQL 15 with pg-up.sh (skips the file where it cannot be installed). Its dir is
 * directly under the temp dir: as root the server runs as user postgres, who must reach it. */
export async function startPostgres() {
  const dir = join(tmpdir(), `argot-cluster-pg-${process.pid}`);
  try {
    await run(join(TESTSRV, 'pg-up.sh'), [dir]);
  } catch (e) {
    throw new Error(`scripts/testsrv/pg-up.sh failed: ${e.message}`);
  }
  if (existsSync(join(dir, 'skip'))) skip(`PostgreSQL: ${readFileSync(join(dir, 'skip'), 'utf8').trim()}`);
  cleanups.push(() => execFileSync(join(TESTSRV, 'pg-down.sh'), [dir]));
  const uri = readFileSync(join(dir, 'uri'), 'utf8').trim();
  const u = new URL(uri);
  const pg = {
    uri,
    startSeconds: Number(readFileSync(join(dir, 'start_seconds'), 'utf8')),
    /** The URL of another database on the same server. */
    db: (name) => `${u.protocol}//${u.username}@${u.host}/${name}`,
    /** psql -At: the rows, '|'-separated columns, as one trimmed string. */
    async psql(sql, db = uri) {
      const { stdout } = await run(join(PGBIN, 'psql'), ['-X', '-At', '-v', 'ON_ERROR_STOP=1', '-d', db, '-c', sql], { timeout: 30000 });
      return stdout.trim();
    },
    async createDb(name) {
      await pg.psql(`CREATE DATABASE ${name}`);
      return pg.db(name);
    },
    /** pg_dump --schema-only, without the random \\restrict token of each dump. */
    async schemaDump(db) {
      const { stdout } = await run(join(PGBIN, 'pg_dump'), ['--schema-only', '--no-owner', '-d', db], { timeout: 30000 });
      return stdout.replace(/^\\(un)?restrict .*$/gm, '');
    },
  };
  return pg;
}

// ---------------------------------------------------------------------------------------------
// Blob backends: a shared directory (several processes on one machine) or S3

/**
 * ARGOT_CLUSTER_BLOB=file (default): file:DIR, one directory every instance writes. s3: the S3
 * backend (--blob s3://BUCKET/PREFIX --s3-endpoint URL) on OpenStack Swift with s3api
 * (scripts/testsrv/swift-up.sh, which skips the file where Swift cannot be installed).
 * Returns {kind, flags, env, blobs(): Promise<string[]> (committed blob keys, sorted),
 * unfinished(): Promise<string[]> (writes in progress: temporaries or multipart uploads)}.
 */
export async function blobBackend(base) {
  const kind = process.env.ARGOT_CLUSTER_BLOB || 'file';
  if (kind === 'file') {
    const root = join(base, 'blobs');
    const ls = (d) => (existsSync(d) ? readdirSync(d) : []);
    return {
      kind,
      root,
      flags: ['--blob', `file:${root}`],
      env: {},
      async blobs() {
        const out = [];
        for (const fan of ls(join(root, 'blobs'))) {
          const d = join(root, 'blobs', fan);
          if (statSync(d).isDirectory()) out.push(...ls(d));
        }
        return out.sort();
      },
      async unfinished() {
        return ls(join(root, 'tmp')).sort();
      },
    };
  }
  if (kind !== 's3') throw new Error(`ARGOT_CLUSTER_BLOB=${kind}: expected file or s3`);
  return s3Backend(base);
}

/** Swift with s3api, one bucket; S3 requests signed by tests/compat/lib/s3sign.mjs. */
async function s3Backend(base) {
  // Not under base (0700, root's when run as root): Swift's servers run as user swift and must
  // reach their directory, which swift-up.sh hands to that user.
  const dir = mkdtempSync(join(tmpdir(), `argot-cluster-swift-${process.pid}-`));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  await run(join(TESTSRV, 'swift-up.sh'), [dir], { timeout: 300000 });
  if (existsSync(join(dir, 'skip'))) skip(`Swift: ${readFileSync(join(dir, 'skip'), 'utf8').trim()}`);
  cleanups.push(() => execFileSync(join(TESTSRV, 'swift-down.sh'), [dir]));
  const endpoint = readFileSync(join(dir, 'endpoint'), 'utf8').trim();
  const env = { AWS_ACCESS_KEY_ID: 'test:tester', AWS_SECRET_ACCESS_KEY: 'testing', AWS_REGION: 'us-east-1' };
  const bucket = 'argot-cluster';
  const prefix = 'c1';
  // Signed by tests/compat/lib/s3sign.mjs: curl --aws-sigv4 cannot take "test:tester" (--user
  // splits at the colon).
  const s3 = async (method, target) => {
    const u = new URL(target, endpoint);
    return s3Request(endpoint, method, u.pathname, Object.fromEntries(u.searchParams), { accessKey: env.AWS_ACCESS_KEY_ID, secretKey: env.AWS_SECRET_ACCESS_KEY });
  };
  await s3('PUT', `/${bucket}`);
  const keys = (xml, tag) => [...xml.matchAll(new RegExp(`<${tag}>([^<]*)</${tag}>`, 'g'))].map((m) => m[1]);
  return {
    kind: 's3',
    flags: ['--blob', `s3://${bucket}/${prefix}`, '--s3-endpoint', endpoint],
    env,
    async blobs() {
      // Query parameters in sorted order: Swift checks the canonical query string as sent.
      const xml = await s3('GET', `/${bucket}?list-type=2&max-keys=1000&prefix=${prefix}%2F`);
      return keys(xml, 'Key').map((k) => k.split('/').pop()).sort();
    },
    async unfinished() {
      const xml = await s3('GET', `/${bucket}?prefix=${prefix}%2F&uploads=`);
      return keys(xml, 'Key').sort();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// argotd

function probe(port, path, timeoutMs = 1000) {
  return new Promise((res, rej) => {
    const req = http.request({ host: '127.0.0.1', port, path, agent: false, timeout: timeoutMs }, (r) => {
      r.resume();
      r.on('end', () => res(r.statusCode));
      r.on('error', rej);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', rej);
    req.end();
  });
}

/**
 * One argotd on a fixed port (haproxy's configuration names it), its whole stdout+stderr in
 * DIR/NAME.log (appended across restarts), its data dir DIR/NAME.
 */
export class Instance {
  constructor(name, { dir, port, flags = [], env = {} }) {
    this.name = name;
    this.port = port;
    this.flags = flags;
    this.env = env;
    this.dataDir = join(dir, name);
    this.logFile = join(dir, `${name}.log`);
    this.pidFile = join(dir, `${name}.pid`); // for the next run's sweepStale
    this.proc = null;
    this.exits = [];
    live.add(this);
  }
  get origin() {
    return `http://127.0.0.1:${this.port}`;
  }
  get baseURL() {
    return `${this.origin}/v1`;
  }
  get running() {
    return !!this.proc && this.proc.exitCode === null && this.proc.signalCode === null;
  }
  logs() {
    return existsSync(this.logFile) ? readFileSync(this.logFile, 'utf8') : '';
  }
  /** Log lines at level error or warn (the server never logs a key). */
  problems(since = 0) {
    return this.logs().slice(since).split('\n').filter((l) => /\blevel=(error|warn)\b/.test(l));
  }
  /** The owner id of the running process (its store's, logged at start). */
  owner() {
    const m = [...this.logs().slice(this.logStart).matchAll(/msg=recovered owner=(own_[0-9a-f]+)/g)];
    return m.length ? m[m.length - 1][1] : null;
  }
  /** The first sanitizer report (ASan, UBSan, LSan, TSan) in the log, or null. */
  sanitizerReport() {
    const m = this.logs().match(/(WARNING: ThreadSanitizer|ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:)[\s\S]{0,4000}/);
    return m ? m[0] : null;
  }

  /** Starts argotd and resolves once GET /healthz answers 200 (flags replace the old ones). */
  async start({ flags, timeoutMs = 30000 } = {}) {
    if (this.running) throw new Error(`${this.name} is running`);
    if (flags) this.flags = flags;
    const args = ['--listen', `127.0.0.1:${this.port}`, '--data', this.dataDir, ...this.flags];
    const env = { ...process.env, ...this.env };
    for (const k of Object.keys(env)) if (k.startsWith('ARGOT_') && !(k in this.env)) delete env[k];
    const fd = openSync(this.logFile, 'a', 0o600);
    const proc = spawn(argotdBinary(), args, { stdio: ['ignore', fd, fd], env });
    closeSync(fd);
    writeFileSync(this.pidFile, String(proc.pid));
    this.proc = proc;
    this.logStart = this.logs().length;
    proc.exited = new Promise((r) => proc.once('exit', (code, signal) => r({ code, signal })));
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (!this.running) {
        const { code, signal } = await proc.exited;
        throw new Error(`${this.name} exited during startup (code ${code}, signal ${signal})\n$ argotd ${args.join(' ')}\n${this.logs().slice(-4000)}`);
      }
      try {
        if ((await probe(this.port, '/healthz')) === 200) return this;
      } catch {
        /* not yet */
      }
      await sleep(20);
    }
    await this.kill();
    throw new Error(`${this.name}: GET /healthz never answered 200 on port ${this.port}\n${this.logs().slice(-4000)}`);
  }

  /** SIGTERM (SIGKILL after timeoutMs); resolves {code, signal, killed}. */
  async stop({ timeoutMs = 15000 } = {}) {
    const proc = this.proc;
    if (!proc) return null;
    let killed = false;
    if (this.running) {
      process.kill(proc.pid, 'SIGTERM');
      const t = setTimeout(() => {
        killed = true;
        if (this.running) process.kill(proc.pid, 'SIGKILL');
      }, timeoutMs);
      await proc.exited;
      clearTimeout(t);
    }
    const rec = { ...(await proc.exited), killed };
    this.exits.push(rec);
    this.proc = null;
    return rec;
  }

  /** SIGKILL now (a crash). */
  async kill() {
    const proc = this.proc;
    if (!proc) return null;
    if (this.running) process.kill(proc.pid, 'SIGKILL');
    const rec = { ...(await proc.exited), killed: true };
    this.exits.push(rec);
    this.proc = null;
    return rec;
  }
}

// ---------------------------------------------------------------------------------------------
// haproxy

/** haproxy-up.sh in front of the ports (servers a1, a2, ... in that order); waitSeconds 0: do not
 * wait for the servers' first checks (they may start later). */
export async function startHaproxy(base, ports, { name = 'haproxy', waitSeconds = 30 } = {}) {
  const dir = join(base, name);
  try {
    await run(join(TESTSRV, 'haproxy-up.sh'), [dir, ...ports.map(String)], { env: { ...process.env, HAPROXY_WAIT_SECONDS: String(waitSeconds) } });
  } catch (e) {
    throw new Error(`scripts/testsrv/haproxy-up.sh failed: ${e.message}`);
  }
  if (existsSync(join(dir, 'skip'))) skip(`haproxy: ${readFileSync(join(dir, 'skip'), 'utf8').trim()}`);
  const stop = () => execFileSync(join(TESTSRV, 'haproxy-down.sh'), [dir, ...(process.env.ARGOT_CLUSTER_KEEP === '1' ? ['--keep'] : [])]);
  cleanups.push(stop);
  const origin = readFileSync(join(dir, 'url'), 'utf8').trim();
  const statsUrl = readFileSync(join(dir, 'stats_url'), 'utf8').trim();
  const lb = {
    origin,
    port: Number(new URL(origin).port),
    baseURL: `${origin}/v1`,
    startSeconds: Number(readFileSync(join(dir, 'start_seconds'), 'utf8')),
    log: () => readFileSync(join(dir, 'haproxy.log'), 'utf8'),
    config: () => readFileSync(join(dir, 'haproxy.cfg'), 'utf8'),
    /** {a1: {status: 'UP', check: 'L7OK'}, ...} from the CSV statistics. */
    async servers() {
      const csv = await new Promise((res, rej) => {
        http.get(`${statsUrl};csv`, { agent: false }, (r) => {
          let s = '';
          r.setEncoding('utf8');
          r.on('data', (c) => (s += c));
          r.on('end', () => res(s));
          r.on('error', rej);
        }).on('error', rej);
      });
      const out = {};
      for (const line of csv.split('\n')) {
        const f = line.split(',');
        if (f[0] === 'argot' && f[1] !== 'BACKEND' && f[1] !== 'FRONTEND') out[f[1]] = { status: f[17], check: f[36] };
      }
      return out;
    },
    /** Waits until haproxy reports server `name` UP (a check passed) or DOWN. */
    async waitServer(server, want, timeoutMs = 20000) {
      const t0 = Date.now();
      for (;;) {
        const s = (await lb.servers())[server];
        if (s && s.status === want && (want !== 'UP' || s.check === 'L7OK')) return Date.now() - t0;
        if (Date.now() - t0 > timeoutMs) throw new Error(`haproxy: ${server} not ${want} within ${timeoutMs} ms: ${JSON.stringify(s)}`);
        await sleep(50);
      }
    },
    stop,
  };
  return lb;
}
