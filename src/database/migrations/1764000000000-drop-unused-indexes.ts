import { MigrationInterface, QueryRunner, TableIndex } from 'typeorm';

/**
 * Two indexes no query reads, paid for on every row written to the two busiest tables:
 * events by object (the ordering check reads deliveries, not events) and deliveries by lease
 * (the lease check finds the few in_progress rows through idx_deliveries_due, whose first
 * column is status).
 */
export class DropUnusedIndexes1764000000000 implements MigrationInterface {
  name = 'DropUnusedIndexes1764000000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropIndex('events', 'idx_events_object');
    await queryRunner.dropIndex('deliveries', 'idx_deliveries_lease');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createIndex('deliveries', new TableIndex({ name: 'idx_deliveries_lease', columnNames: ['status', 'lease_expires_at'] }));
    await queryRunner.createIndex('events', new TableIndex({ name: 'idx_events_object', columnNames: ['object_key', 'id'] }));
  }
}
