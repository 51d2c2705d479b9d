import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Payload filters: a handler's filter as JSON (src/handlers/handler-filter.ts), NULL for none.
 * A nullable column without a default is a change of the schema only on both databases (no
 * rows copied). TEXT holds 65,535 bytes on MySQL/MariaDB, above the largest FILTER_MAX_BYTES.
 */
export class HandlerFilters1764320000000 implements MigrationInterface {
  name = 'HandlerFilters1764320000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE handlers ADD COLUMN payload_filter TEXT NULL');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropColumn('handlers', 'payload_filter');
  }
}
