import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DataSource } from 'typeorm';
import { databaseKinds, TestDatabase } from '../utils/databases.js';
import { buildDataSourceOptions, MIGRATIONS } from '../../src/database/data-source.js';
import { parseDatabaseUrl } from '../../src/config/app-config.js';
import { ExecutionLogFilters1765100000000 } from '../../src/database/migrations/1765100000000-execution-log-filters.js';
import { envelopeJson } from '../../src/events/envelope.js';

const kinds = await databaseKinds();

/** The error texts the service wrote before error kinds, with the kind each is read as. */
const OLD_ERRORS: [string, string, string][] = [
  ['fail', 'timeout after 10000 ms', 'timeout'],
  ['fail', 'timeout after 300 ms (the script and everything it started killed)', 'timeout'],
  ['fail', 'cut by the decision budget (150 ms) after 150 ms', 'timeout'],
  ['fail', 'connection refused', 'connection_refused'],
  ['fail', 'host name not found', 'dns'],
  ['fail', 'host name lookup failed (temporary)', 'dns'],
  ['fail', 'TLS certificate expired', 'tls'],
  ['fail', 'receiver answered 404', 'http_4xx'],
  ['fail', 'receiver answered 503', 'http_5xx'],
  ['fail', 'redirect (302) not followed', 'redirect'],
  ['fail', 'exit code 3: disk full', 'script_exit'],
  ['fail', 'SCRIPT_NOT_FOUND: task names no file in the scripts folder', 'script_exit'],
  ['fail', '10.0.0.1 may not be called: a private network', 'policy_refused'],
  ['fail', 'script handlers are disabled (SCRIPT_HANDLERS_ENABLED=false)', 'policy_refused'],
  ['fail', 'answered data of the wrong shape: id must be an integer', 'bad_answer'],
  ['fail', 'abandoned at shutdown; the delivery was handed back to the queue', 'abandoned'],
  ['fail', 'connection reset by the receiver', 'network'],
  ['fail', 'UND_ERR_SOCKET: other side closed', 'other'],
  ['skipped', 'handler is disabled', 'skipped'],
];

