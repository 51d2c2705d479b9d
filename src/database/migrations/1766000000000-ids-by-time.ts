import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The date indexes go: `idx_logs_created_at` and `idx_events_accepted_at`. Each served one kind
 * of read, where a moment falls among the rows (the logs' date range, retention's cutoffs);
 * src/database/ids-by-time.ts finds it along the primary key instead, since rows get their ids
 * in the order they are written. Every log row and every event then writes one index entry
 * fewer, and keeps none: on MySQL/MariaDB a log row's entry also carried the partitioned
 * table's primary key (id, created_at). Dropping an index changes no row.
 */
export class IdsByTime1766000000000 implements MigrationInterface {
  name = 'IdsByTime1766000000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const mysql = queryRunner.connection.options.type !== 'better-sqlite3';
    await queryRunner.query(mysql ? 'DROP INDEX idx_logs_created_at ON execution_logs' : 'DROP INDEX idx_logs_created_at');
    await queryRunner.query(mysql ? 'DROP INDEX idx_events_accepted_at ON events' : 'DROP INDEX idx_events_accepted_at');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('CREATE INDEX idx_events_accepted_at ON events (accepted_at)');
    await queryRunner.query('CREATE INDEX idx_logs_created_at ON execution_logs (created_at)');
  }
}
