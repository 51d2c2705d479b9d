import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DataSource } from 'typeorm';
import { databaseKinds, TestDatabase } from '../utils/databases.js';
import { buildDataSourceOptions } from '../../src/database/data-source.js';
import { parseDatabaseUrl } from '../../src/config/app-config.js';

const kinds = await databaseKinds();

for (const kind of kinds) {
  describe(`migrations [${kind.name}]`, { skip: kind.skip }, () => {
    let db: TestDatabase;
    let dataSource: DataSource;

    before(async () => {
      db = await kind.create();
      dataSource = new DataSource({ ...buildDataSourceOptions(parseDatabaseUrl(db.url)), logging: false });
      await dataSource.initialize();
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
      assert.deepEqual(
        diff.upQueries.map((query) => query.query),
        [],
        'entities and migrations disagree; write a migration',
      );
    });

    it('roll back completely and apply again', async () => {
      for (let i = 0; i < dataSource.migrations.length; i++) await dataSource.undoLastMigration({ transaction: 'each' });
      const tables = await dataSource.createQueryRunner().getTables(['handlers', 'api_keys', 'handler_changes', 'app_meta']);
      assert.deepEqual(tables, []);
      await dataSource.runMigrations({ transaction: 'each' });
      assert.equal(await dataSource.showMigrations(), false);
    });
  });
}
