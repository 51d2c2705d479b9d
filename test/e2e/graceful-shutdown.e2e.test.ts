import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DataSource } from 'typeorm';
import { databaseKinds } from '../utils/databases.js';
import { buildDataSourceOptions } from '../../src/database/data-source.js';
import { parseDatabaseUrl } from '../../src/config/app-config.js';
import { bearer, startApp } from '../utils/test-app.js';
import { eventually, TestReceiver } from '../utils/receiver.js';

const kinds = await databaseKinds();

for (const kind of kinds) {
  describe(`graceful shutdown [${kind.name}]`, { skip: kind.skip }, () => {
    it('stops claiming, waits SHUTDOWN_GRACE_MS for calls in flight, hands the rest back; the next instance delivers them', async () => {
      const db = await kind.create();
      let answering = false;
      const r = await new TestReceiver(() => (answering ? { status: 200 } : { hang: true })).start();
      try {
        const first = await startApp(db, { SHUTDOWN_GRACE_MS: '300', DISPATCH_POLL_INTERVAL_MS: '50' });
        const admin = bearer(first.adminKey);
        await first.http.post('/api/v1/handlers').set(admin).send({ name: 'slow', event: 'dids.stock', type: 'http', task: r.task() }).expect(201);
        const accepted = await first.http.post('/api/v1/events').set(admin).send({ event: 'dids.stock', object_id: 7 }).expect(202);
        await r.waitFor(1);
        const started = Date.now();
        const closing = first.close();
        // While it drains, the instance takes nothing new.
        const late = await first.http.post('/api/v1/events').set(admin).send({ event: 'dids.stock', object_id: 8 });
        assert.equal(late.status, 503);
        assert.equal(late.body.code, 'SHUTTING_DOWN');
        await closing;
        const took = Date.now() - started;
        assert.ok(took >= 250 && took < 5000, `shutdown took ${took} ms`);

        // Handed back: pending again, leased to nobody, the abandoned call not counted as an attempt.
        const look = new DataSource({ ...buildDataSourceOptions(parseDatabaseUrl(db.url)), migrationsRun: false });
        await look.initialize();
        const [row] = await look.query('SELECT status, lease_owner, attempts FROM deliveries WHERE event_id = ?', [accepted.body.id]);
        // ...but the call was made, so it has its log row: as many rows as calls the receiver saw.
        const logged = await look.query('SELECT status, error FROM execution_logs WHERE event_id = ?', [accepted.body.id]);
        await look.destroy();
        assert.equal(logged.length, r.requests.length, 'one log row per call the receiver saw');
        assert.equal(logged[0].status, 'fail');
        assert.match(String(logged[0].error), /abandoned at shutdown/);
        assert.deepEqual({ status: row.status, lease_owner: row.lease_owner, attempts: Number(row.attempts) }, { status: 'pending', lease_owner: null, attempts: 0 });

        answering = true;
        const second = await startApp(db, { BOOTSTRAP_ADMIN_KEY: first.adminKey, DISPATCH_POLL_INTERVAL_MS: '50' });
        try {
          const state = await eventually(async () => {
            const body = (await second.http.get(`/api/v1/events/${accepted.body.id}`).set(bearer(first.adminKey))).body;
            return body.deliveries[0].status === 'succeeded' ? body : undefined;
          }, 10_000, 'delivery by the next instance');
          assert.equal(state.deliveries[0].attempts, 1);
          assert.ok(r.requests.length >= 2, 'the call was made again by the next instance');
          const logs = (await second.http.get(`/api/v1/execution-logs?event_id=${accepted.body.id}`).set(bearer(first.adminKey))).body;
          assert.equal(logs.items.length, r.requests.length, 'every call, the abandoned one included, is in the execution log');
          assert.deepEqual(logs.items.map((l: { status: string }) => l.status).sort(), ['fail', 'success']);
        } finally {
          await second.close();
        }
      } finally {
        await r.stop();
        await db.drop();
      }
    });

    it('logs every call in flight at shutdown as abandoned: as many log rows as calls the receiver saw', async () => {
      const db = await kind.create();
      const r = await new TestReceiver(() => ({ delayMs: 5000, status: 200 })).start();
      try {
        const app = await startApp(db, { SHUTDOWN_GRACE_MS: '200', DISPATCH_POLL_INTERVAL_MS: '50' });
        const admin = bearer(app.adminKey);
        for (const name of ['crm', 'switch']) {
          await app.http.post('/api/v1/handlers').set(admin).send({ name, event: 'clients.create', type: 'http', task: r.task(`/${name}`) }).expect(201);
        }
        // Different objects, so their first calls run at the same time.
        const ids: number[] = [];
        for (const objectId of [21, 22, 23]) {
          ids.push((await app.http.post('/api/v1/events').set(admin).send({ event: 'clients.create', object_id: objectId }).expect(202)).body.id);
        }
        await r.waitFor(3);
        await app.close();

        const look = new DataSource({ ...buildDataSourceOptions(parseDatabaseUrl(db.url)), migrationsRun: false });
        await look.initialize();
        const logs = await look.query('SELECT status, error, delivery_id FROM execution_logs');
        const deliveries = await look.query("SELECT id, status, attempts, lease_owner FROM deliveries WHERE attempts = 0 AND status = 'pending' AND lease_owner IS NULL");
        await look.destroy();
        assert.ok(r.requests.length >= 3);
        assert.equal(logs.length, r.requests.length, `${logs.length} log rows for ${r.requests.length} calls`);
        for (const log of logs) {
          assert.equal(log.status, 'fail');
          assert.match(String(log.error), /abandoned at shutdown/);
        }
        // Every delivery (2 handlers x 3 events) is back in the queue, whether its call started or not.
        assert.equal(deliveries.length, 6);
      } finally {
        await r.stop();
        await db.drop();
      }
    });
  });
}
