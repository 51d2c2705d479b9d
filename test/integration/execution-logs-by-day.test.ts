import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DataSource } from 'typeorm';
import { databaseKinds, TestDatabase } from '../utils/databases.js';
import { justBefore } from '../utils/one-migration.js';
import { ExecutionLogsByDay1765500000000 } from '../../src/database/migrations/1765500000000-execution-logs-by-day.js';
import { dayPartitionName } from '../../src/retention/log-partitions.js';
import { DAY_MS } from '../../src/execution-logs/execution-log-partitions.js';

const kinds = await databaseKinds();

/**
 * The upgrade that partitions execution_logs by day (MySQL/MariaDB): the rows already there
 * are kept, older ones in p_history and today's in today's partition; the id goes on counting;
 * rolling it back leaves the table as it was. SQLite keeps its table as it is.
 */
for (const kind of kinds) {
  describe(`execution logs partitioned by day on upgrade [${kind.name}]`, { skip: kind.skip }, () => {
    let db: TestDatabase;
    let dataSource: DataSource;
    const now = Date.now();
    const today = Math.floor(now / DAY_MS) * DAY_MS;
    const insert = (createdAt: number) =>
      dataSource.query(
        `INSERT INTO execution_logs (delivery_id, event_id, events_id, handler_id, handler_name, object_id, stage, attempt, trigger_type, status,
           request_payload, response_code, response_body, error, duration_ms, created_at)
         VALUES (NULL, NULL, 'clients.update', 1, 'h', 1, 'after', 1, 'auto', 'success', '{}', 200, NULL, NULL, 1, ?)`,
        [createdAt],
      );
    const partitionOf = async (id: number): Promise<string | null> => {
      if (kind.name === 'sqlite') return null;
      const [row] = await dataSource.query('SELECT created_at FROM execution_logs WHERE id = ?', [id]);
      const [part] = await dataSource.query(
        `SELECT PARTITION_NAME AS name FROM information_schema.PARTITIONS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'execution_logs'
           AND (PARTITION_DESCRIPTION = 'MAXVALUE' OR CAST(PARTITION_DESCRIPTION AS DECIMAL(20)) > ?) ORDER BY PARTITION_ORDINAL_POSITION LIMIT 1`,
        [Number(row.created_at)],
      );
      return String(part.name);
    };

    before(async () => {
      db = await kind.create();
      dataSource = await justBefore(db.url, ExecutionLogsByDay1765500000000);
    });
    after(async () => {
      await dataSource?.destroy();
      await db?.drop();
    });

    it('keeps every row, puts the older ones in p_history and today in its own partition, and rolls back', async () => {
      await insert(now - 40 * DAY_MS);
      await insert(now - DAY_MS);
      await insert(now);
      assert.equal((await dataSource.runMigrations({ transaction: 'each' })).length, 1);
      const rows = await dataSource.query('SELECT id, created_at FROM execution_logs ORDER BY id');
      assert.deepEqual(rows.map((row: { created_at: unknown }) => Number(row.created_at)), [now - 40 * DAY_MS, now - DAY_MS, now]);
      const [, , newest] = await dataSource.query('SELECT id FROM execution_logs ORDER BY id');
      await insert(now + 1);
      const [added] = await dataSource.query('SELECT MAX(id) AS id FROM execution_logs');
      assert.ok(Number(added.id) > Number(newest.id), 'ids go on from where they were');
      if (kind.name === 'mysql') {
        assert.equal(await partitionOf(Number(rows[0].id)), 'p_history');
        assert.equal(await partitionOf(Number(rows[1].id)), 'p_history');
        assert.equal(await partitionOf(Number(rows[2].id)), dayPartitionName(today));
        const [key] = await dataSource.query(
          "SELECT GROUP_CONCAT(COLUMN_NAME ORDER BY SEQ_IN_INDEX) AS columns FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'execution_logs' AND INDEX_NAME = 'PRIMARY'",
        );
        assert.equal(key.columns, 'id,created_at');
      }
      await dataSource.undoLastMigration({ transaction: 'each' });
      assert.equal(Number((await dataSource.query('SELECT COUNT(*) AS n FROM execution_logs'))[0].n), 4, 'no row lost by the roll back');
      if (kind.name === 'mysql') {
        const partitions = await dataSource.query(
          "SELECT COUNT(*) AS n FROM information_schema.PARTITIONS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'execution_logs' AND PARTITION_NAME IS NOT NULL",
        );
        assert.equal(Number(partitions[0].n), 0, 'no partitions after the roll back');
      }
    });
  });
}
