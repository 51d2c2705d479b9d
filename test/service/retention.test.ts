import { before, it } from 'node:test';
import assert from 'node:assert/strict';
import { setImmediate as yieldToOthers } from 'node:timers/promises';
import { DataSource } from 'typeorm';
import { DirectSql } from '../../src/database/direct-sql.js';
import { IngestService } from '../../src/events/ingest.service.js';
import { EventStore } from '../../src/events/event-store.js';
import { ExecutionLogsService } from '../../src/execution-logs/execution-logs.service.js';
import { HandlersService } from '../../src/handlers/handlers.service.js';
import { RetentionService } from '../../src/retention/retention.service.js';
import { dayPartitionName, PARTITION_DAYS_AHEAD } from '../../src/retention/log-partitions.js';
import { firstIdOfDay } from '../../src/execution-logs/execution-log-partitions.js';
import type { Principal } from '../../src/api-keys/auth.decorators.js';
import { handlerBody } from '../factories/handler.factory.js';
import { eventBody } from '../factories/event.factory.js';
import { logRecord } from '../factories/execution-log.factory.js';
import { forEachDatabaseModule } from '../utils/service-suite.js';

/**
 * Retention without HTTP, on each database: one batch-delete loop over the owners' purge steps
 * (EventStore with the queue's purge finished, ExecutionLogsService); on MySQL/MariaDB the
 * execution logs go a whole day partition (a day's range of ids) at a time.
 */
const admin: Principal = { keyId: 0, name: 'service tier', scopes: new Set(['admin']) };
const DAY = 86_400_000;

// Batches of 1,000 rows (250 events): the tests below pass more than a batch.
forEachDatabaseModule('retention', { RETENTION_BATCH_SIZE: '1000' }, (s) => {
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
    // MySQL/MariaDB: rows written before the table was partitioned by id (in p_history, which a
    // row younger than the cutoff keeps from being dropped whole) go in batches too.
    if (s.get(DirectSql).mysql) await sql('ALTER TABLE execution_logs AUTO_INCREMENT = 1');
    await logs.insert(Array.from({ length: 1001 }, () => logRecord({ createdAt: old })));
    const kept = await logs.insert([logRecord({ createdAt: now })]);
    assert.equal(await s.get(RetentionService).removeExpiredLogs(), 1001);
    assert.equal(await count('SELECT COUNT(*) AS n FROM execution_logs'), 1);
    assert.equal((await logs.get(kept)).createdAt, now);
  });
});

