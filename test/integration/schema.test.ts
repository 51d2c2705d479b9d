import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DataSource } from 'typeorm';
import { connectTo, databaseKinds, TestDatabase } from '../utils/databases.js';
import { buildDataSourceOptions, MIGRATIONS } from '../../src/database/data-source.js';
import { parseDatabaseUrl } from '../../src/config/app-config.js';
import { ExactKeysAndLargeHeaders1764200000000 } from '../../src/database/migrations/1764200000000-exact-keys-and-large-headers.js';

const kinds = await databaseKinds();

for (const kind of kinds) {
  describe(`migrations [${kind.name}]`, { skip: kind.skip }, () => {
    let db: TestDatabase;
    let dataSource: DataSource;

    before(async () => {
      db = await kind.create();
      dataSource = await connectTo(db);
    });
    after(async () => {
      await dataSource?.destroy();
      await db?.drop();
    });

    it('apply from scratch, leave nothing pending, and match the entities exactly', async () => {
      const applied = await dataSource.runMigrations({ transaction: 'each' });
      assert.ok(applied.length > 0);
      assert.equal(await dataSource.showMigrations(), false);
      // What `synchronize` would do to make the schema fit the entities: it must be nothing.
      const diff = await dataSource.driver.createSchemaBuilder().log();
      // The one intended difference: handlers.headers is MEDIUMTEXT on MySQL/MariaDB (20 headers of
      // 4,000 characters do not fit TEXT), and an entity cannot name a type SQLite lacks.
      const intended = (query: string) => /^ALTER TABLE `handlers` (DROP COLUMN|ADD) `headers`/.test(query);
      assert.deepEqual(
        diff.upQueries.map((query) => query.query).filter((query) => !intended(query)),
        [],
        'entities and migrations disagree; write a migration',
      );
      if (kind.name === 'mysql') {
        const [headers] = await dataSource.query(
          "SELECT DATA_TYPE AS type FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'handlers' AND COLUMN_NAME = 'headers'",
        );
        assert.equal(headers.type, 'mediumtext');
      }
    });

    it('give the hand-written-SQL tables exactly the columns the SQL uses, with 64-bit ids', async () => {
      const expected: Record<string, string[]> = {
        events: ['id', 'events_id', 'object_id', 'object_key', 'dt', 'data', 'idempotency_key', 'request_hash', 'api_key_id', 'accepted_at', 'trace_parent'],
        deliveries: [
          'id', 'event_id', 'handler_id', 'seq', 'object_key', 'status', 'holds_order', 'attempts', 'manual', 'next_attempt_at',
          'lease_owner', 'lease_expires_at', 'last_response_code', 'last_error', 'created_at', 'updated_at',
        ],
        execution_logs: [
          'id', 'delivery_id', 'event_id', 'events_id', 'handler_id', 'handler_name', 'object_id', 'stage', 'attempt',
          'trigger_type', 'status', 'request_payload', 'response_code', 'response_body', 'error', 'duration_ms', 'created_at', 'error_kind',
        ],
        audit_log: [
          'id', 'created_at', 'actor_type', 'actor_key_id', 'actor_name', 'client_address', 'request_id', 'action', 'target_type', 'target_id',
          'before_json', 'after_json',
        ],
      };
      const runner = dataSource.createQueryRunner();
      try {
        for (const [name, columns] of Object.entries(expected)) {
          const table = await runner.getTable(name);
          assert.ok(table, `table ${name}`);
          assert.deepEqual(table.columns.map((column) => column.name).sort(), [...columns].sort(), name);
          const id = table.columns.find((column) => column.name === 'id')!;
          assert.ok(id.isPrimary && id.isGenerated, `${name}.id is a generated key`);
          assert.equal(id.type, kind.name === 'sqlite' ? 'integer' : 'bigint', `${name}.id type`);
        }
        const unique = (await runner.getTable('events'))!.indices.find((index) => index.name === 'uq_events_idempotency_key');
        assert.ok(unique?.isUnique, 'idempotency keys are unique');
        if (kind.name === 'mysql') {
          // Byte-exact, without padding, whatever the database's default collation is.
          const [key] = await dataSource.query(
            "SELECT COLLATION_NAME AS collation FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'events' AND COLUMN_NAME = 'idempotency_key'",
          );
          assert.match(String(key.collation), /^utf8mb4_(0900|nopad)_bin$/);
        }
      } finally {
        await runner.release();
      }
    });

    it('keep events and handler headers when upgrading to byte-exact keys and large headers', async () => {
      // A second database, migrated up to the migration before, with rows in it; then upgraded.
      const older = await kind.create();
      const options = buildDataSourceOptions(parseDatabaseUrl(older.url));
      // Migrated up to the one before ExactKeysAndLargeHeaders; the upgrade runs it and every later one.
      const upgrade = MIGRATIONS.indexOf(ExactKeysAndLargeHeaders1764200000000);
      const before = new DataSource({ ...options, migrations: MIGRATIONS.slice(0, upgrade), logging: false });
      await before.initialize();
      try {
        await before.runMigrations({ transaction: 'each' });
        await before.query(
          'INSERT INTO events (events_id, object_id, object_key, dt, data, idempotency_key, api_key_id, accepted_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?), (?, ?, ?, ?, ?, ?, ?, ?)',
          ['clients.update', 1, 'clients:1', '2026-11-22T10:15:30+00:00', '{"id":1}', 'Key-A', null, 1, 'clients.update', 2, 'clients:2', '2026-11-22T10:15:30+00:00', '{"id":2}', 'key-b', null, 2],
        );
        await before.query(
          "INSERT INTO handlers (name, event, type, task, status, priority, stage, timeout_ms, retry_limit, headers, created_at, updated_at) VALUES ('h', 'clients.update', 'http', '127.0.0.1:9/x', 'enabled', 10, 'after', 1000, 1, ?, 1, 1)",
          [JSON.stringify({ 'X-A': 'a'.repeat(4000) })],
        );
      } finally {
        await before.destroy();
      }
      const upgraded = new DataSource({ ...options, logging: false });
      await upgraded.initialize();
      try {
        assert.equal((await upgraded.runMigrations({ transaction: 'each' })).length, MIGRATIONS.length - upgrade);
        const rows = await upgraded.query('SELECT idempotency_key AS k, request_hash AS h, data FROM events ORDER BY id');
        assert.deepEqual(rows.map((row: { k: string; h: unknown; data: string }) => [row.k, row.h, row.data]), [
          ['Key-A', null, '{"id":1}'],
          ['key-b', null, '{"id":2}'],
        ]);
        // Now a key differing only in case is another key.
        await upgraded.query(
          'INSERT INTO events (events_id, object_id, object_key, dt, data, idempotency_key, api_key_id, accepted_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
          ['clients.update', 3, 'clients:3', '2026-11-22T10:15:30+00:00', '{"id":3}', 'key-a', null, 3],
        );
        const [handler] = await upgraded.query('SELECT headers FROM handlers');
        assert.deepEqual(JSON.parse(handler.headers), { 'X-A': 'a'.repeat(4000) });
      } finally {
        await upgraded.destroy();
        await older.drop();
      }
    });

    it('roll back completely and apply again', async () => {
      for (let i = 0; i < dataSource.migrations.length; i++) await dataSource.undoLastMigration({ transaction: 'each' });
      const tables = await dataSource.createQueryRunner().getTables(['handlers', 'api_keys', 'handler_changes', 'app_meta', 'audit_log']);
      assert.deepEqual(tables, []);
      await dataSource.runMigrations({ transaction: 'each' });
      assert.equal(await dataSource.showMigrations(), false);
    });
  });
}
