// Builds the seed's own SDK (argot-open-ai 0.0.5, Speakeasy TypeScript) from the source tarball
// in shared/clients/ and loads it. The SDK carries no licence, so it is never copied into this
// repository: it is unpacked and built under the build dir (ARGOT_BUILD_DIR, which ctest sets)
// or the temp dir, with its own package-lock.json (npm ci) and its own tsc, exactly as
// shared/clients/README.md says. A stamp (the tarball's SHA-256 and node's version) lets later
// runs reuse the build.

import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { SHARED_DIR } from './argotd.mjs';

export const SEED_TARBALL = join(SHARED_DIR, 'clients', 'seed-sdk-9c9b070.tar.gz');
// The User-Agent the SDK sends (lib/config.ts), which argotd's auto profile recognises.
export const SEED_USER_AGENT = 'speakeasy-sdk/typescript 0.0.5 2.438.15 2.3.0 argot-open-ai';

function run(cmd, args, cwd, timeout = 240000) {
  return new Promise((res, rej) => {
    execFile(cmd, args, { cwd, timeout, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) {
        err.message += `\n$ (cd ${cwd} && ${cmd} ${args.join(' ')})\n${stdout}\n${stderr}`;
        rej(err);
      } else res(stdout);
    });
  });
}

/** The directory the SDK is built in. */
export function seedSdkDir() {
  const base = process.env.ARGOT_BUILD_DIR || join(tmpdir(), `argot-build-${userInfo().uid}`);
  return join(base, 'seed-sdk-9c9b070');
}

/**
 * Unpacks, installs (npm ci) and compiles (tsc) the SDK unless an identical build is there.
 * Returns {dir, built: true if it was built now, ms}.
 */
export async function buildSeedSdk() {
  const dir = seedSdkDir();
  const stampFile = join(dir, '.argot-stamp');
  const stamp = createHash('sha256').update(readFileSync(SEED_TARBALL)).digest('hex') + ` node ${process.version}\n`;
  if (existsSync(stampFile) && readFileSync(stampFile, 'utf8') === stamp && existsSync(join(dir, 'index.js'))) {
    return { dir, built: false, ms: 0 };
  }
  const t0 = Date.now();
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  await run('tar', ['-xzf', SEED_TARBALL, '-C', dir], dir);
  await run('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error', '--prefer-offline'], dir);
  await run(process.execPath, [join(dir, 'node_modules', 'typescript', 'bin', 'tsc')], dir);
  if (!existsSync(join(dir, 'index.js'))) throw new Error(`tsc produced no ${join(dir, 'index.js')}`);
  writeFileSync(stampFile, stamp);
  return { dir, built: true, ms: Date.now() - t0 };
}

/** Loads the built SDK (CommonJS): {ArgotOpenAi, SDKError, SDKValidationError}. */
export function loadSeedSdk(dir) {
  const require = createRequire(import.meta.url);
  const { ArgotOpenAi } = require(join(dir, 'index.js'));
  const errors = require(join(dir, 'models', 'errors', 'index.js'));
  return { ArgotOpenAi, SDKError: errors.SDKError, SDKValidationError: errors.SDKValidationError };
}
