import { DataSource } from 'typeorm';
import { buildDataSourceOptions, MIGRATIONS } from '../../src/database/data-source.js';
import { parseDatabaseUrl } from '../../src/config/app-config.js';

/**
 * The database at `url` migrated up to just before `migration`, answered as a DataSource that
 * knows the migrations up to it and no later: `runMigrations` then runs it alone, and
 * `undoLastMigration` undoes it whatever comes after it in MIGRATIONS.
 */
export async function justBefore(url: string, migration: (typeof MIGRATIONS)[number]): Promise<DataSource> {
  const upgrade = MIGRATIONS.indexOf(migration);
  const options = buildDataSourceOptions(parseDatabaseUrl(url));
  const earlier = new DataSource({ ...options, migrations: MIGRATIONS.slice(0, upgrade), logging: false });
  await earlier.initialize();
  try {
    await earlier.runMigrations({ transaction: 'each' });
  } finally {
    await earlier.destroy();
  }
  const dataSource = new DataSource({ ...options, migrations: MIGRATIONS.slice(0, upgrade + 1), logging: false });
  await dataSource.initialize();
  return dataSource;
}
