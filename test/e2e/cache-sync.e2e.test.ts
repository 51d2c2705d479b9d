import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { databaseKinds, TestDatabase } from '../utils/databases.js';
import { bearer, startApp, TestApp } from '../utils/test-app.js';
import { handlerBody } from '../factories/handler.factory.js';
import { CacheManagerService } from '../../src/cache-manager/cache-manager.service.js';

// Several instances share a database only on MySQL/MariaDB; SQLite refuses a second one (tested in startup).
const kinds = (await databaseKinds()).filter((kind) => kind.name === 'mysql');

/** Polls until `check` holds; returns the milliseconds it took, or fails after `limitMs`. */
async function within(limitMs: number, check: () => boolean): Promise<number> {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > limitMs) assert.fail(`not true within ${limitMs} ms`);
    await sleep(50);
  }
  return Date.now() - started;
}

for (const kind of kinds) {
  describe(`two instances sharing one database [${kind.name}]`, { skip: kind.skip }, () => {
    let db: TestDatabase;
    let a: TestApp;
    let b: TestApp;

    before(async () => {
      db = await kind.create();
      a = await startApp(db);
      // The second instance boots on the same database; its cron refresh is yearly so only the change feed can update it.
      b = await startApp(db, { BOOTSTRAP_ADMIN_KEY: a.adminKey, CACHE_REFRESH_CRON: '0 0 1 1 *' });
    });
    after(async () => {
      await b?.close();
      await a?.close();
      await db?.drop();
    });

    it('a handler created, edited and deleted through instance A reaches instance B within 5 seconds', async () => {
      const cacheB = b.app.get(CacheManagerService);
      const idsOnB = () => cacheB.lookup('clients.balance_zero').map((h) => h.id);

      const first = await a.http.post('/api/v1/handlers').set(bearer(a.adminKey)).send(handlerBody({ event: 'clients.balance_zero', priority: 5 }));
      assert.equal(first.status, 201);
      await within(5000, () => idsOnB().includes(first.body.id));

      const second = await a.http.post('/api/v1/handlers').set(bearer(a.adminKey)).send(handlerBody({ event: 'clients.*', priority: 1 }));
      await within(5000, () => idsOnB().join() === [second.body.id, first.body.id].join());

      await a.http.post(`/api/v1/handlers/${second.body.id}/toggle`).set(bearer(a.adminKey)).expect(200);
      await within(5000, () => idsOnB().join() === String(first.body.id));

      await a.http.delete(`/api/v1/handlers/${first.body.id}`).set(bearer(a.adminKey)).expect(204);
      await within(5000, () => idsOnB().length === 0);
      assert.equal(cacheB.status().version, a.app.get(CacheManagerService).status().version);
    });

    it('only one first admin key exists although two instances booted', async () => {
      const keys = await a.http.get('/api/v1/api-keys').set(bearer(a.adminKey));
      assert.equal(keys.body.filter((k: { name: string }) => k.name.startsWith('bootstrap')).length, 1);
    });
  });
}
