// Regenerates the console screenshots in docs/ (linked from README.md and docs/console.md)
// against a real argotd with a few seeded files. Not a test; run by hand after a UI change:
//
//   ARGOTD=build/argotd node tests/browser/screenshots.mjs
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startArgotd, sleep, REPO_ROOT } from '../compat/lib/argotd.mjs';
import { client } from '../compat/lib/http.mjs';
import { launch, openConsole, signIn, pickFiles, throttleUploads } from './lib/browser.mjs';

const MiB = 1024 * 1024;
const docs = (name) => join(REPO_ROOT, 'docs', name);

const srv = await startArgotd({
  orgs: ['org-research'],
  flags: ['--max-org-bytes', String(256 * MiB), '--max-file-bytes', String(32 * MiB), '--max-part-bytes', String(8 * MiB)],
});
const b = await launch({ width: 1280, height: 860 });
const tmp = mkdtempSync(join(tmpdir(), 'argot-shots-')); // files to pick (read while uploading)
try {
  const api = client(srv, srv.keys['org-research']);
  const seed = [
    ['eval-questions.jsonl', 'evals', 2.4],
    ['support-tickets-2024.jsonl', 'fine-tune', 28],
    ['support-tickets-2024-validation.jsonl', 'fine-tune', 4.6],
    ['nightly-batch-0412.jsonl', 'batch', 12],
    ['product-manual.pdf', 'assistants', 7.9],
    ['diagram.png', 'vision', 1.2],
    ['notes <draft>.md', 'user_data', 0.02],
    ['nightly-batch-0413.jsonl', 'batch', 11],
    ['customer-export.csv', 'user_data', 30],
  ];
  for (const [name, purpose, mib] of seed) {
    const data = name.endsWith('.jsonl')
      ? Buffer.from(Array.from({ length: Math.ceil((mib * MiB) / 80) }, (_, i) => JSON.stringify({ custom_id: `req-${i}`, body: { input: 'x'.repeat(40) } })).join('\n') + '\n')
      : randomBytes(Math.round(mib * MiB));
    const fields = [{ name: 'purpose', value: purpose }, { name: 'file', filename: name, data }];
    if (purpose === 'user_data' && mib < 1) fields.push({ name: 'expires_after[anchor]', value: 'created_at' }, { name: 'expires_after[seconds]', value: '604800' });
    const r = await api.upload(fields);
    if (r.status !== 200) throw new Error(`${name}: ${r.text}`);
  }

  const page = await openConsole(b, srv);
  await page.waitForSelector('#signin-view', { state: 'visible' });
  await page.fill('#key', srv.keys['org-research']);
  await page.screenshot({ path: docs('console-signin.png') });

  await signIn(page, srv.keys['org-research']);
  await page.screenshot({ path: docs('console-files.png'), fullPage: true });

  await page.locator('section.usage').screenshot({ path: docs('console-usage.png') });

  await throttleUploads(page, 4 * MiB);
  const paths = [];
  for (const [name, mib] of [['support-tickets-2025.jsonl', 40], ['contract-scan.pdf', 6], ['glossary.txt', 2]]) {
    paths.push(join(tmp, name));
    writeFileSync(paths.at(-1), randomBytes(mib * MiB));
  }
  await pickFiles(page, paths, { purpose: 'user_data' });
  await page.waitForFunction(() => [...document.querySelectorAll('#upload-list progress')].filter((p) => p.value > p.max * 0.3).length >= 1);
  await page.screenshot({ path: docs('console-upload.png') });
  for (const btn of (await page.$$('#upload-list button')).reverse()) await btn.click(); // cancel, queued first
  await throttleUploads(page, -1);
  await sleep(300);

  await page.setViewportSize({ width: 400, height: 860 });
  await page.reload();
  await page.waitForSelector('#files-body tr');
  await page.evaluate(() => document.querySelector('#files-title').scrollIntoView());
  await page.screenshot({ path: docs('console-400px.png') });
  console.log('wrote docs/console-{signin,files,usage,upload,400px}.png');
} finally {
  rmSync(tmp, { recursive: true, force: true });
  await b.close();
  await srv.close();
}
