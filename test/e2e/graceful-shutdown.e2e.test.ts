import { it } from 'node:test';
import assert from 'node:assert/strict';
import { forEachDatabase } from '../utils/suite.js';
import { queryDatabase } from '../utils/databases.js';
import { createHandler } from '../factories/handler.factory.js';
import { postEvent, waitUntilSettled } from '../factories/event.factory.js';
import { bearer } from '../utils/test-app.js';

// Each case closes its app and reads the whole queue: a fresh database and app per case (t.restart).
forEachDatabase('graceful shutdown', { start: false }, (t) => {
  it('stops claiming, waits SHUTDOWN_GRACE_MS for calls in flight, hands the rest back; the next instance delivers them', async () => {
    let answering = false;
    const r = await t.receiver(() => (answering ? { status: 200 } : { hang: true }));
    const first = await t.restart({ SHUTDOWN_GRACE_MS: '300', DISPATCH_POLL_INTERVAL_MS: '50' });
    const admin = bearer(first.adminKey);
    await createHandler(first, { name: 'slow', event: 'dids.stock', task: r.task() });
    const accepted = await postEvent(first, { event: 'dids.stock', object_id: 7 });
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
    const [row] = await queryDatabase(t.db, 'SELECT status, lease_owner, attempts FROM deliveries WHERE event_id = ?', [accepted.id]);
    // ...but the call was made, so it has its log row: as many rows as calls the receiver saw.
    const logged = await queryDatabase(t.db, 'SELECT status, error FROM execution_logs WHERE event_id = ?', [accepted.id]);
    assert.equal(logged.length, r.requests.length, 'one log row per call the receiver saw');
    assert.equal(logged[0].status, 'fail');
    assert.match(String(logged[0].error), /abandoned at shutdown/);
    assert.deepEqual({ status: row.status, lease_owner: row.lease_owner, attempts: Number(row.attempts) }, { status: 'pending', lease_owner: null, attempts: 0 });

    answering = true;
    const second = await t.startAnother({ DISPATCH_POLL_INTERVAL_MS: '50' });
    const state = await waitUntilSettled(second, accepted.id, { headers: admin, timeoutMs: 10_000 });
    assert.equal(state.deliveries[0].status, 'succeeded');
    assert.equal(state.deliveries[0].attempts, 1);
    assert.ok(r.requests.length >= 2, 'the call was made again by the next instance');
    const logs = (await second.http.get(`/api/v1/execution-logs?event_id=${accepted.id}`).set(admin)).body;
    assert.equal(logs.items.length, r.requests.length, 'every call, the abandoned one included, is in the execution log');
    assert.deepEqual(logs.items.map((l: { status: string }) => l.status).sort(), ['fail', 'success']);
  });

  it('logs every call in flight at shutdown as abandoned: as many log rows as calls the receiver saw', async () => {
    const r = await t.receiver(() => ({ delayMs: 5000, status: 200 }));
    const app = await t.restart({ SHUTDOWN_GRACE_MS: '200', DISPATCH_POLL_INTERVAL_MS: '50' });
    for (const name of ['crm', 'switch']) await createHandler(app, { name, event: 'clients.create', task: r.task(`/${name}`) });
    // Different objects, so their first calls run at the same time.
    for (const objectId of [21, 22, 23]) await postEvent(app, { event: 'clients.create', object_id: objectId });
    await r.waitFor(3);
    await app.close();

    const logs = await queryDatabase(t.db, 'SELECT status, error, delivery_id FROM execution_logs');
    const deliveries = await queryDatabase(t.db, "SELECT id, status, attempts, lease_owner FROM deliveries WHERE attempts = 0 AND status = 'pending' AND lease_owner IS NULL");
    assert.ok(r.requests.length >= 3);
    assert.equal(logs.length, r.requests.length, `${logs.length} log rows for ${r.requests.length} calls`);
    for (const log of logs) {
      assert.equal(log.status, 'fail');
      assert.match(String(log.error), /abandoned at shutdown/);
    }
    // Every delivery (2 handlers x 3 events) is back in the queue, whether its call started or not.
    assert.equal(deliveries.length, 6);
  });
});
