import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DataSource } from 'typeorm';
import { databaseKinds, TestDatabase } from '../utils/databases.js';
import { justBefore } from '../utils/one-migration.js';
import { ExecutionLogsById1766100000000 } from '../../src/database/migrations/1766100000000-execution-logs-by-id.js';
import { DAY_MS, firstIdOfDay } from '../../src/execution-logs/execution-log-partitions.js';
import { dayPartitionName } from '../../src/retention/log-partitions.js';

const kinds = await databaseKinds();

/**
 * The upgrade that partitions execution_logs by day ranges of ids (MySQL/MariaDB): the rows
 * already there keep their ids and go to p_history; the next ids are today's, in today's
 * partition; the primary key is `id` alone and the row's words are ENUMs; rolling it back
 * leaves the table partitioned by created_at as before, every row kept. SQLite keeps its table.
 */
for (const kind of kinds) {
  describe(`execution logs partitioned by day ranges of ids on upgrade [${kind.name}]`, { skip: kind.skip }, () => {
    let db: TestDatabase;
    let dataSource: DataSource;
    const now = Date.now();
    const insert = (createdAt: number, status = 'success') =>
      dataSource.query(
        `INSERT INTO execution_logs (delivery_id, event_id, events_id, handler_id, handler_name, object_id, stage, attempt, trigger_type, status,
           request_payload, response_code, response_body, error, duration_ms, created_at, error_kind)
         VALUES (NULL, NULL, 'clients.update', 1, 'h', 1, 'after', 1, 'manual', ?, '{}', 200, NULL, NULL, 1, ?, NULL)`,
        [status, createdAt],
      );
    const partitionOf = async (id: number): Promise<string> => {
      const [part] = await dataSource.query(
        `SELECT PARTITION_NAME AS name FROM information_schema.PARTITIONS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'execution_logs'
           AND (PARTITION_DESCRIPTION = 'MAXVALUE' OR CAST(PARTITION_DESCRIPTION AS DECIMAL(20)) > ?) ORDER BY PARTITION_ORDINAL_POSITION LIMIT 1`,
        [id],
      );
      return String(part.name);
    };
    const primaryKey = async (): Promise<string> => {
      const [key] = await dataSource.query(
        "SELECT GROUP_CONCAT(COLUMN_NAME ORDER BY SEQ_IN_INDEX) AS columns FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'execution_logs' AND INDEX_NAME = 'PRIMARY'",
      );
      return String(key.columns);
    };

    before(async () => {
      db = await kind.create();
      dataSource = await justBefore(db.url, ExecutionLogsById1766100000000);
    });
    after(async () => {
      await dataSource?.destroy();
      await db?.drop();
    });

    it("keeps every row in p_history, gives the next rows today's ids in today's partition, stores the words in a byte, and rolls back", async () => {
      await insert(now - 40 * DAY_MS);
      await insert(now - DAY_MS, 'fail');
      await insert(now);
      const before = await dataSource.query('SELECT id, created_at, status FROM execution_logs ORDER BY id');
      assert.equal((await dataSource.runMigrations({ transaction: 'each' })).length, 1);
      const rows = await dataSource.query('SELECT id, created_at, status, stage, trigger_type FROM execution_logs ORDER BY id');
      assert.deepEqual(
        rows.map((row: Record<string, unknown>) => [Number(row.id), Number(row.created_at), row.status]),
        before.map((row: Record<string, unknown>) => [Number(row.id), Number(row.created_at), row.status]),
        'every row, its id, date and words kept',
      );
      assert.deepEqual([rows[0].stage, rows[0].trigger_type], ['after', 'manual']);
      await insert(now + 1, 'skipped');
      const [added] = await dataSource.query('SELECT MAX(id) AS id FROM execution_logs');
      if (kind.name === 'sqlite') {
        assert.equal(Number(added.id), Number(rows[2].id) + 1, 'SQLite: ids go on from where they were');
        return;
      }
      assert.equal(Number(added.id), firstIdOfDay(now), "the next row has today's first id");
      for (const row of rows) assert.equal(await partitionOf(Number(row.id)), 'p_history');
      assert.equal(await partitionOf(Number(added.id)), dayPartitionName(Math.floor(now / DAY_MS) * DAY_MS));
      assert.equal(await primaryKey(), 'id');
      const types = await dataSource.query(
        "SELECT COLUMN_NAME AS name, COLUMN_TYPE AS type FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'execution_logs' AND COLUMN_NAME IN ('stage', 'trigger_type', 'status') ORDER BY COLUMN_NAME",
      );
      assert.deepEqual(
        types.map((row: { name: string; type: string }) => `${row.name} ${row.type}`),
        ["stage enum('after','before')", "status enum('success','fail','skipped')", "trigger_type enum('auto','manual','test')"],
      );
      await assert.rejects(insert(now + 2, 'unknown'), 'a word not in the list is refused, not stored as another');
      assert.equal(Number((await dataSource.query("SELECT COUNT(*) AS n FROM execution_logs WHERE status = 'fail'"))[0].n), 1, 'compared with its word as before');

      await dataSource.undoLastMigration({ transaction: 'each' });
      assert.equal(Number((await dataSource.query('SELECT COUNT(*) AS n FROM execution_logs'))[0].n), 4, 'no row lost by the roll back');
      assert.equal(await primaryKey(), 'id,created_at');
      const [status] = await dataSource.query("SELECT COLUMN_TYPE AS type FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'execution_logs' AND COLUMN_NAME = 'status'");
      assert.equal(status.type, 'varchar(8)');
    });
  });
}
