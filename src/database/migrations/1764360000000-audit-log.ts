import { MigrationInterface, QueryRunner, Table, TableIndex } from 'typeorm';
import { epochColumn, varchar } from './1763800000000-initial-schema.js';

/**
 * The audit trail (`src/audit/`): one row per change made through the API or the keys command,
 * with who, when, from where and the record before and after (secrets masked). Kept unless
 * AUDIT_RETENTION is set, so the key is BIGINT on MySQL and the two records MEDIUMTEXT (a
 * handler's headers alone may pass TEXT's 64 KB).
 */
export class AuditLog1764360000000 implements MigrationInterface {
  name = 'AuditLog1764360000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const sqlite = queryRunner.connection.options.type === 'better-sqlite3';
    await queryRunner.createTable(
      new Table({
        name: 'audit_log',
        columns: [
          // SQLite accepts AUTOINCREMENT only on a column typed exactly INTEGER (64-bit there).
          { name: 'id', type: sqlite ? 'integer' : 'bigint', isPrimary: true, isGenerated: true, generationStrategy: 'increment' },
          epochColumn('created_at'),
          varchar('actor_type', 16),
          { name: 'actor_key_id', type: 'integer', isNullable: true },
          varchar('actor_name', 100),
          varchar('client_address', 64, true),
          varchar('request_id', 64, true),
          varchar('action', 64),
          varchar('target_type', 32),
          { name: 'target_id', type: 'bigint', isNullable: true },
          { name: 'before_json', type: sqlite ? 'text' : 'mediumtext', isNullable: true },
          { name: 'after_json', type: sqlite ? 'text' : 'mediumtext', isNullable: true },
        ],
        indices: [
          // Each filter of GET /api/v1/audit reads its rows newest first from one index.
          new TableIndex({ name: 'idx_audit_created_at', columnNames: ['created_at'] }),
          new TableIndex({ name: 'idx_audit_actor', columnNames: ['actor_key_id', 'id'] }),
          new TableIndex({ name: 'idx_audit_action', columnNames: ['action', 'id'] }),
          new TableIndex({ name: 'idx_audit_target', columnNames: ['target_type', 'target_id', 'id'] }),
        ],
      }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('audit_log');
  }
}
