import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { DomainError } from '../common/errors.js';
import { DirectSql, MysqlSession } from '../database/direct-sql.js';
import { isMysql, num, placeholders } from '../database/sql.js';
import { ExecutionLog, ExecutionLogRecord, LOG_COLUMNS, logValues, LogStatus, rowToLog } from './execution-log.js';
import { CursorFilters, decodeCursor, encodeCursor } from '../common/list-cursor.js';

export interface LogQuery {
  handlerId?: number;
  eventType?: string;
  eventId?: number;
  status?: LogStatus;
  errorText?: string;
  from?: number;
  to?: number;
  /** The next_cursor of the previous page; absent: the newest rows. */
  cursor?: string;
  limit: number;
  /** Also count the matching rows (bounded: see countLimits). */
  withCount: boolean;
  /** Deprecated OFFSET paging with an exact COUNT(*): set when the caller sent page or per_page. */
  legacy?: { page: number; perPage: number };
}

export interface LogCount {
  /** Exact when `exact`, else a lower bound. */
  value: number;
  exact: boolean;
}

export interface LogPage {
  items: ExecutionLog[];
  nextCursor: string | null;
  hasMore: boolean;
  count?: LogCount;
  legacy?: { total: number; page: number; perPage: number };
}

const LIST_COLUMNS =
  'id, delivery_id, event_id, events_id, handler_id, handler_name, object_id, stage, attempt, trigger_type, status, response_code, response_body, error, duration_ms, created_at';
/** The one INSERT of log rows: `rows` rows of LOG_COLUMNS. */
function logInsert(rows: number): string {
  return `INSERT INTO execution_logs (${LOG_COLUMNS.join(', ')}) VALUES ${placeholders(rows, LOG_COLUMNS.length)}`;
}
const INSERT_ONE_LOG = logInsert(1);

/**
 * The owner of `execution_logs`: the one insert path (on its own, or inside the transaction
 * that records a delivery's outcome), the lists and their counts, and the purge of old rows.
 */
