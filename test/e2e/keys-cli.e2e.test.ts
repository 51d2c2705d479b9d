import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { databaseKinds, TestDatabase } from '../utils/databases.js';
import { bearer, startApp, TestApp } from '../utils/test-app.js';
import { eventually } from '../utils/receiver.js';
import { KEY_CACHE_TTL_MS } from '../../src/api-keys/api-keys.service.js';

const run = promisify(execFile);
const CLI = resolve('dist/src/cli/keys.js');
const kinds = await databaseKinds();

for (const kind of kinds) {
  describe(`keys script [${kind.name}]`, { skip: kind.skip }, () => {
    let db: TestDatabase;
    let t: TestApp;
    const keys = (...args: string[]) =>
      run(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH, DATABASE_URL: db.url } });

    before(async () => {
      db = await kind.create();
      t = await startApp(db);
    });
    after(async () => {
      await t?.close();
      await db?.drop();
    });

    it('creates a key the API accepts, lists it without the key, and revokes it', async () => {
      const created = await keys('create', '--name', 'core events', '--scopes', 'events,read');
      const key = /^(pk_\S+)$/m.exec(created.stdout)?.[1];
      assert.ok(key, created.stdout);
      const id = /Created key (\d+)/.exec(created.stdout)![1];
      assert.equal((await t.http.get('/api/v1/handlers').set(bearer(key))).status, 200);

      const listed = await keys('list');
      assert.match(listed.stdout, new RegExp(`^${id}\\t${key.slice(0, 10)}\\tevents,read\\tactive`, 'm'));
      assert.ok(!listed.stdout.includes(key), 'list must not print keys');

      const revoked = await keys('revoke', id!);
      assert.match(revoked.stdout, /Revoked key/);
      // A revocation made elsewhere reaches this instance once its verified-key cache expires.
      const started = Date.now();
      await eventually(async () => ((await t.http.get('/api/v1/handlers').set(bearer(key))).status === 401 ? true : undefined), KEY_CACHE_TTL_MS + 2000);
      assert.ok(Date.now() - started <= KEY_CACHE_TTL_MS + 2000);
    });

    it('creates an internal key on the host, which an admin key cannot do through the API', async () => {
      const refused = await t.http.post('/api/v1/api-keys').set(bearer(t.adminKey)).send({ name: 'scripts', scopes: ['internal'] });
      assert.equal(refused.status, 403);
      const created = await keys('create', '--name', 'scripts', '--scopes', 'internal');
      const key = /^(pk_\S+)$/m.exec(created.stdout)?.[1];
      assert.ok(key, created.stdout);
      const me = await t.http.get('/api/v1/auth/me').set(bearer(key));
      assert.deepEqual(me.body.scopes, ['internal']);
    });

    it('refuses unknown scopes and commands with a usage message and exit code 2', async () => {
      await assert.rejects(keys('create', '--name', 'x', '--scopes', 'root'), (error: { code: number; stderr: string }) => {
        assert.equal(error.code, 2);
        assert.match(error.stderr, /unknown: root/);
        return true;
      });
      await assert.rejects(keys('explode'), (error: { code: number; stderr: string }) => {
        assert.equal(error.code, 2);
        assert.match(error.stderr, /usage/);
        return true;
      });
      const listed = await keys('list');
      assert.ok(!listed.stdout.includes('\tx\n'), 'nothing was created');
    });
  });
}
