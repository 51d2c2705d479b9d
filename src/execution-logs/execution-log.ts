import { ERROR_KINDS, ErrorKind } from '../calls/call-result.js';
import { num, numOrNull } from '../database/sql.js';

export type LogStatus = 'success' | 'fail' | 'skipped';
export type LogTrigger = 'auto' | 'manual' | 'test';
export type LogStage = 'after' | 'before';

/**
 * The request body a call sent, as its log row keeps it: the text itself; `null` when it is
 * the envelope of the row's event (`eventId`), which src/events/envelope.ts rebuilds byte for
 * byte from the `events` row, so a delivery's payload is stored once, with its event, however
 * many handlers and attempts it has; or `{ sameAsLog }`, the id of an earlier row of the same
 * `before` chain that sent the very same body.
 */
export type LogPayload = string | null | { sameAsLog: number };

/** One call of one handler, as written to `execution_logs`. */
export interface ExecutionLogRecord {
  deliveryId: number | null;
  eventId: number | null;
  eventType: string;
  handlerId: number;
  handlerName: string;
  objectId: number;
  stage: LogStage;
  attempt: number;
  trigger: LogTrigger;
  status: LogStatus;
  requestPayload: LogPayload;
  responseCode: number | null;
  responseBody: string | null;
  error: string | null;
  /** The call result's kind of failure (src/calls/call-result.ts); absent: `other` for a failure (see errorKindOf). */
  errorKind?: ErrorKind | null;
  durationMs: number;
  createdAt: number;
}

export interface ExecutionLog extends ExecutionLogRecord {
  id: number;
  errorKind: ErrorKind | null;
}

/** Column order of an INSERT; `logValues` lists the values in the same order. */
export const LOG_COLUMNS = [
  'delivery_id',
  'event_id',
  'events_id',
  'handler_id',
  'handler_name',
  'object_id',
  'stage',
  'attempt',
  'trigger_type',
  'status',
  'request_payload',
  'response_code',
  'response_body',
  'error',
  'duration_ms',
  'created_at',
  'error_kind',
] as const;

/**
 * How `request_payload` stores a LogPayload: the column is NOT NULL (making it nullable would
 * rebuild a large table on upgrade), so the envelope of the row's event is '' and a body the
 * same as an earlier row's is '=<id>'. A stored body is a JSON object, so it starts with '{'
 * and is never read as either.
 */
const SAME_AS = /^=([1-9][0-9]{0,15})$/;

function storedPayload(log: ExecutionLogRecord): string {
  const payload = log.requestPayload;
  if (payload === null) {
    if (log.eventId === null) throw new Error('A log row without an event must keep the payload it sent');
    return '';
  }
  return typeof payload === 'string' ? payload : `=${payload.sameAsLog}`;
}

export function readPayload(stored: unknown): LogPayload {
  const text = stored === undefined || stored === null ? '' : String(stored);
  if (text === '') return null;
  const same = SAME_AS.exec(text);
  return same ? { sameAsLog: Number(same[1]) } : text;
}

/**
 * The error kind a row is stored with. A success has none and a skipped call is `skipped`,
 * whatever the record says, and a failure always has one (`other` when the record names none):
 * the list reads a status as the ranges of its kinds in the index `(status, error_kind)`.
 */
function errorKindOf(log: ExecutionLogRecord): ErrorKind | null {
  if (log.status === 'success') return null;
  if (log.status === 'skipped') return 'skipped';
  return log.errorKind && log.errorKind !== 'skipped' ? log.errorKind : 'other';
}

export function logValues(log: ExecutionLogRecord): unknown[] {
  return [
    log.deliveryId,
    log.eventId,
    log.eventType,
    log.handlerId,
    log.handlerName.slice(0, 200),
    log.objectId,
    log.stage,
    log.attempt,
    log.trigger,
    log.status,
    storedPayload(log),
    log.responseCode,
    log.responseBody,
    log.error === null ? null : log.error.slice(0, 1000),
    Math.max(0, Math.round(log.durationMs)),
    log.createdAt,
    errorKindOf(log),
  ];
}

export function rowToLog(row: Record<string, unknown>): ExecutionLog {
  return {
    id: num(row.id),
    deliveryId: numOrNull(row.delivery_id),
    eventId: numOrNull(row.event_id),
    eventType: String(row.events_id),
    handlerId: num(row.handler_id),
    handlerName: String(row.handler_name),
    objectId: num(row.object_id),
    stage: row.stage as LogStage,
    attempt: num(row.attempt),
    trigger: row.trigger_type as LogTrigger,
    status: row.status as LogStatus,
    requestPayload: readPayload(row.request_payload),
    responseCode: numOrNull(row.response_code),
    responseBody: row.response_body === null || row.response_body === undefined ? null : String(row.response_body),
    error: row.error === null || row.error === undefined ? null : String(row.error),
    errorKind: (ERROR_KINDS as readonly unknown[]).includes(row.error_kind) ? (row.error_kind as ErrorKind) : null,
    durationMs: num(row.duration_ms),
    createdAt: num(row.created_at),
  };
}
