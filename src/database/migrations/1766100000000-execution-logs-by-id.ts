import { MigrationInterface, QueryRunner } from 'typeorm';

const DAY_MS = 86_400_000;
/** The ids of a UTC day start at its number (days since 1970-01-01) times this: src/execution-logs/log-ids.ts. */
const IDS_PER_DAY = 10_000_000_000;
/** Days after today that get a partition now; the service keeps a week ahead from then on (src/retention/log-partitions.ts). */
const AHEAD_DAYS = 7;

/** The values of the log row's words (src/execution-logs/execution-log.ts LogStage, LogTrigger, LogStatus): one byte each as an ENUM. */
const STAGES = "ENUM('after', 'before')";
const TRIGGERS = "ENUM('auto', 'manual', 'test')";
const STATUSES = "ENUM('success', 'fail', 'skipped')";

/** `p20261130`, the partition of the ids of the UTC day `day` (days since 1970-01-01): the naming src/retention/log-partitions.ts reads. */
function dayPartition(day: number): string {
  const name = new Date(day * DAY_MS).toISOString().slice(0, 10).replaceAll('-', '');
  return `PARTITION p${name} VALUES LESS THAN (${(day + 1) * IDS_PER_DAY})`;
}

/**
 * MySQL/MariaDB: `execution_logs` partitioned by ranges of `id`, one per UTC day, instead of by
 * `created_at`; the primary key is `id` alone again.
 *
 * A table partitioned by `created_at` needs it in its primary key, and InnoDB puts the primary
 * key in every entry of every secondary index: 8 bytes more in each of the five filter indexes
 * of every log row. Partitioned by `id`, each day still has a partition of its own, which
 * retention drops whole: the service sets the table's AUTO_INCREMENT to the first id of the day
 * when a UTC day begins (src/execution-logs/execution-log-partitions.ts `startDay`), so a day's
 * rows get ids from `day × 10,000,000,000` on, and the day's partition holds that range. Ids
 * stay in the order rows are written, which the search by date relies on
 * (src/database/ids-by-time.ts).
 *
 * In the same copy, the row's stage, trigger and status become ENUMs: one byte each instead of
 * a VARCHAR of up to eight (in the row, and the status in every entry of `idx_logs_outcome`).
 * They are compared with their words as before; a word not in the list is refused (strict
 * mode), so a new one needs a migration (appending to an ENUM changes no row). error_kind stays
 * a VARCHAR: failures are few, and its list grows with the kinds of failure calls learn.
 *
 * Rows written before this migration keep their ids and go to `p_history`, which retention
 * empties in batches until all of it has expired (a table rolled back and upgraded again keeps
 * rows with the ids of days, which go to their days' partitions, or to `p_history` for days
 * before today; InnoDB never sets AUTO_INCREMENT below the highest id); today and the next seven days get a
 * partition each, and `p_future` (MAXVALUE) takes anything later, so no insert can fail for
 * want of a partition. The conversion copies the table once (one ALTER), writes to it wait
 * meanwhile; migrations run before the service starts. SQLite keeps its table.
 */
export class ExecutionLogsById1766100000000 implements MigrationInterface {
  name = 'ExecutionLogsById1766100000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    if (queryRunner.connection.options.type === 'better-sqlite3') return;
    const today = Math.floor(Date.now() / DAY_MS);
    const days = Array.from({ length: AHEAD_DAYS + 1 }, (_, i) => dayPartition(today + i));
    await queryRunner.query(
      `ALTER TABLE execution_logs
         MODIFY stage ${STAGES} NOT NULL, MODIFY trigger_type ${TRIGGERS} NOT NULL, MODIFY status ${STATUSES} NOT NULL,
         DROP PRIMARY KEY, ADD PRIMARY KEY (id), AUTO_INCREMENT = ${today * IDS_PER_DAY}
         PARTITION BY RANGE (id) (
           PARTITION p_history VALUES LESS THAN (${today * IDS_PER_DAY}),
           ${days.join(',\n           ')},
           PARTITION p_future VALUES LESS THAN MAXVALUE)`,
    );
  }

  /** Back to day partitions on created_at (1765500000000-execution-logs-by-day.ts); the ids stay. */
  async down(queryRunner: QueryRunner): Promise<void> {
    if (queryRunner.connection.options.type === 'better-sqlite3') return;
    const today = Math.floor(Date.now() / DAY_MS) * DAY_MS;
    const days = Array.from({ length: AHEAD_DAYS + 1 }, (_, i) => {
      const start = today + i * DAY_MS;
      return `PARTITION p${new Date(start).toISOString().slice(0, 10).replaceAll('-', '')} VALUES LESS THAN (${start + DAY_MS})`;
    });
    await queryRunner.query(
      `ALTER TABLE execution_logs
         MODIFY stage VARCHAR(8) NOT NULL, MODIFY trigger_type VARCHAR(8) NOT NULL, MODIFY status VARCHAR(8) NOT NULL,
         DROP PRIMARY KEY, ADD PRIMARY KEY (id, created_at)
         PARTITION BY RANGE (created_at) (
           PARTITION p_history VALUES LESS THAN (${today}),
           ${days.join(',\n           ')},
           PARTITION p_future VALUES LESS THAN MAXVALUE)`,
    );
  }
}
