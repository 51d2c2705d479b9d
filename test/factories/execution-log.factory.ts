import type { ExecutionLogRecord } from '../../src/execution-logs/execution-log.js';

/** An execution-log row as the dispatcher writes it (one successful automatic call, now); override any field. */
export function logRecord(overrides: Partial<ExecutionLogRecord> = {}): ExecutionLogRecord {
  return {
    deliveryId: null,
    eventId: null,
    eventType: 'clients.update',
    handlerId: 1,
    handlerName: 'handler',
    objectId: 1,
    stage: 'after',
    attempt: 1,
    trigger: 'auto',
    status: 'success',
    requestPayload: '{}',
    responseCode: 200,
    responseBody: 'ok',
    error: null,
    durationMs: 1,
    createdAt: Date.now(),
    ...overrides,
  };
}
