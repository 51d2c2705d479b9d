import type { ErrorKind } from '../calls/call-result.js';
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
 * How one list is read. Every list is newest first by id (the keyset cursor), so it walks one
 * index whose order within its equality is the id: `(handler_id, id)` and the like, or the
 * primary key. The walk reads only rows that match its equality, in the list's order: a page
 * costs its own rows, whatever the size of the table.
 *
 * Filters the walk does not answer (a second equality, the error text) are `residual`: each row
 * the walk reaches is tested, so a page may have to pass over many rows to fill. Such a list is
 * a search, and a search examines at most the window (LOG_SEARCH_WINDOW_ROWS) per page.
 *
 * The date range is turned into an id range (see ExecutionLogsService.idRange); `timeBounds`
 * are the exact created_at tests of the rows at its two edges.
 */
export interface SearchPlan {
  /** The index walked, or null for the primary key. */
  index: string | null;
  /** The walk's equality on the index's first column (none for the primary key). */
  access: Condition[];
  residual: Condition[];
  timeBounds: Condition[];
}

/**
 * The equality filters each with its index, most selective first: the first one present is
 * walked. One event has a row per handler and attempt, one object a few events, one error kind
 * (or a skipped or failed status) a small share of the calls; a handler or an event type can
 * be a large share, and success nearly all of them.
 */
const WALKS: readonly { filter: 'eventId' | 'objectId' | 'errorKind' | 'handlerId' | 'eventType' | 'status'; index: string; column: string }[] = [
  { filter: 'eventId', index: 'idx_logs_event', column: 'event_id' },
  { filter: 'objectId', index: 'idx_logs_object', column: 'object_id' },
  { filter: 'errorKind', index: 'idx_logs_error_kind', column: 'error_kind' },
  { filter: 'handlerId', index: 'idx_logs_handler', column: 'handler_id' },
  { filter: 'eventType', index: 'idx_logs_events_id', column: 'events_id' },
  { filter: 'status', index: 'idx_logs_status', column: 'status' },
];

export function planSearch(filters: LogFilters): SearchPlan {
  const present = WALKS.filter((walk) => filters[walk.filter] !== undefined);
  const equality = (walk: (typeof WALKS)[number]): Condition => ({ sql: `${walk.column} = ?`, params: [filters[walk.filter]] });
  const residual = present.slice(1).map(equality);
  if (filters.errorText !== undefined) residual.push({ sql: "LOWER(error) LIKE ? ESCAPE '!'", params: [`%${escapeLike(filters.errorText.toLowerCase())}%`] });
  const timeBounds: Condition[] = [];
  if (filters.from !== undefined) timeBounds.push({ sql: 'created_at >= ?', params: [filters.from] });
  if (filters.to !== undefined) timeBounds.push({ sql: 'created_at <= ?', params: [filters.to] });
  const walk = present[0];
  return { index: walk?.index ?? null, access: walk ? [equality(walk)] : [], residual, timeBounds };
}

/**
 * Filters no row can match, answered without reading: a success has no error, a skipped call
 * no other kind, a failed call is not of kind `skipped`, and no row is dated after its own
 * upper bound.
 */
export function matchesNothing(filters: LogFilters): boolean {
  const { status, errorKind } = filters;
  if (status === 'success' && (errorKind !== undefined || filters.errorText !== undefined)) return true;
  if (status === 'skipped' && errorKind !== undefined && errorKind !== 'skipped') return true;
  if (status === 'fail' && errorKind === 'skipped') return true;
  return filters.from !== undefined && filters.to !== undefined && filters.from > filters.to;
}

/** `FROM execution_logs` reading through the plan's index: the planner's own choice may walk the wrong one (the known far-past date range). */
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
