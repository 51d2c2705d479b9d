import { before, it } from 'node:test';
import assert from 'node:assert/strict';
import type { TestDatabase } from '../utils/databases.js';
import { forEachDatabase } from '../utils/suite.js';
import { bearer, startApp, TestApp } from '../utils/test-app.js';
import { eventually, TestReceiver } from '../utils/receiver.js';

/** The value of one sample line of a Prometheus text page. */
function sample(page: string, name: string): number {
  const line = page.split('\n').find((l) => l.startsWith(`${name} `));
  assert.ok(line, `no sample ${name}`);
  return Number(line.slice(name.length + 1));
}

forEachDatabase('Prometheus metrics', { env: { RETRY_SCHEDULE: '100ms', DISPATCH_POLL_INTERVAL_MS: '50' } }, (t) => {
  let r: TestReceiver;

  before(async () => {
    r = await t.receiver((request) => ({ status: JSON.parse(request.body).data.name === 'bad' ? 500 : 200 }));
  });

  it('counts accepted events, deliveries by outcome and call durations; shows queue depth and cache state', async () => {
    const admin = bearer(t.adminKey);
    await t.http.post('/api/v1/handlers').set(admin).send({ name: 'm', event: 'clients.create', type: 'http', task: r.task(), retry_limit: 1 }).expect(201);
    for (const name of ['a', 'b', 'bad']) {
      await t.http.post('/api/v1/events').set(admin).send({ event: 'clients.create', object_id: 1, data: { name } }).expect(202);
    }
    const page = await eventually(async () => {
      const text = (await t.http.get('/metrics').set(admin)).text;
      return text.includes('provisioning_deliveries_total{outcome="failed"} 1') ? text : undefined;
    });
    assert.equal(sample(page, 'provisioning_events_accepted_total{event="clients.create"}'), 3);
    assert.equal(sample(page, 'provisioning_deliveries_total{outcome="succeeded"}'), 2);
    assert.equal(sample(page, 'provisioning_deliveries_total{outcome="retry"}'), 1);
    assert.equal(sample(page, 'provisioning_delivery_duration_seconds_count'), 4);
    for (const state of ['due', 'scheduled', 'in_flight']) {
      assert.equal(sample(page, `provisioning_queue_depth{state="${state}"}`), 0, state);
    }
    assert.equal(sample(page, 'provisioning_queue_depth{state="failed"}'), 1, 'the "bad" delivery ran out of retries');
    assert.equal(sample(page, 'provisioning_queue_oldest_due_age_seconds'), 0);
    assert.equal(sample(page, 'provisioning_database_up'), 1);
    assert.equal(sample(page, 'provisioning_deliveries_in_flight'), 0);
    assert.match(page, /^# TYPE provisioning_delivery_duration_seconds histogram$/m);
    assert.ok(sample(page, 'provisioning_process_resident_memory_bytes') > 0);
    assert.equal(sample(page, 'provisioning_handler_cache_handlers'), 1);
    assert.ok(sample(page, 'provisioning_handler_cache_age_seconds') < 5);
    const response = await t.http.get('/metrics').set(admin);
    assert.match(String(response.headers['content-type']), /^text\/plain; version=0\.0\.4/);
    assert.equal((await t.http.get('/metrics')).status, 401);
    assert.equal((await t.http.get('/metrics').set(bearer(await t.key('events')))).status, 403);
  });
});

/**
 * An app whose worker has stopped: the deliveries stay exactly as the test sets them, and the
 * queue holds exactly what the test puts in it.
 */
async function startIdleApp(db: TestDatabase): Promise<TestApp> {
  const t = await startApp(db);
  const { DispatcherService } = await import('../../src/dispatcher/dispatcher.service.js');
  await t.app.get(DispatcherService).beforeApplicationShutdown();
  return t;
}

forEachDatabase('event retention', { start: startIdleApp }, (t) => {
  it('removes finished events past the retention period, keeps unfinished and recent ones', async () => {
    const { RetentionService } = await import('../../src/retention/retention.service.js');
    const { DataSource } = await import('typeorm');
    const admin = bearer(t.adminKey);
    await t.http.post('/api/v1/handlers').set(admin).send({ name: 'r', event: 'dids.hold', type: 'http', task: '127.0.0.1:9/x' }).expect(201);
    const ids: number[] = [];
    for (let i = 0; i < 3; i++) {
      ids.push((await t.http.post('/api/v1/events').set(admin).send({ event: 'dids.hold', object_id: i + 1 }).expect(202)).body.id);
    }
    const dataSource = t.app.get(DataSource);
    const old = Date.now() - 40 * 86_400_000;
    // Two old events, one of them still pending; one recent finished event.
    await dataSource.query('UPDATE events SET accepted_at = ? WHERE id IN (?, ?)', [old, ids[0], ids[1]]);
    await dataSource.query("UPDATE deliveries SET status = 'succeeded' WHERE event_id IN (?, ?)", [ids[0], ids[2]]);
    const removed = await t.app.get(RetentionService).removeExpiredEvents();
    assert.equal(removed, 1);
    assert.equal((await t.http.get(`/api/v1/events/${ids[0]}`).set(admin)).status, 404);
    assert.equal((await t.http.get(`/api/v1/events/${ids[1]}`).set(admin)).status, 200);
    assert.equal((await t.http.get(`/api/v1/events/${ids[2]}`).set(admin)).status, 200);
    const [left] = await dataSource.query('SELECT COUNT(*) AS n FROM deliveries WHERE event_id = ?', [ids[0]]);
    assert.equal(Number(left.n), 0);
  });
});

forEachDatabase('queue gauges', { start: startIdleApp }, (t) => {
  it('shows due, scheduled and failed deliveries of the shared queue and the age of the oldest due one', async () => {
    const { DataSource } = await import('typeorm');
    const admin = bearer(t.adminKey);
    await t.http.post('/api/v1/handlers').set(admin).send({ name: 'q', event: 'dids.block', type: 'http', task: '127.0.0.1:9/x' }).expect(201);
    const ids: number[] = [];
    for (let i = 0; i < 4; i++) {
      ids.push((await t.http.post('/api/v1/events').set(admin).send({ event: 'dids.block', object_id: 100 + i }).expect(202)).body.id);
    }
    const dataSource = t.app.get(DataSource);
    const now = Date.now();
    await dataSource.query('UPDATE deliveries SET next_attempt_at = ? WHERE event_id = ?', [now - 90_000, ids[0]]);
    await dataSource.query('UPDATE deliveries SET next_attempt_at = ? WHERE event_id = ?', [now + 3_600_000, ids[1]]);
    await dataSource.query("UPDATE deliveries SET status = 'failed' WHERE event_id = ?", [ids[2]]);
    const page = (await t.http.get('/metrics').set(admin).expect(200)).text;
    assert.equal(sample(page, 'provisioning_queue_depth{state="due"}'), 2);
    assert.equal(sample(page, 'provisioning_queue_depth{state="scheduled"}'), 1);
    assert.equal(sample(page, 'provisioning_queue_depth{state="failed"}'), 1);
    assert.equal(sample(page, 'provisioning_queue_depth{state="in_flight"}'), 0);
    const age = sample(page, 'provisioning_queue_oldest_due_age_seconds');
    assert.ok(age >= 90 && age < 120, `oldest due age ${age}`);
    assert.equal(sample(page, 'provisioning_events_accepted_total{event="dids.block"}'), 4);
  });
});
