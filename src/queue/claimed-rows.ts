import { num, numOrNull } from '../database/sql.js';
import type { Row } from '../database/direct-sql.js';
import type { ClaimedDelivery, ClaimedHandlerRow, PendingHandler } from './delivery.js';

/* The rows a claim reads (src/queue/claim-sql.ts), as the queue answers them. */

/** A row of the pending handlers' read: the handler and its earliest due time. */
export function toPending(row: Row): PendingHandler {
  return { handlerId: num(row.handler_id), firstDueAt: num(row.first_due) };
}

/**
 * Rows of next deliveries as claimed deliveries: the event from the delivery that finished, the
 * handler state as just read. Built field by field: spreading the rows into one object to read
 * it with toClaimed cost as much as the claim's SQL (BENCHMARKS.md, Fewer round trips to
 * MySQL/MariaDB, and claimed deliveries built as one literal).
 */
export function nextOf(finished: readonly ClaimedDelivery[], rows: Row[], handlerRows: Row[]): ClaimedDelivery[] {
  const events = new Map(finished.map((delivery) => [delivery.eventId, delivery]));
  const handlers = new Map(handlerRows.map((row) => [num(row.id), row]));
  return rows.map((row) => {
    const event = events.get(num(row.event_id))!;
    const handler = handlers.get(num(row.handler_id));
    return claimedDelivery(row, event.eventType, event.objectId, event.dt, event.dataJson, event.traceParent, handler ? handlerRowOf(handler) : null);
  });
}

/** A row of a claim's read (CLAIMED_COLUMNS: the delivery, its event and its handler's state) as a claimed delivery. */
export function toClaimed(row: Row): ClaimedDelivery {
  const traceParent = row.trace_parent === null || row.trace_parent === undefined ? null : String(row.trace_parent);
  return claimedDelivery(row, String(row.events_id), num(row.object_id), String(row.dt), String(row.data), traceParent, handlerRowOf(row));
}

/** A claimed delivery from its row's own columns and its event and handler state: one object literal, one shape. */
function claimedDelivery(
  row: Row,
  eventType: string,
  objectId: number,
  dt: string,
  dataJson: string,
  traceParent: string | null,
  handlerRow: ClaimedHandlerRow | null,
): ClaimedDelivery {
  return {
    id: num(row.id),
    eventId: num(row.event_id),
    handlerId: num(row.handler_id),
    seq: num(row.seq),
    attempts: num(row.attempts),
    manual: num(row.manual) === 1,
    holdsOrder: num(row.holds_order) === 1,
    eventType,
    objectId,
    dt,
    dataJson,
    traceParent,
    handlerRow,
  };
}

/** The handler's state a claim read (HANDLER_COLUMNS); null when the handler no longer exists. */
function handlerRowOf(row: Row): ClaimedHandlerRow | null {
  if (row.handler_status === null || row.handler_status === undefined) return null;
  return {
    status: String(row.handler_status),
    failingSince: numOrNull(row.failing_since),
    updatedAt: num(row.handler_updated_at),
    maxConcurrency: numOrNull(row.max_concurrency),
    rateLimit: numOrNull(row.rate_limit),
    circuitState: (row.circuit_state as ClaimedHandlerRow['circuitState'] | null) ?? 'closed',
    circuitFailures: num(row.circuit_failures ?? 0),
    circuitOpens: num(row.circuit_opens ?? 0),
  };
}
