import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { loadConfig } from '../../src/config/app-config.js';
import { buildDataSourceOptions } from '../../src/database/data-source.js';
import { DirectSql } from '../../src/database/direct-sql.js';

/** A DataSource on a fresh SQLite file with SQLITE_SYNCHRONOUS=`setting`, and the DirectSql over it. */
async function openSqlite(setting: string | undefined) {
  const dir = mkdtempSync(join(tmpdir(), 'prov-pragma-'));
  const config = loadConfig({ DATABASE_URL: `sqlite:${join(dir, 'x.sqlite')}`, SQLITE_SYNCHRONOUS: setting });
  const dataSource = new DataSource(buildDataSourceOptions(config.database));
  await dataSource.initialize();
  const sql = new DirectSql(dataSource, config);
  const synchronous = () => (sql.statement('PRAGMA synchronous').get() as { synchronous: number }).synchronous;
  return {
    sql,
    synchronous,
    close: async () => {
      await dataSource.destroy();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

describe('SQLite settings', () => {
  for (const [setting, expected] of [[undefined, 2], ['full', 2], ['normal', 1]] as const) {
    it(`SQLITE_SYNCHRONOUS=${setting ?? '(unset)'} runs in WAL mode with synchronous=${expected}`, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'prov-pragma-'));
      const config = loadConfig({ DATABASE_URL: `sqlite:${join(dir, 'x.sqlite')}`, SQLITE_SYNCHRONOUS: setting });
      const dataSource = new DataSource(buildDataSourceOptions(config.database));
      await dataSource.initialize();
      try {
        const [sync] = await dataSource.query('PRAGMA synchronous');
        const [mode] = await dataSource.query('PRAGMA journal_mode');
        assert.equal(sync.synchronous, expected);
        assert.equal(mode.journal_mode, 'wal');
      } finally {
        await dataSource.destroy();
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
  it('a transaction with flush: false commits at synchronous=NORMAL and leaves FULL set after it, also when it fails', async () => {
    const db = await openSqlite(undefined);
    try {
      assert.equal(await db.sql.transactionSqlite(() => db.synchronous()), 2, 'a flushed transaction runs at FULL');
      assert.equal(await db.sql.transactionSqlite(() => db.synchronous(), { flush: false }), 1);
      assert.equal(db.synchronous(), 2);
      await assert.rejects(
        db.sql.transactionSqlite(() => {
          throw new Error('claim failed');
        }, { flush: false }),
        /claim failed/,
      );
      assert.equal(db.synchronous(), 2, 'restored after a failed transaction');
      // What it committed is there, as with any transaction.
      await db.sql.transactionSqlite(() => db.sql.statement('CREATE TABLE t (x INTEGER)').run(), { flush: false });
      await db.sql.transactionSqlite(() => db.sql.statement('INSERT INTO t VALUES (7)').run(), { flush: false });
      assert.deepEqual(db.sql.statement('SELECT x FROM t').all(), [{ x: 7 }]);
    } finally {
      await db.close();
    }
  });

  it('with SQLITE_SYNCHRONOUS=normal a transaction with flush: false leaves NORMAL as it was', async () => {
    const db = await openSqlite('normal');
    try {
      assert.equal(await db.sql.transactionSqlite(() => db.synchronous(), { flush: false }), 1);
      assert.equal(db.synchronous(), 1);
    } finally {
      await db.close();
    }
  });

  it('refuses another SQLITE_SYNCHRONOUS value, naming the variable', () => {
    assert.throws(() => loadConfig({ SQLITE_SYNCHRONOUS: 'off' }), /SQLITE_SYNCHRONOUS/);
  });
});
