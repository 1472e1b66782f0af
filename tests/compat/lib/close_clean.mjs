// Stops an argotd (lib/argotd.mjs) and fails if it printed a sanitizer report (ASan, UBSan,
// LSan at exit, TSan): under `make asan` that is how a memory error in argotd fails the test.
import assert from 'node:assert/strict';

export async function closeClean(srv) {
  if (!srv) return;
  await srv.stop();
  const san = srv.sanitizerReport();
  await srv.close();
  assert.equal(san, null, `sanitizer report from argotd:\n${san}`);
}
