import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `deliveries.blocking` is named for what it means: the delivery holds the order of its
 * object (a first attempt not finished yet; later deliveries on the object wait for it).
 * RENAME COLUMN keeps the data and the index on it (idx_deliveries_order) on SQLite 3.25+,
 * MariaDB 10.5+ and MySQL 8, without copying the table.
 */
export class DeliveriesHoldsOrder1764300000000 implements MigrationInterface {
  name = 'DeliveriesHoldsOrder1764300000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE deliveries RENAME COLUMN blocking TO holds_order');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE deliveries RENAME COLUMN holds_order TO blocking');
  }
}
