// Issue 9: deleting while paging. The official clients' auto-pagination asks for the next page
// after the last id of the previous one, which the loop has deleted by then:
//   for await (const f of client.files.list({limit: 10})) await client.files.delete(f.id)
// must delete all 25 of 25 files. A cursor naming a file that belonged to the organization
// (deleted, or expired and swept, since) continues from its place for --tombstone-seconds; an
// id that never belonged to the organization is a 400 (param "after").
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { startArgotd, sleep } from './lib/argotd.mjs';
import { CLIENTS, runScenario } from './lib/clients.mjs';
import { client, expectJson, expectError, uploadParts, msgNoSuchFile } from './lib/http.mjs';

const FILES = 25;
let srv;
before(async () => {
  const orgs = ['org-x', 'org-purge', 'org-expiry', ...CLIENTS.flatMap((_, i) => [`org-del-${i}`, `org-asc-${i}`])];
  srv = await startArgotd({ orgs, flags: ['--sweep-interval', '1'] });
});
after(async () => {
  await srv?.close();
});

async function fill(org, n = FILES) {
  const c = client(srv, srv.keys[org]);
  const ids = [];
  for (let i = 0; i < n; i++) ids.push(expectJson(await c.upload(uploadParts(`f${i}.txt`, Buffer.from(`file ${i}\n`), 'assistants')), 200, `upload ${i}`).id);
  return ids;
}
const listIds = async (org) => expectJson(await client(srv, srv.keys[org]).get('/v1/files?limit=100'), 200, 'list').data.map((f) => f.id);

describe('for await (const f of client.files.list({limit: 10})) await client.files.delete(f.id)', () => {
  for (const [i, c] of CLIENTS.entries()) {
    for (const order of [undefined, 'asc']) {
      const org = order ? `org-asc-${i}` : `org-del-${i}`;
      test(`deletes all ${FILES} of ${FILES} files (${c.name}${order ? ', order asc' : ''})`, async () => {
        const ids = await fill(org);
        const out = await runScenario(c, 'delete_while_paging.mjs', { baseURL: srv.baseURL, apiKey: srv.keys[org], limit: 10, order });
        assert.equal(out.error, null, `the loop stopped with ${JSON.stringify(out.error)}`);
        assert.equal(out.deleted.length, FILES, `deleted ${out.deleted.length} of ${FILES}`);
        assert.deepEqual(out.deleted, order ? ids : [...ids].reverse(), 'deleted in list order, each once');
        assert.deepEqual(await listIds(org), [], 'nothing is left');
      });
    }
  }
});

describe('cursors', () => {
  test("an id that never belonged to the organization is a 400 naming 'after'", async () => {
    const [mine] = await fill('org-x', 1);
    const [theirs] = await fill('org-purge', 1);
    const c = client(srv, srv.keys['org-x']);
    for (const id of ['file-AAAAAAAAAAAAAAAAAAAAAA', theirs]) {
      expectError(await c.get(`/v1/files?after=${id}`), 400, { type: 'invalid_request_error', param: 'after', code: null, message: msgNoSuchFile(id) }, `after=${id}`);
    }
    // Another organization's deleted file is not ours either.
    expectJson(await client(srv, srv.keys['org-purge']).del(`/v1/files/${theirs}`), 200, 'delete theirs');
    expectError(await c.get(`/v1/files?after=${theirs}`), 400, { param: 'after', message: msgNoSuchFile(theirs) }, 'after=their deleted id');
    expectJson(await c.del(`/v1/files/${mine}`), 200, 'delete mine');
    const page = expectJson(await c.get(`/v1/files?after=${mine}`), 200, 'after=my deleted id');
    assert.deepEqual(page.data, []);
  });

  test('an expired file, swept by the sweeper, still continues the walk', async () => {
    const org = 'org-expiry';
    const c = client(srv, srv.keys[org]);
    const older = expectJson(await c.upload(uploadParts('older.txt', Buffer.from('a'), 'assistants')), 200, 'older').id;
    const exp = expectJson(
      await c.upload(uploadParts('soon.txt', Buffer.from('b'), 'assistants', [{ name: 'expires_after[anchor]', value: 'created_at' }, { name: 'expires_after[seconds]', value: '3600' }])),
      200,
      'expiring',
    );
    await srv.restart({ flags: ['--sweep-interval', '1', '--clock-offset', '3601'] });
    // The sweeper's first pass runs at start: the row goes (logged), its tombstone stays.
    for (let i = 0; i < 200 && !/msg=swept expired=1 /.test(srv.logs()); i++) await sleep(50);
    assert.match(srv.logs(), /msg=swept expired=1 /, 'the sweeper took the expired file');
    assert.equal((await c.get(`/v1/files/${exp.id}`)).status, 404, 'the expired file is gone');
    const page = expectJson(await c.get(`/v1/files?after=${exp.id}`), 200, `after=${exp.id} (expired, swept)`);
    assert.deepEqual(page.data.map((f) => f.id), [older]);
  });

  test('--tombstone-seconds: the sweeper forgets deleted ids after that long, then they are 400', async () => {
    await srv.restart({ flags: ['--sweep-interval', '1', '--tombstone-seconds', '0'] });
    const c = client(srv, srv.keys['org-x']);
    const [id] = await fill('org-x', 1);
    expectJson(await c.del(`/v1/files/${id}`), 200, 'delete');
    let r;
    for (let i = 0; i < 100; i++) {
      r = await c.get(`/v1/files?after=${id}`);
      if (r.status === 400) break;
      await sleep(50);
    }
    expectError(r, 400, { param: 'after', message: msgNoSuchFile(id) }, 'after a purged tombstone');
  });
});
