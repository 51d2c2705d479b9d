import { randomBytes } from 'node:crypto';
import { MigrationInterface, QueryRunner, Table, TableColumn, TableColumnOptions, TableIndex } from 'typeorm';
import { epochColumn, varchar } from './1763800000000-initial-schema.js';

/**
 * Events, deliveries (the durable queue) and execution logs, plus the signing secret and
 * failure tracking of handlers. These three tables grow fast, so their keys are BIGINT on
 * MySQL (SQLite's INTEGER is 64-bit already) and their large columns MEDIUMTEXT.
 */
export class Dispatch1763900000000 implements MigrationInterface {
  name = 'Dispatch1763900000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const sqlite = queryRunner.connection.options.type === 'better-sqlite3';
    const bigId = (name = 'id'): TableColumnOptions => ({
      name,
      type: sqlite ? 'integer' : 'bigint',
      isPrimary: true,
      isGenerated: true,
      generationStrategy: 'increment',
    });
    const bigText = (name: string, nullable = false): TableColumnOptions => ({
      name,
      type: sqlite ? 'text' : 'mediumtext',
      isNullable: nullable,
    });
    const int = (name: string, nullable = false): TableColumnOptions => ({ name, type: 'integer', isNullable: nullable });
    const big = (name: string, nullable = false): TableColumnOptions => ({ name, type: 'bigint', isNullable: nullable });

    await queryRunner.addColumns('handlers', [
      new TableColumn(varchar('signing_secret', 100, true)),
      new TableColumn(varchar('previous_secret', 100, true)),
      new TableColumn(epochColumn('previous_secret_expires_at', true)),
      new TableColumn(epochColumn('failing_since', true)),
    ]);
    // Handlers created before this migration get a secret of their own.
    const existing: { id: number }[] = await queryRunner.query('SELECT id FROM handlers');
    for (const row of existing) {
      await queryRunner.query('UPDATE handlers SET signing_secret = ? WHERE id = ?', [
        `whsec_${randomBytes(32).toString('base64')}`,
        row.id,
      ]);
    }

    await queryRunner.createTable(
      new Table({
        name: 'events',
        columns: [
          bigId(),
          varchar('events_id', 100),
          big('object_id'),
          varchar('object_key', 64),
          varchar('dt', 40),
          bigText('data'),
          varchar('idempotency_key', 200, true),
          int('api_key_id', true),
          epochColumn('accepted_at'),
        ],
        indices: [
          new TableIndex({ name: 'uq_events_idempotency_key', columnNames: ['idempotency_key'], isUnique: true }),
          new TableIndex({ name: 'idx_events_object', columnNames: ['object_key', 'id'] }),
          new TableIndex({ name: 'idx_events_accepted_at', columnNames: ['accepted_at'] }),
        ],
      }),
    );

    await queryRunner.createTable(
      new Table({
        name: 'deliveries',
        columns: [
          bigId(),
          big('event_id'),
          int('handler_id'),
          int('seq'),
          varchar('object_key', 64),
          varchar('status', 16),
          int('blocking'),
          int('attempts'),
          int('manual'),
          epochColumn('next_attempt_at'),
          varchar('lease_owner', 64, true),
          epochColumn('lease_expires_at', true),
          int('last_response_code', true),
          varchar('last_error', 500, true),
          epochColumn('created_at'),
          epochColumn('updated_at'),
        ],
        indices: [
          new TableIndex({ name: 'idx_deliveries_due', columnNames: ['status', 'next_attempt_at', 'id'] }),
          new TableIndex({ name: 'idx_deliveries_order', columnNames: ['object_key', 'blocking', 'event_id', 'seq'] }),
          new TableIndex({ name: 'idx_deliveries_event', columnNames: ['event_id', 'seq'] }),
          new TableIndex({ name: 'idx_deliveries_handler', columnNames: ['handler_id', 'status', 'created_at'] }),
          new TableIndex({ name: 'idx_deliveries_lease', columnNames: ['status', 'lease_expires_at'] }),
        ],
      }),
    );

    await queryRunner.createTable(
      new Table({
        name: 'execution_logs',
        columns: [
          bigId(),
          big('delivery_id', true),
          big('event_id', true),
          varchar('events_id', 100),
          int('handler_id'),
          varchar('handler_name', 200),
          big('object_id'),
          varchar('stage', 8),
          int('attempt'),
          varchar('trigger_type', 8),
          varchar('status', 8),
          bigText('request_payload'),
          int('response_code', true),
          { name: 'response_body', type: 'text', isNullable: true },
          varchar('error', 1000, true),
          int('duration_ms'),
          epochColumn('created_at'),
        ],
        indices: [
          new TableIndex({ name: 'idx_logs_created_at', columnNames: ['created_at'] }),
          new TableIndex({ name: 'idx_logs_handler', columnNames: ['handler_id', 'id'] }),
          new TableIndex({ name: 'idx_logs_event', columnNames: ['event_id'] }),
          new TableIndex({ name: 'idx_logs_events_id', columnNames: ['events_id', 'id'] }),
          new TableIndex({ name: 'idx_logs_status', columnNames: ['status', 'id'] }),
        ],
      }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('execution_logs');
    await queryRunner.dropTable('deliveries');
    await queryRunner.dropTable('events');
    for (const column of ['failing_since', 'previous_secret_expires_at', 'previous_secret', 'signing_secret']) {
      await queryRunner.dropColumn('handlers', column);
    }
  }
}
