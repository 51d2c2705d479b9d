import type { DataSource, EntityManager } from 'typeorm';

/**
 * Small helpers for the hand-written SQL of the hot path (ingest, claim, log writes), which
 * runs through the same DataSource as the entities but without the ORM's per-row cost.
 * Every statement uses `?` placeholders and unquoted, non-reserved identifiers so that one
 * text serves SQLite and MySQL/MariaDB.
 */
export function isMysql(source: DataSource | EntityManager): boolean {
  const type = ('connection' in source ? source.connection : source).options.type;
  return type === 'mysql' || type === 'mariadb';
}

/** `(?, ?, ?), (?, ?, ?)` for a multi-row INSERT of `rows` rows of `columns` values each; `placeholders(1, n)` is the list of an `IN`. */
export function placeholders(rows: number, columns: number): string {
  const row = `(${new Array(columns).fill('?').join(', ')})`;
  return new Array(rows).fill(row).join(', ');
}

/** Numbers come back as numbers from better-sqlite3, and as numbers or strings (BIGINT) from mysql2. */
export function num(value: unknown): number {
  return typeof value === 'number' ? value : Number(value);
}

export function numOrNull(value: unknown): number | null {
  return value === null || value === undefined ? null : num(value);
}

/** Runs one write through TypeORM (outside the hot path) and answers how many rows it changed. */
export async function changedRows(executor: DataSource | EntityManager, sql: string, params: readonly unknown[]): Promise<number> {
  // Inside a transaction the caller's manager already holds its query runner.
  if (!('createQueryRunner' in executor) && executor.queryRunner) return (await executor.queryRunner.query(sql, [...params], true)).affected ?? 0;
  const dataSource = 'createQueryRunner' in executor ? executor : executor.connection;
  const runner = dataSource.createQueryRunner();
  try {
    return (await runner.query(sql, [...params], true)).affected ?? 0;
  } finally {
    await runner.release();
  }
}
