import { before, it } from 'node:test';
import assert from 'node:assert/strict';
import { DataSource } from 'typeorm';
import { IngestService } from '../../src/events/ingest.service.js';
import { EventStore } from '../../src/events/event-store.js';
import { ExecutionLogsService } from '../../src/execution-logs/execution-logs.service.js';
import type { ExecutionLogRecord } from '../../src/execution-logs/execution-log.js';
import { HandlersService } from '../../src/handlers/handlers.service.js';
import { RetentionService } from '../../src/retention/retention.service.js';
import type { Principal } from '../../src/api-keys/auth.decorators.js';
import { handlerBody } from '../factories/handler.factory.js';
import { eventBody } from '../factories/event.factory.js';
import { forEachDatabaseModule } from '../utils/service-suite.js';

/**
 * Retention without HTTP, on each database: one batch-delete loop over the owners' purge steps
 * (EventStore with the queue's purge finished, ExecutionLogsService).
 */
const admin: Principal = { keyId: 0, name: 'service tier', scopes: new Set(['admin']) };
const DAY = 86_400_000;

function logRecord(createdAt: number): ExecutionLogRecord {
  return {
    deliveryId: null,
    eventId: null,
    eventType: 'clients.create',
    handlerId: 1,
    handlerName: 'old',
    objectId: 1,
    stage: 'after',
    attempt: 1,
    trigger: 'auto',
    status: 'success',
    requestPayload: '{}',
    responseCode: 200,
    responseBody: null,
    error: null,
    durationMs: 1,
    createdAt,
  };
}

forEachDatabaseModule('retention', {}, (s) => {
  const sql = (text: string, params: unknown[] = []) => s.get(DataSource).query(text, params);
  const count = async (text: string, params: unknown[] = []) => Number((await sql(text, params))[0].n);

  before(async () => {
    await s.get(HandlersService).create(handlerBody({ name: 'kept', event: 'clients.update', task: '127.0.0.1:9/x' }) as never, admin);
  });

  it('removes finished events past the retention period with their deliveries, walking past more than a batch of events still being delivered', async () => {
    const ingest = s.get(IngestService);
    const retentionDays = s.config.logs.retentionDays;
    const old = Date.now() - (retentionDays + 1) * DAY;
    // 500 old events still pending (a whole batch), then old finished ones, one without any delivery, and a recent finished one.
    const pending: number[] = [];
    for (let start = 0; start < 500; start += 250) {
      const batch = await ingest.acceptBatch(
        Array.from({ length: 250 }, (_, i) => eventBody({ object_id: 10_000 + start + i })),
        null,
      );
      pending.push(...batch.items.map((item) => item.event!.id));
    }
    const finished = [
      (await ingest.accept(eventBody({ object_id: 1 }), undefined, null)).id,
      (await ingest.accept(eventBody({ object_id: 2 }), undefined, null)).id,
      (await ingest.accept({ event: 'dids.block', object_id: 3 }, undefined, null)).id,
    ];
    const recent = (await ingest.accept(eventBody({ object_id: 4 }), undefined, null)).id;
    assert.deepEqual(await count('SELECT COUNT(*) AS n FROM deliveries WHERE event_id = ?', [finished[2]]), 0, 'no handler: no delivery');
    await sql('UPDATE events SET accepted_at = ? WHERE id <> ?', [old, recent]);
    await sql("UPDATE deliveries SET status = 'succeeded', holds_order = 0 WHERE event_id IN (?, ?, ?)", [finished[0], finished[1], recent]);

    assert.equal(await s.get(RetentionService).removeExpiredEvents(), 3);
    const events = s.get(EventStore);
    for (const id of finished) assert.equal(await events.get(id), null, `event ${id} removed`);
    assert.equal(await count(`SELECT COUNT(*) AS n FROM deliveries WHERE event_id IN (?, ?)`, finished.slice(0, 2)), 0, 'with its deliveries');
    assert.ok(await events.get(recent), 'recent events stay');
    assert.equal(await count('SELECT COUNT(*) AS n FROM events WHERE id IN (SELECT event_id FROM deliveries)'), 501, 'events still being delivered stay');
    assert.equal(await count("SELECT COUNT(*) AS n FROM deliveries WHERE status = 'pending'"), 500);
    assert.equal(await s.get(RetentionService).removeExpiredEvents(), 0, 'nothing more to remove');
  });

  it('removes execution logs written before the retention period, however many batches', async () => {
    const logs = s.get(ExecutionLogsService);
    const now = Date.now();
    const old = now - (s.config.logs.retentionDays + 1) * DAY;
    await logs.insert(Array.from({ length: 1001 }, () => logRecord(old)));
    const kept = await logs.insert([logRecord(now)]);
    assert.equal(await s.get(RetentionService).removeExpiredLogs(), 1001);
    assert.equal(await count('SELECT COUNT(*) AS n FROM execution_logs'), 1);
    assert.equal((await logs.get(kept)).createdAt, now);
  });
});
