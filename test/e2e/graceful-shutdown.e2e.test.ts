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
        await look.destroy();
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
        } finally {
          await second.close();
        }
      } finally {
        await r.stop();
        await db.drop();
      }
    });
  });
}
