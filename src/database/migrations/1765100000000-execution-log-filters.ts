import { MigrationInterface, QueryRunner, TableIndex } from 'typeorm';

/** Rows updated per statement when filling `error_kind` in, so no statement holds locks on a large table for long. */
const BATCH = 50_000;

/**
 * The execution logs' exact filters and smaller rows (src/execution-logs/execution-logs.service.ts):
 * - `error_kind`, the normalised kind of a failure (src/calls/call-result.ts, ERROR_KINDS),
 *   filled in for the rows already there from their error text;
 * - the index of outcomes `(status, error_kind)` in place of `(status, id)`: one status is the
 *   ranges of its kinds merged, one kind a single range (src/execution-logs/log-search.ts);
 * - an index `(object_id)` for the object filter;
 * - `request_payload` stays NOT NULL (changing that would rebuild the table): from now on a
 *   delivery's row keeps '' there, since its payload is its event's envelope, and a `before`
 *   call that sent what the previous call of its chain sent keeps '=<id of that row>'
 *   (src/execution-logs/execution-log.ts). Rows written before keep their copy.
 * Adding a nullable column changes no existing row on either database; the indexes are built
 * online on MySQL/MariaDB, and on SQLite while the migration holds the write lock.
 */
export class ExecutionLogFilters1765100000000 implements MigrationInterface {
  name = 'ExecutionLogFilters1765100000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE execution_logs ADD COLUMN error_kind VARCHAR(20) NULL');
    // Batches of ids from the lowest on, each starting at the next id there is (the ids of a
    // table partitioned by day ranges of ids, then rolled back, have gaps of billions).
    for (let [next] = await queryRunner.query('SELECT MIN(id) AS id FROM execution_logs'); next?.id !== null && next?.id !== undefined; ) {
      const from = Number(next.id);
      await queryRunner.query(`UPDATE execution_logs SET error_kind = ${KIND_OF_OLD_ROW} WHERE id >= ? AND id < ? AND status <> 'success'`, [from, from + BATCH]);
      [next] = await queryRunner.query('SELECT MIN(id) AS id FROM execution_logs WHERE id >= ?', [from + BATCH]);
    }
    // Both engines end every index entry with the row's id (InnoDB its primary key, SQLite the
    // rowid), so within one value an index is in id order without naming `id`, which SQLite
    // would then store twice.
    await queryRunner.createIndex('execution_logs', new TableIndex({ name: 'idx_logs_outcome', columnNames: ['status', 'error_kind'] }));
    await queryRunner.dropIndex('execution_logs', 'idx_logs_status');
    await queryRunner.createIndex('execution_logs', new TableIndex({ name: 'idx_logs_object', columnNames: ['object_id'] }));
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const sqlite = queryRunner.connection.options.type === 'better-sqlite3';
    // Payloads kept by reference get their text back where it can still be found.
    if (sqlite) {
      await queryRunner.query(
        `UPDATE execution_logs SET request_payload = (SELECT '{"event":{"dt":"' || e.dt || '","events_id":"' || e.events_id || '","object_id":' || e.object_id || '},"data":' || e.data || '}'
           FROM events e WHERE e.id = execution_logs.event_id)
         WHERE request_payload = '' AND EXISTS (SELECT 1 FROM events e WHERE e.id = execution_logs.event_id)`,
      );
      await queryRunner.query(
        `UPDATE execution_logs SET request_payload = (SELECT s.request_payload FROM execution_logs s WHERE s.id = CAST(substr(execution_logs.request_payload, 2) AS INTEGER))
         WHERE request_payload LIKE '=%' AND EXISTS (SELECT 1 FROM execution_logs s WHERE s.id = CAST(substr(execution_logs.request_payload, 2) AS INTEGER))`,
      );
    } else {
      await queryRunner.query(
        `UPDATE execution_logs l JOIN events e ON e.id = l.event_id
         SET l.request_payload = CONCAT('{"event":{"dt":"', e.dt, '","events_id":"', e.events_id, '","object_id":', e.object_id, '},"data":', e.data, '}')
         WHERE l.request_payload = ''`,
      );
      await queryRunner.query(
        `UPDATE execution_logs l JOIN execution_logs s ON s.id = CAST(SUBSTRING(l.request_payload, 2) AS UNSIGNED)
         SET l.request_payload = s.request_payload WHERE l.request_payload LIKE '=%'`,
      );
    }
    await queryRunner.dropIndex('execution_logs', 'idx_logs_object');
    await queryRunner.createIndex('execution_logs', new TableIndex({ name: 'idx_logs_status', columnNames: ['status', 'id'] }));
    await queryRunner.dropIndex('execution_logs', 'idx_logs_outcome');
    await queryRunner.query('ALTER TABLE execution_logs DROP COLUMN error_kind');
  }
}

/** The kind of a failed row written before error kinds existed, read from the error texts the service wrote then (src/calls/call-result.ts). */
const KIND_OF_OLD_ROW = `CASE
  WHEN status = 'skipped' THEN 'skipped'
  WHEN error LIKE 'timeout after %' OR error LIKE 'cut by the decision budget%' OR error LIKE 'the decision budget was spent%' THEN 'timeout'
  WHEN error LIKE 'abandoned%' THEN 'abandoned'
  WHEN error = 'connection refused' THEN 'connection_refused'
  WHEN error LIKE 'host name %' THEN 'dns'
  WHEN error LIKE 'TLS certificate %' THEN 'tls'
  WHEN error LIKE 'receiver answered 4%' THEN 'http_4xx'
  WHEN error LIKE 'receiver answered 5%' THEN 'http_5xx'
  WHEN error LIKE 'redirect (%' THEN 'redirect'
  WHEN error LIKE 'exit code %' OR error LIKE 'killed by %' OR error LIKE 'could not start the script%' OR error LIKE 'the script ended %' OR error LIKE 'SCRIPT!_NOT!_FOUND%' ESCAPE '!' THEN 'script_exit'
  WHEN error LIKE '%may not be called:%' OR error LIKE '%which handlers may not call%' OR error LIKE 'script handlers are disabled%' OR error LIKE 'SCRIPT!_PATH!_OUTSIDE%' ESCAPE '!' THEN 'policy_refused'
  WHEN error LIKE 'answered data of the wrong shape%' OR error LIKE 'answered "data" %' THEN 'bad_answer'
  WHEN error LIKE 'connection reset %' OR error = 'host unreachable' OR error = 'network unreachable' THEN 'network'
  ELSE 'other'
END`;