forEachDatabaseModule('retention while events come in', { RETENTION_BATCH_SIZE: '100', RETENTION_PAUSE_MS: '2' }, (s) => {
  const sql = (text: string, params: unknown[] = []) => s.get(DataSource).query(text, params);
  const count = async (text: string, params: unknown[] = []) => Number((await sql(text, params))[0].n);
  /** The partitions of execution_logs as the server lists them (MySQL/MariaDB). */
  const partitions = async (): Promise<{ name: string; bound: number | null }[]> =>
    (
      await sql(
        "SELECT PARTITION_NAME AS name, PARTITION_DESCRIPTION AS bound FROM information_schema.PARTITIONS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'execution_logs' ORDER BY PARTITION_ORDINAL_POSITION",
      )
    ).map((row: { name: string; bound: string }) => ({ name: row.name, bound: row.bound === 'MAXVALUE' ? null : Number(row.bound) }));

  before(async () => {
    await s.get(HandlersService).create(handlerBody({ name: 'target', event: 'clients.update', task: '127.0.0.1:9/x' }) as never, admin);
  });

  it('drops whole expired days on MySQL/MariaDB and prepares the coming week, deletes in batches on SQLite; ingest goes on meanwhile and loses nothing', async () => {
    const mysql = s.get(DirectSql).mysql;
    const now = Date.now();
    const today = Math.floor(now / DAY) * DAY;
    const retentionDays = s.config.logs.retentionDays;
    const cutoff = now - retentionDays * DAY;
    /** MySQL/MariaDB: the ids of the day that holds `at` start now, as a running service starts each day's (ExecutionLogPartitions.startDay). */
    const startIdsOf = async (at: number) => {
      if (mysql) await sql(`ALTER TABLE execution_logs AUTO_INCREMENT = ${firstIdOfDay(at)}`);
    };
    if (mysql) {
      // The table as it is after 40 days of running, one partition per day's ids, except that
      // the coming week has not been prepared.
      const day = (start: number) => `PARTITION ${dayPartitionName(start)} VALUES LESS THAN (${firstIdOfDay(start + DAY)})`;
      const past = Array.from({ length: 40 }, (_, i) => day(today - (40 - i) * DAY));
      await sql(`ALTER TABLE execution_logs REORGANIZE PARTITION p_history INTO (PARTITION p_history VALUES LESS THAN (${firstIdOfDay(today - 40 * DAY)}), ${past.join(', ')})`);
      const ahead = (await partitions()).filter((partition) => partition.bound === null || partition.bound > firstIdOfDay(today + DAY)).map((partition) => partition.name);
      await sql(`ALTER TABLE execution_logs REORGANIZE PARTITION ${ahead.join(', ')} INTO (PARTITION p_future VALUES LESS THAN MAXVALUE)`);
      assert.deepEqual((await partitions()).slice(-2).map((partition) => partition.name), [dayPartitionName(today), 'p_future']);
    }

    // Expired: 500 log rows on each of three days older than the retention period, and 1,000
    // finished events with their deliveries. Kept: a row of the day that holds the cutoff
    // (younger than the cutoff), one of yesterday, and an old event still being delivered.
    // Each written in its day, with the ids of its day.
    const logs = s.get(ExecutionLogsService);
    for (const daysAgo of [retentionDays + 8, retentionDays + 3, retentionDays + 1]) {
      await startIdsOf(today - daysAgo * DAY);
      await logs.insert(Array.from({ length: 500 }, (_, i) => logRecord({ createdAt: today - daysAgo * DAY + i * 60_000 })));
    }
    await startIdsOf(cutoff);
    const keptLogs = [await logs.insert([logRecord({ createdAt: cutoff + 60_000 })])];
    await startIdsOf(now - DAY);
    keptLogs.push(await logs.insert([logRecord({ createdAt: now - DAY })]));
    await startIdsOf(now);
    const ingest = s.get(IngestService);
    const oldEvents: number[] = [];
    for (let start = 0; start < 1000; start += 250) {
      const batch = await ingest.acceptBatch(Array.from({ length: 250 }, (_, i) => eventBody({ object_id: 20_000 + start + i })), null);
      oldEvents.push(...batch.items.map((item) => item.event!.id));
    }
    const unfinished = (await ingest.accept(eventBody({ object_id: 30_000 }), undefined, null)).id;
    await sql('UPDATE events SET accepted_at = ? WHERE id >= ? AND id <= ?', [cutoff - DAY, oldEvents[0], unfinished]);
    await sql("UPDATE deliveries SET status = 'succeeded', holds_order = 0 WHERE event_id >= ? AND event_id <= ?", [oldEvents[0], oldEvents[oldEvents.length - 1]]);

    // Events keep coming, each followed by a log row as a worker would write it, until retention has finished.
    const accepted: number[] = [];
    const written: number[] = [];
    let running = true;
    const meanwhile = (async () => {
      for (let i = 0; running; i++) {
        accepted.push((await ingest.accept(eventBody({ object_id: 40_000 + i }), undefined, null)).id);
        written.push(await logs.insert([logRecord()]));
        await yieldToOthers();
      }
    })();
    await s.get(RetentionService).removeExpired(now);
    const duringRun = accepted.length;
    running = false;
    await meanwhile;

    assert.ok(duringRun > 0, 'events were accepted while retention ran');
    assert.equal(await count(`SELECT COUNT(*) AS n FROM events WHERE id IN (${accepted.join(', ')})`), accepted.length, 'every event accepted meanwhile is there');
    assert.equal(await count(`SELECT COUNT(*) AS n FROM deliveries WHERE event_id IN (${accepted.join(', ')})`), accepted.length, 'with its delivery');
    assert.equal(await count(`SELECT COUNT(*) AS n FROM execution_logs WHERE id IN (${[...written, ...keptLogs].join(', ')})`), written.length + 2, 'every log row written meanwhile, and the young ones, are there');
    assert.equal(await count('SELECT COUNT(*) AS n FROM execution_logs WHERE created_at < ?', [cutoff]), 0, 'no expired log row is left');
    assert.equal(await count('SELECT COUNT(*) AS n FROM events WHERE id >= ? AND id <= ?', [oldEvents[0], oldEvents[oldEvents.length - 1]]), 0, 'the expired events went');
    assert.equal(await count('SELECT COUNT(*) AS n FROM deliveries WHERE event_id >= ? AND event_id <= ?', [oldEvents[0], oldEvents[oldEvents.length - 1]]), 0, 'with their deliveries');
    assert.ok(await s.get(EventStore).get(unfinished), 'an old event still being delivered stays');

    if (mysql) {
      const after = await partitions();
      const names = after.map((partition) => partition.name);
      // Every day whose rows had all expired went whole, and the empty days before the
      // cutoff's; the day holding the cutoff stays.
      assert.ok(after.every((partition) => partition.bound === null || partition.bound > firstIdOfDay(cutoff)), `no partition of a day before the cutoff's: ${names.join(' ')}`);
      assert.equal(names[0], dayPartitionName(Math.floor(cutoff / DAY) * DAY), 'the oldest left holds the cutoff');
      assert.ok(!names.includes('p_history'));
      // The coming week is prepared, and nothing was written to the MAXVALUE partition.
      const week = Array.from({ length: PARTITION_DAYS_AHEAD + 1 }, (_, i) => dayPartitionName(today + i * DAY));
      assert.deepEqual(names.slice(-week.length - 1), [...week, 'p_future']);
      assert.deepEqual(after.slice(-week.length - 1, -1).map((partition) => partition.bound), week.map((_, i) => firstIdOfDay(today + (i + 1) * DAY)));
      assert.ok(written.every((id) => id >= firstIdOfDay(now)), "the rows written meanwhile have today's ids");
      assert.equal(await count('SELECT COUNT(*) AS n FROM execution_logs PARTITION (p_future)'), 0);
      assert.equal(await s.get(RetentionService).prepareLogPartitions(), 0, 'the start-up check finds the week prepared');
    }
  });
});
