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

/** The id of the row a single-row INSERT created (mysql2 result header, or better-sqlite3 lastInsertRowid). */
export function insertedId(raw: unknown): number {
  if (raw !== null && typeof raw === 'object' && 'insertId' in raw) return Number((raw as { insertId: number }).insertId);
  return Number(raw);
}

/** `(?, ?, ?), (?, ?, ?)` for a multi-row INSERT of `rows` rows of `columns` values each. */
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
