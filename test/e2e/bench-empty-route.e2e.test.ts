import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../src/config/app-config.js';
import { ConfigError } from '../../src/config/environment.js';
import { bearer } from '../utils/test-app.js';
import { forEachDatabase } from '../utils/suite.js';

describe('BENCH_EMPTY_ROUTE', () => {
  it('is off by default and accepts only true or false', () => {
    assert.equal(loadConfig({}).bench.emptyRoute, false);
    assert.equal(loadConfig({ BENCH_EMPTY_ROUTE: 'true' }).bench.emptyRoute, true);
    assert.throws(() => loadConfig({ BENCH_EMPTY_ROUTE: 'yes' }), (error: unknown) => error instanceof ConfigError && /BENCH_EMPTY_ROUTE/.test(error.message));
  });
});

for (const flag of ['false', 'true']) {
  forEachDatabase(`the empty benchmark route with BENCH_EMPTY_ROUTE=${flag}`, { only: 'sqlite', env: { BENCH_EMPTY_ROUTE: flag, INSTANCE_ROLE: 'api' } }, (t) => {

    it(flag === 'true' ? 'answers 202 to a key with the events scope, and checks the key' : 'is not mounted', async () => {
      const events = bearer(await t.key('events'));
      const body = { event: 'clients.update', object_id: 1, data: { id: 1 } };
      const response = await t.http.post('/api/v1/bench/empty').set(events).send(body);
      if (flag === 'true') {
        assert.equal(response.status, 202);
        assert.deepEqual(response.body, {});
        const read = bearer(await t.key('read'));
        assert.equal((await t.http.post('/api/v1/bench/empty').set(read).send(body)).status, 403);
        assert.equal((await t.http.post('/api/v1/bench/empty').send(body)).status, 401);
      } else {
        assert.equal(response.status, 404);
        assert.equal(response.body.code, 'ROUTE_NOT_FOUND');
      }
    });
  });
}
