import { MigrationInterface, QueryRunner } from 'typeorm';

const DAY_MS = 86_400_000;
/** Days after today that get a partition now; the service keeps a week ahead from then on (src/retention/log-partitions.ts). */
const AHEAD_DAYS = 7;

/** `p20261130` for the UTC day that starts at `dayStart`: the naming src/retention/log-partitions.ts reads. */
function dayPartition(dayStart: number): string {
  return `PARTITION p${new Date(dayStart).toISOString().slice(0, 10).replaceAll('-', '')} VALUES LESS THAN (${dayStart + DAY_MS})`;
}

/**
 * MySQL/MariaDB: `execution_logs` partitioned by day on `created_at` (RANGE over the epoch
 * milliseconds), so that retention drops a whole day with `ALTER TABLE … DROP PARTITION`
 * instead of deleting rows one by one (src/retention/retention.service.ts).
 *
 * Every unique key of a partitioned table must hold the partition column, so the primary key
 * becomes (id, created_at); id stays AUTO_INCREMENT, the first column of the key, and unique
 * because the server assigns it. Rows written before this migration go to `p_history` (anything
 * older than today), which retention empties in batches until its whole range has expired;
 * today and the next seven days get a partition each, and `p_future` (MAXVALUE) takes anything
 * later, so no insert can fail for want of a partition. Secondary indexes are kept (each
 * partition has its own); a partitioned InnoDB table can have no FULLTEXT index and no foreign
 * key to or from it.
 *
 * The conversion copies the table once, writes to it wait meanwhile; migrations run before the
 * service starts. SQLite keeps its table: it has no partitions, retention deletes in batches there.
 */
export class ExecutionLogsByDay1765500000000 implements MigrationInterface {
  name = 'ExecutionLogsByDay1765500000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    if (queryRunner.connection.options.type === 'better-sqlite3') return;
    const today = Math.floor(Date.now() / DAY_MS) * DAY_MS;
    const days = Array.from({ length: AHEAD_DAYS + 1 }, (_, i) => dayPartition(today + i * DAY_MS));
    await queryRunner.query(
      `ALTER TABLE execution_logs DROP PRIMARY KEY, ADD PRIMARY KEY (id, created_at)
         PARTITION BY RANGE (created_at) (
           PARTITION p_history VALUES LESS THAN (${today}),
           ${days.join(',\n           ')},
           PARTITION p_future VALUES LESS THAN MAXVALUE)`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    if (queryRunner.connection.options.type === 'better-sqlite3') return;
    await queryRunner.query('ALTER TABLE execution_logs REMOVE PARTITIONING');
    await queryRunner.query('ALTER TABLE execution_logs DROP PRIMARY KEY, ADD PRIMARY KEY (id)');
  }
}
