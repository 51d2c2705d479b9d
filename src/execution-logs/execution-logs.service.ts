import { Injectable, Logger } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { AppConfig } from '../config/app-config.js';
import { DomainError } from '../common/errors.js';
import { insertedId, isMysql, num, placeholders } from '../database/sql.js';
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
const CLEANUP_BATCH = 1000;

@Injectable()
export class ExecutionLogsService {
  private readonly logger = new Logger(ExecutionLogsService.name);

  constructor(
    private readonly dataSource: DataSource,
    private readonly config: AppConfig,
  ) {}

  /** Writes log rows, inside the caller's transaction when one is given. Returns the new id when one record is written. */
  async insert(records: readonly ExecutionLogRecord[], manager: EntityManager = this.dataSource.manager): Promise<number> {
    if (records.length === 0) return 0;
    const sql = `INSERT INTO execution_logs (${LOG_COLUMNS.join(', ')}) VALUES ${placeholders(records.length, LOG_COLUMNS.length)}`;
    const raw = await manager.query(sql, records.flatMap(logValues));
    return insertedId(raw);
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

  /** Deletes rows older than the retention period, a batch at a time so no lock is held for long. */
  async removeExpired(now = Date.now()): Promise<number> {
    const cutoff = now - this.config.logs.retentionDays * 86_400_000;
    let removed = 0;
    for (;;) {
      const rows: { id: number }[] = await this.dataSource.query(
        'SELECT id FROM execution_logs WHERE created_at < ? ORDER BY id LIMIT ?',
        [cutoff, CLEANUP_BATCH],
      );
      if (rows.length === 0) break;
      const ids = rows.map((row) => Number(row.id));
      await this.dataSource.query(`DELETE FROM execution_logs WHERE id IN (${ids.map(() => '?').join(', ')})`, ids);
      removed += ids.length;
      if (rows.length < CLEANUP_BATCH) break;
    }
    if (removed > 0) this.logger.log(`Removed ${removed} execution logs older than ${this.config.logs.retentionDays} days`);
    return removed;
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
