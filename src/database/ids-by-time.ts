import type { AppConfig } from '../config/app-config.js';
import type { Row } from './direct-sql.js';
import { num } from './sql.js';

/**
 * Where a moment falls in a table whose rows are dated when written (`execution_logs.created_at`,
 * `events.accepted_at`), found along the primary key instead of an index on the date: rows get
 * their ids as they are written, so the ids follow the dates but for rows written late. Dropping
 * the date index saves its bytes and one index write per row (1766000000000-ids-by-time.ts); a
 * date range or retention's cutoff is then a handful of primary-key reads (splitAt), whatever
 * the size of the table.
 */

/** A row as the search reads it: its id and its date (epoch ms). */
export interface TimedRow {
  id: number;
  at: number;
}

/** Reads of rows in id order. */
export interface IdOrder {
  /** The row with the smallest id at or above `id`. */
  atOrAbove(id: number): Promise<TimedRow | undefined>;
  /** The row with the largest id (below `under`, when given). */
  last(under?: number): Promise<TimedRow | undefined>;
}

/**
 * Where a moment falls among rows in id order: `before`, a row dated before it (null when the
 * first row is not), and `after`, the row that follows `before` in id order and is not dated
 * before it (null when the last row is dated before). Which rows count as "before" is `isBefore`.
 */
export interface Split {
  before: TimedRow | null;
  after: TimedRow | null;
}

/**
 * The split of `rows` at `moment`: a search over the ids that alternates a guess by the dates
 * (the ids of a busy table are close to evenly spread in time, so a guess lands near the split)
 * with halving the range (so a table written in bursts still takes at most twice the steps of a
 * binary search). Rows written late break the order of dates only locally; wherever the search
 * ends, `before` is a row dated before the moment and `after` one that is not, which is all
 * the callers rely on (firstIdFrom, lastIdTo).
 */
export async function splitAt(rows: IdOrder, moment: number, isBefore: (at: number) => boolean): Promise<Split> {
  const first = await rows.atOrAbove(0);
  if (first === undefined) return { before: null, after: null };
  if (!isBefore(first.at)) return { before: null, after: first };
  const last = (await rows.last())!;
  if (isBefore(last.at)) return { before: last, after: null };
  return splitBetween(rows, moment, isBefore, first, last);
}

/**
 * The split of `rows` at `moment` between `low`, a row dated before it, and `next`, a later row
 * that is not (the search of splitAt, started from a bracket the caller found).
 */
export async function splitBetween(rows: IdOrder, moment: number, isBefore: (at: number) => boolean, low: TimedRow, next: TimedRow): Promise<Split> {
  // `low` is dated before; the first row at or above the id `high` is `next`, which is not.
  let high = next.id;
  for (let step = 0; high - low.id > 1; step++) {
    const byDate = step % 2 === 0 && next.at > low.at;
    const guess = byDate ? low.id + Math.round(((moment - low.at) / (next.at - low.at)) * (next.id - low.id)) : low.id + Math.floor((high - low.id) / 2);
    const id = Math.min(high - 1, Math.max(low.id + 1, guess));
    const row = await rows.atOrAbove(id);
    if (row === undefined || row.id >= high) {
      high = id; // no row between the guess and `high`: `next` is the first row at or above the guess
    } else if (isBefore(row.at)) {
      low = row;
    } else {
      high = id;
      next = row;
    }
  }
  return { before: low, after: next };
}

/**
 * How late after its date a row may be written, at most: a dispatcher writes an outcome again for
 * up to the lease while the database is unreachable, a statement waits up to the query timeout,
 * and a minute is left for the clocks of instances that differ.
 */
export function lateWriteMs(config: AppConfig): number {
  return config.dispatch.leaseMs + config.databaseTimeouts.queryMs + 60_000;
}

/** An id above every row's: where the ids of a range that holds no row begin. */
export const NO_ROW_ABOVE = Number.MAX_SAFE_INTEGER;

/**
 * The lowest id a row dated at or after `from` can have, from the split at `from - late`: one
 * more than the id of a row dated before `from - late`, which was written before `from`, so
 * before any row dated `from` or later was. NO_ROW_ABOVE when every row is dated before.
 */
export function firstIdFrom(split: Split): number {
  if (split.after === null) return NO_ROW_ABOVE;
  return split.before === null ? split.after.id : split.before.id + 1;
}

/**
 * The highest id a row dated at or before `to` can have, from the split at `to + late`: one less
 * than the id of a row dated after `to + late`, which was written after every row dated `to` or
 * before. 0 when no row is dated that early.
 */
export function lastIdTo(split: Split): number {
  if (split.before === null) return 0;
  return split.after === null ? split.before.id : split.after.id - 1;
}

/** The rows of `table` in id order, by their date column `at`. */
export function tableIdOrder(read: (sql: string, params: unknown[]) => Promise<Row[]>, table: string, at: string): IdOrder {
  const first = async (sql: string, params: unknown[]): Promise<TimedRow | undefined> => {
    const [row] = await read(sql, params);
    return row === undefined ? undefined : { id: num(row.id), at: num(row.at) };
  };
  return {
    atOrAbove: (id) => first(`SELECT id, ${at} AS at FROM ${table} WHERE id >= ? ORDER BY id LIMIT 1`, [id]),
    last: (under) =>
      under === undefined ? first(`SELECT id, ${at} AS at FROM ${table} ORDER BY id DESC LIMIT 1`, []) : first(`SELECT id, ${at} AS at FROM ${table} WHERE id < ? ORDER BY id DESC LIMIT 1`, [under]),
  };
}
