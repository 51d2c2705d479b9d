import { MigrationInterface, QueryRunner, Table, TableColumnOptions, TableIndex } from 'typeorm';

/** Auto-increment primary key; SQLite only accepts AUTOINCREMENT on a column typed exactly INTEGER. */
export function idColumn(name = 'id'): TableColumnOptions {
  return { name, type: 'integer', isPrimary: true, isGenerated: true, generationStrategy: 'increment' };
}

export function epochColumn(name: string, nullable = false): TableColumnOptions {
  return { name, type: 'bigint', isNullable: nullable };
}

export function varchar(name: string, length: number, nullable = false): TableColumnOptions {
  return { name, type: 'varchar', length: String(length), isNullable: nullable };
}

/** One schema for SQLite and MySQL/MariaDB, written with QueryRunner's Table API. */
export class InitialSchema1763800000000 implements MigrationInterface {
  name = 'InitialSchema1763800000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createTable(
      new Table({
        name: 'handlers',
        columns: [
          idColumn(),
          varchar('name', 200),
          varchar('event', 100),
          varchar('type', 16),
          varchar('task', 2048),
          varchar('status', 16),
          { name: 'priority', type: 'integer' },
          varchar('stage', 16),
          { name: 'timeout_ms', type: 'integer' },
          { name: 'retry_limit', type: 'integer' },
          { name: 'headers', type: 'text' },
          varchar('on_failure', 16, true),
          varchar('disabled_reason', 500, true),
          epochColumn('created_at'),
          epochColumn('updated_at'),
        ],
        indices: [
          new TableIndex({ name: 'idx_handlers_status_priority', columnNames: ['status', 'priority', 'id'] }),
          new TableIndex({ name: 'idx_handlers_event', columnNames: ['event'] }),
        ],
      }),
    );

    await queryRunner.createTable(
      new Table({
        name: 'handler_changes',
        columns: [idColumn('version'), { name: 'handler_id', type: 'integer' }, epochColumn('changed_at')],
        indices: [new TableIndex({ name: 'idx_handler_changes_changed_at', columnNames: ['changed_at'] })],
      }),
    );

    await queryRunner.createTable(
      new Table({
        name: 'api_keys',
        columns: [
          idColumn(),
          varchar('name', 100),
          varchar('key_hash', 64),
          varchar('key_prefix', 16),
          varchar('scopes', 100),
          epochColumn('created_at'),
          epochColumn('last_used_at', true),
          epochColumn('revoked_at', true),
        ],
        indices: [new TableIndex({ name: 'uq_api_keys_key_hash', columnNames: ['key_hash'], isUnique: true })],
      }),
    );

    await queryRunner.createTable(
      new Table({
        name: 'app_meta',
        columns: [{ ...varchar('name', 64), isPrimary: true }, varchar('value', 255), epochColumn('updated_at')],
      }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('app_meta');
    await queryRunner.dropTable('api_keys');
    await queryRunner.dropTable('handler_changes');
    await queryRunner.dropTable('handlers');
  }
}
