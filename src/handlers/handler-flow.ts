import { num, numOrNull, placeholders } from '../database/sql.js';
import type { Row } from '../database/direct-sql.js';
import type { CircuitState, RatePeriod } from './handler.entity.js';

/**
 * The flow state of handlers (columns of `handlers`, rows of `handler_pauses`) as statements
 * for the dispatcher's transactions: the claim reads it and takes rate-limit tokens and the
 * circuit's probe (src/dispatcher/flow-control.ts); the outcome writer counts failures (in a
 * row, and in a window of calls when the failure-rate rule is on), opens and closes the
 * circuit and holds a handler after a Retry-After (src/dispatcher/outcome-writer.ts). Like the
 * failure streak (failure-streak.ts), none of this bumps `updated_at` or makes a change-feed
 * row: every claim reads it afresh.
 */
export interface HandlerFlow {
  handlerId: number;
  /** Null when the handler was deleted. */
  status: string | null;
  maxConcurrency: number | null;
  rateLimit: number | null;
  ratePeriod: RatePeriod | null;
  rateTat: number | null;
  holdUntil: number | null;
  circuitState: CircuitState;
  circuitRetryAt: number | null;
  /** A pause or maintenance window covers the time asked about. */
  paused: boolean;
}

export interface Statement {
  sql: string;
  params: unknown[];
}

/** Is any pause of handler `h` in force at the time given (twice) as parameters. */
const PAUSED = `EXISTS (SELECT 1 FROM handler_pauses z WHERE z.handler_id = h.id AND z.starts_at <= ? AND (z.ends_at IS NULL OR z.ends_at > ?))`;
const FLOW_COLUMNS = `h.id, h.status, h.max_concurrency, h.rate_limit, h.rate_period, h.rate_tat, h.hold_until, h.circuit_state, h.circuit_retry_at,
  CASE WHEN ${PAUSED} THEN 1 ELSE 0 END AS paused`;

/**
 * The flow columns of handler `h` at a time, for a statement that joins `handlers h` (the
 * queue's read of the handlers with pending deliveries, on MySQL/MariaDB: one round trip for
 * both); its parameters are flowParams(now), before any other of the statement's.
 */
export const FLOW_SELECT = FLOW_COLUMNS.replace('h.id, h.status', 'h.status');
export function flowParams(now: number): number[] {
  return [now, now];
}

/** The flow of these handlers at `now`; handlers that no longer exist are left out. */
export function readFlow(ids: readonly number[], now: number): Statement {
  return { sql: `SELECT ${FLOW_COLUMNS} FROM handlers h WHERE h.id IN ${placeholders(1, ids.length)}`, params: [now, now, ...ids] };
}

/**
 * MySQL/MariaDB: the rate limiter's and the circuit's columns of these handlers, locked until
 * the claim's transaction ends, so that workers claiming at once take tokens and the probe one
 * after the other. Locked in id order: two claims never wait on each other in a cycle.
 */
export function lockFlow(ids: readonly number[]): Statement {
  return {
    sql: `SELECT id, rate_tat, circuit_state, circuit_retry_at FROM handlers WHERE id IN ${placeholders(1, ids.length)} ORDER BY id FOR UPDATE`,
    params: [...ids],
  };
}

export function toFlow(row: Row): HandlerFlow {
  return {
    handlerId: num(row.id),
    status: row.status === null || row.status === undefined ? null : String(row.status),
    maxConcurrency: numOrNull(row.max_concurrency),
    rateLimit: numOrNull(row.rate_limit),
    ratePeriod: (row.rate_period as RatePeriod | null) ?? null,
    rateTat: numOrNull(row.rate_tat),
    holdUntil: numOrNull(row.hold_until),
    circuitState: (row.circuit_state as CircuitState | null) ?? 'closed',
    circuitRetryAt: numOrNull(row.circuit_retry_at),
    paused: num(row.paused ?? 0) === 1,
  };
}

/** The locked columns (lockFlow) over a flow read without the lock. */
export function withLocked(flow: HandlerFlow, row: Row): HandlerFlow {
  return {
    ...flow,
    rateTat: numOrNull(row.rate_tat),
    circuitState: (row.circuit_state as CircuitState | null) ?? 'closed',
    circuitRetryAt: numOrNull(row.circuit_retry_at),
  };
}

/** The rate limiter's next theoretical arrival time, after the claim took tokens. */
export function takeTokens(handlerId: number, tat: number): Statement {
  return { sql: 'UPDATE handlers SET rate_tat = ? WHERE id = ?', params: [tat, handlerId] };
}

/**
 * Half-open: the cool-down is over and this claim sends the one probe; until `deadline` no other
 * claim sends one (after it, the probe is given up for lost, its worker gone).
 */
export function startProbe(handlerId: number, now: number, deadline: number): Statement {
  return {
    sql: "UPDATE handlers SET circuit_state = 'half_open', circuit_retry_at = ? WHERE id = ? AND circuit_state IN ('open', 'half_open') AND circuit_retry_at <= ?",
    params: [deadline, handlerId, now],
  };
}

/** Counts failed calls since the last success. */
export function countFailures(handlerId: number, failures: number): Statement {
  return { sql: 'UPDATE handlers SET circuit_failures = circuit_failures + ? WHERE id = ?', params: [failures, handlerId] };
}

