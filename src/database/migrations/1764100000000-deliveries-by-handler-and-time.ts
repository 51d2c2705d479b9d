import { MigrationInterface, QueryRunner, TableIndex } from 'typeorm';

/**
 * The index for "a handler's failed deliveries of a period" no longer holds the status: a
 * delivery changes status twice on its way through the queue, and each change moved its entry
 * in this index. The query reads the handler's deliveries of the period and filters the status.
 */
export class DeliveriesByHandlerAndTime1764100000000 implements MigrationInterface {
  name = 'DeliveriesByHandlerAndTime1764100000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropIndex('deliveries', 'idx_deliveries_handler');
    await queryRunner.createIndex('deliveries', new TableIndex({ name: 'idx_deliveries_handler_time', columnNames: ['handler_id', 'created_at'] }));
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropIndex('deliveries', 'idx_deliveries_handler_time');
    await queryRunner.createIndex('deliveries', new TableIndex({ name: 'idx_deliveries_handler', columnNames: ['handler_id', 'status', 'created_at'] }));
  }
}
