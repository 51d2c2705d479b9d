import { ValueTransformer } from 'typeorm';

/**
 * Timestamps are stored as BIGINT epoch milliseconds: identical on SQLite and MySQL,
 * timezone-free, cheap to compare in raw SQL on the hot path. mysql2 may hand BIGINT
 * back as a string, so reads go through Number().
 */
export const epochMs: ValueTransformer = {
  to: (value: number | null | undefined) => value,
  from: (value: string | number | null) => (value === null || value === undefined ? null : Number(value)),
};

/** JSON stored in a TEXT column (portable across SQLite and MySQL/MariaDB). */
export const jsonText: ValueTransformer = {
  to: (value: unknown) => (value === undefined ? undefined : JSON.stringify(value ?? null)),
  from: (value: string | null) => (value === null || value === undefined ? null : JSON.parse(value)),
};

/**
 * JSON in a nullable TEXT column: null is SQL NULL (jsonText would store the text "null").
 * TypeORM also hands `from` a value it just wrote, to hydrate columns with a default: that
 * one is not text.
 */
export const nullableJsonText: ValueTransformer = {
  to: (value: unknown) => (value === undefined ? undefined : value === null ? null : JSON.stringify(value)),
  from: (value: unknown) => (value === null || value === undefined ? null : typeof value === 'string' ? JSON.parse(value) : value),
};
