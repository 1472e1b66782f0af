// Stops an argotd of ../../compat/lib/argotd.mjs and fails the test file if it did not exit
// cleanly on SIGTERM or printed a sanitizer report (the ASan build runs these tests too).
import assert from 'node:assert/strict';

export async function stopClean(srv) {
  if (!srv) return;
  const rec = await srv.stop();
  const san = srv.sanitizerReport();
  await srv.close();
  assert.equal(san, null, `sanitizer report from argotd:\n${san}`);
  assert.deepEqual(rec && { code: rec.code, killed: rec.killed }, { code: 0, killed: false }, `argotd's exit: ${JSON.stringify(rec)}`);
}