/** Opens a closed circuit once `threshold` failures in a row are counted; changes one row when it opened. */
export function openCircuit(handlerId: number, threshold: number, now: number, retryAt: number, reason: string): Statement {
  return {
    sql: `UPDATE handlers SET circuit_state = 'open', circuit_since = ?, circuit_reason = ?, circuit_retry_at = ?, circuit_opens = 1
           WHERE id = ? AND circuit_state = 'closed' AND circuit_failures >= ?`,
    params: [now, reason.slice(0, 500), retryAt, handlerId, threshold],
  };
}

/**
 * The failure-rate rule: counts `calls` calls, `failures` of them failed, in the handler's
 * window of calls, or starts a new window with them when the current one began `windowMs`
 * ago or more (a tumbling window; none after the circuit closed). Only while the circuit is
 * closed: what happens while it is open is judged by its probe.
 *
 * MySQL/MariaDB assigns SET columns left to right, each later one seeing the values already
 * assigned, where SQLite sees the old row throughout: the window's start is assigned last, so
 * both test the old start for every column.
 */
export function countWindow(handlerId: number, calls: number, failures: number, now: number, windowMs: number): Statement {
  const stale = 'circuit_window_start IS NULL OR circuit_window_start <= ?';
  const expired = now - windowMs;
  return {
    sql: `UPDATE handlers SET
             circuit_window_calls = CASE WHEN ${stale} THEN ? ELSE circuit_window_calls + ? END,
             circuit_window_failures = CASE WHEN ${stale} THEN ? ELSE circuit_window_failures + ? END,
             circuit_window_start = CASE WHEN ${stale} THEN ? ELSE circuit_window_start END
           WHERE id = ? AND circuit_state = 'closed'`,
    params: [expired, calls, calls, expired, failures, failures, expired, now, handlerId],
  };
}

/**
 * Opens a closed circuit once the window holds at least `minCalls` calls of which at least
 * `rateBasisPoints` ten-thousandths failed (integers on both sides: no rounding of a fraction
 * decides); changes one row when it opened.
 */
export function openCircuitByRate(handlerId: number, minCalls: number, rateBasisPoints: number, now: number, retryAt: number, reason: string): Statement {
  return {
    sql: `UPDATE handlers SET circuit_state = 'open', circuit_since = ?, circuit_reason = ?, circuit_retry_at = ?, circuit_opens = 1
           WHERE id = ? AND circuit_state = 'closed' AND circuit_window_calls >= ? AND circuit_window_failures * 10000 >= ? * circuit_window_calls`,
    params: [now, reason.slice(0, 500), retryAt, handlerId, minCalls, rateBasisPoints],
  };
}

/** The probe failed: open again, for a longer cool-down; changes one row when it re-opened. */
export function reopenCircuit(handlerId: number, now: number, retryAt: number, reason: string): Statement {
  return {
    sql: `UPDATE handlers SET circuit_state = 'open', circuit_since = ?, circuit_reason = ?, circuit_retry_at = ?, circuit_opens = circuit_opens + 1
           WHERE id = ? AND circuit_state = 'half_open'`,
    params: [now, reason.slice(0, 500), retryAt, handlerId],
  };
}

/** A call succeeded: close an open or half-open circuit, with a fresh window of calls; changes one row when it closed. */
export function closeCircuit(handlerId: number, now: number, reason: string): Statement {
  return {
    sql: `UPDATE handlers SET circuit_state = 'closed', circuit_since = ?, circuit_reason = ?, circuit_retry_at = NULL, circuit_opens = 0, circuit_failures = 0,
             circuit_window_start = NULL, circuit_window_calls = 0, circuit_window_failures = 0
           WHERE id = ? AND circuit_state <> 'closed'`,
    params: [now, reason.slice(0, 500), handlerId],
  };
}

/** A call succeeded: the run of failures is over. */
export function resetFailures(handlerId: number): Statement {
  return { sql: 'UPDATE handlers SET circuit_failures = 0 WHERE id = ? AND circuit_failures > 0', params: [handlerId] };
}

/** The handler answered with a Retry-After: hold all its deliveries until then (a later hold wins). */
export function holdUntil(handlerId: number, until: number): Statement {
  return { sql: 'UPDATE handlers SET hold_until = ? WHERE id = ? AND (hold_until IS NULL OR hold_until < ?)', params: [until, handlerId, until] };
}

/**
 * For a claim of the next delivery of an event (DeliveryQueue's finish and claim next): true
 * of a delivery whose handler is free of flow control now, so the claim needs no tokens and no
 * probe: no rate limit, circuit closed, no Retry-After hold, not paused. A deleted handler is
 * free (its delivery is skipped). Its parameters: freeHandlerParams.
 */
export const FREE_HANDLER = `NOT EXISTS (SELECT 1 FROM handlers h WHERE h.id = d.handler_id
    AND (h.rate_limit IS NOT NULL OR h.circuit_state <> 'closed' OR h.hold_until > ? OR ${PAUSED}))`;

/** The parameters of FREE_HANDLER at `now`. */
export function freeHandlerParams(now: number): number[] {
  return [now, now, now];
}
