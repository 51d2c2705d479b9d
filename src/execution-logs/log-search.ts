import { ERROR_KINDS, ErrorKind } from '../calls/call-result.js';
import type { LogStatus } from './execution-log.js';

/** What a list of execution logs is narrowed by; absent fields do not narrow it. */
export interface LogFilters {
  handlerId?: number;
  eventType?: string;
  eventId?: number;
  objectId?: number;
  status?: LogStatus;
  errorKind?: ErrorKind;
  /** Text the error contains, any case. */
  errorText?: string;
  /** created_at at or after (epoch ms). */
  from?: number;
  /** created_at at or before (epoch ms). */
  to?: number;
}

/** A condition of a WHERE clause with its parameters. */
export interface Condition {
  sql: string;
  params: unknown[];
}

/**
 * How one list is read. Every list is newest first by id (the keyset cursor), so it walks an
 * index whose order within one equality is the id — `(handler_id, id)` and the like — or the
 * primary key. Such a walk reaches only rows that match, already in the list's order: a page
 * costs its own rows, whatever the size of the table. (Every index ends with the id: SQLite's
 * entries end with the rowid; on MySQL/MariaDB the indexes name `id`, since on the table
 * partitioned by day the optimizer orders by the appended primary key only within a partition,
 * see 1765800000000-log-indexes-name-the-id.ts.) A status is several ranges of
 * `(status, error_kind)`, one per error kind, merged newest first.
 *
 * Filters the walk does not answer by itself (a second equality, the error text) are
 * `residual`: each row the walk reaches is tested, so a page may pass over many rows to fill.
 * Such a list is a search, and a search examines at most a window of rows per page
 * (LOG_SEARCH_WINDOW_ROWS; ExecutionLogsService.list).
 *
 * A date range becomes an id range (LogDates.idsDated, ./log-dates.ts); `timeBounds` are the exact
 * created_at tests, which only the rows at the two edges of that id range can fail.
 */
export interface SearchPlan {
  /** The index walked, or null for the primary key. */
  index: string | null;
  /** The equality of each range walked (one, or several merged; none on the primary key). */
  ranges: Condition[][];
  residual: Condition[];
  timeBounds: Condition[];
}

/** The index of outcomes, `(status, error_kind)`: one range per status and error kind, each in id order. */
const OUTCOME_INDEX = 'idx_logs_outcome';

/**
 * The filters that can be walked, most selective first. One event has a row per handler and
 * attempt, one object a few events, one error kind (or the skipped calls) a small share of the
 * calls; a handler or an event type can be a large share, and failures or successes most of
 * them. A status of failures or successes is several ranges of many rows: it is walked only when
 * no other filter can be.
 */
type Walk = { filter: keyof LogFilters; index: string; ranges: (filters: LogFilters) => Condition[][]; onlyAlone?: boolean };
const eq = (sql: string, value: unknown): Condition => ({ sql, params: [value] });
const WALKS: readonly Walk[] = [
  { filter: 'eventId', index: 'idx_logs_event', ranges: (f) => [[eq('event_id = ?', f.eventId)]] },
  { filter: 'objectId', index: 'idx_logs_object', ranges: (f) => [[eq('object_id = ?', f.objectId)]] },
  { filter: 'errorKind', index: OUTCOME_INDEX, ranges: (f) => [outcomeRange(statusOf(f.errorKind!), f.errorKind!)] },
  { filter: 'status', index: OUTCOME_INDEX, ranges: (f) => (f.status === 'skipped' ? statusRanges('skipped') : []) },
  { filter: 'handlerId', index: 'idx_logs_handler', ranges: (f) => [[eq('handler_id = ?', f.handlerId)]] },
  { filter: 'eventType', index: 'idx_logs_events_id', ranges: (f) => [[eq('events_id = ?', f.eventType)]] },
  { filter: 'status', index: OUTCOME_INDEX, ranges: (f) => (f.status === 'skipped' ? [] : statusRanges(f.status!)), onlyAlone: true },
];

/** The status every row of an error kind has: skipped calls are `skipped`, every other failure `fail`. */
function statusOf(kind: ErrorKind): LogStatus {
  return kind === 'skipped' ? 'skipped' : 'fail';
}

function outcomeRange(status: LogStatus, kind: ErrorKind | null): Condition[] {
  return [eq('status = ?', status), kind === null ? { sql: 'error_kind IS NULL', params: [] } : eq('error_kind = ?', kind)];
}

