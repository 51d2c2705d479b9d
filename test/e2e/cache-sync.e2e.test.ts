import { before, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { forEachDatabase } from '../utils/suite.js';
import { bearer, TestApp } from '../utils/test-app.js';
import { handlerBody } from '../factories/handler.factory.js';
import { CacheManagerService } from '../../src/cache-manager/cache-manager.service.js';


/** Polls until `check` holds; returns the milliseconds it took, or fails after `limitMs`. */
async function within(limitMs: number, check: () => boolean): Promise<number> {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > limitMs) assert.fail(`not true within ${limitMs} ms`);
    await sleep(50);
  }
  return Date.now() - started;
}

// Several instances share a database only on MySQL/MariaDB; SQLite refuses a second one (tested in startup).
forEachDatabase('two instances sharing one database', { only: 'mysql' }, (a) => {
  let b: TestApp;

  before(async () => {
    // The second instance boots on the same database; its cron refresh is yearly so only the change feed can update it.
    b = await a.startAnother({ BOOTSTRAP_ADMIN_KEY: a.adminKey, CACHE_REFRESH_CRON: '0 0 1 1 *' });
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
