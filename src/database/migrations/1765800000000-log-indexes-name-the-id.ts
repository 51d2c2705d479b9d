import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * MySQL/MariaDB: the execution-log indexes that were in id order only through the primary key
 * InnoDB appends to every entry now name `id`: `(status, error_kind, id)`, `(object_id, id)`,
 * `(event_id, id)`.
 *
 * Since execution_logs is partitioned by day (1765500000000-execution-logs-by-day.ts), the
 * optimizer no longer reads a range of such an index in primary-key order across the
 * partitions: `WHERE status = 'fail' AND error_kind = 'timeout' ORDER BY id DESC LIMIT 51`
 * became a filesort of the whole range (586 ms at 10,000,000 rows, `npm run bench:scale`).
 * With `id` named, each partition's range is in id order and the partitions are merged, so a
 * page reads its own rows again (src/execution-logs/log-search.ts).
 *
 * SQLite is left as it is: its index entries end with the rowid, which it uses for the order,
 * and naming `id` there would store it twice. One ALTER rebuilds the three indexes online
 * (in place, no lock on writes).
 */
export class LogIndexesNameTheId1765800000000 implements MigrationInterface {
  name = 'LogIndexesNameTheId1765800000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    if (queryRunner.connection.options.type === 'better-sqlite3') return;
    await queryRunner.query(
      `ALTER TABLE execution_logs
         DROP INDEX idx_logs_outcome, ADD INDEX idx_logs_outcome (status, error_kind, id),
         DROP INDEX idx_logs_object, ADD INDEX idx_logs_object (object_id, id),
         DROP INDEX idx_logs_event, ADD INDEX idx_logs_event (event_id, id),
         ALGORITHM = INPLACE, LOCK = NONE`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    if (queryRunner.connection.options.type === 'better-sqlite3') return;
    await queryRunner.query(
      `ALTER TABLE execution_logs
         DROP INDEX idx_logs_outcome, ADD INDEX idx_logs_outcome (status, error_kind),
         DROP INDEX idx_logs_object, ADD INDEX idx_logs_object (object_id),
         DROP INDEX idx_logs_event, ADD INDEX idx_logs_event (event_id),
         ALGORITHM = INPLACE, LOCK = NONE`,
    );
  }
}