/**
 * The ranges of one status. A success has no error kind. A failed or skipped call has one, except
 * rows an instance of an earlier version wrote during an upgrade (no kind): hence the null range.
 */
function statusRanges(status: LogStatus): Condition[][] {
  if (status === 'success') return [outcomeRange('success', null)];
  return [...ERROR_KINDS.filter((kind) => statusOf(kind) === status).map((kind) => outcomeRange(status, kind)), outcomeRange(status, null)];
}

/** The walk most likely to be short for these filters (see searchPlans). */
export function planSearch(filters: LogFilters): SearchPlan {
  return searchPlans(filters)[0]!;
}

/**
 * Every way to read a list, most selective walk first: one per filter that can be walked (a
 * status of failures or successes only when nothing else can), each testing the other filters
 * on its rows; the primary key when no filter can be walked. A search picks among them by how
 * far back each one's window reaches (ExecutionLogsService.pageOf).
 */
export function searchPlans(filters: LogFilters): SearchPlan[] {
  const walkable = WALKS.filter((walk) => filters[walk.filter] !== undefined && walk.ranges(filters).length > 0);
  const walks = walkable.filter((walk) => !walk.onlyAlone || walkable.length === 1);
  return walks.length === 0 ? [planOf(filters, undefined)] : walks.map((walk) => planOf(filters, walk));
}

function planOf(filters: LogFilters, walk: Walk | undefined): SearchPlan {
  const residual: Condition[] = [];
  // Every filter the walk does not answer is tested on each row it reaches.
  const answered = new Set<keyof LogFilters>(walk ? [walk.filter] : []);
  if (walk?.filter === 'errorKind' && filters.status !== undefined) answered.add('status'); // the kind's range has its status
  if (filters.eventId !== undefined && !answered.has('eventId')) residual.push(eq('event_id = ?', filters.eventId));
  if (filters.objectId !== undefined && !answered.has('objectId')) residual.push(eq('object_id = ?', filters.objectId));
  if (filters.errorKind !== undefined && !answered.has('errorKind')) residual.push(eq('error_kind = ?', filters.errorKind));
  if (filters.status !== undefined && !answered.has('status')) residual.push(eq('status = ?', filters.status));
  if (filters.handlerId !== undefined && !answered.has('handlerId')) residual.push(eq('handler_id = ?', filters.handlerId));
  if (filters.eventType !== undefined && !answered.has('eventType')) residual.push(eq('events_id = ?', filters.eventType));
  if (filters.errorText !== undefined) residual.push({ sql: "LOWER(error) LIKE ? ESCAPE '!'", params: [`%${escapeLike(filters.errorText.toLowerCase())}%`] });
  const timeBounds: Condition[] = [];
  if (filters.from !== undefined) timeBounds.push(eq('created_at >= ?', filters.from));
  if (filters.to !== undefined) timeBounds.push(eq('created_at <= ?', filters.to));
  return { index: walk?.index ?? null, ranges: walk ? walk.ranges(filters) : [[]], residual, timeBounds };
}

/**
 * Filters no row can match, answered without reading: a success has no error, a skipped call no
 * other kind than `skipped`, a failed call not that one, and no row is dated after its own
 * upper bound.
 */
export function matchesNothing(filters: LogFilters): boolean {
  const { status, errorKind } = filters;
  if (status === 'success' && (errorKind !== undefined || filters.errorText !== undefined)) return true;
  if (status !== undefined && errorKind !== undefined && statusOf(errorKind) !== status) return true;
  return filters.from !== undefined && filters.to !== undefined && filters.from > filters.to;
}

/** `execution_logs` read through the plan's index: the planner's own choice may walk the wrong one (the known far-past date range). */
export function tableThrough(index: string | null, mysql: boolean): string {
  if (mysql) return `execution_logs FORCE INDEX (${index ?? 'PRIMARY'})`;
  // SQLite: NOT INDEXED still reaches rows by rowid (the id), which is the walk wanted.
  return index === null ? 'execution_logs NOT INDEXED' : `execution_logs INDEXED BY ${index}`;
}

export function whereOf(conditions: readonly Condition[]): { sql: string; params: unknown[] } {
  return { sql: conditions.length > 0 ? `WHERE ${conditions.map((c) => c.sql).join(' AND ')}` : '', params: conditions.flatMap((c) => c.params) };
}

function escapeLike(text: string): string {
  return text.replace(/[!%_]/g, (c) => `!${c}`);
}
