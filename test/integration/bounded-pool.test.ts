import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Pool } from 'mysql2';
import { DataSource, QueryRunner } from 'typeorm';
import { connectTo, databaseKinds, TestDatabase } from '../utils/databases.js';
import { boundMysqlPool } from '../../src/database/bounded-pool.js';
import { isDatabaseTimeout, isDatabaseUnavailable } from '../../src/database/database-errors.js';

/**
 * The bounds bounded-pool.ts puts on TypeORM's mysql2 pool: a statement without an answer
 * within queryMs fails as "database unavailable" and its connection leaves the pool; waiting
 * for a connection is bounded by acquireMs. MySQL/MariaDB only (SQLite runs in the process).
 */
const kinds = (await databaseKinds()).filter((kind) => kind.name === 'mysql');
const QUERY_MS = 400;
const ACQUIRE_MS = 300;
/** Scheduling slack on a shared machine: the bound is asserted, not speed. */
const SLACK_MS = 1000;

async function failure(work: Promise<unknown>): Promise<{ error: unknown; tookMs: number }> {
  const startedAt = Date.now();
  try {
    await work;
  } catch (error) {
    return { error, tookMs: Date.now() - startedAt };
  }
  throw new Error('expected a failure');
}

for (const kind of kinds) {
  describe(`bounded MySQL pool [${kind.name}]`, { skip: kind.skip }, () => {
    let db: TestDatabase;
    let dataSource: DataSource;
    let pool: Pool;

    before(async () => {
      db = await kind.create();
      dataSource = await connectTo(db);
      pool = (dataSource.driver as unknown as { pool: Pool }).pool;
      boundMysqlPool(pool, { queryMs: QUERY_MS, acquireMs: ACQUIRE_MS });
    });
    after(async () => {
      await dataSource?.destroy();
      await db?.drop();
    });

    it('fails a statement that gets no answer within queryMs as unavailable, and destroys its connection', async () => {
      const runner = dataSource.createQueryRunner();
      try {
        await runner.connect();
        const connection = (runner as unknown as { databaseConnection: { _pool: unknown; threadId: number } }).databaseConnection;
        const { error, tookMs } = await failure(runner.query('SELECT SLEEP(5)'));
        assert.ok(isDatabaseTimeout(error), String(error));
        assert.ok(isDatabaseUnavailable(error), 'answered as DATABASE_UNAVAILABLE');
        assert.ok(tookMs <= QUERY_MS + SLACK_MS, `failed after ${tookMs} ms`);
        assert.equal(connection._pool, null, 'the connection left the pool');
        const all = (pool as unknown as { _allConnections: { toArray(): { threadId: number }[] } })._allConnections.toArray();
        assert.ok(!all.some((c) => c.threadId === connection.threadId), 'the pool does not hold it any more');
      } finally {
        await runner.release();
      }
      // The pool goes on with other connections.
      assert.deepEqual(await dataSource.query('SELECT 1 AS one'), [{ one: 1 }]);
    });

    it('bounds the wait for a connection by acquireMs, and serves again once one is free', async () => {
      const held: QueryRunner[] = [];
      try {
        for (let n = 0; n < 10; n++) {
          const runner = dataSource.createQueryRunner();
          await runner.connect();
          held.push(runner);
        }
        const { error, tookMs } = await failure(dataSource.query('SELECT 1'));
        assert.ok(isDatabaseTimeout(error), String(error));
        assert.ok(isDatabaseUnavailable(error));
        assert.ok(tookMs >= ACQUIRE_MS - 50 && tookMs <= ACQUIRE_MS + SLACK_MS, `gave up after ${tookMs} ms`);
        await held.pop()!.release();
        assert.deepEqual(await dataSource.query('SELECT 1 AS one'), [{ one: 1 }]);
      } finally {
        for (const runner of held) await runner.release();
      }
    });
  });
}
