import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConnection } from 'mysql2/promise';

/** One throw-away database for one test file. */
export interface TestDatabase {
  kind: 'sqlite' | 'mysql';
  /** DATABASE_URL for the service: sqlite:, mysql:// or mariadb:// */
  url: string;
  drop(): Promise<void>;
}

export interface DatabaseKind {
  name: 'sqlite' | 'mysql';
  /** A reason to skip this kind's suite, or false to run it. */
  skip: string | false;
  create(): Promise<TestDatabase>;
}

const MYSQL_URL = process.env.TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test';
let counter = 0;

function sqliteKind(): DatabaseKind {
  return {
    name: 'sqlite',
    skip: false,
    async create() {
      const dir = mkdtempSync(join(tmpdir(), 'prov-sqlite-'));
      return {
        kind: 'sqlite',
        url: `sqlite:${join(dir, 'test.sqlite')}`,
        drop: async () => rmSync(dir, { recursive: true, force: true }),
      };
    },
  };
}

/** Returns the server's flavor, or the reason it cannot be reached. */
async function probeMysql(): Promise<{ flavor: 'mysql' | 'mariadb' } | { problem: string }> {
  try {
    const connection = await createConnection({ uri: MYSQL_URL, connectTimeout: 3000 });
    const [rows] = await connection.query('SELECT VERSION() AS version');
    await connection.end();
    const version = String((rows as { version: string }[])[0]?.version ?? '');
    return { flavor: /mariadb/i.test(version) ? 'mariadb' : 'mysql' };
  } catch (error) {
    return { problem: (error as Error).message || String((error as { code?: string }).code) };
  }
}

async function mysqlKind(): Promise<DatabaseKind> {
  const probe = await probeMysql();
  const problem = 'problem' in probe ? probe.problem : null;
  const where = new URL(MYSQL_URL).host;
  if (problem && process.env.CI !== 'true') {
    return {
      name: 'mysql',
      skip: `MySQL/MariaDB unreachable at ${where} (${problem}); set TEST_MYSQL_URL or start MariaDB to run this suite`,
      create: () => Promise.reject(new Error('skipped')),
    };
  }
  return {
    name: 'mysql',
    skip: false,
    async create() {
      // Under CI an unreachable server must fail the run, never skip it.
      if (problem) throw new Error(`MySQL/MariaDB unreachable at ${where} under CI=true: ${problem}`);
      const name = `prov_test_${process.pid}_${Date.now().toString(36)}_${counter++}`;
      const admin = await createConnection({ uri: MYSQL_URL });
      await admin.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
      await admin.end();
      const url = new URL(MYSQL_URL);
      url.pathname = `/${name}`;
      // mariadb:// tells the service which flavor it talks to (see DATABASE_URL in the README).
      if ('flavor' in probe && probe.flavor === 'mariadb') url.protocol = 'mariadb:';
      return {
        kind: 'mysql',
        url: url.toString(),
        async drop() {
          const connection = await createConnection({ uri: MYSQL_URL });
          await connection.query(`DROP DATABASE IF EXISTS \`${name}\``);
          await connection.end();
        },
      };
    },
  };
}

/** The databases every integration and e2e suite runs against: SQLite, then MySQL/MariaDB. */
export async function databaseKinds(): Promise<DatabaseKind[]> {
  return [sqliteKind(), await mysqlKind()];
}

/** A connection of its own to a test database (no migrations run), as another process would open it. */
export async function connectTo(db: TestDatabase): Promise<import('typeorm').DataSource> {
  const { DataSource } = await import('typeorm');
  const { buildDataSourceOptions } = await import('../../src/database/data-source.js');
  const { parseDatabaseUrl } = await import('../../src/config/app-config.js');
  return new DataSource(buildDataSourceOptions(parseDatabaseUrl(db.url))).initialize();
}

/** Runs one statement on a test database through a connection of its own (no app needed; the app may even be closed). */
export async function queryDatabase<T = any>(db: TestDatabase, sql: string, params: unknown[] = []): Promise<T[]> {
  const connection = await connectTo(db);
  try {
    return (await connection.query(sql, params)) as T[];
  } finally {
    await connection.destroy();
  }
}