for (const kind of kinds) {
  describe(`execution-log filters migration [${kind.name}]`, { skip: kind.skip }, () => {
    const databases: TestDatabase[] = [];
    after(async () => {
      for (const db of databases) await db.drop();
    });

    it('gives the rows already there their error kind, and takes the kept payloads back when undone', async () => {
      const db = await kind.create();
      databases.push(db);
      const options = buildDataSourceOptions(parseDatabaseUrl(db.url));
      const upgrade = MIGRATIONS.indexOf(ExecutionLogFilters1765100000000);
      const older = new DataSource({ ...options, migrations: MIGRATIONS.slice(0, upgrade), logging: false });
      await older.initialize();
      const columns = 'delivery_id, event_id, events_id, handler_id, handler_name, object_id, stage, attempt, trigger_type, status, request_payload, response_code, response_body, error, duration_ms, created_at';
      try {
        await older.runMigrations({ transaction: 'each' });
        for (const [n, [status, error]] of [['success', null] as [string, string | null], ...OLD_ERRORS.map(([s, e]) => [s, e] as [string, string])].entries()) {
          await older.query(`INSERT INTO execution_logs (${columns}) VALUES (NULL, NULL, 'clients.update', 1, 'h', 7, 'after', 1, 'auto', ?, '{"old":true}', NULL, NULL, ?, 1, ?)`, [status, error, n]);
        }
      } finally {
        await older.destroy();
      }

      const dataSource = new DataSource({ ...options, logging: false });
      await dataSource.initialize();
      try {
        assert.equal((await dataSource.runMigrations({ transaction: 'each' })).length, MIGRATIONS.length - upgrade);
        const rows: { status: string; error: string | null; error_kind: string | null; request_payload: string }[] = await dataSource.query(
          'SELECT status, error, error_kind, request_payload FROM execution_logs ORDER BY id',
        );
        assert.deepEqual(rows[0], { status: 'success', error: null, error_kind: null, request_payload: '{"old":true}' });
        assert.deepEqual(rows.slice(1).map((row) => [row.status, row.error, row.error_kind]), OLD_ERRORS);
        assert.ok(rows.every((row) => row.request_payload === '{"old":true}'), 'rows written before keep their payload');
        const indexes = new Map((await dataSource.createQueryRunner().getTable('execution_logs'))!.indices.map((index) => [index.name, index.columnNames]));
        // MySQL/MariaDB name the id (1765800000000-log-indexes-name-the-id.ts); SQLite orders by its rowid.
        const id = kind.name === 'sqlite' ? [] : ['id'];
        assert.deepEqual(indexes.get('idx_logs_outcome'), ['status', 'error_kind', ...id]);
        assert.deepEqual(indexes.get('idx_logs_object'), ['object_id', ...id]);
        assert.deepEqual(indexes.get('idx_logs_event'), ['event_id', ...id]);
        if (kind.name !== 'sqlite') {
          // On the partitioned table a range of each is read in id order: no filesort of the range.
          for (const where of ["status = 'fail' AND error_kind = 'timeout'", 'object_id = 42', 'event_id = 7']) {
            const index = where.startsWith('status') ? 'idx_logs_outcome' : where.startsWith('object') ? 'idx_logs_object' : 'idx_logs_event';
            const [plan] = await dataSource.query(`EXPLAIN SELECT id FROM execution_logs FORCE INDEX (${index}) WHERE ${where} ORDER BY id DESC LIMIT 51`);
            assert.equal(plan.key, index, where);
            assert.doesNotMatch(String(plan.Extra), /filesort/, `${where}: ${plan.Extra}`);
          }
        }
        assert.equal(indexes.has('idx_logs_status'), false, 'the outcome index replaces the status index');

        // Rows written since keep no payload of their own: their event's, or an earlier row's of the chain.
        await dataSource.query("INSERT INTO events (events_id, object_id, object_key, dt, data, accepted_at) VALUES ('clients.update', 42, 'client:42', '2026-11-22T10:15:30+02:00', ?, 1)", [
          '{"id":42,"name":"\\"A\\" \\u00e9"}',
        ]);
        const [{ id: eventId }] = await dataSource.query('SELECT MAX(id) AS id FROM events');
        await dataSource.query(
          `INSERT INTO execution_logs (${columns}, error_kind) VALUES (1, ?, 'clients.update', 1, 'h', 42, 'after', 1, 'auto', 'success', '', 200, NULL, NULL, 1, 100, NULL)`,
          [eventId],
        );
        await dataSource.query(`INSERT INTO execution_logs (${columns}, error_kind) VALUES (NULL, NULL, 'clients.update', 1, 'h', 42, 'before', 1, 'auto', 'success', '{"chain":1}', 200, NULL, NULL, 1, 101, NULL)`);
        const [{ id: chainId }] = await dataSource.query('SELECT MAX(id) AS id FROM execution_logs');
        await dataSource.query(`INSERT INTO execution_logs (${columns}, error_kind) VALUES (NULL, NULL, 'clients.update', 2, 'h', 42, 'before', 1, 'auto', 'success', ?, 200, NULL, NULL, 1, 102, NULL)`, [
          `=${chainId}`,
        ]);

        // Undo every migration run above, the later ones first, down to and including this one.
        for (let n = MIGRATIONS.length - upgrade; n > 0; n--) await dataSource.undoLastMigration({ transaction: 'each' });
        const restored: { request_payload: string }[] = await dataSource.query('SELECT request_payload FROM execution_logs WHERE created_at >= 100 ORDER BY id');
        assert.deepEqual(restored.map((row) => row.request_payload), [
          envelopeJson('clients.update', 42, '2026-11-22T10:15:30+02:00', '{"id":42,"name":"\\"A\\" \\u00e9"}'),
          '{"chain":1}',
          '{"chain":1}',
        ]);
        const table = (await dataSource.createQueryRunner().getTable('execution_logs'))!;
        assert.ok(!table.columns.some((column) => column.name === 'error_kind'));
        assert.ok(table.indices.some((index) => index.name === 'idx_logs_status'));
        await dataSource.runMigrations({ transaction: 'each' });
      } finally {
        await dataSource.destroy();
      }
    });
  });
}
