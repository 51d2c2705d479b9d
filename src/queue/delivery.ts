/**
 * The shapes the queue's steps take and answer (src/queue/delivery-queue.ts). A delivery is one
 * row of `deliveries`: one (event, `after` handler) pair, planned when the event is accepted.
 */

/** Waiting (pending, perhaps until a retry is due), claimed by a worker (in_progress), or finished. */
export type DeliveryStatus = 'pending' | 'in_progress' | 'succeeded' | 'failed' | 'skipped';

/** A delivery to plan for a new event: one per enabled `after` handler, `seq` its place in run order. */
export interface PlannedDelivery<EventId = number> {
  /** The event's id; in a script transaction, the SQL expression that stands for it (DeliveryQueue.enqueueStatementMysql). */
  eventId: EventId;
  handlerId: number;
  seq: number;
  objectKey: string;
}

/** A delivery claimed by a worker, with the event it carries and its handler's current state. */
export interface ClaimedDelivery {
  id: number;
  eventId: number;
  handlerId: number;
  seq: number;
  attempts: number;
  manual: boolean;
  /**
   * A first attempt not finished yet: later deliveries of the same object (later handlers of
   * this event, later events) wait for it. Cleared when the attempt ends, however it ends.
   */
  holdsOrder: boolean;
  eventType: string;
  objectId: number;
  dt: string;
  dataJson: string;
  /** The W3C traceparent stored with the event when it was accepted with tracing on (src/telemetry/tracing.ts). */
  traceParent: string | null;
  /** The handler row as the claim read it: null when the handler was deleted. */
  handlerRow: ClaimedHandlerRow | null;
  /** The circuit breaker's one probe call (src/dispatcher/flow-control.ts): its outcome closes or re-opens the circuit. */
  probe?: boolean;
}

/** A handler's state as a claim reads it with the delivery. */
export interface ClaimedHandlerRow {
  status: string;
  failingSince: number | null;
  updatedAt: number;
  /** Null: the configured default. */
  maxConcurrency: number | null;
  rateLimit: number | null;
  circuitState: 'closed' | 'open' | 'half_open';
  circuitFailures: number;
  circuitOpens: number;
}

/** One handler's part of a claim: up to `limit` of its due deliveries, oldest first. */
export interface ClaimShare {
  handlerId: number;
  limit: number;
}

/** A handler with pending deliveries, and when the earliest of them is (or was) due. */
export interface PendingHandler {
  handlerId: number;
  firstDueAt: number;
}

/**
 * What a claim of the next delivery of an event must respect besides the order: handlers whose
 * deliveries hold the order only among themselves (`released`: held handlers), handlers this
 * worker holds enough of (`excluded`: at their cap), and the time pauses and holds are judged by.
 */
export interface NextClaimFlow {
  released: readonly number[];
  excluded: readonly number[];
  flowNow: number;
}

/** How an attempt ended: the delivery's next state. */
export interface DeliveryUpdate {
  status: Exclude<DeliveryStatus, 'in_progress'>;
  /** Counts the call just made; false for a skip. */
  attempted: boolean;
  /** When the next attempt is due (`pending`); ignored for the other states. */
  nextAttemptAt: number;
  manual: boolean;
  responseCode: number | null;
  error: string | null;
}

/** An attempt that ended, recorded by `owner`, the worker that holds (or held) its lease. */
export interface FinishedAttempt {
  owner: string;
  delivery: ClaimedDelivery;
  update: DeliveryUpdate;
  /** The owner will run the next delivery of the event: claim it when this attempt held its object's order. */
  claimNext: boolean;
}

/** A delivery as the event detail shows it. */
export interface DeliveryState {
  id: number;
  handlerId: number;
  /** Null when the handler was deleted. */
  handlerName: string | null;
  seq: number;
  status: DeliveryStatus;
  attempts: number;
  nextAttemptAt: number;
  lastResponseCode: number | null;
  lastError: string | null;
  updatedAt: number;
}

/** A planned delivery as the answer to an accepted (or replayed) event names it. */
export interface PlannedDeliveryName {
  handlerId: number;
  /** Null when the handler was deleted since. */
  handlerName: string | null;
  seq: number;
}

/** A planned delivery still in the queue, with its id. */
export interface QueuedDeliveryName extends PlannedDeliveryName {
  id: number;
}
