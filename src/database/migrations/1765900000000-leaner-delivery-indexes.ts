import { MigrationInterface, QueryRunner, TableIndex } from 'typeorm';

/**
 * Fewer index entries per delivery, for the bytes the queue's rows keep (failed and skipped
 * ones until their event expires) and for the writes every enqueue and status change makes:
 *
 * - idx_deliveries_handler_time (handler_id, created_at) goes. It served one statement,
 *   requeue-failed of a handler within a period (src/queue/delivery-queue.ts requeueFailed),
 *   which idx_deliveries_handler_due (status, handler_id, next_attempt_at, id), added since for
 *   the claim, serves as well: `status = 'failed' AND handler_id = ?` is its prefix and the
 *   period filters the handler's failed deliveries only.
 * - SQLite: idx_deliveries_order keeps only the deliveries that hold their object's order
 *   (`WHERE holds_order = 1`: a first attempt not finished yet), the only ones the claim's
 *   order check looks for (`p.holds_order = 1`, a term SQLite matches against the index's
 *   WHERE). A delivery leaves it at its first outcome instead of moving within it, and a
 *   finished delivery has no entry. MySQL/MariaDB have no partial indexes: theirs stays whole.
 */
export class LeanerDeliveryIndexes1765900000000 implements MigrationInterface {
  name = 'LeanerDeliveryIndexes1765900000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropIndex('deliveries', 'idx_deliveries_handler_time');
    if (queryRunner.connection.options.type !== 'better-sqlite3') return;
    await queryRunner.query('DROP INDEX idx_deliveries_order');
    await queryRunner.query('CREATE INDEX idx_deliveries_order ON deliveries (object_key, event_id, seq) WHERE holds_order = 1');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    if (queryRunner.connection.options.type === 'better-sqlite3') {
      await queryRunner.query('DROP INDEX idx_deliveries_order');
      await queryRunner.query('CREATE INDEX idx_deliveries_order ON deliveries (object_key, holds_order, event_id, seq)');
    }
    await queryRunner.createIndex('deliveries', new TableIndex({ name: 'idx_deliveries_handler_time', columnNames: ['handler_id', 'created_at'] }));
  }
}
