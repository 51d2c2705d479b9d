import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { AppConfig } from '../config/app-config.js';
import { DomainError } from '../common/errors.js';
import { DirectSql, MysqlSession, SqlStatement } from '../database/direct-sql.js';
import { isMysql, num, placeholders } from '../database/sql.js';
import { EventStore } from '../events/event-store.js';
import { ExecutionLog, ExecutionLogRecord, LOG_COLUMNS, logValues, readPayload, rowToLog } from './execution-log.js';
import { CursorFilters, decodeCursor, encodeCursor } from '../common/list-cursor.js';
import { ExecutionLogPartitions } from './execution-log-partitions.js';
import { IdRange, LogDates, NO_ID_LIMIT } from './log-dates.js';
import { Condition, LogFilters, matchesNothing, planSearch, SearchPlan, searchPlans, tableThrough, whereOf } from './log-search.js';

export interface LogQuery extends LogFilters {
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

/** Set on a page of a search that ended at the search window before it was full. */
export interface SearchWindow {
  /** The most rows one page examines. */
  rows: number;
  /** The creation time of the oldest row this page examined: next_cursor searches on from there. */
  searchedBackTo: number;
}

export interface LogPage {
  items: ExecutionLog[];
  nextCursor: string | null;
  hasMore: boolean;
  count?: LogCount;
  searchWindow?: SearchWindow;
  legacy?: { total: number; page: number; perPage: number };
}

/** Where the request payload of a log detail came from. */
export type PayloadSource = 'stored' | 'event' | 'removed';

export interface ExecutionLogDetail extends ExecutionLog {
  requestPayload: string | null;
  payloadSource: PayloadSource;
}

const LIST_COLUMNS =
  'id, delivery_id, event_id, events_id, handler_id, handler_name, object_id, stage, attempt, trigger_type, status, response_code, response_body, error, error_kind, duration_ms, created_at';
/** The one INSERT of log rows: `rows` rows of LOG_COLUMNS. */
function logInsert(rows: number): string {
  return `INSERT INTO execution_logs (${LOG_COLUMNS.join(', ')}) VALUES ${placeholders(rows, LOG_COLUMNS.length)}`;
}
const INSERT_ONE_LOG = logInsert(1);

/**
 * The owner of `execution_logs`, with ExecutionLogPartitions (its day partitions,
 * ./execution-log-partitions.ts): the one insert path (on its own, or inside the transaction
 * that records a delivery's outcome), the lists and their counts, the detail with the payload
 * sent, and the purge of old rows.
 */
@Injectable()
export class ExecutionLogsService {
  /** The most rows one page of a search examines (LOG_SEARCH_WINDOW_ROWS). */
  searchWindowRows: number;

  constructor(
    private readonly dataSource: DataSource,
    private readonly sql: DirectSql,
    private readonly events: EventStore,
    private readonly dates: LogDates,
    private readonly partitions: ExecutionLogPartitions,
    config: AppConfig,
  ) {
    this.searchWindowRows = config.logs.searchWindowRows;
    this.countLimits = { rows: config.logs.searchWindowRows, seconds: 2 };
  }

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
    const { sql, params } = this.insertStatementMysql(records);
    return (await session.write(sql, params)).insertId;
  }

  /** The multi-row INSERT of log rows, as a statement of the caller's script transaction on MySQL/MariaDB (DirectSql.scriptTransaction). */
  insertStatementMysql(records: readonly ExecutionLogRecord[]): SqlStatement {
    return { sql: logInsert(records.length), params: records.flatMap(logValues) };
  }

  /**
   * How far a requested count goes: it stops after `rows` matching rows (then the answer is "at
   * least `rows`"), a count of a search after examining `rows` rows, and on MySQL/MariaDB after
   * `seconds` (then it is "at least" what the page saw). `rows` is LOG_SEARCH_WINDOW_ROWS, the
   * rows a page of a search examines: a count costs what one such page costs, whatever the size
   * of the table (counting ten times the rows took ten times as long, bench:scale).
   */
  countLimits: { rows: number; seconds: number };

