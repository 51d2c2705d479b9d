import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { databaseKinds, TestDatabase } from '../utils/databases.js';
import { bearer, startApp, TestApp } from '../utils/test-app.js';
import { eventually, TestReceiver } from '../utils/receiver.js';

const kinds = await databaseKinds();

for (const kind of kinds) {
  describe(`outbound network policy at connect time [${kind.name}]`, { skip: kind.skip }, () => {
    let db: TestDatabase;
    let t: TestApp;
    let r: TestReceiver;

    before(async () => {
      db = await kind.create();
      t = await startApp(db, { OUTBOUND_DENY_NETWORKS: '127.0.0.0/8,::1/128', RETRY_SCHEDULE: '100ms', DISPATCH_POLL_INTERVAL_MS: '50' });
      r = await new TestReceiver().start();
    });
    after(async () => {
      await t?.close();
      await r?.stop();
      await db?.drop();
    });

    it('refuses a denied literal address at save, and a host name resolving into a denied network at connect time', async () => {
      const admin = bearer(t.adminKey);
      const literal = await t.http.post('/api/v1/handlers').set(admin).send({ name: 'x', event: 'dids.create', type: 'http', task: r.task() });
      assert.equal(literal.status, 400);
      assert.equal(literal.body.code, 'TARGET_FORBIDDEN');

      const named = await t.http
        .post('/api/v1/handlers')
        .set(admin)
        .send({ name: 'by name', event: 'dids.create', type: 'http', task: `localhost:${r.port}/hook`, retry_limit: 0 });
      assert.equal(named.status, 201, JSON.stringify(named.body));
      const accepted = await t.http.post('/api/v1/events').set(admin).send({ event: 'dids.create', object_id: 1 }).expect(202);
      const log = await eventually(async () => {
        const logs = (await t.http.get(`/api/v1/execution-logs?event_id=${accepted.body.id}`).set(admin)).body;
        return logs.total > 0 ? logs.items[0] : undefined;
      });
      assert.equal(log.status, 'fail');
      assert.match(log.error, /may not call/);
      assert.equal(r.requests.length, 0, 'the receiver must never be reached');
    });
  });
}
