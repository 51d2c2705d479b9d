import { num, numOrNull } from '../database/sql.js';

export type LogStatus = 'success' | 'fail' | 'skipped';
export type LogTrigger = 'auto' | 'manual' | 'test';
export type LogStage = 'after' | 'before';

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
  requestPayload: string;
  responseCode: number | null;
  responseBody: string | null;
  error: string | null;
  durationMs: number;
  createdAt: number;
}

export interface ExecutionLog extends ExecutionLogRecord {
  id: number;
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
] as const;

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
    log.requestPayload,
    log.responseCode,
    log.responseBody,
    log.error === null ? null : log.error.slice(0, 1000),
    Math.max(0, Math.round(log.durationMs)),
    log.createdAt,
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
    requestPayload: row.request_payload === undefined ? '' : String(row.request_payload),
    responseCode: numOrNull(row.response_code),
    responseBody: row.response_body === null || row.response_body === undefined ? null : String(row.response_body),
    error: row.error === null || row.error === undefined ? null : String(row.error),
    durationMs: num(row.duration_ms),
    createdAt: num(row.created_at),
  };
}