  /**
   * One page, newest first, by keyset on the primary key: the rows below the cursor's id, read
   * `limit + 1` at a time (the extra row only tells whether another page follows) through the
   * plan's index (src/execution-logs/log-search.ts). Rows inserted while a client pages have
   * larger ids, so they appear before the first page, never inside the walk; no row is skipped
   * or shown twice.
   *
   * A search (filters the walk does not answer by itself) examines at most searchWindowRows
   * rows of the walk per page; when they run out before the page is full, the page answers
   * what it found, `searchWindow` says how far back it looked, and next_cursor continues below.
   */
  async list(query: LogQuery): Promise<LogPage> {
    const filters = cursorFilters(query);
    const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor, filters);
    if (query.legacy) return this.legacyPage(query, filters);
    const empty: LogPage = { items: [], nextCursor: null, hasMore: false, ...(query.withCount ? { count: { value: 0, exact: true } } : {}) };
    if (matchesNothing(query)) return empty;
    const whole = await this.dates.idsDated(query);
    const range = { low: whole.low, high: after === undefined ? whole.high : Math.min(whole.high, after - 1) };
    let page: LogPage = { items: [], nextCursor: null, hasMore: false };
    let plan = planSearch(query);
    if (range.low <= range.high) {
      const chosen = await this.chooseWalk(searchPlans(query), range, this.searchWindowRows);
      plan = chosen.plan;
      page = await this.pageOf(plan, chosen.floor, range, query.limit, filters);
    }
    if (query.withCount) page.count = whole.low > whole.high ? { value: 0, exact: true } : await this.boundedCount(plan, whole, page.items.length + (page.hasMore ? 1 : 0));
    return page;
  }

  /**
   * The walk of a page. A walk that answers every filter by itself is read as it is. A search
   * examines `rows` rows of its walk at most, so of the walks it could take it reads the one
   * that reaches furthest back: of those with fewer rows than that in the range (read whole), the
   * one with fewest; else the one whose window ends at the lowest id. Each try reads at most
   * `rows` index entries per range, without the rows.
   */
  private async chooseWalk(plans: SearchPlan[], range: IdRange, rows: number): Promise<{ plan: SearchPlan; floor: number | null }> {
    if (plans[0]!.residual.length === 0) return { plan: plans[0]!, floor: null };
    const floors = await Promise.all(plans.map(async (plan) => ({ plan, floor: await this.windowFloor(plan, range, rows) })));
    const whole = floors.filter((candidate) => candidate.floor === null);
    if (whole.length === 1) return whole[0]!;
    if (whole.length > 1) {
      const sizes = await Promise.all(whole.map(async (candidate) => ({ ...candidate, size: await this.countOf(candidate.plan, idsIn(range), rows, false) })));
      return sizes.reduce((best, candidate) => (candidate.size < best.size ? candidate : best));
    }
    return floors.reduce((best, candidate) => (candidate.floor! < best.floor! ? candidate : best));
  }

  private async pageOf(plan: SearchPlan, floor: number | null, range: IdRange, limit: number, filters: CursorFilters): Promise<LogPage> {
    const windowRows = this.searchWindowRows;
    const examined = { low: floor ?? range.low, high: range.high };
    const rows = await this.rowsOf(plan, [...idsIn(examined), ...plan.timeBounds, ...plan.residual], limit + 1);
    const items = rows.slice(0, limit).map(rowToLog);
    if (rows.length > limit) return { items, hasMore: true, nextCursor: encodeCursor(items[items.length - 1]!.id, filters) };
    if (floor === null) return { items, hasMore: false, nextCursor: null };
    // The window ended before the page was full: go on below it, if the walk has rows there.
    const below = this.walk(plan, idsIn({ low: range.low, high: floor - 1 }), 'id', 1);
    const [next] = await this.dataSource.query(below.sql, below.params);
    if (next === undefined) return { items, hasMore: false, nextCursor: null };
    const [oldest] = await this.dataSource.query('SELECT created_at FROM execution_logs WHERE id >= ? ORDER BY id LIMIT 1', [floor]);
    return {
      items,
      hasMore: true,
      // Just above the walk's next row, so the next page does not examine the gap first.
      nextCursor: encodeCursor(num(next.id) + 1, filters),
      searchWindow: { rows: windowRows, searchedBackTo: num(oldest.created_at) },
    };
  }

  /**
   * The list rows of the plan's walk that meet `conditions`, newest first, at most `limit`. Several
   * ranges are merged by id first (reading their index, and rows only where a condition needs
   * them), then only the rows shown are read.
   */
  private async rowsOf(plan: SearchPlan, conditions: readonly Condition[], limit: number): Promise<Record<string, unknown>[]> {
    if (plan.ranges.length === 1) {
      const read = this.walk(plan, conditions, LIST_COLUMNS, limit);
      return this.dataSource.query(read.sql, read.params);
    }
    const merged = this.walk(plan, conditions, 'id', limit);
    const ids = ((await this.dataSource.query(merged.sql, merged.params)) as { id: unknown }[]).map((row) => num(row.id));
    if (ids.length === 0) return [];
    return this.dataSource.query(`SELECT ${LIST_COLUMNS} FROM execution_logs WHERE id IN ${placeholders(1, ids.length)} ORDER BY id DESC`, ids);
  }

  /**
   * The rows of the plan's walk that also meet `conditions`, newest first, at most `limit`:
   * one range read through its index; several, each read so and merged.
   */
  private walk(plan: SearchPlan, conditions: readonly Condition[], columns: string, limit: number): { sql: string; params: unknown[] } {
    const table = this.through(plan);
    const reads = plan.ranges.map((range) => {
      const where = whereOf([...range, ...conditions]);
      return { sql: `SELECT ${columns} FROM ${table} ${where.sql} ORDER BY id DESC LIMIT ?`, params: [...where.params, limit] };
    });
    if (reads.length === 1) return reads[0]!;
    return {
      sql: `SELECT * FROM (${reads.map((read, n) => `SELECT * FROM (${read.sql}) r${n}`).join(' UNION ALL ')}) merged ORDER BY id DESC LIMIT ?`,
      params: [...reads.flatMap((read) => read.params), limit],
    };
  }

  /**
   * The lowest id a search examines in `range` when it may examine `rows` rows of each range of
   * its walk, or null when no range has more rows than that there. On the primary key ids are
   * counted (they are assigned in order, with gaps only where rows were removed and between
   * the days' ids: ExecutionLogPartitions.lowestOfIds); on an index, its entries (read without
   * the rows).
   */
  private async windowFloor(plan: SearchPlan, range: IdRange, rows: number): Promise<number | null> {
    if (plan.index === null) {
      const high = range.high === NO_ID_LIMIT ? await this.newestId() : range.high;
      return this.partitions.lowestOfIds(high, rows, range.low);
    }
    const table = this.through(plan);
    const probes = plan.ranges.map((equality) => {
      const where = whereOf([...equality, ...idsIn(range)]);
      return { sql: `(SELECT id FROM ${table} ${where.sql} ORDER BY id DESC LIMIT 1 OFFSET ?)`, params: [...where.params, rows - 1] };
    });
    const [row] = await this.dataSource.query(`SELECT ${probes.map((probe, n) => `${probe.sql} AS f${n}`).join(', ')}`, probes.flatMap((probe) => probe.params));
    const floors = Object.values(row as Record<string, unknown>).filter((value) => value !== null && value !== undefined).map(num);
    return floors.length === 0 ? null : Math.max(...floors);
  }

  private async newestId(): Promise<number> {
    const [row] = await this.dataSource.query('SELECT id FROM execution_logs ORDER BY id DESC LIMIT 1');
    return row === undefined ? 0 : num(row.id);
  }

  private through(plan: SearchPlan): string {
    return tableThrough(plan.index, this.sql.mysql);
  }

  /** The deprecated page/per_page: OFFSET and an exact COUNT(*), both in proportion to the rows they pass (documented as slow). */
  private async legacyPage(query: LogQuery, filters: CursorFilters): Promise<LogPage> {
    const { page, perPage } = query.legacy!;
    const plan = planSearch(query);
    // Each range of a merged walk is one alternative of the WHERE.
    const ranges = plan.ranges.map((range) => (range.length === 0 ? '1 = 1' : `(${range.map((c) => c.sql).join(' AND ')})`)).join(' OR ');
    const where = whereOf([{ sql: `(${ranges})`, params: plan.ranges.flat().flatMap((c) => c.params) }, ...plan.residual, ...plan.timeBounds]);
    const rows: Record<string, unknown>[] = await this.dataSource.query(`SELECT ${LIST_COLUMNS} FROM execution_logs ${where.sql} ORDER BY id DESC LIMIT ? OFFSET ?`, [
      ...where.params,
      perPage + 1,
      (page - 1) * perPage,
    ]);
    const hasMore = rows.length > perPage;
    const items = rows.slice(0, perPage).map(rowToLog);
    const [countRow] = await this.dataSource.query(`SELECT COUNT(*) AS total FROM execution_logs ${where.sql}`, where.params);
    return {
      items,
      hasMore,
      nextCursor: hasMore ? encodeCursor(items[items.length - 1]!.id, filters) : null,
      legacy: { total: num(countRow.total), page, perPage },
    };
  }

  /**
   * The number of rows the filters match (every page, not only those after the cursor). A walk
   * that answers the filters by itself is counted through a LIMIT, so it costs at most
   * `countLimits.rows` index entries; a search counts its matches among the first
   * `countLimits.rows` rows of its walk. On MySQL/MariaDB the count also stops at
   * `countLimits.seconds` (MariaDB's max_statement_time, MySQL 8's MAX_EXECUTION_TIME hint:
   * neither server knows the other's). A cut count is labelled inexact and is a lower bound:
   * the cap, the matches found, or after a timeout the rows this page has seen.
   */
  private async boundedCount(plan: SearchPlan, range: IdRange, seen: number): Promise<LogCount> {
    const cap = this.countLimits.rows;
    try {
      if (plan.residual.length === 0) {
        // No filter and no date range: every row counts, and any index has one entry per row,
        // so the narrowest is read instead of the table's rows (the primary key's pages hold
        // whole rows, many times the pages of an index of two numbers for the same count).
        const everyRow = plan.index === null && plan.timeBounds.length === 0 && range.low <= 1 && range.high === NO_ID_LIMIT;
        const n = everyRow ? await this.countOf({ ...plan, index: NARROWEST_LOG_INDEX }, [], cap + 1) : await this.countOf(plan, [...idsIn(range), ...plan.timeBounds], cap + 1);
        return n > cap ? { value: cap, exact: false } : { value: n, exact: true };
      }
      const floor = await this.windowFloor(plan, range, cap);
      const n = await this.countOf(plan, [...idsIn({ low: floor ?? range.low, high: range.high }), ...plan.timeBounds, ...plan.residual], cap + 1);
      return { value: Math.min(n, cap), exact: floor === null && n <= cap };
    } catch (error) {
      if (this.sql.mysql && isStatementTimeout(error)) return { value: seen, exact: false };
      throw error;
    }
  }

  /** The rows of the plan's walk that meet `conditions`, counted up to `limit` per range; a requested count also within countLimits.seconds. */
  private async countOf(plan: SearchPlan, conditions: readonly Condition[], limit: number, requested = true): Promise<number> {
    const table = this.through(plan);
    const parts = plan.ranges.map((range, n) => {
      const where = whereOf([...range, ...conditions]);
      return { sql: `SELECT one FROM (SELECT 1 AS one FROM ${table} ${where.sql} LIMIT ?) c${n}`, params: [...where.params, limit] };
    });
    const sql = `SELECT COUNT(*) AS n FROM (${parts.map((part) => part.sql).join(' UNION ALL ')}) capped`;
    const params = parts.flatMap((part) => part.params);
    const [row] = requested ? await this.timeBounded(sql, params) : await this.dataSource.query(sql, params);
    return num(row!.n);
  }

  /** Runs a count with the time limit of countLimits.seconds on MySQL/MariaDB. */
  private async timeBounded(sql: string, params: unknown[]): Promise<Record<string, unknown>[]> {
    if (!isMysql(this.dataSource)) return this.dataSource.query(sql, params);
    const seconds = Number(this.countLimits.seconds);
    const statement = (await this.serverIsMariaDb())
      ? `SET STATEMENT max_statement_time = ${seconds} FOR ${sql}`
      : sql.replace(/^SELECT /, `SELECT /*+ MAX_EXECUTION_TIME(${Math.max(1, Math.round(seconds * 1000))}) */ `);
    return this.dataSource.query(statement, params);
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

  /**
   * One row with the request payload it sent: kept with the row, or rebuilt from its event (a
   * delivery) or from the earlier row of its `before` chain it refers to (LogPayload). When that
   * event or row has been removed by retention meanwhile, the payload is null and the source
   * says `removed`.
   */
  async get(id: number): Promise<ExecutionLogDetail> {
    const rows: Record<string, unknown>[] = await this.dataSource.query('SELECT * FROM execution_logs WHERE id = ?', [id]);
    if (rows.length === 0) throw DomainError.field('EXECUTION_LOG_NOT_FOUND', 'id', `Execution log ${id} does not exist`);
    const log = rowToLog(rows[0]!);
    const payload = log.requestPayload;
    if (typeof payload === 'string') return { ...log, requestPayload: payload, payloadSource: 'stored' };
    let text: string | undefined;
    if (payload === null) {
      if (log.eventId !== null) text = (await this.events.envelopeOf([log.eventId])).get(log.eventId);
    } else {
      const [same] = await this.dataSource.query('SELECT request_payload FROM execution_logs WHERE id = ?', [payload.sameAsLog]);
      const stored = same === undefined ? null : readPayload(same.request_payload);
      if (typeof stored === 'string') text = stored;
    }
    return text === undefined ? { ...log, requestPayload: null, payloadSource: 'removed' } : { ...log, requestPayload: text, payloadSource: payload === null ? 'event' : 'stored' };
  }

  // --- Retention steps (src/retention/): the batched walk (day partitions: execution-log-partitions.ts)

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

/** The filters a cursor is bound to (see src/common/list-cursor.ts), normalised: a date is its epoch milliseconds. The later filters join only when set, so cursors without them stay as they were. */
function cursorFilters(query: LogQuery): CursorFilters {
  const filters: (string | number | undefined)[] = [query.handlerId, query.eventType, query.eventId, query.status, query.errorText, query.from, query.to];
  if (query.objectId !== undefined || query.errorKind !== undefined) filters.push(query.objectId, query.errorKind);
  return filters;
}

function idsIn({ low, high }: IdRange): Condition[] {
  return [{ sql: 'id >= ?', params: [low] }, ...(high === NO_ID_LIMIT ? [] : [{ sql: 'id <= ?', params: [high] }])];
}

/** The execution-log index with the smallest entries: `(handler_id, id)`, an INT and the id. */
const NARROWEST_LOG_INDEX = 'idx_logs_handler';

/** MariaDB's "Query execution was interrupted (max_statement_time exceeded)" (ER_STATEMENT_TIMEOUT, 1969). */
function isStatementTimeout(error: unknown): boolean {
  const driver = (error as { driverError?: { errno?: number; code?: string } } | null)?.driverError ?? (error as { errno?: number; code?: string } | null);
  // MariaDB's max_statement_time (1969), MySQL 8's MAX_EXECUTION_TIME (3024).
  return driver?.errno === 1969 || driver?.errno === 3024 || driver?.code === 'ER_STATEMENT_TIMEOUT' || driver?.code === 'ER_QUERY_TIMEOUT';
}