@Injectable()
export class ExecutionLogsService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly sql: DirectSql,
  ) {}

  /** Writes log rows in a transaction of their own (test sends, decisions, abandoned calls). Answers the new id when one record is written. */
  async insert(records: readonly ExecutionLogRecord[]): Promise<number> {
    if (records.length === 0) return 0;
    if (this.sql.mysql) return this.sql.onPooledConnection((session) => this.insertMysql(session, records));
    return this.sql.transactionSqlite(() => this.insertSqlite(records));
  }

  /** Writes log rows inside the caller's SQLite transaction (DirectSql.transactionSqlite), one prepared row at a time. Answers the last new id. */
  insertSqlite(records: readonly ExecutionLogRecord[]): number {
    const insert = this.sql.statement(INSERT_ONE_LOG);
    let id = 0;
    for (const record of records) id = Number(insert.run(...logValues(record)).lastInsertRowid);
    return id;
  }

  /** Writes log rows with one multi-row INSERT on the session of the caller's MySQL/MariaDB transaction. Answers the first new id. */
  async insertMysql(session: MysqlSession, records: readonly ExecutionLogRecord[]): Promise<number> {
    if (records.length === 0) return 0;
    return (await session.write(logInsert(records.length), records.flatMap(logValues))).insertId;
  }

  /**
   * How far a requested count goes: it stops after `rows` matching rows (then the answer is "at
   * least `rows`") and, on MariaDB, after `seconds` (then it is "at least" what the page saw).
   */
  countLimits = { rows: 100_000, seconds: 2 };

  /**
   * One page, newest first, by keyset on the primary key: `WHERE id < :cursor ORDER BY id DESC
   * LIMIT limit + 1` (the extra row only tells whether another page follows). Rows inserted
   * while a client pages have larger ids, so they appear before the first page, never inside
   * the walk; no row is skipped or shown twice.
   */
  async list(query: LogQuery): Promise<LogPage> {
    const where: string[] = [];
    const params: unknown[] = [];
    const add = (clause: string, value: unknown) => {
      where.push(clause);
      params.push(value);
    };
    if (query.handlerId !== undefined) add('handler_id = ?', query.handlerId);
    if (query.eventType !== undefined) add('events_id = ?', query.eventType);
    if (query.eventId !== undefined) add('event_id = ?', query.eventId);
    if (query.status !== undefined) add('status = ?', query.status);
    if (query.errorText !== undefined) add("LOWER(error) LIKE ? ESCAPE '!'", `%${escapeLike(query.errorText.toLowerCase())}%`);
    if (query.from !== undefined) add('created_at >= ?', query.from);
    if (query.to !== undefined) add('created_at <= ?', query.to);
    const filters = cursorFilters(query);
    const filterWhere = [...where];
    const filterParams = [...params];
    if (query.cursor !== undefined) add('id < ?', decodeCursor(query.cursor, filters));
    const clause = (parts: string[]) => (parts.length > 0 ? `WHERE ${parts.join(' AND ')}` : '');

    const limit = query.legacy?.perPage ?? query.limit;
    const offset = query.legacy ? (query.legacy.page - 1) * query.legacy.perPage : 0;
    const rows: Record<string, unknown>[] = await this.dataSource.query(
      `SELECT ${LIST_COLUMNS} FROM execution_logs ${clause(where)} ORDER BY id DESC LIMIT ? OFFSET ?`,
      [...params, limit + 1, offset],
    );
    const hasMore = rows.length > limit;
    const items = rows.slice(0, limit).map(rowToLog);
    const page: LogPage = { items, hasMore, nextCursor: hasMore ? encodeCursor(items[items.length - 1]!.id, filters) : null };
    if (query.legacy) {
      const [countRow] = await this.dataSource.query(`SELECT COUNT(*) AS total FROM execution_logs ${clause(filterWhere)}`, filterParams);
      page.legacy = { total: num(countRow.total), page: query.legacy.page, perPage: query.legacy.perPage };
    }
    if (query.withCount) page.count = await this.boundedCount(clause(filterWhere), filterParams, items.length + (hasMore ? 1 : 0));
    return page;
  }

  /**
   * The number of rows the filters match (every page, not only those after the cursor), read
   * through a LIMIT so it costs at most `countLimits.rows` index entries; on MySQL/MariaDB also
   * cut at `countLimits.seconds` (MariaDB's max_statement_time, MySQL 8's MAX_EXECUTION_TIME
   * hint: neither server knows the other's). A cut count is labelled inexact and is a
   * lower bound: the cap, or after a timeout the rows this page has seen.
   */
  private async boundedCount(filter: string, params: unknown[], seen: number): Promise<LogCount> {
    const cap = this.countLimits.rows;
    const sql = `SELECT COUNT(*) AS n FROM (SELECT 1 AS one FROM execution_logs ${filter} LIMIT ?) capped`;
    const mysql = isMysql(this.dataSource);
    try {
      let statement = sql;
      if (mysql) {
        const seconds = Number(this.countLimits.seconds);
        statement = (await this.serverIsMariaDb())
          ? `SET STATEMENT max_statement_time = ${seconds} FOR ${sql}`
          : sql.replace(/^SELECT /, `SELECT /*+ MAX_EXECUTION_TIME(${Math.max(1, Math.round(seconds * 1000))}) */ `);
      }
      const [row] = await this.dataSource.query(statement, [...params, cap + 1]);
      const n = num(row.n);
      return n > cap ? { value: cap, exact: false } : { value: n, exact: true };
    } catch (error) {
      if (mysql && isStatementTimeout(error)) return { value: seen, exact: false };
      throw error;
    }
  }

  private mariaDb?: Promise<boolean>;

  /** Asked once: a mysql:// URL may point at MariaDB, so the URL's scheme cannot tell. */
  private serverIsMariaDb(): Promise<boolean> {
    this.mariaDb ??= this.dataSource
      .query('SELECT VERSION() AS version')
      .then((rows: { version: string }[]) => /mariadb/i.test(String(rows[0]?.version)))
      .catch((error: unknown) => {
        this.mariaDb = undefined;
        throw error;
      });
    return this.mariaDb;
  }

  async get(id: number): Promise<ExecutionLog> {
    const rows: Record<string, unknown>[] = await this.dataSource.query('SELECT * FROM execution_logs WHERE id = ?', [id]);
    if (rows.length === 0) throw DomainError.field('EXECUTION_LOG_NOT_FOUND', 'id', `Execution log ${id} does not exist`);
    return rowToLog(rows[0]!);
  }

  // --- Retention steps (src/retention/): day partitions on MySQL/MariaDB, batched deletes ------

  /**
   * The partitions of the table (MySQL/MariaDB, see the ExecutionLogsByDay migration), oldest
   * first, with the server's estimate of their rows; null when it has none (always on SQLite).
   */
  async partitions(): Promise<LogPartition[] | null> {
    if (!this.sql.mysql) return null;
    const rows = await this.sql.queryMysql(
      `SELECT PARTITION_NAME AS name, PARTITION_DESCRIPTION AS bound, TABLE_ROWS AS n FROM information_schema.PARTITIONS
        WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'execution_logs' AND PARTITION_NAME IS NOT NULL
        ORDER BY PARTITION_ORDINAL_POSITION`,
    );
    if (rows.length === 0) return null;
    return rows.map((row) => ({ name: String(row.name), lessThan: row.bound === 'MAXVALUE' ? null : num(row.bound), rows: num(row.n ?? 0) }));
  }

  /**
   * Adds day partitions (oldest first, after every bounded one): split off the MAXVALUE
   * partition `future`, which is empty while retention runs, so no row moves; with no MAXVALUE
   * partition, they are appended together with a new one, `p_future`.
   */
  async addPartitions(days: readonly { name: string; lessThan: number }[], future: string | null): Promise<void> {
    if (days.length === 0) return;
    const parts = days.map((day) => `PARTITION ${partitionName(day.name)} VALUES LESS THAN (${Math.trunc(day.lessThan)})`);
    if (future === null) {
      await this.alterPartitions(`ALTER TABLE execution_logs ADD PARTITION (${parts.join(', ')}, PARTITION p_future VALUES LESS THAN MAXVALUE)`);
    } else {
      const name = partitionName(future);
      await this.alterPartitions(`ALTER TABLE execution_logs REORGANIZE PARTITION ${name} INTO (${parts.join(', ')}, PARTITION ${name} VALUES LESS THAN MAXVALUE)`);
    }
  }

  /** Drops whole partitions: their rows go at once, with no row-by-row delete and no lock on the others' rows. */
  async dropPartitions(names: readonly string[]): Promise<void> {
    if (names.length > 0) await this.alterPartitions(`ALTER TABLE execution_logs DROP PARTITION ${names.map(partitionName).join(', ')}`);
  }

  /**
   * A partition change waits at most PARTITION_LOCK_WAIT_SECONDS for the table's metadata lock
   * (held by statements in progress): while it waits, every later statement on the table waits
   * behind it, inserts too. Past that it fails (errno 1205) and retention tries again later.
   */
  private alterPartitions(statement: string): Promise<void> {
    return this.sql.onPooledConnection(async (session) => {
      await session.query(`SET SESSION lock_wait_timeout = ${PARTITION_LOCK_WAIT_SECONDS}`);
      try {
        await session.query(statement);
      } finally {
        await session.query('SET SESSION lock_wait_timeout = DEFAULT');
      }
    });
  }

  /**
   * The id of the newest row created before `cutoff` (the highest id of the latest such
   * created_at): where retention's walk by id ends. Null when there is none. Two lookups in an
   * index on created_at (an ORDER BY created_at DESC, id DESC would sort across partitions).
   */
  async newestCreatedBefore(cutoff: number): Promise<number | null> {
    const [row] = await this.dataSource.query(
      'SELECT MAX(id) AS id FROM execution_logs WHERE created_at = (SELECT MAX(created_at) FROM execution_logs WHERE created_at < ?)',
      [cutoff],
    );
    return row?.id === null || row?.id === undefined ? null : num(row.id);
  }

  /**
   * One batch of retention's walk: the ids in (afterId, upTo] of rows created before `cutoff`,
   * ascending, at most `limit`; read along the primary key (the range is bounded, so the walk
   * never reads past the expired rows).
   */
  async expiredIds(cutoff: number, afterId: number, upTo: number, limit: number): Promise<number[]> {
    const rows: { id: unknown }[] = await this.dataSource.query(
      `SELECT id FROM execution_logs ${this.sql.mysql ? 'FORCE INDEX (PRIMARY)' : ''} WHERE id > ? AND id <= ? AND created_at < ? ORDER BY id LIMIT ?`,
      [afterId, upTo, cutoff, limit],
    );
    return rows.map((row) => num(row.id));
  }

  /** Deletes the rows with ids in [first, last] created before `cutoff` (one batch of the walk); answers how many went. */
  async deleteExpired(cutoff: number, first: number, last: number): Promise<number> {
    const sql = 'DELETE FROM execution_logs WHERE id >= ? AND id <= ? AND created_at < ?';
    if (!this.sql.mysql) return this.sql.transactionSqlite(() => this.sql.statement(sql).run(first, last, cutoff).changes);
    return (await this.sql.onPooledConnection((session) => session.write(sql, [first, last, cutoff]))).affectedRows;
  }
}

