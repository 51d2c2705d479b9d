import { placeholders } from '../database/sql.js';
import type { SqlStatement } from '../database/direct-sql.js';
import { FLOW_SELECT, FREE_HANDLER, freeHandlerParams } from '../handlers/handler-flow.js';
import type { ClaimShare, NextClaimFlow } from './delivery.js';

/*
 * The SQL texts of the queue's claims (src/queue/delivery-queue.ts runs them): which deliveries
 * may be claimed, the shares of a claim, the next delivery of an event, the lease, and the
 * columns a claim answers.
 */

/**
 * A due delivery may be claimed when it does not hold its object's order, or when no earlier
 * delivery on the same object (earlier event, or earlier handler of the same event) still does.
 * That one condition gives both orders the README names (Dispatch, Order): handlers of an
 * event one after another by priority, and events about one object in the order they were
 * accepted.
 *
 * The deliveries of `released` handlers (held: paused, circuit open, Retry-After) hold the
 * order only for their own handler: they keep their order among themselves for when the hold
 * ends, and stop holding up the other handlers of the object. Parameters: the time, then the
 * released handler ids.
 */
export function claimable(released: number): string {
  const own = released === 0 ? '' : `AND (p.handler_id = d.handler_id OR p.handler_id NOT IN ${placeholders(1, released)})`;
  return `
  d.status = 'pending' AND d.next_attempt_at <= ?
  AND (d.holds_order = 0 OR NOT EXISTS (
    SELECT 1 FROM deliveries p
     WHERE p.object_key = d.object_key AND p.holds_order = 1
       AND (p.event_id < d.event_id OR (p.event_id = d.event_id AND p.seq < d.seq)) ${own}))`;
}

/** The handler's state a claim reads with each delivery (ClaimedDelivery.handlerRow). */
export const HANDLER_COLUMNS = `h.status AS handler_status, h.failing_since, h.updated_at AS handler_updated_at,
  h.max_concurrency, h.rate_limit, h.circuit_state, h.circuit_failures, h.circuit_opens`;

/**
 * What a claim hands the worker: the delivery, its event and its handler's current state. The
 * join on `events` is the one place outside src/events/event-store.ts that reads that table:
 * a claim answers the event with the delivery in the same statement (docs/ARCHITECTURE.md, Tables).
 */
export const CLAIMED_COLUMNS = `d.id, d.event_id, d.handler_id, d.seq, d.attempts, d.manual, d.holds_order,
  e.events_id, e.object_id, e.dt, e.data, e.trace_parent, ${HANDLER_COLUMNS}
  FROM deliveries d JOIN events e ON e.id = d.event_id LEFT JOIN handlers h ON h.id = d.handler_id`;

export const SQLITE_CLAIMED = `SELECT ${CLAIMED_COLUMNS} WHERE d.id IN (SELECT value FROM json_each(?)) ORDER BY d.id`;

/**
 * The handlers that have pending deliveries, each with its earliest `next_attempt_at`, read
 * along idx_deliveries_handler_due (status, handler_id, next_attempt_at, id): an index seek or
 * two per handler, however many deliveries each has waiting. A claim plans its shares from
 * this, so a handler holding a million deliveries costs it no more than one holding one.
 *
 * SQLite: a recursive query that seeks the next handler id at each step (a loose index scan).
 * MySQL/MariaDB read such a correlated step (`handler_id > previous`) as a scan of every
 * pending entry, and choose a loose scan for GROUP BY only when their statistics say so; what
 * they serve in one seek whatever the statistics is `handler_id = x ORDER BY next_attempt_at
 * LIMIT 1`. So there the candidates are the enabled handlers, and the handler ids a periodic
 * discovery (`pendingHandlerIdsMysql`, about a second apart) found: disabled, archived and
 * deleted handlers, whose deliveries are skipped when claimed.
 */
export const PENDING_HANDLERS_SQLITE = `WITH RECURSIVE pending_handlers (handler_id) AS (
    SELECT MIN(handler_id) FROM deliveries WHERE status = 'pending'
    UNION ALL
    SELECT (SELECT MIN(n.handler_id) FROM deliveries n WHERE n.status = 'pending' AND n.handler_id > pending_handlers.handler_id)
      FROM pending_handlers WHERE pending_handlers.handler_id IS NOT NULL
  )
  SELECT handler_id, (SELECT MIN(f.next_attempt_at) FROM deliveries f WHERE f.status = 'pending' AND f.handler_id = pending_handlers.handler_id) AS first_due
    FROM pending_handlers WHERE handler_id IS NOT NULL`;
export function pendingHandlersMysql(extra: number): string {
  const candidates = ["SELECT id FROM handlers WHERE status = 'enabled'", ...new Array(extra).fill('SELECT ?')].join(' UNION ');
  return `SELECT c.id AS handler_id, ${FLOW_SELECT},
      (SELECT f.next_attempt_at FROM deliveries f FORCE INDEX (idx_deliveries_handler_due)
        WHERE f.status = 'pending' AND f.handler_id = c.id ORDER BY f.next_attempt_at LIMIT 1) AS first_due
    FROM (${candidates}) c LEFT JOIN handlers h ON h.id = c.id`;
}
/** The next handler id with pending deliveries after a given one: one seek (the parameter is a constant to the server). */
export const NEXT_PENDING_HANDLER_MYSQL = `SELECT handler_id FROM deliveries FORCE INDEX (idx_deliveries_handler_due)
  WHERE status = 'pending' AND handler_id > ? ORDER BY status, handler_id LIMIT 1`;

