import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ResultSetHeader } from 'mysql2';
import { DataSource } from 'typeorm';
import { connectTo, databaseKinds, queryDatabase, TestDatabase } from '../utils/databases.js';
import { DirectSql, Row } from '../../src/database/direct-sql.js';
import type { AppConfig } from '../../src/config/app-config.js';
import { parseDatabaseUrl } from '../../src/config/app-config.js';

/**
 * DirectSql.scriptTransaction: a MySQL/MariaDB transaction sent as one text (or two, when the
 * second part depends on the first one's results), on a pool of its own that accepts several
 * statements per text. What it answers, what a failure anywhere leaves behind (nothing), and
 * that TypeORM's pool still refuses a second statement in one text.
 */
const kinds = (await databaseKinds()).filter((kind) => kind.name === 'mysql');

for (const kind of kinds) {
  describe(`script transactions [${kind.name}]`, { skip: kind.skip }, () => {
    let db: TestDatabase;
    let dataSource: DataSource;
    let sql: DirectSql;
    const values = async (): Promise<number[]> => (await queryDatabase<{ v: number }>(db, 'SELECT v FROM script_rows ORDER BY v')).map((row) => Number(row.v));

    before(async () => {
      db = await kind.create();
      dataSource = await connectTo(db);
      await dataSource.query('CREATE TABLE script_rows (id INT AUTO_INCREMENT PRIMARY KEY, v INT NOT NULL UNIQUE)');
      const config = { database: parseDatabaseUrl(db.url), databaseTimeouts: { queryMs: 5000, acquireMs: 5000 } } as unknown as AppConfig;
      sql = new DirectSql(dataSource, config);
    });
    after(async () => {
      sql?.onApplicationShutdown();
      await dataSource?.destroy();
      await db?.drop();
    });

    it('one trip: each statement answers in order (a write its header, a read its rows), and the whole is committed', async () => {
      await dataSource.query('DELETE FROM script_rows');
      const results = await sql.scriptTransaction([
        { sql: 'INSERT INTO script_rows (v) VALUES (?), (?)', params: [1, 2] },
        { sql: 'SET @script_first = LAST_INSERT_ID()', params: [] },
        { sql: 'SELECT v FROM script_rows WHERE id >= @script_first ORDER BY v', params: [] },
      ]);
      assert.equal(results.length, 3);
      assert.equal((results[0] as ResultSetHeader).affectedRows, 2);
      assert.deepEqual(
        (results[2] as Row[]).map((row) => Number(row.v)),
        [1, 2],
      );
      assert.deepEqual(await values(), [1, 2], 'seen from another connection: committed');
    });

    it('two trips: the second is made from the first one’s results, and both are answered in order', async () => {
      await dataSource.query('DELETE FROM script_rows');
      let seen: number[] = [];
      const results = await sql.scriptTransaction([{ sql: 'INSERT INTO script_rows (v) VALUES (?), (?), (?)', params: [10, 20, 30] }, { sql: 'SELECT v FROM script_rows WHERE v > ? FOR UPDATE', params: [15] }], {
        then: (first) => {
          seen = (first[1] as Row[]).map((row) => Number(row.v));
          return [{ sql: `UPDATE script_rows SET v = v + 1 WHERE v IN (${seen.map(() => '?').join(', ')})`, params: seen }];
        },
      });
      assert.deepEqual(seen, [20, 30]);
      assert.equal(results.length, 3);
      assert.equal((results[2] as ResultSetHeader).affectedRows, 2);
      assert.deepEqual(await values(), [10, 21, 31]);
    });

    it('a statement that fails in the first trip: nothing of the transaction is kept, and the connections work on', async () => {
      await dataSource.query('DELETE FROM script_rows');
      await assert.rejects(
        sql.scriptTransaction([
          { sql: 'INSERT INTO script_rows (v) VALUES (?)', params: [1] },
          { sql: 'INSERT INTO script_rows (v) VALUES (?)', params: [1] },
          { sql: 'INSERT INTO script_rows (v) VALUES (?)', params: [2] },
        ]),
        (error: { code?: string }) => error.code === 'ER_DUP_ENTRY',
      );
      assert.deepEqual(await values(), []);
      // Every connection of the script pool (4) is used again, none with a transaction left open.
      await Promise.all([3, 4, 5, 6, 7, 8].map((v) => sql.scriptTransaction([{ sql: 'INSERT INTO script_rows (v) VALUES (?)', params: [v] }])));
      assert.deepEqual(await values(), [3, 4, 5, 6, 7, 8]);
    });

    it('a statement that fails in the second trip, or a second trip that cannot be made: the first trip’s statements are rolled back', async () => {
      await dataSource.query('DELETE FROM script_rows');
      await assert.rejects(
        sql.scriptTransaction([{ sql: 'INSERT INTO script_rows (v) VALUES (?), (?)', params: [1, 2] }], {
          then: () => [{ sql: 'INSERT INTO script_rows (v) VALUES (?)', params: [2] }],
        }),
        (error: { code?: string }) => error.code === 'ER_DUP_ENTRY',
      );
      await assert.rejects(
        sql.scriptTransaction([{ sql: 'INSERT INTO script_rows (v) VALUES (?)', params: [3] }], {
          then: () => {
            throw new Error('no second trip');
          },
        }),
        /no second trip/,
      );
      assert.deepEqual(await values(), []);
    });

    it('every transaction runs at READ COMMITTED (the server’s default here is REPEATABLE READ)', async () => {
      const [server] = await queryDatabase<{ level: string }>(db, 'SELECT @@global.tx_isolation AS level');
      assert.equal(server!.level, 'REPEATABLE-READ');
      const levels = await Promise.all(
        [1, 2, 3, 4, 5, 6].map((v) =>
          sql
            .scriptTransaction([
              { sql: 'INSERT INTO script_rows (v) VALUES (?)', params: [100 + v] },
              { sql: 'SELECT @@tx_isolation AS level', params: [] },
            ])
            .then((results) => String((results[1] as Row[])[0]!.level)),
        ),
      );
      assert.deepEqual(new Set(levels), new Set(['READ-COMMITTED']));
    });

    it('TypeORM’s pool, which runs everything else, still takes one statement per text', async () => {
      await assert.rejects(dataSource.query('SELECT 1; SELECT 2'), (error: { code?: string }) => error.code === 'ER_PARSE_ERROR');
    });
  });
}