/** The filters a cursor is bound to (see src/common/list-cursor.ts), normalised: a date is its epoch milliseconds. */
function cursorFilters(query: LogQuery): CursorFilters {
  return [query.handlerId, query.eventType, query.eventId, query.status, query.errorText, query.from, query.to];
}

/** MariaDB's "Query execution was interrupted (max_statement_time exceeded)" (ER_STATEMENT_TIMEOUT, 1969). */
function isStatementTimeout(error: unknown): boolean {
  const driver = (error as { driverError?: { errno?: number; code?: string } } | null)?.driverError ?? (error as { errno?: number; code?: string } | null);
  // MariaDB's max_statement_time (1969), MySQL 8's MAX_EXECUTION_TIME (3024).
  return driver?.errno === 1969 || driver?.errno === 3024 || driver?.code === 'ER_STATEMENT_TIMEOUT' || driver?.code === 'ER_QUERY_TIMEOUT';
}

function escapeLike(text: string): string {
  return text.replace(/[!%_]/g, (c) => `!${c}`);
}

// --- Retention (src/retention/): the partitions of execution_logs ----------------------------

/** A partition of `execution_logs` (MySQL/MariaDB): rows with `created_at` below `lessThan` (null: MAXVALUE) and not in an earlier one. */
export interface LogPartition {
  name: string;
  lessThan: number | null;
  /** The server's estimate (information_schema.PARTITIONS.TABLE_ROWS). */
  rows: number;
}

/** How long a partition change waits for the table's metadata lock. */
const PARTITION_LOCK_WAIT_SECONDS = 2;

/** A partition name as SQL: only names of letters, digits and underscores are ever made or read. */
function partitionName(name: string): string {
  if (!/^\w{1,64}$/.test(name)) throw new Error(`Unexpected partition name ${JSON.stringify(name)}`);
  return `\`${name}\``;
}