/**
 * One handler's share of a claim: claimable deliveries among its oldest due ones, up to a limit.
 * The window of the oldest due deliveries (read along idx_deliveries_handler_due) bounds what a
 * claim reads of a handler, however many it has waiting: later handlers of a busy event have
 * thousands of deliveries each waiting for the one before (its successor claim takes them), and
 * checking each one's order on every claim would cost more than the claim. A handler whose
 * oldest due deliveries all wait for earlier ones of their objects waits with them; that is the
 * order those earlier ones keep anyway. Parameters: handler id, the time, the window, the time,
 * released ids, the limit.
 */
export const SHARE_WINDOW_MIN = 32;
function shareSelect(released: number, mysql: boolean): string {
  const index = mysql ? 'FORCE INDEX (idx_deliveries_handler_due)' : 'INDEXED BY idx_deliveries_handler_due';
  const window = `SELECT w.id FROM deliveries w ${index}
      WHERE w.status = 'pending' AND w.handler_id = ? AND w.next_attempt_at <= ? ORDER BY w.next_attempt_at, w.id LIMIT ?`;
  // No ORDER BY outside the window: the first claimable rows found end the read. MySQL takes no
  // LIMIT in an IN subquery; SQLite, left to choose, reads every due delivery by status and probes
  // the window with each (NOT INDEXED leaves it the rowid lookups of the window's ids).
  if (mysql) return `(SELECT d.id, d.handler_id FROM (${window}) win JOIN deliveries d ON d.id = win.id WHERE ${claimable(released)} LIMIT ? FOR UPDATE SKIP LOCKED)`;
  return `SELECT id FROM (SELECT d.id FROM deliveries d NOT INDEXED WHERE d.id IN (${window}) AND ${claimable(released)} LIMIT ?)`;
}

export function sharesSql(shares: number, released: number, mysql: boolean): string {
  return new Array(shares).fill(shareSelect(released, mysql)).join(' UNION ALL ');
}

export function shareParams(shares: readonly ClaimShare[], released: readonly number[], now: number): unknown[] {
  return shares.flatMap((share) => [share.handlerId, now, Math.max(SHARE_WINDOW_MIN, 4 * share.limit), now, ...released, share.limit]);
}

/**
 * The columns a claim of the next delivery reads; the event's own columns come from the
 * delivery that finished. These claims name the index by event: the planners would otherwise
 * walk every pending delivery by status. Only deliveries of handlers free of flow control
 * (FREE_HANDLER) are taken this way; the others wait for a claim, which plans their share.
 */
const NEXT_COLUMNS = 'd.id, d.event_id, d.handler_id, d.seq, d.attempts, d.manual, d.holds_order';
/**
 * The next delivery of an event is the first attempt whose turn the finish gave: one that holds
 * the order (`d.holds_order = 1`), so at most one per event passes the claim condition (the lowest
 * seq still holding it). The event's due retries (holds_order = 0) are left to the general claim:
 * the outcome writer hands the worker one next delivery per event, and a second one claimed here
 * would stay in progress under the worker, never started and never renewed, until its lease ran out.
 */
export function nextSelect(eventIds: number, released: number, excluded: number, mysql: boolean): string {
  const index = mysql ? 'FORCE INDEX (idx_deliveries_event)' : 'INDEXED BY idx_deliveries_event';
  const events = mysql ? placeholders(1, eventIds) : '(SELECT value FROM json_each(?))';
  const exclude = excluded === 0 ? '' : `AND d.handler_id NOT IN ${placeholders(1, excluded)}`;
  return `SELECT ${mysql ? NEXT_COLUMNS : 'd.id'} FROM deliveries d ${index} WHERE d.event_id IN ${events} AND d.holds_order = 1 AND ${claimable(released)} ${exclude} AND ${FREE_HANDLER}`;
}
export const HANDLER_STATE = `SELECT h.id, ${HANDLER_COLUMNS} FROM handlers h WHERE h.id IN`;
export const SQLITE_HANDLER_STATE = `${HANDLER_STATE} (SELECT value FROM json_each(?))`;

/** A claim of the next delivery without flow control: no handler released or excluded. */
export function noFlow(now: number): NextClaimFlow {
  return { released: [], excluded: [], flowNow: now };
}

/** The parameters of nextSelect after the event ids. */
export function nextParams(now: number, flow: NextClaimFlow): unknown[] {
  return [now, ...flow.released, ...flow.excluded, ...freeHandlerParams(flow.flowNow)];
}

/** MySQL: the lease of the deliveries a locking read selected (the second half of a claim). */
export function leaseStatement(ids: readonly number[], owner: string, now: number, leaseUntil: number): SqlStatement {
  return {
    sql: `UPDATE deliveries SET status = 'in_progress', lease_owner = ?, lease_expires_at = ?, updated_at = ? WHERE id IN ${placeholders(1, ids.length)}`,
    params: [owner, leaseUntil, now, ...ids],
  };
}
